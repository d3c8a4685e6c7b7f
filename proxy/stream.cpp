#include "proxy/stream_impl.hpp"

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>

namespace anteroom::proxy {

// A TLS connection: the socket, the OpenSSL object on it, and the state of the BIO between them.
struct tls_layer {
    tcp_socket sock;
    SSL* ssl = nullptr;
    // Read by OpenSSL before the socket: the bytes the proxy read off it before TLS began.
    std::string prefix;
    std::size_t prefix_at = 0;
    bool eof = false;        // recv returned 0: the peer closed its side
    int sys_error = 0;       // errno of the last failed recv/send other than EAGAIN
    std::string gathered;    // see tls_gather_buffer

    explicit tls_layer(tcp_socket s) : sock(std::move(s)) {}
    ~tls_layer() { SSL_free(ssl); }  // frees the BIO too
    tls_layer(const tls_layer&) = delete;
    tls_layer& operator=(const tls_layer&) = delete;
};

namespace {

// The BIO OpenSSL reads and writes through: recv/send on the socket's descriptor, looked up on
// every call (a socket a deadline has closed must not be reached by number: the number may
// already belong to another connection). Would-block becomes OpenSSL's retry, which the
// operations in stream_impl.hpp turn into a wait for readiness.
tls_layer& layer_of(BIO* b) {
    return *static_cast<tls_layer*>(BIO_get_data(b));
}

// A recv/send that failed (errno set, not EINTR): would-block becomes OpenSSL's retry, anything
// else the error the operation reports.
int io_failed(BIO* b, tls_layer& t, bool reading) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (reading) {
            BIO_set_retry_read(b);
        } else {
            BIO_set_retry_write(b);
        }
    } else {
        t.sys_error = errno;
    }
    return 0;
}

int bio_read(BIO* b, char* out, std::size_t size, std::size_t* got) {
    tls_layer& t = layer_of(b);
    BIO_clear_retry_flags(b);
    if (t.prefix_at < t.prefix.size()) {
        const std::size_t n = std::min(size, t.prefix.size() - t.prefix_at);
        std::memcpy(out, t.prefix.data() + t.prefix_at, n);
        t.prefix_at += n;
        if (t.prefix_at == t.prefix.size()) {
            std::string().swap(t.prefix);
            t.prefix_at = 0;
        }
        *got = n;
        return 1;
    }
    if (!t.sock.is_open()) {
        t.sys_error = EBADF;
        return 0;
    }
    for (;;) {
        const ssize_t n = ::recv(t.sock.native_handle(), out, size, 0);
        if (n > 0) {
            *got = static_cast<std::size_t>(n);
            return 1;
        }
        if (n == 0) {
            t.eof = true;
            return 0;
        }
        if (errno != EINTR) {
            return io_failed(b, t, true);
        }
    }
}

int bio_write(BIO* b, const char* data, std::size_t size, std::size_t* written) {
    tls_layer& t = layer_of(b);
    BIO_clear_retry_flags(b);
    if (!t.sock.is_open()) {
        t.sys_error = EBADF;
        return 0;
    }
    for (;;) {
        const ssize_t n = ::send(t.sock.native_handle(), data, size, MSG_NOSIGNAL);
        if (n >= 0) {
            *written = static_cast<std::size_t>(n);
            return 1;
        }
        if (errno != EINTR) {
            return io_failed(b, t, false);
        }
    }
}

long bio_ctrl(BIO*, int cmd, long, void*) {
    // Writes are not buffered, so a flush has nothing to do; nothing else is supported.
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int bio_create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
}

const BIO_METHOD* socket_bio_method() {
    static BIO_METHOD* const method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "anteroom socket");
        BIO_meth_set_read_ex(m, bio_read);
        BIO_meth_set_write_ex(m, bio_write);
        BIO_meth_set_ctrl(m, bio_ctrl);
        BIO_meth_set_create(m, bio_create);
        return m;
    }();
    return method;
}

// OpenSSL's error queue (per thread) must be empty before a call whose outcome SSL_get_error
// is to classify (and sys_error must be this call's). Every failure below empties it again, so usually there is nothing to clear;
// only looking is much cheaper than clearing (ERR_clear_error frees 32 slots each time).
void clear_stale_errors(tls_layer& t) {
    if (ERR_peek_error() != 0) {
        ERR_clear_error();
    }
    t.sys_error = 0;
}

