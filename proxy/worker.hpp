#pragma once
// One I/O thread: its own io_context, the runtime snapshot it serves with, the sessions it
// owns (for timeouts and drain), and its pool of idle upstream connections. Everything here is
// touched only from the worker's own thread, except where a comment says otherwise.

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/log.hpp"
#include "common/metrics.hpp"
#include "common/net.hpp"
#include "proxy/runtime.hpp"
#include "proxy/stream.hpp"

namespace anteroom::proxy {

class session;

// Process-wide state shared by all workers (atomics only).
struct shared_state {
    std::atomic<std::uint32_t> connections{0};
    // Idle keep-alive connections parked without buffer or coroutine (session::park).
    std::atomic<std::uint32_t> parked{0};
    std::atomic<bool> draining{false};
    access_log* access = nullptr;
    gauge* open_connections = nullptr;
    gauge* parked_connections = nullptr;
    counter* accepted = nullptr;
    counter* refused = nullptr;
    counter* timeouts = nullptr;
    counter* bad_requests = nullptr;
    gauge* pool_idle = nullptr;
    // TLS handshakes by outcome; plain_http: an HTTP request sent to a TLS port.
    counter* tls_full = nullptr;
    counter* tls_resumed = nullptr;
    counter* tls_failed = nullptr;
    counter* tls_plain_http = nullptr;
    // Where redirect listeners send visitors: the first TLS listener's bound port (or
    // tls.redirect_port). Written by the control thread after binding.
    std::atomic<std::uint16_t> https_port{0};
};

class worker {
public:
    worker(unsigned index, shared_state& shared);
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    net::io_context& ioc() { return ioc_; }
    unsigned index() const { return index_; }
    shared_state& shared() { return shared_; }

    void start();  // starts the thread
    void stop();   // stops the io_context (from any thread)
    void join();

    // Called on the worker's thread (post it there).
    void set_runtime(std::shared_ptr<const runtime> rt) { rt_ = std::move(rt); }
    const std::shared_ptr<const runtime>& current_runtime() const { return rt_; }

    // Session registry (intrusive list) for the sweeper and drain.
    void add_session(session* s);
    void remove_session(session* s);
    std::size_t session_count() const { return sessions_; }
    // Drain: idle keep-alive connections are closed now; busy ones close after their response.
    void begin_drain();
    // Close everything now (end of the drain time).
    void close_all();

    // Upstream keep-alive pool. Taking checks expiry and that the peer has not closed.
    // The most recently used idle connection to `s`. It is probed (one non-blocking MSG_PEEK)
    // when `must_verify` or when it sat idle longer than `trust_for`: a connection used a moment
    // ago is still open unless the upstream's keep-alive timeout is shorter than that, and the
    // caller retries such a request on a fresh connection if it was closed after all.
    std::optional<conn_stream> take_idle(const server_state* s, std::chrono::steady_clock::time_point now,
                                         bool must_verify,
                                         std::chrono::milliseconds trust_for = std::chrono::seconds(1));
    void put_idle(const std::shared_ptr<server_state>& s, conn_stream conn, std::size_t max_idle,
                  std::chrono::steady_clock::time_point expires);
    std::size_t idle_count() const;

private:
    void start_sweeper();
    void sweep(std::chrono::steady_clock::time_point now);

    struct idle_conn {
        conn_stream conn;
        std::chrono::steady_clock::time_point since;    // when it went idle
        std::chrono::steady_clock::time_point expires;
    };

    unsigned index_;
    shared_state& shared_;
    net::io_context ioc_{1};
    net::executor_work_guard<net::io_context::executor_type> work_;
    std::thread thread_;
    std::shared_ptr<const runtime> rt_;
    session* head_ = nullptr;
    std::size_t sessions_ = 0;
    net::steady_timer sweep_timer_;
    struct idle_bucket {
        std::shared_ptr<server_state> owner;  // keeps the key's object alive while pooled
        std::vector<idle_conn> conns;
    };
    std::unordered_map<const server_state*, idle_bucket> idle_;
};

}  // namespace anteroom::proxy
