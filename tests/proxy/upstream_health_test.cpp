// Passive health and server choice with a fake clock: time is only ever a time_point argument.

#include "proxy/upstream_health.hpp"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace anteroom::proxy {
namespace {

using namespace std::chrono_literals;

// Far from the epoch, so no computed deadline can collide with the "not ejected" sentinel.
const steady_time t0 = steady_time{} + 1000h;

std::shared_ptr<server_state> make_server(std::uint16_t port) {
    return std::make_shared<server_state>(listen_address{"127.0.0.1", port});
}

TEST(server_state_text, is_the_address_as_logged_for_ipv4_and_ipv6) {
    EXPECT_EQ(server_state(listen_address{"127.0.0.1", 8001}).text(), "127.0.0.1:8001");
    EXPECT_EQ(server_state(listen_address{"::1", 443}).text(), "[::1]:443");
    EXPECT_EQ(server_state(listen_address{"backend.internal", 80}).text(), "backend.internal:80");
}

class health : public ::testing::Test {
protected:
    server_state s{listen_address{"127.0.0.1", 8001}};
    static constexpr std::uint32_t max_fails = 3;
    static constexpr auto backoff = 1000ms;

    // Fails max_fails times at `now`; returns whether the last failure ejected.
    bool fail_until_ejected(steady_time now) {
        bool ejected = false;
        for (std::uint32_t i = 0; i < max_fails; ++i) {
            ejected = s.on_failure(now, max_fails, backoff);
        }
        return ejected;
    }
};

TEST_F(health, ejected_after_n_consecutive_failures) {
    EXPECT_TRUE(s.available(t0));
    EXPECT_FALSE(s.on_failure(t0, max_fails, backoff));
    EXPECT_FALSE(s.on_failure(t0, max_fails, backoff));
    EXPECT_EQ(s.consecutive_failures(), 2u);
    EXPECT_TRUE(s.available(t0));
    EXPECT_TRUE(s.on_failure(t0, max_fails, backoff));
    EXPECT_FALSE(s.available(t0));
    EXPECT_TRUE(s.ejected(t0 + 999ms));
    EXPECT_TRUE(s.available(t0 + 1000ms));
    EXPECT_EQ(s.consecutive_failures(), 0u);
}

TEST_F(health, a_success_in_between_resets_the_count) {
    s.on_failure(t0, max_fails, backoff);
    s.on_failure(t0, max_fails, backoff);
    s.on_success();
    EXPECT_EQ(s.consecutive_failures(), 0u);
    EXPECT_FALSE(s.on_failure(t0, max_fails, backoff));
    EXPECT_FALSE(s.on_failure(t0, max_fails, backoff));
    EXPECT_TRUE(s.available(t0));
}

TEST_F(health, max_fails_one_ejects_on_the_first_failure) {
    EXPECT_TRUE(s.on_failure(t0, 1, backoff));
    EXPECT_FALSE(s.available(t0));
}

TEST_F(health, backoff_doubles_per_ejection_in_a_row_and_is_capped_at_8x) {
    steady_time now = t0;
    for (const auto expected : {1000ms, 2000ms, 4000ms, 8000ms, 8000ms, 8000ms}) {
        ASSERT_TRUE(fail_until_ejected(now));
        EXPECT_TRUE(s.ejected(now + expected - 1ms)) << expected.count();
        EXPECT_TRUE(s.available(now + expected)) << expected.count();
        now += expected;  // the backoff ran out; the server gets traffic and fails again
    }
}

TEST_F(health, success_after_ejection_recovers_and_resets_the_backoff) {
    ASSERT_TRUE(fail_until_ejected(t0));
    ASSERT_TRUE(fail_until_ejected(t0 + 1000ms));  // second ejection: 2 s
    EXPECT_TRUE(s.ejected(t0 + 2999ms));
    const auto later = t0 + 3000ms;
    ASSERT_TRUE(s.available(later));
    s.on_success();
    EXPECT_TRUE(s.available(later));
    EXPECT_EQ(s.consecutive_failures(), 0u);
    // The next ejection starts again at the base backoff.
    ASSERT_TRUE(fail_until_ejected(later));
    EXPECT_TRUE(s.ejected(later + 999ms));
    EXPECT_TRUE(s.available(later + 1000ms));
}

TEST_F(health, late_failures_of_requests_in_flight_do_not_extend_the_ejection) {
    ASSERT_TRUE(fail_until_ejected(t0));
    // Ten requests that were already on their way fail while the server is out.
    for (int i = 0; i < 10; ++i) {
        EXPECT_FALSE(s.on_failure(t0 + 10ms, max_fails, backoff));
    }
    EXPECT_EQ(s.consecutive_failures(), 0u);
    EXPECT_TRUE(s.available(t0 + 1000ms));
    // And the next ejection is only the second in a row: 2 s, not more.
    ASSERT_TRUE(fail_until_ejected(t0 + 1000ms));
    EXPECT_TRUE(s.ejected(t0 + 2999ms));
    EXPECT_TRUE(s.available(t0 + 3000ms));
}

TEST_F(health, in_flight_guard_counts_and_releases) {
    EXPECT_EQ(s.outstanding(), 0u);
    {
        server_state::in_flight a(&s);
        EXPECT_EQ(s.outstanding(), 1u);
        server_state::in_flight b(&s);
        EXPECT_EQ(s.outstanding(), 2u);
        server_state::in_flight moved(std::move(a));
        EXPECT_EQ(s.outstanding(), 2u);
        b.release();
        EXPECT_EQ(s.outstanding(), 1u);
        b.release();  // idempotent
        EXPECT_EQ(s.outstanding(), 1u);
        server_state::in_flight c;
        c = std::move(moved);
        EXPECT_EQ(s.outstanding(), 1u);
        c = server_state::in_flight(&s);  // assignment releases the old count
        EXPECT_EQ(s.outstanding(), 1u);
    }
    EXPECT_EQ(s.outstanding(), 0u);
}

// ---- choose_server ------------------------------------------------------------------------------

class choose : public ::testing::Test {
protected:
    std::vector<std::shared_ptr<server_state>> servers{make_server(1), make_server(2), make_server(3)};
    std::atomic<std::uint64_t> rr{0};

