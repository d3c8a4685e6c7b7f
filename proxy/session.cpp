#include "proxy/session.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <array>
#include <cassert>
#include <mutex>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif
#include <linux/sockios.h>
#include <openssl/ssl.h>
#include <sys/ioctl.h>

#include "bot_detect/client_hello.hpp"

#include "proxy/access_line.hpp"
#include "proxy/error_page.hpp"
#include "proxy/headers.hpp"
#include "proxy/http_rules.hpp"
#include "common/endpoint.hpp"
#include "proxy/stream_impl.hpp"
#include "proxy/tls.hpp"
#include "proxy/worker.hpp"

namespace anteroom::proxy {

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable_t<io_executor>{});
constexpr std::size_t relay_chunk = 16 * 1024;
constexpr std::chrono::milliseconds max_response_delay{10'000};
// A keep-alive connection reads its next request into a buffer of this size while it is busy...
constexpr std::size_t idle_read_size = 4096;
// A buffered response body up to this size is copied behind its head and sent as one buffer.
constexpr std::size_t copy_body_up_to = 4096;
// ...and gives the buffer back after this long without a request.
constexpr std::chrono::seconds park_after{1};

// Relay buffers are reused per worker thread instead of being allocated (and, at this size,
// faulted in again by the allocator) for every message. A session never leaves its worker's
// thread, so a thread_local free list needs no lock. Bounded: at most `max_cached` kept.
class relay_buffer {
public:
    relay_buffer() = default;
    relay_buffer(const relay_buffer&) = delete;
    relay_buffer& operator=(const relay_buffer&) = delete;
    ~relay_buffer() {
        if (p_ && cache().size() < max_cached) {
            cache().push_back(std::move(p_));
        }
    }
    char* get() {
        if (!p_) {
            auto& c = cache();
            if (c.empty()) {
                p_ = std::make_unique_for_overwrite<char[]>(relay_chunk);
            } else {
                p_ = std::move(c.back());
                c.pop_back();
            }
        }
        return p_.get();
    }

private:
    static constexpr std::size_t max_cached = 64;
    static std::vector<std::unique_ptr<char[]>>& cache() {
        thread_local std::vector<std::unique_ptr<char[]>> c;
        return c;
    }
    std::unique_ptr<char[]> p_;
};

using clock = std::chrono::steady_clock;

// Asio takes the memory of an operation from a small per-thread cache of freed blocks, reusing
// any block that is large enough. A parked connection's wait lasts minutes, and the block it
// would get is typically one freed by a response read (~460 bytes, three times the wait's own
// size). Operations given this allocator get exactly their size from the heap.
template <class T>
struct exact_allocator {
    using value_type = T;
    exact_allocator() = default;
    template <class U>
    exact_allocator(const exact_allocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }
    template <class U>
    bool operator==(const exact_allocator<U>&) const noexcept {
        return true;
    }
};

// Bytes written to the socket that the peer has not acknowledged yet (SIOCOUTQ).
bool unacked_output(tcp_socket& s) {
    int queued = 0;
    return ::ioctl(s.native_handle(), SIOCOUTQ, &queued) == 0 && queued > 0;
}

// The deadline for the next read or write of a request body that began at `start` and has
// brought `bytes` so far: each may pause up to body_timeout, and past a grace of body_timeout
// the body as a whole must keep up body_min_rate, so that a client sending a byte every few
// seconds (slow POST) cannot hold its connection for hours.
std::chrono::milliseconds body_deadline(const server_config& sc, clock::time_point start, std::uint64_t bytes) {
    if (sc.body_min_rate == 0) {
        return sc.body_timeout;
    }
    const auto earned = std::chrono::milliseconds(bytes * 1000 / sc.body_min_rate);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(start + sc.body_timeout + earned - clock::now());
    return std::clamp(left, std::chrono::milliseconds(0), sc.body_timeout);
}

// Sessions live as long as their connections, while what a request allocates is freed within
// milliseconds. From the general heap the two share slabs, and a slab holding one parked
// session cannot be given back (measured with 9,000 idle connections: the session's size class
// 56 % used, ~200 bytes per connection wasted). So sessions come from blocks of their own:
// per-thread free lists carved from 64 KiB chunks. Chunks are kept for reuse; they never hold
// more than the peak number of connections (bounded by server.max_connections).
class session_pool {
public:
    static constexpr std::size_t block = 224;

    static void* take() {
        auto& head = free_head();
        if (head == nullptr) {
            refill(head);
        }
        free_block* b = head;
        head = b->next;
        unpoison(b);
        return b;
    }
    // A block may be given back on another thread than it came from: it joins that thread's
    // list (chunks are never freed, so any list may own any block). Blocks on the list of a
    // thread that ends (sessions destroyed with their worker at shutdown) are not reused.
    static void give(void* p) noexcept {
        auto* b = static_cast<free_block*>(p);
        auto& head = free_head();
        b->next = head;
        head = b;
        poison(b);
    }

private:
    struct free_block {
        free_block* next;
    };
    static constexpr std::size_t chunk_size = 64 * 1024;

    static free_block*& free_head() {
        thread_local free_block* head = nullptr;
        return head;
    }
    static void refill(free_block*& head) {
        auto chunk = std::make_unique_for_overwrite<char[]>(chunk_size);
        char* base = chunk.get();
        {
            static std::mutex m;
            static auto* chunks = new std::vector<std::unique_ptr<char[]>>();  // never destroyed
            std::lock_guard lock(m);
            chunks->push_back(std::move(chunk));
        }
        for (std::size_t off = chunk_size; off >= block; off -= block) {
            auto* b = reinterpret_cast<free_block*>(base + off - block);
            b->next = head;
            head = b;
            poison(b);
        }
    }
    // Under AddressSanitizer a free block (past its link) is poisoned, so a use after free of a
    // session is still reported.
    static void poison([[maybe_unused]] free_block* b) {
#if defined(__SANITIZE_ADDRESS__)
        __asan_poison_memory_region(reinterpret_cast<char*>(b) + sizeof(free_block), block - sizeof(free_block));
#endif
    }
    static void unpoison([[maybe_unused]] free_block* b) {
#if defined(__SANITIZE_ADDRESS__)
        __asan_unpoison_memory_region(b, block);
#endif
    }
};

// allocate_shared rebinds this to its control block (the session and its counts), the only
// type it ever allocates, one at a time.
template <class T>
struct session_allocator {
    using value_type = T;
    session_allocator() = default;
    template <class U>
    session_allocator(const session_allocator<U>&) noexcept {}
    T* allocate([[maybe_unused]] std::size_t n) {
        static_assert(sizeof(T) <= session_pool::block && alignof(T) <= alignof(std::max_align_t),
                      "a session no longer fits a pool block: grow session_pool::block (and measure idle RSS)");
        assert(n == 1);
        return static_cast<T*>(session_pool::take());
    }
    void deallocate(T* p, std::size_t) noexcept { session_pool::give(p); }
    template <class U>
    bool operator==(const session_allocator<U>&) const noexcept {
        return true;
    }
};

bool benign(const beast::error_code& ec) {
    return ec == net::error::eof || ec == http::error::end_of_stream || ec == net::error::connection_reset ||
           ec == net::error::operation_aborted || ec == net::error::broken_pipe || ec == net::error::not_connected;
}

}  // namespace

