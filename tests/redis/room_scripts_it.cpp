// The shared room's Lua scripts (redis/room_scripts) in a real redis-server, called with times
// the test chooses (the scripts take `now` as an argument; no clock is read): the token bucket
// admits at the configured rate, max_active_users holds, places not seen within abandon_after
// are skipped without using the rate, admissions not claimed in time are dropped, claims are
// idempotent, passes expire unless touched.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>

#include "redis/room_scripts.hpp"
#include "redis/settings_sync.hpp"
#include "tests/support/harness.hpp"
#include "tests/support/redis_server.hpp"

namespace anteroom::test {
namespace {

namespace fs = std::filesystem;
using redis::room_keys;

constexpr std::int64_t t0 = 1'800'000'000'000;
constexpr std::int64_t window_ms = 30'000;
constexpr std::int64_t abandon_ms = 60'000;

class room_scripts_it : public ::testing::Test {
protected:
    void SetUp() override {
        if (!fs::exists(redis_server)) {
            GTEST_SKIP() << "redis-server is not installed (scripts/install-deps.sh --test installs it)";
        }
        dir_ = make_temp_dir("anteroom-room-scripts");
        server_ = std::make_unique<redis_server_process>(dir_);
        ASSERT_TRUE(server_->ready()) << server_->proc().out();
        redis::options o;
        o.address = "unix:" + redis_server_process::socket_path(dir_);
        client_ = redis::client::create(io_, o);
        client_->start();
        ASSERT_TRUE(run_until([&] { return client_->connected(); }));
    }
    void TearDown() override {
        if (client_) {
            client_->stop();
        }
        server_.reset();
        if (!dir_.empty()) {
            std::error_code ec;
            fs::remove_all(dir_, ec);
        }
    }
    bool run_until(const std::function<bool()>& pred) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!pred()) {
            if (std::chrono::steady_clock::now() >= deadline) {
                return false;
            }
            io_.restart();
            io_.run_for(std::chrono::milliseconds(10));
        }
        return true;
    }
    redis::value eval(const redis::script& s, const std::vector<std::string>& keys, const std::vector<std::string>& args) {
        std::optional<redis::result> r;
        client_->eval(s, keys, args, [&](redis::result x) { r = std::move(x); });
        EXPECT_TRUE(run_until([&] { return r.has_value(); }));
        EXPECT_TRUE(r && r->ok()) << (r ? r->reply.str : "no answer");
        return r ? r->reply : redis::value{};
    }
    // One number reserved and seen at once, as a node hands out a ticket.
    std::int64_t issue(std::int64_t now) {
        const std::int64_t seq = reserve(1, now);
        eval(redis::seen_script(), {k_.seen(now, window_ms)}, {std::to_string(abandon_ms + window_ms), std::to_string(seq)});
        return seq;
    }
    std::int64_t reserve(int n, std::int64_t now) {
        return eval(redis::reserve_script(), {k_.seq, k_.blocks}, {std::to_string(n), std::to_string(now), "3000"}).integer;
    }
    void see(std::int64_t seq, std::int64_t now) {
        std::optional<redis::result> r;
        client_->command({"SETBIT", k_.seen(now, window_ms), std::to_string(seq), "1"},
                         [&](redis::result x) { r = std::move(x); });
        ASSERT_TRUE(run_until([&] { return r.has_value(); }));
    }
    redis::advance_result advance(std::int64_t now, std::uint32_t rate, std::uint32_t cap) {
        redis::advance_args a;
        a.now_ms = now;
        a.new_users_per_minute = rate;
        a.max_active_users = cap;
        a.claim_window_ms = 10'000;
        std::vector<std::string> keys, args;
        redis::advance_call(k_, k_.live_windows(now, window_ms, abandon_ms), a, keys, args);
        const auto r = redis::parse_advance(eval(redis::advance_script(), keys, args));
        EXPECT_TRUE(r);
        return r.value_or(redis::advance_result{});
    }
    std::int64_t claim(std::int64_t seq, const std::string& pass_id, std::int64_t expires) {
        return eval(redis::claim_script(), {k_.pending, k_.passes, k_.stats},
                    {std::to_string(seq), pass_id, std::to_string(expires)})
            .integer;
    }

    std::string dir_;
    net::io_context io_;
    std::unique_ptr<redis_server_process> server_;
    std::shared_ptr<redis::client> client_;
    room_keys k_{"anteroom-test", "portal"};
};

TEST_F(room_scripts_it, keys_share_the_room_hash_tag) {
    EXPECT_EQ(k_.seq, "anteroom-test:{portal}:seq");
    EXPECT_EQ(k_.seen(t0, window_ms), "anteroom-test:{portal}:seen:" + std::to_string(t0 / window_ms));
    EXPECT_EQ(k_.live_windows(t0, window_ms, abandon_ms).size(), 3u);  // now's window and two before it
}

