// The shared queue store: a local mirror per room answers the request path; the store's thread
// syncs the mirrors with Redis every sync_interval (docs/shared-state.md). Locking: the room
// map under a shared_mutex (configure() writes it), each room's mirror under its own mutex,
// held only for O(1) work on the request path and for copying in and out on the sync thread —
// never across a Redis call. Everything Redis-related (client, leases, settings_sync) lives on
// the store's io_context thread.

#include "redis/shared_store.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <deque>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "admission/room_controller.hpp"
#include "common/crypto.hpp"
#include "common/log.hpp"
#include "redis/lease.hpp"
#include "redis/room_scripts.hpp"
#include "redis/settings_sync.hpp"

namespace anteroom::redis {

namespace {

using admission::pass;
using admission::pass_status;
using admission::room_figures;
using admission::room_settings;
using admission::room_state;
using admission::settings_patch;
using admission::ticket;
using admission::unix_ms;
using admission::wait_info;

constexpr unix_ms seen_window_ms = 30'000;
constexpr std::size_t max_seen_buffer = std::size_t{1} << 20;  // places seen, waiting for a flush
constexpr std::size_t max_pass_cache = std::size_t{1} << 20;
constexpr std::size_t max_gone = std::size_t{1} << 16;
constexpr std::size_t seen_batch = 1000;  // numbers per seen script call
constexpr std::int64_t live_map_bytes = 2048;  // fail mode local: liveness of 16,384 places ahead
constexpr std::uint64_t min_block = 16;
constexpr std::uint64_t max_block = 4096;
constexpr std::int64_t max_eta_s = 24 * 3600;
// An admitted place waits this long for its visitor's poll: twice the longest refresh interval a
// visitor is told (60 s), as the embedded store's window for a place polled at that interval.
constexpr std::int64_t claim_window_ms = 120'000;

// The room's incarnation: made by the first node, kept by all. KEYS: 1 identity, 2 seq, 3 state.
// ARGV: 1 epoch, 2 secret (hex), 3 lowest seq, 4 lowest next — the proposing node's figures, so
// a Redis that lost the room (restarted empty) is re-seeded from a node that knew it and no
// number is handed out twice —, 5 the time of a re-seed (0: a new room), 6 the highest number
// the node handed out alone during an outage (fail mode local; the sequence is raised to it
// whether or not the room is new, before anything else this sync sends). Returns {epoch, secret,
// created (0|1), time of the last re-seed (0 = never)}; every node learns of a re-seed from it.
const script& identity_script() {
    static const script s(R"lua(
if tonumber(ARGV[6]) > tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('SET', KEYS[2], ARGV[6])
end
local e = redis.call('HGET', KEYS[1], 'epoch')
if e then
  return {tonumber(e), redis.call('HGET', KEYS[1], 'secret'), 0,
          tonumber(redis.call('HGET', KEYS[1], 'reseeded_at') or '0')}
end
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'secret', ARGV[2], 'reseeded_at', ARGV[5])
if tonumber(ARGV[3]) > tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('SET', KEYS[2], ARGV[3])
end
if tonumber(ARGV[4]) > tonumber(redis.call('HGET', KEYS[3], 'next') or '1') then
  redis.call('HSET', KEYS[3], 'next', ARGV[4])
end
return {tonumber(ARGV[1]), ARGV[2], 1, tonumber(ARGV[5])}
)lua");
    return s;
}

// What a node mirrors. KEYS: 1 state, 2 seq, 3 passes, 4 pending, 5 stats, 6 nodes. ARGV: 1 the
// lowest claim deadline of pending places not yet mirrored (new admissions have later
// deadlines), 2 this node's name, 3 now ms, 4 how long a node counts as serving the room after
// its last sync, 5 and 6 the first and last byte of the liveness bitmaps to return (-1: none),
// KEYS 7.. the live windows. Returns {next, issued, active, {stats}, {seq, deadline, ...}, nodes
// serving the room, this node's index among their sorted names, the live places of the asked
// range (the windows' bytes or-ed)} — the last three are what a node needs in fail mode local.
const script& view_script() {
    static const script s(R"lua(
local nxt = tonumber(redis.call('HGET', KEYS[1], 'next') or '1')
local issued = tonumber(redis.call('GET', KEYS[2]) or '0')
local active = redis.call('ZCARD', KEYS[3]) + redis.call('ZCARD', KEYS[4])
local stats = redis.call('HMGET', KEYS[5], 'admitted', 'skipped', 'unclaimed', 'expired', 'bypass', 'ended')
for i = 1, #stats do stats[i] = tonumber(stats[i] or '0') end
local pend = redis.call('ZRANGEBYSCORE', KEYS[4], ARGV[1], '+inf', 'WITHSCORES', 'LIMIT', 0, 100000)
local now = tonumber(ARGV[3])
redis.call('ZADD', KEYS[6], now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', '(' .. (now - tonumber(ARGV[4])))
redis.call('PEXPIRE', KEYS[6], 2 * tonumber(ARGV[4]))
local names = redis.call('ZRANGE', KEYS[6], 0, 255)
table.sort(names)
local index = 0
for i = 1, #names do
  if names[i] == ARGV[2] then index = i - 1 end
end
local live = ''
local first = tonumber(ARGV[5])
if first >= 0 then
  local acc = {}
  for k = 7, #KEYS do
    local b = redis.call('GETRANGE', KEYS[k], first, tonumber(ARGV[6]))
    for i = 1, #b do acc[i] = bit.bor(acc[i] or 0, string.byte(b, i)) end
  end
  for i = 1, #acc do acc[i] = string.char(acc[i]) end
  live = table.concat(acc)
end
return {nxt, issued, active, stats, pend, #names, index, live}
)lua");
    return s;
}

// KEYS: 1 passes, 2 stats, 3 ended. ARGV: 1 pass id, 2 now ms, 3 until when the pass could
// still be presented (ms). The upstream ended the session. The pass is remembered as ended until
// then, so a node that takes passes given during an outage back in (touch with revive) does
// not take this one back.
const script& end_script() {
    static const script s(R"lua(
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[2], 'ended', 1)
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[3]) < 1000000 then
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
end
return 1
)lua");
    return s;
}

// KEYS: 1 passes, 2 stats. ARGV: 1 pass id, 2 expiry ms. A bypass pass (invitation, agent).
const script& bypass_script() {
    static const script s(R"lua(
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'bypass', 1)
return 1
)lua");
    return s;
}

// KEYS: 1 stats. ARGV: 1 how many visitors a node admitted alone while Redis was away.
const script& admitted_alone_script() {
    static const script s(R"lua(
redis.call('HINCRBY', KEYS[1], 'admitted', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'admitted_alone', ARGV[1])
return 1
)lua");
    return s;
}

// KEYS: the live windows. ARGV: sequence numbers no longer live (bot detection refused them).
const script& unsee_script() {
    static const script s(R"lua(
for k = 1, #KEYS do
  for i = 1, #ARGV do
    redis.call('SETBIT', KEYS[k], ARGV[i], 0)
  end
end
return 1
)lua");
    return s;
}

unix_ms system_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::uint64_t be64(const std::uint8_t* in) {  // a random bypass pass id
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
        v = (v << 8) | in[i];
    }
    return v;
}

bool from_hex(std::string_view hex, std::vector<std::uint8_t>& out) {
    if (hex.size() % 2 != 0) {
        return false;
    }
    out.clear();
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        std::uint8_t b = 0;
        if (std::from_chars(hex.data() + i, hex.data() + i + 2, b, 16).ptr != hex.data() + i + 2) {
            return false;
        }
        out.push_back(b);
    }
    return true;
}

std::string default_node_id() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) {
        host[0] = '\0';
    }
    return std::string(host) + ":" + std::to_string(::getpid());
}

room_settings settings_of(const room_config& c) {
    return room_settings{c.mode, std::max<std::uint32_t>(1, c.new_users_per_minute),
                         std::max<std::uint32_t>(1, c.max_active_users)};
}

bool same(const room_settings& a, const room_settings& b) {
    return a.mode == b.mode && a.new_users_per_minute == b.new_users_per_minute &&
           a.max_active_users == b.max_active_users;
}

