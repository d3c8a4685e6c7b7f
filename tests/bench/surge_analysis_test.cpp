// The surge's arithmetic on hand-made traces: order fairness, precision and recall of machine
// actions, ETA accuracy, per-cohort shares and the bots' share of admissions and appointments.

#include "bench/tool/surge_analysis.hpp"

#include <gtest/gtest.h>

#include <random>

namespace anteroom::bench {

namespace {

using points = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

// O(n²) reference for order_fairness.
fairness_result brute(const points& p, std::uint32_t tol) {
    fairness_result r;
    r.visitors = p.size();
    for (const auto& a : p) {
        for (const auto& b : p) {
            if (a.first < b.first) {
                ++r.pairs;
                r.out_of_order += a.second > std::uint64_t{b.second} + tol ? 1 : 0;
            }
        }
    }
    return r;
}

scenario two_cohorts() {
    scenario sc;
    sc.name = "hand-made";
    sc.cohorts.resize(2);
    sc.cohorts[0].name = "people";
    sc.cohorts[0].kind = cohort_kind::human;
    sc.cohorts[1].name = "bots";
    sc.cohorts[1].kind = cohort_kind::botnet;
    sc.target.new_users_per_minute = 60;
    return sc;
}

visitor_record visitor(std::uint8_t cohort, outcome o, std::uint32_t first, std::uint32_t admitted, std::uint8_t actions) {
    visitor_record v;
    v.cohort = cohort;
    v.result = o;
    v.first_answer_ms = first;
    v.admitted_ms = admitted;
    v.actions = actions;
    return v;
}

}  // namespace

TEST(SurgeFairness, InOrderAdmissionsAreFairAndOneSwapIsOnePair) {
    const auto fair = order_fairness({{1, 10}, {2, 20}, {3, 30}, {4, 40}}, 0);
    EXPECT_EQ(fair.pairs, 6u);
    EXPECT_EQ(fair.out_of_order, 0u);
    EXPECT_DOUBLE_EQ(*fair.share_in_order(), 1.0);

    // Visitors 2 and 3 swapped: one pair of six out of order.
    const auto swapped = order_fairness({{1, 10}, {2, 30}, {3, 20}, {4, 40}}, 0);
    EXPECT_EQ(swapped.pairs, 6u);
    EXPECT_EQ(swapped.out_of_order, 1u);
    EXPECT_NEAR(*swapped.share_in_order(), 5.0 / 6.0, 1e-12);

    // Fully reversed: every pair out of order; within a tolerance of 20 only the outer ones.
    const points reversed{{1, 40}, {2, 30}, {3, 20}, {4, 10}};
    EXPECT_EQ(order_fairness(reversed, 0).out_of_order, 6u);
    EXPECT_EQ(order_fairness(reversed, 20).out_of_order, 1u);  // (1,4): 40 > 10 + 20
    EXPECT_EQ(order_fairness(reversed, 10).out_of_order, 3u);  // (1,3), (1,4), (2,4)
}

TEST(SurgeFairness, SameArrivalMakesNoPairAndSameAdmissionIsInOrder) {
    const auto r = order_fairness({{5, 10}, {5, 20}, {5, 30}}, 0);
    EXPECT_EQ(r.pairs, 0u);
    EXPECT_FALSE(r.share_in_order().has_value());
    const auto ties = order_fairness({{1, 10}, {2, 10}, {3, 10}}, 0);
    EXPECT_EQ(ties.pairs, 3u);
    EXPECT_EQ(ties.out_of_order, 0u);
    EXPECT_FALSE(order_fairness({}, 0).share_in_order().has_value());
}

TEST(SurgeFairness, MatchesTheQuadraticDefinitionOnRandomTraces) {
    std::mt19937 rng(7);
    for (int round = 0; round < 50; ++round) {
        points p;
        const int n = 1 + static_cast<int>(rng() % 60);
        for (int i = 0; i < n; ++i) {
            p.emplace_back(rng() % 20, rng() % 40);  // many ties on both sides
        }
        for (std::uint32_t tol : {0u, 3u, 15u}) {
            const auto fast = order_fairness(p, tol);
            const auto slow = brute(p, tol);
            EXPECT_EQ(fast.pairs, slow.pairs);
            EXPECT_EQ(fast.out_of_order, slow.out_of_order) << "round " << round << " tol " << tol;
        }
    }
}

TEST(SurgeConfusion, PrecisionAndRecallOfMachineActions) {
    const auto sc = two_cohorts();
    std::vector<visitor_record> v;
    // 4 humans: one challenged (a false positive).
    v.push_back(visitor(0, outcome::booked, 100, 200, action::ticket | action::admitted | action::booked));
    v.push_back(visitor(0, outcome::admitted, 110, 210, action::ticket | action::admitted));
    v.push_back(visitor(0, outcome::waiting, 120, no_time, action::ticket));
    v.push_back(visitor(0, outcome::admitted, 130, 230, action::ticket | action::admitted | action::challenged));
    // 6 bots: 3 acted on (challenge, deprioritise, deny), 3 not; one of those got in and booked.
    v.push_back(visitor(1, outcome::denied, 100, no_time, action::denied));
    v.push_back(visitor(1, outcome::waiting, 100, no_time, action::ticket | action::challenged));
    v.push_back(visitor(1, outcome::waiting, 100, no_time, action::ticket | action::deprioritised));
    v.push_back(visitor(1, outcome::booked, 140, 240, action::ticket | action::admitted | action::booked));
    v.push_back(visitor(1, outcome::waiting, 150, no_time, action::ticket));
    v.push_back(visitor(1, outcome::not_arrived, no_time, no_time, 0));  // never arrived: left out

    const auto f = analyse(v, sc, 1000, 0);
    EXPECT_EQ(f.visitors, 10u);
    EXPECT_EQ(f.arrived, 9u);
    EXPECT_EQ(f.machine.tp, 3u);
    EXPECT_EQ(f.machine.fp, 1u);
    EXPECT_EQ(f.machine.fn, 2u);
    EXPECT_EQ(f.machine.tn, 3u);
    EXPECT_DOUBLE_EQ(*f.machine.precision(), 0.75);
    EXPECT_DOUBLE_EQ(*f.machine.recall(), 0.6);

    EXPECT_EQ(f.admitted, 4u);
    EXPECT_EQ(f.admitted_bots, 1u);
    EXPECT_DOUBLE_EQ(*f.bot_share_of_admissions(), 0.25);
    EXPECT_EQ(f.booked, 2u);
    EXPECT_DOUBLE_EQ(*f.bot_share_of_appointments(), 0.5);

    const auto& bots = f.cohorts[1];
    EXPECT_EQ(bots.visitors, 6u);
    EXPECT_EQ(bots.arrived, 5u);
    EXPECT_EQ(bots.challenged, 1u);
    EXPECT_EQ(bots.deprioritised, 1u);
    EXPECT_EQ(bots.denied, 1u);
    EXPECT_EQ(bots.admitted, 1u);
    EXPECT_EQ(bots.outcomes[static_cast<std::size_t>(outcome::not_arrived)], 1u);
    // Every visitor in exactly one outcome, per cohort and overall.
    std::uint64_t sum = 0;
    for (auto n : f.outcomes) {
        sum += n;
    }
    EXPECT_EQ(sum, f.visitors);

    // Admissions at 200..240 ms: all in minute 0; waits of 100 ms each.
    ASSERT_EQ(f.per_minute.size(), 1u);
    EXPECT_EQ(f.per_minute[0].admitted, 4u);
    EXPECT_EQ(f.wait_ms.count(), 4u);
    EXPECT_EQ(f.wait_ms.max(), 100u);
    // Admitted in arrival order: 4 admitted, 6 pairs, all fair.
    EXPECT_EQ(f.fairness.pairs, 6u);
    EXPECT_EQ(f.fairness.out_of_order, 0u);
}

TEST(SurgeConfusion, NothingActedOnHasNoPrecisionAndNoBotsNoRecall) {
    const auto sc = two_cohorts();
    std::vector<visitor_record> v{visitor(0, outcome::waiting, 1, no_time, action::ticket)};
    const auto f = analyse(v, sc, 1000, 0);
    EXPECT_FALSE(f.machine.precision().has_value());
    EXPECT_FALSE(f.machine.recall().has_value());
    EXPECT_FALSE(f.bot_share_of_admissions().has_value());
}

TEST(SurgeEta, KeptBrokenAndOpen) {
    const auto sc = two_cohorts();
    std::vector<visitor_record> v;
    auto shown = [&](outcome o, std::uint32_t admitted, std::uint32_t deadline, std::uint32_t done) {
        auto x = visitor(0, o, 0, admitted, action::ticket | (admitted != no_time ? action::admitted : 0));
        x.eta_deadline_ms = deadline;
        x.done_ms = done;
        v.push_back(x);
    };
    shown(outcome::admitted, 500, 600, 900);           // kept
    shown(outcome::admitted, 600, 600, 900);           // kept (on the bound)
    shown(outcome::booked, 700, 600, 900);             // broken
    shown(outcome::waiting, no_time, 800, no_time);    // still waiting at the end (1000) past the bound: broken
    shown(outcome::waiting, no_time, 5000, no_time);   // bound not reached yet: open
    shown(outcome::abandoned, no_time, 800, 700);      // left before the bound: open
    shown(outcome::abandoned, no_time, 800, 900);      // left after it: broken
    v.push_back(visitor(0, outcome::waiting, 0, no_time, action::ticket));  // never shown one
    const auto f = analyse(v, sc, 1000, 0);
    EXPECT_EQ(f.eta.shown, 7u);
    EXPECT_EQ(f.eta.kept, 2u);
    EXPECT_EQ(f.eta.broken, 3u);
    EXPECT_EQ(f.eta.open, 2u);
    EXPECT_DOUBLE_EQ(*f.eta.share_kept(), 0.4);
}

TEST(SurgeAnalysis, PreQueueVisitorsLeaveTheFairnessPairsButCountElsewhere) {
    const auto sc = two_cohorts();
    std::vector<visitor_record> v;
    v.push_back(visitor(0, outcome::admitted, 10, 300, action::ticket | action::admitted | action::prequeue));
    v.push_back(visitor(0, outcome::admitted, 20, 100, action::ticket | action::admitted | action::prequeue));
    v.push_back(visitor(0, outcome::admitted, 400, 500, action::ticket | action::admitted));
    v.push_back(visitor(0, outcome::admitted, 410, 61'000, action::ticket | action::admitted));
    const auto f = analyse(v, sc, 70'000, 0);
    EXPECT_EQ(f.fairness.visitors, 2u);
    EXPECT_EQ(f.fairness.pairs, 1u);
    EXPECT_EQ(f.admitted, 4u);
    ASSERT_EQ(f.per_minute.size(), 2u);  // minutes 0 and 1
    EXPECT_EQ(f.per_minute[0].admitted, 3u);
    EXPECT_EQ(f.per_minute[1].admitted, 1u);
}

TEST(SurgeTimeline, BucketsMergeAndTheLastAbsorbsOverflow) {
    timeline a(1000);
    timeline b(1000);
    a.at(500).arrived = 2;
    b.at(1500).arrived = 3;
    b.at(100).latency_us.record(1000);
    a.merge(b);
    ASSERT_EQ(a.buckets().size(), 2u);
    EXPECT_EQ(a.buckets()[0].arrived, 2u);
    EXPECT_EQ(a.buckets()[1].arrived, 3u);
    EXPECT_EQ(a.buckets()[0].latency_us.count(), 1u);
    a.at(4'000'000'000u).admitted = 1;
    EXPECT_EQ(a.buckets().size(), timeline::max_buckets);
}

TEST(SurgeTimeline, CoarseHistogramIsWithinAQuarterOctave) {
    coarse_histogram h;
    for (std::uint64_t v = 1; v <= 1000; ++v) {
        h.record(v * 1000);
    }
    const auto p50 = static_cast<double>(h.percentile(0.5));
    EXPECT_GE(p50, 500'000);
    EXPECT_LE(p50, 500'000 * 1.25);
    for (std::size_t i = 0; i + 1 < coarse_histogram::size; ++i) {
        EXPECT_LT(coarse_histogram::upper_bound_of(i), coarse_histogram::upper_bound_of(i + 1));
        EXPECT_EQ(coarse_histogram::index_of(coarse_histogram::upper_bound_of(i)), i);
    }
}

}  // namespace anteroom::bench
