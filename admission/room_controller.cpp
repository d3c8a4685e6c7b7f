#include "admission/room_controller.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace anteroom::admission {
namespace {

constexpr std::uint32_t time_mask = place::time_mask;
constexpr std::uint32_t half_range = 1u << 27;
constexpr std::int64_t max_eta_s = std::int64_t{1} << 26;  // keeps promises inside the serial range
constexpr std::uint32_t first_poll_margin_s = 10;
constexpr std::uint32_t first_poll_min_s = 60;
constexpr std::uint64_t max_unresolved = std::uint64_t{1} << 26;  // 512 MiB of places per room
constexpr unix_ms resume_claim_window_ms = 120'000;

void put_be64(std::uint8_t* out, std::uint64_t v) {
    for (int i = 7; i >= 0; --i) {
        out[i] = static_cast<std::uint8_t>(v);
        v >>= 8;
    }
}
std::uint64_t get_be64(const std::uint8_t* in) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
        v = (v << 8) | in[i];
    }
    return v;
}

std::uint64_t derive_id(const crypto::hmac_key& key, char tag, std::uint64_t n) {
    std::array<std::uint8_t, 9> msg{};
    msg[0] = static_cast<std::uint8_t>(tag);
    put_be64(msg.data() + 1, n);
    const std::uint64_t v = get_be64(key.sign(msg).data());
    return v == 0 ? 1 : v;
}

}  // namespace

std::uint64_t pass_id_for(const crypto::hmac_key& pass_key, std::uint64_t seq) {
    return derive_id(pass_key, 'p', seq);
}

std::uint32_t refresh_class_for(std::int64_t eta_low_s) {
    const std::int64_t cls = (eta_low_s / 10 + 4) / 5;
    return static_cast<std::uint32_t>(std::clamp<std::int64_t>(cls, 1, 12));
}

eta_range fifo_eta(std::uint64_t ahead, double admit_per_s, double advance_per_s) {
    return {static_cast<std::int64_t>(static_cast<double>(ahead) / advance_per_s * 0.9),
            static_cast<std::int64_t>(std::ceil(static_cast<double>(ahead + 1) / admit_per_s * 1.2)) + 15};
}

bool make_room_identity(unix_ms now, room_identity& out) {
    std::array<std::uint8_t, 4> e{};
    do {
        if (!crypto::random_bytes(e)) {
            return false;
        }
        std::memcpy(&out.epoch, e.data(), e.size());
    } while (out.epoch == 0);
    out.created_at = now;
    return crypto::random_bytes(out.seed) && crypto::random_bytes(out.pass_secret);
}

// ---- place_ring ----------------------------------------------------------------------------

void place_ring::grow() {
    blocks_.push_back(std::make_unique_for_overwrite<place[]>(block_places));
    tail_ = blocks_.back().get();
    tail_fill_ = 0;
}

void place_ring::release_before(std::uint64_t q) {
    std::size_t drop = 0;
    while (drop < blocks_.size() && q >= begin_ + block_places && end_ >= begin_ + block_places) {
        ++drop;
        begin_ += block_places;
    }
    if (drop == blocks_.size()) {
        tail_ = nullptr;
        tail_fill_ = block_places;
    }
    blocks_.erase(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(drop));
}

void place_ring::reset(std::uint64_t first_q) {
    blocks_.clear();
    tail_ = nullptr;
    tail_fill_ = block_places;
    begin_ = ((first_q - 1) >> block_shift << block_shift) + 1;
    end_ = begin_;
}

std::size_t place_ring::memory_bytes() const {
    return blocks_.size() * block_places * sizeof(place) + blocks_.capacity() * sizeof(std::unique_ptr<place[]>);
}

// ---- room_controller: construction and configuration ---------------------------------------

room_controller::room_controller(const room_config& cfg, const room_identity& identity, unix_ms now)
    : cfg_(cfg),
      ident_(identity),
      pass_key_(identity.pass_secret),
      settings_{cfg.mode, std::max<std::uint32_t>(1, cfg.new_users_per_minute),
                std::max<std::uint32_t>(1, cfg.max_active_users)},
      baseline_(settings_),
      refilled_at_(now),
      swept_at_(now),
      measured_since_(now),
      last_now_(now) {
    rng_ = derive_id('r', 0);
}