struct local_pass {
    pass p;
    unix_ms touched_at = 0;
    enum class state : std::uint8_t { active, unconfirmed, ended } st = state::active;
    bool given_alone = false;  // given while Redis was away (fail mode local): touches revive it
};

// A pass given by a node alone (fail mode local) has the id of its place's pass with the lowest
// bit flipped: any node can tell it from the pass itself (signed, so genuine) and takes it back
// into Redis when Redis does not know it, even a node that never lost Redis.
std::uint64_t alone_pass_id(std::uint64_t place_pass_id) { return place_pass_id ^ 1; }

struct claim_op {
    std::uint64_t seq = 0;
    std::uint64_t pass_id = 0;
    unix_ms expiry = 0;
    bool probe = false;  // a place below `next` this node knew nothing of: claimed to find out
};

struct room_slot {
    explicit room_slot(const room_config& c, std::string_view prefix) : id(c.id), cfg(c), keys(prefix, c.id) {}

    const std::string id;
    std::mutex mu;
    room_config cfg;
    room_keys keys;

    // Identity (from Redis, or proposed by this node when the room is new).
    bool identity_known = false;
    std::uint32_t epoch = 0;
    std::string secret_hex;
    std::unique_ptr<crypto::hmac_key> pass_key;
    unix_ms reseeded_at = 0;  // when Redis lost the room and a node re-seeded it (0 = never)
    // For a while after a re-seed, what Redis forgot is taken back in: passes presented, and
    // places below the serving position whose admission Redis no longer knows.
    bool recovering(unix_ms now) const {
        return reseeded_at != 0 && now - reseeded_at < std::max<unix_ms>(cfg.session_idle_timeout.count(), claim_window_ms);
    }

    room_settings settings;
    room_settings baseline;       // the config values the settings were last reset from
    std::int64_t settings_version = 0;

    // Mirror of the shared state.
    std::uint64_t next = 1, issued = 0, active = 0;
    std::uint64_t admitted = 0, skipped = 0, unclaimed = 0, expired = 0, bypassed = 0, ended = 0;
    unix_ms synced_at = 0;  // last good view (0 = never)
    std::unordered_map<std::uint64_t, unix_ms> pending;  // admitted, not yet claimed: seq -> deadline
    unix_ms pending_cursor = 0;  // fetch pending places with a deadline from here on
    std::unordered_map<std::uint64_t, local_pass> passes;
    std::unordered_set<std::uint64_t> gone;     // places known to be skipped or used
    std::unordered_set<std::uint64_t> probing;  // places with a probe claim on its way
    std::deque<std::pair<unix_ms, std::uint64_t>> outflow;  // (time, admitted) per sync, last 2 minutes

    // Numbers to hand out: [block_next, block_end), reserved at block_at; the spare block is the
    // next one, reserved before this one runs out. A block is named in Redis by its first number
    // (0: none).
    std::uint64_t block_first = 0, block_next = 0, block_end = 0;
    unix_ms block_at = 0;
    std::uint64_t spare_first = 0, spare_next = 0, spare_end = 0;
    unix_ms spare_at = 0;
    std::uint64_t block_size = min_block;
    bool reserving = false;
    // Blocks this node hands out no more numbers from (used up or aged out): removed from the
    // room's `blocks` with the next sync, after the places seen from them, so `advance` skips
    // their unused numbers at once instead of waiting out the grace.
    std::vector<std::uint64_t> retired_out;
    void retire_block() {
        if (block_first != 0 && retired_out.size() < max_gone) {
            retired_out.push_back(block_first);
        }
        block_first = 0;
        block_next = block_end;
    }
    void retire_spare() {
        if (spare_first != 0 && retired_out.size() < max_gone) {
            retired_out.push_back(spare_first);
        }
        spare_first = 0;
        spare_next = spare_end;
    }

    bool usable(unix_ms now, unix_ms max_age) const { return block_next < block_end && now - block_at < max_age; }
    // The next number, or 0 when neither block has one young enough.
    std::uint64_t take(unix_ms now, unix_ms max_age) {
        if (!usable(now, max_age) && spare_next < spare_end && now - spare_at < max_age) {
            retire_block();
            block_first = spare_first;
            spare_first = 0;
            block_next = spare_next;
            block_end = spare_end;
            block_at = spare_at;
            spare_next = spare_end = 0;
        }
        return usable(now, max_age) ? block_next++ : 0;
    }
    bool wants_numbers(unix_ms now, unix_ms max_age) const {
        const bool spare_ready = spare_next < spare_end && now - spare_at < max_age;
        return !spare_ready &&
               (now - block_at >= max_age / 2 || block_end - std::min(block_end, block_next) < block_size / 2);
    }

    // Recorded by requests, flushed by the next sync.
    std::unordered_set<std::uint64_t> seen_out;
    void see(std::uint64_t seq) {
        if (seen_out.size() < max_seen_buffer) {
            seen_out.insert(seq);
        }
    }
    std::vector<std::uint64_t> absent_out;
    std::vector<claim_op> claims_out;
    std::unordered_map<std::uint64_t, std::pair<unix_ms, bool>> touches_out;  // pass id -> (expiry, revive)
    std::vector<std::uint64_t> ends_out;
    std::vector<std::pair<std::uint64_t, unix_ms>> bypass_out;
    std::uint64_t bypass_since_sync = 0;
    std::uint64_t bypass_this_view = 0;  // bypass passes granted since the last view
    std::uint64_t bypass_share = 0;      // this node's share of the places free at the last view

    std::optional<std::int64_t> available;
    std::optional<unix_ms> next_capacity_at;

    // Fail mode local (docs/shared-state.md). The nodes serving the room at the last view and
    // this node's index among their sorted names: its share of the rate and of the free places
    // is 1/nodes, its own numbers are those ≡ index (mod nodes).
    std::uint32_t nodes = 1, node_index = 0;
    bool alone = false;                 // Redis away, this node goes on with its share
    std::uint64_t alone_from = 0;       // the serving position when Redis went away
    std::uint64_t alone_free = 0;       // this node's share of the places free at that moment
    double alone_credit = 0;            // places the serving position may pass (live ones cost one)
    double alone_tokens = 0;            // admissions left of this node's share of the rate
    unix_ms alone_at = 0;               // the last local step
    std::uint64_t alone_seq = 0;        // the next number handed out alone (0: none yet)
    std::uint64_t alone_high = 0;       // the highest number ever handed out alone (a floor for Redis)
    std::uint64_t alone_admitted = 0;   // admissions made alone in this outage
    std::uint64_t alone_admitted_total = 0;
    std::uint64_t alone_unreported = 0;  // admitted alone, not yet counted in Redis
    std::unordered_set<std::uint64_t> alone_passes;  // passes given alone in this outage, still active
    // Places polled on this node in the last 30–60 s (two generations, fail mode local only):
    // alone, the serving position spends the rate on these and passes the others for free
    // (numbers nobody holds, or visitors who go to other nodes).
    std::unordered_set<std::uint64_t> recent[2];
    unix_ms recent_at = 0;
    void saw(std::uint64_t seq) {
        if (recent[0].size() < max_seen_buffer) {
            recent[0].insert(seq);
        }
    }
    bool seen_recently(std::uint64_t seq) const { return recent[0].contains(seq) || recent[1].contains(seq); }
    // The live places ahead of the serving position as Redis knew them at live_at (all nodes'
    // polls): bit i of the map is place live_from + i, most significant bit first, for places
    // below live_to (the numbers issued then); bits past the end of the map are 0.
    std::string live_map;
    std::uint64_t live_from = 0, live_to = 0;
    unix_ms live_at = 0;
    // Whether the serving position, advanced alone, spends the rate on this place: polled here
    // lately, or live in the last map. Other places are passed for free: numbers nobody holds
    // (the rest of a reserved block), visitors of other nodes, or visitors who took their number
    // in the last second before the outage and have not polled here since — they are admitted
    // when they poll (with a token), a little out of line.
    bool live_alone(std::uint64_t seq) const {
        if (seen_recently(seq)) {
            return true;
        }
        if (seq >= live_from && seq < live_to) {
            const std::uint64_t i = seq - live_from;
            return i / 8 < live_map.size() && ((static_cast<std::uint8_t>(live_map[i / 8]) >> (7 - i % 8)) & 1);
        }
        return false;
    }

