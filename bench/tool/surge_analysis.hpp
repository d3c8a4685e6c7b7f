#pragma once
// The surge's figures, computed from the visitor records after a run: pure arithmetic, so the
// unit tests check it on hand-made traces (tests/bench/surge_analysis_test.cpp).

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "bench/tool/histogram.hpp"
#include "bench/tool/report.hpp"
#include "bench/tool/surge_model.hpp"

namespace anteroom::bench {

// Order fairness over admitted visitors: of all pairs (a, b) where a reached the server
// strictly before b, the share where a was not admitted after b. With a tolerance, a counts as
// "not after" when admitted at most `tolerance_ms` after b: the bench sees an admission only
// when the visitor polls, so polling jitter alone puts strict pairs out of order.
struct fairness_result {
    std::uint64_t visitors = 0;
    std::uint64_t pairs = 0;
    std::uint64_t out_of_order = 0;
    std::optional<double> share_in_order() const;  // nullopt without pairs
};
// points: (arrival, admission) per admitted visitor, any order. O(n log n).
fairness_result order_fairness(std::vector<std::pair<std::uint32_t, std::uint32_t>> points, std::uint32_t tolerance_ms);

// Machine actions (challenge, deprioritise, deny) against the ground truth: a bot acted on is a
// true positive, a human acted on a false positive.
struct confusion {
    std::uint64_t tp = 0;
    std::uint64_t fp = 0;
    std::uint64_t fn = 0;
    std::uint64_t tn = 0;
    std::optional<double> precision() const;  // nullopt when nothing was acted on
    std::optional<double> recall() const;     // nullopt when there were no bots
};

// ETA accuracy: of the visitors shown an ETA, the share admitted before its high bound ran out.
// One still waiting (or gone) after the bound broke it; one still waiting or gone before it is
// open and left out.
struct eta_result {
    std::uint64_t shown = 0;
    std::uint64_t kept = 0;
    std::uint64_t broken = 0;
    std::uint64_t open = 0;
    std::optional<double> share_kept() const;  // of kept + broken
};

struct cohort_figures {
    std::string name;
    cohort_kind kind = cohort_kind::human;
    std::uint64_t visitors = 0;
    std::uint64_t arrived = 0;
    std::array<std::uint64_t, outcome_count> outcomes{};
    std::uint64_t challenged = 0;
    std::uint64_t deprioritised = 0;
    std::uint64_t denied = 0;
    std::uint64_t admitted = 0;
    std::uint64_t booked = 0;
    std::uint64_t ticketed = 0;
    std::uint64_t requests = 0;
    std::uint64_t saw_server_error = 0;
    histogram wait_ms;  // first answer → admission, admitted visitors
};

struct minute_rate {
    std::uint32_t minute = 0;  // since the run began
    std::uint64_t admitted = 0;
};

struct surge_figures {
    std::uint64_t visitors = 0;
    std::uint64_t arrived = 0;
    std::array<std::uint64_t, outcome_count> outcomes{};
    std::vector<cohort_figures> cohorts;
    fairness_result fairness;         // strict
    fairness_result fairness_within;  // with the tolerance
    std::uint32_t fairness_tolerance_ms = 0;
    eta_result eta;
    confusion machine;
    std::uint64_t admitted = 0;
    std::uint64_t admitted_bots = 0;
    std::uint64_t booked = 0;
    std::uint64_t booked_bots = 0;
    std::vector<minute_rate> per_minute;  // from the first to the last minute with an admission
    histogram wait_ms;                    // all admitted visitors
    std::optional<double> bot_share_of_admissions() const;
    std::optional<double> bot_share_of_appointments() const;
};

// `end_ms`: when the run ended (for the ETA bounds of those still waiting).
surge_figures analyse(std::span<const visitor_record> visitors, const scenario& sc, std::uint32_t end_ms,
                      std::uint32_t fairness_tolerance_ms);

// What the engine counted about requests, merged over threads.
struct surge_traffic {
    std::uint64_t requests = 0;
    raw_stats http;  // responses by status class, errors by kind, latency (µs from the intended send time)
    std::uint64_t connections_opened = 0;
    std::uint64_t connections_reused = 0;
    std::uint64_t cookie_overflow = 0;  // Set-Cookie values that did not fit a jar (dropped)
    std::uint64_t booking_unavailable = 0;  // walks that met a 404 on the booking API
    std::uint64_t booking_conflicts = 0;    // 409 answers from POST bookings
    std::uint64_t cut_off = 0;              // in flight when the run ended: neither answered nor failed
    // Proof-of-work challenges answered by cohorts with solves_challenges.
    std::uint64_t challenge_solves = 0;   // solutions found and submitted
    std::uint64_t challenge_cleared = 0;  // submissions answered with clearance (303 or 200)
    std::uint64_t challenge_refused = 0;  // submissions refused (403: bad, expired or replayed)
    std::uint64_t challenge_hashes = 0;   // SHA-256 computations, found or not
    std::uint64_t challenge_cpu_us = 0;   // the bench's CPU time for them (solver threads)
    void merge(const surge_traffic& o);
};

struct surge_report {
    const scenario* sc = nullptr;
    double elapsed_seconds = 0;
    bool interrupted = false;
    surge_figures figures;
    surge_traffic traffic;
    timeline line{1000};
    std::uint64_t peak_waiting = 0;
    std::vector<visitor_record> visitors;  // every visitor's record, in no particular order
};

std::string format_text(const surge_report& r);
nlohmann::json to_json(const surge_report& r);
std::string to_html(const surge_report& r);
// One CSV line per visitor (--visitors): cohort, kind, times in ms from the run's beginning
// (empty when it did not happen), first position shown, outcome, actions, requests.
void write_visitors_csv(std::ostream& out, const surge_report& r);

}  // namespace anteroom::bench
