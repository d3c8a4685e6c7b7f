#pragma once
// A small HTTP/1.1 server for anteroom's own endpoints (admin API, the built-in upstream page):
// whole requests with a bounded string body, a handler that returns a whole response. Not the
// proxy's data plane; it is used where the traffic is ours and small.

#include <functional>
#include <memory>

#include "common/net.hpp"

namespace anteroom::proxy {

using simple_request = http::request<http::string_body>;
using simple_response = http::response<http::string_body>;
using simple_handler = std::function<simple_response(const simple_request&, const tcp::endpoint& peer)>;

struct simple_server_limits {
    std::size_t max_header = 16 * 1024;
    std::size_t max_body = 1024 * 1024;
    std::chrono::milliseconds timeout{10'000};
    std::size_t max_connections = 256;
};

class simple_server {
public:
    simple_server(net::io_context& ioc, simple_handler handler, simple_server_limits limits = {});
    ~simple_server();
    // Binds and starts accepting. Returns false with `err` set when the address cannot be bound.
    bool listen(const tcp::endpoint& ep, std::string& err);
    tcp::endpoint local_endpoint() const;
    void close();

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace anteroom::proxy