bool room_controller::reconfigure(const room_config& cfg, unix_ms now) {
    see(now);
    const room_settings fresh{cfg.mode, std::max<std::uint32_t>(1, cfg.new_users_per_minute),
                              std::max<std::uint32_t>(1, cfg.max_active_users)};
    cfg_ = cfg;
    if (fresh.mode == baseline_.mode && fresh.new_users_per_minute == baseline_.new_users_per_minute &&
        fresh.max_active_users == baseline_.max_active_users) {
        return false;
    }
    baseline_ = fresh;
    update({fresh.mode, fresh.new_users_per_minute, fresh.max_active_users}, now);
    return true;
}

void room_controller::update(const settings_patch& patch, unix_ms now) {
    see(now);
    const room_settings old = settings_;
    if (patch.mode) {
        settings_.mode = *patch.mode;
    }
    if (patch.new_users_per_minute) {
        settings_.new_users_per_minute = std::max<std::uint32_t>(1, *patch.new_users_per_minute);
    }
    if (patch.max_active_users) {
        settings_.max_active_users = std::max<std::uint32_t>(1, *patch.max_active_users);
    }
    if ((old.mode == room_mode::paused) != (settings_.mode == room_mode::paused)) {
        mark_slowdown(now, true);
    } else if (settings_.new_users_per_minute < old.new_users_per_minute ||
               settings_.max_active_users < old.max_active_users) {
        mark_slowdown(now, false);
    }
    tokens_ = std::min(tokens_, bucket_capacity());
}

void room_controller::resume(unix_ms now) {
    needs_resume_ = false;
    last_now_ = std::max(last_now_, now);
    resumed_at_ = now;
    liveness_floor_s_ = secs(now);
    has_liveness_floor_ = true;
    for (auto& [id, e] : passes_) {
        e.last_seen = std::max(e.last_seen, now);
    }
    for (auto& e : pending_) {
        e.deadline = std::max(e.deadline, now + resume_claim_window_ms);
    }
    refilled_at_ = now;
    swept_at_ = now;
}

void room_controller::mark_slowdown(unix_ms now, bool paused) {
    slowdown_at_ = now;
    slowdown_paused_ = paused;
}

void room_controller::see(unix_ms now) {
    if (needs_resume_) {
        resume(now);  // restored and used before configure(): resume at the first use
    }
    last_now_ = std::max(last_now_, now);
}

std::uint32_t room_controller::secs(unix_ms now) const {
    const unix_ms rel = std::max<unix_ms>(0, now - ident_.created_at);
    return static_cast<std::uint32_t>(rel / 1000) & time_mask;
}

bool room_controller::live(const place& p, std::uint32_t now_s) const {
    const auto limit = static_cast<std::uint32_t>(std::max<std::int64_t>(0, cfg_.abandon_after.count() / 1000));
    const std::uint32_t age = serial_age(now_s, p.seen());
    if (age <= limit && (!p.unconfirmed() || age <= first_poll_limit_s(p))) {
        return true;
    }
    return has_liveness_floor_ && serial_age(now_s, liveness_floor_s_) <= limit;
}

// A page polls first after the refresh it was told (±20 % jitter; a hidden desktop tab still
// runs its timers for minutes): twice that plus a margin, and at least a minute for a phone
// locked right after the page loaded. Within abandon_after.
std::uint32_t room_controller::first_poll_limit_s(const place& p) {
    return std::max(first_poll_min_s, 2 * p.refresh_told_s() + first_poll_margin_s);
}

// ---- event phases and the pre-queue shuffle --------------------------------------------------

room_controller::phase room_controller::phase_at(unix_ms now) const {
    if (shuffled_) {
        return phase::open;
    }
    if (cfg_.event.prequeue_opens && now < *cfg_.event.prequeue_opens) {
        return phase::closed;
    }
    if (cfg_.event.starts && now < *cfg_.event.starts) {
        return phase::prequeue;
    }
    return phase::open;
}