    // Redis thread only.
    struct publish_job {
        room_settings settings;
        bool only_if_absent = false;
        std::uint64_t gen = 0;
    };
    std::optional<publish_job> to_publish;
    std::uint64_t publish_gen = 0;
    bool publish_in_flight = false;
    std::shared_ptr<lease> advance_lease;
    std::atomic<bool> leading{false};
    bool sync_in_flight = false;

    std::uint64_t pass_id_for(std::uint64_t seq) const { return admission::pass_id_for(*pass_key, seq); }
    bool sold_out() const { return available && *available <= 0; }
    double outflow_per_minute(unix_ms now) const {
        if (outflow.size() < 2) {
            return 0;
        }
        // Over the last minute (or what there is of it).
        auto first = outflow.begin();
        while (first + 1 != outflow.end() && now - first->first > 60'000) {
            ++first;
        }
        const auto& last = outflow.back();
        const unix_ms span = last.first - first->first;
        return span < 10'000 ? 0 : static_cast<double>(last.second - first->second) * 60'000.0 / static_cast<double>(span);
    }
};

class shared_store final : public admission::queue_store {
public:
    explicit shared_store(shared_store_options o) : opts_(std::move(o)), sync_timer_(io_), work_(io_.get_executor()) {
        if (!opts_.clock) {
            opts_.clock = system_now;
        }
        if (opts_.node_id.empty()) {
            opts_.node_id = default_node_id();
        }
        client_ = client::create(io_, opts_.connection);
        for (const script* s : {&identity_script(), &view_script(), &end_script(), &bypass_script(), &unsee_script(),
                                &reserve_script(), &seen_script(), &advance_script(), &claim_script(),
                                &touch_script(), &admitted_alone_script()}) {
            client_->register_script(*s);
        }
        thread_ = std::thread([this] { io_.run(); });
        net::post(io_, [this] {
            client_->start([this](bool up) {
                ANTEROOM_LOG(up ? log_level::info : log_level::warn, "state",
                             up ? "connected to Redis at " + opts_.connection.address
                                : "lost Redis at " + opts_.connection.address + "; rooms run in fail mode " +
                                      (opts_.fail_local ? "local" : "closed"));
            });
            sync();
        });
    }

    ~shared_store() override {
        net::post(io_, [this] {
            stopping_ = true;
            sync_timer_.cancel();
            if (settings_) {
                settings_->stop();
            }
            for (const auto& s : slots()) {
                if (s->advance_lease) {
                    s->advance_lease->stop();  // given back: another node leads at once
                }
            }
            // Let the lease releases go out before the connection closes.
            auto t = std::make_shared<net::steady_timer>(io_, std::chrono::milliseconds(50));
            t->async_wait([this, t](const beast::error_code&) {
                client_->stop();
                work_.reset();
                io_.stop();
            });
        });
        thread_.join();
    }

    void configure(const std::vector<room_config>& rooms, unix_ms) override {
        std::vector<std::pair<std::string, room_settings>> publish;  // rooms whose config values changed
        std::vector<std::string> fresh_rooms;
        std::vector<std::shared_ptr<room_slot>> dropped;
        {
            std::unique_lock lock(map_mu_);
            std::map<std::string, std::shared_ptr<room_slot>, std::less<>> next;
            for (const auto& cfg : rooms) {
                const auto it = rooms_.find(cfg.id);
                if (it != rooms_.end()) {
                    std::lock_guard room_lock(it->second->mu);
                    room_slot& r = *it->second;
                    r.cfg = cfg;
                    if (!same(settings_of(cfg), r.baseline)) {
                        r.baseline = r.settings = settings_of(cfg);
                        publish.emplace_back(cfg.id, r.settings);
                    }
                    next[cfg.id] = it->second;
                    continue;
                }
                auto slot = std::make_shared<room_slot>(cfg, opts_.prefix);
                slot->baseline = slot->settings = settings_of(cfg);
                fresh_rooms.push_back(cfg.id);
                next[cfg.id] = std::move(slot);
            }
            for (const auto& [id, slot] : rooms_) {
                if (!next.contains(id)) {
                    dropped.push_back(slot);
                }
            }
            rooms_ = std::move(next);
        }
        // Dropped rooms give their lease back (on the store's thread, where the lease lives).
        net::post(io_, [this, publish = std::move(publish), fresh_rooms = std::move(fresh_rooms),
                        dropped = std::move(dropped)] {
            for (const auto& d : dropped) {
                if (d->advance_lease) {
                    d->advance_lease->stop();
                }
            }
            rewire(publish, fresh_rooms);
        });
    }

    std::optional<ticket> issue_ticket(std::string_view room, std::uint64_t binding, unix_ms now) override {
        const auto slot = find(room);
        if (!slot) {
            return std::nullopt;
        }
        std::unique_lock lock(slot->mu);
        room_slot& r = *slot;
        if (r.settings.mode == room_mode::passthrough || r.settings.mode == room_mode::reject ||
            (degraded(r, now) && !r.alone)) {
            count_refused(r.settings.mode != room_mode::passthrough && r.settings.mode != room_mode::reject);
            return std::nullopt;
        }
        if (r.alone) {
            const std::uint64_t seq = alone_number(r);
            r.see(seq);
            return ticket{r.cfg.id, seq, now, binding, 0, r.epoch};
        }
        const unix_ms max_age = opts_.block_max_age.count();
        const std::uint64_t seq = r.take(now, max_age);
        const bool ask = r.wants_numbers(now, max_age);
        if (seq == 0) {
            // Ran out before the next block arrived (a sudden surge): this visitor is asked to
            // come back; blocks double while they are used up this fast.
            lock.unlock();
            ask_for_numbers(slot);
            count_refused(true);
            return std::nullopt;
        }
        if (ask) {
            lock.unlock();
            ask_for_numbers(slot);
            lock.lock();
        }
        r.see(seq);
        r.issued = std::max(r.issued, seq);
        return ticket{r.cfg.id, seq, now, binding, 0, r.epoch};
    }

    wait_info poll(std::string_view room, const ticket& t, unix_ms now) override {
        wait_info w;
        w.updated_at = now;
        const auto slot = find(room);
        if (!slot) {
            w.state = room_state::closed;
            w.revoked = true;
            return w;
        }
        std::lock_guard lock(slot->mu);
        room_slot& r = *slot;
        if (r.settings.mode == room_mode::reject) {
            w.state = room_state::closed;
            return w;
        }
        if (r.settings.mode == room_mode::passthrough) {
            w.state = room_state::admitted;
            return w;
        }
        if (!r.identity_known) {
            // Not synced yet (a node just started, Redis away): keep the place, ask again soon.
            w.refresh_after_seconds = 5;
            r.see(t.seq);
            return w;
        }
        if (t.epoch != r.epoch) {
            w.revoked = true;
            return w;
        }
        const std::uint64_t place_pid = r.pass_id_for(t.seq);
        auto known = r.passes.find(place_pid);
        if (known == r.passes.end()) {
            known = r.passes.find(alone_pass_id(place_pid));
        }
        const std::uint64_t pid = place_pid;
        if (const auto it = known; it != r.passes.end()) {
            if (it->second.st == local_pass::state::ended) {
                w.revoked = true;
                return w;
            }
            touch_locked(r, it->second, now, false);
            w.state = room_state::admitted;
            w.admitted_pass = it->second.p;
            return w;
        }
        if (t.seq >= r.next) {
            return waiting_answer(r, t.seq, now);
        }
        if (r.alone && t.seq >= r.alone_from) {
            return alone_answer(r, t, now);
        }
        if (r.gone.contains(t.seq)) {
            w.revoked = true;
            return w;
        }
        const auto pend = r.pending.find(t.seq);
        if (pend != r.pending.end() && pend->second > now) {
            // Admitted: the pass is this node's to give; the claim follows with the next sync
            // (the same pass id on any node, so a claim on two nodes is one pass).
            r.pending.erase(pend);
            local_pass lp{pass{r.cfg.id, pid, now, now + r.cfg.session_max_duration.count(), t.binding, t.seq}, now,
                          local_pass::state::active};
            r.claims_out.push_back({t.seq, pid, std::min(now + r.cfg.session_idle_timeout.count(), lp.p.expires_at), false});
            w.state = room_state::admitted;
            w.admitted_pass = lp.p;
            if (r.passes.size() < max_pass_cache) {
                r.passes.emplace(pid, std::move(lp));
            }
            return w;
        }
        // Below the serving position and not known here: admitted and claimed on another node,
        // admitted after this node's last view, or skipped. A claim finds out; meanwhile the
        // visitor is told to ask again in a moment. Bounded: while Redis is away the probes wait
        // for it, and a visitor past the bound is probed on a later poll.
        if (r.probing.size() < max_seen_buffer && r.probing.insert(t.seq).second) {
            r.claims_out.push_back(
                {t.seq, pid, now + std::min(r.cfg.session_idle_timeout.count(), r.cfg.session_max_duration.count()), true});
        }
        w.state = room_state::queued;
        w.position = 1;
        w.refresh_after_seconds = 2;
        return w;
    }

