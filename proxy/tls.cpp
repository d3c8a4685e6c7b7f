#include "proxy/tls.hpp"

#include <algorithm>
#include <cstring>

#include <boost/asio/ssl/context.hpp>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/tls_files.hpp"

namespace anteroom::proxy {

namespace ssl = boost::asio::ssl;

namespace {

// Every context of one tls_server carries the same session id context, or a session made under
// one certificate could not be resumed after SNI switched to another (OpenSSL copies it with
// SSL_set_SSL_CTX).
constexpr unsigned char session_id_context[] = "anteroom";

int ticket_keys_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

// OpenSSL's session ticket callback (RFC 5077 layout: key name, IV, AES-256-CBC, HMAC-SHA256).
int ticket_callback(SSL* s, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cctx,
                    EVP_MAC_CTX* hctx, int enc) {
    auto* keys = static_cast<ticket_keys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), ticket_keys_index()));
    if (keys == nullptr) {
        return -1;
    }
    ticket_keys::key k;
    int result = 1;
    if (enc == 1) {
        k = keys->current();
        if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) {
            return -1;
        }
        std::memcpy(key_name, k.name, sizeof k.name);
        if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), nullptr, k.aes, iv) != 1) {
            return -1;
        }
    } else {
        bool is_current = false;
        if (!keys->find(key_name, k, is_current)) {
            return 0;  // unknown or expired key: a full handshake, then a new ticket
        }
        if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), nullptr, k.aes, iv) != 1) {
            return -1;
        }
        // 2: accepted, and a new ticket is sent (under the current key). Always under TLS 1.3:
        // its tickets are meant for one use (RFC 8446 §C.4), and a client that resumed and got
        // none has nothing to offer next time: OpenSSL's client (wrk, curl) then falls back to
        // a full handshake on every other connection. nginx renews under TLS 1.3 as well.
        result = is_current && SSL_version(s) != TLS1_3_VERSION ? 1 : 2;
    }
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac, sizeof k.hmac),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_CTX_set_params(hctx, params) != 1) {
        return -1;
    }
    return result;
}

