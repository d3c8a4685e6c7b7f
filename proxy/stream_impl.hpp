#pragma once
// The template members of conn_stream (proxy/stream.hpp). Include only where they are used.
//
// TLS works as in nginx and HAProxy: OpenSSL reads and writes the socket itself (through a BIO
// over the descriptor, proxy/stream.cpp), and the event loop only says when the socket is ready.
// Each operation below tries its OpenSSL call; when OpenSSL needs the socket to become readable
// or writable it waits for exactly that (socket async_wait) and tries again. Asio's ssl::stream
// instead runs OpenSSL over memory BIOs and copies every record through its own buffers, and
// its engine empties OpenSSL's error queue before every call: together that cost as much as
// the rest of the proxy per request, and 34 KiB of buffers per connection.

#include <cstring>
#include <utility>

#include "proxy/drained_read.hpp"
#include "proxy/stream.hpp"

namespace anteroom::proxy {

// The result of one try of an OpenSSL call on a connection.
struct tls_step {
    enum kind { done, want_read, want_write } what = done;
    beast::error_code ec;
    std::size_t bytes = 0;
};

// One try each, never blocking (proxy/stream.cpp). Error codes are Asio's: net::error::eof for
// the peer's close_notify, net::ssl::error::stream_truncated for a connection that ended
// without one, the system error of a failed recv/send, or an OpenSSL error (ssl category).
tls_step tls_try_read(tls_layer& t, void* data, std::size_t size);
tls_step tls_try_write(tls_layer& t, const void* data, std::size_t size);
tls_step tls_try_handshake(tls_layer& t);
tls_step tls_try_shutdown(tls_layer& t);
// The buffer tls_try_write's data lives in when a write gathers several buffers; kept in the
// layer so that a retry after want_write hands OpenSSL the same bytes, as it requires.
std::string& tls_gather_buffer(tls_layer& t);

namespace detail {

// The composed operation: try, wait for what OpenSSL asked for, try again. A result found on
// the first try (no wait) is posted: a handler must not run inside its initiating function.
template <class Try>
struct tls_op {
    tls_op(tcp_socket& s, Try a) : sock(s), attempt(std::move(a)) {}

    tcp_socket& sock;
    Try attempt;
    bool waited = false;
    bool finished = false;
    tls_step result;

    template <class Self>
    void operator()(Self& self, beast::error_code wait_ec = {}) {
        if (finished) {
            self.complete(result.ec, result.bytes);
            return;
        }
        if (wait_ec) {
            self.complete(wait_ec, 0);  // cancelled (a deadline closed the socket) or failed
            return;
        }
        result = attempt();
        switch (result.what) {
        case tls_step::want_read:
            waited = true;
            sock.async_wait(tcp_socket::wait_read, std::move(self));
            return;
        case tls_step::want_write:
            waited = true;
            sock.async_wait(tcp_socket::wait_write, std::move(self));
            return;
        case tls_step::done:
            break;
        }
        if (waited) {
            self.complete(result.ec, result.bytes);
            return;
        }
        finished = true;
        net::post(sock.get_executor(), std::move(self));
    }
};

template <class Token, class Try>
auto async_tls(tcp_socket& sock, Token&& token, Try attempt) {
    return net::async_compose<Token, void(beast::error_code, std::size_t)>(
        tls_op<Try>(sock, std::move(attempt)), token, sock);
}

}  // namespace detail

template <class MutableBufferSequence, class Token>
auto conn_stream::async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    // Into the first non-empty buffer (Asio's ssl::stream reads so too: one record at most).
    net::mutable_buffer first;
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers); ++it) {
        if (net::mutable_buffer b(*it); b.size() != 0) {
            first = b;
            break;
        }
    }
    if (!tls_) {
        return detail::async_read_drained(sock_, reactor_, first, std::forward<Token>(token));
    }
    tls_layer& t = *tls_;
    return detail::async_tls(socket(), std::forward<Token>(token), [&t, first] {
        return first.size() == 0 ? tls_step{} : tls_try_read(t, first.data(), first.size());
    });
}

template <class ConstBufferSequence, class Token>
auto conn_stream::async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    if (!tls_) {
        return sock_.async_write_some(buffers, std::forward<Token>(token));
    }
    // Several buffers (a head and a body, a chunk's framing and data) go out as one record
    // rather than one record each: up to 64 KiB of them are gathered first, as Beast's
    // flat_stream does in front of Asio's ssl::stream.
    constexpr std::size_t gather_limit = 64 * 1024;
    net::const_buffer out;
    std::size_t count = 0;
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers); ++it) {
        if (net::const_buffer b(*it); b.size() != 0 && count++ == 0) {
            out = b;
        }
    }
    tls_layer& t = *tls_;
    if (count > 1) {
        std::string& gathered = tls_gather_buffer(t);
        gathered.clear();
        for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers); ++it) {
            const net::const_buffer b(*it);
            const std::size_t take = std::min(b.size(), gather_limit - gathered.size());
            gathered.append(static_cast<const char*>(b.data()), take);
            if (gathered.size() == gather_limit) {
                break;
            }
        }
        out = net::buffer(gathered);
    }
    return detail::async_tls(socket(), std::forward<Token>(token), [&t, out] {
        return out.size() == 0 ? tls_step{} : tls_try_write(t, out.data(), out.size());
    });
}

template <class ConstBufferSequence, class Token>
auto conn_stream::async_server_handshake(const ConstBufferSequence& already_read, Token&& token) {
    std::string prefix;
    prefix.reserve(net::buffer_size(already_read));
    for (auto it = net::buffer_sequence_begin(already_read); it != net::buffer_sequence_end(already_read); ++it) {
        const net::const_buffer b(*it);
        prefix.append(static_cast<const char*>(b.data()), b.size());
    }
    begin_handshake(std::move(prefix), true);
    tls_layer& t = *tls_;
    return detail::async_tls(socket(), std::forward<Token>(token), [&t] { return tls_try_handshake(t); });
}

template <class Token>
auto conn_stream::async_client_handshake(Token&& token) {
    begin_handshake({}, false);
    tls_layer& t = *tls_;
    return detail::async_tls(socket(), std::forward<Token>(token), [&t] { return tls_try_handshake(t); });
}

template <class Token>
auto conn_stream::async_tls_shutdown(Token&& token) {
    tls_layer& t = *tls_;
    return detail::async_tls(socket(), std::forward<Token>(token), [&t] { return tls_try_shutdown(t); });
}

}  // namespace anteroom::proxy
