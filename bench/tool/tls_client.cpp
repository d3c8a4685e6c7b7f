#include "bench/tool/tls_client.hpp"

#include <openssl/x509v3.h>

namespace anteroom::bench {

net::ssl::context make_client_context(const tls_client_options& o) {
    net::ssl::context ctx(net::ssl::context::tls_client);
    SSL_CTX* native = ctx.native_handle();
    const int min = o.version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
    const int max = o.version == "1.2" ? TLS1_2_VERSION : TLS1_3_VERSION;
    SSL_CTX_set_min_proto_version(native, min);
    SSL_CTX_set_max_proto_version(native, max);
    static constexpr unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(native, alpn, sizeof alpn - 1);
    // Sessions are kept per connection slot (take_session), not in the context's cache.
    SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
    if (o.cacert.empty()) {
        ctx.set_verify_mode(net::ssl::verify_none);
    } else {
        ctx.load_verify_file(o.cacert);
        ctx.set_verify_mode(net::ssl::verify_peer);
    }
    return ctx;
}

void prepare_handshake(SSL* ssl, const tls_client_options& o, const std::string& target_ip, SSL_SESSION* resume) {
    if (!o.sni.empty()) {
        SSL_set_tlsext_host_name(ssl, o.sni.c_str());
    }
    if (!o.cacert.empty()) {
        if (!o.sni.empty()) {
            SSL_set1_host(ssl, o.sni.c_str());
        } else {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), target_ip.c_str());
        }
    }
    if (resume != nullptr) {
        SSL_set_session(ssl, resume);
    }
}

tls_session_ptr take_session(SSL* ssl) {
    // The bench closes without waiting for the peer's close_notify; OpenSSL would then mark the
    // session bad (not resumable) when the SSL is freed. The exchange ended cleanly, so say so.
    SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    tls_session_ptr s(SSL_get1_session(ssl));
    if (s && SSL_SESSION_is_resumable(s.get()) == 0) {
        s.reset();
    }
    return s;
}

}  // namespace anteroom::bench
