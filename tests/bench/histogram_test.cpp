#include "bench/tool/histogram.hpp"

#include <gtest/gtest.h>

#include <random>

namespace anteroom::bench {

TEST(BenchHistogram, EmptyReportsZero) {
    histogram h;
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.percentile(0.5), 0u);
    EXPECT_EQ(h.max(), 0u);
    EXPECT_EQ(h.min(), 0u);
}

TEST(BenchHistogram, SmallValuesAreExact) {
    histogram h;
    for (std::uint64_t v = 1; v <= 100; ++v) {
        h.record(v);
    }
    EXPECT_EQ(h.percentile(0.5), 50u);
    EXPECT_EQ(h.percentile(0.9), 90u);
    EXPECT_EQ(h.percentile(0.99), 99u);
    EXPECT_EQ(h.percentile(1.0), 100u);
    EXPECT_EQ(h.min(), 1u);
    EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(BenchHistogram, BucketsAreContiguousAndWithinPrecision) {
    std::uint64_t expected_lower = 0;
    for (std::size_t i = 0; i < histogram::bucket_count; ++i) {
        const auto upper = histogram::upper_bound_of(i);
        ASSERT_EQ(histogram::index_of(expected_lower), i);
        ASSERT_EQ(histogram::index_of(upper), i);
        // Bucket width at most 1/64 of its lower bound (1.6 %) above the exact range.
        if (expected_lower >= 128) {
            ASSERT_LE(upper - expected_lower + 1, expected_lower / 64);
        }
        expected_lower = upper + 1;
    }
    EXPECT_EQ(expected_lower - 1, histogram::max_trackable);
    EXPECT_EQ(histogram::index_of(~0ULL), histogram::bucket_count - 1);  // clamped
}

TEST(BenchHistogram, PercentilesOfAWideDistributionAreWithinOnePointSixPercent) {
    histogram h;
    std::vector<std::uint64_t> values;
    std::mt19937_64 rng(7);
    std::lognormal_distribution<double> dist(7.0, 1.5);
    for (int i = 0; i < 100000; ++i) {
        const auto v = static_cast<std::uint64_t>(dist(rng)) + 1;
        values.push_back(v);
        h.record(v);
    }
    std::sort(values.begin(), values.end());
    for (double q : {0.5, 0.9, 0.99, 0.999}) {
        const auto exact = values[static_cast<std::size_t>(std::ceil(q * values.size())) - 1];
        const auto got = h.percentile(q);
        EXPECT_GE(got, exact) << q;
        EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * (1 + 1.0 / 64) + 1) << q;
    }
    EXPECT_EQ(h.percentile(1.0), values.back());
    EXPECT_EQ(h.max(), values.back());
}

TEST(BenchHistogram, MergeEqualsRecordingEverythingInOne) {
    histogram a;
    histogram b;
    histogram all;
    for (std::uint64_t v = 0; v < 5000; v += 3) {
        a.record(v * 7);
        all.record(v * 7);
    }
    for (std::uint64_t v = 1; v < 300000; v += 101) {
        b.record(v);
        all.record(v);
    }
    a.merge(b);
    EXPECT_EQ(a.count(), all.count());
    EXPECT_EQ(a.min(), all.min());
    EXPECT_EQ(a.max(), all.max());
    EXPECT_DOUBLE_EQ(a.mean(), all.mean());
    for (double q : {0.5, 0.9, 0.99, 0.999, 1.0}) {
        EXPECT_EQ(a.percentile(q), all.percentile(q)) << q;
    }
}

TEST(BenchHistogram, MergingAnEmptyHistogramChangesNothing) {
    histogram a;
    a.record(1000);
    a.merge(histogram{});
    EXPECT_EQ(a.min(), 1000u);
    EXPECT_EQ(a.count(), 1u);
    EXPECT_EQ(a.percentile(0.5), 1000u);  // clamped to the exact max
}

}  // namespace anteroom::bench
