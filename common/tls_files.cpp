#include "common/tls_files.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace anteroom {

namespace {

struct file_closer {
    void operator()(FILE* f) const { std::fclose(f); }
};
struct x509_free {
    void operator()(X509* x) const { X509_free(x); }
};
struct pkey_free {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct ctx_free {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

std::unique_ptr<FILE, file_closer> open_file(const std::string& file, std::string& err) {
    std::unique_ptr<FILE, file_closer> f(std::fopen(file.c_str(), "rb"));
    if (!f) {
        err = "cannot read " + file + ": " + std::strerror(errno);
    }
    return f;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

std::vector<std::string> names_of(X509* x) {
    std::vector<std::string> out;
    auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
    if (sans != nullptr) {
        for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
            const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
            if (g->type == GEN_DNS) {
                const auto* s = g->d.dNSName;
                out.push_back(lower(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                                static_cast<std::size_t>(ASN1_STRING_length(s)))));
            }
        }
        GENERAL_NAMES_free(sans);
    }
    if (out.empty()) {
        char cn[256];
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn) > 0) {
            out.push_back(lower(cn));
        }
    }
    return out;
}

}  // namespace

std::optional<certificate_info> inspect_certificate(const std::string& cert_file, const std::string& key_file,
                                                    std::string& err) {
    ERR_clear_error();
    auto cf = open_file(cert_file, err);
    if (!cf) {
        return std::nullopt;
    }
    std::unique_ptr<X509, x509_free> leaf(PEM_read_X509(cf.get(), nullptr, nullptr, nullptr));
    if (!leaf) {
        err = cert_file + ": no PEM certificate (" + openssl_error_text("not PEM") + ")";
        return std::nullopt;
    }
    auto kf = open_file(key_file, err);
    if (!kf) {
        return std::nullopt;
    }
    std::unique_ptr<EVP_PKEY, pkey_free> key(PEM_read_PrivateKey(kf.get(), nullptr, nullptr, nullptr));
    if (!key) {
        err = key_file + ": no PEM private key (" + openssl_error_text("not PEM") + ")";
        return std::nullopt;
    }
    if (X509_check_private_key(leaf.get(), key.get()) != 1) {
        ERR_clear_error();
        err = key_file + " is not the key of the certificate in " + cert_file;
        return std::nullopt;
    }
    certificate_info info;
    info.names = names_of(leaf.get());
    const char* type = EVP_PKEY_get0_type_name(key.get());
    info.key_type = type == nullptr ? "unknown" : (std::strcmp(type, "EC") == 0 ? "ECDSA" : type);
    return info;
}

bool check_ca_file(const std::string& file, std::string& err) {
    ERR_clear_error();
    auto f = open_file(file, err);
    if (!f) {
        return false;
    }
    std::unique_ptr<X509, x509_free> ca(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
    if (!ca) {
        err = file + ": no PEM certificate (" + openssl_error_text("not PEM") + ")";
        return false;
    }
    return true;
}

bool check_tls_list(tls_list which, const std::string& value, std::string& err) {
    std::unique_ptr<SSL_CTX, ctx_free> ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) {
        err = "OpenSSL: " + openssl_error_text();
        return false;
    }
    int ok = 0;
    switch (which) {
    case tls_list::ciphers:
        ok = SSL_CTX_set_cipher_list(ctx.get(), value.c_str());
        break;
    case tls_list::ciphersuites:
        ok = SSL_CTX_set_ciphersuites(ctx.get(), value.c_str());
        break;
    case tls_list::groups:
        ok = SSL_CTX_set1_groups_list(ctx.get(), value.c_str());
        break;
    }
    ERR_clear_error();
    if (ok != 1) {
        err = "OpenSSL does not accept \"" + value + "\"";
        return false;
    }
    return true;
}

std::string openssl_error_text(const char* none) {
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) {
        return none;
    }
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

bool tls_name_matches(std::string_view pattern, std::string_view host) {
    if (pattern.starts_with("*.")) {
        const auto dot = host.find('.');
        return dot != std::string_view::npos && dot != 0 && host.substr(dot) == pattern.substr(1);
    }
    return pattern == host;
}

}  // namespace anteroom
