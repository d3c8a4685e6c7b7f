#pragma once
// Login secrets of the booking backend: booking codes from an alphabet without look-alikes,
// PINs, and slow salted hashes (PBKDF2-HMAC-SHA256) for PINs and agent passwords.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace anteroom::booking {

// 32 characters without 0/O and 1/I, so a code read out over the phone is unambiguous.
inline constexpr std::string_view booking_code_alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
inline constexpr std::size_t booking_code_length = 12;

// Empty when the system has no randomness.
std::string random_booking_code();
std::string random_pin();  // 6 decimal digits, uniform
// Upper-cases and drops spaces and dashes, so "abcd-efgh-jkmn" logs in as "ABCDEFGHJKMN".
std::string normalise_booking_code(std::string_view code);

struct secret_hash {
    std::vector<std::uint8_t> salt;  // 16 random bytes per row
    std::vector<std::uint8_t> hash;  // 32 bytes
    int iterations = 0;
};
// hash is empty on failure.
secret_hash hash_secret(std::string_view secret, int iterations);
// Recomputes with the stored salt and iterations and compares in constant time.
bool verify_secret(std::string_view secret, const secret_hash& stored);

}  // namespace anteroom::booking
