#pragma once
// Stateless challenges and what a solved one earns, as signed tokens (HMAC-SHA256 under the key
// ring the waiting room signs with, in a record format of their own so no token of one kind
// passes as another):
//
//   challenge  proof of work: find c with SHA-256(token ":" c) starting with `difficulty` zero
//              bits. One hash to verify; a solution counts once (replay_set until expiry).
//   wait       proof of waiting for browsers without JavaScript: valid from not_before.
//   clearance  the cookie a solved challenge earns: lowers the visitor's score until expiry.
//   hold       a deprioritised visitor's place in the penalty box: no ticket before not_before.
//
// All are bound to the client (address prefix and User-Agent, keyed hash) so a solution cannot
// be farmed out to other machines. Pure: time is an argument; nothing throws on bad input.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/cidr.hpp"
#include "common/keyfile.hpp"

namespace anteroom::bot_detect {

using unix_ms = std::int64_t;

enum class bot_token_kind : std::uint8_t { challenge = 1, wait = 2, clearance = 3, hold = 4 };

struct bot_token {
    bot_token_kind kind = bot_token_kind::challenge;
    std::uint8_t difficulty = 0;  // challenge: zero bits wanted; clearance: score credit
    std::uint64_t nonce = 0;      // random; the replay key
    std::uint64_t binding = 0;
    unix_ms not_before = 0;       // wait / hold
    unix_ms expires_at = 0;
};

enum class token_error : std::uint8_t { malformed, bad_signature, wrong_kind, wrong_binding, expired, too_early, replayed, bad_solution, busy };
std::string_view to_string(token_error e);

// Keyed binding of a client under `key`: its /24 (IPv4) or /64 (IPv6) prefix and its
// User-Agent. Never 0.
std::uint64_t bot_binding(const signing_key& key, const ip_address& client, std::string_view user_agent);

// Signed by keys.signer(); t.binding is replaced by the client's binding under that key.
std::string encode_token(bot_token t, const key_ring& keys, const ip_address& client, std::string_view user_agent);

// Verifies format, key and MAC, kind, binding to this client, expiry, and not_before for wait
// and hold tokens. Returns the token, or the first failing check.
struct token_result {
    std::optional<bot_token> token;
    token_error error = token_error::malformed;
};
struct token_check {
    bot_token_kind want = bot_token_kind::challenge;
    ip_address client;
    std::string_view user_agent;
    unix_ms now = 0;
    bool check_not_before = true;
};
token_result decode_token(std::string_view text, const key_ring& keys, const token_check& check);

// Leading zero bits of SHA-256(token ":" solution); the solution must be 1..20 decimal digits.
std::optional<unsigned> pow_zero_bits(std::string_view token_text, std::string_view solution);

// Nonces of used solutions until their tokens expire, bounded: sharded open addressing; a full
// set (every slot holding an unexpired nonce) refuses new entries (busy) instead of forgetting.
class replay_set {
public:
    explicit replay_set(std::size_t capacity);
    ~replay_set();
    // True when `nonce` was not used and is now recorded until `expires_at`; false: replayed
    // (busy = false) or no room (busy = true).
    bool insert(std::uint64_t nonce, unix_ms expires_at, unix_ms now, bool& busy);
    std::size_t capacity() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace anteroom::bot_detect
