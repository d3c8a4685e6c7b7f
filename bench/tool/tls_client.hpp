#pragma once
// The client side of https:// for anteroom-bench raw: the context built once per thread from
// the options, the per-connection setup before a handshake (SNI, what to verify, the session to
// offer), and the session kept after a clean exchange for --tls-resume.

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include <boost/asio/ssl.hpp>

#include "bench/tool/raw_options.hpp"
#include "common/net.hpp"

namespace anteroom::bench {

struct tls_session_free {
    void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
using tls_session_ptr = std::unique_ptr<SSL_SESSION, tls_session_free>;

// TLS 1.2 and 1.3 (or the one --tls-version names), ALPN http/1.1, peer verification against
// --cacert when given. Throws on a bad CA file (startup only).
net::ssl::context make_client_context(const tls_client_options& o);

// Before the handshake of a fresh stream: the SNI name (when there is one), the name or the
// target's IP address the certificate must match (when verifying), and `resume`, the session to
// offer (may be null).
void prepare_handshake(SSL* ssl, const tls_client_options& o, const std::string& target_ip, SSL_SESSION* resume);

// After a clean exchange, before the stream is destroyed: the session to offer on the slot's
// next connection (null when the server gave none that can be resumed).
tls_session_ptr take_session(SSL* ssl);

}  // namespace anteroom::bench
