#include "bench/tool/raw_run.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <memory>
#include <thread>

#include "bench/tool/interrupt.hpp"
#include "bench/tool/net_errors.hpp"
#include "bench/tool/schedule.hpp"
#include "bench/tool/tls_client.hpp"
#include "common/net.hpp"

namespace anteroom::bench {

namespace {

using clock = std::chrono::steady_clock;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t response_header_limit = 16 * 1024;
constexpr std::size_t read_buffer_limit = 64 * 1024;

// A body that only counts its bytes: responses are read in full (so keep-alive works) but never
// stored, whatever their size.
struct discard_body {
    struct value_type {
        std::uint64_t bytes = 0;
    };
    class reader {
    public:
        template <bool is_request, class Fields>
        reader(http::header<is_request, Fields>& /*h*/, value_type& v) : v_(v) {}
        void init(const boost::optional<std::uint64_t>& /*length*/, beast::error_code& ec) { ec = {}; }
        template <class ConstBufferSequence>
        std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
            ec = {};
            const auto n = net::buffer_size(buffers);
            v_.bytes += n;
            return n;
        }
        void finish(beast::error_code& ec) { ec = {}; }

    private:
        value_type& v_;
    };
};

struct thread_runner;

using tls_stream = net::ssl::stream<tcp::socket>;

// Per connection: the socket, a timer for fixed-rate waits, the read buffer and a deadline the
// sweeper enforces. Nothing else lives between requests but, over TLS, the session to resume.
struct connection {
    explicit connection(net::io_context& ioc) : sock(ioc), wait(ioc), buf(read_buffer_limit) {}
    // The TCP socket; over TLS it moves into `tls` once connected (a TLS stream cannot be
    // reused for another connection, so each connection gets a fresh one).
    tcp::socket sock;
    std::optional<tls_stream> tls;
    tls_session_ptr session;  // --tls-resume: what this slot's last connection was given
    tcp::socket& lowest() { return tls ? tls->next_layer() : sock; }
    net::steady_timer wait;
    beast::flat_buffer buf;
    clock::time_point deadline = clock::time_point::max();
    bool timed_out = false;
};

struct thread_runner {
    thread_runner(const raw_options& o, const std::vector<std::string>& requests, unsigned index, unsigned conns,
                  double rate, std::optional<std::uint64_t> limit, clock::time_point start)
        : o_(o),
          requests_(requests),
          sched_(start, rate, limit, limit ? clock::time_point::max() : start + o.duration),
          target_(net::ip::make_address(o.target_ip), o.target_port),
          next_source_(index),
          source_step_(o.threads),
          sweeper_(ioc_),
          next_path_(index) {
        if (o.tls.enabled) {
            tls_ctx_.emplace(make_client_context(o.tls));
        }
        conns_.reserve(conns);
        for (unsigned i = 0; i < conns; ++i) {
            conns_.push_back(std::make_unique<connection>(ioc_));
        }
    }

    void run() {
        active_ = static_cast<unsigned>(conns_.size());
        for (auto& c : conns_) {
            net::co_spawn(ioc_, drive(*c), net::detached);
        }
        net::co_spawn(ioc_, sweep(), net::detached);
        ioc_.run();
    }

    raw_stats stats;

private:
    // `clean`: the last exchange completed, so the TLS session may be offered again.
    void close(connection& c, bool clean = false) {
        if (c.tls) {
            if (clean && o_.tls.resume) {
                c.session = take_session(c.tls->native_handle());
            }
            c.tls.reset();  // closes the socket it holds
        }
        beast::error_code ignored;
        c.sock.close(ignored);
        c.buf.clear();
    }

