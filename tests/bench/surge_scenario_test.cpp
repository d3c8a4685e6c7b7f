// The surge scenario parser: the shipped scenarios load, counts add up, and every bad file gets
// a "file:line: what is wrong" message naming the key.

#include "bench/tool/scenario.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "bench/tool/surge_model.hpp"

namespace anteroom::bench {

namespace {

const std::string minimal = R"(name = "t"
[target]
url = "http://127.0.0.1:8080/book"
[arrivals]
total = 100
[[cohort]]
name = "people"
kind = "human"
share = 0.7
[[cohort]]
name = "flood"
kind = "naive_flood"
share = 0.3
source = "127.9.0.1-127.9.0.8"
)";

// Parses `text`; expects failure with exactly one message containing "t.toml:<line>: " and `needle`.
void expect_error(const std::string& text, int line, std::string_view needle) {
    const auto r = parse_scenario(text, "t.toml");
    EXPECT_FALSE(r.sc.has_value());
    ASSERT_EQ(r.errors.size(), 1u) << (r.errors.empty() ? "" : r.errors.front() + " / " + r.errors.back());
    const std::string prefix = "t.toml:" + std::to_string(line) + ": ";
    EXPECT_TRUE(r.errors[0].starts_with(prefix)) << r.errors[0];
    EXPECT_NE(r.errors[0].find(needle), std::string::npos) << r.errors[0];
}

std::string with(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
}

}  // namespace

TEST(SurgeScenario, MinimalFileGetsDefaultsAndExactCounts) {
    const auto r = parse_scenario(minimal, "t.toml");
    ASSERT_TRUE(r.sc) << r.errors.front();
    const auto& sc = *r.sc;
    EXPECT_EQ(sc.total, 100u);
    ASSERT_EQ(sc.target.endpoints.size(), 1u);
    EXPECT_EQ(sc.target.endpoints[0].ip, "127.0.0.1");
    EXPECT_EQ(sc.target.endpoints[0].port, 8080);
    EXPECT_EQ(sc.target.endpoints[0].path, "/book");
    EXPECT_EQ(sc.target.room, "portal");
    ASSERT_EQ(sc.cohorts.size(), 2u);
    EXPECT_EQ(sc.cohorts[0].count, 70u);
    EXPECT_EQ(sc.cohorts[1].count, 30u);
    EXPECT_EQ(sc.cohorts[0].source_first, 0x7f000001u);  // 127.0.0.1 unless given
    EXPECT_EQ(sc.cohorts[1].source_first, 0x7f090001u);
    EXPECT_EQ(sc.cohorts[1].source_last, 0x7f090008u);
    EXPECT_FALSE(sc.cohorts[1].book);  // a flood never books
    EXPECT_EQ(sc.cohorts[1].kind, cohort_kind::naive_flood);
    EXPECT_EQ(sc.arrivals.shape, arrival_shape::poisson);
}

TEST(SurgeScenario, SharesAreSplitByLargestRemainderSoTheyAddUpToTheTotal) {
    std::string text = R"([target]
url = "http://127.0.0.1:1/"
[arrivals]
total = 10
)";
    for (const char* name : {"a", "b", "c"}) {
        text += std::string("[[cohort]]\nname = \"") + name + "\"\nkind = \"botnet\"\nshare = 0.3333333333\n";
    }
    text += "[[cohort]]\nname = \"d\"\nkind = \"human\"\nshare = 0.0000000001\n";
    const auto r = parse_scenario(text, "t.toml");
    ASSERT_TRUE(r.sc) << r.errors.front();
    std::uint64_t sum = 0;
    for (const auto& c : r.sc->cohorts) {
        sum += c.count;
    }
    EXPECT_EQ(sum, 10u);
}

TEST(SurgeScenario, CountsWithoutTotalMakeTheTotal) {
    const auto r = parse_scenario(R"([target]
url = "http://127.0.0.1:1/"
[[cohort]]
name = "a"
kind = "human"
count = 5
[[cohort]]
name = "b"
kind = "ticket_farmer"
count = 7
arrivals = { shape = "spike", start = "10s", early = 0.5, spread = "2s" }
)",
                                  "t.toml");
    ASSERT_TRUE(r.sc) << r.errors.front();
    EXPECT_EQ(r.sc->total, 12u);
    EXPECT_EQ(r.sc->cohorts[1].arrivals.shape, arrival_shape::spike);
    EXPECT_EQ(r.sc->cohorts[1].arrivals.start, std::chrono::seconds(10));
    EXPECT_EQ(r.sc->cohorts[0].arrivals.shape, arrival_shape::poisson);  // the global one
}

