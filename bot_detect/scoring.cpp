#include "bot_detect/scoring.hpp"

#include <bit>
#include <cmath>

namespace anteroom::bot_detect {

namespace {
// How close the mean interval must be to the refresh told for "clockwork at our pace".
constexpr double told_pace_tolerance = 0.05;
// An interval this close to the refresh told is "exact": from 0.1 % early to 0.4 % late (a
// script waits the refresh after each answer, so network and queueing make it a little late).
// Our page adds ±20 % jitter, so one person's poll lands there with a chance of 1.25 %; two in a
// row somewhere in ten polls about 0.15 %.
constexpr double exact_early = 0.001;
constexpr double exact_late = 0.004;
// The CV rule needs at least this many intervals (fewer spread too little to judge).
constexpr std::uint32_t cv_min_intervals = 3;
}  // namespace

std::string reasons_text(std::uint32_t bits) {
    std::string out;
    for (std::uint32_t i = 0; i < reason::count; ++i) {
        if ((bits & (1u << i)) != 0) {
            if (!out.empty()) {
                out.push_back(',');
            }
            out.append(reason_names[i]);
        }
    }
    return out;
}

partial_score header_score(const bot_detect_config& c, const request_facts& f, bool expect_fetch_metadata,
                           bool tls_mismatch) {
    const auto& w = c.weights;
    partial_score s;
    switch (f.family) {
        case ua_family::none:
            s.add(w.empty_ua, reason::empty_ua);
            return s;
        case ua_family::automation:
        case ua_family::unknown:
            s.add(w.automation_ua, reason::automation_ua);
            return s;
        default:
            break;
    }
    // A browser: does it send what that browser always sends?
    if (expect_fetch_metadata && f.family != ua_family::other_browser &&
        (f.present & has::fetch_all) != has::fetch_all) {
        s.add(w.missing_fetch_metadata, reason::missing_fetch_metadata);
    }
    if (expect_fetch_metadata && f.family == ua_family::chromium && (f.present & has::sec_ch_ua) == 0) {
        s.add(w.missing_client_hints, reason::missing_client_hints);
    }
    if ((f.present & has::accept_language) == 0) {
        s.add(w.missing_accept_language, reason::missing_accept_language);
    }
    const bool gzip = (f.present & has::gzip) != 0;
    const bool br = (f.present & has::br) != 0;
    if (!gzip || (expect_fetch_metadata && f.family != ua_family::other_browser && !br)) {
        s.add(w.accept_encoding, reason::accept_encoding);
    }
    if (!order_matches(f.family, f.order)) {
        s.add(w.header_order, reason::header_order);
    }
    if (tls_mismatch) {
        s.add(w.tls_mismatch, reason::tls_mismatch);
    }
    return s;
}

void window_add(std::uint32_t& win, std::uint16_t& cur, std::uint16_t& prev, std::uint32_t now_window) {
    if (now_window != win) {
        prev = now_window == win + 1 ? cur : 0;
        cur = 0;
        win = now_window;
    }
    if (cur != 0xffff) {
        ++cur;
    }
}

double window_estimate(std::uint32_t win, std::uint16_t cur, std::uint16_t prev, std::uint32_t now_window,
                       double fraction_elapsed) {
    if (now_window == win) {
        return cur + prev * (1.0 - fraction_elapsed);
    }
    if (now_window == win + 1) {
        return cur * (1.0 - fraction_elapsed);
    }
    return 0;
}

float decayed(float score, std::uint32_t dt_s, duration_ms half_life) {
    if (score <= 0 || dt_s == 0) {
        return score;
    }
    const double hl = std::max<double>(1.0, static_cast<double>(half_life.count()) / 1000.0);
    const float v = static_cast<float>(score * std::exp2(-static_cast<double>(dt_s) / hl));
    return v < 0.5f ? 0.0f : v;
}

partial_score address_score(const bot_detect_config& c, const key_entry& e, double requests_10s, double tickets_min) {
    const auto& w = c.weights;
    const auto& l = c.limits;
    partial_score s;
    if (requests_10s > l.address_requests_per_10s) {
        s.add(w.address_rate, reason::address_rate);
    }
    if (tickets_min > l.address_tickets_per_minute) {
        s.add(w.ticket_farming, reason::ticket_farming);
    }
    if (e.answers >= l.min_responses && e.errors > l.error_share * e.answers) {
        s.add(w.error_share, reason::error_share);
    }
    return s;
}

partial_score prefix_score(const bot_detect_config& c, double tickets_min) {
    partial_score s;
    if (tickets_min > c.limits.prefix_tickets_per_minute) {
        s.add(c.weights.prefix_ticket_farming, reason::prefix_ticket_farming);
    }
    return s;
}

void record_poll(const bot_detect_config& c, key_entry& e, unix_ms now_ms) {
    const auto now32 = static_cast<std::uint32_t>(now_ms);
    const std::uint32_t last = e.last_poll_ms;
    e.last_poll_ms = poll_stamp(now_ms);
    e.admitted = 0;  // fast_form measures from the admission only, not from a later poll
    if (last == 0) {
        return;
    }
    const double interval_s = static_cast<double>(now32 - last) / 1000.0;
    if (interval_s > 24 * 3600.0) {
        return;  // serial wrap or a day away: not a poll rhythm
    }
    const double told = e.told_refresh_s;
    if (told > 0 && interval_s < told * (1.0 - c.limits.early_tolerance)) {
        e.early_polls = static_cast<std::uint8_t>(std::min(e.early_polls + 1, 255));
    }
    // Welford on interval / refresh told (the raw interval when nothing was told): a browser
    // polling at the told time ± jitter keeps a spread, a script keeps ratio 1.0 exactly.
    const double x = told > 0 ? interval_s / told : interval_s;
    if (told > 0 && x > 1.0 - exact_early && x < 1.0 + exact_late) {
        e.exact_run = static_cast<std::uint8_t>(std::min(e.exact_run + 1, 255));
    } else {
        e.exact_run = 0;
    }
    const double n = static_cast<double>(e.intervals) + 1.0;
    const double delta = x - e.interval_mean;
    const double mean = e.interval_mean + delta / n;
    e.interval_m2 = static_cast<float>(e.interval_m2 + delta * (x - mean));
    e.interval_mean = static_cast<float>(mean);
    if (e.intervals < 255) {
        ++e.intervals;
    } else {
        // Keep adapting: forget half the history.
        e.intervals = 128;
        e.interval_m2 /= 2;
    }
}

double poll_cv(const key_entry& e) {
    if (e.intervals < 2 || e.interval_mean <= 0) {
        return -1;
    }
    const double var = e.interval_m2 / (static_cast<double>(e.intervals) - 1.0);
    return std::sqrt(std::max(var, 0.0)) / e.interval_mean;
}

partial_score visitor_score(const bot_detect_config& c, const key_entry& e, double requests_10s) {
    const auto& w = c.weights;
    const auto& l = c.limits;
    partial_score s;
    if (requests_10s > l.visitor_requests_per_10s) {
        s.add(w.visitor_rate, reason::visitor_rate);
    }
    if (e.early_polls >= l.early_polls && l.early_polls > 0) {
        s.add(w.early_polls, reason::early_polls);
    }
    // Clockwork at the pace we told: consecutive intervals exactly at the refresh told, or the
    // ratios interval / refresh with a tiny spread around 1.0. A background tab throttled to one
    // timer a minute is regular too, but not at the told pace.
    bool clockwork = l.regular_min_intervals > 0 && e.exact_run >= l.regular_min_intervals;
    if (!clockwork && e.intervals >= std::max(l.regular_min_intervals, cv_min_intervals)) {
        const double cv = poll_cv(e);
        const bool at_told_pace = e.told_refresh_s == 0 || std::abs(e.interval_mean - 1.0) < told_pace_tolerance;
        clockwork = cv >= 0 && cv < l.regular_cv && at_told_pace;
    }
    if (clockwork) {
        s.add(w.regular_polls, reason::regular_polls);
    }
    if (static_cast<std::uint32_t>(std::popcount(e.prefix_bits)) > l.sharing_prefixes ||
        static_cast<std::uint32_t>(std::popcount(e.ua_bits)) > l.sharing_user_agents) {
        s.add(w.sharing, reason::sharing);
    }
    return s;
}

bool fast_form(const bot_detect_config& c, const key_entry& e, bool unsafe_method, unix_ms now_ms) {
    const auto min_ms = c.limits.min_form_time.count();
    if (!unsafe_method || min_ms <= 0 || e.admitted == 0 || e.last_poll_ms == 0) {
        return false;
    }
    const std::uint32_t since = static_cast<std::uint32_t>(now_ms) - e.last_poll_ms;  // serial arithmetic
    return since < static_cast<std::uint32_t>(min_ms);
}

}  // namespace anteroom::bot_detect