    void mark_absent(std::string_view room, const ticket& t, unix_ms) override {
        if (const auto slot = find(room)) {
            std::lock_guard lock(slot->mu);
            slot->seen_out.erase(t.seq);
            if (slot->absent_out.size() < max_seen_buffer) {
                slot->absent_out.push_back(t.seq);
            }
        }
    }

    pass_status touch_pass(std::string_view room, const pass& p, unix_ms now) override {
        const auto slot = find(room);
        if (!slot) {
            return pass_status::unknown_room;
        }
        std::lock_guard lock(slot->mu);
        room_slot& r = *slot;
        if (p.expires_at <= now) {
            return pass_status::ended;
        }
        auto it = r.passes.find(p.pass_id);
        if (it == r.passes.end()) {
            // Claimed on another node (signed, so genuine): active until Redis says otherwise.
            if (r.passes.size() >= max_pass_cache) {
                return pass_status::active;
            }
            it = r.passes.emplace(p.pass_id, local_pass{p, now, local_pass::state::unconfirmed, given_alone(r, p)}).first;
        }
        local_pass& lp = it->second;
        if (lp.st == local_pass::state::ended) {
            return pass_status::ended;
        }
        if (now - lp.touched_at > r.cfg.session_idle_timeout.count()) {
            lp.st = local_pass::state::ended;
            return pass_status::ended;
        }
        // After a re-seed, passes Redis lost are taken back in (they are signed, so genuine).
        touch_locked(r, lp, now, r.recovering(now));
        return pass_status::active;
    }

    void end_pass(std::string_view room, std::uint64_t pass_id, unix_ms) override {
        if (const auto slot = find(room)) {
            std::lock_guard lock(slot->mu);
            if (const auto it = slot->passes.find(pass_id); it != slot->passes.end()) {
                it->second.st = local_pass::state::ended;
            }
            slot->touches_out.erase(pass_id);
            slot->alone_passes.erase(pass_id);
            slot->ends_out.push_back(pass_id);
        }
    }

    admission::bypass_result admit_bypass(std::string_view room, std::uint64_t binding, unix_ms now) override {
        const auto slot = find(room);
        if (!slot) {
            return {};
        }
        std::lock_guard lock(slot->mu);
        room_slot& r = *slot;
        // Connected, a node grants at most its share of the places free at its last view until
        // the next one (take_view).
        if (r.alone ? r.alone_passes.size() >= r.alone_free
                    : degraded(r, now) || r.active + r.bypass_since_sync >= r.settings.max_active_users ||
                          r.bypass_this_view >= r.bypass_share) {
            return {};
        }
        std::array<std::uint8_t, 8> rnd{};
        if (!crypto::random_bytes(rnd)) {
            return {};
        }
        const std::uint64_t id = std::max<std::uint64_t>(1, be64(rnd.data()));
        pass p{r.cfg.id, id, now, now + r.cfg.session_max_duration.count(), binding, 0};
        r.bypass_out.emplace_back(id, std::min(now + r.cfg.session_idle_timeout.count(), p.expires_at));
        ++r.bypass_since_sync;
        ++r.bypass_this_view;
        if (r.alone) {
            r.alone_passes.insert(id);
        }
        if (r.passes.size() < max_pass_cache) {
            r.passes.emplace(id, local_pass{p, now, local_pass::state::active});
        }
        return {p};
    }

    void tick(unix_ms) override {}  // the store's own thread syncs every sync_interval

    void set_capacity(std::string_view room, std::optional<std::int64_t> available, std::optional<unix_ms> next_at,
                      unix_ms) override {
        if (const auto slot = find(room)) {
            std::lock_guard lock(slot->mu);
            slot->available = available;
            slot->next_capacity_at = next_at;
        }
    }

    std::optional<room_settings> settings(std::string_view room) const override {
        const auto slot = find(room);
        if (!slot) {
            return std::nullopt;
        }
        std::lock_guard lock(slot->mu);
        return slot->settings;
    }

    bool update_settings(std::string_view room, const settings_patch& patch, unix_ms) override {
        const auto slot = find(room);
        if (!slot || patch.mode == room_mode::random) {
            return false;
        }
        room_settings s;
        {
            std::lock_guard lock(slot->mu);
            room_slot& r = *slot;
            r.settings.mode = patch.mode.value_or(r.settings.mode);
            r.settings.new_users_per_minute = patch.new_users_per_minute.value_or(r.settings.new_users_per_minute);
            r.settings.max_active_users = patch.max_active_users.value_or(r.settings.max_active_users);
            s = r.settings;
        }
        net::post(io_, [this, id = std::string(room), s] { publish(id, s, false); });
        return true;
    }

    std::vector<room_figures> figures(unix_ms now) const override {
        std::vector<room_figures> out;
        for (const auto& slot : slots()) {
            std::lock_guard lock(slot->mu);
            const room_slot& r = *slot;
            room_figures f;
            f.id = r.cfg.id;
            f.epoch = r.epoch;
            f.settings = r.settings;
            f.state = arrival_state(r, now);
            f.issued = r.issued;
            f.waiting = r.issued >= r.next ? r.issued - r.next + 1 : 0;
            f.active = r.active + r.bypass_since_sync;
            f.admitted_total = r.admitted + r.bypassed + r.alone_unreported;
            f.bypass_total = r.bypassed;
            f.skipped_total = r.skipped + r.unclaimed;
            f.unclaimed_total = r.unclaimed;
            f.ended_idle = r.expired;
            f.ended_session_end = r.ended;
            f.outflow_per_minute = r.outflow_per_minute(now);
            f.available = r.available;
            f.sold_out = r.sold_out();
            out.push_back(std::move(f));
        }
        return out;
    }

    std::optional<admission::fairness_info> fairness(std::string_view room, unix_ms) const override {
        if (!find(room)) {
            return std::nullopt;
        }
        return admission::fairness_info{};  // no pre-queue events with the shared store (config refuses them)
    }

    bool snapshot(std::string&) override { return true; }  // the state lives in Redis

    admission::store_health health() const override {
        admission::store_health h;
        h.shared = true;
        const unix_ms now = opts_.clock();
        for (const auto& slot : slots()) {
            h.rooms_led += slot->leading.load() ? 1 : 0;
            std::lock_guard lock(slot->mu);
            h.connected = h.connected && !degraded(*slot, now);
            h.rooms_alone += slot->alone ? 1 : 0;
            h.nodes = std::max<std::uint64_t>(h.nodes, slot->nodes);
            h.admitted_alone += slot->alone_admitted_total;
        }
        h.sync_failures = sync_failures_.load();
        h.tickets_refused = tickets_refused_.load();
        return h;
    }

private:
    std::shared_ptr<room_slot> find(std::string_view id) const {
        std::shared_lock lock(map_mu_);
        const auto it = rooms_.find(id);
        return it == rooms_.end() ? nullptr : it->second;
    }

    std::vector<std::shared_ptr<room_slot>> slots() const {
        std::shared_lock lock(map_mu_);
        std::vector<std::shared_ptr<room_slot>> out;
        for (const auto& [id, s] : rooms_) {
            out.push_back(s);
        }
        return out;
    }

