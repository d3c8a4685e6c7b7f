#include "common/simple_server.hpp"

#include <atomic>

namespace anteroom {

namespace {
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
}

struct simple_server::impl : std::enable_shared_from_this<impl> {
    impl(net::io_context& ioc, simple_handler h, simple_server_limits l)
        : acceptor(ioc), sync_handler(std::move(h)), limits(l) {}
    impl(net::io_context& ioc, simple_async_handler h, simple_server_limits l)
        : acceptor(ioc), async_handler(std::move(h)), limits(l) {}

    net::awaitable<void> accept_loop() {
        auto self = shared_from_this();
        for (;;) {
            auto [ec, sock] = co_await acceptor.async_accept(use_tuple);
            if (ec == net::error::operation_aborted || !acceptor.is_open()) {
                co_return;
            }
            if (ec) {
                continue;
            }
            if (connections >= limits.max_connections) {
                continue;  // the socket closes as it goes out of scope
            }
            net::co_spawn(acceptor.get_executor(), serve(beast::tcp_stream(std::move(sock))), net::detached);
        }
    }

    net::awaitable<void> serve(beast::tcp_stream stream) {
        auto self = shared_from_this();
        ++connections;
        beast::flat_buffer buf;
        beast::error_code pec;
        const auto peer = stream.socket().remote_endpoint(pec);
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.header_limit(static_cast<std::uint32_t>(limits.max_header));
            parser.body_limit(limits.max_body);
            stream.expires_after(limits.timeout);
            auto [ec, n] = co_await http::async_read(stream, buf, parser, use_tuple);
            (void)n;
            if (ec) {
                if (ec != http::error::end_of_stream && ec != net::error::operation_aborted &&
                    ec != beast::error::timeout && ec != net::error::eof &&
                    ec != net::error::connection_reset) {
                    const bool too_large = ec == http::error::header_limit || ec == http::error::body_limit;
                    const auto status = too_large ? http::status::payload_too_large : http::status::bad_request;
                    simple_response bad = simple_text(status, too_large ? "request too large\n" : "bad request\n");
                    if (limits.json_errors) {
                        bad.set(http::field::content_type, "application/json");
                        bad.body() = too_large ? R"({"code":"too_large","message":"The request is too large."})"
                                               : R"({"code":"malformed_request","message":"The request is not valid HTTP/1.1."})";
                    }
                    bad.keep_alive(false);
                    bad.prepare_payload();
                    co_await http::async_write(stream, bad, use_tuple);
                }
                break;
            }
            auto req = parser.release();
            const bool wants_keep = req.keep_alive();
            const unsigned version = req.version();
            const bool head = req.method() == http::verb::head;
            // Not a conditional expression: GCC 12 mishandles the temporaries of a co_await inside ?:.
            simple_response res;
            if (sync_handler) {
                res = sync_handler(req, peer);
            } else {
                res = co_await async_handler(std::move(req), peer);
            }
            const bool keep = wants_keep && res.keep_alive();
            res.version(version);
            res.keep_alive(keep);
            if (!head) {
                res.prepare_payload();
            } else {
                res.content_length(res.body().size());
                res.body().clear();
            }
            auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
            (void)wn;
            if (wec || !keep) {
                break;
            }
        }
        beast::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
        --connections;
    }

    tcp::acceptor acceptor;
    simple_handler sync_handler;
    simple_async_handler async_handler;
    simple_server_limits limits;
    std::atomic<std::size_t> connections{0};
};

simple_server::simple_server(net::io_context& ioc, simple_handler handler, simple_server_limits limits)
    : impl_(std::make_shared<impl>(ioc, std::move(handler), limits)) {}

simple_server::simple_server(net::io_context& ioc, simple_async_handler handler, simple_server_limits limits)
    : impl_(std::make_shared<impl>(ioc, std::move(handler), limits)) {}

simple_server::~simple_server() { close(); }

std::size_t simple_server::connections() const { return impl_->connections.load(std::memory_order_relaxed); }

simple_response simple_text(http::status status, std::string body, unsigned version) {
    simple_response r{status, version};
    r.set(http::field::content_type, "text/plain; charset=utf-8");
    r.body() = std::move(body);
    r.prepare_payload();
    return r;
}

bool simple_server::listen(const tcp::endpoint& ep, std::string& err) {
    beast::error_code ec;
    auto& a = impl_->acceptor;
    a.open(ep.protocol(), ec);
    if (!ec) {
        a.set_option(net::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
        a.bind(ep, ec);
    }
    if (!ec) {
        a.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        err = ec.message();
        a.close(ec);
        return false;
    }
    net::co_spawn(a.get_executor(), impl_->accept_loop(), net::detached);
    return true;
}

tcp::endpoint simple_server::local_endpoint() const {
    beast::error_code ec;
    return impl_->acceptor.local_endpoint(ec);
}

void simple_server::close() {
    if (impl_) {
        // Closing from another thread would race the accept loop; hop onto its executor.
        net::post(impl_->acceptor.get_executor(), [i = impl_] {
            beast::error_code ec;
            i->acceptor.close(ec);
        });
    }
}

}  // namespace anteroom
