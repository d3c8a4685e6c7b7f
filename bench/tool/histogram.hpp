#pragma once
// Log-linear latency histogram (HdrHistogram's layout, fixed precision): values below 128 have a
// bucket each; above, every power of two is split into 64 buckets, so a reported percentile is
// within 1/64 (1.6 %) of the true value. Fixed size, no allocation per record, mergeable: each
// bench thread keeps its own and they are merged at the end.

#include <array>
#include <cstdint>

namespace anteroom::bench {

class histogram {
public:
    static constexpr unsigned sub_bits = 7;                          // 128 exact values
    static constexpr std::uint64_t max_trackable = (1ULL << 40) - 1;  // larger values clamp here
    static constexpr std::size_t bucket_count = 128 + 33 * 64;       // up to bit 39

    void record(std::uint64_t value);
    void merge(const histogram& other);

    std::uint64_t count() const { return count_; }
    std::uint64_t min() const { return count_ == 0 ? 0 : min_; }
    std::uint64_t max() const { return max_; }  // exact (not bucketed)
    double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_); }
    // The value at quantile q (0..1]: the upper bound of the bucket holding the ceil(q*count)-th
    // value, never above max(). 0 when empty.
    std::uint64_t percentile(double q) const;

    static std::size_t index_of(std::uint64_t value);
    static std::uint64_t upper_bound_of(std::size_t index);  // largest value in that bucket

private:
    std::array<std::uint64_t, bucket_count> buckets_{};
    std::uint64_t count_ = 0;
    std::uint64_t sum_ = 0;
    std::uint64_t min_ = ~0ULL;
    std::uint64_t max_ = 0;
};

}  // namespace anteroom::bench
