#pragma once
// The template members of conn_stream (proxy/stream.hpp). Include only where they are used:
// these headers are heavy.

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

#include "proxy/stream.hpp"

namespace anteroom::proxy {

struct tls_layer {
    tls_layer(tcp_socket s, net::ssl::context& ctx) : stream(std::move(s), ctx) {}
    // Beast's ssl_stream: its flat_stream gathers a serializer's buffers into one TLS record
    // instead of one record per buffer.
    beast::ssl_stream<tcp_socket> stream;
};

template <class MutableBufferSequence, class Token>
auto conn_stream::async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return net::async_initiate<Token, void(beast::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& b) {
            if (tls_) {
                tls_->stream.async_read_some(b, std::move(handler));
            } else {
                sock_.async_read_some(b, std::move(handler));
            }
        },
        token, buffers);
}

template <class ConstBufferSequence, class Token>
auto conn_stream::async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return net::async_initiate<Token, void(beast::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& b) {
            if (tls_) {
                tls_->stream.async_write_some(b, std::move(handler));
            } else {
                sock_.async_write_some(b, std::move(handler));
            }
        },
        token, buffers);
}

template <class ConstBufferSequence, class Token>
auto conn_stream::async_server_handshake(const ConstBufferSequence& already_read, Token&& token) {
    return tls_->stream.async_handshake(net::ssl::stream_base::server, already_read, std::forward<Token>(token));
}

template <class Token>
auto conn_stream::async_client_handshake(Token&& token) {
    return tls_->stream.async_handshake(net::ssl::stream_base::client, std::forward<Token>(token));
}

template <class Token>
auto conn_stream::async_tls_shutdown(Token&& token) {
    return tls_->stream.async_shutdown(std::forward<Token>(token));
}

}  // namespace anteroom::proxy
