#include "tests/support/harness.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

namespace anteroom::test {

std::shared_ptr<const config> must_parse(const std::string& toml) {
    auto r = parse_config(toml, "test.toml");
    if (!r.errors.empty()) {
        std::string all;
        for (const auto& e : r.errors) {
            all += e.text() + "\n";
        }
        ADD_FAILURE() << "test config invalid:\n" << all << "\n---\n" << toml;
        return nullptr;
    }
    return r.cfg;
}

proxy_under_test::proxy_under_test(const std::string& toml, proxy::filter_chain filters, unsigned threads) {
    const std::string base = "state_dir = \"/tmp/anteroom-test\"\n"
                             "[server]\nlisten = [\"127.0.0.1:0\"]\nthreads = " + std::to_string(threads) + "\n";
    std::string text = base;
    // Let a test's own [server] keys land in the same table.
    std::string rest = toml;
    if (rest.starts_with("[server]\n")) {
        rest = rest.substr(9);
    } else {
        text += "\n";
    }
    text += rest;
    if (text.find("[log]") == std::string::npos) {
        text += "\n[log]\naccess_log = \"\"\nlevel = \"warn\"\n";
    }
    if (text.find("[admin]") == std::string::npos) {
        text += "\n[admin]\nlisten = \"127.0.0.1:0\"\n";
    }
    cfg_ = must_parse(text);
    if (!cfg_) {
        throw std::runtime_error("bad test config");
    }
    proxy::server_options opts;
    opts.cfg = cfg_;
    if (!filters.empty()) {
        opts.make_filters = [filters](const config&) { return filters; };
    }
    server_ = std::make_unique<proxy::server>(opts);
    std::string err;
    if (!server_->start(err)) {
        throw std::runtime_error("proxy did not start: " + err);
    }
}

proxy_under_test::~proxy_under_test() {
    server_->stop();
    server_->wait();
}

std::uint16_t proxy_under_test::port() const { return server_->listen_endpoints().at(0).port(); }
std::uint16_t proxy_under_test::admin_port() const { return server_->admin_endpoint().port(); }

raw_client::raw_client(std::uint16_t port, std::chrono::milliseconds timeout) {
    sock_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec_);
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(sock_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(sock_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void raw_client::send(std::string_view bytes) {
    net::write(sock_, net::buffer(bytes), ec_);
}

std::optional<http::response<http::string_body>> raw_client::read_response(bool head_request) {
    http::response_parser<http::string_body> p;
    p.body_limit(512 * 1024 * 1024);
    p.skip(head_request);
    http::read(sock_, buf_, p, ec_);
    if (ec_) {
        return std::nullopt;
    }
    return p.release();
}

std::string raw_client::read_until_close() {
    std::string out(static_cast<const char*>(buf_.data().data()), buf_.size());
    buf_.consume(buf_.size());
    char tmp[16384];
    for (;;) {
        const auto n = sock_.read_some(net::buffer(tmp), ec_);
        if (ec_) {
            break;
        }
        out.append(tmp, n);
    }
    return out;
}

std::string raw_client::read_some() {
    if (buf_.size() != 0) {
        std::string out(static_cast<const char*>(buf_.data().data()), buf_.size());
        buf_.consume(buf_.size());
        return out;
    }
    char tmp[16384];
    const auto n = sock_.read_some(net::buffer(tmp), ec_);
    return ec_ ? std::string() : std::string(tmp, n);
}

bool raw_client::closed_by_peer() {
    char tmp[4096];
    for (;;) {
        sock_.read_some(net::buffer(tmp), ec_);
        if (ec_ == net::error::eof || ec_ == net::error::connection_reset) {
            return true;
        }
        if (ec_) {
            return false;  // timeout
        }
    }
}

std::optional<http::response<http::string_body>> get(std::uint16_t port, const std::string& target,
                                                     const std::string& extra_headers) {
    raw_client c(port);
    c.send("GET " + target + " HTTP/1.1\r\nHost: test.local\r\n" + extra_headers + "\r\n");
    return c.read_response();
}

std::string upstream_block(const std::string& servers, const std::string& extra) {
    return "[[upstream]]\nname = \"default\"\nservers = " + servers + "\n" + extra + "\n";
}

}  // namespace anteroom::test
