#pragma once
// The surge's per-visitor record and its time line: what the engine writes while it runs and
// what the analysis (surge_analysis.hpp) reads afterwards. Kept small on purpose — a million
// visitors are a million of these (40 bytes each; cookies live apart, in cookie_jar).

#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include "bench/tool/scenario.hpp"

namespace anteroom::bench {

inline constexpr std::uint32_t no_time = std::numeric_limits<std::uint32_t>::max();
inline constexpr std::uint32_t no_slot = std::numeric_limits<std::uint32_t>::max();

// How a visitor's run ended. Exactly one per visitor: the report's accounting rests on it.
enum class outcome : std::uint8_t {
    not_arrived,  // the run ended (stop_after or SIGINT) before its arrival time
    waiting,      // still in line (or mid-request) when the run ended
    abandoned,    // a human who ran out of patience
    admitted,     // got a pass; no appointment (booking off, unavailable, full or failed)
    booked,       // got a pass and an appointment
    denied,       // the server denied it (403 / Anteroom-Action: deny) and it stopped
    finished,     // a bot whose script ended without a pass (flood, cookie dropper)
    failed,       // gave up after `retries` consecutive transport errors or 5xx
};
inline constexpr std::size_t outcome_count = 8;
const char* to_string(outcome o);

// Everything the server did to a visitor, as seen by the bench (bits of visitor_record::actions).
namespace action {
inline constexpr std::uint8_t challenged = 1;     // 429 (when not the queue's own status) or Anteroom-Action: challenge
inline constexpr std::uint8_t deprioritised = 2;  // Anteroom-Action: deprioritise
inline constexpr std::uint8_t denied = 4;         // 403 or Anteroom-Action: deny
inline constexpr std::uint8_t admitted = 8;       // a pass
inline constexpr std::uint8_t booked = 16;        // an appointment (201 from POST bookings)
inline constexpr std::uint8_t ticket = 32;        // a place in line
inline constexpr std::uint8_t prequeue = 64;      // waited in the pre-queue (its order is drawn: no fairness pairs)
inline constexpr std::uint8_t server_error = 128; // saw a 5xx or a transport error
inline constexpr std::uint8_t machine = challenged | deprioritised | denied;
}  // namespace action

// Times are milliseconds since the run began; no_time when it did not happen.
struct visitor_record {
    std::uint32_t arrival_ms = 0;             // scheduled arrival
    std::uint32_t first_answer_ms = no_time;  // first answer holding a ticket or a pass: its place in the arrival order
    std::uint32_t admitted_ms = no_time;      // the pass was seen
    std::uint32_t done_ms = no_time;          // the outcome was reached
    std::uint32_t eta_deadline_ms = no_time;  // when the first ETA high bound it was shown runs out
    std::uint32_t position = 0;               // first position shown (0 = none)
    std::uint32_t source = 0;                 // host-order IPv4 it sends from
    std::uint32_t jar = no_slot;              // its cookies (cookie_jar slot); engine-only
    std::uint16_t requests = 0;               // saturating
    std::uint8_t cohort = 0;                  // index into scenario::cohorts
    std::uint8_t actions = 0;                 // action bits
    outcome result = outcome::not_arrived;
    std::uint8_t step : 4 = 0;    // engine-only: where its script stands (surge_engine.hpp, < 16)
    std::uint8_t solves : 4 = 0;  // engine-only: challenges it took on (≤ max_challenge_solves)
    std::uint8_t counter = 0;     // engine-only: visits or attempts left
    std::uint8_t errors = 0;      // engine-only: consecutive failures
};
static_assert(sizeof(visitor_record) <= 40, "a million visitors must stay within 40 MB");

// The visitors of a scenario, sorted by arrival time (ties keep cohort order), each with its
// cohort and source address; deterministic for a seed.
std::vector<visitor_record> make_visitors(const scenario& sc);

// `count` arrival times (ms from the run's beginning) of one shape, sorted; deterministic.
std::vector<std::uint32_t> arrival_times(const arrival_spec& a, std::uint64_t count, std::uint64_t seed);

// A coarse log-linear histogram (4 buckets per power of two, ±19 %) small enough to keep one
// per time-line bucket: 96 counters.
class coarse_histogram {
public:
    static constexpr std::size_t size = 96;
    void record(std::uint64_t value);
    void merge(const coarse_histogram& o);
    std::uint64_t count() const { return count_; }
    std::uint64_t percentile(double q) const;  // a bucket's upper bound; 0 when empty
    static std::size_t index_of(std::uint64_t value);
    static std::uint64_t upper_bound_of(std::size_t index);

private:
    std::array<std::uint32_t, size> b_{};
    std::uint64_t count_ = 0;
};

struct timeline_bucket {
    std::uint32_t arrived = 0;
    std::uint32_t admitted = 0;
    std::uint32_t booked = 0;
    std::uint32_t responses = 0;
    std::uint32_t errors = 0;
    std::uint32_t waiting = 0;  // holding a ticket, not yet admitted, at the bucket's end
    std::uint32_t machine_actions = 0;
    coarse_histogram latency_us;
};

// Per time bucket; the last bucket absorbs anything later (bounded).
class timeline {
public:
    static constexpr std::size_t max_buckets = 7200;
    explicit timeline(std::uint32_t bucket_ms = 1000) : bucket_ms_(bucket_ms == 0 ? 1000 : bucket_ms) {}
    timeline_bucket& at(std::uint32_t ms);
    void merge(const timeline& o);
    std::uint32_t bucket_ms() const { return bucket_ms_; }
    const std::vector<timeline_bucket>& buckets() const { return b_; }
    void resize_to(std::uint32_t end_ms);  // at least the buckets up to end_ms

private:
    std::uint32_t bucket_ms_;
    std::vector<timeline_bucket> b_;
};

}  // namespace anteroom::bench