struct session::request_state {
    explicit request_state(const std::shared_ptr<const runtime>& r) : rt_hold(r), rt(*r) {}
    std::shared_ptr<const runtime> rt_hold;  // this request keeps its config even across a reload
    const runtime& rt;
    http::request_parser<http::buffer_body> parser;
    std::optional<request_ctx> ctx;
    const route_entry* route = nullptr;
    bool client_keep_alive = false;
    bool body_pending = false;  // request body not (fully) read from the client
    unsigned status = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::string upstream_addr;
    std::int64_t upstream_us = -1;
    clock::time_point start = clock::now();
    std::chrono::system_clock::time_point wall_start = std::chrono::system_clock::now();
};

session::session(worker& w, tcp_socket sock, ip_address peer, listener_kind kind)
    : w_(w), stream_(std::move(sock)), peer_(peer), deadline_(clock::time_point::max()), kind_(kind) {
    w_.add_session(this);
}

void session::start(worker& w, tcp_socket sock, ip_address peer, listener_kind kind) {
    auto s = std::allocate_shared<session>(session_allocator<session>{}, w, std::move(sock), peer, kind);
    net::co_spawn(w.ioc(), s->run(), net::detached);
}

session::~session() {
    count_unparked();  // a parked wait destroyed unrun (server stopped without a drain)
    w_.remove_session(this);
}

void session::set_deadline(std::chrono::milliseconds d) {
    // A new deadline starts a new operation: an earlier expiry no longer applies.
    deadline_ = clock::now() + d;
    timed_out_ = false;
}

void session::check_deadline(time_point now) {
    if (now < deadline_) {
        check_idle(now);
        return;
    }
    timed_out_ = true;
    beast::error_code ec;
    stream_.socket().cancel(ec);
    if (upstream_ != nullptr) {
        upstream_->socket().cancel(ec);
    }
}

void session::check_idle(time_point now) {
    // TLS connections are not parked: their input may sit in OpenSSL's buffers, where waiting
    // for the socket to become readable would not see it.
    if (idle_ && !park_requested_ && !stream_.is_tls() && buf_.capacity() != 0 && now - idle_since_ >= park_after) {
        park_requested_ = true;
        beast::error_code ec;
        stream_.socket().cancel(ec);
    }
}

void session::close_if_idle() {
    if (idle_) {
        beast::error_code ec;
        stream_.socket().cancel(ec);
    }
}

void session::close_now() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().cancel(ec);
    if (upstream_ != nullptr) {
        upstream_->socket().cancel(ec);
    }
}

task<void> session::run() {
    return serve(shared_from_this(), false);
}

// `self` is a parameter, not a local: the coroutine owns the session from its creation, even
// if it were queued before it first runs.
task<void> session::serve(std::shared_ptr<session> self, bool woken) {
    (void)self;
    shared_state& sh = w_.shared();
    if (!woken && kind_ == listener_kind::tls && !co_await tls_accept()) {
        beast::error_code ec;
        stream_.socket().close(ec);
        co_return;
    }
    for (;;) {
        if (woken) {
            // Back from park(): the socket is readable, the request is read from it at once.
            woken = false;
        } else if (buf_.size() == 0) {
            // Between requests. A busy connection reads straight into its buffer (the read is
            // attempted at once and needs no change to the epoll set). Once it has been idle for
            // `park_after`, the sweeper cancels that read and the connection is parked: this
            // coroutine ends, and the session waits for readability without any buffer or
            // coroutine frame.
            if (sh.draining.load(std::memory_order_relaxed)) {
                break;
            }
            const auto& sc = w_.current_runtime()->cfg->server;
            set_deadline(requests_ == 0 ? sc.header_read_timeout : sc.idle_timeout);
            idle_since_ = clock::now();
            idle_ = true;
            if (!park_requested_) {
                auto [ec, n] = co_await stream_.async_read_some(buf_.prepare(idle_read_size), use_tuple);
                if (!ec) {
                    buf_.commit(n);
                    idle_ = false;
                    park_requested_ = false;  // the read won the race with the sweeper's cancel
                } else if (ec != net::error::operation_aborted || !park_requested_ || timed_out_ ||
                           sh.draining.load(std::memory_order_relaxed)) {
                    idle_ = false;
                    break;
                }
            }
            if (idle_) {
                park();
                co_return;
            }
        }
        if (!co_await handle_request()) {
            break;
        }
    }
    if (reset_if_stalled()) {
        co_return;
    }
    beast::error_code ec;
    if (stream_.is_tls()) {
        co_await close_tls();
    }
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (linger_ && !ec && !stream_.is_tls()) {
        co_await linger();
    }
    stream_.socket().close(ec);
}

// An idle keep-alive connection costs only the session object and the socket while parked: the
// wait is a plain completion handler holding the session, not a suspended coroutine (whose
// frames, Asio's and ours, were most of an idle connection's memory).
void session::park() {
    buf_.shrink_to_fit();
    parked_ = true;
    w_.shared().parked.fetch_add(1, std::memory_order_relaxed);
    w_.shared().parked_connections->add(1);
    stream_.socket().async_wait(tcp::socket::wait_read,
                                net::bind_allocator(exact_allocator<void>{}, [self = shared_from_this()](
                                                                                 const beast::error_code& ec) {
                                    self->unpark(ec);
                                }));
}

void session::unpark(const beast::error_code& ec) {
    count_unparked();
    park_requested_ = false;
    idle_ = false;
    if (ec || timed_out_) {
        // Idle timeout, drain or the peer went away. Nothing was read, nothing is owed: only
        // plain connections are parked, and those end without close_notify or lingering.
        if (!reset_if_stalled()) {
            beast::error_code sec;
            stream_.socket().shutdown(tcp::socket::shutdown_send, sec);
            stream_.socket().close(sec);
        }
        return;
    }
    net::co_spawn(stream_.get_executor(), serve(shared_from_this(), true), net::detached);
}

