// Proxy behaviour over real sockets: forwarding, header hygiene, keep-alive, pipelining,
// chunked both ways, bodiless responses, 100-continue, upgrade tunnels, filters, error pages.

#include <gtest/gtest.h>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/harness.hpp"

namespace anteroom::test {
namespace {

class proxy_basic : public ::testing::Test {
protected:
    fake_upstream up;
    proxy_under_test px{upstream_block("[\"" + up.address() + "\"]")};
};

TEST_F(proxy_basic, forwards_get_and_adds_forwarding_headers) {
    auto res = get(px.port(), "/echo/a?q=1", "X-Request-Id: abc-123\r\n");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 200);
    ASSERT_EQ(up.request_count(), 1u);
    const auto r = up.requests()[0];
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.target, "/echo/a?q=1");
    EXPECT_EQ(r.header("X-Forwarded-For"), "127.0.0.1");
    EXPECT_EQ(r.header("X-Forwarded-Proto"), "http");
    EXPECT_EQ(r.header("X-Forwarded-Host"), "test.local");
    EXPECT_EQ(r.header("Forwarded"), "for=127.0.0.1;proto=http;host=\"test.local\"");
    EXPECT_EQ(r.header("Via"), "1.1 anteroom");
    EXPECT_EQ(r.header("X-Request-Id"), "abc-123");
    EXPECT_EQ(r.header("Host"), "test.local");
}

TEST_F(proxy_basic, creates_request_id_when_absent_or_invalid) {
    ASSERT_TRUE(get(px.port(), "/echo", "X-Request-Id: bad id with spaces\r\n"));
    const auto id = up.requests().at(0).header("X-Request-Id");
    EXPECT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find(' '), std::string::npos);
}

TEST_F(proxy_basic, untrusted_peer_cannot_spoof_forwarding_headers) {
    ASSERT_TRUE(get(px.port(), "/echo",
                    "X-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\nX-Forwarded-Proto: https\r\n"));
    const auto r = up.requests().at(0);
    EXPECT_EQ(r.header("X-Forwarded-For"), "127.0.0.1");
    EXPECT_EQ(r.header("X-Forwarded-Proto"), "http");
    EXPECT_EQ(r.header("Forwarded").find("6.6.6.6"), std::string::npos);
}

TEST_F(proxy_basic, removes_hop_by_hop_headers_and_those_named_in_connection) {
    ASSERT_TRUE(get(px.port(), "/echo",
                    "Connection: keep-alive, X-Secret-Hop\r\nX-Secret-Hop: 1\r\nKeep-Alive: timeout=5\r\n"
                    "TE: trailers\r\nProxy-Authorization: Basic eA==\r\nX-End-To-End: yes\r\n"));
    const auto r = up.requests().at(0);
    EXPECT_EQ(r.count("X-Secret-Hop"), 0u);
    EXPECT_EQ(r.count("Keep-Alive"), 0u);
    EXPECT_EQ(r.count("TE"), 0u);
    EXPECT_EQ(r.count("Proxy-Authorization"), 0u);
    EXPECT_EQ(r.count("Connection"), 0u);
    EXPECT_EQ(r.header("X-End-To-End"), "yes");
}

TEST_F(proxy_basic, keep_alive_reuses_client_and_upstream_connections) {
    raw_client c(px.port());
    for (int i = 0; i < 5; ++i) {
        c.send("GET /echo/" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n");
        auto res = c.read_response();
        ASSERT_TRUE(res) << c.ec().message();
        EXPECT_EQ(res->result_int(), 200);
        EXPECT_TRUE(res->keep_alive());
    }
    EXPECT_EQ(up.request_count(), 5u);
    EXPECT_EQ(up.connections_accepted(), 1u);  // pooled upstream connection
}

TEST_F(proxy_basic, pipelined_requests_are_answered_in_order) {
    raw_client c(px.port());
    c.send("GET /echo/1 HTTP/1.1\r\nHost: x\r\n\r\n"
           "GET /delay/50 HTTP/1.1\r\nHost: x\r\n\r\n"
           "GET /echo/3 HTTP/1.1\r\nHost: x\r\n\r\n");
    auto a = c.read_response();
    auto b = c.read_response();
    auto d = c.read_response();
    ASSERT_TRUE(a && b && d);
    EXPECT_NE(a->body().find("GET /echo/1"), std::string::npos);
    EXPECT_EQ(b->body(), "ok\n");
    EXPECT_NE(d->body().find("GET /echo/3"), std::string::npos);
}

TEST_F(proxy_basic, http10_client_gets_connection_close_by_default) {
    raw_client c(px.port());
    c.send("GET /echo HTTP/1.0\r\n\r\n");
    auto res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->version(), 10);
    EXPECT_FALSE(res->keep_alive());
    EXPECT_TRUE(c.closed_by_peer());
    // HTTP/1.0 may omit Host; the upstream request (HTTP/1.1) still carries one.
    EXPECT_FALSE(up.requests().at(0).header("Host").empty());
}

