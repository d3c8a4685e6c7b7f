#pragma once
// The detector: per-key state (bounded tables for addresses, address prefixes and visitors),
// the surge detector and the replay set, plus the decision for one request. Thread-safe (the
// tables are sharded with a mutex per shard); long-lived across config reloads, while the
// config is passed with each call so a reload changes weights and bands at once.
//
// A request's score = header signals + the visitor's behaviour + the address's behaviour
// (capped below the deny band: never deny on the address alone, because carrier NAT, offices and
// care homes share one) − the credit of a solved challenge; clamped to 0..100. Behavioural
// scores are kept per key and decay with the configured half-life.

#include <cstdint>
#include <mutex>
#include <span>
#include <string_view>

#include "bot_detect/challenge.hpp"
#include "bot_detect/key_table.hpp"
#include "bot_detect/request_facts.hpp"
#include "bot_detect/scoring.hpp"
#include "common/cidr.hpp"
#include "common/config.hpp"

namespace anteroom::bot_detect {

enum class band : std::uint8_t { allow, challenge, deprioritise, deny };
std::string_view to_string(band b);
inline constexpr std::size_t band_count = 4;

struct request_input {
    std::span<const header_ref> headers;  // in arrival order
    std::string_view path;                // normalised, without query
    ip_address client;
    std::uint64_t visitor = 0;            // visitor_key() of the ticket or pass presented; 0 = none
    bool status_poll = false;             // GET /_anteroom/status
    bool unsafe_method = false;           // POST, PUT, PATCH, DELETE (a form or an API write)
    bool secure_origin = false;           // TLS, or a loopback Host: browsers send fetch metadata
    int clearance_credit = 0;             // from a valid clearance cookie
    std::string_view ja4;                 // of the connection's ClientHello; empty: no TLS on this hop
    unix_ms now = 0;
};

struct decision {
    band action = band::allow;
    int score = 0;
    std::uint32_t reasons = 0;
    unsigned difficulty = 0;      // for a challenge
    bool infinite_queue = false;  // deny with the waiting page that never advances
    bool surge = false;
    request_facts facts;
};

// What the answer to a request was, fed back after it was sent.
struct outcome_input {
    ip_address client;
    std::uint64_t visitor = 0;       // the key the next requests of this visitor will carry
    unsigned status = 0;
    bool from_upstream = false;      // 4xx share counts the portal's answers only
    bool ticket_issued = false;
    unsigned refresh_told_s = 0;     // refresh_after_seconds told (status JSON or waiting page)
    // The key of a pass this answer gave to a visitor that held a ticket (0 = none): its
    // admission time, from which fast_form measures the first form.
    std::uint64_t admitted_visitor = 0;
    std::uint64_t admitted_ticket = 0;  // the ticket that pass replaces, for a client that keeps it
    std::uint32_t header_signature = 0;
    unix_ms now = 0;
};

// The key of a ticket or pass for the visitor table (a hash of the token text).
std::uint64_t visitor_key(std::string_view token);

// A global view of new tickets: within a window with at least surge_min_tickets, a share from
// the top 8 address prefixes or from one header signature above the configured marks starts a
// surge that lasts surge_hold. Tracked with space-saving counters (16 slots each), O(1) memory.
class surge_detector {
public:
    void add(const bot_detect_config& c, std::uint32_t prefix_hash, std::uint32_t signature, unix_ms now);
    bool active(unix_ms now) const;
    unix_ms until() const;

private:
    struct counter {
        std::uint32_t key = 0;
        std::uint32_t count = 0;
    };
    static void bump(counter (&slots)[16], std::uint32_t key);
    void close_window(const bot_detect_config& c, unix_ms now);

    mutable std::mutex mu_;
    std::int64_t window_ = -1;
    std::uint32_t total_ = 0;
    counter prefixes_[16]{};
    counter signatures_[16]{};
    unix_ms until_ = 0;
};

class detector {
public:
    explicit detector(const bot_detect_config& c);

    decision evaluate(const bot_detect_config& c, const request_input& in);
    void observe(const bot_detect_config& c, const outcome_input& out);

    bool surging(unix_ms now) const { return surge_.active(now); }
    replay_set& replays() { return replay_; }
    // Capacities the tables were built with (a reload with other bounds needs a new detector).
    std::uint32_t max_tracked() const { return max_tracked_; }
    std::uint32_t max_replay() const { return max_replay_; }
    std::size_t memory_bytes() const;
    std::size_t tracked_addresses() const { return addresses_.size(); }
    std::uint64_t evictions() const;

private:
    std::uint32_t max_tracked_;
    std::uint32_t max_replay_;
    key_table addresses_;
    key_table prefixes_;
    key_table visitors_;
    replay_set replay_;
    surge_detector surge_;
};

// Whether an allow or deny rule matches (path prefix, User-Agent substring, CIDR).
bool rule_matches(const bot_rule& r, std::string_view path, std::string_view user_agent, const ip_address& client);

}  // namespace anteroom::bot_detect
