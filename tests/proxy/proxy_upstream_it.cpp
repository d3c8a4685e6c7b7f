// Upstream behaviour over real sockets: connect failure (502), response timeout (504), retry
// of idempotent requests, passive ejection (seen through /metrics on the admin listener), an
// upstream dying mid-response, balancing and connection pooling.
//
// Metrics are process-wide, so each test that reads them uses an upstream name of its own and
// compares values before and after.

#include <gtest/gtest.h>

#include <future>

#include <nlohmann/json.hpp>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/harness.hpp"

namespace anteroom::test {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

std::string quoted(const std::string& address) { return "\"" + address + "\""; }

std::string closed_address() { return "127.0.0.1:" + std::to_string(closed_port()); }

std::string group(const std::string& name, const std::string& servers, const std::string& extra = "") {
    return "[[upstream]]\nname = \"" + name + "\"\nservers = [" + servers + "]\n" + extra + "\n";
}

double metric(std::uint16_t admin_port, const std::string& series) {
    return metric_value(scrape_metrics(admin_port), series).value_or(-1);
}

std::string labels(const std::string& upstream) { return "{upstream=\"" + upstream + "\"}"; }

std::string server_up(const std::string& upstream, const std::string& server) {
    return "anteroom_upstream_server_up{upstream=\"" + upstream + "\",server=\"" + server + "\"}";
}

int status_of(std::uint16_t port, const std::string& request) {
    raw_client c(port, 5s);
    c.send(request);
    auto res = c.read_response();
    return res ? static_cast<int>(res->result_int()) : -1;
}

std::string get_request(const std::string& target) { return "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n"; }

std::string post_request(const std::string& target, const std::string& body) {
    return "POST " + target + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
           body;
}

// ---- failures ----------------------------------------------------------------------------

TEST(proxy_upstream, connect_failure_is_502_and_the_client_connection_survives) {
    proxy_under_test px{group("connfail", quoted(closed_address()))};
    const auto failures_before = metric(px.admin_port(), "anteroom_upstream_failures_total" + labels("connfail"));
    raw_client c(px.port());
    for (int i = 0; i < 2; ++i) {
        c.send(get_request("/echo"));
        auto res = c.read_response();
        ASSERT_TRUE(res) << c.ec().message();
        EXPECT_EQ(res->result_int(), 502);
        EXPECT_TRUE(res->keep_alive());  // the client did nothing wrong
    }
    EXPECT_EQ(metric(px.admin_port(), "anteroom_upstream_failures_total" + labels("connfail")),
              std::max(failures_before, 0.0) + 2);
}

TEST(proxy_upstream, response_timeout_is_504_and_the_late_connection_is_not_reused) {
    fake_upstream up;
    proxy_under_test px{group("slow", quoted(up.address()), "response_timeout = \"200ms\"")};
    raw_client c(px.port(), 5s);
    const auto start = steady::now();
    c.send(get_request("/delay/3000"));
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.ec().message();
    EXPECT_EQ(res->result_int(), 504);
    EXPECT_LT(steady::now() - start, 1500ms);
    // The client connection is fine; the upstream one (with a response still coming) is gone.
    c.send(get_request("/echo"));
    auto next = c.read_response();
    ASSERT_TRUE(next) << c.ec().message();
    EXPECT_EQ(next->result_int(), 200);
    EXPECT_EQ(up.connections_accepted(), 2u);
}

TEST(proxy_upstream, upstream_closing_without_an_answer_is_502) {
    fake_upstream up;
    proxy_under_test px{upstream_block("[" + quoted(up.address()) + "]")};
    EXPECT_EQ(status_of(px.port(), get_request("/close")), 502);
    EXPECT_EQ(up.request_count(), 1u);  // a fresh connection: the request arrived, no retry
}

TEST(proxy_upstream, upstream_dying_mid_body_closes_the_client_connection) {
    fake_upstream up;
    proxy_under_test px{upstream_block("[" + quoted(up.address()) + "]")};
    raw_client c(px.port(), 5s);
    c.send(get_request("/truncate/200000"));
    const auto all = c.read_until_close();
    ASSERT_TRUE(c.ec() == net::error::eof || c.ec() == net::error::connection_reset) << c.ec().message();
    ASSERT_EQ(all.rfind("HTTP/1.1 200", 0), 0u);
    EXPECT_NE(all.find("Content-Length: 200000"), std::string::npos);
    const auto body_at = all.find("\r\n\r\n") + 4;
    EXPECT_LT(all.size() - body_at, 200000u);  // short: the client can tell it is truncated
}

TEST(proxy_upstream, upstream_dying_mid_chunked_body_never_looks_complete) {
    fake_upstream up;
    proxy_under_test px{upstream_block("[" + quoted(up.address()) + "]")};
    raw_client c(px.port(), 5s);
    c.send(get_request("/truncate-chunked/200000"));
    const auto all = c.read_until_close();
    ASSERT_TRUE(c.ec() == net::error::eof || c.ec() == net::error::connection_reset) << c.ec().message();
    // Parsing what arrived must not yield a complete message (no last chunk was invented).
    http::response_parser<http::string_body> p;
    p.body_limit(boost::none);
    beast::error_code ec;
    p.put(net::buffer(all), ec);
    EXPECT_FALSE(p.is_done());
    EXPECT_TRUE(p.chunked());
}

TEST(proxy_upstream, upstream_stalling_mid_body_is_cut_after_the_body_timeout) {
    fake_upstream up;
    proxy_under_test px{"[server]\nbody_timeout = \"200ms\"\n" + upstream_block("[" + quoted(up.address()) + "]")};
    raw_client c(px.port(), 5s);
    const auto start = steady::now();
    c.send(get_request("/stall/200000"));
    const auto all = c.read_until_close();
    EXPECT_TRUE(c.ec() == net::error::eof || c.ec() == net::error::connection_reset) << c.ec().message();
    EXPECT_LT(steady::now() - start, 1500ms);
    ASSERT_EQ(all.rfind("HTTP/1.1 200", 0), 0u);
    EXPECT_LT(all.size() - (all.find("\r\n\r\n") + 4), 200000u);
}

TEST(proxy_upstream, client_aborting_an_upload_does_not_leave_a_half_request_in_the_pool) {
    fake_upstream up;
    proxy_under_test px{upstream_block("[" + quoted(up.address()) + "]")};
    ASSERT_EQ(status_of(px.port(), get_request("/echo")), 200);  // one pooled connection
    {
        raw_client c(px.port());
        c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + std::string(30000, 'u'));
        // Gone mid-body.
    }
    // Whatever connection the next request uses, it must not be the one carrying the stub of the
    // POST (the upstream would read this request as the rest of that body).
    for (int i = 0; i < 3; ++i) {
        raw_client c(px.port(), 5s);
        c.send(get_request("/echo/after"));
        auto res = c.read_response();
        ASSERT_TRUE(res) << c.ec().message();
        EXPECT_EQ(res->result_int(), 200);
        EXPECT_NE(res->body().find("GET /echo/after"), std::string::npos);
    }
    for (const auto& r : up.requests()) {
        EXPECT_NE(r.method, "POST");  // never completed
    }
    EXPECT_EQ(up.connections_accepted(), 2u);
}