void session::count_unparked() {
    if (parked_) {
        parked_ = false;
        w_.shared().parked.fetch_sub(1, std::memory_order_relaxed);
        w_.shared().parked_connections->add(-1);
    }
}

bool session::reset_if_stalled() {
    if (!timed_out_ || !unacked_output(stream_.socket())) {
        return false;
    }
    // The peer stopped reading (a slow-read attack, or a client gone without a trace): a
    // graceful close would leave the kernel holding the unsent bytes and retrying for minutes
    // on an orphaned socket. Reset instead; nothing more can reach that client.
    beast::error_code ec;
    stream_.socket().set_option(tcp::socket::linger(true, 0), ec);
    stream_.socket().close(ec);
    return true;
}

// A TLS connection ends with close_notify both ways (bounded: a client that does not answer
// is not waited for). Unread input is drained by OpenSSL while it waits for the peer's.
task<void> session::close_tls() {
    if (timed_out_) {
        co_return;
    }
    set_deadline(std::min(std::chrono::milliseconds(1000), w_.current_runtime()->cfg->server.body_timeout));
    auto [ec, n] = co_await stream_.async_tls_shutdown(use_tuple);
    (void)ec;
    (void)n;
}

task<bool> session::tls_accept() {
    shared_state& sh = w_.shared();
    const auto rt = w_.current_runtime();
    if (!rt->tls) {
        sh.tls_failed->inc();
        co_return false;  // not reached: the config check requires a certificate for TLS listeners
    }
    tls_ = std::make_unique<tls_info>(tls_info{rt->tls, {}});
    set_deadline(rt->cfg->tls.handshake_timeout);
    // The ClientHello, read whole (it may span TCP segments and TLS records) before OpenSSL
    // sees it, for its fingerprint.
    for (;;) {
        const auto* p = static_cast<const std::uint8_t*>(buf_.data().data());
        const auto status = bot::scan_client_hello({p, buf_.size()});
        if (status == bot::hello_status::complete) {
            if (const auto hello = bot::parse_client_hello({p, buf_.size()})) {
                tls_->ja4 = bot::ja4(*hello);
            }
            break;
        }
        if (status == bot::hello_status::not_tls) {
            sh.tls_plain_http->inc();
            static constexpr std::string_view answer =
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
                "Content-Length: 50\r\n\r\nThis port speaks HTTPS. Use https:// to reach it.\n";
            static_assert(answer.size() - answer.find("\r\n\r\n") - 4 == 50);
            auto [ec, n] = co_await net::async_write(stream_.socket(), net::buffer(answer), use_tuple);
            (void)n;
            if (!ec) {
                linger_ = true;
                beast::error_code sec;
                stream_.socket().shutdown(tcp::socket::shutdown_send, sec);
                co_await linger();
            }
            co_return false;
        }
        if (status == bot::hello_status::invalid || buf_.size() >= bot::max_client_hello) {
            sh.tls_failed->inc();
            co_return false;
        }
        const std::size_t want = std::min<std::size_t>(4096, bot::max_client_hello - buf_.size());
        auto [ec, n] = co_await stream_.async_read_some(buf_.prepare(want), use_tuple);
        if (ec || timed_out_) {
            if (buf_.size() != 0) {
                sh.tls_failed->inc();
            }
            co_return false;
        }
        buf_.commit(n);
    }
    if (!stream_.start_tls(tls_->server->context())) {
        sh.tls_failed->inc();
        co_return false;
    }
    auto [ec, used] = co_await stream_.async_server_handshake(buf_.data(), use_tuple);
    (void)used;
    buf_.consume(buf_.size());
    buf_.shrink_to_fit();
    if (ec || timed_out_) {
        sh.tls_failed->inc();
        ANTEROOM_LOG(log_level::debug, "tls", "handshake failed: " + ec.message());
        co_return false;
    }
    (SSL_session_reused(stream_.native_handle()) != 0 ? sh.tls_resumed : sh.tls_full)->inc();
    co_return true;
}

// Closing a socket with unread input makes the kernel send RST, which can destroy the error
// response we just wrote before the client has read it (RFC 9112 §9.6). So after an error
// that closes the connection, input is read and dropped until the client closes — for a
// bounded time, since the client may never do so.
task<void> session::linger() {
    constexpr std::chrono::milliseconds linger_time{1000};
    set_deadline(std::min(linger_time, w_.current_runtime()->cfg->server.body_timeout));
    buf_.consume(buf_.size());
    buf_.shrink_to_fit();
    char sink[4096];
    for (;;) {
        auto [ec, n] = co_await stream_.async_read_some(net::buffer(sink), use_tuple);
        (void)n;
        if (ec || timed_out_) {
            co_return;
        }
    }
}

task<bool> session::read_head(const runtime& rt, std::size_t& head_len) {
    const auto& sc = rt.cfg->server;
    set_deadline(sc.header_read_timeout);
    std::size_t scanned = 0;
    for (;;) {
        const auto data = static_cast<const char*>(buf_.data().data());
        // Rescan a few bytes back so a terminator split across reads is found.
        const std::size_t from = scanned > 3 ? scanned - 3 : 0;
        const auto end = find_head_end(std::string_view(data + from, buf_.size() - from));
        if (end != 0) {
            head_len = from + end;
            co_return true;
        }
        scanned = buf_.size();
        if (buf_.size() >= sc.max_header_size) {
            head_len = 0;
            co_return true;  // caller answers 431
        }
        const std::size_t want = std::min<std::size_t>(4096, sc.max_header_size - buf_.size());
        auto [ec, n] = co_await stream_.async_read_some(buf_.prepare(want), use_tuple);
        if (ec) {
            if (timed_out_ && buf_.size() != 0) {
                w_.shared().timeouts->inc();
                co_await send_error(nullptr, {error_source::downstream, error_kind::request_timeout, false}, false);
            }
            co_return false;
        }
        buf_.commit(n);
    }
}

