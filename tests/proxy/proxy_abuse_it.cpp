// Abuse over real sockets, the inputs an attacker sends on purpose: floods of header lines,
// oversized and malformed cookies in front of a room, invalid UTF-8 and NUL bytes in paths and
// headers, many connections sending junk at once, and a client that stops reading its
// response (slow read). Each is answered or cut as documented, the upstream sees nothing it
// should not, and a well-behaved client is still served afterwards.

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "common/keyfile.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/harness.hpp"

namespace anteroom::test {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// A head with `fields` header lines in all (Host and fields - 1 short ones).
std::string head_with_fields(std::size_t fields, const std::string& target = "/echo") {
    std::string head = "GET " + target + " HTTP/1.1\r\nHost: x\r\n";
    for (std::size_t i = 1; i < fields; ++i) {
        head += "X-" + std::to_string(i) + ": v\r\n";
    }
    return head + "\r\n";
}

class proxy_abuse : public ::testing::Test {
protected:
    proxy_abuse() : dir_(make_temp_dir("anteroom-abuse")) {
        std::string err;
        EXPECT_TRUE(write_new_keyfile(dir_ + "/keys.toml", false, err)) << err;
    }
    ~proxy_abuse() override {
        px_.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    // The proxy in front of the fake upstream, with a waiting room on /book (open, generous:
    // a visitor without a ticket gets one and the waiting page or the upstream).
    void start(const std::string& server_extra = "") {
        px_ = std::make_unique<proxy_under_test>(
            "state_dir = \"" + dir_ + "/state\"\n[server]\nmax_header_size = \"8KiB\"\n" + server_extra +
            upstream_block("[\"" + up.address() + "\"]") + "\n[admission]\nkey_file = \"" + dir_ +
            "/keys.toml\"\nbind_ip = false\n\n[[room]]\nid = \"book\"\npaths = [\"/book\"]\n"
            "mode = \"paused\"\nnew_users_per_minute = 60\nmax_active_users = 100\n");
    }

    std::uint16_t port() const { return px_->port(); }

    // A request the proxy must still serve after the abuse.
    void expect_still_serving() {
        const auto r = get(port(), "/echo/after");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->result_int(), 200);
    }

    // Sends `bytes`, expects `status`, a closed connection, and nothing new at the upstream.
    void expect_rejected(const std::string& bytes, int status) {
        const auto seen = up.request_count();
        raw_client c(port());
        c.send(bytes);
        const auto r = c.read_response();
        ASSERT_TRUE(r) << c.ec().message();
        EXPECT_EQ(r->result_int(), status);
        EXPECT_TRUE(c.closed_by_peer());
        EXPECT_EQ(up.request_count(), seen);
    }

    fake_upstream up;
    std::string dir_;
    std::unique_ptr<proxy_under_test> px_;
};

// ---- header floods ------------------------------------------------------------------------

TEST_F(proxy_abuse, a_hundred_header_lines_pass_one_more_is_431_and_closes) {
    start();
    raw_client ok(port());
    ok.send(head_with_fields(100));
    const auto r = ok.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 200);
    ASSERT_TRUE(up.wait_for_requests(1, 5s));
    EXPECT_EQ(up.requests().back().header("X-99"), "v");

    expect_rejected(head_with_fields(101), 431);
    // Many empty-valued lines, far below the size limit: the count is the limit that applies.
    std::string empties = "GET /echo HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 1000; ++i) {
        empties += "A:\r\n";
    }
    expect_rejected(empties + "\r\n", 431);
    expect_still_serving();
}

TEST_F(proxy_abuse, header_floods_on_many_connections_at_once_leave_the_proxy_serving) {
    start();
    const std::string flood = head_with_fields(101);
    std::vector<std::unique_ptr<raw_client>> clients;
    for (int i = 0; i < 64; ++i) {
        clients.push_back(std::make_unique<raw_client>(port()));
        clients.back()->send(flood);
    }
    int answered = 0;
    for (auto& c : clients) {
        const auto r = c->read_response();
        if (r && r->result_int() == 431 && c->closed_by_peer()) {
            ++answered;
        }
    }
    EXPECT_EQ(answered, 64);
    EXPECT_EQ(up.request_count(), 0u);
    expect_still_serving();
}

// ---- cookies ------------------------------------------------------------------------------