TEST(SurgeScenario, BadFilesNameTheLineAndTheProblem) {
    expect_error("name = \n", 1, "invalid TOML");
    expect_error(minimal + "color = 1\n", 15, "unknown key 'color' in [[cohort]]");
    expect_error(with(minimal, "[arrivals]\n", "[arrivals]\nshape = \"tsunami\"\n"), 5, "shape: expected \"spike\"");
    expect_error(with(minimal, "total = 100", "total = 100\nduration = \"forever\""), 6, "duration: 'forever' is not a duration");
    expect_error(with(minimal, "total = 100", "total = 100\nduration = 60"), 6, "expected a duration in quotes");
    expect_error(with(minimal, "kind = \"naive_flood\"", "kind = \"crawler\""), 12, "kind: expected one of human, naive_flood");
    expect_error(with(minimal, "share = 0.3", "share = 0.2"), 6, "the shares add up to 0.9, not 1");
    expect_error(with(minimal, "127.9.0.1-127.9.0.8", "10.0.0.1-10.0.0.8"), 14, "source: addresses must be in 127.0.0.0/8");
    expect_error(with(minimal, "127.9.0.1-127.9.0.8", "127.9.0.9-127.9.0.8"), 14, "the first address is above the last");
    expect_error(with(minimal, "http://127.0.0.1:8080/book", "https://127.0.0.1/"), 3, "url: the surge speaks plain HTTP only");
    expect_error(with(minimal, "http://127.0.0.1:8080/book", "http://[::1]:8080/"), 3, "the target must be IPv4");
    expect_error(with(minimal, "http://127.0.0.1:8080/book", "http://example.org/"), 3, "literal IP address");
    expect_error(with(minimal, "name = \"flood\"", "name = \"people\""), 10, "name 'people' is used twice");
    expect_error(with(minimal, "share = 0.3", "count = 30"), 6, "every cohort a share or every cohort a count");
    expect_error(with(minimal, "share = 0.3", "share = 0.3\ncount = 30"), 14, "either share or count");
    expect_error(with(minimal, "share = 0.3\n", ""), 10, "needs a share");
    expect_error(with(minimal, "kind = \"human\"", "kind = \"human\"\npoll_jitter = 2"), 9, "poll_jitter: 2 is outside 0..0.9");
    expect_error(with(minimal, "kind = \"human\"", "kind = \"human\"\nthink_time = \"8s-2s\""), 9, "must run from low to high");
    expect_error(with(minimal, "kind = \"human\"", "kind = \"human\"\nbook = \"yes\""), 9, "book: expected true or false");
    expect_error(with(minimal, "[arrivals]\n", "[run]\nthreads = 0\n[arrivals]\n"), 5, "threads: 0 is outside 1..64");
    expect_error(with(minimal, "[arrivals]\n", "[arrivals]\nearly = 0.2\n"), 5, "only a \"spike\" has early arrivals");
    expect_error(with(minimal, "[target]\n", "[target]\nqueued_status_code = 204\n"), 3, "200, 202 or 429");
    expect_error("[target]\nurl = \"http://127.0.0.1:1/\"\n", 1, "at least one [[cohort]] is required");
    expect_error(with(minimal, "[target]\nurl = \"http://127.0.0.1:8080/book\"\n", ""), 1, "a [target] table with the url is required");
    expect_error(with(minimal, "[[cohort]]\nname = \"people\"\n", "[[cohort]]\n"), 6, "needs a name");
}

TEST(SurgeScenario, ManyProblemsAreAllReportedInFileOrder) {
    const auto r = parse_scenario(with(with(minimal, "kind = \"human\"", "kind = \"alien\""), "share = 0.3", "share = 7"),
                                  "t.toml");
    ASSERT_FALSE(r.sc);
    ASSERT_GE(r.errors.size(), 2u);
    EXPECT_NE(r.errors[0].find("t.toml:8: kind"), std::string::npos) << r.errors[0];
    EXPECT_NE(r.errors[1].find("t.toml:13: share: 7 is outside 0..1"), std::string::npos) << r.errors[1];
}