task<bool> session::handle_request() {
    request_state st(w_.current_runtime());
    const auto& sc = st.rt.cfg->server;
    shared_state& sh = w_.shared();

    // Usually the whole head is in the buffer already (the idle read brought it): then no
    // coroutine is needed to read it.
    std::size_t head_len =
        find_head_end(std::string_view(static_cast<const char*>(buf_.data().data()), buf_.size()));
    if (head_len == 0 && !co_await read_head(st.rt, head_len)) {
        co_return false;
    }
    ++requests_;
    if (head_len == 0 || head_len > sc.max_header_size) {
        sh.bad_requests->inc();
        co_return co_await send_error(nullptr, {error_source::downstream, error_kind::header_too_large, false}, false);
    }
    const std::string_view head(static_cast<const char*>(buf_.data().data()), head_len);
    if (const auto check = check_request_head(head); !check.ok()) {
        sh.bad_requests->inc();
        ANTEROOM_LOG(log_level::debug, "proxy", std::string("rejected request head: ") + std::string(check.detail));
        // Too many field lines is a size limit like max_header_size (RFC 6585 §5: 431); every
        // other defect is a malformed request.
        const auto kind = check.defect == head_defect::too_many_headers ? error_kind::header_too_large
                                                                         : error_kind::bad_request;
        co_return co_await send_error(nullptr, {error_source::downstream, kind, false}, false);
    }
    auto& parser = st.parser;
    parser.header_limit(static_cast<std::uint32_t>(sc.max_header_size));
    parser.body_limit(boost::none);  // enforced per route below, while streaming
    beast::error_code ec;
    const auto used = parser.put(net::buffer(head.data(), head.size()), ec);
    if (ec || used != head_len || !parser.is_header_done()) {
        sh.bad_requests->inc();
        co_return co_await send_error(nullptr, {error_source::downstream, error_kind::bad_request, false}, false);
    }
    buf_.consume(head_len);

    auto& req = parser.get();
    const auto path = path_of(req.target());
    const auto& trusted = sc.trusted_proxies;
    const bool peer_trusted = is_trusted(peer_, trusted);
    st.ctx.emplace(request_ctx{req, path, peer_, peer_, false, {}, {}, nullptr, st.start, st.wall_start, {}, {}, {},
                               {}, 0, req.version(), {}, std::chrono::milliseconds{0}, false});
    auto& ctx = *st.ctx;
    ctx.tls = stream_.is_tls();
    if (tls_) {
        ctx.ja4 = tls_->ja4;
    }
    if (peer_trusted) {
        ctx.client = client_address(peer_, field_value(req, "X-Forwarded-For"), trusted);
    }
    if (auto id = field_value(req, "X-Request-Id"); is_valid_request_id(id)) {
        ctx.request_id = std::string(id);
    } else {
        ctx.request_id = new_request_id();
    }
    // The parser's flags say what req.keep_alive() would, without searching the fields.
    st.client_keep_alive = parser.keep_alive() && requests_ < sc.max_requests_per_connection &&
                           !sh.draining.load(std::memory_order_relaxed);
    st.body_pending = !parser.is_done();
    if (kind_ == listener_kind::redirect) {
        co_return co_await send_redirect(st);
    }

    st.route = st.rt.route_for(path);
    if (st.route == nullptr) {
        co_return co_await send_error(&st, {error_source::downstream, error_kind::not_found, false},
                                      !st.body_pending);
    }
    ctx.route = st.route->cfg;

    for (const auto& f : st.rt.filters) {
        const auto v = f->on_request(ctx);
        if (v == verdict::close) {
            finish(st);
            co_return false;
        }
        if (v == verdict::respond && ctx.response) {
            if (ctx.response_delay.count() > 0) {
                co_await pause(std::min(ctx.response_delay, max_response_delay));
            }
            co_return co_await send_response(st, *ctx.response, !st.body_pending);
        }
    }

    if (const auto cl = parser.content_length(); cl && *cl > st.route->max_body_size) {
        co_return co_await send_error(&st, {error_source::downstream, error_kind::body_too_large, false}, false);
    }
    // Chunked bodies: the parser fails a chunk whose announced size would cross the limit,
    // before reading its data, so a client cannot make the proxy relay up to the limit first.
    parser.body_limit(st.route->max_body_size);
    co_return co_await proxy_request(st);
}

// Stream one message body from `src` to `dst` through a fixed buffer (Beast's relay pattern).
// The serializer writes the (already rewritten) header together with the first body bytes.
template <bool isRequest>
struct relay_result {
    enum { ok, src_failed, dst_failed, too_large } outcome = ok;
    beast::error_code ec;
};

template <bool isRequest, class Deadline>
task<relay_result<isRequest>> relay(conn_stream& src, beast::flat_buffer& src_buf,
                                              http::parser<isRequest, http::buffer_body>& p, conn_stream& dst,
                                              std::uint64_t limit, std::uint64_t& bytes, Deadline bump) {
    relay_result<isRequest> r;
    http::serializer<isRequest, http::buffer_body> sr{p.get()};
    relay_buffer chunk;
    // Beast sizes each socket read by the free capacity of the buffer (at least 512 bytes), and
    // a buffer that only ever held a head is small: without this a body moves in 512-byte
    // reads, one system call and one parser round each. Not needed when the whole body is
    // already buffered; a parked idle session shrinks the buffer again.
    const auto remaining = p.content_length_remaining();
    if (!p.is_done() && !(remaining && *remaining <= src_buf.size())) {
        src_buf.reserve(relay_chunk);
    }
    do {
        if (!p.is_done()) {
            p.get().body().data = chunk.get();
            p.get().body().size = relay_chunk;
            // One read at a time (not async_read, which waits until the chunk buffer is full or
            // the body ends): what arrived is passed on at once, and every read that brings
            // bytes restarts the deadline, so body_timeout is the longest pause it says it is.
            bump();
            auto [ec, n] = co_await http::async_read_some(src, src_buf, p, use_tuple);
            (void)n;
            if (ec == http::error::need_buffer) {
                ec = {};
            }
            if (ec) {
                r.outcome = relay_result<isRequest>::src_failed;
                r.ec = ec;
                co_return r;
            }
            const std::size_t got = relay_chunk - p.get().body().size;
            if (got == 0 && !p.is_done()) {
                // Only framing was parsed (a chunk header): an empty buffer would serialize
                // as the last chunk.
                continue;
            }
            bytes += got;
            if (bytes > limit) {
                r.outcome = relay_result<isRequest>::too_large;
                co_return r;
            }
            // No bytes (the read brought only the last chunk): no buffer either. Beast frames an
            // empty buffer as a chunk of size 0, which is itself a last chunk, and its own last
            // chunk would follow: "0\r\n\r\n0\r\n\r\n", garbage before the next message.
            p.get().body().size = got;
            p.get().body().data = got == 0 ? nullptr : chunk.get();
            p.get().body().more = !p.is_done();
        } else {
            p.get().body().data = nullptr;
            p.get().body().size = 0;
            p.get().body().more = false;
        }
        bump();
        auto [ec, n] = co_await http::async_write(dst, sr, use_tuple);
        (void)n;
        if (ec == http::error::need_buffer) {
            ec = {};
        }
        if (ec) {
            r.outcome = relay_result<isRequest>::dst_failed;
            r.ec = ec;
            co_return r;
        }
    } while (!p.is_done() || !sr.is_done());
    co_return r;
}

