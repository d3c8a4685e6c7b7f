#pragma once
// IP prefixes (CIDR) without sockets: parse, match, truncate. Addresses are kept as 16 bytes,
// IPv4 mapped into ::ffff:0:0/96 so one code path serves both families.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace anteroom {

struct ip_address {
    std::array<std::uint8_t, 16> bytes{};  // IPv4 as ::ffff:a.b.c.d
    bool is_v4() const;
    std::string text() const;  // "1.2.3.4" or RFC 5952 IPv6 text
    friend bool operator==(const ip_address&, const ip_address&) = default;
};

std::optional<ip_address> parse_ip(std::string_view text);

struct cidr {
    ip_address base;
    unsigned prefix_len = 0;  // in the address's own family (0..32 for IPv4, 0..128 for IPv6)
    bool contains(const ip_address& a) const;
    std::string text() const;
    friend bool operator==(const cidr&, const cidr&) = default;
};

// "10.0.0.0/8", "::1/128", "192.168.1.7" (a host).
std::optional<cidr> parse_cidr(std::string_view text);

// The address with its host part zeroed: IPv4 kept to v4_bits, IPv6 to v6_bits.
// Used for logging (no personal data: /24 and /48) and for per-prefix rate keys.
ip_address truncate(const ip_address& a, unsigned v4_bits, unsigned v6_bits);

}  // namespace anteroom
