#pragma once
// One connection, plain TCP or TLS over TCP, as a single stream type, so the request and relay
// code is written once for both (Pingora's `Stream`). A plain connection pays for TLS with one
// null pointer: the OpenSSL object exists only after start_tls(). The template members are
// defined in proxy/stream_impl.hpp, which only the session's translation unit includes.

#include <memory>
#include <string>

#include "common/net.hpp"

struct ssl_st;  // OpenSSL's SSL

namespace boost::asio::ssl {
class context;
}
namespace boost::asio::detail {
class epoll_reactor;
}

namespace anteroom::proxy {

struct tls_layer;

// Asks the kernel to say, with every read, how much is left to read (Linux's TCP_INQ): plain
// reads then wait for epoll instead of trying a recv that would find nothing
// (proxy/drained_read.hpp). Set it on a listening socket (accepted sockets inherit it) or on a
// connected one. False where the system does not have it; reads then work as Asio's.
bool enable_input_hint(int fd) noexcept;

class conn_stream {
public:
    using executor_type = io_executor;

    explicit conn_stream(tcp_socket s);
    explicit conn_stream(net::io_context& ioc);
    conn_stream(conn_stream&&) noexcept;
    conn_stream& operator=(conn_stream&&) noexcept;
    ~conn_stream();

    executor_type get_executor() { return sock_.get_executor(); }  // kept by a moved-from socket
    // The TCP socket under everything: deadlines cancel it, shutdown and close act on it.
    tcp_socket& socket();
    bool is_tls() const { return tls_ != nullptr; }
    // Puts TLS on the connection (server or client side is chosen by the handshake). Call it
    // before any TLS byte has been read or written. False when OpenSSL could not allocate
    // (the connection is then unusable).
    bool start_tls(net::ssl::context& ctx);
    ssl_st* native_handle();  // null for a plain connection
    // TLS input OpenSSL has read off the socket but not handed out (read-ahead): a pooled
    // connection with some is not clean, though the socket itself looks quiet.
    bool has_buffered_input() const;

    // AsyncReadStream / AsyncWriteStream (Beast's http::async_read and async_write use these).
    template <class MutableBufferSequence, class Token>
    auto async_read_some(const MutableBufferSequence& buffers, Token&& token);
    template <class ConstBufferSequence, class Token>
    auto async_write_some(const ConstBufferSequence& buffers, Token&& token);

    // TLS only. The server handshake takes the bytes already read off the socket (the
    // ClientHello, kept for its fingerprint); OpenSSL reads them before the socket.
    // Completion of these three: (error_code, std::size_t, meaningless).
    template <class ConstBufferSequence, class Token>
    auto async_server_handshake(const ConstBufferSequence& already_read, Token&& token);
    template <class Token>
    auto async_client_handshake(Token&& token);
    // Sends close_notify and waits for the peer's (bound it with a deadline).
    template <class Token>
    auto async_tls_shutdown(Token&& token);

private:
    void begin_handshake(std::string already_read, bool server);

    tcp_socket sock_;  // moved into tls_ by start_tls()
    std::unique_ptr<tls_layer> tls_;
    boost::asio::detail::epoll_reactor* reactor_ = nullptr;  // of plain reads (drained_read.hpp)
};

}  // namespace anteroom::proxy
