#pragma once
// TLS contexts built from [tls] and [[upstream]]: the server side with one OpenSSL context per
// certificate (chosen by SNI, exact and wildcard names, with a default), ALPN http/1.1, the
// intermediate cipher/group policy, a TLS 1.2 session cache and session tickets whose keys are
// shared by every worker thread and rotated on a schedule; and client contexts for upstreams
// that speak TLS. Built off the I/O threads, immutable afterwards, swapped whole on reload.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/config.hpp"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX
struct ssl_st;

namespace boost::asio::ssl {
class context;
}

namespace anteroom::proxy {

// Session-ticket keys (name, AES-256-CBC key, HMAC-SHA256 key), process-wide so that a reload
// does not end every resumable session. A new key is made every `rotation`; the two before it
// still decrypt (a ticket they decrypt is renewed with the current key). Thread-safe.
class ticket_keys {
public:
    using clock = std::function<std::chrono::steady_clock::time_point()>;
    explicit ticket_keys(clock now = [] { return std::chrono::steady_clock::now(); });

    struct key {
        unsigned char name[16];
        unsigned char aes[32];
        unsigned char hmac[32];
    };
    void set_rotation(std::chrono::milliseconds r);
    // The key to encrypt a new ticket with (rotating first when it is due).
    key current();
    // The key named `name`, and whether it is the current one; false when unknown or expired.
    bool find(const unsigned char* name, key& out, bool& is_current);
    std::size_t rotations() const;

private:
    void rotate_locked(std::chrono::steady_clock::time_point now);

    clock now_;
    mutable std::mutex mu_;
    std::chrono::milliseconds rotation_{std::chrono::hours(1)};
    struct entry {
        key k;
        std::chrono::steady_clock::time_point made;
    };
    std::vector<entry> keys_;  // newest first, at most 3
    std::size_t rotations_ = 0;
};

class tls_server {
public:
    ~tls_server();
    tls_server(const tls_server&) = delete;
    tls_server& operator=(const tls_server&) = delete;

    // Null with `err` ("<origin>: <what>") when a file or setting is refused.
    static std::shared_ptr<const tls_server> build(const tls_config& cfg, std::shared_ptr<ticket_keys> keys,
                                                   std::string& err);

    // The context every handshake starts with (the default certificate); the SNI callback
    // switches to the certificate the client asked for.
    boost::asio::ssl::context& context() const;
    std::size_t certificate_count() const;

private:
    tls_server() = default;
    struct impl;
    std::unique_ptr<impl> impl_;
};

// The client context for an upstream with tls = true: peer verification against tls_ca_file
// (or the system's trust store) unless tls_verify = false; TLS 1.2+.
std::shared_ptr<boost::asio::ssl::context> make_upstream_tls(const upstream_config& u, std::string& err);
// Prepares a new upstream connection's SSL object: SNI and the name to verify are
// tls_server_name, or the server's address when it is empty (checked as an IP address).
bool prepare_upstream_ssl(ssl_st* ssl, const upstream_config& u, const listen_address& server);

}  // namespace anteroom::proxy
