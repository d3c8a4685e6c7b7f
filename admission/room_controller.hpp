#pragma once
// One room's admission state machine. Pure: time is an argument (unix ms), randomness comes
// from the room's identity (made once at creation), no threads, no I/O. The embedded store
// wraps one controller per room in a mutex; every request-path call here is O(1) amortised.
//
// Places live in a queue index space q = 1, 2, …: after the event starts, q ≤ P (the
// pre-queue count) holds the pre-queue tickets in shuffled order and q > P is the ticket with
// sequence number q (later arrivals queue FIFO behind the pre-queue). Without an event q = seq.
//
// Terms:
//   waiting   a place not yet reached (counted in `waiting`, may include leavers)
//   pending   reached and admitted, not yet claimed by a poll (counts as active; expires after
//             the claim window and then counts as skipped)
//   claimed   the visitor polled and got a pass (the pass lives in the pass table)
//   ghost     a sequence number reserved by the lease of a snapshot but maybe never handed out
//             (after a restart): skipped silently when reached unless its ticket shows up
//   unconfirmed  a waiting place whose holder has not polled since the request that issued it:
//             live only for twice the refresh it was told plus 10 s, at least 60 s (a client that keeps no
//             cookie takes a new place on every visit; those places would be admitted and never
//             claimed, and use up the rate)

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "admission/queue_store.hpp"
#include "admission/token.hpp"
#include "common/config.hpp"
#include "common/crypto.hpp"

namespace anteroom::admission {

// What a room gets once, when it is created fresh (random in production, fixed in tests).
struct room_identity {
    std::uint32_t epoch = 1;                     // never 0
    std::array<std::uint8_t, 32> seed{};         // pre-queue shuffle; revealed at `starts`
    std::array<std::uint8_t, 32> pass_secret{};  // pass ids and random-mode choices; never revealed
    unix_ms created_at = 0;                      // time base of the compact place records
};

// Fresh random identity (crypto::random_bytes). False when the system has no randomness.
bool make_room_identity(unix_ms now, room_identity& out);

// Shared with the Redis store (redis/shared_store), so both tell visitors the same things:
// The pass id the place with sequence number `seq` gets, under the room's pass key (derived
// from room_identity::pass_secret): every node holding the key computes the same id.
std::uint64_t pass_id_for(const crypto::hmac_key& pass_key, std::uint64_t seq);
// When a waiting visitor polls next, in classes of 5 s (1..12: 5 s near the front up to 60 s
// far back): a tenth of the expected wait, so a visitor polls about ten times before being
// reached.
std::uint32_t refresh_class_for(std::int64_t eta_low_s);
// Wait estimate in seconds for a FIFO place with `ahead` places in front, the line advancing at
// `advance_per_s` places a second of which `admit_per_s` are admitted (both > 0); not clamped.
struct eta_range {
    std::int64_t low = 0;
    std::int64_t high = 0;
};
eta_range fifo_eta(std::uint64_t ahead, double admit_per_s, double advance_per_s);

enum class place_state : std::uint8_t { waiting = 0, ghost = 1, pending = 2, claimed = 3, skipped = 4 };

// One place in line, 8 bytes. Times are seconds since the room's creation modulo 2^28
// (serial-number arithmetic; correct while an age is below 2^27 s ≈ 4 years, and a place lives
// at most ticket_max_age).
struct place {
    static constexpr std::uint32_t time_mask = (1u << 28) - 1;

    static constexpr std::uint32_t unconfirmed_bit = 1u << 31;

    // Trivial (no member initialisers), so a new block is not written twice; use place{}.
    std::uint32_t seen_state;  // bits 0..27: last seen; bits 28..30: place_state; bit 31: unconfirmed
    std::uint32_t promise;     // bits 0..27: promised latest admission (ETA high), 0 = none;
                                   // bits 28..31: refresh class told last (n × 5 s; 0 = never polled)

