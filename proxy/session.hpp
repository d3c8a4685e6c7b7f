#pragma once
// One client connection: reads requests, runs the filter pipeline, proxies to an upstream and
// streams bodies both ways with bounded buffers. A C++20 coroutine owns the socket; all of it
// runs on the worker's single-threaded io_context (the implicit strand of the connection).

#include <chrono>
#include <memory>

#include "common/cidr.hpp"
#include "common/error.hpp"
#include "common/net.hpp"
#include "proxy/pipeline.hpp"
#include "proxy/runtime.hpp"
#include "proxy/stream.hpp"

namespace anteroom::proxy {

class worker;

// The proxy's coroutines run on the worker's concrete executor, like its sockets: resuming one
// after an operation dispatches without the type-erased any_io_executor's indirection.
template <class T>
using task = net::awaitable<T, io_executor>;
// A timer on the same executor (its waits complete into a task without conversion).
using io_timer = net::steady_timer::rebind_executor<io_executor>::other;

class session : public std::enable_shared_from_this<session> {
public:
    using time_point = std::chrono::steady_clock::time_point;

    session(worker& w, tcp_socket sock, ip_address peer, listener_kind kind = listener_kind::plain);
    // Creates a session for an accepted connection (from the session pool) and runs it on the
    // worker's io_context.
    static void start(worker& w, tcp_socket sock, ip_address peer, listener_kind kind);
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    // The connection's life: TLS handshake (on TLS listeners), then requests until it ends or
    // is parked while idle (see park()).
    task<void> run();

    // Called by the worker's sweeper: past the deadline, pending I/O is cancelled.
    void check_deadline(time_point now);
    // Drain: an idle keep-alive connection is closed now.
    void close_if_idle();
    void close_now();

    // Intrusive list links owned by the worker.
    session* prev_ = nullptr;
    session* next_ = nullptr;

private:
    struct request_state;
    // The request loop; `woken`: resumed by unpark() with input waiting.
    task<void> serve(std::shared_ptr<session> self, bool woken);
    void park();
    void unpark(const beast::error_code& ec);
    void count_unparked();
    // Timed out with output the peer never took: the socket is reset and closed (true).
    bool reset_if_stalled();
    // TLS listeners: reads the ClientHello off the socket (kept for its JA4), then hands it to
    // OpenSSL for the handshake. False: no TLS connection came about (already answered/counted).
    task<bool> tls_accept();
    task<void> close_tls();
    task<bool> handle_request();
    task<bool> read_head(const runtime& rt, std::size_t& head_len);
    task<bool> proxy_request(request_state& st);
    task<void> linger();
    task<bool> send_continue();
    task<bool> client_body_failed(request_state& st, const beast::error_code& ec);
    task<bool> tunnel(conn_stream& upstream, beast::flat_buffer& upstream_buf);
    task<bool> send_redirect(request_state& st);
    void add_security_headers(http::fields& f, const request_state& st) const;
    task<bool> send_error(request_state* st, proxy_error err, bool keep_alive);
    task<bool> send_response(request_state& st, http::response<http::string_body>& res, bool keep_alive);
    void finish(request_state& st);
    // Waits `d` on this connection (slow answers to deprioritised visitors).
    task<void> pause(std::chrono::milliseconds d);
    void set_deadline(std::chrono::milliseconds d);
    void check_idle(time_point now);

    // Ordered to pack: a parked connection is this object, its socket and one wait.
    worker& w_;
    conn_stream stream_;
    ip_address peer_;
    // TLS connections only (a plain session, most of them parked, does not carry the room):
    // the certificates the handshake used, kept for the connection's life, and the JA4
    // fingerprint of the ClientHello.
    struct tls_info {
        std::shared_ptr<const tls_server> server;
        std::string ja4;
    };
    std::unique_ptr<tls_info> tls_;
    beast::flat_buffer buf_;
    time_point deadline_;
    time_point idle_since_{};
    conn_stream* upstream_ = nullptr;  // current upstream connection, cancelled with ours on timeout
    unsigned requests_ = 0;
    listener_kind kind_;
    bool timed_out_ = false;
    bool idle_ = false;            // between requests (or before the first)
    bool park_requested_ = false;  // the sweeper asked an idle session to give its buffer back
    bool linger_ = false;  // the last response closed the connection; drain input before closing
    bool parked_ = false;  // counted in shared_state::parked
};

}  // namespace anteroom::proxy
