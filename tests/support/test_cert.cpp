#include "tests/support/test_cert.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <stdexcept>

namespace anteroom::test {

namespace {

template <class T, void (*Free)(T*)>
struct openssl_free {
    void operator()(T* p) const { Free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_free<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, openssl_free<X509, X509_free>>;
using bio_ptr = std::unique_ptr<BIO, openssl_free<BIO, BIO_free_all>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, openssl_free<X509_EXTENSION, X509_EXTENSION_free>>;

[[noreturn]] void fail(const std::string& what) {
    std::string detail;
    if (const unsigned long e = ERR_get_error(); e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        detail = std::string(": ") + buf;
    }
    ERR_clear_error();
    throw std::runtime_error("make_test_certificate: " + what + detail);
}

template <class T>
T* check(T* p, const char* what) {
    if (p == nullptr) {
        fail(what);
    }
    return p;
}

void check(int ok, const char* what) {
    if (ok <= 0) {
        fail(what);
    }
}

pkey_ptr generate_key(test_key_type type) {
    return pkey_ptr(check(type == test_key_type::rsa_2048 ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256"), "key generation"));
}

pkey_ptr read_key(const std::string& pem) {
    bio_ptr bio(check(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), "BIO_new_mem_buf"));
    return pkey_ptr(check(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), "the issuer's key PEM"));
}

x509_ptr read_cert(const std::string& pem) {
    bio_ptr bio(check(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), "BIO_new_mem_buf"));
    return x509_ptr(check(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), "the issuer's certificate PEM"));
}

template <class Write>
std::string to_pem(Write write) {
    bio_ptr bio(check(BIO_new(BIO_s_mem()), "BIO_new"));
    check(write(bio.get()), "PEM write");
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

// One v3 extension from its OpenSSL config text ("critical,CA:TRUE", "DNS:a,IP:127.0.0.1").
void add_extension(X509* cert, X509V3_CTX& ctx, int nid, const std::string& value) {
    ext_ptr ext(check(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()), "X509V3_EXT_nconf_nid"));
    check(X509_add_ext(cert, ext.get(), -1), "X509_add_ext");
}

std::string subject_alt_names(const test_certificate_spec& spec) {
    std::string san;
    for (const auto& d : spec.dns_names) {
        san += (san.empty() ? "DNS:" : ",DNS:") + d;
    }
    for (const auto& ip : spec.ip_addresses) {
        san += (san.empty() ? "IP:" : ",IP:") + ip;
    }
    return san;
}

}  // namespace

test_certificate make_test_certificate(const test_certificate_spec& spec, const test_certificate* issuer) {
    const pkey_ptr key = generate_key(spec.key);
    x509_ptr cert(check(X509_new(), "X509_new"));
    check(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");
    unsigned char serial[16];
    check(RAND_bytes(serial, sizeof serial), "RAND_bytes");
    serial[0] &= 0x7F;  // a positive serial number
    BIGNUM* bn = check(BN_bin2bn(serial, sizeof serial, nullptr), "BN_bin2bn");
    ASN1_INTEGER* asn1_serial = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
    BN_free(bn);
    check(asn1_serial, "BN_to_ASN1_INTEGER");
    check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), static_cast<long>(spec.not_before.count())), "notBefore");
    check(X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(spec.not_after.count())), "notAfter");
    X509_NAME* name = X509_get_subject_name(cert.get());
    check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1, 0),
          "the common name");
    check(X509_set_pubkey(cert.get(), key.get()), "X509_set_pubkey");

    x509_ptr issuer_cert;
    pkey_ptr issuer_key;
    if (issuer != nullptr) {
        issuer_cert = read_cert(issuer->cert_pem);
        issuer_key = read_key(issuer->key_pem);
        check(X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert.get())), "X509_set_issuer_name");
    } else {
        check(X509_set_issuer_name(cert.get(), name), "X509_set_issuer_name");
    }
    X509* signer = issuer_cert ? issuer_cert.get() : cert.get();
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, signer, cert.get(), nullptr, nullptr, 0);
    add_extension(cert.get(), ctx, NID_subject_key_identifier, "hash");
    add_extension(cert.get(), ctx, NID_authority_key_identifier, "keyid:always");
    if (spec.is_ca) {
        add_extension(cert.get(), ctx, NID_basic_constraints, "critical,CA:TRUE");
        add_extension(cert.get(), ctx, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
    } else {
        add_extension(cert.get(), ctx, NID_basic_constraints, "critical,CA:FALSE");
        add_extension(cert.get(), ctx, NID_key_usage,
                      spec.key == test_key_type::rsa_2048 ? "critical,digitalSignature,keyEncipherment"
                                                          : "critical,digitalSignature");
        add_extension(cert.get(), ctx, NID_ext_key_usage, "serverAuth,clientAuth");
    }
    if (const auto san = subject_alt_names(spec); !san.empty()) {
        add_extension(cert.get(), ctx, NID_subject_alt_name, san);
    }
    check(X509_sign(cert.get(), issuer_key ? issuer_key.get() : key.get(), EVP_sha256()), "X509_sign");

    test_certificate out;
    out.cert_pem = to_pem([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
    out.key_pem = to_pem([&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    return out;
}

namespace {
test_certificate_spec leaf_spec(const std::string& common_name, const std::vector<std::string>& dns_names,
                                test_key_type key) {
    test_certificate_spec spec;
    spec.common_name = common_name;
    spec.dns_names = dns_names;
    spec.key = key;
    return spec;
}
}  // namespace

test_certificate make_test_certificate(const std::string& common_name, const std::vector<std::string>& dns_names) {
    return make_test_certificate(leaf_spec(common_name, dns_names, test_key_type::ec_p256));
}

test_certificate make_test_certificate_rsa(const std::string& common_name, const std::vector<std::string>& dns_names) {
    return make_test_certificate(leaf_spec(common_name, dns_names, test_key_type::rsa_2048));
}

test_certificate make_test_ca(const std::string& common_name) {
    auto spec = leaf_spec(common_name, {}, test_key_type::ec_p256);
    spec.is_ca = true;
    return make_test_certificate(spec);
}

test_certificate make_test_certificate_signed_by(const test_certificate& ca, const std::string& common_name,
                                                 const std::vector<std::string>& dns_names) {
    return make_test_certificate(leaf_spec(common_name, dns_names, test_key_type::ec_p256), &ca);
}

void write_test_certificate(const test_certificate& c, const std::string& cert_path, const std::string& key_path) {
    auto write = [](const std::string& path, const std::string& text, bool secret) {
        std::ofstream out(path, std::ios::trunc | std::ios::binary);
        out << text;
        out.close();
        if (!out || (secret && ::chmod(path.c_str(), 0600) != 0)) {
            throw std::runtime_error("write_test_certificate: cannot write '" + path + "'");
        }
    };
    write(cert_path, c.cert_pem, false);
    write(key_path, c.key_pem, true);
}

}  // namespace anteroom::test