// "100 Continue" to a client that asked before sending its body; false when it cannot be written.
task<bool> session::send_continue() {
    static constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
    set_deadline(w_.current_runtime()->cfg->server.body_timeout);
    auto [ec, n] = co_await net::async_write(stream_, net::buffer(continue_line), use_tuple);
    (void)n;
    co_return !ec;
}

// Reading the request body from the client failed: 408 when it timed out, 400 when the body was
// malformed, nothing when the client just went away. The connection ends in every case.
task<bool> session::client_body_failed(request_state& st, const beast::error_code& ec) {
    if (timed_out_) {
        w_.shared().timeouts->inc();
        co_return co_await send_error(&st, {error_source::downstream, error_kind::request_timeout, false}, false);
    }
    if (!benign(ec)) {
        co_return co_await send_error(&st, {error_source::downstream, error_kind::bad_request, false}, false);
    }
    finish(st);
    co_return false;
}

task<bool> session::proxy_request(request_state& st) {
    auto& req = st.parser.get();
    auto& ctx = *st.ctx;
    const auto& sc = st.rt.cfg->server;
    const upstream_group& group = *st.route->upstream;
    const auto& ucfg = *group.cfg;

    const bool upgrade = wants_upgrade(req);
    const std::string upgrade_value = upgrade ? std::string(field_value(req, http::field::upgrade)) : std::string();
    const auto expect = find_field(req, http::field::expect);
    const bool has_expect = expect != req.end();
    const bool expect_continue = has_expect && req.version() == 11 && beast::iequals(expect->value(), "100-continue");
    const bool chunked = st.parser.chunked();

    // A request body of known, bounded length is read whole before any upstream is contacted:
    // a client that trickles its body (slow POST) holds only its own connection and this
    // buffer, never an upstream connection, and cannot make a healthy server look failed.
    std::optional<std::string> held_body;
    if (st.body_pending && !chunked && !upgrade) {
        if (const auto cl = st.parser.content_length(); cl && *cl <= ucfg.request_buffer) {
            if (expect_continue && !co_await send_continue()) {
                co_return false;
            }
            // Grown as bytes arrive (16 KiB at a time), so memory follows what the client has
            // actually sent, not what its Content-Length claims.
            held_body.emplace();
            buf_.reserve(std::min<std::size_t>(static_cast<std::size_t>(*cl), relay_chunk));  // else 512-byte reads
            std::size_t have = 0;
            const auto body_start = clock::now();
            while (!st.parser.is_done()) {
                held_body->resize(std::min<std::size_t>(static_cast<std::size_t>(*cl), have + relay_chunk));
                req.body().data = held_body->data() + have;
                req.body().size = held_body->size() - have;
                set_deadline(body_deadline(sc, body_start, have));
                auto [ec, n] = co_await http::async_read_some(stream_, buf_, st.parser, use_tuple);
                (void)n;
                if (ec && ec != http::error::need_buffer) {
                    co_return co_await client_body_failed(st, ec);
                }
                have = held_body->size() - req.body().size;
            }
            held_body->resize(have);
            st.bytes_in += have;
            st.body_pending = false;
        }
    }

    // Retries follow upstream.retry_idempotent as documented: idempotent requests only, and
    // the setting turns them all off, including the retry after a failed connect.
    const bool retry_on_connect_failure = ucfg.retry_idempotent && is_idempotent(req.method());
    // A request already sent on a pooled connection can be repeated only if the proxy still
    // has all of it, i.e. it had no body left to stream.
    const bool retry_allowed = retry_on_connect_failure && !st.body_pending;

    // Rewrite the head for the upstream.
    const auto host_field = find_field(req, http::field::host);
    const bool has_host = host_field != req.end();
    const std::string host(has_host ? std::string_view(host_field->value()) : std::string_view());
    const std::string codings = chunked ? inner_codings(req) : std::string();
    remove_hop_by_hop(req);
    if (has_expect) {
        erase_field(req, http::field::expect);  // the proxy answers 100-continue itself
    }
    std::string lines;  // what this hop adds, written after the client's fields (add_line)
    add_forwarding_headers(req,
                           forward_info{peer_, is_trusted(peer_, sc.trusted_proxies), stream_.is_tls(), host,
                                        sc.server_name, req.version(), ctx.request_id},
                           lines);
    req.version(11);
    if (chunked) {
        set_chunked(req, codings);  // one line, however many the client sent
    } else if (const auto cl = st.parser.content_length()) {
        // Equal duplicates ("5" and "5", or "5, 5") were accepted: forward one value
        // (RFC 9112 §6.3), never a list another parser could read differently.
        req.content_length(*cl);
    }
    if (upgrade) {
        req.set(http::field::upgrade, upgrade_value);
        req.set(http::field::connection, "upgrade");
    }

    std::optional<std::size_t> exclude;
    bool fresh_only = false;  // a retry never trusts another pooled connection
    for (int attempt = 0;; ++attempt) {
        const auto now = clock::now();
        const auto pick = choose_server(group.servers, ucfg.balance, group.rr, now, exclude);
        if (!pick) {
            co_return co_await send_error(&st, {error_source::upstream, error_kind::no_healthy_upstream, false},
                                          st.client_keep_alive && !st.body_pending);
        }
        const auto& server = group.servers[*pick];
        server_state::in_flight flight(server.get());
        st.upstream_addr = server->text();

        // A pooled connection, or a new one.
        bool reused = false;
        std::optional<conn_stream> conn;
        if (!fresh_only) {
            conn = w_.take_idle(server.get(), now, !retry_allowed);
        }
        if (conn) {
            reused = true;
        } else {
            conn.emplace(w_.ioc());
            upstream_ = &*conn;
            set_deadline(ucfg.connect_timeout);
            const auto ep = to_endpoint(server->address());
            auto [cec] = co_await conn->socket().async_connect(ep, use_tuple);
            if (!cec && !timed_out_ && group.tls) {
                // The TLS handshake counts as part of connecting (same timeout, same failure).
                beast::error_code nec;
                conn->socket().set_option(tcp::no_delay(true), nec);
                if (!conn->start_tls(*group.tls) ||
                    !prepare_upstream_ssl(conn->native_handle(), ucfg, server->address())) {
                    cec = net::error::invalid_argument;
                } else {
                    auto [hec, hn] = co_await conn->async_client_handshake(use_tuple);
                    (void)hn;
                    cec = hec;
                    if (hec) {
                        ANTEROOM_LOG(log_level::warn, "upstream",
                                     "TLS handshake with " + st.upstream_addr + " failed: " + hec.message());
                    }
                }
            }
            upstream_ = nullptr;
            if (cec || timed_out_) {
                group.metrics.failures->inc();
                if (server->on_failure(clock::now(), ucfg.max_fails, ucfg.fail_backoff)) {
                    group.metrics.ejections->inc();
                    ANTEROOM_LOG(log_level::warn, "upstream", "ejected " + st.upstream_addr + " after failures");
                }
                if (attempt == 0 && group.servers.size() > 1 && retry_on_connect_failure) {
                    // Nothing reached this server (and no body was read yet): another may serve it.
                    group.metrics.retries->inc();
                    exclude = pick;
                    continue;
                }
                co_return co_await send_error(&st, {error_source::upstream, error_kind::upstream_connect, true},
                                              st.client_keep_alive && !st.body_pending);
            }
            beast::error_code oec;
            conn->socket().set_option(tcp::no_delay(true), oec);
            enable_input_hint(conn->socket().native_handle());
        }
        conn_stream& up = *conn;
        upstream_ = &up;
        if (!has_host) {
            req.set(http::field::host, st.upstream_addr);  // HTTP/1.0 clients may omit it
        }

        if (expect_continue && st.body_pending && !co_await send_continue()) {
            upstream_ = nullptr;
            co_return false;
        }

        // Request head and body to the upstream.
        const auto sent_at = clock::now();
        const auto body_start = clock::now();
        auto bump = [this, &sc, &st, body_start] { set_deadline(body_deadline(sc, body_start, st.bytes_in)); };
        relay_result<true> rq;
        if (held_body) {
            // Content-Length framing: the head and the body as they are, in one gathered write.
            std::string head;
            append_head(head, req.base(), lines);
            const std::array<net::const_buffer, 2> out{net::buffer(head), net::buffer(*held_body)};
            set_deadline(sc.body_timeout);
            auto [wec, wn] = co_await net::async_write(up, out, use_tuple);
            (void)wn;
            if (wec) {
                rq.outcome = relay_result<true>::dst_failed;
                rq.ec = wec;
            }
        } else if (st.parser.is_done()) {
            // No body (most requests): the head alone, one contiguous write.
            std::string head;
            append_head(head, req.base(), lines);
            bump();
            auto [wec, wn] = co_await net::async_write(up, net::buffer(head), use_tuple);
            (void)wn;
            if (wec) {
                rq.outcome = relay_result<true>::dst_failed;
                rq.ec = wec;
            }
        } else {
            insert_lines(req, lines);  // Beast's serializer writes this head
            lines.clear();
            rq = co_await relay(stream_, buf_, st.parser, up, st.route->max_body_size, st.bytes_in, bump);
        }
        if (rq.outcome != relay_result<true>::ok) {
            upstream_ = nullptr;
            if (rq.outcome == relay_result<true>::too_large) {
                co_return co_await send_error(&st, {error_source::downstream, error_kind::body_too_large, false},
                                              false);
            }
            if (rq.outcome == relay_result<true>::src_failed) {
                // The client went away or sent a broken body (bad chunk size): nothing to retry.
                if (rq.ec == http::error::body_limit) {
                    co_return co_await send_error(
                        &st, {error_source::downstream, error_kind::body_too_large, false}, false);
                }
                co_return co_await client_body_failed(st, rq.ec);
            }
            // Writing to the upstream failed.
            group.metrics.failures->inc();
            if (reused && retry_allowed && attempt == 0) {
                group.metrics.retries->inc();
                exclude = group.servers.size() > 1 ? pick : std::nullopt;
                fresh_only = true;
                continue;
            }
            if (server->on_failure(clock::now(), ucfg.max_fails, ucfg.fail_backoff)) {
                group.metrics.ejections->inc();
                ANTEROOM_LOG(log_level::warn, "upstream", "ejected " + st.upstream_addr + " after failures");
            }
            co_return co_await send_error(&st, {error_source::upstream, error_kind::upstream_reset, false}, false);
        }
        st.body_pending = false;

        // Response head (skipping interim 1xx other than 101).
        beast::flat_buffer ubuf;
        std::optional<http::response_parser<http::buffer_body>> rp;
        beast::error_code rec;
        set_deadline(ucfg.response_timeout);
        for (;;) {
            rp.emplace();
            rp->body_limit(boost::none);
            rp->header_limit(64 * 1024);
            if (req.method() == http::verb::head) {
                rp->skip(true);
            }
            auto [hec, hn] = co_await http::async_read_header(up, ubuf, *rp, use_tuple);
            (void)hn;
            rec = hec;
            if (rec) {
                break;
            }
            const auto code = rp->get().result_int();
            if (code >= 100 && code < 200 && code != 101) {
                continue;
            }
            break;
        }
        upstream_ = nullptr;
        if (rec) {
            const bool was_timeout = timed_out_;
            group.metrics.failures->inc();
            if (reused && !was_timeout && retry_allowed && attempt == 0 && ubuf.size() == 0) {
                // A stale keep-alive connection closed under us: the request never reached the app.
                group.metrics.retries->inc();
                exclude = group.servers.size() > 1 ? pick : std::nullopt;
                fresh_only = true;
                continue;
            }
            if (server->on_failure(clock::now(), ucfg.max_fails, ucfg.fail_backoff)) {
                group.metrics.ejections->inc();
                ANTEROOM_LOG(log_level::warn, "upstream", "ejected " + st.upstream_addr + " after failures");
            }
            const auto kind = was_timeout ? error_kind::upstream_timeout : error_kind::upstream_reset;
            co_return co_await send_error(&st, {error_source::upstream, kind, false}, st.client_keep_alive);
        }
        server->on_success();
        const auto head_at = clock::now();
        st.upstream_us = std::chrono::duration_cast<std::chrono::microseconds>(head_at - sent_at).count();
        group.metrics.latency->observe_us(static_cast<std::uint64_t>(st.upstream_us));

        auto& res = rp->get();
        // Framing and persistence as the parser found them (flags, not lookups in the fields).
        const bool upstream_keep = rp->keep_alive();
        st.status = res.result_int();

        if (st.status == 101) {
            if (!upgrade) {
                co_return co_await send_error(&st, {error_source::upstream, error_kind::upstream_reset, false}, false);
            }
            const std::string up_upgrade(res[http::field::upgrade]);
            remove_hop_by_hop(res);
            res.set(http::field::upgrade, up_upgrade);
            res.set(http::field::connection, "upgrade");
            for (const auto& f : st.rt.filters) {
                f->on_response(ctx, res);
            }
            add_security_headers(res, st);
            set_deadline(sc.body_timeout);
            http::response_serializer<http::buffer_body> hs{res};
            auto [wec, wn] = co_await http::async_write_header(stream_, hs, use_tuple);
            (void)wn;
            if (wec) {
                finish(st);
                co_return false;
            }
            finish(st);
            co_await tunnel(up, ubuf);
            co_return false;
        }

        // Response head for the client.
        const bool no_body = rp->is_done();
        const bool has_length = rp->content_length().has_value() || rp->chunked();
        const std::string res_codings = rp->chunked() ? inner_codings(res) : std::string();
        remove_hop_by_hop(res);
        for (const auto& f : st.rt.filters) {
            f->on_response(ctx, res);
        }
        std::string res_lines;  // what the proxy adds, written after the upstream's fields
        for (const auto& [name, value] : ctx.response_headers) {
            add_line(res_lines, name, value);
        }
        add_security_headers(res, st);
        bool client_keep = st.client_keep_alive;
        const bool client_11 = st.ctx->client_version == 11;
        if (!no_body && find_field(res, http::field::content_length) == res.end()) {
            // Chunked or close-delimited from the upstream: re-chunk for an HTTP/1.1 client,
            // close-delimit for HTTP/1.0.
            if (client_11) {
                set_chunked(res, res_codings);
            } else {
                client_keep = false;
            }
        } else if (no_body && !has_length && req.method() == http::verb::head) {
            // HEAD: the upstream's framing header already went; nothing to add.
        }
        res.version(client_11 ? 11 : 10);
        // Connection went with the hop-by-hop fields: only a non-default persistence is said.
        if (client_11 && !client_keep) {
            add_line(res_lines, "Connection", "close");
        } else if (!client_11 && client_keep) {
            add_line(res_lines, "Connection", "keep-alive");
        }

        if (no_body) {
            std::string head;
            append_head(head, res.base(), res_lines);
            set_deadline(sc.body_timeout);
            auto [wec, wn] = co_await net::async_write(stream_, net::buffer(head), use_tuple);
            (void)wn;
            if (upstream_keep && ubuf.size() == 0) {
                w_.put_idle(server, std::move(up), ucfg.pool_size, clock::now() + ucfg.pool_idle_timeout);
            }
            finish(st);
            co_return !wec && client_keep;
        }
        // A response of known, bounded length is read whole before the client gets any of it,
        // and the upstream connection goes back to the pool at once: a client that reads slowly
        // (slow read) then holds only its own connection and this buffer, never an upstream one.
        if (const auto length = rp->content_length(); length && *length <= ucfg.response_buffer) {
            std::string held(static_cast<std::size_t>(*length), '\0');
            upstream_ = &up;
            beast::error_code bec;
            std::size_t have = 0;
            ubuf.reserve(std::min<std::size_t>(held.size(), relay_chunk));  // else 512-byte reads
            while (!rp->is_done() && have < held.size()) {
                res.body().data = held.data() + have;
                res.body().size = held.size() - have;
                set_deadline(sc.body_timeout);
                auto [ec, n] = co_await http::async_read_some(up, ubuf, *rp, use_tuple);
                (void)n;
                if (ec && ec != http::error::need_buffer) {
                    bec = ec;
                    break;
                }
                have = held.size() - res.body().size;
            }
            if (!bec && !rp->is_done()) {
                bec = http::error::partial_message;  // cannot happen with Content-Length framing
            }
            st.bytes_out += have;
            upstream_ = nullptr;
            if (bec) {
                // Nothing has reached the client yet: it gets an honest 502/504, not a truncated body.
                group.metrics.failures->inc();
                const auto kind = timed_out_ ? error_kind::upstream_timeout : error_kind::upstream_reset;
                co_return co_await send_error(&st, {error_source::upstream, kind, false}, false);
            }
            if (upstream_keep && ubuf.size() == 0) {
                w_.put_idle(server, std::move(up), ucfg.pool_size, clock::now() + ucfg.pool_idle_timeout);
            }
            // Content-Length framing: the head and the body as they are, in one write. A small
            // body is copied behind the head (one buffer: send, not sendmsg with two), a large
            // one is gathered.
            std::string head;
            append_head(head, res.base(), res_lines);
            set_deadline(sc.body_timeout);
            beast::error_code wec;
            if (held.size() <= copy_body_up_to) {
                head.append(held);
                std::tie(wec, std::ignore) = co_await net::async_write(stream_, net::buffer(head), use_tuple);
            } else {
                const std::array<net::const_buffer, 2> out{net::buffer(head), net::buffer(held)};
                std::tie(wec, std::ignore) = co_await net::async_write(stream_, out, use_tuple);
            }
            finish(st);
            co_return !wec && client_keep;
        }
        upstream_ = &up;
        insert_lines(res, res_lines);  // Beast's serializer writes this head
        auto rs = co_await relay(up, ubuf, *rp, stream_, std::numeric_limits<std::uint64_t>::max(), st.bytes_out,
                                 bump);
        upstream_ = nullptr;
        if (rs.outcome != relay_result<false>::ok) {
            // Headers are gone already: the only honest signal left is closing the connection.
            if (rs.outcome == relay_result<false>::src_failed) {
                group.metrics.failures->inc();
            }
            finish(st);
            co_return false;
        }
        if (upstream_keep && rp->is_done() && ubuf.size() == 0) {
            w_.put_idle(server, std::move(up), ucfg.pool_size, clock::now() + ucfg.pool_idle_timeout);
        }
        finish(st);
        co_return client_keep;
    }
}

