#include "common/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <climits>
#include <cstring>

// The low-level SHA256_* functions are deprecated in OpenSSL 3 in favour of EVP, but EVP cannot
// copy a prepared digest state without allocating (EVP_MD_CTX_copy_ex duplicates the provider
// context on the heap), and an HMAC with precomputed pads is exactly a copy of two prepared
// states. SHA256_CTX is a plain struct, so a copy is a memcpy; the functions use the same
// assembly (SHA-NI where present) as the provider. The warning is silenced here only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace anteroom::crypto {

namespace {

constexpr std::size_t block_size = 64;  // SHA-256 block

}  // namespace

digest sha256(std::span<const std::uint8_t> data) {
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, data.data(), data.size());
    digest out;
    SHA256_Final(out.data(), &ctx);
    OPENSSL_cleanse(&ctx, sizeof ctx);
    return out;
}

digest sha256(std::string_view data) {
    return sha256(std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
}

// The states after absorbing (K ^ ipad) and (K ^ opad): one block each, so every MAC starts
// from a copy and skips the two key blocks.
struct hmac_key::state {
    SHA256_CTX inner;
    SHA256_CTX outer;
};

hmac_key::hmac_key(std::span<const std::uint8_t> secret) : st_(std::make_unique<state>()) {
    std::array<std::uint8_t, block_size> k0{};
    if (secret.size() > block_size) {
        const auto d = sha256(secret);  // RFC 2104: longer keys are hashed first
        std::copy(d.begin(), d.end(), k0.begin());
    } else {
        std::copy(secret.begin(), secret.end(), k0.begin());
    }
    std::array<std::uint8_t, block_size> pad;
    for (std::size_t i = 0; i < block_size; ++i) {
        pad[i] = k0[i] ^ 0x36;
    }
    SHA256_Init(&st_->inner);
    SHA256_Update(&st_->inner, pad.data(), pad.size());
    for (std::size_t i = 0; i < block_size; ++i) {
        pad[i] = k0[i] ^ 0x5c;
    }
    SHA256_Init(&st_->outer);
    SHA256_Update(&st_->outer, pad.data(), pad.size());
    OPENSSL_cleanse(k0.data(), k0.size());
    OPENSSL_cleanse(pad.data(), pad.size());
}

hmac_key::~hmac_key() {
    if (st_) {
        OPENSSL_cleanse(st_.get(), sizeof(state));
    }
}

hmac_key::hmac_key(hmac_key&&) noexcept = default;

hmac_key& hmac_key::operator=(hmac_key&& other) noexcept {
    if (this != &other) {
        if (st_) {
            OPENSSL_cleanse(st_.get(), sizeof(state));
        }
        st_ = std::move(other.st_);
    }
    return *this;
}

digest hmac_key::sign(std::span<const std::uint8_t> data) const {
    SHA256_CTX ctx = st_->inner;
    SHA256_Update(&ctx, data.data(), data.size());
    digest inner_hash;
    SHA256_Final(inner_hash.data(), &ctx);
    ctx = st_->outer;
    SHA256_Update(&ctx, inner_hash.data(), inner_hash.size());
    digest out;
    SHA256_Final(out.data(), &ctx);
    OPENSSL_cleanse(&ctx, sizeof ctx);
    return out;
}

bool hmac_key::verify(std::span<const std::uint8_t> data, std::span<const std::uint8_t> mac) const {
    if (mac.size() < 8 || mac.size() > 32) {
        return false;
    }
    const auto expected = sign(data);
    return CRYPTO_memcmp(expected.data(), mac.data(), mac.size()) == 0;
}

namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// 0..63 for alphabet characters, 64 for everything else.
constexpr std::array<std::uint8_t, 256> make_decode_table() {
    std::array<std::uint8_t, 256> t{};
    for (auto& v : t) {
        v = 64;
    }
    for (std::uint8_t i = 0; i < 64; ++i) {
        t[static_cast<unsigned char>(alphabet[i])] = i;
    }
    return t;
}
constexpr auto decode_table = make_decode_table();

}  // namespace

std::string base64url_encode(std::span<const std::uint8_t> data) {
    const std::size_t n = data.size();
    std::string out(base64url_encoded_size(n), '\0');
    const std::uint8_t* p = data.data();
    char* o = out.data();
    std::size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
        *o++ = alphabet[(v >> 18) & 63];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = alphabet[(v >> 6) & 63];
        *o++ = alphabet[v & 63];
    }
    if (n - i == 1) {
        const std::uint32_t v = std::uint32_t{p[i]} << 16;
        *o++ = alphabet[(v >> 18) & 63];
        *o++ = alphabet[(v >> 12) & 63];
    } else if (n - i == 2) {
        const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8);
        *o++ = alphabet[(v >> 18) & 63];
        *o++ = alphabet[(v >> 12) & 63];
        *o++ = alphabet[(v >> 6) & 63];
    }
    return out;
}

std::optional<std::size_t> base64url_decode(std::string_view text, std::span<std::uint8_t> out) {
    const auto size = base64url_decoded_size(text.size());
    if (!size || *size > out.size()) {
        return std::nullopt;  // one character alone carries only 6 bits: never a whole byte
    }
    std::uint32_t acc = 0;
    unsigned bits = 0;
    std::size_t w = 0;
    for (const char c : text) {
        const std::uint8_t v = decode_table[static_cast<unsigned char>(c)];
        if (v == 64) {
            return std::nullopt;
        }
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[w++] = static_cast<std::uint8_t>(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) {
        return std::nullopt;  // non-zero padding bits: a second spelling of the same bytes
    }
    return w;
}

std::optional<std::vector<std::uint8_t>> base64url_decode(std::string_view text) {
    const auto size = base64url_decoded_size(text.size());
    if (!size) {
        return std::nullopt;
    }
    std::vector<std::uint8_t> out(*size);
    if (!base64url_decode(text, out)) {
        return std::nullopt;
    }
    return out;
}

bool equal_ct(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
    if (a.size() != b.size()) {
        return false;
    }
    return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool random_bytes(std::span<std::uint8_t> out) {
    while (!out.empty()) {
        const auto chunk = std::min<std::size_t>(out.size(), INT_MAX);
        if (RAND_bytes(out.data(), static_cast<int>(chunk)) != 1) {
            return false;
        }
        out = out.subspan(chunk);
    }
    return true;
}

std::string to_hex(std::span<const std::uint8_t> data) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(data.size() * 2, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    return out;
}

}  // namespace anteroom::crypto

#pragma GCC diagnostic pop
