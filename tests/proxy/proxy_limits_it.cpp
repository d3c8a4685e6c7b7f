// Limits over real sockets: head size (431), body size per route (413, by Content-Length and
// by chunks mid-stream), max connections, header-read (slowloris), body and idle timeouts, and
// max requests per connection. Timeouts are configured small (200 ms); the proxy checks
// deadlines every 100 ms, so a timeout fires between 200 and 300 ms after it was armed.

#include <gtest/gtest.h>

#include <poll.h>

#include <thread>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/harness.hpp"

namespace anteroom::test {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

std::chrono::milliseconds since(steady::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t);
}

std::string chunked_body(std::size_t total, std::size_t piece) {
    std::string out;
    for (std::size_t sent = 0; sent < total; sent += piece) {
        const auto n = std::min(piece, total - sent);
        char size[32];
        std::snprintf(size, sizeof size, "%zx\r\n", n);
        out += size + std::string(n, 'b') + "\r\n";
    }
    return out + "0\r\n\r\n";
}

// Sends `bytes` one at a time, `gap_ms` apart (the pacing is the attack, not synchronisation),
// and stops once the proxy has answered or closed, which shows up as readable data or a failed
// send. Returns how many bytes went out.
std::size_t trickle(raw_client& c, const std::string& bytes, int gap_ms) {
    std::size_t i = 0;
    for (; i < bytes.size(); ++i) {
        c.send(bytes.substr(i, 1));
        if (c.ec()) {
            break;
        }
        pollfd pfd{c.socket().native_handle(), POLLIN, 0};
        if (::poll(&pfd, 1, gap_ms) > 0) {
            break;
        }
    }
    return i;
}

// The proxy closed `c` without sending anything (EOF or reset): nothing was asked, or nothing
// is owed.
::testing::AssertionResult closed_silently(raw_client& c) {
    const std::string got = c.read_until_close();
    if (!got.empty()) {
        return ::testing::AssertionFailure() << "received before the close: " << got.substr(0, 100);
    }
    if (c.ec() != net::error::eof && c.ec() != net::error::connection_reset) {
        return ::testing::AssertionFailure() << "not closed by the peer: " << c.ec().message();
    }
    return ::testing::AssertionSuccess();
}

class proxy_limits : public ::testing::Test {
protected:
    fake_upstream up;
    std::string upstreams() const { return upstream_block("[\"" + up.address() + "\"]"); }
    // One request on `c`, then waits until the proxy has parked the idle connection.
    static void use_until_parked(proxy_under_test& px, raw_client& c) {
        c.send("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
        ASSERT_TRUE(c.read_response()) << c.ec().message();
        ASSERT_TRUE(eventually([&] { return px.server().parked_connections() == 1; }, 5s));
    }
};

// ---- head size ---------------------------------------------------------------------------

// A head of exactly `size` bytes: request line, Host and one padding header.
std::string head_of_size(std::size_t size) {
    const std::string start = "GET /echo HTTP/1.1\r\nHost: x\r\nX-Pad: ";
    const std::string end = "\r\n\r\n";
    return start + std::string(size - start.size() - end.size(), 'p') + end;
}

TEST_F(proxy_limits, head_at_the_limit_passes_one_byte_more_is_431_and_closes) {
    proxy_under_test px{"[server]\nmax_header_size = \"1KiB\"\n" + upstreams()};
    {
        raw_client c(px.port());
        c.send(head_of_size(1024));
        auto res = c.read_response();
        ASSERT_TRUE(res) << c.ec().message();
        EXPECT_EQ(res->result_int(), 200);
    }
    raw_client c(px.port());
    c.send(head_of_size(1025));
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.ec().message();
    EXPECT_EQ(res->result_int(), 431);
    EXPECT_FALSE(res->keep_alive());
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_EQ(up.request_count(), 1u);  // only the first one
}

TEST_F(proxy_limits, many_small_headers_count_as_one_head) {
    proxy_under_test px{"[server]\nmax_header_size = \"1KiB\"\n" + upstreams()};
    std::string req = "GET /echo HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 60; ++i) {
        req += "X-H" + std::to_string(i) + ": 0123456789\r\n";  // ~20 bytes each
    }
    raw_client c(px.port());
    c.send(req + "\r\n");
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.ec().message();
    EXPECT_EQ(res->result_int(), 431);
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_EQ(up.request_count(), 0u);
}

