// Several worker threads at once: visitors queue, are admitted, browse and leave through three
// workers while the control thread ticks the room, the admin listener is scraped and the
// configuration is re-applied. The assertions are about what the threads share — the room's
// counters and active cap, bot detection's tables, the runtime snapshot swapped under running
// requests — and the same file is the core of `make test-tsan` (ThreadSanitizer), where any
// unsynchronised access among them is a failure.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "common/keyfile.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/harness.hpp"

namespace anteroom::test {
namespace {

namespace fs = std::filesystem;
using response = http::response<http::string_body>;

constexpr int visitors = 6;
constexpr int rounds = 3;            // each visitor queues, browses and leaves this often
constexpr int max_active = 2;        // fewer places than visitors: they take turns
constexpr int pages_per_visit = 2;   // upstream requests with the pass before leaving

class proxy_threads : public ::testing::Test {
protected:
    proxy_threads() : dir_(make_temp_dir("anteroom-threads")) {
        std::string err;
        EXPECT_TRUE(write_new_keyfile(file("keys.toml"), false, err)) << err;
        std::ofstream(file("admin.token")) << "threads-admin-token-0123456789\n";
        const std::string toml = "state_dir = \"" + file("state") + "\"\n" + upstream_block("[\"" + up_.address() + "\"]") +
                "\n[admission]\nkey_file = \"" + file("keys.toml") + "\"\n" +
                "\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"" + file("admin.token") + "\"\n" +
                "\n[bot_detect]\nenabled = true\ndry_run = true\n" +
                "\n[[room]]\nid = \"book\"\npaths = [\"/echo\"]\nmode = \"fifo\"\n"
                "new_users_per_minute = 600000\nmax_active_users = " +
                std::to_string(max_active) + "\n";
        px_ = std::make_unique<proxy_under_test>(toml, proxy::filter_chain{}, 3);
    }
    ~proxy_threads() override {
        px_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    std::string file(const std::string& name) const { return (fs::path(dir_) / name).string(); }

    fake_upstream up_;
    std::string dir_;
    std::unique_ptr<proxy_under_test> px_;
};

// One visitor's whole life, `rounds` times: queue (the waiting page) until the room lets it in,
// browse with the pass, leave (the portal answers "Anteroom-Session: end"). Returns the number
// of requests the upstream must have seen from it, or -1 when something unexpected came back.
int live(std::uint16_t port, int id, std::atomic<bool>& failed, std::string& why) {
    int upstream_requests = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (int round = 0; round < rounds; ++round) {
        std::string ticket;
        std::string pass;
        while (pass.empty()) {
            if (failed || std::chrono::steady_clock::now() > deadline) {
                why = "visitor " + std::to_string(id) + " never admitted in round " + std::to_string(round);
                return -1;
            }
            const auto r = get(port, "/echo/" + std::to_string(id),
                               ticket.empty() ? "" : "Cookie: anteroom_ticket_book=" + ticket + "\r\n");
            if (!r || r->result_int() != 200) {
                why = "visitor " + std::to_string(id) + ": " + (r ? std::to_string(r->result_int()) : "no answer");
                return -1;
            }
            if (auto t = set_cookie_value(*r, "anteroom_ticket_book"); t && !t->empty()) {
                ticket = *t;
            }
            if (auto p = set_cookie_value(*r, "anteroom_pass_book"); p && !p->empty()) {
                pass = *p;
                ++upstream_requests;  // admitted with this request: it went through
                if (!r->body().starts_with("GET /echo/")) {
                    why = "admitted but the upstream's answer is missing: " + r->body().substr(0, 300);
                    return -1;
                }
            } else {
                std::this_thread::yield();
            }
        }
        const std::string cookie = "Cookie: anteroom_pass_book=" + pass + "\r\n";
        for (int page = 0; page < pages_per_visit; ++page) {
            const auto r = get(port, "/echo/" + std::to_string(id) + "/" + std::to_string(page), cookie);
            if (!r || r->result_int() != 200 || !r->body().starts_with("GET /echo/")) {
                why = "visitor " + std::to_string(id) + ": the pass did not get through";
                return -1;
            }
            ++upstream_requests;
        }
        const auto bye = get(port, "/echo/leave/session-end", cookie);
        if (!bye || bye->result_int() != 200) {
            why = "visitor " + std::to_string(id) + ": leaving failed";
            return -1;
        }
        ++upstream_requests;
    }
    return upstream_requests;
}

TEST_F(proxy_threads, visitors_on_three_workers_take_turns_within_the_active_cap_across_reloads) {
    // The metrics registry is process-wide: earlier tests in this process may have counted in a
    // room of the same name, so the counters are compared as deltas.
    const auto counted = [&](const std::string& series) {
        return metric_value(scrape_metrics(px_->admin_port()), series).value_or(0);
    };
    const std::string passes = "anteroom_room_passes_issued_total{room=\"book\"}";
    const std::string ends = "anteroom_room_session_end_total{room=\"book\"}";
    const double passes_before = counted(passes);
    const double ends_before = counted(ends);
    std::atomic<bool> failed{false};
    std::atomic<bool> done{false};
    std::vector<int> served(visitors, 0);
    std::vector<std::string> why(visitors);
    std::vector<std::thread> threads;
    for (int i = 0; i < visitors; ++i) {
        threads.emplace_back([&, i] {
            served[i] = live(px_->port(), i, failed, why[i]);
            if (served[i] < 0) {
                failed = true;
            }
        });
    }
    // The admin side while they run: /metrics (every scrape must respect the cap) and reloads
    // of the same file, which swap the runtime under running requests and keep the room.
    double most_active = 0;
    int scrapes = 0;
    int reloads = 0;
    std::string reload_error;
    std::thread admin([&] {
        while (!done) {
            const auto text = scrape_metrics(px_->admin_port());
            if (const auto a = metric_value(text, "anteroom_room_active{room=\"book\"}")) {
                most_active = std::max(most_active, *a);
                ++scrapes;
            }
            if (scrapes % 4 == 0) {
                std::string err;
                if (px_->server().apply(px_->cfg(), err)) {
                    ++reloads;
                } else {
                    reload_error = err;
                }
            }
        }
    });
    for (auto& t : threads) {
        t.join();
    }
    done = true;
    admin.join();

    int expected_upstream = 0;
    for (int i = 0; i < visitors; ++i) {
        ASSERT_GE(served[i], 0) << why[i];
        expected_upstream += served[i];
    }
    EXPECT_EQ(expected_upstream, visitors * rounds * (pages_per_visit + 2));
    EXPECT_EQ(up_.request_count(), static_cast<std::size_t>(expected_upstream));
    EXPECT_TRUE(reload_error.empty()) << reload_error;
    EXPECT_GT(reloads, 0);
    EXPECT_GT(scrapes, 0);
    EXPECT_LE(most_active, max_active);

    EXPECT_EQ(counted(passes) - passes_before, visitors * rounds);
    EXPECT_EQ(counted(ends) - ends_before, visitors * rounds);
    EXPECT_TRUE(eventually([&] {
        return metric_value(scrape_metrics(px_->admin_port()), "anteroom_room_active{room=\"book\"}") == 0;
    }));
}

}  // namespace
}  // namespace anteroom::test
