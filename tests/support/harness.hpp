#pragma once
// Integration test harness: an in-process proxy on port 0 built from TOML text, and a raw
// blocking client that speaks bytes (so tests can send what no well-behaved client would).

#include <memory>
#include <optional>
#include <string>

#include "common/config.hpp"
#include "common/net.hpp"
#include "proxy/server.hpp"

namespace anteroom::test {

// `toml` is appended to a base config that listens on 127.0.0.1:0 with admin on 127.0.0.1:0,
// one worker thread and the access log off. Write "[[upstream]] ..." etc. in it.
class proxy_under_test {
public:
    explicit proxy_under_test(const std::string& toml, proxy::filter_chain filters = {}, unsigned threads = 1);
    ~proxy_under_test();

    std::uint16_t port() const;
    std::uint16_t admin_port() const;
    proxy::server& server() { return *server_; }
    std::shared_ptr<const config> cfg() const { return cfg_; }

private:
    std::shared_ptr<const config> cfg_;
    std::unique_ptr<proxy::server> server_;
};

std::shared_ptr<const config> must_parse(const std::string& toml);

// A blocking client with a receive timeout (so a broken proxy fails the test, not hangs it).
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
    std::string read_some();
    beast::error_code ec() const { return ec_; }
    tcp::socket& socket() { return sock_; }
    beast::flat_buffer& buffer() { return buf_; }

private:
    net::io_context ioc_;
    tcp::socket sock_{ioc_};
    beast::flat_buffer buf_;
    beast::error_code ec_;
};

// One request on a fresh connection; the response or nullopt.
std::optional<http::response<http::string_body>> get(std::uint16_t port, const std::string& target,
                                                     const std::string& extra_headers = "");

std::string upstream_block(const std::string& servers_toml_array, const std::string& extra = "");

}  // namespace anteroom::test