TEST_F(proxy_limits, oversized_head_is_431_even_when_it_never_ends) {
    // No terminating empty line at all: the proxy must not wait for one past the limit.
    proxy_under_test px{"[server]\nmax_header_size = \"1KiB\"\nheader_read_timeout = \"10s\"\n" + upstreams()};
    raw_client c(px.port(), 5s);
    const auto start = steady::now();
    c.send("GET /echo HTTP/1.1\r\nHost: x\r\nCookie: " + std::string(3000, 'c'));
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.ec().message();
    EXPECT_EQ(res->result_int(), 431);
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_LT(since(start), 2s);
}

// ---- body size per route -----------------------------------------------------------------

class proxy_body_limits : public proxy_limits {
protected:
    proxy_under_test px{"[server]\nmax_body_size = \"1MiB\"\n" + upstreams() +
                        "[[route]]\nprefix = \"/\"\nupstream = \"default\"\n"
                        "[[route]]\nprefix = \"/upload\"\nupstream = \"default\"\nmax_body_size = \"64KiB\"\n"};
};

TEST_F(proxy_body_limits, content_length_at_the_route_limit_passes) {
    raw_client c(px.port());
    c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\n" + std::string(65536, 'a'));
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.ec().message();
    EXPECT_EQ(res->result_int(), 200);
    EXPECT_NE(res->body().find("bytes=65536 "), std::string::npos) << res->body();
}

TEST_F(proxy_body_limits, content_length_over_the_route_limit_is_413_before_any_body_is_read) {
    raw_client c(px.port());
    // Only the head: the answer must not depend on the body arriving.
    c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n");
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.ec().message();
    EXPECT_EQ(res->result_int(), 413);
    EXPECT_FALSE(res->keep_alive());
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_EQ(up.request_count(), 0u);
    EXPECT_EQ(up.connections_accepted(), 0u);
}

TEST_F(proxy_body_limits, over_limit_body_sent_at_once_still_gets_its_413) {
    // The client writes head and body before reading: the proxy answers without reading the
    // body and must not reset the connection under the answer.
    raw_client c(px.port());
    c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n" + std::string(300000, 'a'));
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.ec().message();
    EXPECT_EQ(res->result_int(), 413);
    EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(proxy_body_limits, expect_continue_over_the_limit_gets_413_instead_of_100) {
    raw_client c(px.port());
    c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n");
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.ec().message();
    EXPECT_EQ(res->result_int(), 413);
    EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(proxy_body_limits, limit_is_per_route) {
    raw_client c(px.port());
    c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + std::string(100000, 'a'));
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.ec().message();
    EXPECT_EQ(res->result_int(), 200);
    EXPECT_NE(res->body().find("body-bytes: 100000"), std::string::npos);
    c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n");
    auto big = c.read_response();
    ASSERT_TRUE(big) << c.ec().message();
    EXPECT_EQ(big->result_int(), 413);  // the server-wide default applies off /upload
}

TEST_F(proxy_body_limits, chunked_body_at_the_limit_passes) {
    raw_client c(px.port());
    c.send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked_body(65536, 4000));
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.ec().message();
    EXPECT_EQ(res->result_int(), 200);
    EXPECT_NE(res->body().find("bytes=65536 "), std::string::npos) << res->body();
}