    // Opens and binds (when --source is set) a fresh socket; false on failure.
    bool open(connection& c) {
        beast::error_code ec;
        c.sock.open(target_.protocol(), ec);
        if (ec) {
            return false;
        }
        c.sock.set_option(tcp::no_delay(true), ec);
        if (o_.source_first != 0) {
            const std::uint32_t span = o_.source_last - o_.source_first + 1;
            const std::uint32_t addr = o_.source_first + static_cast<std::uint32_t>(next_source_ % span);
            next_source_ += source_step_;
            // The port is chosen at connect time, so ports are shared between source addresses.
            const int one = 1;
            ::setsockopt(c.sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            c.sock.bind(tcp::endpoint(net::ip::address_v4(addr), 0), ec);
            if (ec) {
                close(c);
                return false;
            }
        }
        ++stats.connections_opened;
        return true;
    }

    void fail(connection& c, error_kind kind) {
        stats.count_error(kind);
        c.deadline = clock::time_point::max();
        close(c);
    }

    // Wraps the connected socket in a fresh TLS stream and shakes hands; false on failure.
    net::awaitable<bool> handshake(connection& c) {
        c.tls.emplace(std::move(c.sock), *tls_ctx_);
        SSL* ssl = c.tls->native_handle();
        prepare_handshake(ssl, o_.tls, o_.target_ip, c.session.get());
        auto [ec] = co_await c.tls->async_handshake(net::ssl::stream_base::client, use_tuple);
        if (ec || c.timed_out) {
            co_return false;
        }
        ++(SSL_session_reused(ssl) != 0 ? stats.tls_resumed_handshakes : stats.tls_full_handshakes);
        if (stats.tls_protocol.empty()) {
            stats.tls_protocol = SSL_get_version(ssl);
            stats.tls_cipher = SSL_get_cipher_name(ssl);
            const unsigned char* alpn = nullptr;
            unsigned alpn_len = 0;
            SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
            stats.tls_alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
        }
        co_return true;
    }

    // Writes the request and reads the whole response into `parser`; the bytes read or an error.
    template <class Stream>
    net::awaitable<std::pair<beast::error_code, std::size_t>> exchange(Stream& s, connection& c,
                                                                        const std::string& request,
                                                                        http::response_parser<discard_body>& parser) {
        auto [wec, wn] = co_await net::async_write(s, net::buffer(request), use_tuple);
        if (wec) {
            co_return std::pair{wec, std::size_t{0}};
        }
        auto [rec, rn] = co_await http::async_read(s, c.buf, parser, use_tuple);
        co_return std::pair{rec, rn};
    }

    net::awaitable<void> drive(connection& c) {
        const bool head = o_.method == "HEAD";
        for (;;) {
            const auto due = sched_.next(clock::now());
            if (!due) {
                break;
            }
            ++stats.attempts;
            if (*due > clock::now()) {
                c.wait.expires_at(*due);
                co_await c.wait.async_wait(use_tuple);
            }
            if (interrupted()) {  // Ctrl-C while waiting for the slot: it was never sent
                --stats.attempts;
                break;
            }
            const auto& request = requests_[next_path_++ % requests_.size()];
            const auto now = clock::now();
            // Closed loop: from when the request is sent (connect included for a new
            // connection). Fixed rate: from when it should have been sent.
            const auto start = o_.rate > 0 ? *due : now;
            c.timed_out = false;
            c.deadline = now + o_.timeout;

            if (!c.lowest().is_open()) {
                if (!open(c)) {
                    fail(c, error_kind::connect);
                    continue;
                }
                auto [ec] = co_await c.sock.async_connect(target_, use_tuple);
                if (ec || c.timed_out) {
                    fail(c, c.timed_out ? error_kind::timeout : error_kind::connect);
                    continue;
                }
                if (tls_ctx_ && !co_await handshake(c)) {
                    fail(c, c.timed_out ? error_kind::timeout : error_kind::handshake);
                    continue;
                }
            }
            http::response_parser<discard_body> parser;
            parser.header_limit(response_header_limit);
            parser.body_limit(boost::none);
            parser.skip(head);
            std::pair<beast::error_code, std::size_t> result;
            if (c.tls) {
                result = co_await exchange(*c.tls, c, request, parser);
            } else {
                result = co_await exchange(c.sock, c, request, parser);
            }
            const auto& [rec, rn] = result;
            if (rec || c.timed_out) {
                fail(c, classify(rec, c.timed_out));
                continue;
            }
            c.deadline = clock::time_point::max();
            const auto us = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - start).count();
            stats.latency_us.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, us)));
            stats.count_status(parser.get().result_int());
            stats.bytes_read += rn;
            if (!o_.keep_alive || !parser.keep_alive()) {
                close(c, true);
            }
        }
        close(c, true);
        if (--active_ == 0) {
            sweeper_.cancel();
        }
    }

    // Enforces every connection's deadline: no timer per request, accurate to one interval.
    net::awaitable<void> sweep() {
        const auto interval = std::clamp<std::chrono::nanoseconds>(o_.timeout / 10, std::chrono::milliseconds(1),
                                                                   std::chrono::milliseconds(50));
        while (active_ > 0) {
            sweeper_.expires_after(interval);
            co_await sweeper_.async_wait(use_tuple);
            if (interrupted()) {
                // No new slots; requests in flight finish (bounded by --timeout) and are counted.
                sched_.stop();
                for (auto& c : conns_) {
                    c->wait.cancel();
                }
            }
            const auto now = clock::now();
            for (auto& c : conns_) {
                if (now >= c->deadline) {
                    c->timed_out = true;
                    c->deadline = clock::time_point::max();
                    beast::error_code ignored;
                    c->lowest().close(ignored);  // the pending operation completes with an error
                }
            }
        }
    }

    const raw_options& o_;
    const std::vector<std::string>& requests_;
    net::io_context ioc_{1};
    std::optional<net::ssl::context> tls_ctx_;  // https:// only; one per thread
    schedule sched_;
    tcp::endpoint target_;
    std::uint64_t next_source_;
    std::uint64_t source_step_;
    net::steady_timer sweeper_;
    std::vector<std::unique_ptr<connection>> conns_;
    unsigned active_ = 0;
    std::size_t next_path_;
};

// n split into `parts` shares as even as possible; share i.
std::uint64_t share(std::uint64_t n, unsigned parts, unsigned i) {
    return n / parts + (i < n % parts ? 1 : 0);
}

}  // namespace

raw_report run_raw(const raw_options& o) {
    const auto requests = serialise_requests(o);
    const auto start = clock::now();
    std::vector<std::unique_ptr<thread_runner>> runners;
    for (unsigned i = 0; i < o.threads; ++i) {
        const auto conns = static_cast<unsigned>(share(o.connections, o.threads, i));
        const double rate = o.rate * conns / o.connections;
        std::optional<std::uint64_t> limit;
        if (o.requests) {
            limit = share(*o.requests, o.threads, i);
        }
        runners.push_back(std::make_unique<thread_runner>(o, requests, i, conns, rate, limit, start));
    }
    std::vector<std::thread> threads;
    for (auto& r : runners) {
        threads.emplace_back([&r] { r->run(); });
    }
    for (auto& t : threads) {
        t.join();
    }
    raw_report report;
    report.options = &o;
    report.elapsed = clock::now() - start;
    report.interrupted = interrupted();
    for (auto& r : runners) {
        report.stats.merge(r->stats);
    }
    return report;
}

}  // namespace anteroom::bench