task<bool> session::tunnel(conn_stream& upstream, beast::flat_buffer& upstream_buf) {
    using namespace net::experimental::awaitable_operators;
    const auto idle = w_.current_runtime()->cfg->server.idle_timeout;
    upstream_ = &upstream;
    set_deadline(idle);
    // Bytes that arrived behind the 101 head belong to the tunnel.
    if (upstream_buf.size() != 0) {
        auto [ec, n] = co_await net::async_write(stream_, upstream_buf.data(), use_tuple);
        (void)n;
        if (ec) {
            upstream_ = nullptr;
            co_return false;
        }
        upstream_buf.consume(upstream_buf.size());
    }
    if (buf_.size() != 0) {
        auto [ec, n] = co_await net::async_write(upstream, buf_.data(), use_tuple);
        (void)n;
        if (ec) {
            upstream_ = nullptr;
            co_return false;
        }
        buf_.consume(buf_.size());
    }
    auto pump = [this, idle](conn_stream& from, conn_stream& to) -> task<void> {
        relay_buffer chunk;
        for (;;) {
            auto [ec, n] = co_await from.async_read_some(net::buffer(chunk.get(), relay_chunk), use_tuple);
            if (ec) {
                break;
            }
            set_deadline(idle);
            auto [wec, wn] = co_await net::async_write(to, net::buffer(chunk.get(), n), use_tuple);
            (void)wn;
            if (wec) {
                break;
            }
        }
        beast::error_code ec;
        to.socket().shutdown(tcp::socket::shutdown_send, ec);
    };
    co_await (pump(stream_, upstream) && pump(upstream, stream_));
    upstream_ = nullptr;
    beast::error_code ec;
    upstream.socket().close(ec);
    co_return false;
}

