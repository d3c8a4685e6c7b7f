#include "booking/secret.hpp"

#include "common/crypto.hpp"

#include <openssl/evp.h>

#include <array>
#include <cctype>

namespace anteroom::booking {

namespace {

std::vector<std::uint8_t> pbkdf2(std::string_view secret, const std::vector<std::uint8_t>& salt, int iterations) {
    std::vector<std::uint8_t> out(32);
    if (iterations < 1 ||
        PKCS5_PBKDF2_HMAC(secret.data(), static_cast<int>(secret.size()), salt.data(), static_cast<int>(salt.size()),
                          iterations, EVP_sha256(), static_cast<int>(out.size()), out.data()) != 1) {
        return {};
    }
    return out;
}

}  // namespace

std::string random_booking_code() {
    std::array<std::uint8_t, booking_code_length> bytes{};
    if (!crypto::random_bytes(bytes)) {
        return {};
    }
    std::string code;
    for (std::uint8_t b : bytes) {
        code.push_back(booking_code_alphabet[b % booking_code_alphabet.size()]);  // 256 % 32 == 0: uniform
    }
    return code;
}

std::string random_pin() {
    std::string pin;
    while (pin.size() < 6) {
        std::array<std::uint8_t, 16> bytes{};
        if (!crypto::random_bytes(bytes)) {
            return {};
        }
        for (std::uint8_t b : bytes) {
            if (b < 250 && pin.size() < 6) {  // rejection keeps the digits uniform
                pin.push_back(static_cast<char>('0' + b % 10));
            }
        }
    }
    return pin;
}

std::string normalise_booking_code(std::string_view code) {
    std::string out;
    for (char c : code) {
        if (c != '-' && c != ' ') {
            out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
        }
    }
    return out;
}

secret_hash hash_secret(std::string_view secret, int iterations) {
    secret_hash h;
    h.salt.resize(16);
    h.iterations = iterations;
    if (!crypto::random_bytes(h.salt)) {
        return h;
    }
    h.hash = pbkdf2(secret, h.salt, iterations);
    return h;
}

bool verify_secret(std::string_view secret, const secret_hash& stored) {
    const auto h = pbkdf2(secret, stored.salt, stored.iterations);
    return !h.empty() && crypto::equal_ct(h, stored.hash);
}

}  // namespace anteroom::booking