    void eject(std::size_t i, steady_time now) { ASSERT_TRUE(servers[i]->on_failure(now, 1, 1000ms)); }

    std::map<std::size_t, int> picks(balance_policy p, int n, steady_time now,
                                     std::optional<std::size_t> exclude = std::nullopt) {
        std::map<std::size_t, int> out;
        for (int i = 0; i < n; ++i) {
            auto pick = choose_server(servers, p, rr, now, exclude);
            EXPECT_TRUE(pick);
            if (pick) {
                ++out[*pick];
            }
        }
        return out;
    }
};

TEST_F(choose, round_robin_cycles_through_every_server) {
    std::vector<std::size_t> order;
    for (int i = 0; i < 6; ++i) {
        order.push_back(choose_server(servers, balance_policy::round_robin, rr, t0).value());
    }
    EXPECT_EQ(order, (std::vector<std::size_t>{0, 1, 2, 0, 1, 2}));
}

TEST_F(choose, round_robin_skips_ejected_servers_until_they_come_back) {
    eject(1, t0);
    EXPECT_EQ(picks(balance_policy::round_robin, 6, t0), (std::map<std::size_t, int>{{0, 3}, {2, 3}}));
    EXPECT_EQ(picks(balance_policy::round_robin, 6, t0 + 1000ms),
              (std::map<std::size_t, int>{{0, 2}, {1, 2}, {2, 2}}));
}

TEST_F(choose, round_robin_spreads_an_ejected_servers_share_over_all_others) {
    servers.push_back(make_server(4));
    eject(1, t0);
    // Not "the next one gets twice as much": 12 picks over 3 healthy servers are 4 each.
    EXPECT_EQ(picks(balance_policy::round_robin, 12, t0), (std::map<std::size_t, int>{{0, 4}, {2, 4}, {3, 4}}));
}

TEST_F(choose, least_outstanding_prefers_the_idlest_server) {
    server_state::in_flight a0(servers[0].get());
    server_state::in_flight a1(servers[0].get());
    server_state::in_flight b0(servers[1].get());
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(choose_server(servers, balance_policy::least_outstanding, rr, t0), 2u);
    }
    server_state::in_flight c0(servers[2].get());
    server_state::in_flight c1(servers[2].get());
    EXPECT_EQ(choose_server(servers, balance_policy::least_outstanding, rr, t0), 1u);
}

TEST_F(choose, least_outstanding_spreads_ties) {
    EXPECT_EQ(picks(balance_policy::least_outstanding, 6, t0),
              (std::map<std::size_t, int>{{0, 2}, {1, 2}, {2, 2}}));
}

TEST_F(choose, least_outstanding_ignores_ejected_servers) {
    server_state::in_flight busy(servers[0].get());
    eject(1, t0);
    eject(2, t0);
    EXPECT_EQ(choose_server(servers, balance_policy::least_outstanding, rr, t0), 0u);
}

TEST_F(choose, exclude_skips_the_failed_server_for_a_retry) {
    for (auto p : {balance_policy::round_robin, balance_policy::least_outstanding}) {
        const auto got = picks(p, 6, t0, 0);
        EXPECT_EQ(got.count(0), 0u);
        EXPECT_EQ(got.at(1) + got.at(2), 6);
    }
}

TEST_F(choose, exclude_is_used_when_it_is_the_only_server_left) {
    eject(1, t0);
    eject(2, t0);
    EXPECT_EQ(choose_server(servers, balance_policy::round_robin, rr, t0, 0), 0u);
    EXPECT_EQ(choose_server(servers, balance_policy::least_outstanding, rr, t0, 0), 0u);
}

TEST_F(choose, all_ejected_gives_nothing) {
    for (std::size_t i = 0; i < servers.size(); ++i) {
        eject(i, t0);
    }
    EXPECT_FALSE(choose_server(servers, balance_policy::round_robin, rr, t0));
    EXPECT_FALSE(choose_server(servers, balance_policy::least_outstanding, rr, t0));
    EXPECT_FALSE(choose_server(servers, balance_policy::round_robin, rr, t0, 1));
    // As soon as the first backoff runs out, they are back.
    EXPECT_TRUE(choose_server(servers, balance_policy::round_robin, rr, t0 + 1000ms));
}

TEST_F(choose, no_servers_gives_nothing) {
    std::vector<std::shared_ptr<server_state>> none;
    EXPECT_FALSE(choose_server(none, balance_policy::round_robin, rr, t0));
    EXPECT_FALSE(choose_server(none, balance_policy::least_outstanding, rr, t0));
}

}  // namespace
}  // namespace anteroom::proxy