task<bool> session::send_response(request_state& st, http::response<http::string_body>& res,
                                            bool keep_alive) {
    const bool keep = keep_alive && st.client_keep_alive;
    linger_ = !keep;  // a filter may answer before the request body was read: see linger()
    for (const auto& [name, value] : st.ctx->response_headers) {
        res.insert(name, value);
    }
    add_security_headers(res, st);
    res.version(st.ctx->client_version == 10 ? 10 : 11);
    res.keep_alive(keep);
    res.prepare_payload();
    st.status = res.result_int();
    set_deadline(st.rt.cfg->server.body_timeout);
    auto [ec, n] = co_await http::async_write(stream_, res, use_tuple);
    st.bytes_out += res.body().size();
    (void)n;
    finish(st);
    co_return !ec && keep;
}

task<bool> session::send_error(request_state* st, proxy_error err, bool keep_alive) {
    std::string_view accept;
    std::string_view lang;
    std::string request_id;
    unsigned version = 11;
    if (st != nullptr && st->ctx) {
        accept = st->ctx->request[http::field::accept];
        lang = st->ctx->request[http::field::accept_language];
        request_id = st->ctx->request_id;
        version = st->ctx->client_version;
    } else {
        request_id = new_request_id();
    }
    const auto page = make_error_response(err, choose_language(lang), choose_format(accept), request_id);
    const bool keep = keep_alive && !page.close_connection && st != nullptr && st->client_keep_alive;
    linger_ = !keep;
    http::response<http::string_body> res{static_cast<http::status>(page.status), version == 10 ? 10 : 11};
    res.set(http::field::content_type, page.content_type);
    res.set(http::field::cache_control, "no-store");
    res.set("X-Request-Id", request_id);
    if (page.retry_after_seconds != 0) {
        res.set(http::field::retry_after, std::to_string(page.retry_after_seconds));
    }
    if (st == nullptr || st->ctx->request.method() != http::verb::head) {
        res.body() = page.body;
    }
    res.keep_alive(keep);
    res.prepare_payload();
    if (st != nullptr && st->ctx->request.method() == http::verb::head) {
        res.content_length(page.body.size());
    }
    if (st != nullptr) {
        add_security_headers(res, *st);
    }
    set_deadline(w_.current_runtime()->cfg->server.body_timeout);
    auto [ec, n] = co_await http::async_write(stream_, res, use_tuple);
    (void)n;
    if (st != nullptr) {
        st->status = page.status;
        st->bytes_out += res.body().size();
        finish(*st);
    } else {
        write_access_line_minimal(w_.shared(), page.status, peer_, request_id);
    }
    co_return !ec && keep;
}

