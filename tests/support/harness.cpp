#include "tests/support/harness.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

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
    // Each proxy gets its own state_dir (admission snapshots, keys) unless the test sets one;
    // a test's own top-level keys (before its first table) go before the [server] table.
    std::string base;
    std::string test_toml = toml;
    if (toml.find("state_dir") == std::string::npos) {
        own_state_dir_ = make_temp_dir("anteroom-state");
        base = "state_dir = \"" + own_state_dir_ + "\"\n";
    } else {
        const auto table = toml.starts_with("[") ? 0 : toml.find("\n[");
        const auto split = table == std::string::npos ? toml.size() : table;
        base = toml.substr(0, split) + "\n";
        test_toml = toml.substr(split == toml.size() ? split : split + (table == 0 ? 0 : 1));
    }
    // Let a test's own [server] keys land in the same table; a test that lists its own
    // listeners (TLS, redirect) starts its [server] table with `listen`.
    std::string rest = test_toml;
    const bool own_listen = rest.starts_with("[server]\nlisten");
    base += "[server]\n" + std::string(own_listen ? "" : "listen = [\"127.0.0.1:0\"]\n") +
            "threads = " + std::to_string(threads) + "\n";
    std::string text = base;
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
    if (!own_state_dir_.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(own_state_dir_, ec);
    }
}

std::string make_temp_dir(const std::string& stem) {
    std::string tmpl = (std::filesystem::temp_directory_path() / (stem + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
    }
    return tmpl;
}

std::uint16_t proxy_under_test::port() const { return server_->listen_endpoints().at(0).port(); }
std::uint16_t proxy_under_test::admin_port() const { return server_->admin_endpoint().port(); }

raw_client::raw_client(std::uint16_t port, std::chrono::milliseconds timeout) : timeout_(timeout) {
    sock_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec_);
}

bool raw_client::finish_by(std::chrono::steady_clock::time_point until) {
    ioc_.restart();
    ioc_.run_until(until);
    if (ioc_.stopped()) {
        return true;  // out of work: the operation completed
    }
    beast::error_code ignored;
    sock_.cancel(ignored);
    ioc_.restart();
    ioc_.run();
    ec_ = net::error::timed_out;
    return false;
}

void raw_client::send(std::string_view bytes) {
    net::async_write(sock_, net::buffer(bytes), [this](beast::error_code ec, std::size_t) { ec_ = ec; });
    finish_by(deadline());
}

std::optional<http::response<http::string_body>> raw_client::read_response(bool head_request) {
    http::response_parser<http::string_body> p;
    p.body_limit(512 * 1024 * 1024);
    p.skip(head_request);
    http::async_read(sock_, buf_, p, [this](beast::error_code ec, std::size_t) { ec_ = ec; });
    if (!finish_by(deadline()) || ec_) {
        return std::nullopt;
    }
    return p.release();
}

std::string raw_client::read_until_close() {
    std::string out(static_cast<const char*>(buf_.data().data()), buf_.size());
    buf_.consume(buf_.size());
    const auto until = deadline();
    char tmp[16384];
    for (;;) {
        std::size_t got = 0;
        sock_.async_read_some(net::buffer(tmp), [&](beast::error_code ec, std::size_t n) {
            ec_ = ec;
            got = n;
        });
        if (!finish_by(until) || ec_) {
            break;
        }
        out.append(tmp, got);
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
    std::size_t got = 0;
    sock_.async_read_some(net::buffer(tmp), [&](beast::error_code ec, std::size_t n) {
        ec_ = ec;
        got = n;
    });
    return finish_by(deadline()) && !ec_ ? std::string(tmp, got) : std::string();
}

bool raw_client::closed_by_peer() {
    read_until_close();
    return ec_ == net::error::eof || ec_ == net::error::connection_reset;
}

std::optional<http::response<http::string_body>> get(std::uint16_t port, const std::string& target,
                                                     const std::string& extra_headers) {
    raw_client c(port);
    c.send("GET " + target + " HTTP/1.1\r\nHost: test.local\r\n" + extra_headers + "\r\n");
    return c.read_response();
}

std::string scrape_metrics(std::uint16_t admin_port) {
    auto res = get(admin_port, "/metrics");
    return res && res->result_int() == 200 ? res->body() : std::string();
}

std::optional<double> metric_value(const std::string& text, const std::string& series) {
    const std::string key = series + " ";
    for (std::size_t at = 0; (at = text.find(key, at)) != std::string::npos; at += key.size()) {
        if (at == 0 || text[at - 1] == '\n') {
            return std::strtod(text.c_str() + at + key.size(), nullptr);
        }
    }
    return std::nullopt;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= until) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

std::string upstream_block(const std::string& servers, const std::string& extra) {
    return "[[upstream]]\nname = \"default\"\nservers = " + servers + "\n" + extra + "\n";
}

std::optional<std::string> set_cookie_value(const http::response<http::string_body>& r, const std::string& name) {
    for (const auto& f : r) {
        if (!beast::iequals(f.name_string(), "Set-Cookie")) {
            continue;
        }
        const std::string_view v = f.value();
        if (v.starts_with(name + "=")) {
            const auto start = name.size() + 1;
            return std::string(v.substr(start, v.find(';') - start));
        }
    }
    return std::nullopt;
}

}  // namespace anteroom::test