// ---- retries -----------------------------------------------------------------------------

TEST(proxy_upstream, idempotent_requests_are_retried_on_another_server_after_a_connect_failure) {
    fake_upstream good;
    // max_fails high: this test is about retries, not ejection.
    proxy_under_test px{
        group("retry", quoted(closed_address()) + ", " + quoted(good.address()), "max_fails = 1000")};
    const auto retries_before = std::max(0.0, metric(px.admin_port(), "anteroom_upstream_retries_total" + labels("retry")));
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(status_of(px.port(), get_request("/echo/" + std::to_string(i))), 200) << i;
    }
    EXPECT_EQ(status_of(px.port(), "PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"), 200);
    EXPECT_EQ(good.request_count(), 5u);
    // Round robin sends every other first attempt to the closed port.
    EXPECT_GE(metric(px.admin_port(), "anteroom_upstream_retries_total" + labels("retry")), retries_before + 2);
}

TEST(proxy_upstream, post_is_not_retried) {
    fake_upstream good;
    proxy_under_test px{
        group("noretry_post", quoted(closed_address()) + ", " + quoted(good.address()), "max_fails = 1000")};
    // Two POSTs in a row alternate between the servers: exactly one meets the closed port.
    std::vector<int> statuses;
    for (int i = 0; i < 2; ++i) {
        statuses.push_back(status_of(px.port(), post_request("/upload", "body-" + std::to_string(i))));
    }
    std::sort(statuses.begin(), statuses.end());
    EXPECT_EQ(statuses, (std::vector<int>{200, 502}));
    EXPECT_EQ(good.request_count(), 1u);
}

TEST(proxy_upstream, retry_idempotent_false_turns_retries_off) {
    fake_upstream good;
    proxy_under_test px{group("noretry", quoted(closed_address()) + ", " + quoted(good.address()),
                              "max_fails = 1000\nretry_idempotent = false")};
    std::vector<int> statuses;
    for (int i = 0; i < 2; ++i) {
        statuses.push_back(status_of(px.port(), get_request("/echo")));
    }
    std::sort(statuses.begin(), statuses.end());
    EXPECT_EQ(statuses, (std::vector<int>{200, 502}));
}

