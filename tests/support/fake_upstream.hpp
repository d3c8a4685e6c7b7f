#pragma once
// A real HTTP/1.1 upstream on 127.0.0.1:0 for integration tests, with behaviours chosen by path:
//
//   /echo...            200, body = "<METHOD> <target>\n" + request headers + "\n" + body size line
//   /status/NNN         answers NNN (204 and 304 without a body)
//   /delay/MS           answers 200 after MS milliseconds
//   /close              closes the connection without answering
//   /malformed          answers a head that is not HTTP ("HTTP/1.1 2OO Fine"), then waits
//   /chunked/N          200 with N bytes in several chunks (Transfer-Encoding: chunked)
//   /eof/N              200 with N bytes, no Content-Length, closes to end the body
//   /download/N         N bytes of a repeating pattern, streamed with Content-Length
//   /truncate/N         Content-Length N, but closes after N/2 bytes (upstream dies mid-body)
//   /truncate-chunked/N chunked, closes after N/2 bytes without the last chunk
//   /gzip-chunked/N     like /chunked/N but labelled "Transfer-Encoding: gzip, chunked"
//   /stall/N            Content-Length N, sends N/2 bytes, then silence until the peer closes
//   /upload             reads the body in a streaming way, answers its size and a checksum
//   /ws                 101 Switching Protocols, then echoes bytes back (a tunnel peer)
//   /early              101 then writes "hello" at once, before reading anything
//   .../session-end     200 with "Anteroom-Session: end" (the portal ends an admitted visit)
//   /capacity/N         {"available": N, "next_available_at": "2030-01-01T08:00:00Z"} (inventory)
//
// Every request head it sees is recorded for assertions.

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/net.hpp"

namespace anteroom::test {

struct seen_request {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    std::uint64_t body_bytes = 0;
    std::string header(std::string_view name) const;  // first match, case-insensitive; "" if absent
    std::size_t count(std::string_view name) const;
};

class fake_upstream {
public:
    // On `port` (0 = any free one): a test can stop an upstream and start it again where it was.
    explicit fake_upstream(std::uint16_t port = 0);
    ~fake_upstream();

    std::uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

    std::vector<seen_request> requests() const;
    std::size_t request_count() const;
    std::size_t connections_accepted() const { return accepted_.load(); }
    // Blocks until at least n requests were seen (bounded by timeout); false on timeout.
    bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;
    void stop();

private:
    net::awaitable<void> accept_loop();
    net::awaitable<void> serve(tcp::socket sock);
    void record(seen_request r);

    net::io_context ioc_{1};
    tcp::acceptor acceptor_{ioc_};
    std::uint16_t port_ = 0;
    std::thread thread_;
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    std::vector<seen_request> seen_;
    std::atomic<std::size_t> accepted_{0};
};

// A server that accepts every connection and closes it at once, counting them: an upstream
// that is up at the TCP level but fails every request (passive-health tests).
class closing_upstream {
public:
    closing_upstream();
    ~closing_upstream();
    std::uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    std::size_t connections_accepted() const { return accepted_.load(); }

private:
    net::io_context ioc_{1};
    tcp::acceptor acceptor_{ioc_};
    std::uint16_t port_ = 0;
    std::thread thread_;
    std::atomic<std::size_t> accepted_{0};
};

// A port on loopback where nothing listens (bound, then closed).
std::uint16_t closed_port();

}  // namespace anteroom::test
