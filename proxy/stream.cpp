#include "proxy/stream_impl.hpp"

namespace anteroom::proxy {

conn_stream::conn_stream(tcp_socket s) : sock_(std::move(s)) {}

conn_stream::conn_stream(net::io_context& ioc) : sock_(ioc) {}

conn_stream::conn_stream(conn_stream&&) noexcept = default;
conn_stream& conn_stream::operator=(conn_stream&&) noexcept = default;
conn_stream::~conn_stream() = default;

tcp_socket& conn_stream::socket() {
    return tls_ ? tls_->stream.next_layer() : sock_;
}

void conn_stream::start_tls(net::ssl::context& ctx) {
    tls_ = std::make_unique<tls_layer>(std::move(sock_), ctx);
}

ssl_st* conn_stream::native_handle() {
    return tls_ ? tls_->stream.native_handle() : nullptr;
}

}  // namespace anteroom::proxy