TEST_F(proxy_abuse, cookie_larger_than_the_head_limit_is_431_even_before_a_room) {
    start();
    const std::string big = "Cookie: anteroom_ticket_book=" + std::string(9000, 'A') + "\r\n";
    expect_rejected("GET /book HTTP/1.1\r\nHost: x\r\n" + big + "\r\n", 431);
    expect_rejected("GET /echo HTTP/1.1\r\nHost: x\r\n" + big + "\r\n", 431);
    expect_still_serving();
}

TEST_F(proxy_abuse, junk_cookies_in_front_of_a_room_are_treated_as_absent) {
    start();
    // Thousands of pairs, duplicates of the room's own cookies with forged, empty, binary and
    // unterminated values: the visitor is a newcomer (a fresh ticket), nothing reaches the
    // upstream while the room is paused, and the proxy keeps serving.
    std::string cookie = "Cookie: ";
    for (int i = 0; i < 600; ++i) {
        cookie += "a" + std::to_string(i) + "=b; ";
    }
    cookie += "anteroom_ticket_book=; anteroom_ticket_book=\"unterminated; anteroom_ticket_book=v1.AAAA.BBBB; "
              "anteroom_pass_book=\xff\xfe\x80; anteroom_pass_book==; ;;; =; anteroom_ticket_book=" +
              std::string(500, '.') + "\r\n";
    ASSERT_LT(cookie.size(), 8000u);
    raw_client c(port());
    c.send("GET /book HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n" + cookie + "\r\n");
    const auto r = c.read_response();
    ASSERT_TRUE(r) << c.ec().message();
    EXPECT_EQ(r->result_int(), 200);
    EXPECT_TRUE(set_cookie_value(*r, "anteroom_ticket_book").has_value());
    EXPECT_EQ(up.request_count(), 0u);
    expect_still_serving();
}

// ---- invalid UTF-8 and NUL bytes ----------------------------------------------------------

TEST_F(proxy_abuse, nul_and_control_bytes_in_path_or_headers_are_400_and_close) {
    start();
    using namespace std::string_literals;
    expect_rejected("GET /echo\0x HTTP/1.1\r\nHost: x\r\n\r\n"s, 400);
    expect_rejected("GET /book\0x HTTP/1.1\r\nHost: x\r\n\r\n"s, 400);
    expect_rejected("GET /echo\x01 HTTP/1.1\r\nHost: x\r\n\r\n"s, 400);
    expect_rejected("GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n"s, 400);
    expect_rejected("GET /echo HTTP/1.1\r\nHost: x\0y\r\n\r\n"s, 400);
    expect_rejected("GET /echo HTTP/1.1\r\nHost: x\r\nCookie: a=\0\r\n\r\n"s, 400);
    expect_still_serving();
}

