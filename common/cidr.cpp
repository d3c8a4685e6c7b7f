#include "common/cidr.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace anteroom {

namespace {

constexpr std::array<std::uint8_t, 12> v4_mapped_prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// Zero every bit after the first `bits` bits of the 16-byte address.
void mask_bits(std::array<std::uint8_t, 16>& b, unsigned bits) {
    for (unsigned i = 0; i < 16; ++i) {
        const unsigned start = i * 8;
        if (bits >= start + 8) {
            continue;
        }
        if (bits <= start) {
            b[i] = 0;
        } else {
            b[i] &= static_cast<std::uint8_t>(0xff << (8 - (bits - start)));
        }
    }
}

}  // namespace

bool ip_address::is_v4() const {
    return std::memcmp(bytes.data(), v4_mapped_prefix.data(), v4_mapped_prefix.size()) == 0;
}

std::string ip_address::text() const {
    if (is_v4()) {
        // Dotted quad by hand: glibc's inet_ntop goes through sprintf, and the proxy prints the
        // client's address for every request it forwards (X-Forwarded-For, Forwarded).
        std::string out;
        out.reserve(15);
        for (std::size_t i = 12; i < 16; ++i) {
            const unsigned v = bytes[i];
            if (v >= 100) {
                out += static_cast<char>('0' + v / 100);
            }
            if (v >= 10) {
                out += static_cast<char>('0' + v / 10 % 10);
            }
            out += static_cast<char>('0' + v % 10);
            if (i != 15) {
                out += '.';
            }
        }
        return out;
    }
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
    return buf;
}

std::optional<ip_address> parse_ip(std::string_view text) {
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) {
        return std::nullopt;
    }
    char buf[INET6_ADDRSTRLEN] = {};
    std::memcpy(buf, text.data(), text.size());
    ip_address a;
    in_addr v4{};
    if (inet_pton(AF_INET, buf, &v4) == 1) {
        std::memcpy(a.bytes.data(), v4_mapped_prefix.data(), v4_mapped_prefix.size());
        std::memcpy(a.bytes.data() + 12, &v4, 4);
        return a;
    }
    if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
        return a;
    }
    return std::nullopt;
}

bool cidr::contains(const ip_address& a) const {
    if (a.is_v4() != base.is_v4()) {
        return false;
    }
    const unsigned bits = base.is_v4() ? prefix_len + 96 : prefix_len;
    auto x = a.bytes;
    mask_bits(x, bits);
    return x == base.bytes;
}

std::string cidr::text() const {
    return base.text() + "/" + std::to_string(prefix_len);
}

std::optional<cidr> parse_cidr(std::string_view text) {
    const auto slash = text.find('/');
    auto addr = parse_ip(text.substr(0, slash));
    if (!addr) {
        return std::nullopt;
    }
    const unsigned max_len = addr->is_v4() ? 32 : 128;
    unsigned len = max_len;
    if (slash != std::string_view::npos) {
        const auto digits = text.substr(slash + 1);
        if (digits.empty() || digits.size() > 3) {
            return std::nullopt;
        }
        len = 0;
        for (char c : digits) {
            if (c < '0' || c > '9') {
                return std::nullopt;
            }
            len = len * 10 + static_cast<unsigned>(c - '0');
        }
        if (len > max_len) {
            return std::nullopt;
        }
    }
    cidr c;
    c.prefix_len = len;
    c.base = *addr;
    mask_bits(c.base.bytes, addr->is_v4() ? len + 96 : len);
    return c;
}

ip_address truncate(const ip_address& a, unsigned v4_bits, unsigned v6_bits) {
    ip_address r = a;
    mask_bits(r.bytes, a.is_v4() ? 96 + std::min(v4_bits, 32u) : std::min(v6_bits, 128u));
    return r;
}

}  // namespace anteroom