    place_state state() const { return static_cast<place_state>((seen_state >> 28) & 7); }
    void set_state(place_state s) {
        seen_state = (seen_state & (time_mask | unconfirmed_bit)) | (static_cast<std::uint32_t>(s) << 28);
    }
    // Issued, and its holder has not come back with the ticket since (no poll a second or more
    // after the issuing request): a client that keeps no cookies, or a page closed at once.
    bool unconfirmed() const { return (seen_state & unconfirmed_bit) != 0; }
    void set_unconfirmed(bool u) { seen_state = u ? seen_state | unconfirmed_bit : seen_state & ~unconfirmed_bit; }
    std::uint32_t seen() const { return seen_state & time_mask; }
    void set_seen(std::uint32_t s) { seen_state = (seen_state & ~time_mask) | (s & time_mask); }
    std::uint32_t refresh_class() const { return promise >> 28; }
    // The refresh told last in seconds; 60 (the longest) when never told.
    std::uint32_t refresh_told_s() const { return refresh_class() == 0 ? 60 : refresh_class() * 5; }
    std::uint32_t promised() const { return promise & time_mask; }
    void set_promise(std::uint32_t deadline_s, std::uint32_t cls) {
        deadline_s &= time_mask;
        promise = (cls << 28) | (deadline_s == 0 ? 1 : deadline_s);
    }
    bool unresolved() const {
        const place_state s = state();
        return s == place_state::waiting || s == place_state::ghost || s == place_state::pending;
    }
};

// Seconds from `then` to `now` on the 28-bit circle.
inline std::uint32_t serial_age(std::uint32_t now_s, std::uint32_t then_s) { return (now_s - then_s) & place::time_mask; }
static_assert(sizeof(place) == 8 && std::is_trivial_v<place>);

// Places in fixed blocks, so growth never copies and the slack is at most one block; blocks
// wholly below the front (nothing unresolved) are freed.
class place_ring {
public:
    static constexpr unsigned block_shift = 14;
    static constexpr std::uint64_t block_places = std::uint64_t{1} << block_shift;

    std::uint64_t begin() const { return begin_; }  // first retained q (block aligned, ≥ 1)
    std::uint64_t end() const { return end_; }      // one past the last place
    place& at(std::uint64_t q) { return blocks_[(q - begin_) >> block_shift][(q - begin_) & (block_places - 1)]; }
    const place& at(std::uint64_t q) const {
        return blocks_[(q - begin_) >> block_shift][(q - begin_) & (block_places - 1)];
    }
    void push_back(place p) {
        if (tail_fill_ == block_places) {
            grow();
        }
        tail_[tail_fill_++] = p;
        ++end_;
    }
    // Calls f(const place*, count) for the stored places in order, one run per block.
    template <class F>
    void for_each_run(F&& f) const {
        std::uint64_t left = end_ - begin_;
        for (const auto& block : blocks_) {
            const std::uint64_t n = std::min(left, block_places);
            f(block.get(), n);
            left -= n;
        }
    }
    // Frees whole blocks below q.
    void release_before(std::uint64_t q);
    // Starts empty at q (block aligned down); used by restore.
    void reset(std::uint64_t first_q);
    std::size_t memory_bytes() const;

private:
    void grow();

    std::vector<std::unique_ptr<place[]>> blocks_;
    place* tail_ = nullptr;
    std::uint64_t tail_fill_ = block_places;  // places used in the last block
    std::uint64_t begin_ = 1;
    std::uint64_t end_ = 1;
};

class room_controller {
public:
    room_controller(const room_config& cfg, const room_identity& identity, unix_ms now);

    const std::string& id() const { return cfg_.id; }
    std::uint32_t epoch() const { return ident_.epoch; }
    const room_settings& settings() const { return settings_; }

    // A reload: adopts the new config (timeouts, event, paths); the live settings are reset to
    // it only when mode, new_users_per_minute or max_active_users differ from the config they
    // were last reset from. Returns true when they were reset.
    bool reconfigure(const room_config& cfg, unix_ms now);
    // First call after a restore: time while the process was down does not count against
    // waiting visitors (abandon_after), passes (idle timeout) or pending claims.
    void resume(unix_ms now);
    bool needs_resume() const { return needs_resume_; }

