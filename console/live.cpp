#include "console/live.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "console/prom_text.hpp"

namespace anteroom::console {

namespace {

// Adds a bucket's cumulative count to a histogram kept as (le, cumulative) sorted by le.
void add_bucket(std::vector<std::pair<double, double>>& h, double le, double count) {
    auto it = std::lower_bound(h.begin(), h.end(), le, [](const auto& b, double v) { return b.first < v; });
    if (it != h.end() && it->first == le) {
        it->second += count;
    } else {
        h.insert(it, {le, count});
    }
}

// now − then per bucket (a bucket missing in `then` counts from zero; never negative).
std::vector<std::pair<double, double>> bucket_growth(const std::vector<std::pair<double, double>>& now,
                                                     const std::vector<std::pair<double, double>>* then) {
    std::vector<std::pair<double, double>> out = now;
    if (then != nullptr) {
        for (auto& [le, c] : out) {
            auto it = std::lower_bound(then->begin(), then->end(), le, [](const auto& b, double v) { return b.first < v; });
            if (it != then->end() && it->first == le) {
                c = std::max(0.0, c - it->second);
            }
        }
    }
    return out;
}

double growth(double now, double then) { return std::max(0.0, now - then); }

nlohmann::json opt(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

// Rounded for the page: three significant decimals are plenty on a chart.
double round3(double v) { return std::round(v * 1000.0) / 1000.0; }
nlohmann::json opt3(const std::optional<double>& v) { return v ? nlohmann::json(round3(*v)) : nlohmann::json(nullptr); }

}  // namespace

std::optional<double> histogram_quantile(double q, const std::vector<std::pair<double, double>>& buckets) {
    if (buckets.empty() || !std::isinf(buckets.back().first)) {
        return std::nullopt;
    }
    const double total = buckets.back().second;
    if (!(total > 0)) {
        return std::nullopt;
    }
    const double rank = q * total;
    double prev_le = 0, prev_count = 0;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
        const auto [le, count] = buckets[i];
        if (count >= rank) {
            if (std::isinf(le)) {
                return i == 0 ? 0.0 : buckets[i - 1].first;  // above the highest bound: that bound
            }
            const double in_bucket = count - prev_count;
            return in_bucket > 0 ? prev_le + (le - prev_le) * (rank - prev_count) / in_bucket : le;
        }
        prev_le = le;
        prev_count = count;
    }
    return buckets[buckets.size() - 2].first;
}

live_recorder::live_recorder(std::size_t capacity, unix_ms window_ms)
    : capacity_(std::max<std::size_t>(capacity, 1)), window_ms_(std::max<unix_ms>(window_ms, 1)) {}

void live_recorder::record(unix_ms now, std::string_view metrics_text) {
    if (!samples_.empty() && now <= samples_.back().t) {
        return;
    }
    raw cur;
    cur.t = now;
    sample s;
    s.t = now;
    std::map<std::string, room_point, std::less<>> rooms;
    const auto room_slot = [&](const std::string& labels) -> room_point* {
        auto id = label_of(labels, "room");
        if (!id) {
            return nullptr;
        }
        auto it = rooms.find(*id);
        if (it == rooms.end()) {
            if (rooms.size() >= max_rooms) {
                return nullptr;
            }
            it = rooms.emplace(*id, room_point{}).first;
            it->second.id = *id;
        }
        return &it->second;
    };
    for (const auto& m : parse_prom_text(metrics_text)) {
        const std::string_view n = m.name;
        if (!n.starts_with("anteroom_")) {
            continue;
        }
        if (n.starts_with("anteroom_room_")) {
            room_point* p = room_slot(m.labels);
            if (p == nullptr) {
                continue;
            }
            room_raw& r = cur.rooms[p->id];
            if (n == "anteroom_room_waiting") {
                p->waiting = m.value;
            } else if (n == "anteroom_room_active") {
                p->active = m.value;
            } else if (n == "anteroom_room_max_active_users") {
                p->max_active_users = m.value;
            } else if (n == "anteroom_room_new_users_per_minute") {
                p->new_users_per_minute = m.value;
            } else if (n == "anteroom_room_available") {
                p->available = m.value >= 0 ? std::optional<double>(m.value) : std::nullopt;
            } else if (n == "anteroom_room_admitted_total") {
                r.admitted = m.value;
            } else if (n == "anteroom_room_eta_kept_total") {
                r.eta_kept = m.value;
            } else if (n == "anteroom_room_eta_missed_total") {
                r.eta_missed = m.value;
            } else if (n == "anteroom_room_wait_seconds_bucket") {
                if (auto le = label_of(m.labels, "le")) {
                    add_bucket(r.wait_buckets, *le == "+Inf" ? HUGE_VAL : std::strtod(le->c_str(), nullptr), m.value);
                }
            }
        } else if (n == "anteroom_upstream_response_seconds_bucket") {
            if (auto le = label_of(m.labels, "le")) {
                add_bucket(cur.upstream_buckets, *le == "+Inf" ? HUGE_VAL : std::strtod(le->c_str(), nullptr), m.value);
            }
        } else if (n == "anteroom_requests_total") {
            cur.answers += m.value;
            if (label_of(m.labels, "class") == "5xx") {
                cur.answers_5xx += m.value;
            }
        } else if (n == "anteroom_bot_decisions_total") {
            const auto band = label_of(m.labels, "action");
            for (std::size_t i = 0; i < bot_bands.size(); ++i) {
                if (band && *band == bot_bands[i]) {
                    cur.bots[i] += m.value;
                }
            }
        } else if (n == "anteroom_bot_reasons_total") {
            if (auto reason = label_of(m.labels, "reason"); reason && cur.reasons.size() < 64) {
                cur.reasons[*reason] += m.value;
            }
        }
    }

    raws_.push_back(std::move(cur));
    // Keep the newest scrape at least `window` old as the base of the growth figures.
    while (raws_.size() > 2 && raws_[1].t <= now - window_ms_) {
        raws_.pop_front();
    }
    const raw& c = raws_.back();
    const raw* base = raws_.size() > 1 ? &raws_.front() : nullptr;
    const double per_minute = base != nullptr ? 60'000.0 / static_cast<double>(now - base->t) : 0.0;

    for (auto& [id, p] : rooms) {
        const room_raw& r = c.rooms.at(id);
        const room_raw* b = nullptr;
        if (base != nullptr) {
            if (auto it = base->rooms.find(id); it != base->rooms.end()) {
                b = &it->second;
            }
        }
        p.admitted_per_minute = b != nullptr ? round3(growth(r.admitted, b->admitted) * per_minute) : 0;
        const auto wait = bucket_growth(r.wait_buckets, b != nullptr ? &b->wait_buckets : nullptr);
        if (b != nullptr) {
            p.wait_p50_s = histogram_quantile(0.5, wait);
            p.wait_p90_s = histogram_quantile(0.9, wait);
            const double kept = growth(r.eta_kept, b->eta_kept), missed = growth(r.eta_missed, b->eta_missed);
            if (kept + missed > 0) {
                p.eta_accuracy = kept / (kept + missed);
            }
        }
        s.rooms.push_back(std::move(p));
    }
    if (base != nullptr) {
        const double answers = growth(c.answers, base->answers);
        s.requests_per_minute = round3(answers * per_minute);
        if (answers > 0) {
            s.error_rate = growth(c.answers_5xx, base->answers_5xx) / answers;
        }
        const auto up = bucket_growth(c.upstream_buckets, &base->upstream_buckets);
        if (auto q = histogram_quantile(0.5, up)) {
            s.upstream_p50_ms = *q * 1000.0;
        }
        if (auto q = histogram_quantile(0.99, up)) {
            s.upstream_p99_ms = *q * 1000.0;
        }
        for (std::size_t i = 0; i < bot_bands.size(); ++i) {
            s.bots_per_minute[i] = round3(growth(c.bots[i], base->bots[i]) * per_minute);
        }
        top_reasons_.clear();
        for (const auto& [reason, v] : c.reasons) {
            const auto it = base->reasons.find(reason);
            const double g = growth(v, it == base->reasons.end() ? 0.0 : it->second);
            if (g > 0) {
                top_reasons_.push_back({reason, round3(g * per_minute)});
            }
        }
        std::stable_sort(top_reasons_.begin(), top_reasons_.end(),
                         [](const reason_rate& a, const reason_rate& b) { return a.per_minute > b.per_minute; });
        if (top_reasons_.size() > max_reasons) {
            top_reasons_.resize(max_reasons);
        }
    }
    samples_.push_back(std::move(s));
    while (samples_.size() > capacity_) {
        samples_.pop_front();
    }
}

nlohmann::json live_recorder::samples_json(unix_ms since) const {
    nlohmann::json out = nlohmann::json::array();
    auto it = std::upper_bound(samples_.begin(), samples_.end(), since,
                               [](unix_ms t, const sample& s) { return t < s.t; });
    for (; it != samples_.end(); ++it) {
        const sample& s = *it;
        nlohmann::json rooms = nlohmann::json::object();
        for (const auto& p : s.rooms) {
            rooms[p.id] = {{"waiting", p.waiting},
                           {"active", p.active},
                           {"max_active_users", p.max_active_users},
                           {"new_users_per_minute", p.new_users_per_minute},
                           {"admitted_per_minute", p.admitted_per_minute},
                           {"wait_p50_s", opt3(p.wait_p50_s)},
                           {"wait_p90_s", opt3(p.wait_p90_s)},
                           {"eta_accuracy", opt3(p.eta_accuracy)},
                           {"available", opt(p.available)}};
        }
        nlohmann::json bots = nlohmann::json::object();
        for (std::size_t i = 0; i < bot_bands.size(); ++i) {
            bots[std::string(bot_bands[i])] = s.bots_per_minute[i];
        }
        out.push_back({{"t", s.t},
                       {"rooms", std::move(rooms)},
                       {"upstream", {{"requests_per_minute", s.requests_per_minute},
                                     {"p50_ms", opt3(s.upstream_p50_ms)},
                                     {"p99_ms", opt3(s.upstream_p99_ms)},
                                     {"error_rate", opt(s.error_rate)}}},
                       {"bots", std::move(bots)}});
    }
    return out;
}

}  // namespace anteroom::console
