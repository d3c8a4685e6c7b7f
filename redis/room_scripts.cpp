#include "redis/room_scripts.hpp"

namespace anteroom::redis {

room_keys::room_keys(std::string_view prefix, std::string_view room)
    : base_(std::string(prefix) + ":{" + std::string(room) + "}") {
    state = base_ + ":state";
    seq = base_ + ":seq";
    pending = base_ + ":pending";
    passes = base_ + ":passes";
    stats = base_ + ":stats";
    blocks = base_ + ":blocks";
    identity = base_ + ":identity";
    settings = base_ + ":settings";
    lease = base_ + ":lease";
    nodes = base_ + ":nodes";
    ended = base_ + ":ended";
}

std::string room_keys::seen(std::int64_t now_ms, std::int64_t window_ms) const {
    return base_ + ":seen:" + std::to_string(now_ms / window_ms);
}

std::vector<std::string> room_keys::live_windows(std::int64_t now_ms, std::int64_t window_ms,
                                                 std::int64_t abandon_after_ms) const {
    std::vector<std::string> out;
    for (std::int64_t w = now_ms / window_ms; w >= (now_ms - abandon_after_ms) / window_ms && out.size() < 32; --w) {
        out.push_back(base_ + ":seen:" + std::to_string(w));
    }
    return out;
}

// KEYS: 1 seq, 2 blocks. ARGV: 1 how many numbers, 2 now ms, 3 grace ms, 4 (optional) the
// highest number the node handed out on its own during an outage (fail mode local): the room's
// sequence is raised to it first, so no number is given twice. Reserves a block of
// sequence numbers for one node to hand out locally; returns the block's last number. The block
// is remembered by its first number with the time it was reserved, so `advance` does not skip
// a number a node may still be about to hand out (entries older than the grace are dropped).
const script& reserve_script() {
    static const script s(R"lua(
local n = tonumber(ARGV[1])
local floor = tonumber(ARGV[4] or '0')
if floor > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], floor)
end
local last = redis.call('INCRBY', KEYS[1], n)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (tonumber(ARGV[2]) - tonumber(ARGV[3])))
redis.call('ZADD', KEYS[2], ARGV[2], last - n + 1)
return last
)lua");
    return s;
}

// KEYS[1] the current seen window; ARGV[1] the window's lifetime in ms (it expires after the
// places in it can no longer count as live), ARGV[2..] sequence numbers seen in it.
const script& seen_script() {
    static const script s(R"lua(
for i = 2, #ARGV do
  redis.call('SETBIT', KEYS[1], ARGV[i], 1)
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return #ARGV - 1
)lua");
    return s;
}

// KEYS: 1 state, 2 seq, 3 pending, 4 passes, 5 stats, 6 blocks, 7.. live windows.
// ARGV: 1 now ms, 2 new users per minute, 3 max active users, 4 claim window ms, 5 max steps,
// 6 grace ms. A place not seen is skipped only when its number was reserved longer ago than the
// grace (a node may be about to hand it out, and its first "seen" is flushed a moment later);
// the walk waits at such a place.
// The bucket counts in 1/60000 of an admission: a millisecond adds `rate` units, an admission
// costs 60000, it holds one second's worth (at least one admission) — as room_controller does.
const script& advance_script() {
    static const script s(R"lua(
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local claim_ms = tonumber(ARGV[4])
local max_steps = tonumber(ARGV[5])
local grace = tonumber(ARGV[6])
local unit = 60000
local st = redis.call('HMGET', KEYS[1], 'next', 'tokens', 'refilled_at')
local nxt = tonumber(st[1]) or 1
local tokens = tonumber(st[2]) or 0
local refilled = tonumber(st[3]) or now
local capacity = math.max(unit, rate * 1000)
if now > refilled then
  tokens = math.min(capacity, tokens + (now - refilled) * rate)
  refilled = now
end
local expired = redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
local unclaimed = redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local active = redis.call('ZCARD', KEYS[4]) + redis.call('ZCARD', KEYS[3])
local issued = tonumber(redis.call('GET', KEYS[2]) or '0')
local young = issued + 1
for _, first in ipairs(redis.call('ZRANGEBYSCORE', KEYS[6], '(' .. (now - grace), '+inf')) do
  young = math.min(young, tonumber(first))
end
local admitted, skipped, steps = 0, 0, 0
while nxt <= issued and steps < max_steps do
  local live = false
  for i = 7, #KEYS do
    if redis.call('GETBIT', KEYS[i], nxt) == 1 then
      live = true
      break
    end
  end
  if live then
    if tokens < unit or active >= cap then
      break
    end
    redis.call('ZADD', KEYS[3], now + claim_ms, nxt)
    tokens = tokens - unit
    active = active + 1
    admitted = admitted + 1
  else
    if nxt >= young then
      break
    end
    skipped = skipped + 1
  end
  nxt = nxt + 1
  steps = steps + 1
end
redis.call('HSET', KEYS[1], 'next', nxt, 'tokens', tokens, 'refilled_at', refilled)
if admitted > 0 then redis.call('HINCRBY', KEYS[5], 'admitted', admitted) end
if skipped > 0 then redis.call('HINCRBY', KEYS[5], 'skipped', skipped) end
if unclaimed > 0 then redis.call('HINCRBY', KEYS[5], 'unclaimed', unclaimed) end
if expired > 0 then redis.call('HINCRBY', KEYS[5], 'expired', expired) end
return {nxt, admitted, skipped, active, math.floor(tokens)}
)lua");
    return s;
}

// KEYS: 1 pending, 2 passes, 3 stats. ARGV: 1 sequence number, 2 pass id, 3 pass expiry ms.
// 1: the pass exists now (claimed here or before, or revived by a touch on another node before
// this claim arrived — the place is then no longer pending either); 0: the place was not
// admitted, or its claim window is over.
const script& claim_script() {
    static const script s(R"lua(
if redis.call('ZSCORE', KEYS[2], ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
  redis.call('HINCRBY', KEYS[3], 'claimed', 1)
  return 1
end
return 0
)lua");
    return s;
}

// KEYS: 1 passes, 2 (optional) ended passes. ARGV: 1 pass id, 2 new expiry ms, 3 "1" to add
// the pass when it is missing (a genuine pass whose claim from another node is still on its way,
// or one given while Redis was away) unless it is among the ended ones. 1 when the pass is
// active (now).
const script& touch_script() {
    static const script s(R"lua(
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  return 1
end
if ARGV[3] == '1' and not (#KEYS >= 2 and redis.call('ZSCORE', KEYS[2], ARGV[1])) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  return 1
end
return 0
)lua");
    return s;
}

void advance_call(const room_keys& k, const std::vector<std::string>& windows, const advance_args& a,
                  std::vector<std::string>& keys, std::vector<std::string>& args) {
    keys = {k.state, k.seq, k.pending, k.passes, k.stats, k.blocks};
    keys.insert(keys.end(), windows.begin(), windows.end());
    args = {std::to_string(a.now_ms), std::to_string(a.new_users_per_minute), std::to_string(a.max_active_users),
            std::to_string(a.claim_window_ms), std::to_string(a.max_steps), std::to_string(a.grace_ms)};
}

std::optional<advance_result> parse_advance(const value& v) {
    if (v.type != value::kind::array || v.elements.size() != 5) {
        return std::nullopt;
    }
    for (const auto& e : v.elements) {
        if (e.type != value::kind::integer) {
            return std::nullopt;
        }
    }
    return advance_result{v.elements[0].integer, v.elements[1].integer, v.elements[2].integer, v.elements[3].integer,
                          v.elements[4].integer};
}

}  // namespace anteroom::redis