TEST_F(proxy_body_limits, chunked_body_exceeding_the_limit_mid_stream_is_413_and_closes) {
    raw_client c(px.port());
    c.send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    // Many small chunks: no single chunk is too big, their sum is.
    const auto body = chunked_body(200000, 4000);
    c.send(body.substr(0, body.size() - 5));  // not even the last chunk: the proxy must not wait for it
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.ec().message();
    EXPECT_EQ(res->result_int(), 413);
    EXPECT_FALSE(res->keep_alive());
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_EQ(up.request_count(), 0u);  // the upstream never got a complete request
}

TEST_F(proxy_body_limits, one_announced_chunk_over_the_limit_is_413_without_sending_it) {
    raw_client c(px.port());
    c.send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           "10001\r\nabc");  // announces 65537 bytes, sends three
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.ec().message();
    EXPECT_EQ(res->result_int(), 413);
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_EQ(up.request_count(), 0u);
}

// ---- connections -------------------------------------------------------------------------

TEST_F(proxy_limits, excess_connections_are_refused_and_existing_ones_keep_working) {
    proxy_under_test px{"[server]\nmax_connections = 2\n" + upstreams()};
    raw_client a(px.port());
    raw_client b(px.port());
    // A request on each makes sure both were accepted (and counted) before the third arrives.
    for (auto* c : {&a, &b}) {
        c->send("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
        auto res = c->read_response();
        ASSERT_TRUE(res) << c->ec().message();
        EXPECT_EQ(res->result_int(), 200);
    }
    {
        raw_client excess(px.port(), 3s);
        excess.send("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
        EXPECT_TRUE(excess.closed_by_peer());
    }
    EXPECT_EQ(up.request_count(), 2u);
    for (auto* c : {&a, &b}) {
        c->send("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
        auto res = c->read_response();
        ASSERT_TRUE(res) << c->ec().message();
        EXPECT_EQ(res->result_int(), 200);
    }
    // A slot freed by a closing client is available again.
    a.socket().close();
    ASSERT_TRUE(eventually([&] { return px.server().open_connections() <= 1; }));
    auto again = get(px.port(), "/echo");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->result_int(), 200);
}

// ---- timeouts ----------------------------------------------------------------------------

TEST_F(proxy_limits, partial_head_gets_408_after_the_header_read_timeout) {
    proxy_under_test px{"[server]\nheader_read_timeout = \"200ms\"\nidle_timeout = \"10s\"\n" + upstreams()};
    raw_client c(px.port(), 3s);
    c.send("GET /echo HTTP/1.1\r\nHost: x\r\n");  // no empty line: the head never completes
    const auto start = steady::now();
    auto res = c.read_response();
    const auto took = since(start);
    ASSERT_TRUE(res) << c.ec().message();
    EXPECT_EQ(res->result_int(), 408);
    EXPECT_FALSE(res->keep_alive());
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_GE(took, 150ms);
    EXPECT_LT(took, 1500ms);
    EXPECT_EQ(up.request_count(), 0u);
}

TEST_F(proxy_limits, slowloris_trickle_does_not_extend_the_header_read_timeout) {
    proxy_under_test px{"[server]\nheader_read_timeout = \"200ms\"\nidle_timeout = \"10s\"\n" + upstreams()};
    raw_client c(px.port(), 3s);
    const std::string head = "GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(500, 's');
    const auto start = steady::now();
    const std::size_t i = trickle(c, head, 10);  // one byte every 10 ms
    EXPECT_LT(i, head.size()) << "the proxy kept reading a head trickled for 5 s";
    const auto all = c.read_until_close();
    EXPECT_LT(since(start), 1500ms);
    EXPECT_EQ(all.rfind("HTTP/1.1 408", 0), 0u) << all.substr(0, 100);
}

TEST_F(proxy_limits, silent_connection_is_closed_after_the_header_read_timeout) {
    proxy_under_test px{"[server]\nheader_read_timeout = \"200ms\"\nidle_timeout = \"10s\"\n" + upstreams()};
    raw_client c(px.port(), 3s);
    const auto start = steady::now();
    EXPECT_TRUE(closed_silently(c));  // closed without a response: nothing was asked
    EXPECT_LT(since(start), 1500ms);
}

TEST_F(proxy_limits, stalled_request_body_gets_408_after_the_body_timeout) {
    proxy_under_test px{"[server]\nbody_timeout = \"200ms\"\n" + upstreams()};
    raw_client c(px.port(), 3s);
    c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
    const auto start = steady::now();
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.ec().message();
    EXPECT_EQ(res->result_int(), 408);
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_LT(since(start), 1500ms);
    EXPECT_EQ(up.request_count(), 0u);
}

// Slow POST: every pause is shorter than body_timeout, but the body as a whole arrives at
// 50 bytes/s, below body_min_rate. Past the grace of one body_timeout the proxy gives up.
TEST_F(proxy_limits, slow_post_below_the_minimum_body_rate_gets_408) {
    proxy_under_test px{"[server]\nbody_timeout = \"200ms\"\nbody_min_rate = \"100\"\n" + upstreams()};
    raw_client c(px.port(), 3s);
    c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
    const auto start = steady::now();
    const std::size_t i = trickle(c, std::string(1000, 'b'), 20);  // one byte every 20 ms
    EXPECT_LT(i, 1000u) << "the proxy kept reading a body trickled for 20 s";
    const auto all = c.read_until_close();
    EXPECT_LT(since(start), 2000ms);
    EXPECT_EQ(all.rfind("HTTP/1.1 408", 0), 0u) << all.substr(0, 100);
}

// The same limits and a body sent in pieces, with pauses, above the minimum rate: it passes.
TEST_F(proxy_limits, body_with_pauses_above_the_minimum_rate_passes) {
    proxy_under_test px{"[server]\nbody_timeout = \"200ms\"\nbody_min_rate = \"100\"\n" + upstreams()};
    raw_client c(px.port(), 5s);
    c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
    for (int piece = 0; piece < 10; ++piece) {
        c.send(std::string(100, 'b'));
        std::this_thread::sleep_for(50ms);  // 2,000 bytes/s with 50 ms pauses: the client's pace
    }
    const auto res = c.read_response();
    ASSERT_TRUE(res) << c.ec().message();
    EXPECT_EQ(res->result_int(), 200);
    EXPECT_NE(res->body().find("bytes=1000 "), std::string::npos) << res->body();
}

TEST_F(proxy_limits, idle_keep_alive_connection_is_closed_after_the_idle_timeout) {
    proxy_under_test px{"[server]\nidle_timeout = \"200ms\"\nheader_read_timeout = \"10s\"\n" + upstreams()};
    raw_client c(px.port(), 3s);
    c.send("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.ec().message();
    EXPECT_TRUE(res->keep_alive());
    const auto start = steady::now();
    EXPECT_TRUE(closed_silently(c));  // there was no request to answer
    const auto took = since(start);
    EXPECT_GE(took, 150ms);
    EXPECT_LT(took, 1500ms);
}

// A keep-alive connection idle for a second is parked: its read buffer and coroutine are given
// up and it waits for readability alone (what keeps idle connections under 1 KiB each). The
// next requests, pipelined, are read and answered as before.
TEST_F(proxy_limits, parked_idle_connection_serves_its_next_requests) {
    proxy_under_test px{"[server]\nidle_timeout = \"10s\"\n" + upstreams()};
    raw_client c(px.port(), 5s);
    c.send("GET /echo?n=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    auto first = c.read_response();
    ASSERT_TRUE(first) << c.ec().message();
    EXPECT_EQ(px.server().parked_connections(), 0u);  // busy connections keep their buffer
    ASSERT_TRUE(eventually([&] { return px.server().parked_connections() == 1; }, 5s));
    EXPECT_GE(metric_value(scrape_metrics(px.admin_port()), "anteroom_connections_parked").value_or(0), 1);

    c.send("GET /echo?n=2 HTTP/1.1\r\nHost: x\r\n\r\nGET /echo?n=3 HTTP/1.1\r\nHost: x\r\n\r\n");
    for (const char* target : {"/echo?n=2", "/echo?n=3"}) {
        auto res = c.read_response();
        ASSERT_TRUE(res) << target << ": " << c.ec().message();
        EXPECT_EQ(res->result_int(), 200);
        EXPECT_TRUE(res->keep_alive());
        EXPECT_NE(res->body().find(target), std::string::npos) << res->body();
    }
    EXPECT_EQ(px.server().parked_connections(), 0u);
    EXPECT_EQ(px.server().open_connections(), 1u);
    EXPECT_EQ(up.request_count(), 3u);
}

TEST_F(proxy_limits, parked_connection_is_closed_after_the_idle_timeout) {
    proxy_under_test px{"[server]\nidle_timeout = \"2s\"\n" + upstreams()};
    raw_client c(px.port(), 5s);
    const auto start = steady::now();
    ASSERT_NO_FATAL_FAILURE(use_until_parked(px, c));
    EXPECT_TRUE(closed_silently(c));
    EXPECT_GE(since(start), 1900ms);
    EXPECT_TRUE(eventually([&] { return px.server().open_connections() == 0; }));
    EXPECT_EQ(px.server().parked_connections(), 0u);
}

// Drain closes parked connections at once; it does not wait out drain_timeout for them.
TEST_F(proxy_limits, drain_closes_parked_connections_at_once) {
    proxy_under_test px{"[server]\nidle_timeout = \"30s\"\ndrain_timeout = \"20s\"\n" + upstreams()};
    raw_client c(px.port(), 5s);
    ASSERT_NO_FATAL_FAILURE(use_until_parked(px, c));
    const auto start = steady::now();
    px.server().drain();
    EXPECT_TRUE(closed_silently(c));
    EXPECT_LT(since(start), 3s);
    EXPECT_EQ(px.server().parked_connections(), 0u);
}

TEST_F(proxy_limits, idle_timeout_does_not_cut_a_slow_response) {
    proxy_under_test px{"[server]\nidle_timeout = \"200ms\"\n" + upstreams()};
    raw_client c(px.port(), 3s);
    c.send("GET /delay/400 HTTP/1.1\r\nHost: x\r\n\r\n");
    auto res = c.read_response();
    ASSERT_TRUE(res) << c.ec().message();
    EXPECT_EQ(res->result_int(), 200);
}

// ---- requests per connection -------------------------------------------------------------

TEST_F(proxy_limits, last_allowed_request_gets_connection_close_and_the_socket_closes) {
    proxy_under_test px{"[server]\nmax_requests_per_connection = 3\n" + upstreams()};
    raw_client c(px.port());
    for (int i = 1; i <= 3; ++i) {
        c.send("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
        auto res = c.read_response();
        ASSERT_TRUE(res) << i << ": " << c.ec().message();
        EXPECT_EQ(res->result_int(), 200);
        if (i < 3) {
            EXPECT_TRUE(res->keep_alive()) << i;
        } else {
            EXPECT_EQ((*res)[http::field::connection], "close");
        }
    }
    EXPECT_TRUE(c.closed_by_peer());
    EXPECT_EQ(up.request_count(), 3u);
}

TEST_F(proxy_limits, pipelined_requests_beyond_the_limit_are_not_served) {
    proxy_under_test px{"[server]\nmax_requests_per_connection = 2\n" + upstreams()};
    raw_client c(px.port());
    std::string burst;
    for (int i = 0; i < 4; ++i) {
        burst += "GET /echo/" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    }
    c.send(burst);
    auto first = c.read_response();
    auto second = c.read_response();
    ASSERT_TRUE(first && second) << c.ec().message();
    EXPECT_TRUE(first->keep_alive());
    EXPECT_FALSE(second->keep_alive());
    EXPECT_TRUE(c.closed_by_peer());
    ASSERT_EQ(up.request_count(), 2u);
    EXPECT_EQ(up.requests()[1].target, "/echo/1");
}

}  // namespace
}  // namespace anteroom::test
