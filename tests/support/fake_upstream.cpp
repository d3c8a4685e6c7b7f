#include "tests/support/fake_upstream.hpp"

#include <charconv>

namespace anteroom::test {

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

std::uint64_t number_after(std::string_view target, std::string_view prefix) {
    std::uint64_t n = 0;
    const auto s = target.substr(prefix.size());
    std::from_chars(s.data(), s.data() + s.size(), n);
    return n;
}

char pattern_byte(std::uint64_t i) { return static_cast<char>('a' + i % 26); }

}  // namespace

std::string seen_request::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (beast::iequals(k, name)) {
            return v;
        }
    }
    return {};
}

std::size_t seen_request::count(std::string_view name) const {
    std::size_t n = 0;
    for (const auto& [k, v] : headers) {
        n += beast::iequals(k, name) ? 1 : 0;
    }
    return n;
}

fake_upstream::fake_upstream() {
    const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    net::co_spawn(ioc_, accept_loop(), net::detached);
    thread_ = std::thread([this] { ioc_.run(); });
}

fake_upstream::~fake_upstream() { stop(); }

void fake_upstream::stop() {
    if (thread_.joinable()) {
        ioc_.stop();
        thread_.join();
    }
}

std::vector<seen_request> fake_upstream::requests() const {
    std::lock_guard lock(mu_);
    return seen_;
}

std::size_t fake_upstream::request_count() const {
    std::lock_guard lock(mu_);
    return seen_.size();
}

bool fake_upstream::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return seen_.size() >= n; });
}

void fake_upstream::record(seen_request r) {
    {
        std::lock_guard lock(mu_);
        seen_.push_back(std::move(r));
    }
    cv_.notify_all();
}

net::awaitable<void> fake_upstream::accept_loop() {
    for (;;) {
        auto [ec, sock] = co_await acceptor_.async_accept(use_tuple);
        if (ec) {
            co_return;
        }
        ++accepted_;
        net::co_spawn(ioc_, serve(std::move(sock)), net::detached);
    }
}

net::awaitable<void> fake_upstream::serve(tcp::socket sock) {
    beast::flat_buffer buf;
    for (;;) {
        http::request_parser<http::buffer_body> p;
        p.body_limit(boost::none);
        auto [ec, n] = co_await http::async_read_header(sock, buf, p, use_tuple);
        if (ec) {
            co_return;
        }
        seen_request seen;
        const auto& req = p.get();
        seen.method = std::string(req.method_string());
        seen.target = std::string(req.target());
        for (const auto& f : req) {
            seen.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        }
        // Read (and count) the body in chunks, whatever its size.
        std::uint64_t sum = 0;
        char chunk[16384];
        while (!p.is_done()) {
            p.get().body().data = chunk;
            p.get().body().size = sizeof chunk;
            auto [rec, rn] = co_await http::async_read(sock, buf, p, use_tuple);
            if (rec && rec != http::error::need_buffer) {
                co_return;
            }
            const std::size_t got = sizeof chunk - p.get().body().size;
            for (std::size_t i = 0; i < got; ++i) {
                sum = sum * 31 + static_cast<unsigned char>(chunk[i]);
            }
            seen.body_bytes += got;
        }
        const std::string target = seen.target;
        const bool keep = req.keep_alive();
        const auto body_bytes = seen.body_bytes;
        std::string echo;
        if (target.starts_with("/echo")) {
            echo = seen.method + " " + target + "\n";
            for (const auto& [k, v] : seen.headers) {
                echo += k + ": " + v + "\n";
            }
            echo += "\nbody-bytes: " + std::to_string(body_bytes) + "\n";
        }
        record(std::move(seen));

        if (target == "/close") {
            co_return;
        }
        if (target.starts_with("/delay/")) {
            net::steady_timer t(ioc_, std::chrono::milliseconds(number_after(target, "/delay/")));
            co_await t.async_wait(use_tuple);
        }
        if (target == "/ws" || target == "/early") {
            std::string head =
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
            if (target == "/early") {
                head += "hello";
            }
            auto [wec, wn] = co_await net::async_write(sock, net::buffer(head), use_tuple);
            if (wec) {
                co_return;
            }
            if (buf.size() != 0) {
                co_await net::async_write(sock, buf.data(), use_tuple);
                buf.consume(buf.size());
            }
            for (;;) {
                auto [rec, rn] = co_await sock.async_read_some(net::buffer(chunk), use_tuple);
                if (rec) {
                    co_return;
                }
                auto [wec2, wn2] = co_await net::async_write(sock, net::buffer(chunk, rn), use_tuple);
                if (wec2) {
                    co_return;
                }
            }
        }
        if (target.starts_with("/chunked/") || target.starts_with("/eof/") || target.starts_with("/download/")) {
            const bool chunked = target.starts_with("/chunked/");
            const bool eof = target.starts_with("/eof/");
            const auto total = number_after(target, chunked ? "/chunked/" : eof ? "/eof/" : "/download/");
            http::response<http::buffer_body> res{http::status::ok, 11};
            res.set(http::field::content_type, "application/octet-stream");
            if (chunked) {
                res.chunked(true);
            } else if (!eof) {
                res.content_length(total);
            }
            res.keep_alive(keep && !eof);
            if (eof) {
                res.set(http::field::connection, "close");
            }
            http::response_serializer<http::buffer_body> sr{res};
            std::uint64_t sent = 0;
            const std::size_t piece = chunked ? 1000 : sizeof chunk;
            do {
                const auto n2 = static_cast<std::size_t>(std::min<std::uint64_t>(piece, total - sent));
                for (std::size_t i = 0; i < n2; ++i) {
                    chunk[i] = pattern_byte(sent + i);
                }
                sent += n2;
                res.body().data = n2 != 0 ? chunk : nullptr;
                res.body().size = n2;
                res.body().more = sent < total;
                auto [wec, wn] = co_await http::async_write(sock, sr, use_tuple);
                if (wec && wec != http::error::need_buffer) {
                    co_return;
                }
            } while (!sr.is_done());
            if (eof || !keep) {
                beast::error_code sec;
                sock.shutdown(tcp::socket::shutdown_send, sec);
                co_return;
            }
            continue;
        }

        http::response<http::string_body> res{http::status::ok, 11};
        res.set(http::field::content_type, "text/plain");
        if (target.starts_with("/status/")) {
            res.result(static_cast<unsigned>(number_after(target, "/status/")));
            if (res.result_int() != 204 && res.result_int() != 304) {
                res.body() = "status " + std::to_string(res.result_int()) + "\n";
            }
        } else if (target == "/upload") {
            res.body() = "bytes=" + std::to_string(body_bytes) + " sum=" + std::to_string(sum) + "\n";
        } else if (!echo.empty()) {
            res.body() = echo;
        } else {
            res.body() = "ok\n";
        }
        res.keep_alive(keep);
        if (res.result_int() == 204 || res.result_int() == 304) {
            // No body and no Content-Length framing (RFC 9110 §8.6).
        } else {
            res.prepare_payload();
        }
        res.set("X-Upstream-Connection-Id", std::to_string(reinterpret_cast<std::uintptr_t>(&sock)));
        auto [wec, wn] = co_await http::async_write(sock, res, use_tuple);
        if (wec || !keep) {
            beast::error_code sec;
            sock.shutdown(tcp::socket::shutdown_send, sec);
            co_return;
        }
    }
}

std::uint16_t closed_port() {
    net::io_context ioc;
    tcp::acceptor a(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
}

}  // namespace anteroom::test
