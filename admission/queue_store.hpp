#pragma once
// All room state goes through queue_store. The embedded store (this issue) keeps it in memory
// and snapshots it to state_dir; a Redis store (issue 9) implements the same interface so
// several nodes share one queue. Callers: the proxy's admission filter (per request, any
// worker thread), the control thread (tick, capacity, snapshots, admin API).
//
// Every method is thread-safe and O(1) or O(log n) on the request path; none blocks on I/O
// (snapshot() does file I/O and is called from the control thread only). Time is passed in.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admission/token.hpp"
#include "common/config.hpp"

namespace anteroom::admission {

// What a visitor is told about a room (status JSON `state`).
enum class room_state { prequeue, queued, admitted, paused, sold_out, closed };
std::string_view to_string(room_state s);

// Answer to one request/poll of a waiting visitor. Rendered by waiting_page/status_json.
struct wait_info {
    room_state state = room_state::queued;
    std::uint64_t position = 0;  // 1-based place in line; 0 = not known (random mode, pre-queue)
    std::uint64_t ahead = 0;     // people in front (upper bound: may include some who left)
    std::int64_t eta_low_seconds = -1;   // -1 = unknown (paused, sold out, before start)
    std::int64_t eta_high_seconds = -1;
    std::uint32_t refresh_after_seconds = 5;  // 5 s near the front .. 60 s far back
    unix_ms updated_at = 0;
    std::optional<unix_ms> starts_at;       // prequeue: countdown target
    std::optional<unix_ms> next_capacity_at;  // sold_out: when new appointments are expected
    std::string_view eta_note;  // "" | "paused" | "slowed": why the ETA moved back (static text)
    std::optional<pass> admitted_pass;  // state admitted: the pass to set (same pass on re-poll)
    // The ticket is no good any more: another room epoch (the room was deleted and created
    // again), its place was skipped (gone longer than abandon_after, or admitted and not
    // claimed in time) or used (its pass has ended), or its sequence number is unknown. The
    // caller treats it as absent (reject_reason::revoked) and issues a new ticket.
    bool revoked = false;
};

// Live-changeable settings (admin API); unchanged by a reload of an unchanged room.
struct room_settings {
    room_mode mode = room_mode::fifo;
    std::uint32_t new_users_per_minute = 60;
    std::uint32_t max_active_users = 1000;
};

struct settings_patch {
    std::optional<room_mode> mode;
    std::optional<std::uint32_t> new_users_per_minute;
    std::optional<std::uint32_t> max_active_users;
};

// Live figures of one room (metrics, admin API, dashboard).
struct room_figures {
    std::string id;
    std::uint32_t epoch = 0;                // room incarnation (tickets of another epoch are revoked)
    room_settings settings;
    room_state state = room_state::queued;  // what a new arrival would see
    std::uint64_t issued = 0;               // tickets issued (highest sequence, incl. a restart's lease)
    std::uint64_t waiting = 0;              // places not yet reached (includes not yet skipped leavers)
    std::uint64_t active = 0;               // active passes + admitted places not yet claimed
    std::uint64_t admitted_total = 0;       // places reached and admitted (incl. bypass)
    std::uint64_t bypass_total = 0;
    std::uint64_t skipped_total = 0;        // abandoned places skipped (incl. unclaimed_total)
    std::uint64_t unclaimed_total = 0;      // admitted places not claimed within the claim window
    std::uint64_t returned_total = 0;       // admissions given back: refused by bot detection before the claim
    std::uint64_t ended_idle = 0, ended_max = 0, ended_session_end = 0;
    std::uint64_t eta_kept_total = 0, eta_missed_total = 0;  // admitted by / after the ETA high bound shown
    double outflow_per_minute = 0;          // measured admissions per minute (recent)
    std::optional<std::int64_t> available;  // last capacity figure, if capacity_url is set
    bool sold_out = false;
};

// Fairness endpoint: before `starts`, the SHA-256 commitment of the shuffle seed; after it,
// the seed itself and how many pre-queue tickets were shuffled, so anyone can recompute the
// order: position of ticket s = rank of HMAC-SHA256(seed, be64(s)) among s = 1..prequeue_count
// (ascending byte order, ties impossible in practice and broken by s).
struct fairness_info {
    bool has_event = false;
    std::string commitment_hex;      // sha256(seed), always
    std::optional<std::string> seed_hex;  // after starts
    std::uint64_t prequeue_count = 0;     // fixed at starts
    std::optional<unix_ms> starts_at;
};

enum class pass_status { active, ended, unknown_room };

struct bypass_result {
    std::optional<pass> granted;  // nullopt: max_active_users reached (try again later)
};

// How the store itself is doing (metrics): the embedded store is always "connected".
struct store_health {
    bool shared = false;               // rooms shared with other nodes through Redis
    bool connected = true;             // shared: the last sync with Redis was good and recent
    std::uint64_t rooms_led = 0;       // shared: rooms whose serving position this node advances
    std::uint64_t sync_failures = 0;   // shared: syncs that failed (Redis away or slow)
    std::uint64_t tickets_refused = 0; // shared: new visitors refused (fail mode, no numbers yet)
    std::uint64_t rooms_alone = 0;     // shared: rooms this node runs alone now (fail mode local)
    std::uint64_t nodes = 0;           // shared: nodes serving the rooms at the last view (the most of any room)
    std::uint64_t admitted_alone = 0;  // shared: visitors this node admitted alone (fail mode local)
};

class queue_store {
public:
    virtual ~queue_store() = default;

