// The serving flow of room_controller: passes, the token bucket, skipping, claim windows,
// outflow measurement, inventory and figures. (Tickets, polls, ETAs and the pre-queue shuffle
// are in room_controller.cpp.)

#include <algorithm>

#include "admission/room_controller.hpp"

namespace anteroom::admission {
namespace {

constexpr std::uint64_t skip_budget = 1u << 16;  // skips per tick (amortised over ticks)
constexpr std::uint64_t random_probes = 64;
constexpr std::uint64_t random_scan = 4096;
constexpr unix_ms min_claim_window_ms = 30'000;
constexpr unix_ms sweep_interval_ms = 1'000;

unix_ms claim_window_ms(const place& p) {
    return std::max(min_claim_window_ms, unix_ms{2} * p.refresh_told_s() * 1000);
}

}  // namespace

// ---- passes --------------------------------------------------------------------------------

pass_status room_controller::touch(const pass& p, unix_ms now) {
    see(now);
    auto it = passes_.find(p.pass_id);
    if (it != passes_.end()) {
        pass_entry& e = it->second;
        if (e.admitted_at != p.admitted_at) {
            return pass_status::ended;
        }
        if (now >= e.expires_at) {
            end_entry(it, ended_max_);
            return pass_status::ended;
        }
        if (now - e.last_seen > cfg_.session_idle_timeout.count()) {
            end_entry(it, ended_idle_);
            return pass_status::ended;
        }
        e.last_seen = now;
        return pass_status::active;
    }
    // A pass admitted after the restored snapshot was written and before the crash: signed, so
    // genuine; re-create it once (its place is still waiting, ghost or pending here).
    const bool lost_window = restored_snapshot_at_ != 0 && p.admitted_at >= restored_snapshot_at_ &&
                             p.admitted_at < resumed_at_ && now < p.expires_at;
    if (!lost_window) {
        return pass_status::ended;
    }
    if (p.ticket_seq != 0) {
        if (p.pass_id != pass_id_for(p.ticket_seq) || p.ticket_seq > issued_) {
            return pass_status::ended;
        }
        const std::uint64_t q = queue_index(p.ticket_seq);
        if (q < ring_.begin()) {
            return pass_status::ended;
        }
        place& pl = ring_.at(q);
        switch (pl.state()) {
            case place_state::waiting:
                --waiting_;
                break;
            case place_state::pending:
                --pending_count_;
                break;
            case place_state::ghost:
                ghost_resolved();
                break;
            case place_state::claimed:
            case place_state::skipped:
                return pass_status::ended;
        }
        pl.set_state(place_state::claimed);
        resolve_front();
    } else if (std::find(revived_bypass_ended_.begin(), revived_bypass_ended_.end(), p.pass_id) !=
               revived_bypass_ended_.end()) {
        return pass_status::ended;
    }
    passes_[p.pass_id] = pass_entry{p.admitted_at, p.expires_at, now, p.binding, p.ticket_seq};
    return pass_status::active;
}

void room_controller::end(std::uint64_t pass_id, unix_ms now) {
    see(now);
    const auto it = passes_.find(pass_id);
    if (it != passes_.end()) {
        end_entry(it, ended_session_end_);
    }
}

std::unordered_map<std::uint64_t, room_controller::pass_entry>::iterator room_controller::end_entry(
    std::unordered_map<std::uint64_t, pass_entry>::iterator it, std::uint64_t& counter) {
    const pass_entry& e = it->second;
    if (e.seq == 0 && restored_snapshot_at_ != 0 && e.admitted_at >= restored_snapshot_at_ &&
        e.admitted_at < resumed_at_) {
        revived_bypass_ended_.push_back(it->first);  // at most the bypasses of one snapshot interval
    }
    ++counter;
    return passes_.erase(it);
}

std::optional<pass> room_controller::bypass(std::uint64_t binding, unix_ms now) {
    see(now);
    if (active() >= settings_.max_active_users) {
        return std::nullopt;
    }
    std::uint64_t id = 0;
    do {
        id = derive_id('b', ++bypass_counter_);
    } while (passes_.contains(id));
    const pass_entry e{now, now + cfg_.session_max_duration.count(), now, binding, 0};
    passes_.emplace(id, e);
    ++bypass_total_;
    ++admitted_total_;
    return make_pass(id, e);
}

// ---- the serving flow ------------------------------------------------------------------------

void room_controller::tick(unix_ms now) {
    see(now);
    ensure_started(now);
    if (now - swept_at_ >= sweep_interval_ms || now < swept_at_) {
        expire(now);
        swept_at_ = now;
    }
    const unix_ms dt = std::clamp<unix_ms>(now - refilled_at_, 0, 60'000);
    tokens_ = std::min(bucket_capacity(), tokens_ + dt * settings_.new_users_per_minute);
    refilled_at_ = std::max(refilled_at_, now);
    if (admission_open(now)) {
        if (waiting_ > 0) {
            count_busy(now, dt);
        }
        if (settings_.mode == room_mode::random) {
            admit_random(now);
        } else {
            admit_fifo(now);
        }
    }
    resolve_front();
    ring_.release_before(front_);
    if (!rank_of_.empty() && front_ > prequeue_count_) {
        rank_of_ = {};
    }
    if (has_liveness_floor_ && serial_age(secs(now), liveness_floor_s_) > cfg_.abandon_after.count() / 1000) {
        has_liveness_floor_ = false;
    }
}

bool room_controller::admission_open(unix_ms now) const {
    return (settings_.mode == room_mode::fifo || settings_.mode == room_mode::random) &&
           phase_at(now) == phase::open && !(available_ && *available_ <= 0);
}

bool room_controller::may_admit_one() const {
    const std::uint64_t act = active();
    return act < settings_.max_active_users && (!available_ || static_cast<std::int64_t>(act) < *available_);
}

void room_controller::admit_fifo(unix_ms now) {
    next_ = std::max(next_, front_);
    std::uint64_t budget = skip_budget;
    while (next_ < ring_.end() && tokens_ >= token_units && budget > 0 && may_admit_one()) {
        place& p = ring_.at(next_);
        const place_state st = p.state();
        if (st == place_state::waiting) {
            if (reach(next_, now)) {
                tokens_ -= token_units;
            } else {
                --budget;
            }
        } else if (st == place_state::ghost) {
            p.set_state(place_state::skipped);  // a reserved number nobody showed up with
            ghost_resolved();
            --budget;
        }
        ++next_;
    }
}

void room_controller::admit_random(unix_ms now) {
    while (tokens_ >= token_units && waiting_ > 0 && may_admit_one()) {
        resolve_front();
        const std::uint64_t window = ring_.end() - front_;
        if (window == 0) {
            return;
        }
        // Uniform among live waiting places by rejection sampling; a bounded scan when they
        // have become sparse. Every dead place met on the way is skipped for good.
        const auto try_at = [&](std::uint64_t q) {
            place& p = ring_.at(q);
            const place_state st = p.state();
            if (st == place_state::ghost) {
                p.set_state(place_state::skipped);
                ghost_resolved();
                return false;
            }
            return st == place_state::waiting && reach(q, now);
        };
        bool found = false;
        for (std::uint64_t i = 0; i < random_probes && !found && waiting_ > 0; ++i) {
            found = try_at(front_ + next_random() % window);
        }
        const std::uint64_t start = next_random() % window;
        for (std::uint64_t i = 0; i < std::min(window, random_scan) && !found && waiting_ > 0; ++i) {
            found = try_at(front_ + (start + i) % window);
        }
        if (!found) {
            return;
        }
        tokens_ -= token_units;
    }
}

bool room_controller::reach(std::uint64_t q, unix_ms now) {
    place& p = ring_.at(q);
    --waiting_;
    if (live(p, secs(now))) {
        p.set_state(place_state::pending);
        ++pending_count_;
        pending_.push_back({q, now + claim_window_ms(p)});
        ++admitted_total_;
        if (p.promised() != 0) {
            // On the 28-bit circle: the promise is not behind now when it is less than half the
            // circle ahead.
            const bool kept = ((p.promised() - secs(now)) & place::time_mask) < (1u << 27);
            ++(kept ? eta_kept_total_ : eta_missed_total_);
        }
        count_outflow(now, true);
        return true;
    }
    p.set_state(place_state::skipped);
    ++skipped_total_;
    count_outflow(now, false);
    return false;
}

void room_controller::resolve_front() {
    while (front_ < ring_.end() && !ring_.at(front_).unresolved()) {
        ++front_;
    }
}

void room_controller::expire(unix_ms now) {
    for (auto it = passes_.begin(); it != passes_.end();) {
        if (now >= it->second.expires_at) {
            it = end_entry(it, ended_max_);
        } else if (now - it->second.last_seen > cfg_.session_idle_timeout.count()) {
            it = end_entry(it, ended_idle_);
        } else {
            ++it;
        }
    }
    std::erase_if(pending_, [&](const pending_entry& e) {
        if (e.q < ring_.begin()) {
            // Claimed since the last sweep, and the queue's front has moved past it so far that
            // its block of places is freed: nothing to read, the entry just goes.
            returned_.erase(e.q);
            return true;
        }
        place& p = ring_.at(e.q);
        if (p.state() != place_state::pending) {
            returned_.erase(e.q);
            return true;  // claimed meanwhile
        }
        if (now < e.deadline) {
            return false;
        }
        p.set_state(place_state::skipped);
        --pending_count_;
        ++skipped_total_;
        ++unclaimed_total_;
        returned_.erase(e.q);
        return true;
    });
}

// ---- outflow measurement ---------------------------------------------------------------------

room_controller::outflow_bucket& room_controller::bucket_at(unix_ms now) {
    const std::int64_t no = now / outflow_bucket_ms;
    outflow_bucket& b = outflow_[static_cast<std::size_t>(no % static_cast<std::int64_t>(outflow_buckets))];
    if (b.no != no) {
        b = outflow_bucket{no, 0, 0, 0};
    }
    return b;
}

void room_controller::count_outflow(unix_ms now, bool admitted) {
    outflow_bucket& b = bucket_at(now);
    b.admitted += admitted ? 1 : 0;
    b.resolved += 1;
}

void room_controller::count_busy(unix_ms now, unix_ms dt) { bucket_at(now).busy_ms += static_cast<std::uint32_t>(dt); }

room_controller::outflow_sum room_controller::recent_outflow(unix_ms now) const {
    const std::int64_t cur = now / outflow_bucket_ms;
    outflow_sum s;
    for (const auto& b : outflow_) {
        if (b.no <= cur && b.no > cur - static_cast<std::int64_t>(outflow_buckets)) {
            s.admitted += b.admitted;
            s.resolved += b.resolved;
            s.busy_ms += b.busy_ms;
        }
    }
    return s;
}

// Admissions per second while somebody was waiting, never above the configured rate (a rate
// cut shows at once); the configured rate until 30 s of history exist.
double room_controller::admission_rate(unix_ms now) const {
    const double configured = settings_.new_users_per_minute / 60.0;
    const outflow_sum s = recent_outflow(now);
    if (s.busy_ms < 30'000) {
        return configured;
    }
    const double measured = static_cast<double>(std::max<std::uint64_t>(s.admitted, 1)) * 1000.0 /
                            static_cast<double>(s.busy_ms);
    return std::min(measured, configured);
}

// Places passed per second (admitted or skipped): how fast the line moves, for the low bound.
double room_controller::advance_rate(unix_ms now) const {
    const outflow_sum s = recent_outflow(now);
    if (s.busy_ms < 30'000) {
        return 0;
    }
    return static_cast<double>(s.resolved) * 1000.0 / static_cast<double>(s.busy_ms);
}

// ---- inventory, figures, fairness ------------------------------------------------------------

void room_controller::set_capacity(std::optional<std::int64_t> available, std::optional<unix_ms> next_at,
                                   unix_ms now) {
    see(now);
    const bool was = available_ && *available_ <= 0;
    available_ = available;
    next_capacity_at_ = next_at;
    if (was != (available_ && *available_ <= 0)) {
        mark_slowdown(now, false);
    }
}

room_state room_controller::arrival_state(unix_ms now) const {
    switch (settings_.mode) {
        case room_mode::reject:
            return room_state::closed;
        case room_mode::passthrough:
            return room_state::admitted;
        default:
            break;
    }
    switch (phase_at(now)) {
        case phase::closed:
            return room_state::closed;
        case phase::prequeue:
            return room_state::prequeue;
        case phase::open:
            break;
    }
    if (settings_.mode == room_mode::paused) {
        return room_state::paused;
    }
    return available_ && *available_ <= 0 ? room_state::sold_out : room_state::queued;
}

room_figures room_controller::figures(unix_ms now) const {
    room_figures f;
    f.id = cfg_.id;
    f.epoch = ident_.epoch;
    f.settings = settings_;
    f.state = arrival_state(now);
    f.issued = issued_;
    f.waiting = waiting_;
    f.active = active();
    f.admitted_total = admitted_total_;
    f.bypass_total = bypass_total_;
    f.eta_kept_total = eta_kept_total_;
    f.eta_missed_total = eta_missed_total_;
    f.skipped_total = skipped_total_;
    f.unclaimed_total = unclaimed_total_;
    f.returned_total = returned_total_;
    f.ended_idle = ended_idle_;
    f.ended_max = ended_max_;
    f.ended_session_end = ended_session_end_;
    const outflow_sum s = recent_outflow(now);
    // The window: from the start of the oldest bucket counted (or since measuring began) to now.
    const unix_ms window_start = (now / outflow_bucket_ms - static_cast<unix_ms>(outflow_buckets) + 1) * outflow_bucket_ms;
    const unix_ms covered = std::max<unix_ms>(10'000, now - std::max(window_start, measured_since_));
    f.outflow_per_minute = static_cast<double>(s.admitted) * 60'000.0 / static_cast<double>(covered);
    f.available = available_;
    f.sold_out = available_ && *available_ <= 0;
    return f;
}

fairness_info room_controller::fairness(unix_ms now) const {
    fairness_info f;
    f.has_event = cfg_.event.starts.has_value();
    f.commitment_hex = crypto::to_hex(crypto::sha256(ident_.seed));
    f.starts_at = cfg_.event.starts;
    if (shuffled_) {
        f.seed_hex = crypto::to_hex(ident_.seed);
        f.prequeue_count = prequeue_count_;
    } else if (cfg_.event.starts && now >= *cfg_.event.starts) {
        // The next tick shuffles exactly these (nothing can join the pre-queue any more).
        f.seed_hex = crypto::to_hex(ident_.seed);
        f.prequeue_count = (front_ == 1 && next_ == 1 && ring_.begin() == 1) ? issued_ : 0;
    }
    return f;
}

std::size_t room_controller::memory_bytes() const {
    const std::size_t pass_node = sizeof(std::pair<const std::uint64_t, pass_entry>) + 2 * sizeof(void*);
    return sizeof(*this) + ring_.memory_bytes() + rank_of_.capacity() * sizeof(std::uint32_t) +
           pending_.capacity() * sizeof(pending_entry) + passes_.bucket_count() * sizeof(void*) +
           passes_.size() * pass_node + revived_bypass_ended_.capacity() * sizeof(std::uint64_t) +
           returned_.bucket_count() * sizeof(void*) + returned_.size() * (sizeof(std::uint64_t) + 2 * sizeof(void*));
}

}  // namespace anteroom::admission