TEST(proxy_upstream, get_sent_on_a_fresh_connection_is_not_retried) {
    // The request reached the first server (which then failed): not "before any byte was sent".
    closing_upstream bad;
    fake_upstream good;
    proxy_under_test px{group("sent", quoted(bad.address()) + ", " + quoted(good.address()), "max_fails = 1000")};
    std::vector<int> statuses;
    for (int i = 0; i < 2; ++i) {
        statuses.push_back(status_of(px.port(), get_request("/echo")));
    }
    std::sort(statuses.begin(), statuses.end());
    EXPECT_EQ(statuses, (std::vector<int>{200, 502}));
    EXPECT_EQ(bad.connections_accepted(), 1u);
}

TEST(proxy_upstream, a_malformed_upstream_head_is_502_and_the_connection_is_not_reused) {
    fake_upstream up;
    proxy_under_test px{group("malformed", quoted(up.address()))};
    raw_client c(px.port(), 5s);
    c.send(get_request("/malformed"));
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.ec().message();
    EXPECT_EQ(res->result_int(), 502);
    EXPECT_EQ(res->body().find("hello"), std::string::npos) << "nothing of the bad answer is passed on";
    c.send(get_request("/echo"));
    auto next = c.read_response();
    ASSERT_TRUE(next) << c.ec().message();
    EXPECT_EQ(next->result_int(), 200);
    EXPECT_EQ(up.connections_accepted(), 2u);
}

// The upstream process dies (its port refuses connections) and is started again on the same
// port: meanwhile requests get 502/503 at once and the waiting room still answers; afterwards
// anteroom sends traffic to it again by itself, without a reload.
TEST(proxy_upstream, an_upstream_that_dies_and_comes_back_is_used_again_and_the_room_serves_meanwhile) {
    auto up = std::make_unique<fake_upstream>();
    const auto port = up->port();
    const std::string name = "phoenix";
    proxy_under_test px{group(name, quoted(up->address()), "max_fails = 1\nfail_backoff = \"100ms\"") +
                        "[[room]]\nid = \"book\"\npaths = [\"/book\"]\nmode = \"paused\"\n"};
    EXPECT_EQ(status_of(px.port(), get_request("/echo")), 200);

    up.reset();  // dies
    for (int i = 0; i < 3; ++i) {
        const auto start = steady::now();
        const int status = status_of(px.port(), get_request("/echo"));
        EXPECT_TRUE(status == 502 || status == 503) << status;
        EXPECT_LT(steady::now() - start, 2s);
    }
    EXPECT_EQ(metric(px.admin_port(), server_up(name, "127.0.0.1:" + std::to_string(port))), 0);
    raw_client waiting(px.port());
    waiting.send("GET /book HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n");
    const auto queued = waiting.read_response();
    ASSERT_TRUE(queued) << waiting.ec().message();
    EXPECT_EQ(queued->result_int(), 200);
    EXPECT_EQ(nlohmann::json::parse(queued->body(), nullptr, false).value("position", 0), 1) << queued->body();

    up = std::make_unique<fake_upstream>(port);  // back
    EXPECT_TRUE(eventually([&] { return status_of(px.port(), get_request("/echo")) == 200; }, 5s));
    EXPECT_EQ(metric(px.admin_port(), server_up(name, up->address())), 1);
    EXPECT_GE(up->request_count(), 1u);
}

// ---- passive health ----------------------------------------------------------------------

TEST(proxy_upstream, failing_server_is_ejected_and_gets_no_traffic_during_the_backoff) {
    closing_upstream bad;
    fake_upstream good;
    const std::string name = "ejection";
    proxy_under_test px{group(name, quoted(bad.address()) + ", " + quoted(good.address()),
                              "max_fails = 2\nfail_backoff = \"30s\"")};
    const auto ejections_before =
        std::max(0.0, metric(px.admin_port(), "anteroom_upstream_ejections_total" + labels(name)));
    EXPECT_EQ(metric(px.admin_port(), server_up(name, bad.address())), 1);

    // Round robin: requests 1 and 3 meet the bad server (a fresh connection each, so no retry).
    std::vector<int> statuses;
    for (int i = 0; i < 4; ++i) {
        statuses.push_back(status_of(px.port(), get_request("/echo")));
    }
    EXPECT_EQ(statuses, (std::vector<int>{502, 200, 502, 200}));
    EXPECT_EQ(bad.connections_accepted(), 2u);
    EXPECT_EQ(metric(px.admin_port(), server_up(name, bad.address())), 0);
    EXPECT_EQ(metric(px.admin_port(), server_up(name, good.address())), 1);
    EXPECT_EQ(metric(px.admin_port(), "anteroom_upstream_ejections_total" + labels(name)), ejections_before + 1);

    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(status_of(px.port(), get_request("/echo")), 200) << i;
    }
    EXPECT_EQ(bad.connections_accepted(), 2u);  // nothing during the backoff
    EXPECT_EQ(good.request_count(), 12u);
}

