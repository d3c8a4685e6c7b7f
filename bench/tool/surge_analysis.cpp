#include "bench/tool/surge_analysis.hpp"

#include <algorithm>

namespace anteroom::bench {

namespace {

std::optional<double> ratio(std::uint64_t num, std::uint64_t den) {
    if (den == 0) {
        return std::nullopt;
    }
    return static_cast<double>(num) / static_cast<double>(den);
}

// Counts, over inserted values, how many are greater than a bound (values compressed to ranks).
class fenwick {
public:
    explicit fenwick(std::size_t n) : t_(n + 1, 0) {}
    void add(std::size_t i) {
        for (++i; i < t_.size(); i += i & (~i + 1)) {
            ++t_[i];
        }
    }
    std::uint64_t prefix(std::size_t n) const {  // how many of ranks [0, n)
        std::uint64_t s = 0;
        for (std::size_t i = n; i > 0; i -= i & (~i + 1)) {
            s += t_[i];
        }
        return s;
    }

private:
    std::vector<std::uint64_t> t_;
};

}  // namespace

std::optional<double> fairness_result::share_in_order() const { return ratio(pairs - out_of_order, pairs); }
std::optional<double> confusion::precision() const { return ratio(tp, tp + fp); }
std::optional<double> confusion::recall() const { return ratio(tp, tp + fn); }
std::optional<double> eta_result::share_kept() const { return ratio(kept, kept + broken); }

std::optional<double> surge_figures::bot_share_of_admissions() const { return ratio(admitted_bots, admitted); }
std::optional<double> surge_figures::bot_share_of_appointments() const { return ratio(booked_bots, booked); }

fairness_result order_fairness(std::vector<std::pair<std::uint32_t, std::uint32_t>> points, std::uint32_t tolerance_ms) {
    fairness_result r;
    r.visitors = points.size();
    std::sort(points.begin(), points.end());
    std::vector<std::uint32_t> ranks;
    ranks.reserve(points.size());
    for (const auto& p : points) {
        ranks.push_back(p.second);
    }
    std::sort(ranks.begin(), ranks.end());
    ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
    fenwick seen(ranks.size());
    std::uint64_t inserted = 0;
    // Arrival groups: pairs inside a group (same arrival) are not ordered, so a group is first
    // compared with everything before it, then inserted.
    for (std::size_t i = 0; i < points.size();) {
        std::size_t j = i;
        while (j < points.size() && points[j].first == points[i].first) {
            ++j;
        }
        for (std::size_t k = i; k < j; ++k) {
            const std::uint64_t bound = std::uint64_t{points[k].second} + tolerance_ms;
            // Earlier arrivals admitted strictly after `bound` are out of order.
            const auto not_after = static_cast<std::size_t>(
                std::upper_bound(ranks.begin(), ranks.end(), bound,
                                 [](std::uint64_t b, std::uint32_t v) { return b < v; }) -
                ranks.begin());
            r.out_of_order += inserted - seen.prefix(not_after);
            r.pairs += inserted;
        }
        for (std::size_t k = i; k < j; ++k) {
            seen.add(static_cast<std::size_t>(std::lower_bound(ranks.begin(), ranks.end(), points[k].second) - ranks.begin()));
            ++inserted;
        }
        i = j;
    }
    return r;
}

surge_figures analyse(std::span<const visitor_record> visitors, const scenario& sc, std::uint32_t end_ms,
                      std::uint32_t fairness_tolerance_ms) {
    surge_figures f;
    f.fairness_tolerance_ms = fairness_tolerance_ms;
    f.cohorts.resize(sc.cohorts.size());
    for (std::size_t c = 0; c < sc.cohorts.size(); ++c) {
        f.cohorts[c].name = sc.cohorts[c].name;
        f.cohorts[c].kind = sc.cohorts[c].kind;
    }
    std::vector<std::pair<std::uint32_t, std::uint32_t>> points;
    std::uint32_t last_minute = 0;
    std::uint32_t first_minute = no_time;
    std::vector<std::uint64_t> minutes;
    for (const auto& v : visitors) {
        ++f.visitors;
        const bool bot = v.cohort < sc.cohorts.size() && is_bot(sc.cohorts[v.cohort].kind);
        auto& c = f.cohorts[std::min<std::size_t>(v.cohort, f.cohorts.size() - 1)];
        ++c.visitors;
        ++c.outcomes[static_cast<std::size_t>(v.result)];
        ++f.outcomes[static_cast<std::size_t>(v.result)];
        if (v.result == outcome::not_arrived) {
            continue;
        }
        ++f.arrived;
        ++c.arrived;
        c.requests += v.requests;
        c.challenged += (v.actions & action::challenged) != 0 ? 1 : 0;
        c.deprioritised += (v.actions & action::deprioritised) != 0 ? 1 : 0;
        c.denied += (v.actions & action::denied) != 0 ? 1 : 0;
        c.ticketed += (v.actions & action::ticket) != 0 ? 1 : 0;
        c.saw_server_error += (v.actions & action::server_error) != 0 ? 1 : 0;

        const bool acted = (v.actions & action::machine) != 0;
        if (bot) {
            ++(acted ? f.machine.tp : f.machine.fn);
        } else {
            ++(acted ? f.machine.fp : f.machine.tn);
        }

        const bool admitted = (v.actions & action::admitted) != 0 && v.admitted_ms != no_time;
        if (admitted) {
            ++c.admitted;
            ++f.admitted;
            f.admitted_bots += bot ? 1 : 0;
            const std::uint32_t minute = v.admitted_ms / 60000;
            if (minutes.size() <= minute) {
                minutes.resize(std::size_t{minute} + 1, 0);
            }
            ++minutes[minute];
            first_minute = std::min(first_minute, minute);
            last_minute = std::max(last_minute, minute);
            if (v.first_answer_ms != no_time && v.admitted_ms >= v.first_answer_ms) {
                c.wait_ms.record(v.admitted_ms - v.first_answer_ms);
                f.wait_ms.record(v.admitted_ms - v.first_answer_ms);
                if ((v.actions & action::prequeue) == 0) {
                    points.emplace_back(v.first_answer_ms, v.admitted_ms);
                }
            }
        }
        if ((v.actions & action::booked) != 0) {
            ++c.booked;
            ++f.booked;
            f.booked_bots += bot ? 1 : 0;
        }
        if (v.eta_deadline_ms != no_time) {
            ++f.eta.shown;
            if (admitted) {
                ++(v.admitted_ms <= v.eta_deadline_ms ? f.eta.kept : f.eta.broken);
            } else {
                // Never admitted: broken when it was still there after the bound.
                const std::uint32_t left = v.done_ms != no_time && v.result != outcome::waiting ? v.done_ms : end_ms;
                ++(left > v.eta_deadline_ms ? f.eta.broken : f.eta.open);
            }
        }
    }
    if (first_minute != no_time) {
        for (std::uint32_t m = first_minute; m <= last_minute; ++m) {
            f.per_minute.push_back({m, minutes[m]});
        }
    }
    f.fairness = order_fairness(points, 0);
    f.fairness_within = order_fairness(std::move(points), fairness_tolerance_ms);
    return f;
}

void surge_traffic::merge(const surge_traffic& o) {
    requests += o.requests;
    http.merge(o.http);
    connections_opened += o.connections_opened;
    connections_reused += o.connections_reused;
    cookie_overflow += o.cookie_overflow;
    booking_unavailable += o.booking_unavailable;
    booking_conflicts += o.booking_conflicts;
    cut_off += o.cut_off;
    challenge_solves += o.challenge_solves;
    challenge_cleared += o.challenge_cleared;
    challenge_refused += o.challenge_refused;
    challenge_hashes += o.challenge_hashes;
    challenge_cpu_us += o.challenge_cpu_us;
}

}  // namespace anteroom::bench