void session::add_security_headers(http::fields& f, const request_state& st) const {
    if (stream_.is_tls() && !st.rt.hsts.empty()) {
        f.set(http::field::strict_transport_security, st.rt.hsts);
    }
}

// Redirect listeners: every request goes to the same URL over HTTPS (308 keeps the method and
// body). Without a usable Host the client gets 400: there is nowhere to send it.
task<bool> session::send_redirect(request_state& st) {
    auto& ctx = *st.ctx;
    const auto location = https_location(ctx.request[http::field::host], w_.shared().https_port.load(),
                                         ctx.request.target());
    if (!location) {
        co_return co_await send_error(&st, {error_source::downstream, error_kind::bad_request, false}, false);
    }
    http::response<http::string_body> res{http::status::permanent_redirect, 11};
    res.set(http::field::location, *location);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    res.set("X-Request-Id", ctx.request_id);
    if (ctx.request.method() != http::verb::head) {
        res.body() = "Moved to " + *location + "\n";
    }
    ctx.log_tag = "redirect:https";
    co_return co_await send_response(st, res, !st.body_pending);
}

void session::finish(request_state& st) {
    if (st.route != nullptr && st.status >= 100 && st.status < 600) {
        st.route->requests_by_class[st.status / 100 - 1]->inc();
    }
    st.ctx->upstream_answered = !st.upstream_addr.empty() && st.upstream_us >= 0;
    for (const auto& f : st.rt.filters) {
        f->on_complete(*st.ctx, st.status);
    }
    access_record r;
    r.method = st.ctx->request.method_string();
    r.path = st.ctx->path;
    r.status = st.status;
    r.bytes_in = st.bytes_in;
    r.bytes_out = st.bytes_out;
    r.upstream = st.upstream_addr;
    r.upstream_us = st.upstream_us;
    r.request_id = st.ctx->request_id;
    r.client = st.ctx->client;
    r.tag = st.ctx->log_tag;
    r.bot_score = st.ctx->bot.score;
    r.bot_reasons = st.ctx->bot.reasons;
    if (tls_) {
        r.ja4 = tls_->ja4;
    }
    r.time = st.wall_start;
    write_access_line(w_.shared(), r, st.start);
}

task<void> session::pause(std::chrono::milliseconds d) {
    io_timer t(stream_.get_executor());
    t.expires_after(d);
    co_await t.async_wait(use_tuple);
}

}  // namespace anteroom::proxy