void room_controller::ensure_started(unix_ms now) {
    if (!shuffled_ && cfg_.event.starts && now >= *cfg_.event.starts) {
        shuffle_prequeue();
        shuffled_ = true;
    }
}

// Position of ticket s among 1..P = rank of HMAC-SHA256(seed, be64(s)) in ascending byte order
// (ties broken by s), as fairness_info documents. Sorting 8-byte prefixes is enough; equal
// prefixes fall back to the whole digest.
void room_controller::shuffle_prequeue() {
    if (front_ != 1 || next_ != 1 || ring_.begin() != 1 || issued_ == 0 ||
        issued_ > std::numeric_limits<std::uint32_t>::max()) {
        prequeue_count_ = 0;  // places were served before the event was configured: stay FIFO
        return;
    }
    const crypto::hmac_key key(ident_.seed);
    const auto digest_of = [&key](std::uint64_t s) {
        std::array<std::uint8_t, 8> msg{};
        put_be64(msg.data(), s);
        return key.sign(msg);
    };
    struct entry {
        std::uint64_t prefix;
        std::uint32_t seq;
    };
    const std::uint64_t count = issued_;
    std::vector<entry> order(count);
    for (std::uint64_t s = 1; s <= count; ++s) {
        order[s - 1] = {get_be64(digest_of(s).data()), static_cast<std::uint32_t>(s)};
    }
    std::sort(order.begin(), order.end(), [&](const entry& a, const entry& b) {
        if (a.prefix != b.prefix) {
            return a.prefix < b.prefix;
        }
        const auto da = digest_of(a.seq);
        const auto db = digest_of(b.seq);
        return da != db ? da < db : a.seq < b.seq;
    });
    std::vector<place> by_seq(count);
    for (std::uint64_t s = 1; s <= count; ++s) {
        by_seq[s - 1] = ring_.at(s);
    }
    rank_of_.assign(count, 0);
    for (std::uint64_t r = 0; r < count; ++r) {
        const std::uint32_t s = order[r].seq;
        ring_.at(r + 1) = by_seq[s - 1];
        rank_of_[s - 1] = static_cast<std::uint32_t>(r + 1);
    }
    prequeue_count_ = count;
}

std::uint64_t room_controller::queue_index(std::uint64_t seq) const {
    if (shuffled_ && seq <= prequeue_count_) {
        return rank_of_.empty() ? 0 : rank_of_[seq - 1];  // empty: every pre-queue place is resolved
    }
    return seq;
}

// ---- tickets and polls -----------------------------------------------------------------------

std::optional<ticket> room_controller::issue(std::uint64_t binding, unix_ms now) {
    see(now);
    ensure_started(now);
    if (settings_.mode == room_mode::reject || settings_.mode == room_mode::passthrough) {
        return std::nullopt;
    }
    const phase ph = phase_at(now);
    if (ph == phase::closed || issued_ + 1 - front_ >= max_unresolved) {
        return std::nullopt;
    }
    place p{};
    p.set_seen(secs(now));
    p.set_unconfirmed(true);
    ring_.push_back(p);
    ++issued_;
    ++waiting_;
    // Braces, not std::in_place: clang 14 (the fuzz build) lacks C++20 parenthesised aggregate init.
    return ticket{cfg_.id, issued_, now, binding,
                  static_cast<std::uint8_t>(ph == phase::prequeue ? ticket_flag_prequeue : 0), ident_.epoch};
}

void room_controller::mark_absent(const ticket& t, unix_ms now) {
    if (t.epoch != ident_.epoch || t.seq == 0 || t.seq > issued_) {
        return;
    }
    const std::uint64_t q = queue_index(t.seq);
    if (q < ring_.begin() || q >= ring_.end()) {
        return;
    }
    place& p = ring_.at(q);
    if (p.state() == place_state::pending) {
        if (returned_.insert(q).second) {
            tokens_ = std::min(bucket_capacity(), tokens_ + token_units);
            ++returned_total_;
        }
        return;
    }
    if (p.state() != place_state::waiting) {
        return;
    }
    // Last seen longer ago than abandon_after (and than any liveness floor): not live.
    const auto limit = static_cast<std::uint32_t>(std::max<std::int64_t>(0, cfg_.abandon_after.count() / 1000));
    p.set_seen(secs(now) - limit - 1);  // (after a restart the liveness floor still wins for a while)
}