    // How long a pass may be missing from Redis because its claim is still on the way.
    unix_ms young_pass_ms() const { return 2 * opts_.stale_after.count(); }
    // A node counts as serving a room this long after its last view.
    unix_ms node_window_ms() const { return std::max<unix_ms>(5'000, 3 * opts_.lease_ttl.count()); }

    bool degraded(const room_slot& r, unix_ms now) const {
        // A node that never got a block of numbers cannot take anybody in yet either.
        return !r.identity_known || r.synced_at == 0 || r.block_at == 0 || now - r.synced_at > opts_.stale_after.count();
    }

    void count_refused(bool counted) {
        if (counted) {
            tickets_refused_.fetch_add(1, std::memory_order_relaxed);
        }
    }

    static room_state arrival_state(const room_slot& r, unix_ms) {
        switch (r.settings.mode) {
            case room_mode::reject:
                return room_state::closed;
            case room_mode::passthrough:
                return room_state::admitted;
            case room_mode::paused:
                return room_state::paused;
            default:
                break;
        }
        return r.sold_out() ? room_state::sold_out : room_state::queued;
    }

    // Whether a pass was given while Redis was away (fail mode local): asked once, when the
    // pass enters this node's cache.
    static bool given_alone(const room_slot& r, const pass& p) {
        return p.ticket_seq != 0 && r.identity_known && p.pass_id == alone_pass_id(r.pass_id_for(p.ticket_seq));
    }

    // A pass given alone goes into Redis with its touches (revive).
    void touch_locked(room_slot& r, local_pass& lp, unix_ms now, bool revive) {
        lp.touched_at = now;
        auto& t = r.touches_out[lp.p.pass_id];
        t.first = std::min(now + r.cfg.session_idle_timeout.count(), lp.p.expires_at);
        t.second = t.second || revive || lp.given_alone;
    }

    // ---- fail mode local -------------------------------------------------------------------

    // A number for a newcomer while Redis is away: above every number this node knows of, past
    // the blocks the other nodes may have reserved since its last view (two of the largest size
    // each), and ≡ node_index (mod nodes), so no two nodes hand out the same one (with the same
    // view of the nodes). Numbers from reserved blocks are not used: they may lie below the
    // serving position the lease holder reached before the outage.
    static std::uint64_t alone_number(room_slot& r) {
        const std::uint64_t n = std::max<std::uint32_t>(1, r.nodes);
        if (r.alone_seq == 0) {
            const std::uint64_t base =
                std::max({r.issued, r.block_end, r.spare_end, r.alone_high, r.next}) + 1 + 2 * max_block * (n - 1);
            r.alone_seq = base + (r.node_index % n + n - base % n) % n;
        }
        const std::uint64_t seq = r.alone_seq;
        r.alone_seq += n;
        r.alone_high = std::max(r.alone_high, seq);
        r.issued = std::max(r.issued, seq);
        return seq;
    }

    // A place the serving position (advanced here) has passed: admitted when this node has a
    // token of its share of the rate and a place of its share of the free places left; else it
    // is next and asks again soon (maybe on a node with a token).
    wait_info alone_answer(room_slot& r, const ticket& t, unix_ms now) {
        wait_info w;
        w.updated_at = now;
        if (r.alone_tokens >= 1 && r.alone_passes.size() < r.alone_free) {
            const std::uint64_t pid = alone_pass_id(r.pass_id_for(t.seq));
            local_pass lp{pass{r.cfg.id, pid, now, now + r.cfg.session_max_duration.count(), t.binding, t.seq}, now,
                          local_pass::state::active, true};
            touch_locked(r, lp, now, true);
            // Not live for the lease holder when Redis is back: it is in already.
            r.seen_out.erase(t.seq);
            if (r.absent_out.size() < max_seen_buffer) {
                r.absent_out.push_back(t.seq);
            }
            r.alone_tokens -= 1;
            ++r.alone_admitted;
            ++r.alone_admitted_total;
            ++r.alone_unreported;
            r.alone_passes.insert(pid);
            w.state = room_state::admitted;
            w.admitted_pass = lp.p;
            r.passes.insert_or_assign(pid, std::move(lp));
            return w;
        }
        r.see(t.seq);
        r.saw(t.seq);
        w.state = room_state::queued;
        w.position = 1;
        w.refresh_after_seconds = 2;
        return w;
    }

    // The store's thread, every sync_interval: a node whose last good view is older than
    // stale_after goes on alone (fail mode local), advancing the serving position at the room's
    // rate from where it last knew it — over the places polled here lately; the others are
    // passed for free — while its share of the free places lasts. Admissions take tokens of its
    // share of the rate (alone_answer).
    void local_step(room_slot& r, unix_ms now) {
        if (!opts_.fail_local) {
            return;
        }
        if (now - r.recent_at >= seen_window_ms) {
            std::swap(r.recent[0], r.recent[1]);
            r.recent[0].clear();
            r.recent_at = now;
        }
        if (!r.identity_known || r.synced_at == 0 || now - r.synced_at <= opts_.stale_after.count()) {
            return;
        }
        const std::uint64_t n = std::max<std::uint32_t>(1, r.nodes);
        if (!r.alone) {
            const std::uint64_t used = r.active + r.bypass_since_sync;
            r.alone = true;
            r.alone_from = r.next;
            r.alone_credit = 0;
            r.alone_free = used >= r.settings.max_active_users ? 0 : (r.settings.max_active_users - used) / n;
            r.alone_tokens = 0;
            r.alone_at = now;
            r.alone_seq = 0;
            r.alone_admitted = 0;
            r.alone_passes.clear();
            ANTEROOM_LOG(log_level::warn, "state",
                         "room " + r.cfg.id + ": Redis away; this node goes on alone (fail mode local) with 1/" +
                             std::to_string(n) + " of the rate and " + std::to_string(r.alone_free) +
                             " free places");
        }
        std::erase_if(r.alone_passes, [&](std::uint64_t id) {
            const auto it = r.passes.find(id);
            return it == r.passes.end() || it->second.st == local_pass::state::ended || it->second.p.expires_at <= now ||
                   now - it->second.touched_at > r.cfg.session_idle_timeout.count();
        });
        const double dt = static_cast<double>(std::max<unix_ms>(0, now - r.alone_at));
        r.alone_at = now;
        if (r.settings.mode != room_mode::fifo || r.sold_out()) {
            return;
        }
        const double rate = r.settings.new_users_per_minute;  // per minute
        const double share = rate / static_cast<double>(n);
        // A second of its share saved up at most (at least one admission), as the shared bucket.
        r.alone_tokens = std::min(std::max(1.0, share / 60.0), r.alone_tokens + dt * share / 60'000.0);
        if (r.alone_passes.size() >= r.alone_free) {
            return;
        }
        // Credits of the serving position: the room's rate, at most a second's worth saved up.
        r.alone_credit = std::min(std::max(1.0, rate / 60.0), r.alone_credit + dt * rate / 60'000.0);
        for (int steps = 0; r.next <= r.issued && steps < 100'000; ++steps) {
            if (r.live_alone(r.next)) {
                if (r.alone_credit < 1) {
                    break;
                }
                r.alone_credit -= 1;
            }
            ++r.next;
        }
    }

    wait_info waiting_answer(room_slot& r, std::uint64_t seq, unix_ms now) {
        wait_info w;
        w.updated_at = now;
        r.see(seq);
        if (opts_.fail_local) {
            r.saw(seq);
        }
        w.ahead = seq - r.next;
        w.position = w.ahead + 1;
        if (degraded(r, now) && !r.alone) {
            // Fail mode closed: the place is kept; nothing advances, so no estimate.
            w.state = room_state::queued;
            w.eta_note = "paused";
            w.refresh_after_seconds = 10;
            return w;
        }
        if (r.settings.mode == room_mode::paused || r.sold_out()) {
            w.state = r.sold_out() ? room_state::sold_out : room_state::paused;
            w.eta_note = r.settings.mode == room_mode::paused ? "paused" : "";
            if (r.sold_out()) {
                w.next_capacity_at = r.next_capacity_at;
            }
            w.refresh_after_seconds = 30;
            return w;
        }
        // Places per second: the configured rate, or what the room actually admits when that is
        // less (the cap or the backend holds it back) and has been measured.
        double rate = r.settings.new_users_per_minute / 60.0;
        if (const double measured = r.outflow_per_minute(now) / 60.0; measured > 0 && measured < rate) {
            rate = std::max(measured, 1.0 / 60.0);
        }
        const auto eta = admission::fifo_eta(w.ahead, rate, rate);
        const std::int64_t high = std::min(eta.high, max_eta_s);
        const std::int64_t low = std::min(eta.low, high);
        w.state = room_state::queued;
        w.eta_low_seconds = low;
        w.eta_high_seconds = high;
        w.refresh_after_seconds = admission::refresh_class_for(low) * 5;
        return w;
    }

    // ---- the store's thread ----------------------------------------------------------------

    void rewire(const std::vector<std::pair<std::string, room_settings>>& publish_now,
                const std::vector<std::string>& fresh_rooms) {
        std::vector<std::string> ids;
        for (const auto& s : slots()) {
            ids.push_back(s->id);
            if (!s->advance_lease) {
                s->advance_lease = lease::create(client_, io_, s->keys.lease, opts_.node_id,
                                                 lease::options{opts_.lease_ttl, opts_.lease_ttl / 10});
                std::weak_ptr<room_slot> weak = s;
                const std::string id = s->id;
                s->advance_lease->start([weak, id](bool held) {
                    if (auto r = weak.lock()) {
                        r->leading.store(held);
                        ANTEROOM_LOG(log_level::info, "state",
                                     "room " + id + (held ? ": this node advances the queue now"
                                                          : ": this node no longer advances the queue"));
                    }
                });
            }
        }
        if (settings_) {
            settings_->stop();
        }
        settings_ = settings_sync::create(client_, io_, opts_.prefix, ids, opts_.settings_interval);
        settings_->start([this](const std::string& room, const shared_settings& s) { heard(room, s); });
        for (const auto& [id, s] : publish_now) {
            publish(id, s, false);
        }
        for (const auto& id : fresh_rooms) {
            if (const auto slot = find(id)) {
                room_settings s;
                {
                    std::lock_guard lock(slot->mu);
                    s = slot->settings;
                }
                publish(id, s, true);
            }
        }
    }

    // Settings to write to Redis; sent by the next sync that finds Redis there, and again until
    // Redis took them (a newer change replaces an older one not yet sent).
    void publish(const std::string& room, const room_settings& s, bool only_if_absent) {
        if (const auto slot = find(room)) {
            slot->to_publish = room_slot::publish_job{s, only_if_absent && !slot->to_publish, ++slot->publish_gen};
        }
    }

    void send_settings(const std::shared_ptr<room_slot>& slot) {
        if (!settings_ || !slot->to_publish || slot->publish_in_flight) {
            return;
        }
        const auto job = *slot->to_publish;
        slot->publish_in_flight = true;
        settings_->publish(slot->id,
                           {std::string(to_string(job.settings.mode)), job.settings.new_users_per_minute,
                            job.settings.max_active_users, 0},
                           [slot, gen = job.gen](std::optional<std::int64_t> v) {
                               slot->publish_in_flight = false;
                               if (v && slot->to_publish && slot->to_publish->gen == gen) {
                                   slot->to_publish.reset();
                               }
                           },
                           job.only_if_absent);
    }

    void heard(const std::string& room, const shared_settings& s) {
        const auto slot = find(room);
        const auto mode = parse_room_mode(s.mode);
        if (!slot || !mode || *mode == room_mode::random || s.new_users_per_minute == 0 || s.max_active_users == 0) {
            return;
        }
        std::lock_guard lock(slot->mu);
        if (s.version != slot->settings_version) {
            slot->settings_version = s.version;
            slot->settings = room_settings{*mode, s.new_users_per_minute, s.max_active_users};
        }
    }

    void ask_for_numbers(const std::shared_ptr<room_slot>& slot) {
        net::post(io_, [this, slot] { reserve(slot); });
    }

    void reserve(const std::shared_ptr<room_slot>& slot) {
        std::uint64_t n = 0, floor = 0;
        std::vector<std::string> keys;
        const unix_ms now = opts_.clock();
        {
            std::lock_guard lock(slot->mu);
            room_slot& r = *slot;
            if (r.reserving || r.alone || !r.identity_known || !client_->connected() ||
                !r.wants_numbers(now, opts_.block_max_age.count())) {
                return;
            }
            // Half used within half its life: twice as big next time; barely used: smaller.
            const std::uint64_t left = r.block_end - std::min(r.block_end, r.block_next);
            if (left < r.block_size / 2 && now - r.block_at < opts_.block_max_age.count() / 2) {
                r.block_size = std::min(max_block, r.block_size * 2);
            } else if (left > r.block_size * 3 / 4) {
                r.block_size = std::max(min_block, r.block_size / 2);
            }
            n = r.block_size;
            r.reserving = true;
            keys = {r.keys.seq, r.keys.blocks};
            floor = r.alone_high;
        }
        client_->eval(reserve_script(), keys,
                      {std::to_string(n), std::to_string(now), std::to_string(opts_.grace.count()),
                       std::to_string(floor)},
                      [slot, n, now, max_age = opts_.block_max_age.count()](result res) {
                          std::lock_guard lock(slot->mu);
                          room_slot& r = *slot;
                          r.reserving = false;
                          if (res.ok() && res.reply.type == value::kind::integer && res.reply.integer >= 0) {
                              const auto last = static_cast<std::uint64_t>(res.reply.integer);
                              if (r.usable(now, max_age)) {
                                  r.retire_spare();  // none, or one that aged out unused
                                  r.spare_first = last - n + 1;
                                  r.spare_next = last - n + 1;
                                  r.spare_end = last + 1;
                                  r.spare_at = now;
                              } else {
                                  r.retire_block();
                                  r.block_first = last - n + 1;
                                  r.block_next = last - n + 1;
                                  r.block_end = last + 1;
                                  r.block_at = now;
                              }
                          }
                      });
    }

    void sync() {
        if (stopping_) {
            return;
        }
        for (const auto& slot : slots()) {
            {
                std::lock_guard lock(slot->mu);
                local_step(*slot, opts_.clock());
            }
            sync_room(slot);
        }
        sync_timer_.expires_after(opts_.sync_interval);
        sync_timer_.async_wait([this](const beast::error_code& ec) {
            if (!ec) {
                sync();
            }
        });
    }

    void sync_room(const std::shared_ptr<room_slot>& slot) {
        const unix_ms now = opts_.clock();
        if (!client_->connected()) {
            sync_failures_.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        if (slot->sync_in_flight) {
            return;  // Redis slower than the interval: do not pile up
        }
        // Take what the requests recorded; copy what the commands need.
        room_keys keys("", "");
        std::vector<std::uint64_t> seen, absent, ends;
        std::vector<claim_op> claims;
        std::unordered_map<std::uint64_t, std::pair<unix_ms, bool>> touches;
        std::vector<std::pair<std::uint64_t, unix_ms>> bypass;
        room_settings settings;
        bool identity_known = false, sold_out = false, need_numbers = false;
        std::uint32_t epoch = 0;
        std::string secret_hex;
        std::uint64_t issued = 0, next = 1, floor = 0, admitted_alone = 0;
        std::vector<std::uint64_t> retired;
        bool live_due = false;
        unix_ms cursor = 0;
        unix_ms abandon_ms = 0;  // the room's abandon_after
        unix_ms max_session_ms = 0;
        {
            std::lock_guard lock(slot->mu);
            room_slot& r = *slot;
            keys = r.keys;
            abandon_ms = r.cfg.abandon_after.count();
            max_session_ms = r.cfg.session_max_duration.count();
            identity_known = r.identity_known;
            epoch = r.epoch;
            secret_hex = r.secret_hex;
            issued = r.issued;
            next = r.alone ? r.alone_from : r.next;  // never the serving position advanced alone
            floor = r.alone_high;
            live_due = now - r.live_at >= 1000;
            settings = r.settings;
            sold_out = r.sold_out();
            cursor = r.pending_cursor;
            if (identity_known) {
                seen.assign(r.seen_out.begin(), r.seen_out.end());
                r.seen_out.clear();
                absent.swap(r.absent_out);
                claims.swap(r.claims_out);
                touches.swap(r.touches_out);
                ends.swap(r.ends_out);
                bypass.swap(r.bypass_out);
                admitted_alone = std::exchange(r.alone_unreported, 0);
                const unix_ms max_age = opts_.block_max_age.count();
                if (r.block_first != 0 && (r.block_next >= r.block_end || now - r.block_at >= max_age)) {
                    r.retire_block();
                }
                if (r.spare_first != 0 && now - r.spare_at >= max_age) {
                    r.retire_spare();
                }
                retired.swap(r.retired_out);
                need_numbers = r.wants_numbers(now, opts_.block_max_age.count());
            }
        }
        if (!identity_known && epoch == 0) {
            // Propose an identity (the room's first node wins; the others adopt it).
            std::array<std::uint8_t, 4> e{};
            std::array<std::uint8_t, 32> secret{};
            if (!crypto::random_bytes(e) || !crypto::random_bytes(secret)) {
                return;
            }
            std::memcpy(&epoch, e.data(), e.size());
            epoch |= 1;
            secret_hex = crypto::to_hex(secret);
        }
        slot->sync_in_flight = true;
        client_->eval(identity_script(), {keys.identity, keys.seq, keys.state},
                      {std::to_string(epoch), secret_hex, std::to_string(issued), std::to_string(next),
                       std::to_string(identity_known ? now : 0), std::to_string(floor)},
                      [this, slot, identity_known](result res) {
                          adopt_identity(slot, res, identity_known);
                          if (!identity_known) {
                              reserve(slot);  // the first numbers at once, not a sync later
                          }
                      });
        if (identity_known) {
            send_settings(slot);
            flush(slot, keys, abandon_ms, max_session_ms, now, seen, absent, claims, touches, ends, bypass);
            if (!retired.empty()) {
                // After the seen marks of their numbers; if it fails, the grace covers it.
                std::vector<std::string> argv{"ZREM", keys.blocks};
                for (const auto first : retired) {
                    argv.push_back(std::to_string(first));
                }
                client_->command(std::move(argv), [](result) {});
            }
            if (admitted_alone > 0) {
                client_->eval(admitted_alone_script(), {keys.stats}, {std::to_string(admitted_alone)},
                              [slot, admitted_alone](result res) {
                                  if (!res.ok()) {
                                      std::lock_guard lock(slot->mu);
                                      slot->alone_unreported += admitted_alone;
                                  }
                              });
            }
            if (need_numbers) {
                reserve(slot);
            }
            if (slot->advance_lease && slot->advance_lease->held() && settings.mode == room_mode::fifo && !sold_out) {
                advance_args a;
                a.now_ms = now;
                a.new_users_per_minute = settings.new_users_per_minute;
                a.max_active_users = settings.max_active_users;
                a.claim_window_ms = claim_window_ms;
                a.grace_ms = opts_.grace.count();
                std::vector<std::string> k, args;
                advance_call(keys, keys.live_windows(now, seen_window_ms, abandon_ms), a, k, args);
                client_->eval(advance_script(), k, args, [](result) {});
            }
        }
        // Fail mode local: once a second, which places ahead of the serving position are live.
        std::vector<std::string> view_keys{keys.state, keys.seq, keys.passes, keys.pending, keys.stats, keys.nodes};
        std::int64_t live_first = -1;
        if (opts_.fail_local && live_due) {
            live_first = static_cast<std::int64_t>(next / 8);
            for (auto& w : keys.live_windows(now, seen_window_ms, abandon_ms)) {
                view_keys.push_back(std::move(w));
            }
        }
        client_->eval(view_script(), view_keys,
                      {std::to_string(cursor), opts_.node_id, std::to_string(now), std::to_string(node_window_ms()),
                       std::to_string(live_first), std::to_string(live_first + live_map_bytes - 1)},
                      [this, slot, now, live_first](result res) { take_view(slot, res, now, live_first); });
    }

    void adopt_identity(const std::shared_ptr<room_slot>& slot, const result& res, bool was_known) {
        if (!res.ok() || res.reply.type != value::kind::array || res.reply.elements.size() != 4) {
            return;
        }
        const auto& e = res.reply.elements;
        std::vector<std::uint8_t> secret;
        if (e[0].type != value::kind::integer || e[1].type != value::kind::string || !from_hex(e[1].str, secret) ||
            secret.size() != 32) {
            return;
        }
        std::lock_guard lock(slot->mu);
        room_slot& r = *slot;
        const auto epoch = static_cast<std::uint32_t>(e[0].integer);
        if (e[3].type == value::kind::integer && e[3].integer > r.reseeded_at) {
            r.reseeded_at = e[3].integer;  // this node's re-seed, or another's
        }
        if (was_known && e[2].integer == 1) {
            ANTEROOM_LOG(log_level::error, "state",
                         "room " + r.cfg.id + ": Redis had lost the room's state (restarted without persistence?); "
                         "re-seeded it from this node: waiting visitors keep their places, admitted visitors "
                         "their passes (taken back in on their next request)");
        }
        if (r.identity_known && epoch == r.epoch) {
            return;
        }
        if (r.identity_known) {
            ANTEROOM_LOG(log_level::error, "state",
                         "room " + r.cfg.id + ": the room's identity in Redis changed; tickets of the old one are void");
            r.passes.clear();
            r.pending.clear();
            r.gone.clear();
            r.pending_cursor = 0;
            r.block_next = r.block_end = r.spare_next = r.spare_end = 0;
            r.block_first = r.spare_first = 0;
            r.retired_out.clear();
        }
        r.epoch = epoch;
        r.secret_hex = e[1].str;
        r.pass_key = std::make_unique<crypto::hmac_key>(secret);
        r.identity_known = true;
    }

    void flush(const std::shared_ptr<room_slot>& slot, const room_keys& keys, unix_ms abandon_ms,
               unix_ms max_session_ms, unix_ms now,
               const std::vector<std::uint64_t>& seen, const std::vector<std::uint64_t>& absent,
               const std::vector<claim_op>& claims,
               const std::unordered_map<std::uint64_t, std::pair<unix_ms, bool>>& touches,
               const std::vector<std::uint64_t>& ends, const std::vector<std::pair<std::uint64_t, unix_ms>>& bypass) {
        const std::string window_ttl = std::to_string(abandon_ms + seen_window_ms);
        for (std::size_t i = 0; i < seen.size(); i += seen_batch) {
            std::vector<std::string> args{window_ttl};
            for (std::size_t j = i; j < std::min(seen.size(), i + seen_batch); ++j) {
                args.push_back(std::to_string(seen[j]));
            }
            client_->eval(seen_script(), {keys.seen(now, seen_window_ms)}, args,
                          [slot, batch = std::vector<std::uint64_t>(seen.begin() + static_cast<std::ptrdiff_t>(i),
                                                                    seen.begin() + static_cast<std::ptrdiff_t>(
                                                                                       std::min(seen.size(), i + seen_batch)))](result res) {
                              if (!res.ok()) {  // kept for the next sync
                                  std::lock_guard lock(slot->mu);
                                  for (auto s : batch) {
                                      slot->see(s);
                                  }
                              }
                          });
        }
        if (!absent.empty()) {
            std::vector<std::string> args;
            for (auto s : absent) {
                args.push_back(std::to_string(s));
            }
            client_->eval(unsee_script(), keys.live_windows(now, seen_window_ms, abandon_ms), args,
                          [](result) {});
        }
        for (const auto& c : claims) {
            client_->eval(claim_script(), {keys.pending, keys.passes, keys.stats},
                          {std::to_string(c.seq), std::to_string(c.pass_id), std::to_string(c.expiry)},
                          [this, slot, c](result res) { claimed(slot, c, res); });
        }
        for (const auto& [id, t] : touches) {
            client_->eval(touch_script(), {keys.passes, keys.ended}, {std::to_string(id), std::to_string(t.first), t.second ? "1" : "0"},
                          [this, slot, id = id, t = t](result res) {
                              if (res.ok() && res.reply.type == value::kind::integer && res.reply.integer == 0) {
                                  std::lock_guard lock(slot->mu);
                                  const auto it = slot->passes.find(id);
                                  if (it == slot->passes.end()) {
                                      return;
                                  }
                                  // A young pass claimed on another node may not be in Redis
                                  // yet (that node's claim goes out with its next sync): asked
                                  // again next time. Otherwise it is over (idle, or ended on
                                  // another node).
                                  if (it->second.st != local_pass::state::active &&
                                      opts_.clock() - it->second.p.admitted_at < young_pass_ms()) {
                                      slot->touches_out.try_emplace(id, t);
                                  } else {
                                      it->second.st = local_pass::state::ended;
                                  }
                              } else if (res.ok()) {
                                  std::lock_guard lock(slot->mu);
                                  if (const auto it = slot->passes.find(id);
                                      it != slot->passes.end() && it->second.st == local_pass::state::unconfirmed) {
                                      it->second.st = local_pass::state::active;
                                  }
                              }
                          });
        }
        for (const auto id : ends) {
            client_->eval(end_script(), {keys.passes, keys.stats, keys.ended},
                          {std::to_string(id), std::to_string(now), std::to_string(now + max_session_ms)},
                          [slot, id](result res) {
                if (!res.ok()) {
                    std::lock_guard lock(slot->mu);
                    slot->ends_out.push_back(id);
                }
            });
        }
        for (const auto& [id, expiry] : bypass) {
            client_->eval(bypass_script(), {keys.passes, keys.stats}, {std::to_string(id), std::to_string(expiry)},
                          [slot, id = id, expiry = expiry](result res) {
                              if (!res.ok()) {
                                  std::lock_guard lock(slot->mu);
                                  slot->bypass_out.emplace_back(id, expiry);
                              }
                          });
        }
    }

    void claimed(const std::shared_ptr<room_slot>& slot, const claim_op& c, const result& res) {
        std::lock_guard lock(slot->mu);
        room_slot& r = *slot;
        if (!res.ok() || res.reply.type != value::kind::integer) {
            if (c.probe) {
                r.probing.erase(c.seq);  // asked again on the next poll
            } else {
                r.claims_out.push_back(c);
            }
            return;
        }
        const unix_ms now = opts_.clock();
        // After a re-seed Redis has forgotten admissions made before it: the place counts as
        // admitted (the pass goes in with its first touch).
        const bool exists = res.reply.integer == 1 || r.recovering(now);
        if (c.probe) {
            r.probing.erase(c.seq);
            if (exists) {
                // Admitted_at is not shared: the pass starts its maximum duration here.
                r.passes.emplace(c.pass_id, local_pass{pass{r.cfg.id, c.pass_id, now, now + r.cfg.session_max_duration.count(),
                                                            0, c.seq},
                                                       now, local_pass::state::active});
            } else if (r.gone.size() < max_gone) {
                r.gone.insert(c.seq);
            }
            return;
        }
        if (const auto it = r.passes.find(c.pass_id); it != r.passes.end() && !exists) {
            it->second.st = local_pass::state::ended;  // the claim window had closed in Redis
        }
    }

    void take_view(const std::shared_ptr<room_slot>& slot, const result& res, unix_ms now, std::int64_t live_first) {
        slot->sync_in_flight = false;
        if (!res.ok() || res.reply.type != value::kind::array || res.reply.elements.size() != 8) {
            sync_failures_.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        const auto& e = res.reply.elements;
        std::lock_guard lock(slot->mu);
        room_slot& r = *slot;
        if (!r.identity_known) {
            return;
        }
        if (r.alone) {
            // Back from going alone: the serving position is Redis's again (places the local one
            // had passed but nobody admitted wait with their numbers); the passes given alone go
            // into Redis with their next touch, the places they came from are marked not live.
            r.alone = false;
            r.alone_seq = 0;
            r.alone_passes.clear();
            ANTEROOM_LOG(log_level::info, "state",
                         "room " + r.cfg.id + ": Redis is back; " + std::to_string(r.alone_admitted) +
                             " visitors were admitted here alone");
        }
        if (live_first >= 0 && e[7].type == value::kind::string) {
            r.live_from = static_cast<std::uint64_t>(live_first) * 8;
            r.live_to = std::min<std::uint64_t>(r.live_from + 8 * live_map_bytes,
                                                static_cast<std::uint64_t>(std::max<std::int64_t>(0, e[1].integer)) + 1);
            r.live_map = e[7].str;
            r.live_at = now;
        }
        if (e[5].type == value::kind::integer && e[6].type == value::kind::integer && e[5].integer > 0) {
            r.nodes = static_cast<std::uint32_t>(std::min<std::int64_t>(e[5].integer, 256));
            r.node_index = static_cast<std::uint32_t>(std::clamp<std::int64_t>(e[6].integer, 0, r.nodes - 1));
        }
        r.next = static_cast<std::uint64_t>(std::max<std::int64_t>(1, e[0].integer));
        r.issued = std::max(r.issued, static_cast<std::uint64_t>(std::max<std::int64_t>(0, e[1].integer)));
        r.active = static_cast<std::uint64_t>(std::max<std::int64_t>(0, e[2].integer));
        r.bypass_since_sync = r.bypass_out.size();
        {
            // Bypass passes until the next view: this node's part of the places free now, less
            // what the other nodes may have granted since their last sync (not in this view
            // yet; taken as this node's own last share each), split exactly among the N nodes
            // by index. Nodes granting at once then stay within the cap but for views that
            // disagree (docs/shared-state.md, "Bounded overshoot").
            const std::uint64_t n = std::max<std::uint32_t>(1, r.nodes), cap = r.settings.max_active_users;
            const std::uint64_t used = r.active + r.bypass_since_sync + (n - 1) * r.bypass_share;
            const std::uint64_t left = cap > used ? cap - used : 0;
            // The odd places go to other indexes every second, so a node is not left out for long.
            r.bypass_share = left / n + ((r.node_index + static_cast<std::uint64_t>(now / 1000)) % n < left % n ? 1 : 0);
            r.bypass_this_view = 0;
        }
        const auto& st = e[3].elements;
        std::uint64_t* fields[] = {&r.admitted, &r.skipped, &r.unclaimed, &r.expired, &r.bypassed, &r.ended};
        for (std::size_t i = 0; i < st.size() && i < std::size(fields); ++i) {
            *fields[i] = static_cast<std::uint64_t>(std::max<std::int64_t>(0, st[i].integer));
        }
        const auto& pend = e[4].elements;
        for (std::size_t i = 0; i + 1 < pend.size(); i += 2) {
            std::uint64_t seq = 0;
            std::int64_t deadline = 0;
            const auto& a = pend[i].str;
            const auto& b = pend[i + 1].str;
            if (std::from_chars(a.data(), a.data() + a.size(), seq).ec != std::errc{} ||
                std::from_chars(b.data(), b.data() + b.size(), deadline).ec != std::errc{}) {
                continue;
            }
            if (!r.passes.contains(r.pass_id_for(seq))) {
                r.pending[seq] = deadline;
            }
            r.pending_cursor = std::max(r.pending_cursor, deadline);
        }
        std::erase_if(r.pending, [&](const auto& p) { return p.second <= now; });
        std::erase_if(r.passes, [&](const auto& p) {
            return p.second.p.expires_at <= now || now - p.second.touched_at > r.cfg.session_idle_timeout.count() + 60'000;
        });
        if (r.gone.size() >= max_gone) {
            r.gone.clear();
        }
        r.outflow.emplace_back(now, r.admitted + r.bypassed);
        while (r.outflow.size() > 2 && now - r.outflow.front().first > 120'000) {
            r.outflow.pop_front();
        }
        r.synced_at = now;
    }

    shared_store_options opts_;
    net::io_context io_;
    net::steady_timer sync_timer_;
    net::executor_work_guard<net::io_context::executor_type> work_;
    std::shared_ptr<client> client_;
    std::shared_ptr<settings_sync> settings_;
    std::thread thread_;
    bool stopping_ = false;

    mutable std::shared_mutex map_mu_;
    std::map<std::string, std::shared_ptr<room_slot>, std::less<>> rooms_;

    std::atomic<std::uint64_t> sync_failures_{0};
    std::atomic<std::uint64_t> tickets_refused_{0};
};

}  // namespace

std::unique_ptr<admission::queue_store> make_shared_store(shared_store_options o) {
    return std::make_unique<shared_store>(std::move(o));
}

}  // namespace anteroom::redis