TEST_F(proxy_abuse, an_encoded_nul_cannot_reach_a_room_path) {
    start();
    // %00 (and a malformed escape) under a room: the path cannot be normalised, so it could mean
    // anything to the upstream; the waiting room answers 400 instead of letting it around.
    for (const char* target : {"/book/%00", "/book%00/x", "/%62ook/%0", "/book/%zz"}) {
        raw_client c(port());
        c.send(std::string("GET ") + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
        const auto r = c.read_response();
        ASSERT_TRUE(r) << target;
        EXPECT_EQ(r->result_int(), 400) << target;
    }
    EXPECT_EQ(up.request_count(), 0u);
}

TEST_F(proxy_abuse, invalid_utf8_is_opaque_bytes_forwarded_unchanged_or_kept_in_the_room) {
    start();
    // RFC 9110 allows obs-text (0x80-0xFF) in field values and the proxy does not decode paths
    // outside rooms: overlong encodings, lone continuation bytes and surrogates reach the
    // upstream byte for byte.
    const std::string junk = "\xc0\xaf\xed\xa0\x80\xff\xfe\x80";
    raw_client c(port());
    c.send("GET /echo/" + junk + " HTTP/1.1\r\nHost: x\r\nX-Name: " + junk + "\r\n\r\n");
    const auto r = c.read_response();
    ASSERT_TRUE(r) << c.ec().message();
    EXPECT_EQ(r->result_int(), 200);
    ASSERT_TRUE(up.wait_for_requests(1, 5s));
    const auto seen = up.requests().back();
    EXPECT_EQ(seen.target, "/echo/" + junk);
    EXPECT_EQ(seen.header("X-Name"), junk);

    // Under a room the normalised path escapes them ("/book/%C0%AF..."): the room still
    // holds the visitor.
    raw_client in_room(port());
    in_room.send("GET /book/" + junk + " HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n");
    const auto rr = in_room.read_response();
    ASSERT_TRUE(rr);
    EXPECT_EQ(rr->result_int(), 200);
    EXPECT_TRUE(set_cookie_value(*rr, "anteroom_ticket_book").has_value());
    EXPECT_EQ(up.request_count(), 1u);
}

// ---- slow read ------------------------------------------------------------------------------

TEST_F(proxy_abuse, client_that_stops_reading_is_reset_after_the_body_timeout) {
    start("body_timeout = \"300ms\"\n");
    // A small receive window and no reads: the proxy's writes stall once the kernel buffers on
    // both sides are full. After body_timeout without progress the connection must be reset
    // (RST), not closed gracefully, so the kernel does not keep the unsent bytes for minutes.
    raw_client slow(port(), 20s);
    slow.socket().set_option(net::socket_base::receive_buffer_size(4096));
    slow.send("GET /download/67108864 HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(up.wait_for_requests(1, 5s));

    // Meanwhile, others are served at once.
    const auto t0 = steady::now();
    expect_still_serving();
    EXPECT_LT(steady::now() - t0, 1s);

    // The proxy gives up on the stalled write: its open connections drop back to none (the
    // probe above closed its own connection).
    EXPECT_TRUE(eventually([&] { return px_->server().open_connections() == 0; }, 10s));
    // What was in flight is readable; then the reset, not an orderly end of stream.
    const auto got = slow.read_until_close();
    EXPECT_EQ(slow.ec(), net::error::connection_reset) << slow.ec().message();
    EXPECT_LT(got.size(), std::size_t{67108864});
    expect_still_serving();
}

// With routes of its own a test keeps "/" on the default upstream.
const std::string all_else = "[[route]]\nprefix = \"/\"\nupstream = \"default\"\n";

TEST_F(proxy_abuse, a_slow_reader_does_not_hold_an_upstream_connection) {
    // 8 MiB is more than any socket buffer on the way takes, so the write to this client
    // stalls; with response_buffer above it, the proxy read the response whole and gave the
    // upstream connection back to the pool before that write began.
    start("body_timeout = \"10s\"\n" + std::string("[[upstream]]\nname = \"big\"\nservers = [\"") +
          up.address() + "\"]\nresponse_buffer = \"16MiB\"\n[[route]]\nprefix = \"/download/\"\nupstream = \"big\"\n" + all_else);
    const auto pool_idle = [&] {
        return metric_value(scrape_metrics(px_->admin_port()), "anteroom_upstream_pool_idle").value_or(-1);
    };
    const double idle_before = pool_idle();
    raw_client slow(port(), 20s);
    slow.socket().set_option(net::socket_base::receive_buffer_size(4096));
    slow.send("GET /download/8388608 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    ASSERT_TRUE(up.wait_for_requests(1, 5s));
    // The upstream connection is back in the pool while the client has read almost nothing...
    EXPECT_TRUE(eventually([&] { return pool_idle() == idle_before + 1; }, 10s));
    // ...and the next request to the same pool (one worker, one pool) reuses it.
    const auto probe = get(port(), "/download/10");
    ASSERT_TRUE(probe);
    EXPECT_EQ(probe->result_int(), 200);
    EXPECT_EQ(up.connections_accepted(), 1u);
    // The slow client's answer is under way: a 200 head and the start of the body.
    const auto first = slow.read_some();
    EXPECT_EQ(first.rfind("HTTP/1.1 200", 0), 0u) << first.substr(0, 40);
}

TEST_F(proxy_abuse, an_upstream_failing_inside_a_buffered_response_is_a_502_not_a_truncated_body) {
    start(std::string("[[upstream]]\nname = \"big\"\nservers = [\"") + up.address() +
          "\"]\nresponse_buffer = \"1MiB\"\n[[route]]\nprefix = \"/truncate/\"\nupstream = \"big\"\n" + all_else);
    // /truncate/N promises N bytes and closes after N/2: within response_buffer nothing has
    // been sent, so the client gets an honest 502.
    const auto r = get(port(), "/truncate/400000");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 502);
    expect_still_serving();
}

}  // namespace
}  // namespace anteroom::test