    // Creates rooms that are new, drops rooms that are gone, and for rooms that exist keeps
    // their queue, passes and live settings; live settings are reset to the config only when
    // that room's config changed.
    virtual void configure(const std::vector<room_config>& rooms, unix_ms now) = 0;

    // A new place in line (or in the pre-queue before `starts`). nullopt when the room does not
    // exist or takes no tickets now (closed: before prequeue_opens, reject mode, passthrough).
    virtual std::optional<ticket> issue_ticket(std::string_view room, std::uint64_t binding, unix_ms now) = 0;

    // A waiting visitor shows up (page load or status poll): marks the place alive and says
    // where it stands. When the place has been reached and capacity allows, the answer is
    // `admitted` with a pass (claiming the place; a repeated poll returns the same pass).
    // Other answers: `revoked` set (see wait_info); reject mode or before prequeue_opens →
    // closed; passthrough → admitted without a pass (let the request through, nothing to set).
    virtual wait_info poll(std::string_view room, const ticket& t, unix_ms now) = 0;

    // Bot detection refused this ticket's holder (challenge or deny): its place counts as
    // absent from now on — skipped without using up the admission rate when reached — unless
    // the holder polls again before then (a person who solved the challenge keeps the place).
    virtual void mark_absent(std::string_view room, const ticket& t, unix_ms now) = 0;

    // A request with a valid-looking pass: still active? Refreshes its idle timer.
    virtual pass_status touch_pass(std::string_view room, const pass& p, unix_ms now) = 0;
    // The upstream said `Anteroom-Session: end`: the pass ends now and frees its place.
    virtual void end_pass(std::string_view room, std::uint64_t pass_id, unix_ms now) = 0;

    // Invitation code or agent token: a pass at once, counted against max_active_users.
    virtual bypass_result admit_bypass(std::string_view room, std::uint64_t binding, unix_ms now) = 0;

    // Advances serving positions (token bucket), skips abandoned places, expires passes.
    // Called by the control thread every 100 ms; also safe to call from anywhere.
    virtual void tick(unix_ms now) = 0;

    // Latest inventory from the room's capacity_url (nullopt = unknown / poll failed).
    virtual void set_capacity(std::string_view room, std::optional<std::int64_t> available,
                              std::optional<unix_ms> next_at, unix_ms now) = 0;

    // The room's live settings (mode first of all: passthrough rooms take no tickets, reject
    // rooms answer closed). nullopt when the room does not exist. O(1), request path.
    virtual std::optional<room_settings> settings(std::string_view room) const = 0;

    // Admin API; false when the room does not exist.
    virtual bool update_settings(std::string_view room, const settings_patch& patch, unix_ms now) = 0;

    virtual std::vector<room_figures> figures(unix_ms now) const = 0;
    virtual std::optional<fairness_info> fairness(std::string_view room, unix_ms now) const = 0;

    // Persists all rooms (embedded: temp file, fsync, rename). Control thread only.
    virtual bool snapshot(std::string& err) = 0;

    virtual store_health health() const { return {}; }
};

// The embedded store: in memory, snapshotted to `<state_dir>/admission.snapshot`. Loading an
// existing snapshot restores every room's queue, liveness, passes and live settings (also
// after kill -9: at most snapshot_interval of changes is lost, and a ticket issued in that
// window still verifies — its place is re-created on its first poll; a pass admitted in that
// window is re-created on its first touch_pass). Sequence numbers are leased: a snapshot
// reserves numbers ahead, and a restart continues after the reservation, so no number is
// handed to two visitors (the reserved ones count in room_figures::issued). Time while the
// process was down does not count against abandon_after or the idle timeout. Every snapshot
// write keeps the one it replaces as `admission.snapshot.prev`. A damaged, unreadable or
// missing snapshot falls back to that previous one (the store is returned and `err` says what
// happened and which snapshot was restored; the damaged file is kept as *.corrupt); when there
// is no usable previous snapshot either, the result is null and `err` explains how to start
// empty — the store never silently starts with empty rooms over a snapshot it could not read.
std::unique_ptr<queue_store> make_embedded_store(const std::string& state_dir, std::string& err);
std::string snapshot_file(const std::string& state_dir);           // <state_dir>/admission.snapshot
std::string previous_snapshot_file(const std::string& state_dir);  // … .prev

}  // namespace anteroom::admission