TEST(SurgeScenario, ShippedScenariosLoad) {
    for (const char* name : {"launch-day", "steady", "botnet"}) {
        const auto r = load_scenario(std::string(ANTEROOM_SOURCE_DIR) + "/bench/scenarios/" + name + ".toml");
        ASSERT_TRUE(r.sc) << name << ": " << r.errors.front();
        EXPECT_EQ(r.sc->name, name);
    }
    const auto launch = load_scenario(std::string(ANTEROOM_SOURCE_DIR) + "/bench/scenarios/launch-day.toml");
    ASSERT_TRUE(launch.sc);
    std::uint64_t humans = 0;
    std::uint64_t bots = 0;
    for (const auto& c : launch.sc->cohorts) {
        (is_bot(c.kind) ? bots : humans) += c.count;
        if (c.kind == cohort_kind::human) {
            EXPECT_EQ(c.priority_group, 1u);
        }
    }
    EXPECT_EQ(humans, 50'000u);
    EXPECT_EQ(bots, 9 * humans);  // nine bots per person
    // Every bot kind of the issue is in the launch day.
    for (std::size_t k = 1; k < cohort_kind_count; ++k) {
        EXPECT_TRUE(std::any_of(launch.sc->cohorts.begin(), launch.sc->cohorts.end(),
                                [&](const cohort_spec& c) { return c.kind == static_cast<cohort_kind>(k); }))
            << to_string(static_cast<cohort_kind>(k));
    }
    EXPECT_FALSE(load_scenario("/nonexistent/x.toml").sc);
}

TEST(SurgeScenario, ScalingKeepsEveryCohort) {
    auto r = parse_scenario(minimal, "t.toml");
    ASSERT_TRUE(r.sc);
    scale_scenario(*r.sc, 0.001);
    EXPECT_EQ(r.sc->cohorts[0].count, 1u);
    EXPECT_EQ(r.sc->cohorts[1].count, 1u);
    EXPECT_EQ(r.sc->total, 2u);
}

TEST(SurgeArrivals, ShapesStayInsideTheirWindowSortedAndDeterministic) {
    arrival_spec a;
    a.start = std::chrono::seconds(10);
    a.duration = std::chrono::seconds(60);
    for (auto shape : {arrival_shape::poisson, arrival_shape::ramp, arrival_shape::spike}) {
        a.shape = shape;
        a.early = shape == arrival_shape::spike ? 0.1 : 0.0;
        const auto t = arrival_times(a, 20000, 42);
        ASSERT_EQ(t.size(), 20000u);
        EXPECT_TRUE(std::is_sorted(t.begin(), t.end()));
        EXPECT_LE(t.back(), 70000u) << to_string(shape);
        EXPECT_EQ(t, arrival_times(a, 20000, 42));
        const auto before = static_cast<double>(std::lower_bound(t.begin(), t.end(), 10000u) - t.begin());
        const auto first_half = static_cast<double>(std::lower_bound(t.begin(), t.end(), 40000u) - t.begin()) - before;
        switch (shape) {
            case arrival_shape::poisson:
                EXPECT_EQ(before, 0);
                EXPECT_NEAR(first_half / 20000, 0.5, 0.02);
                break;
            case arrival_shape::ramp:
                EXPECT_NEAR(first_half / 20000, 0.25, 0.02);  // a linear ramp: a quarter in the first half
                break;
            case arrival_shape::spike:
                EXPECT_NEAR(before / 20000, 0.1, 0.01);           // the early ones
                EXPECT_GT(first_half / 20000, 0.85);               // the burst right after the start
                break;
        }
    }
}

TEST(SurgeArrivals, VisitorsAreSortedAndTakeAddressesFromTheirRange) {
    auto r = parse_scenario(minimal, "t.toml");
    ASSERT_TRUE(r.sc);
    const auto v = make_visitors(*r.sc);
    ASSERT_EQ(v.size(), 100u);
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.arrival_ms < b.arrival_ms; }));
    std::size_t flood = 0;
    for (const auto& x : v) {
        EXPECT_EQ(x.result, outcome::not_arrived);
        if (x.cohort == 1) {
            ++flood;
            EXPECT_GE(x.source, 0x7f090001u);
            EXPECT_LE(x.source, 0x7f090008u);
        }
    }
    EXPECT_EQ(flood, 30u);
}

}  // namespace anteroom::bench