wait_info room_controller::poll(const ticket& t, unix_ms now) {
    see(now);
    ensure_started(now);
    wait_info w;
    w.updated_at = now;
    if (t.epoch != ident_.epoch || t.seq == 0 || t.seq > issued_) {
        w.revoked = true;
        return w;
    }
    if (settings_.mode == room_mode::reject) {
        w.state = room_state::closed;
        return w;
    }
    if (settings_.mode == room_mode::passthrough) {
        w.state = room_state::admitted;
        return w;
    }
    const phase ph = phase_at(now);
    if (ph == phase::closed) {
        w.state = room_state::closed;
        return w;
    }
    const std::uint64_t q = queue_index(t.seq);
    if (q < ring_.begin()) {
        return admitted_or_revoked(t, now);
    }
    place& p = ring_.at(q);
    switch (p.state()) {
        case place_state::ghost:
            p.set_state(place_state::waiting);
            ++waiting_;
            ghost_resolved();
            [[fallthrough]];
        case place_state::waiting:
            if (now - t.issued_at >= 1'000) {
                p.set_unconfirmed(false);  // back with the ticket after the issuing request
            }
            break;
        case place_state::pending:
            return claim(q, t, now);
        case place_state::claimed:
            return admitted_or_revoked(t, now);
        case place_state::skipped:
            w.revoked = true;
            return w;
    }
    if (ph == phase::prequeue) {
        p.set_seen(secs(now));
        w.state = room_state::prequeue;
        w.position = 0;
        w.starts_at = cfg_.event.starts;
        const std::int64_t to_start = (*cfg_.event.starts - now) / 1000;
        // Spread the polls that land right after `starts` over a few seconds.
        w.refresh_after_seconds =
            static_cast<std::uint32_t>(std::clamp<std::int64_t>(to_start / 10, 5, 60) + t.seq % 5);
        return w;
    }
    return waiting_answer(p, q, now);
}

std::uint64_t room_controller::ghosts_ahead(std::uint64_t q) const {
    if (ghosts_ == 0 || q <= ghost_begin_) {
        return 0;
    }
    if (q >= ghost_end_) {
        return ghosts_;
    }
    // A ticket from inside the lease (handed out just before a crash): count, bounded.
    constexpr std::uint64_t max_scan = 1 << 16;
    std::uint64_t n = 0;
    const std::uint64_t from = std::max({next_, ghost_begin_, ring_.begin()});
    for (std::uint64_t x = from; x < q && x < from + max_scan; ++x) {
        n += ring_.at(x).state() == place_state::ghost ? 1 : 0;
    }
    return n;
}

void room_controller::count_ghosts() {
    ghosts_ = 0;
    ghost_begin_ = ghost_end_ = 0;
    for (std::uint64_t q = std::max(front_, ring_.begin()); q < ring_.end(); ++q) {
        if (ring_.at(q).state() == place_state::ghost) {
            ghost_begin_ = ghosts_ == 0 ? q : ghost_begin_;
            ghost_end_ = q + 1;
            ++ghosts_;
        }
    }
}

