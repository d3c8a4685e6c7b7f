#pragma once
// What the operations console charts: one sample per second of the process's own /metrics,
// kept for 30 minutes. Gauges are taken as they are; "per minute" figures, wait and upstream
// latency percentiles, the error rate and ETA accuracy come from the counters' and histograms'
// growth over the last `window` (60 s), as Prometheus' rate() and histogram_quantile() would
// compute them from the same scrapes. Pure: the caller passes the time and the metrics text.

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace anteroom::console {

using unix_ms = std::int64_t;

struct room_point {
    std::string id;
    double waiting = 0, active = 0, max_active_users = 0, new_users_per_minute = 0;
    double admitted_per_minute = 0;
    std::optional<double> wait_p50_s, wait_p90_s;  // nullopt: nobody admitted in the window
    std::optional<double> eta_accuracy;            // share admitted by the ETA high bound they were shown
    std::optional<double> available;               // appointments left; nullopt: unknown
};

inline constexpr std::array<std::string_view, 4> bot_bands{"allow", "challenge", "deprioritise", "deny"};

struct sample {
    unix_ms t = 0;
    std::vector<room_point> rooms;
    double requests_per_minute = 0;
    std::optional<double> upstream_p50_ms, upstream_p99_ms;  // nullopt: no upstream response in the window
    std::optional<double> error_rate;                        // 5xx answers / answers; nullopt: no answers
    std::array<double, bot_bands.size()> bots_per_minute{};
};

struct reason_rate {
    std::string reason;
    double per_minute = 0;
};

// Quantile q of a cumulative histogram given as (upper bound, cumulative count) pairs sorted by
// bound, the last bound +Inf — the interpolation of Prometheus' histogram_quantile(). nullopt
// when it holds no observations.
std::optional<double> histogram_quantile(double q, const std::vector<std::pair<double, double>>& buckets);

class live_recorder {
public:
    static constexpr std::size_t default_capacity = 1800;  // 30 minutes of 1 s samples
    static constexpr std::size_t max_rooms = 64;            // per sample; more rooms are not charted
    static constexpr std::size_t max_reasons = 5;

    explicit live_recorder(std::size_t capacity = default_capacity, unix_ms window_ms = 60'000);

    // One sample from a scrape of the metrics taken at `now` (times must not go backwards;
    // a sample at or before the last one is ignored).
    void record(unix_ms now, std::string_view metrics_text);

    std::size_t size() const { return samples_.size(); }
    unix_ms window_ms() const { return window_ms_; }
    const sample* latest() const { return samples_.empty() ? nullptr : &samples_.back(); }
    // Bot detection's reasons with the most requests in the last window, most first.
    const std::vector<reason_rate>& top_reasons() const { return top_reasons_; }

    // The samples newer than `since`, oldest first, as the console's JSON (docs/api.md).
    nlohmann::json samples_json(unix_ms since) const;

private:
    struct room_raw {
        double admitted = 0, eta_kept = 0, eta_missed = 0;
        std::vector<std::pair<double, double>> wait_buckets;
    };
    struct raw {
        unix_ms t = 0;
        std::map<std::string, room_raw, std::less<>> rooms;
        std::vector<std::pair<double, double>> upstream_buckets;  // summed over upstreams
        double answers = 0, answers_5xx = 0;
        std::array<double, bot_bands.size()> bots{};
        std::map<std::string, double, std::less<>> reasons;
    };

    std::size_t capacity_;
    unix_ms window_ms_;
    std::deque<sample> samples_;
    std::deque<raw> raws_;  // the scrapes of the last window (and the one just before it)
    std::vector<reason_rate> top_reasons_;
};

}  // namespace anteroom::console