TEST_F(room_scripts_it, the_bucket_admits_at_the_configured_rate) {
    for (int i = 1; i <= 100; ++i) {
        EXPECT_EQ(issue(t0), i);
    }
    EXPECT_EQ(advance(t0, 600, 1000).admitted, 0);  // an empty bucket at the start
    auto r = advance(t0 + 1000, 600, 1000);         // 600/min = 10 per second
    EXPECT_EQ(r.admitted, 10);
    EXPECT_EQ(r.next, 11);
    r = advance(t0 + 1500, 600, 1000);
    EXPECT_EQ(r.admitted, 5);
    // An idle minute fills the bucket only to one second's worth: no burst after a pause.
    r = advance(t0 + 61'500, 600, 1000);
    EXPECT_EQ(r.admitted, 10);
    EXPECT_EQ(r.next, 26);
    EXPECT_EQ(r.active, 10);  // the first 15 were never claimed: their 10 s claim window is over
}

TEST_F(room_scripts_it, max_active_users_holds_until_passes_end) {
    for (int i = 0; i < 20; ++i) {
        issue(t0);
    }
    advance(t0, 6000, 5);
    auto r = advance(t0 + 1000, 6000, 5);
    EXPECT_EQ(r.admitted, 5);
    EXPECT_EQ(r.active, 5);
    // Three claim their passes (active still 5: claimed or not, they count).
    for (int seq = 1; seq <= 3; ++seq) {
        EXPECT_EQ(claim(seq, "pass-" + std::to_string(seq), t0 + 3000), 1);
    }
    r = advance(t0 + 2000, 6000, 5);
    EXPECT_EQ(r.admitted, 0);
    EXPECT_EQ(r.active, 5);
    // The passes expire at t0+3000 (nobody touched them) and the two unclaimed admissions' claim
    // window (10 s) is still open: three places free up.
    r = advance(t0 + 3500, 6000, 5);
    EXPECT_EQ(r.admitted, 3);
    EXPECT_EQ(r.active, 5);
}

TEST_F(room_scripts_it, places_not_seen_within_abandon_after_are_skipped_without_using_the_rate) {
    for (int i = 0; i < 6; ++i) {
        issue(t0);
    }
    // Two minutes later only places 2 and 5 were seen again (abandon_after is one minute).
    const std::int64_t later = t0 + 120'000;
    see(2, later);
    see(5, later);
    auto r = advance(later, 60, 100);  // no token yet, but skipping costs none
    EXPECT_EQ(r.admitted, 0);
    EXPECT_EQ(r.skipped, 1);  // place 1
    EXPECT_EQ(r.next, 2);     // waits at place 2, which is live
    r = advance(later + 1000, 60, 100);  // 60/min: one token
    EXPECT_EQ(r.admitted, 1);            // place 2
    EXPECT_EQ(r.skipped, 2);             // places 3 and 4
    EXPECT_EQ(r.next, 5);
    r = advance(later + 2000, 60, 100);
    EXPECT_EQ(r.admitted, 1);  // place 5
    EXPECT_EQ(r.skipped, 1);   // place 6
    EXPECT_EQ(r.next, 7);
}

TEST_F(room_scripts_it, unseen_places_younger_than_the_grace_are_waited_for_not_skipped) {
    // A node reserves four numbers and hands out only the first so far; the others may still be
    // handed out, and their first "seen" reaches Redis a moment after.
    EXPECT_EQ(reserve(4, t0), 4);
    eval(redis::seen_script(), {k_.seen(t0, window_ms)}, {std::to_string(abandon_ms + window_ms), "1"});
    advance(t0, 6000, 100);
    auto r = advance(t0 + 1000, 6000, 100);  // the grace is 3 s
    EXPECT_EQ(r.admitted, 1);
    EXPECT_EQ(r.skipped, 0);
    EXPECT_EQ(r.next, 2);  // waits at 2
    see(3, t0 + 2000);     // handed out after all
    r = advance(t0 + 2500, 6000, 100);
    EXPECT_EQ(r.skipped, 0);
    EXPECT_EQ(r.next, 2);
    r = advance(t0 + 3500, 6000, 100);  // the block is older than the grace now
    EXPECT_EQ(r.skipped, 2);            // 2 and 4 were never handed out
    EXPECT_EQ(r.admitted, 1);           // 3
    EXPECT_EQ(r.next, 5);
}

TEST_F(room_scripts_it, claims_are_idempotent_and_end_with_the_claim_window) {
    for (int i = 0; i < 3; ++i) {
        issue(t0);
    }
    advance(t0, 6000, 100);
    EXPECT_EQ(advance(t0 + 1000, 6000, 100).admitted, 3);
    EXPECT_EQ(claim(1, "p1", t0 + 600'000), 1);
    EXPECT_EQ(claim(1, "p1", t0 + 600'000), 1);  // the same pass again (a poll on another node)
    EXPECT_EQ(claim(9, "p9", t0 + 600'000), 0);  // never admitted
    // The claim window (10 s) passes: places 2 and 3 are dropped and cannot be claimed.
    const auto r = advance(t0 + 12'000, 6000, 100);
    EXPECT_EQ(r.active, 1);
    EXPECT_EQ(claim(2, "p2", t0 + 600'000), 0);
    // A touch keeps a pass; an unknown pass is not created by touching.
    EXPECT_EQ(eval(redis::touch_script(), {k_.passes}, {"p1", std::to_string(t0 + 900'000)}).integer, 1);
    EXPECT_EQ(eval(redis::touch_script(), {k_.passes}, {"nope", std::to_string(t0 + 900'000)}).integer, 0);
    EXPECT_EQ(advance(t0 + 700'000, 6000, 100).active, 1);  // touched past its first expiry
}

TEST_F(room_scripts_it, numbers_handed_out_alone_raise_the_sequence_and_ended_passes_are_not_revived) {
    const auto block = [&](std::int64_t floor) {
        return eval(redis::reserve_script(), {k_.seq, k_.blocks}, {"16", std::to_string(t0), "3000", std::to_string(floor)})
            .integer;
    };
    EXPECT_EQ(block(0), 16);
    EXPECT_EQ(block(100), 116);  // a node handed out up to 100 alone: the next block starts above
    EXPECT_EQ(block(50), 132);   // a lower floor changes nothing
    // Revive adds a missing pass, unless the upstream ended it (remembered in `ended`).
    std::optional<redis::result> r;
    client_->command({"ZADD", k_.ended, std::to_string(t0 + 60'000), "ended-pass"}, [&](redis::result x) { r = std::move(x); });
    ASSERT_TRUE(run_until([&] { return r.has_value(); }));
    const std::string expiry = std::to_string(t0 + 900'000);
    EXPECT_EQ(eval(redis::touch_script(), {k_.passes, k_.ended}, {"alone-pass", expiry, "1"}).integer, 1);
    EXPECT_EQ(eval(redis::touch_script(), {k_.passes, k_.ended}, {"alone-pass", expiry, "0"}).integer, 1);
    EXPECT_EQ(eval(redis::touch_script(), {k_.passes, k_.ended}, {"ended-pass", expiry, "1"}).integer, 0);
    EXPECT_EQ(advance(t0, 6000, 100).active, 1);
}

TEST_F(room_scripts_it, a_settings_change_on_one_node_reaches_the_others_within_the_interval) {
    // Three nodes, each with its own connection; node a changes the rate.
    std::vector<std::shared_ptr<redis::client>> clients;
    std::vector<std::shared_ptr<redis::settings_sync>> nodes;
    std::vector<std::vector<redis::shared_settings>> heard(3);
    for (int i = 0; i < 3; ++i) {
        redis::options o;
        o.address = "unix:" + redis_server_process::socket_path(dir_);
        clients.push_back(redis::client::create(io_, o));
        clients.back()->start();
        nodes.push_back(redis::settings_sync::create(clients.back(), io_, "anteroom-test", {"portal", "other"},
                                                     std::chrono::milliseconds(500)));
        nodes.back()->start([&heard, i](const std::string& room, const redis::shared_settings& s) {
            if (room == "portal") {
                heard[static_cast<std::size_t>(i)].push_back(s);
            }
        });
    }
    ASSERT_TRUE(run_until([&] {
        return std::all_of(clients.begin(), clients.end(), [](const auto& c) { return c->connected(); });
    }));
    std::optional<std::int64_t> version;
    bool answered = false;
    const auto sent = std::chrono::steady_clock::now();
    nodes[0]->publish("portal", {"fifo", 900, 2000, 0}, [&](std::optional<std::int64_t> v) {
        version = v;
        answered = true;
    });
    ASSERT_TRUE(run_until([&] {
        return answered && !heard[1].empty() && !heard[2].empty();
    }));
    EXPECT_LT(std::chrono::steady_clock::now() - sent, std::chrono::seconds(1));
    ASSERT_EQ(version, 1);
    for (int i = 1; i < 3; ++i) {
        ASSERT_EQ(heard[static_cast<std::size_t>(i)].size(), 1u);
        EXPECT_EQ(heard[static_cast<std::size_t>(i)][0], (redis::shared_settings{"fifo", 900, 2000, 1}));
    }
    // A node starting publishes its config only where the room has no settings yet.
    std::optional<std::int64_t> kept;
    nodes[1]->publish("portal", {"fifo", 60, 1000, 0}, [&](std::optional<std::int64_t> v) { kept = v; }, true);
    ASSERT_TRUE(run_until([&] { return kept.has_value(); }));
    EXPECT_EQ(kept, 1);
    // A second change is a new version; polls of an unchanged room report nothing new.
    nodes[2]->publish("portal", {"paused", 900, 2000, 0}, [](std::optional<std::int64_t>) {});
    ASSERT_TRUE(run_until([&] { return heard[1].size() == 2; }));
    EXPECT_EQ(heard[1][1].mode, "paused");
    EXPECT_EQ(heard[1][1].version, 2);
    for (auto& n : nodes) {
        n->stop();
    }
    for (auto& c : clients) {
        c->stop();
    }
    EXPECT_EQ(heard[1].size(), 2u);
}

}  // namespace
}  // namespace anteroom::test