    std::optional<ticket> issue(std::uint64_t binding, unix_ms now);
    wait_info poll(const ticket& t, unix_ms now);
    // The holder of `t` was refused by bot detection: its waiting place is no longer live (a
    // later poll makes it live again). A place already admitted but not yet claimed gives its
    // admission back to the rate (once) and stays claimable until its claim window ends, so a
    // person who solves the challenge still gets in (its claim takes the admission again) while
    // bots that are caught at the claiming poll do not use up the room's rate. Other places and
    // states are left alone.
    void mark_absent(const ticket& t, unix_ms now);
    pass_status touch(const pass& p, unix_ms now);
    void end(std::uint64_t pass_id, unix_ms now);
    std::optional<pass> bypass(std::uint64_t binding, unix_ms now);
    void tick(unix_ms now);
    void set_capacity(std::optional<std::int64_t> available, std::optional<unix_ms> next_at, unix_ms now);
    void update(const settings_patch& patch, unix_ms now);

    room_figures figures(unix_ms now) const;
    fairness_info fairness(unix_ms now) const;
    room_state arrival_state(unix_ms now) const;  // what a new arrival meets

    std::uint64_t waiting() const { return waiting_; }
    std::uint64_t active() const { return passes_.size() + pending_count_; }
    std::uint64_t issued() const { return issued_; }
    // Bytes held by this room's own structures (vector/deque capacities, hash table nodes).
    std::size_t memory_bytes() const;
    // The pass id a ticket's place gets when claimed (deterministic per place).
    std::uint64_t pass_id_for(std::uint64_t seq) const;
    unix_ms last_now() const { return last_now_; }

private:
    friend struct room_codec;  // snapshot.cpp

    struct pass_entry {
        unix_ms admitted_at = 0;
        unix_ms expires_at = 0;
        unix_ms last_seen = 0;
        std::uint64_t binding = 0;
        std::uint64_t seq = 0;  // 0 = bypass
    };
    struct pending_entry {
        std::uint64_t q = 0;
        unix_ms deadline = 0;  // claim window end
    };
    // Outflow history: 10 s buckets over 5 minutes. `busy_ms` is time with somebody waiting
    // while admission ran (not paused, not sold out), so an idle room does not read as slow.
    struct outflow_bucket {
        std::int64_t no = -1;
        std::uint32_t admitted = 0;
        std::uint32_t resolved = 0;  // admitted + skipped
        std::uint32_t busy_ms = 0;
    };
    static constexpr std::size_t outflow_buckets = 30;
    static constexpr unix_ms outflow_bucket_ms = 10'000;

    enum class phase { closed, prequeue, open };
    phase phase_at(unix_ms now) const;
    void ensure_started(unix_ms now);
    void shuffle_prequeue();
    std::uint64_t queue_index(std::uint64_t seq) const;
    void see(unix_ms now);

    std::uint32_t secs(unix_ms now) const;  // modulo 2^28
    // Seen within abandon_after — and, while unconfirmed, within first_poll_limit_s — or a
    // restart's liveness floor.
    bool live(const place& p, std::uint32_t now_s) const;
    static std::uint32_t first_poll_limit_s(const place& p);

    bool admission_open(unix_ms now) const;  // mode admits, not sold out, event started
    bool may_admit_one() const;               // max_active_users and inventory
    void admit_fifo(unix_ms now);
    void admit_random(unix_ms now);
    // The place at q was reached: admit (true) when live, else skip. Updates counters.
    bool reach(std::uint64_t q, unix_ms now);
    void resolve_front();
    void expire(unix_ms now);
    using pass_table = std::unordered_map<std::uint64_t, pass_entry>;
    pass_table::iterator end_entry(pass_table::iterator it, std::uint64_t& counter);
    void count_outflow(unix_ms now, bool admitted);
    void count_busy(unix_ms now, unix_ms dt);
    outflow_bucket& bucket_at(unix_ms now);
    struct outflow_sum {
        std::uint64_t admitted = 0, resolved = 0, busy_ms = 0;
    };
    outflow_sum recent_outflow(unix_ms now) const;
    double admission_rate(unix_ms now) const;  // places per second for ETAs
    double advance_rate(unix_ms now) const;
    void mark_slowdown(unix_ms now, bool paused);

