#pragma once
// A small HTTP/1.1 server for anteroom's own endpoints (admin API, the built-in upstream page, the
// booking backend): whole requests with a bounded string body, a handler that returns a whole
// response. Not the proxy's data plane; it is used where the traffic is ours and bounded.
//
// A handler is either synchronous (runs on the connection's executor; keep it short) or
// asynchronous (a coroutine: the booking backend awaits its SQLite worker pool there, so the
// I/O thread never blocks on the database).

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/net.hpp"

namespace anteroom {

using simple_request = http::request<http::string_body>;
using simple_response = http::response<http::string_body>;
using simple_handler = std::function<simple_response(const simple_request&, const tcp::endpoint& peer)>;
using simple_async_handler =
    std::function<net::awaitable<simple_response>(simple_request, tcp::endpoint peer)>;

struct simple_server_limits {
    std::size_t max_header = 16 * 1024;
    std::size_t max_body = 1024 * 1024;
    std::chrono::milliseconds timeout{10'000};
    std::size_t max_connections = 256;
    // Answer unparsable or oversized requests with {"code","message"} JSON instead of plain text
    // (codes "malformed_request", "too_large"), for servers whose every error is JSON.
    bool json_errors = false;
};

class simple_server {
public:
    simple_server(net::io_context& ioc, simple_handler handler, simple_server_limits limits = {});
    simple_server(net::io_context& ioc, simple_async_handler handler, simple_server_limits limits = {});
    ~simple_server();
    // Binds and starts accepting. Returns false with `err` set when the address cannot be bound.
    bool listen(const tcp::endpoint& ep, std::string& err);
    tcp::endpoint local_endpoint() const;
    void close();
    // Connections open now (read on the server's executor, or for a rough figure).
    std::size_t connections() const;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

// A plain-text response, for the few places that answer without a template.
simple_response simple_text(http::status status, std::string body, unsigned version = 11);

}  // namespace anteroom
