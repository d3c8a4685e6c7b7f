#pragma once
// The scorer: signals in, score 0..100 and the reasons out. Pure functions of the request's
// facts, the per-key state and the config; no clock of its own (time is an argument), no I/O.
// The detector (detector.hpp) owns the state and calls these.

#include <cstdint>
#include <string>
#include <string_view>

#include "bot_detect/key_table.hpp"
#include "bot_detect/request_facts.hpp"
#include "common/config.hpp"

namespace anteroom::bot_detect {

using unix_ms = std::int64_t;

// One bit per reason, in the order of `reason_names`.
namespace reason {
inline constexpr std::uint32_t automation_ua = 1u << 0;
inline constexpr std::uint32_t empty_ua = 1u << 1;
inline constexpr std::uint32_t missing_fetch_metadata = 1u << 2;
inline constexpr std::uint32_t missing_client_hints = 1u << 3;
inline constexpr std::uint32_t missing_accept_language = 1u << 4;
inline constexpr std::uint32_t accept_encoding = 1u << 5;
inline constexpr std::uint32_t header_order = 1u << 6;
inline constexpr std::uint32_t address_rate = 1u << 7;
inline constexpr std::uint32_t visitor_rate = 1u << 8;
inline constexpr std::uint32_t ticket_farming = 1u << 9;
inline constexpr std::uint32_t prefix_ticket_farming = 1u << 10;
inline constexpr std::uint32_t error_share = 1u << 11;
inline constexpr std::uint32_t early_polls = 1u << 12;
inline constexpr std::uint32_t regular_polls = 1u << 13;
inline constexpr std::uint32_t sharing = 1u << 14;
inline constexpr std::uint32_t tls_mismatch = 1u << 15;
inline constexpr std::uint32_t deny_rule = 1u << 16;
inline constexpr std::uint32_t allow_rule = 1u << 17;
inline constexpr std::uint32_t cleared = 1u << 18;  // a solved challenge lowered the score
inline constexpr std::uint32_t fast_form = 1u << 19;
inline constexpr std::uint32_t count = 20;
}  // namespace reason

inline constexpr std::string_view reason_names[reason::count] = {
    "automation_ua",   "empty_ua",       "missing_fetch_metadata", "missing_client_hints",
    "missing_accept_language", "accept_encoding", "header_order",  "address_rate",
    "visitor_rate",    "ticket_farming", "prefix_ticket_farming",  "error_share",
    "early_polls",     "regular_polls",  "sharing",                "tls_mismatch",
    "deny_rule",       "allow_rule",     "cleared",                "fast_form"};

// "automation_ua,missing_fetch_metadata" (empty when no bit is set).
std::string reasons_text(std::uint32_t bits);

struct partial_score {
    int points = 0;
    std::uint32_t reasons = 0;
    void add(int weight, std::uint32_t bit) {
        if (weight > 0) {
            points += weight;
            reasons |= bit;
        }
    }
};

// Header consistency of one request. `expect_fetch_metadata`: the origin is secure (TLS or a
// loopback host), so a real browser sends Sec-Fetch-*, Sec-CH-UA (Chromium) and br.
partial_score header_score(const bot_detect_config& c, const request_facts& f, bool expect_fetch_metadata,
                           bool tls_mismatch);

// Sliding-window counters: two fixed windows, the previous one weighted by how much of it still
// overlaps the sliding window. `window` is the current window number.
void window_add(std::uint32_t& win, std::uint16_t& cur, std::uint16_t& prev, std::uint32_t now_window);
double window_estimate(std::uint32_t win, std::uint16_t cur, std::uint16_t prev, std::uint32_t now_window,
                       double fraction_elapsed);

// A key's stored score after `dt_s` seconds of decay with the configured half-life.
float decayed(float score, std::uint32_t dt_s, duration_ms half_life);

// Per-address signals (rates, ticket farming, error share). `requests`/`tickets` are the
// sliding-window estimates.
partial_score address_score(const bot_detect_config& c, const key_entry& e, double requests_10s, double tickets_min);
partial_score prefix_score(const bot_detect_config& c, double tickets_min);

// Records a status poll at `now_ms` on the visitor entry: an interval shorter than the refresh
// told minus the tolerance counts as early; the interval divided by the refresh told feeds the
// running mean and variance.
void record_poll(const bot_detect_config& c, key_entry& e, unix_ms now_ms);
// `now_ms` as key_entry::last_poll_ms keeps it: 32 bits, never 0 (0 = none yet).
inline std::uint32_t poll_stamp(unix_ms now_ms) {
    const auto t = static_cast<std::uint32_t>(now_ms);
    return t == 0 ? 1 : t;
}
// Coefficient of variation of the visitor's poll intervals; < 0 when too few were seen.
double poll_cv(const key_entry& e);
// Per-visitor signals (rate, early polls, clockwork polling, sharing).
partial_score visitor_score(const bot_detect_config& c, const key_entry& e, double requests_10s);
// A form sent (`unsafe_method`: POST, PUT, PATCH, DELETE) less than limits.min_form_time after the
// answer that let the visitor in from a room (`admitted`, at last_poll_ms). A person needs longer
// to read the page and fill in a form; a script books at once.
bool fast_form(const bot_detect_config& c, const key_entry& e, bool unsafe_method, unix_ms now_ms);

}  // namespace anteroom::bot_detect
