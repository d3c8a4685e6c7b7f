#include "bench/tool/schedule.hpp"

#include <cmath>

namespace anteroom::bench {

schedule::schedule(clock::time_point start, double rate, std::optional<std::uint64_t> limit, clock::time_point end)
    : start_(start), end_(end), interval_ns_(rate > 0 ? 1e9 / rate : 0), limit_(limit) {}

std::optional<schedule::clock::time_point> schedule::next(clock::time_point now) {
    if (stopped_ || (limit_ && taken_ >= *limit_)) {
        return std::nullopt;
    }
    clock::time_point due = now;
    if (interval_ns_ > 0) {
        // Computed from the slot number, not accumulated, so rounding does not drift.
        due = start_ + std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(interval_ns_ * static_cast<double>(taken_))));
    }
    if (due >= end_) {
        stopped_ = true;
        return std::nullopt;
    }
    ++taken_;
    return due;
}

}  // namespace anteroom::bench