TEST_F(proxy_basic, http10_keep_alive_is_honoured) {
    raw_client c(px.port());
    c.send("GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    auto res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_TRUE(res->keep_alive());
    c.send("GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    ASSERT_TRUE(c.read_response());
}

TEST_F(proxy_basic, chunked_request_body_reaches_upstream) {
    raw_client c(px.port());
    c.send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    auto res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 200);
    EXPECT_NE(res->body().find("bytes=11"), std::string::npos);
    EXPECT_EQ(up.requests().at(0).header("Transfer-Encoding"), "chunked");
    // The re-chunked body ended with one last chunk: the pooled upstream connection carries the
    // next request (stray bytes after the body would have made the upstream close it).
    c.send("GET /echo/next HTTP/1.1\r\nHost: x\r\n\r\n");
    auto next = c.read_response();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->result_int(), 200);
    EXPECT_EQ(up.connections_accepted(), 1u);
}

TEST_F(proxy_basic, chunked_response_is_rechunked_for_http11_clients) {
    raw_client c(px.port());
    c.send("GET /chunked/5000 HTTP/1.1\r\nHost: x\r\n\r\n");
    auto res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_TRUE(res->chunked());
    EXPECT_EQ(res->body().size(), 5000u);
    EXPECT_TRUE(res->keep_alive());
    // The body ended where its last chunk said: the next answer on the connection starts clean.
    c.send("GET /echo/next HTTP/1.1\r\nHost: x\r\n\r\n");
    auto next = c.read_response();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->result_int(), 200);
}

TEST_F(proxy_basic, close_delimited_response_becomes_chunked_for_http11) {
    raw_client c(px.port());
    c.send("GET /eof/3000 HTTP/1.1\r\nHost: x\r\n\r\n");
    auto res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_TRUE(res->chunked());
    EXPECT_EQ(res->body().size(), 3000u);
}

TEST_F(proxy_basic, chunked_response_is_close_delimited_for_http10) {
    raw_client c(px.port());
    c.send("GET /chunked/2500 HTTP/1.0\r\n\r\n");
    const auto all = c.read_until_close();
    EXPECT_EQ(all.find("Transfer-Encoding"), std::string::npos);
    const auto body_at = all.find("\r\n\r\n");
    ASSERT_NE(body_at, std::string::npos);
    EXPECT_EQ(all.size() - body_at - 4, 2500u);
}

TEST_F(proxy_basic, head_204_and_304_have_no_body) {
    raw_client c(px.port());
    c.send("HEAD /download/1234 HTTP/1.1\r\nHost: x\r\n\r\n");
    auto h = c.read_response(true);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->result_int(), 200);
    EXPECT_EQ((*h)[http::field::content_length], "1234");
    for (const char* path : {"/status/204", "/status/304"}) {
        c.send(std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
        auto r = c.read_response();
        ASSERT_TRUE(r) << path;
        EXPECT_TRUE(r->body().empty());
    }
    // The connection is still in sync: a normal request after them works.
    c.send("GET /echo/after HTTP/1.1\r\nHost: x\r\n\r\n");
    auto after = c.read_response();
    ASSERT_TRUE(after);
    EXPECT_NE(after->body().find("/echo/after"), std::string::npos);
}

TEST_F(proxy_basic, expect_100_continue_gets_interim_response_before_body) {
    raw_client c(px.port());
    c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    const auto interim = c.read_some();
    EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
    c.send("data");
    auto res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_NE(res->body().find("bytes=4"), std::string::npos);
    EXPECT_EQ(up.requests().at(0).count("Expect"), 0u);
}

TEST_F(proxy_basic, upgrade_becomes_a_bidirectional_tunnel) {
    raw_client c(px.port());
    c.send("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n");
    http::response_parser<http::empty_body> p;
    http::read_header(c.socket(), c.buffer(), p);
    EXPECT_EQ(p.get().result_int(), 101);
    EXPECT_TRUE(beast::iequals(p.get()[http::field::upgrade], "websocket"));
    const auto r = up.requests().at(0);
    EXPECT_EQ(r.header("Upgrade"), "websocket");
    EXPECT_TRUE(beast::iequals(r.header("Connection"), "upgrade"));
    for (const std::string msg : {"ping-1", "a longer message two"}) {
        c.send(msg);
        std::string got;
        while (got.size() < msg.size()) {
            const auto part = c.read_some();
            ASSERT_FALSE(part.empty()) << c.ec().message();
            got += part;
        }
        EXPECT_EQ(got, msg);
    }
}

