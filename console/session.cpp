#include "console/session.hpp"

#include <openssl/crypto.h>

#include <array>
#include <stdexcept>

namespace anteroom::console {

namespace {

constexpr std::size_t fingerprint_size = 8;
constexpr std::size_t fixed_size = 8 + fingerprint_size;
constexpr std::size_t mac_size = 32;

std::array<std::uint8_t, 32> fresh_key() {
    std::array<std::uint8_t, 32> k{};
    if (!crypto::random_bytes(k)) {
        throw std::runtime_error("no randomness for the console session key");
    }
    return k;
}

std::array<std::uint8_t, fingerprint_size> fingerprint(std::string_view token) {
    const auto d = crypto::sha256(token);
    std::array<std::uint8_t, fingerprint_size> f{};
    std::copy_n(d.begin(), f.size(), f.begin());
    return f;
}

}  // namespace

session_signer::session_signer() : key_(fresh_key()) {}

session_signer::session_signer(std::span<const std::uint8_t> key) : key_(key) {}

std::string session_signer::issue(const named_token& t, std::int64_t expires_ms) const {
    std::vector<std::uint8_t> payload(fixed_size);
    for (int i = 0; i < 8; ++i) {
        payload[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(expires_ms) >> (56 - 8 * i));
    }
    const auto f = fingerprint(t.token);
    std::copy(f.begin(), f.end(), payload.begin() + 8);
    payload.insert(payload.end(), t.name.begin(), t.name.end());
    const auto mac = key_.sign(payload);
    return crypto::base64url_encode(payload) + "." + crypto::base64url_encode(mac);
}

std::optional<std::string> session_signer::verify(std::string_view cookie, const std::vector<named_token>& tokens,
                                                  std::int64_t now_ms) const {
    const auto dot = cookie.find('.');
    if (dot == std::string_view::npos || cookie.size() > 256) {
        return std::nullopt;
    }
    const auto payload = crypto::base64url_decode(cookie.substr(0, dot));
    const auto mac = crypto::base64url_decode(cookie.substr(dot + 1));
    if (!payload || !mac || payload->size() <= fixed_size || mac->size() != mac_size || !key_.verify(*payload, *mac)) {
        return std::nullopt;
    }
    std::uint64_t expires = 0;
    for (std::size_t i = 0; i < 8; ++i) {
        expires = (expires << 8) | (*payload)[i];
    }
    if (static_cast<std::int64_t>(expires) <= now_ms) {
        return std::nullopt;
    }
    const std::string name(payload->begin() + fixed_size, payload->end());
    for (const auto& t : tokens) {
        if (t.name == name) {
            const auto f = fingerprint(t.token);
            if (CRYPTO_memcmp(f.data(), payload->data() + 8, f.size()) == 0) {
                return name;
            }
        }
    }
    return std::nullopt;
}

const named_token* find_token(std::string_view presented, const std::vector<named_token>& tokens) {
    const named_token* found = nullptr;
    for (const auto& t : tokens) {
        // Every token is compared, so the time taken does not say which one matched.
        if (presented.size() == t.token.size() && CRYPTO_memcmp(presented.data(), t.token.data(), t.token.size()) == 0) {
            found = &t;
        }
    }
    return found;
}

}  // namespace anteroom::console