TEST(proxy_upstream, all_servers_ejected_is_503) {
    closing_upstream bad;
    proxy_under_test px{group("all_down", quoted(bad.address()), "max_fails = 1\nfail_backoff = \"30s\"")};
    EXPECT_EQ(status_of(px.port(), get_request("/echo")), 502);
    raw_client c(px.port());
    c.send(get_request("/echo"));
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.ec().message();
    EXPECT_EQ(res->result_int(), 503);
    EXPECT_FALSE((*res)[http::field::retry_after].empty());
    EXPECT_EQ(bad.connections_accepted(), 1u);
}

// ---- balancing ---------------------------------------------------------------------------

TEST(proxy_upstream, round_robin_spreads_evenly) {
    fake_upstream a;
    fake_upstream b;
    proxy_under_test px{group("rr", quoted(a.address()) + ", " + quoted(b.address()))};
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(status_of(px.port(), get_request("/echo")), 200);
    }
    EXPECT_EQ(a.request_count(), 5u);
    EXPECT_EQ(b.request_count(), 5u);
}

TEST(proxy_upstream, least_outstanding_avoids_the_busy_server) {
    fake_upstream a;
    fake_upstream b;
    proxy_under_test px{
        group("lo", quoted(a.address()) + ", " + quoted(b.address()), "balance = \"least_outstanding\"")};
    // Unloaded, ties go round the servers.
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(status_of(px.port(), get_request("/echo")), 200);
    }
    EXPECT_EQ(a.request_count(), 2u);
    EXPECT_EQ(b.request_count(), 2u);

    // One slow request in flight: everything else goes to the other server.
    raw_client slow(px.port(), 5s);
    slow.send(get_request("/delay/800"));  // long enough to outlast the four below
    const auto busy_a = [&] { return a.request_count() == 3; };
    const auto busy_b = [&] { return b.request_count() == 3; };
    ASSERT_TRUE(eventually([&] { return busy_a() || busy_b(); }));
    fake_upstream& idle = busy_a() ? b : a;
    const auto idle_before = idle.request_count();
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(status_of(px.port(), get_request("/echo")), 200);
    }
    EXPECT_EQ(idle.request_count(), idle_before + 4);
    auto res = slow.read_response();
    ASSERT_TRUE(res) << slow.ec().message();
    EXPECT_EQ(res->result_int(), 200);
}

// ---- pooling -----------------------------------------------------------------------------

TEST(proxy_upstream, pooled_connection_is_reused_across_client_connections) {
    fake_upstream up;
    proxy_under_test px{upstream_block("[" + quoted(up.address()) + "]")};
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(status_of(px.port(), get_request("/echo")), 200);
    }
    EXPECT_EQ(up.request_count(), 5u);
    EXPECT_EQ(up.connections_accepted(), 1u);
}

TEST(proxy_upstream, pool_size_zero_opens_a_connection_per_request) {
    fake_upstream up;
    proxy_under_test px{upstream_block("[" + quoted(up.address()) + "]", "pool_size = 0")};
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(status_of(px.port(), get_request("/echo")), 200);
    }
    EXPECT_EQ(up.connections_accepted(), 3u);
}

TEST(proxy_upstream, concurrent_requests_use_separate_upstream_connections_then_share_the_pool) {
    fake_upstream up;
    proxy_under_test px{upstream_block("[" + quoted(up.address()) + "]")};
    raw_client a(px.port(), 5s);
    raw_client b(px.port(), 5s);
    a.send(get_request("/delay/200"));
    b.send(get_request("/delay/200"));
    ASSERT_TRUE(a.read_response());
    ASSERT_TRUE(b.read_response());
    EXPECT_EQ(up.connections_accepted(), 2u);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(status_of(px.port(), get_request("/echo")), 200);
    }
    EXPECT_EQ(up.connections_accepted(), 2u);
}

// ---- framing passed through ------------------------------------------------------------------

TEST(proxy_upstream, inner_transfer_codings_survive_rechunking) {
    fake_upstream up;
    proxy_under_test px{upstream_block("[" + quoted(up.address()) + "]")};
    raw_client c(px.port());
    c.send(get_request("/gzip-chunked/3000"));
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.ec().message();
    // Dropping "gzip" would hand the client coded bytes labelled as plain ones.
    EXPECT_EQ((*res)[http::field::transfer_encoding], "gzip, chunked");
    EXPECT_EQ(res->body().size(), 3000u);
}

}  // namespace
}  // namespace anteroom::test
