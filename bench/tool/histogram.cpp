#include "bench/tool/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace anteroom::bench {

std::size_t histogram::index_of(std::uint64_t value) {
    value = std::min(value, max_trackable);
    if (value < (1ULL << sub_bits)) {
        return static_cast<std::size_t>(value);
    }
    const unsigned shift = static_cast<unsigned>(std::bit_width(value)) - sub_bits;  // >= 1
    const std::uint64_t top = value >> shift;                                      // 64..127
    return 128 + (shift - 1) * 64 + static_cast<std::size_t>(top - 64);
}

std::uint64_t histogram::upper_bound_of(std::size_t index) {
    if (index < 128) {
        return index;
    }
    const std::size_t shift = (index - 128) / 64 + 1;
    const std::uint64_t top = (index - 128) % 64 + 64;
    return ((top + 1) << shift) - 1;
}

void histogram::record(std::uint64_t value) {
    ++buckets_[index_of(value)];
    ++count_;
    sum_ += value;
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
}

void histogram::merge(const histogram& other) {
    for (std::size_t i = 0; i < bucket_count; ++i) {
        buckets_[i] += other.buckets_[i];
    }
    count_ += other.count_;
    sum_ += other.sum_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
}

std::uint64_t histogram::percentile(double q) const {
    if (count_ == 0) {
        return 0;
    }
    q = std::clamp(q, 0.0, 1.0);
    const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
        seen += buckets_[i];
        if (seen >= rank) {
            return std::clamp(upper_bound_of(i), min_, max_);
        }
    }
    return max_;
}

}  // namespace anteroom::bench
