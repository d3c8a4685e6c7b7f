#pragma once
// The Lua scripts of the shared room state (docs/shared-state.md), each one atomic in Redis:
//   reserve — a block of sequence numbers for one node to hand out (remembered with its time),
//             above any number the node handed out alone while Redis was away (fail mode local);
//   seen    — places seen (polled) in the current liveness window;
//   advance — the lease holder's tick: refill the room's token bucket, drop expired passes and
//             unclaimed admissions, then walk the line from the serving position: a place seen in
//             one of the given windows is admitted (a token and a free active slot each), one
//             not seen is skipped without using the rate (unless its number is younger than the
//             grace: then the walk waits);
//   claim   — an admitted place becomes a pass (idempotent: the same pass id again is fine);
//   touch   — a pass is still in use (expiry moved, only if it exists — or, asked to, added
//             again unless it was ended).
// Key names carry the room in a hash tag, so one room's keys share a Redis Cluster slot.
// The shared queue store (redis/shared_store) calls them; tests/redis/ runs them alone too.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "redis/client.hpp"

namespace anteroom::redis {

struct room_keys {
    room_keys(std::string_view prefix, std::string_view room);
    std::string state;    // hash: next, tokens, refilled_at
    std::string seq;      // integer: highest sequence number issued
    std::string pending;  // zset: admitted sequence number -> claim deadline (ms)
    std::string passes;   // zset: pass id -> expiry (ms)
    std::string stats;    // hash: admitted, skipped, unclaimed, claimed, expired, bypass, ended
    std::string blocks;   // zset: first number of a reserved block -> reserve time (ms)
    std::string identity; // hash: epoch, secret (hex) — the room's incarnation, made once
    std::string settings; // hash: mode, new_users_per_minute, max_active_users, version
    std::string lease;    // string: the node advancing the room (redis::lease)
    std::string nodes;    // zset: node name -> last sync (ms): the nodes serving the room
    std::string ended;    // zset: pass id ended by the upstream -> until when it could be shown
    // The liveness bitmap of the window that holds `now` (windows of `window_ms`).
    std::string seen(std::int64_t now_ms, std::int64_t window_ms) const;
    // The windows a place must have been seen in to count as live: the one of `now` back to
    // the one of `now - abandon_after`.
    std::vector<std::string> live_windows(std::int64_t now_ms, std::int64_t window_ms, std::int64_t abandon_after_ms) const;

private:
    std::string base_;
};

const script& reserve_script();
const script& seen_script();
const script& advance_script();
const script& claim_script();
const script& touch_script();

struct advance_args {
    std::int64_t now_ms = 0;
    std::uint32_t new_users_per_minute = 60;
    std::uint32_t max_active_users = 1000;
    std::int64_t claim_window_ms = 60'000;
    std::uint32_t max_steps = 10'000;  // places looked at per tick (bounds the script's run time)
    std::int64_t grace_ms = 3'000;     // unseen places younger than this are waited for, not skipped
};
// KEYS and ARGV for advance_script() in the order it reads them.
void advance_call(const room_keys& k, const std::vector<std::string>& windows, const advance_args& a,
                  std::vector<std::string>& keys, std::vector<std::string>& args);

// What advance returned: {next, admitted, skipped, active, tokens}.
struct advance_result {
    std::int64_t next = 0, admitted = 0, skipped = 0, active = 0, tokens = 0;
};
std::optional<advance_result> parse_advance(const value& v);

}  // namespace anteroom::redis