TEST_F(proxy_basic, bytes_sent_right_after_101_reach_the_client) {
    raw_client c(px.port());
    c.send("GET /early HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
    std::string all;
    while (all.find("hello") == std::string::npos) {
        const auto part = c.read_some();
        ASSERT_FALSE(part.empty());
        all += part;
    }
    EXPECT_EQ(all.rfind("HTTP/1.1 101", 0), 0u);
}

TEST_F(proxy_basic, unknown_route_is_404_with_german_page_by_default) {
    proxy_under_test routed{upstream_block("[\"" + up.address() + "\"]") +
                            "[[route]]\nprefix = \"/portal\"\nupstream = \"default\"\n"};
    auto res = get(routed.port(), "/elsewhere");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 404);
    EXPECT_NE(res->body().find("lang=\"de\""), std::string::npos);
    EXPECT_FALSE((*res)["X-Request-Id"].empty());
    auto ok = get(routed.port(), "/portal/x");
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->result_int(), 200);
}

TEST_F(proxy_basic, error_page_is_json_when_asked_and_english_by_accept_language) {
    proxy_under_test dead{upstream_block("[\"127.0.0.1:" + std::to_string(closed_port()) + "\"]")};
    auto j = get(dead.port(), "/", "Accept: application/json\r\n");
    ASSERT_TRUE(j);
    EXPECT_EQ(j->result_int(), 502);
    EXPECT_EQ((*j)[http::field::content_type], "application/json");
    EXPECT_NE(j->body().find("\"status\":502"), std::string::npos);
    auto en = get(dead.port(), "/", "Accept-Language: en-GB,en;q=0.9\r\n");
    ASSERT_TRUE(en);
    EXPECT_NE(en->body().find("lang=\"en\""), std::string::npos);
}

// A filter that answers /blocked itself, drops /drop and records the client address it saw.
class test_filter : public proxy::request_filter {
public:
    std::string_view name() const override { return "test"; }
    proxy::verdict on_request(proxy::request_ctx& ctx) const override {
        {
            std::lock_guard lock(mu);
            clients.push_back(ctx.client.text());
        }
        if (ctx.path == "/blocked") {
            http::response<http::string_body> r{http::status::forbidden, 11};
            r.body() = "blocked by filter";
            ctx.response = std::move(r);
            return proxy::verdict::respond;
        }
        if (ctx.path == "/drop") {
            return proxy::verdict::close;
        }
        ctx.response_headers.emplace_back("X-Filtered", "yes");
        return proxy::verdict::next;
    }
    mutable std::mutex mu;
    mutable std::vector<std::string> clients;
};

TEST(proxy_filters, verdicts_respond_close_and_next) {
    fake_upstream up;
    auto f = std::make_shared<test_filter>();
    proxy_under_test px{upstream_block("[\"" + up.address() + "\"]"), {f}};
    auto blocked = get(px.port(), "/blocked");
    ASSERT_TRUE(blocked);
    EXPECT_EQ(blocked->result_int(), 403);
    EXPECT_EQ(blocked->body(), "blocked by filter");
    EXPECT_EQ(up.request_count(), 0u);

    raw_client c(px.port());
    c.send("GET /drop HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(c.closed_by_peer());

    auto ok = get(px.port(), "/echo");
    ASSERT_TRUE(ok);
    EXPECT_EQ((*ok)["X-Filtered"], "yes");
    EXPECT_EQ(up.request_count(), 1u);
}

TEST(proxy_filters, client_address_comes_from_xff_only_behind_trusted_proxies) {
    fake_upstream up;
    auto f = std::make_shared<test_filter>();
    {
        proxy_under_test px{"[server]\ntrusted_proxies = [\"127.0.0.0/8\"]\n" +
                                upstream_block("[\"" + up.address() + "\"]"),
                            {f}};
        ASSERT_TRUE(get(px.port(), "/echo", "X-Forwarded-For: 203.0.113.9, 127.0.0.5\r\n"));
        // Extended, not replaced, from a trusted peer.
        EXPECT_EQ(up.requests().at(0).header("X-Forwarded-For"), "203.0.113.9, 127.0.0.5, 127.0.0.1");
    }
    {
        proxy_under_test px{upstream_block("[\"" + up.address() + "\"]"), {f}};
        ASSERT_TRUE(get(px.port(), "/echo", "X-Forwarded-For: 203.0.113.9\r\n"));
    }
    std::lock_guard lock(f->mu);
    ASSERT_EQ(f->clients.size(), 2u);
    EXPECT_EQ(f->clients[0], "203.0.113.9");
    EXPECT_EQ(f->clients[1], "127.0.0.1");
}

}  // namespace
}  // namespace anteroom::test