// ALPN: http/1.1 when the client offers it; a client that offers only protocols we do not
// speak (h2 alone) gets no ALPN answer and may carry on or give up.
int alpn_callback(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                  void*) {
    static constexpr unsigned char ours[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, ours, sizeof ours, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

// ----- ticket_keys

ticket_keys::ticket_keys(clock now) : now_(std::move(now)) {}

void ticket_keys::set_rotation(std::chrono::milliseconds r) {
    std::lock_guard lock(mu_);
    rotation_ = r;
}

void ticket_keys::rotate_locked(std::chrono::steady_clock::time_point now) {
    entry e;
    RAND_bytes(e.k.name, sizeof e.k.name);
    RAND_bytes(e.k.aes, sizeof e.k.aes);
    RAND_bytes(e.k.hmac, sizeof e.k.hmac);
    e.made = now;
    keys_.insert(keys_.begin(), e);
    if (keys_.size() > 3) {
        OPENSSL_cleanse(&keys_.back().k, sizeof(key));
        keys_.pop_back();
    }
    ++rotations_;
}

ticket_keys::key ticket_keys::current() {
    std::lock_guard lock(mu_);
    const auto now = now_();
    if (keys_.empty() || now - keys_.front().made >= rotation_) {
        rotate_locked(now);
    }
    return keys_.front().k;
}

bool ticket_keys::find(const unsigned char* name, key& out, bool& is_current) {
    std::lock_guard lock(mu_);
    const auto now = now_();
    for (std::size_t i = 0; i < keys_.size(); ++i) {
        if (std::memcmp(keys_[i].k.name, name, sizeof keys_[i].k.name) != 0) {
            continue;
        }
        // A key encrypts for one period and decrypts for two more.
        const auto age = now - keys_[i].made;
        if (age >= rotation_ * 3) {
            return false;
        }
        out = keys_[i].k;
        is_current = i == 0 && age < rotation_;
        return true;
    }
    return false;
}

std::size_t ticket_keys::rotations() const {
    std::lock_guard lock(mu_);
    return rotations_;
}

// ----- tls_server

struct tls_server::impl {
    struct entry {
        std::unique_ptr<ssl::context> ctx;
        std::vector<std::string> names;
    };
    std::vector<entry> entries;  // [0] is the default
    std::shared_ptr<ticket_keys> keys;

    const entry* find(std::string_view host) const {
        for (const auto& e : entries) {
            for (const auto& n : e.names) {
                if (n == host) {
                    return &e;
                }
            }
        }
        for (const auto& e : entries) {
            for (const auto& n : e.names) {
                if (n.starts_with("*.") && tls_name_matches(n, host)) {
                    return &e;
                }
            }
        }
        return nullptr;
    }

    static int servername_callback(SSL* s, int*, void* arg) {
        const auto* self = static_cast<const impl*>(arg);
        const char* name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
        if (name == nullptr) {
            return SSL_TLSEXT_ERR_OK;  // no SNI: the default certificate
        }
        std::string host(name);
        std::transform(host.begin(), host.end(), host.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        const entry* e = self->find(host);
        if (e != nullptr && e != &self->entries.front()) {
            SSL_set_SSL_CTX(s, e->ctx->native_handle());
        }
        return SSL_TLSEXT_ERR_OK;
    }
};

tls_server::~tls_server() = default;

std::shared_ptr<const tls_server> tls_server::build(const tls_config& cfg, std::shared_ptr<ticket_keys> keys,
                                                    std::string& err) {
    std::shared_ptr<tls_server> out(new tls_server());
    out->impl_ = std::make_unique<impl>();
    auto& d = *out->impl_;
    d.keys = std::move(keys);
    d.keys->set_rotation(cfg.ticket_key_rotation);
    ERR_clear_error();

    // Certificates with the same names share one context (an ECDSA and an RSA certificate for
    // one site: OpenSSL picks by what the client supports). The default goes first.
    std::vector<const tls_certificate_config*> order;
    for (const auto& c : cfg.certificates) {
        if (c.is_default) {
            order.insert(order.begin(), &c);
        } else {
            order.push_back(&c);
        }
    }
    for (const auto* c : order) {
        auto sorted = c->names;
        std::sort(sorted.begin(), sorted.end());
        auto same = std::find_if(d.entries.begin(), d.entries.end(), [&](const impl::entry& e) {
            auto n = e.names;
            std::sort(n.begin(), n.end());
            return n == sorted;
        });
        ssl::context* ctx = nullptr;
        if (same != d.entries.end()) {
            ctx = same->ctx.get();
        } else {
            auto made = std::make_unique<ssl::context>(ssl::context::tls_server);
            SSL_CTX* h = made->native_handle();
            SSL_CTX_set_min_proto_version(h, cfg.min_version == tls_version::v1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
            SSL_CTX_set_options(h, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                       SSL_OP_SINGLE_ECDH_USE);
            if (!cfg.session_tickets) {
                SSL_CTX_set_options(h, SSL_OP_NO_TICKET);
            }
            SSL_CTX_set_mode(h, SSL_MODE_RELEASE_BUFFERS);
            if (SSL_CTX_set_cipher_list(h, cfg.ciphers.c_str()) != 1 ||
                SSL_CTX_set_ciphersuites(h, cfg.ciphersuites.c_str()) != 1 ||
                SSL_CTX_set1_groups_list(h, cfg.groups.c_str()) != 1) {
                err = c->origin + ": the cipher or group settings: " + openssl_error_text();
                return nullptr;
            }
            SSL_CTX_set_session_id_context(h, session_id_context, sizeof session_id_context - 1);
            SSL_CTX_set_session_cache_mode(h, cfg.session_cache_size == 0 ? SSL_SESS_CACHE_OFF : SSL_SESS_CACHE_SERVER);
            if (cfg.session_cache_size != 0) {
                SSL_CTX_sess_set_cache_size(h, static_cast<long>(cfg.session_cache_size));
            }
            SSL_CTX_set_timeout(h, static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(cfg.session_timeout).count()));
            SSL_CTX_set_ex_data(h, ticket_keys_index(), d.keys.get());
            SSL_CTX_set_tlsext_ticket_key_evp_cb(h, ticket_callback);
            SSL_CTX_set_alpn_select_cb(h, alpn_callback, nullptr);
            d.entries.push_back({std::move(made), c->names});
            ctx = d.entries.back().ctx.get();
        }
        SSL_CTX* h = ctx->native_handle();
        if (SSL_CTX_use_certificate_chain_file(h, c->cert_file.c_str()) != 1) {
            err = c->origin + ": " + c->cert_file + ": " + openssl_error_text();
            return nullptr;
        }
        if (SSL_CTX_use_PrivateKey_file(h, c->key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(h) != 1) {
            err = c->origin + ": " + c->key_file + ": " + openssl_error_text();
            return nullptr;
        }
    }
    if (d.entries.empty()) {
        err = "tls: no certificate configured";
        return nullptr;
    }
    // The SNI callback runs on the context a handshake starts with: the default one.
    SSL_CTX* first = d.entries.front().ctx->native_handle();
    SSL_CTX_set_tlsext_servername_callback(first, &impl::servername_callback);
    SSL_CTX_set_tlsext_servername_arg(first, out->impl_.get());
    return out;
}

ssl::context& tls_server::context() const {
    return *impl_->entries.front().ctx;
}

std::size_t tls_server::certificate_count() const {
    return impl_->entries.size();
}

// ----- upstream

std::shared_ptr<ssl::context> make_upstream_tls(const upstream_config& u, std::string& err) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX* h = ctx->native_handle();
    SSL_CTX_set_min_proto_version(h, TLS1_2_VERSION);
    SSL_CTX_set_mode(h, SSL_MODE_RELEASE_BUFFERS);
    static constexpr unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_CTX_set_alpn_protos(h, alpn, sizeof alpn);
    if (!u.tls_verify) {
        SSL_CTX_set_verify(h, SSL_VERIFY_NONE, nullptr);
        return ctx;
    }
    SSL_CTX_set_verify(h, SSL_VERIFY_PEER, nullptr);
    const int ok = u.tls_ca_file.empty() ? SSL_CTX_set_default_verify_paths(h)
                                         : SSL_CTX_load_verify_locations(h, u.tls_ca_file.c_str(), nullptr);
    if (ok != 1) {
        err = "upstream " + u.name + ": tls_ca_file " + u.tls_ca_file + ": " + openssl_error_text();
        return nullptr;
    }
    return ctx;
}

bool prepare_upstream_ssl(SSL* s, const upstream_config& u, const listen_address& server) {
    if (!u.tls_server_name.empty()) {
        if (SSL_set_tlsext_host_name(s, u.tls_server_name.c_str()) != 1) {
            return false;
        }
        if (u.tls_verify && SSL_set1_host(s, u.tls_server_name.c_str()) != 1) {
            return false;
        }
        return true;
    }
    // No name: no SNI (an IP address is not a valid SNI), and the certificate must name the IP.
    if (u.tls_verify) {
        X509_VERIFY_PARAM* p = SSL_get0_param(s);
        return X509_VERIFY_PARAM_set1_ip_asc(p, server.host.c_str()) == 1;
    }
    return true;
}

}  // namespace anteroom::proxy
