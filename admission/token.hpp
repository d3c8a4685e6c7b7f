#pragma once
// Tickets, passes and invitations: compact binary records, base64url, signed with
// HMAC-SHA256 under a key id from the key ring. Self-contained, so any node holding the keys
// verifies them without a lookup. They carry no personal data: the client binding is a keyed
// hash of the address prefix and/or User-Agent, never the values themselves.
//
// Everything here is pure (time is passed in) and never throws on bad input: decoding returns
// a rejection reason, and the caller treats a rejected token as absent.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "common/cidr.hpp"
#include "common/keyfile.hpp"

namespace anteroom::admission {

// Unix time in milliseconds. All admission logic takes the time as an argument.
using unix_ms = std::int64_t;

enum class token_kind : std::uint8_t { ticket = 1, pass = 2, invitation = 3 };

// Ticket flags.
inline constexpr std::uint8_t ticket_flag_prequeue = 1;  // issued before the event started
inline constexpr std::uint8_t ticket_flag_bypass = 2;    // issued for an invitation/agent

struct ticket {
    std::string room;        // room id, ≤ 64 bytes
    std::uint64_t seq = 0;   // sequence number in the room (1-based)
    unix_ms issued_at = 0;
    std::uint64_t binding = 0;  // client_binding() at issue time; 0 = unbound
    std::uint8_t flags = 0;
    std::uint32_t epoch = 0;  // room incarnation: a room reset invalidates older tickets
};

struct pass {
    std::string room;
    std::uint64_t pass_id = 0;  // random, unique per admission
    unix_ms admitted_at = 0;
    unix_ms expires_at = 0;     // admitted_at + session_max_duration
    std::uint64_t binding = 0;
    std::uint64_t ticket_seq = 0;  // the ticket it was admitted from (0 for bypass)
};

struct invitation {
    std::string room;
    std::uint64_t code_id = 0;  // chosen by whoever makes the code (for revocation/audit)
    unix_ms not_after = 0;
};

enum class reject_reason : std::uint8_t {
    malformed,     // not base64url, wrong length/version/kind, bad field
    unknown_key,   // key id not in the ring (rotated away or forged)
    bad_signature, // MAC mismatch: forged or tampered
    expired,       // ticket older than max age, pass past expires_at, invitation past not_after
    wrong_room,    // valid, but for another room
    wrong_binding, // valid, but bound to another client
    future,        // issued/admitted later than now + allowed clock skew (forged clock)
    revoked,       // pass ended (idle/max/session end) or a stale room epoch — set by callers
};
inline constexpr std::size_t reject_reason_count = 8;
std::string_view to_string(reject_reason r);

// Which parts of the client a token is bound to.
struct binding_policy {
    bool ip_prefix = true;       // bind to the client address truncated to v4_prefix/v6_prefix
    unsigned v4_prefix = 24;
    unsigned v6_prefix = 64;
    bool user_agent = false;     // bind to a hash of the User-Agent
    bool binds_anything() const { return ip_prefix || user_agent; }
};

// Keyed 64-bit binding value: HMAC under `key`, domain-separated from token MACs, of the policy,
// the truncated address and the User-Agent, so it cannot be computed without the key and holds
// neither value. Never 0 when the policy binds anything; 0 when it binds nothing.
std::uint64_t client_binding(const signing_key& key, const binding_policy& policy, const ip_address& client,
                             std::string_view user_agent);
// The binding for a token about to be encoded with `keys`, i.e. under keys.signer().
std::uint64_t client_binding(const key_ring& keys, const binding_policy& policy, const ip_address& client,
                             std::string_view user_agent);

// Signed with keys.signer(). The room must be 1..64 bytes (std::invalid_argument otherwise: the
// config guarantees it, so that is a bug, never bad input).
std::string encode(const ticket& t, const key_ring& keys);
std::string encode(const pass& p, const key_ring& keys);
std::string encode(const invitation& i, const key_ring& keys);

template <class T>
using decoded = std::variant<T, reject_reason>;

// What a presented token is checked against. Checks run in this order, and the first failing
// one is the reason: malformed → unknown_key → bad_signature → wrong_room → expired / future →
// wrong_binding.
//
// Binding: the verifier knows the client, not a precomputed value, because the value depends on
// the key that signed the token, which only decoding reveals (after a rotation, tokens signed by
// an older key still verify). When `binding` binds anything, the token's binding must equal
// client_binding() of this client under the signing key — or under another key of the ring,
// since a pass carries the binding of the ticket it was admitted from — and an unbound token is
// wrong_binding. When it binds nothing, bindings are not checked. Invitations carry none.
//
// Use designated initializers: verify_context{.room = id, .binding = policy, .client = addr,
// .user_agent = ua, .now = now, .max_age_ms = max_age}.
struct verify_context {
    std::string_view room;
    binding_policy binding;            // the policy in force now
    ip_address client;                 // the presenting client's address (not truncated)
    std::string_view user_agent;
    unix_ms now = 0;
    unix_ms max_age_ms = 0;            // tickets: issued_at + max_age_ms < now → expired; 0 = no limit
    unix_ms allowed_skew_ms = 60'000;  // issued_at/admitted_at > now + skew → future
};

decoded<ticket> decode_ticket(std::string_view text, const key_ring& keys, const verify_context& ctx);
decoded<pass> decode_pass(std::string_view text, const key_ring& keys, const verify_context& ctx);
decoded<invitation> decode_invitation(std::string_view text, const key_ring& keys, const verify_context& ctx);

// Upper bound of an encoded token's length (cookie size planning, fuzzing).
inline constexpr std::size_t max_token_length = 256;

}  // namespace anteroom::admission
