#pragma once
// Integration test harness: an in-process proxy on port 0 built from TOML text, and a raw
// blocking client that speaks bytes (so tests can send what no well-behaved client would).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/config.hpp"
#include "common/net.hpp"
#include "proxy/server.hpp"

namespace anteroom::test {

// `toml` is appended to a base config that listens on 127.0.0.1:0 with admin on 127.0.0.1:0,
// one worker thread and the access log off. Write "[[upstream]] ..." etc. in it. A test that
// begins with "[server]\nlisten = ..." replaces the listener (port() is the first one's).
class proxy_under_test {
public:
    explicit proxy_under_test(const std::string& toml, proxy::filter_chain filters = {}, unsigned threads = 1);
    ~proxy_under_test();

    std::uint16_t port() const;
    std::uint16_t admin_port() const;
    proxy::server& server() { return *server_; }
    std::shared_ptr<const config> cfg() const { return cfg_; }

private:
    std::string own_state_dir_;  // removed at destruction
    std::shared_ptr<const config> cfg_;
    std::unique_ptr<proxy::server> server_;
};

// A fresh directory under the system temp dir (mkdtemp); the caller removes it.
std::string make_temp_dir(const std::string& stem);

std::shared_ptr<const config> must_parse(const std::string& toml);

// A blocking client with a timeout on every call (so a broken proxy fails the test instead of
// hanging it). Each call runs one asynchronous operation on the client's own io_context for at
// most `timeout`; a call that ran out of time leaves ec() == net::error::timed_out. (SO_RCVTIMEO
// would not do: Asio's synchronous reads poll again, without a limit, when recv times out.)
class raw_client {
public:
    explicit raw_client(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    void send(std::string_view bytes);
    // Reads one response (Beast parser). nullopt on error; ec() tells which.
    std::optional<http::response<http::string_body>> read_response(bool head_request = false);
    // Reads until the peer closes (or timeout); returns everything received.
    std::string read_until_close();
    // True when the peer closed the connection (EOF or reset) within the timeout.
    bool closed_by_peer();
    // Whatever arrives next ("" on error or timeout).
    std::string read_some();
    beast::error_code ec() const { return ec_; }
    tcp::socket& socket() { return sock_; }
    beast::flat_buffer& buffer() { return buf_; }

private:
    // Runs the started operation until it completes or `until`; false (operation cancelled,
    // ec_ = timed_out) when time ran out.
    bool finish_by(std::chrono::steady_clock::time_point until);
    std::chrono::steady_clock::time_point deadline() const { return std::chrono::steady_clock::now() + timeout_; }

    net::io_context ioc_;
    tcp::socket sock_{ioc_};
    beast::flat_buffer buf_;
    beast::error_code ec_;
    std::chrono::milliseconds timeout_;
};

// One request on a fresh connection; the response or nullopt.
std::optional<http::response<http::string_body>> get(std::uint16_t port, const std::string& target,
                                                     const std::string& extra_headers = "");

// The admin listener's /metrics text ("" when it could not be fetched).
std::string scrape_metrics(std::uint16_t admin_port);
// The value of one series, written exactly as rendered: `name` or `name{a="b",c="d"}`.
// nullopt when the series is absent. Counters are process-wide (one registry), so tests compare
// before/after values or use an upstream name of their own.
std::optional<double> metric_value(const std::string& metrics_text, const std::string& series);

// Re-checks `pred` until it holds or `timeout` passes; for state that another thread updates
// after the event the test can observe (e.g. a connection count dropping after a close).
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(3));

// The value of cookie `name` from a response's Set-Cookie fields (an empty value — a deletion —
// counts), or nullopt.
std::optional<std::string> set_cookie_value(const http::response<http::string_body>& r, const std::string& name);

std::string upstream_block(const std::string& servers_toml_array, const std::string& extra = "");

}  // namespace anteroom::test
