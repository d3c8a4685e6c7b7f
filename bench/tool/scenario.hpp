#pragma once
// A surge scenario (`anteroom-bench surge --scenario FILE.toml`): who arrives when, how each
// cohort behaves, and where they go. Parsed and validated here, apart from any I/O, so tests
// can feed it text; every problem is reported as "file:line: what is wrong", unknown keys
// included. The shipped examples are bench/scenarios/*.toml; docs/benchmarks.md lists the keys.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace anteroom::bench {

using millis = std::chrono::milliseconds;

// Ground truth of a visitor: known only to the bench, never sent to the server.
enum class cohort_kind : std::uint8_t {
    human,
    naive_flood,      // no cookies, tool User-Agent, fixed interval
    header_spoofer,   // browser User-Agent without the companion headers, exact polling
    botnet,           // browser-like, many source addresses, low rate each, exact polling
    status_hammerer,  // polls far faster than told
    ticket_farmer,    // many tickets from few addresses
    cookie_dropper,   // browser-like but never keeps a cookie: a new ticket every visit
};
inline constexpr std::size_t cohort_kind_count = 7;
const char* to_string(cohort_kind k);
std::optional<cohort_kind> cohort_kind_from(std::string_view name);
inline bool is_bot(cohort_kind k) { return k != cohort_kind::human; }

enum class arrival_shape : std::uint8_t {
    spike,    // a share `early` spread evenly before `start`, the rest from `start` on with
              // exponentially falling intensity (mean delay `spread`), cut at start + duration
    ramp,     // intensity rising linearly from 0 at `start` to its peak at start + duration
    poisson,  // constant intensity over [start, start + duration)
};
const char* to_string(arrival_shape s);

struct arrival_spec {
    arrival_shape shape = arrival_shape::poisson;
    millis start{0};  // from the beginning of the run
    millis duration{std::chrono::seconds(60)};
    double early = 0.0;                       // spike only, 0..1
    millis spread{std::chrono::seconds(5)};  // spike only
};

struct millis_range {
    millis low{0};
    millis high{0};
};

struct cohort_spec {
    std::string name;
    cohort_kind kind = cohort_kind::human;
    std::uint64_t count = 0;  // resolved from `count` or `share`
    std::uint32_t source_first = 0;  // host-order IPv4 in 127.0.0.0/8
    std::uint32_t source_last = 0;
    arrival_spec arrivals;  // the scenario's [arrivals] unless the cohort has its own
    // Behaviour (defaults depend on the kind; see kind_defaults in scenario.cpp).
    millis_range think{millis(1000), millis(5000)};  // between steps of the booking walk
    double poll_jitter = 0.2;  // humans: each wait is refresh_after * (1 ± jitter)
    double abandon = 0.0;      // share that gives up waiting after `patience` (exponential)
    millis patience{std::chrono::minutes(10)};
    bool book = true;            // walk the booking flow once admitted
    bool solves_challenges = false;  // answers a proof-of-work challenge (default: humans only)
    unsigned priority_group = 1;  // sent with the registration
    unsigned visits = 10;         // naive_flood, cookie_dropper: requests per bot
    millis interval{1000};        // naive_flood, cookie_dropper: between visits; status_hammerer: between polls
};

struct target_endpoint {
    std::string ip;  // literal IPv4 (source addresses are bound in 127.0.0.0/8)
    std::uint16_t port = 80;
    std::string host_header;  // as written in the URL
    std::string path = "/";   // where a visitor's first request goes
};

struct target_spec {
    std::vector<target_endpoint> endpoints;  // a visitor keeps to one (by its number)
    std::string room = "portal";
    std::string status_path = "/_anteroom/status";
    // What the room is configured with: the bench does not change it, the report compares
    // against it. 0 = not stated (no rate comparison).
    double new_users_per_minute = 0;
    // 429 means "waiting" when the room answers queued visitors with 429; else it is a challenge.
    unsigned queued_status_code = 200;
};

struct booking_spec {
    std::string api_prefix = "/api";
    std::string first_date = "2026-12-01";  // appointments are asked for from this day on
    unsigned days = 14;
    unsigned attempts = 3;  // dates tried when the first is full
};

struct run_spec {
    millis stop_after{std::chrono::minutes(5)};  // hard end of the run, from its beginning
    unsigned threads = 1;
    unsigned connections = 1024;  // per thread, pooled and reused per source address
    millis timeout{std::chrono::seconds(10)};  // per request
    unsigned retries = 3;  // consecutive transport errors before a visitor gives up
    millis bucket{1000};   // timeline resolution
};

struct scenario {
    std::string name;
    std::string file;
    std::uint64_t seed = 1;
    std::uint64_t total = 0;
    target_spec target;
    run_spec run;
    arrival_spec arrivals;
    booking_spec booking;
    std::vector<cohort_spec> cohorts;  // 1..255, counts summing to total
};

struct scenario_result {
    std::optional<scenario> sc;
    std::vector<std::string> errors;  // "file:line: message", in file order
};

// `file` names the text in messages.
scenario_result parse_scenario(std::string_view text, const std::string& file);
scenario_result load_scenario(const std::string& path);

// Scales every cohort count (and the total) by `factor` (> 0), keeping at least one visitor per
// cohort with a count: `--scale 0.01` turns a launch day into a quick try.
void scale_scenario(scenario& sc, double factor);

// Bounds (also documented in docs/benchmarks.md).
inline constexpr std::uint64_t max_visitors = 50'000'000;
inline constexpr std::size_t max_cohorts = 255;
inline constexpr unsigned max_threads = 64;
inline constexpr unsigned max_connections = 60'000;

}  // namespace anteroom::bench