    pass make_pass(std::uint64_t pass_id, const pass_entry& e) const;
    wait_info claim(std::uint64_t q, const ticket& t, unix_ms now);
    wait_info admitted_or_revoked(const ticket& t, unix_ms now);
    wait_info waiting_answer(place& p, std::uint64_t q, unix_ms now);
    std::uint64_t derive_id(char tag, std::uint64_t n) const;
    std::uint64_t next_random();

    room_config cfg_;
    room_identity ident_;
    crypto::hmac_key pass_key_;
    room_settings settings_;
    room_settings baseline_;  // the config values the live settings were last reset from

    place_ring ring_;
    std::uint64_t issued_ = 0;      // highest sequence number handed out (or reserved)
    std::uint64_t next_ = 1;        // FIFO serving index: first q not yet reached
    std::uint64_t front_ = 1;       // lowest q that is waiting, ghost or pending
    std::uint64_t waiting_ = 0;
    std::uint64_t pending_count_ = 0;
    bool shuffled_ = false;         // the event started and the pre-queue got its order
    std::uint64_t prequeue_count_ = 0;
    std::vector<std::uint32_t> rank_of_;  // seq-1 → q for seq ≤ prequeue_count_ (freed when passed)

    std::vector<pending_entry> pending_;
    // Pending places whose admission went back to the rate (mark_absent); dropped on claim or
    // expiry, at most the pending count. Not in snapshots: after a restart a place can give its
    // admission back once more.
    std::unordered_set<std::uint64_t> returned_;
    pass_table passes_;

    // Token bucket in exact integer units: one admission = 60'000 units; a millisecond adds
    // new_users_per_minute units; the bucket holds about one second's worth (at least one).
    static constexpr std::int64_t token_units = 60'000;
    std::int64_t tokens_ = 0;
    std::int64_t bucket_capacity() const {
        return std::max<std::int64_t>(token_units, std::int64_t{settings_.new_users_per_minute} * 1000);
    }
    unix_ms refilled_at_ = 0;
    unix_ms swept_at_ = 0;
    std::array<outflow_bucket, outflow_buckets> outflow_{};
    unix_ms measured_since_ = 0;

    std::optional<std::int64_t> available_;
    std::optional<unix_ms> next_capacity_at_;

    unix_ms slowdown_at_ = 0;       // last pause, resume, rate cut or sold-out change
    bool slowdown_paused_ = false;  // which of them, for eta_note

    std::uint64_t admitted_total_ = 0, bypass_total_ = 0, skipped_total_ = 0, unclaimed_total_ = 0;
    std::uint64_t returned_total_ = 0;  // not in snapshots (a counter from zero after a restart)
    std::uint64_t ended_idle_ = 0, ended_max_ = 0, ended_session_end_ = 0;
    // Admitted places that had been shown an ETA: by its high bound or later. Not in snapshots
    // (a counter that starts at zero after a restart, as Prometheus expects of counters).
    std::uint64_t eta_kept_total_ = 0, eta_missed_total_ = 0;
    std::uint64_t bypass_counter_ = 0;
    std::uint64_t rng_ = 0;
    std::uint64_t saved_issued_ = 0;  // issued_ at the last snapshot (sizes the sequence lease)
    // Ghost places (a restore's sequence lease) are not people: positions leave them out.
    // ghosts_ counts the unresolved ones, all in [ghost_begin_, ghost_end_) and at or after next_.
    std::uint64_t ghost_begin_ = 0, ghost_end_ = 0, ghosts_ = 0;
    void ghost_resolved() { ghosts_ -= ghosts_ > 0 ? 1 : 0; }
    std::uint64_t ghosts_ahead(std::uint64_t q) const;
    void count_ghosts();  // after a restore

    // Restore bookkeeping: passes admitted after the snapshot and before the crash are
    // re-created on their first touch (signed, so genuine), once.
    unix_ms restored_snapshot_at_ = 0;  // 0 = not restored
    unix_ms resumed_at_ = 0;
    std::uint32_t liveness_floor_s_ = 0;  // seconds (mod 2^28) a place counts as seen at least
    bool has_liveness_floor_ = false;
    std::vector<std::uint64_t> revived_bypass_ended_;
    bool needs_resume_ = false;
    unix_ms last_now_ = 0;
};

}  // namespace anteroom::admission