// Classifies a failed call (result <= 0) the way Asio's ssl::stream reports it.
tls_step failed(tls_layer& t, int result) {
    const int err = SSL_get_error(t.ssl, result);
    tls_step s;
    switch (err) {
    case SSL_ERROR_WANT_READ:
        s.what = tls_step::want_read;
        return s;
    case SSL_ERROR_WANT_WRITE:
        s.what = tls_step::want_write;
        return s;
    case SSL_ERROR_ZERO_RETURN:
        s.ec = net::error::eof;  // the peer's close_notify
        break;
    default: {
        const unsigned long code = ERR_get_error();
        if (t.sys_error != 0) {
            s.ec = beast::error_code(t.sys_error, boost::system::system_category());
        } else if (t.eof && (SSL_get_shutdown(t.ssl) & SSL_RECEIVED_SHUTDOWN) == 0) {
            s.ec = net::ssl::error::stream_truncated;  // closed without close_notify
        } else if (code != 0) {
            s.ec = beast::error_code(static_cast<int>(code), net::error::get_ssl_category());
        } else {
            s.ec = net::error::eof;
        }
        break;
    }
    }
    ERR_clear_error();
    return s;
}

}  // namespace

tls_step tls_try_read(tls_layer& t, void* data, std::size_t size) {
    clear_stale_errors(t);
    std::size_t got = 0;
    const int r = SSL_read_ex(t.ssl, data, size, &got);
    if (r == 1) {
        return {tls_step::done, {}, got};
    }
    return failed(t, r);
}

tls_step tls_try_write(tls_layer& t, const void* data, std::size_t size) {
    clear_stale_errors(t);
    std::size_t written = 0;
    const int r = SSL_write_ex(t.ssl, data, size, &written);
    if (r == 1) {
        return {tls_step::done, {}, written};
    }
    return failed(t, r);
}

tls_step tls_try_handshake(tls_layer& t) {
    clear_stale_errors(t);
    const int r = SSL_do_handshake(t.ssl);
    if (r == 1) {
        return {};
    }
    return failed(t, r);
}

tls_step tls_try_shutdown(tls_layer& t) {
    clear_stale_errors(t);
    int r = SSL_shutdown(t.ssl);
    if (r == 0) {
        r = SSL_shutdown(t.ssl);  // ours is sent: now read the peer's
    }
    if (r == 1) {
        return {};
    }
    return failed(t, r);
}

std::string& tls_gather_buffer(tls_layer& t) {
    return t.gathered;
}

bool enable_input_hint(int fd) noexcept {
#ifdef TCP_INQ
    const int one = 1;
    return ::setsockopt(fd, SOL_TCP, TCP_INQ, &one, sizeof one) == 0;
#else
    (void)fd;
    return false;
#endif
}

conn_stream::conn_stream(tcp_socket s) : sock_(std::move(s)) {}

conn_stream::conn_stream(net::io_context& ioc) : sock_(ioc) {}

conn_stream::conn_stream(conn_stream&&) noexcept = default;
conn_stream& conn_stream::operator=(conn_stream&&) noexcept = default;
conn_stream::~conn_stream() = default;

tcp_socket& conn_stream::socket() {
    return tls_ ? tls_->sock : sock_;
}

bool conn_stream::start_tls(net::ssl::context& ctx) {
    tls_ = std::make_unique<tls_layer>(std::move(sock_));
    tls_->ssl = SSL_new(ctx.native_handle());
    if (tls_->ssl == nullptr) {
        ERR_clear_error();
        return false;
    }
    // As Asio's engine sets them: partial writes complete a write_some, a retried write may come
    // from another address (the gathered buffer), and idle connections give back their buffers.
    SSL_set_mode(tls_->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                SSL_MODE_RELEASE_BUFFERS);
    // One recv per record, not one for its header and one for the rest.
    SSL_set_read_ahead(tls_->ssl, 1);
    BIO* bio = BIO_new(socket_bio_method());
    if (bio == nullptr) {
        ERR_clear_error();
        return false;
    }
    BIO_set_data(bio, tls_.get());
    SSL_set_bio(tls_->ssl, bio, bio);
    return true;
}

void conn_stream::begin_handshake(std::string already_read, bool server) {
    tls_->prefix = std::move(already_read);
    tls_->prefix_at = 0;
    if (server) {
        SSL_set_accept_state(tls_->ssl);
    } else {
        SSL_set_connect_state(tls_->ssl);
    }
}

bool conn_stream::has_buffered_input() const {
    return tls_ && SSL_has_pending(tls_->ssl) == 1;
}

ssl_st* conn_stream::native_handle() {
    return tls_ ? tls_->ssl : nullptr;
}

}  // namespace anteroom::proxy