wait_info room_controller::waiting_answer(place& p, std::uint64_t q, unix_ms now) {
    wait_info w;
    w.updated_at = now;
    const std::uint32_t now_s = secs(now);
    const std::uint32_t prev_seen_age = serial_age(now_s, p.seen());
    p.set_seen(now_s);

    const double r_adm = admission_rate(now);
    const double r_adv = std::max(r_adm, advance_rate(now));
    std::int64_t low = 0;
    std::int64_t high = 0;
    if (settings_.mode == room_mode::random) {
        w.position = 0;
        w.ahead = waiting_ > 0 ? waiting_ - 1 : 0;
        high = static_cast<std::int64_t>(std::ceil(static_cast<double>(waiting_) / r_adm * 1.2)) + 15;
    } else {
        w.ahead = q >= next_ ? q - next_ : 0;
        w.ahead -= std::min(w.ahead, ghosts_ahead(q));
        w.position = w.ahead + 1;
        const eta_range eta = fifo_eta(w.ahead, r_adm, r_adv);
        low = eta.low;
        high = eta.high;
    }
    high = std::min(high, max_eta_s);
    low = std::min(low, high);
    const std::uint32_t cls = refresh_class_for(low);
    w.refresh_after_seconds = cls * 5;

    const bool sold_out = available_ && *available_ <= 0;
    if (settings_.mode == room_mode::paused || sold_out) {
        w.state = sold_out ? room_state::sold_out : room_state::paused;
        w.eta_note = settings_.mode == room_mode::paused ? "paused" : "";
        if (sold_out) {
            w.next_capacity_at = next_capacity_at_;
        }
        p.promise = (cls << 28) | p.promised();  // keep the old promise; a resume excuses it
        return w;
    }

    w.state = room_state::queued;
    if (p.promised() != 0) {
        const std::uint32_t ahead_of_now = (p.promised() - now_s) & time_mask;
        const std::int64_t remaining =
            ahead_of_now < half_range ? std::int64_t{ahead_of_now} : -std::int64_t{serial_age(now_s, p.promised())};
        const unix_ms prev_poll_ms = now - (std::int64_t{prev_seen_age} + 1) * 1000;
        const bool excused = slowdown_at_ > prev_poll_ms;
        if (high > remaining) {
            if (remaining >= 0 && !excused) {
                high = remaining;  // never later than promised under steady outflow
            } else {
                w.eta_note = excused && slowdown_paused_ ? "paused" : "slowed";
            }
        }
    }
    low = std::min(low, high);
    p.set_promise(now_s + static_cast<std::uint32_t>(high), cls);
    w.eta_low_seconds = low;
    w.eta_high_seconds = high;
    return w;
}

wait_info room_controller::claim(std::uint64_t q, const ticket& t, unix_ms now) {
    place& p = ring_.at(q);
    p.set_state(place_state::claimed);
    --pending_count_;
    if (returned_.erase(q) != 0) {
        tokens_ -= token_units;  // its admission had gone back to the rate: claimed after all, take it again
    }
    const pass_entry e{now, now + cfg_.session_max_duration.count(), now, t.binding, t.seq};
    const std::uint64_t id = pass_id_for(t.seq);
    passes_[id] = e;
    resolve_front();
    wait_info w;
    w.updated_at = now;
    w.state = room_state::admitted;
    w.admitted_pass = make_pass(id, e);
    return w;
}

wait_info room_controller::admitted_or_revoked(const ticket& t, unix_ms now) {
    wait_info w;
    w.updated_at = now;
    const auto it = passes_.find(pass_id_for(t.seq));
    if (it == passes_.end() || it->second.seq != t.seq) {
        w.revoked = true;
        return w;
    }
    if (touch(make_pass(it->first, it->second), now) != pass_status::active) {
        w.revoked = true;
        return w;
    }
    w.state = room_state::admitted;
    w.admitted_pass = make_pass(it->first, it->second);
    return w;
}

pass room_controller::make_pass(std::uint64_t pass_id, const pass_entry& e) const {
    return pass{cfg_.id, pass_id, e.admitted_at, e.expires_at, e.binding, e.seq};
}

std::uint64_t room_controller::derive_id(char tag, std::uint64_t n) const {
    return anteroom::admission::derive_id(pass_key_, tag, n);
}

std::uint64_t room_controller::pass_id_for(std::uint64_t seq) const { return admission::pass_id_for(pass_key_, seq); }

std::uint64_t room_controller::next_random() {
    // splitmix64; seeded from the room's secret, persisted with the room.
    std::uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

}  // namespace anteroom::admission
