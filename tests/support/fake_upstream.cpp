#include "tests/support/fake_upstream.hpp"

#include <charconv>
#include <cstring>

namespace anteroom::test {

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

std::uint64_t number_after(std::string_view target, std::string_view prefix) {
    std::uint64_t n = 0;
    const auto s = target.substr(prefix.size());
    std::from_chars(s.data(), s.data() + s.size(), n);
    return n;
}

// The download pattern is byte i = 'a' + i % 26. A block one period longer than the largest
// piece lets every piece be copied from offset (start % 26) instead of computed byte by byte
// (which would dominate a 1 GiB download in an unoptimised sanitizer build).
constexpr std::size_t piece_max = 65536;
const char* pattern_from(std::uint64_t start) {
    static const std::string block = [] {
        std::string b(piece_max + 26, '\0');
        for (std::size_t i = 0; i < b.size(); ++i) {
            b[i] = static_cast<char>('a' + i % 26);
        }
        return b;
    }();
    return block.data() + start % 26;
}

// The /upload checksum: sum = sum * 31 + byte, over the whole body. In the unoptimised
// sanitizer build this loop would dominate a large upload, so with GCC it is compiled optimised
// and without address checks (it reads only the buffer it is given).
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("O2"), no_sanitize_address))
#endif
std::uint64_t add_to_checksum(std::uint64_t sum, const char* data, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        sum = sum * 31 + static_cast<unsigned char>(data[i]);
    }
    return sum;
}

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

fake_upstream::fake_upstream(std::uint16_t port) {
    const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
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
    buf.reserve(piece_max);  // Beast reads at most the free capacity: keep body reads large
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
        char chunk[piece_max];
        while (!p.is_done()) {
            p.get().body().data = chunk;
            p.get().body().size = sizeof chunk;
            auto [rec, rn] = co_await http::async_read(sock, buf, p, use_tuple);
            if (rec && rec != http::error::need_buffer) {
                co_return;
            }
            const std::size_t got = sizeof chunk - p.get().body().size;
            sum = add_to_checksum(sum, chunk, got);
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
        if (target == "/malformed") {  // not a status line, then silence until the peer closes
            static constexpr std::string_view junk = "HTTP/1.1 2OO Fine\r\nContent-Length: 5\r\n\r\nhello";
            co_await net::async_write(sock, net::buffer(junk), use_tuple);
            char drain[64];
            co_await sock.async_read_some(net::buffer(drain), use_tuple);
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
        if (target.starts_with("/chunked/") || target.starts_with("/eof/") || target.starts_with("/download/") ||
            target.starts_with("/truncate/") || target.starts_with("/truncate-chunked/") ||
            target.starts_with("/gzip-chunked/") || target.starts_with("/stall/")) {
            // /truncate*/N announce N bytes (by Content-Length or as chunks), send half of them
            // and then close: an upstream dying mid-response. /stall/N sends half and then
            // goes quiet until the peer closes: an upstream hanging mid-response.
            const bool stall = target.starts_with("/stall/");
            const bool truncate = stall || target.starts_with("/truncate");
            const bool gzip = target.starts_with("/gzip-chunked/");
            const bool chunked = gzip || target.starts_with("/chunked/") || target.starts_with("/truncate-chunked/");
            const bool eof = target.starts_with("/eof/");
            const auto total = number_after(target, target.substr(0, target.find('/', 1) + 1));
            const auto stop_at = truncate ? total / 2 : total;
            http::response<http::buffer_body> res{http::status::ok, 11};
            res.set(http::field::content_type, "application/octet-stream");
            if (gzip) {
                res.set(http::field::transfer_encoding, "gzip, chunked");
            } else if (chunked) {
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
            const std::size_t piece = chunked ? 1000 : piece_max;
            do {
                if (truncate && sent >= stop_at) {
                    if (stall) {
                        co_await sock.async_read_some(net::buffer(chunk, 1), use_tuple);  // until closed
                    }
                    co_return;  // closes the socket mid-body
                }
                const auto n2 = static_cast<std::size_t>(std::min<std::uint64_t>(piece, total - sent));
                std::memcpy(chunk, pattern_from(sent), n2);
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
        } else if (target.starts_with("/capacity/")) {
            res.set(http::field::content_type, "application/json");
            res.body() = "{\"available\": " + std::to_string(number_after(target, "/capacity/")) +
                         ", \"next_available_at\": \"2030-01-01T08:00:00Z\"}";
        } else if (target == "/upload") {
            res.body() = "bytes=" + std::to_string(body_bytes) + " sum=" + std::to_string(sum) + "\n";
        } else if (!echo.empty()) {
            res.body() = echo;
        } else {
            res.body() = "ok\n";
        }
        if (target.ends_with("/session-end")) {
            res.set("Anteroom-Session", "end");
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

closing_upstream::closing_upstream() {
    const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    net::co_spawn(
        ioc_,
        [this]() -> net::awaitable<void> {
            for (;;) {
                auto [ec, sock] = co_await acceptor_.async_accept(use_tuple);
                if (ec) {
                    co_return;
                }
                ++accepted_;
                // Dropped at once: whatever the proxy sent is never answered.
            }
        },
        net::detached);
    thread_ = std::thread([this] { ioc_.run(); });
}

closing_upstream::~closing_upstream() {
    ioc_.stop();
    thread_.join();
}

std::uint16_t closed_port() {
    net::io_context ioc;
    tcp::acceptor a(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
}

}  // namespace anteroom::test
