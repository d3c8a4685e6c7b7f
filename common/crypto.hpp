#pragma once
// Small, allocation-light wrappers over OpenSSL for what anteroom signs and hashes: HMAC-SHA256
// with a precomputed key schedule (tickets, passes, invitations, the pre-queue shuffle),
// SHA-256, base64url without padding, constant-time comparison and randomness.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace anteroom::crypto {

using digest = std::array<std::uint8_t, 32>;

digest sha256(std::span<const std::uint8_t> data);
digest sha256(std::string_view data);

// An HMAC-SHA256 key whose inner and outer pad states are computed once, so signing a short
// message costs two compression calls and no allocation. Immutable after construction and
// safe to share between threads (each call works on copies of the prepared states).
class hmac_key {
public:
    explicit hmac_key(std::span<const std::uint8_t> secret);
    ~hmac_key();
    hmac_key(hmac_key&&) noexcept;
    hmac_key& operator=(hmac_key&&) noexcept;
    hmac_key(const hmac_key&) = delete;
    hmac_key& operator=(const hmac_key&) = delete;

    digest sign(std::span<const std::uint8_t> data) const;
    // Compares the first mac.size() bytes (8..32) of the MAC of data in constant time.
    bool verify(std::span<const std::uint8_t> data, std::span<const std::uint8_t> mac) const;

private:
    struct state;
    std::unique_ptr<state> st_;
};

// base64url (RFC 4648 §5) without padding. decode() rejects padding, whitespace, characters
// outside the alphabet and non-canonical trailing bits.
std::string base64url_encode(std::span<const std::uint8_t> data);
std::optional<std::vector<std::uint8_t>> base64url_decode(std::string_view text);
// The same into a caller's buffer, without allocating: the number of bytes written, or nullopt
// when the text is invalid or its bytes do not fit into out.
std::optional<std::size_t> base64url_decode(std::string_view text, std::span<std::uint8_t> out);
// Exact lengths: encoded characters for n bytes, and bytes for n characters (nullopt: no
// unpadded base64url text has that length).
constexpr std::size_t base64url_encoded_size(std::size_t n) { return (n * 4 + 2) / 3; }
constexpr std::optional<std::size_t> base64url_decoded_size(std::size_t n) {
    return n % 4 == 1 ? std::nullopt : std::optional<std::size_t>(n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1));
}

// Constant-time equality of two byte strings of the same length (false if lengths differ).
bool equal_ct(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

// Fills out with cryptographically strong random bytes; false when OpenSSL has none.
bool random_bytes(std::span<std::uint8_t> out);

std::string to_hex(std::span<const std::uint8_t> data);

}  // namespace anteroom::crypto
