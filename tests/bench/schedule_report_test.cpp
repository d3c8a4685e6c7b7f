#include <gtest/gtest.h>

#include "bench/tool/report.hpp"
#include "bench/tool/schedule.hpp"

namespace anteroom::bench {

using namespace std::chrono_literals;
using clock = schedule::clock;

TEST(BenchSchedule, FixedRateSlotsAreDueAtIntendedTimesEvenWhenTakenLate) {
    const auto t0 = clock::time_point{} + 1h;
    schedule s(t0, 1000, std::nullopt, t0 + 10ms);
    // Taken late (a stall): the due times stay on the grid, so the stall shows as latency.
    const auto late = t0 + 5s;
    for (int k = 0; k < 10; ++k) {
        const auto due = s.next(late);
        ASSERT_TRUE(due);
        EXPECT_EQ(*due, t0 + std::chrono::milliseconds(k));
    }
    EXPECT_FALSE(s.next(late));  // the slot at t0 + 10ms is at the end
    EXPECT_EQ(s.taken(), 10u);
}

TEST(BenchSchedule, ClosedLoopSlotIsDueWhenTakenUntilTheEnd) {
    const auto t0 = clock::time_point{} + 1h;
    schedule s(t0, 0, std::nullopt, t0 + 1s);
    EXPECT_EQ(s.next(t0 + 3ms), t0 + 3ms);
    EXPECT_FALSE(s.next(t0 + 1s));
    EXPECT_FALSE(s.next(t0 + 2ms));  // over means over
}

TEST(BenchSchedule, RequestLimitAndStop) {
    const auto t0 = clock::time_point{} + 1h;
    schedule s(t0, 0, 3, clock::time_point::max());
    EXPECT_TRUE(s.next(t0));
    EXPECT_TRUE(s.next(t0));
    EXPECT_TRUE(s.next(t0));
    EXPECT_FALSE(s.next(t0));
    schedule r(t0, 0, std::nullopt, clock::time_point::max());
    r.stop();
    EXPECT_FALSE(r.next(t0));
}

TEST(BenchReport, CountsMergeAndRenderEveryFigure) {
    raw_options o;
    o.host_header = "127.0.0.1:8080";
    o.paths = {"/"};
    raw_stats a;
    a.attempts = 4;
    a.count_status(200);
    a.count_status(204);
    a.count_status(404);
    a.count_error(error_kind::closed);
    a.latency_us.record(100);
    raw_stats b;
    b.attempts = 2;
    b.count_status(503);
    b.count_error(error_kind::timeout);
    b.latency_us.record(3000);
    a.merge(b);
    EXPECT_EQ(a.attempts, a.responses + a.error_total());

    raw_report r{&o, 2s, a};
    EXPECT_DOUBLE_EQ(r.requests_per_second(), 2.0);
    const auto j = to_json(r);
    EXPECT_EQ(j["attempts"], 6);
    EXPECT_EQ(j["responses"], 4);
    EXPECT_EQ(j["status"]["2xx"], 2);
    EXPECT_EQ(j["status"]["4xx"], 1);
    EXPECT_EQ(j["status"]["5xx"], 1);
    EXPECT_EQ(j["errors"]["closed"], 1);
    EXPECT_EQ(j["errors"]["timeout"], 1);
    EXPECT_EQ(j["errors"]["total"], 2);
    EXPECT_EQ(j["latency_us"]["max"], 3000);
    EXPECT_EQ(j["latency_us"]["p50"], 100);
    for (const char* k : {"p90", "p99", "p99.9", "min", "mean"}) {
        EXPECT_TRUE(j["latency_us"].contains(k)) << k;
    }
    const auto text = format_text(r);
    EXPECT_NE(text.find("2.0 requests/s"), std::string::npos) << text;
    EXPECT_NE(text.find("p99.9"), std::string::npos);
    EXPECT_NE(text.find("timeout 1"), std::string::npos);
    EXPECT_NE(text.find("5xx 1"), std::string::npos);
}

}  // namespace anteroom::bench
