// The certificates tests/support/test_cert makes: key types, names, and chains that OpenSSL's
// own verifier accepts or rejects as the TLS tests expect.

#include "tests/support/test_cert.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>

namespace anteroom::test {

namespace {

struct x509_free {
    void operator()(X509* x) const { X509_free(x); }
};
using x509_ptr = std::unique_ptr<X509, x509_free>;

x509_ptr parse_cert(const std::string& pem) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    return x509_ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

int key_type_of(const test_certificate& c) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(c.key_pem.data(), static_cast<int>(c.key_pem.size())),
                                                  BIO_free);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr),
                                                            EVP_PKEY_free);
    return key ? EVP_PKEY_get_base_id(key.get()) : 0;
}

// X509_verify_cert of `leaf` against `anchor` as the only trusted certificate; the error code.
int verify(const test_certificate& leaf, const test_certificate& anchor, const std::string& host = "") {
    auto cert = parse_cert(leaf.cert_pem);
    auto trusted = parse_cert(anchor.cert_pem);
    std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
    X509_STORE_add_cert(store.get(), trusted.get());
    std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
    X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr);
    X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
    if (!host.empty()) {
        X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx.get()), host.c_str(), 0);
    }
    X509_verify_cert(ctx.get());
    return X509_STORE_CTX_get_error(ctx.get());
}

}  // namespace

TEST(TestCertificate, SelfSignedLeavesCarryTheirNamesAndKeyType) {
    const auto ec = make_test_certificate("shop.test", {"shop.test", "www.shop.test"});
    EXPECT_TRUE(ec.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    EXPECT_TRUE(ec.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    EXPECT_EQ(key_type_of(ec), EVP_PKEY_EC);
    auto cert = parse_cert(ec.cert_pem);
    ASSERT_TRUE(cert);
    EXPECT_EQ(X509_check_host(cert.get(), "www.shop.test", 0, 0, nullptr), 1);
    EXPECT_EQ(X509_check_host(cert.get(), "other.test", 0, 0, nullptr), 0);
    EXPECT_EQ(verify(ec, ec, "shop.test"), X509_V_OK);  // trusted as itself

    const auto rsa = make_test_certificate_rsa("shop.test", {"shop.test"});
    EXPECT_EQ(key_type_of(rsa), EVP_PKEY_RSA);
    EXPECT_EQ(verify(rsa, rsa, "shop.test"), X509_V_OK);
    EXPECT_NE(make_test_certificate("shop.test", {"shop.test"}).key_pem, ec.key_pem);  // a fresh key each time
}

TEST(TestCertificate, ChainsVerifyAgainstTheirCaOnly) {
    const auto ca = make_test_ca("Test CA");
    const auto leaf = make_test_certificate_signed_by(ca, "shop.test", {"shop.test"});
    EXPECT_EQ(verify(leaf, ca, "shop.test"), X509_V_OK);
    EXPECT_EQ(verify(leaf, ca, "other.test"), X509_V_ERR_HOSTNAME_MISMATCH);
    EXPECT_EQ(verify(leaf, make_test_ca("Test CA")), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);  // same name, other key
    EXPECT_NE(verify(leaf, leaf), X509_V_OK);  // a leaf is no CA
}

TEST(TestCertificate, SpecCoversIpAddressesAndValidity) {
    test_certificate_spec spec;
    spec.common_name = "loopback";
    spec.ip_addresses = {"127.0.0.1", "::1"};
    const auto by_ip = make_test_certificate(spec);
    auto cert = parse_cert(by_ip.cert_pem);
    EXPECT_EQ(X509_check_ip_asc(cert.get(), "::1", 0), 1);
    EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.2", 0), 0);

    spec.not_before = std::chrono::hours(-48);
    spec.not_after = std::chrono::hours(-24);
    const auto expired = make_test_certificate(spec);
    EXPECT_EQ(verify(expired, expired), X509_V_ERR_CERT_HAS_EXPIRED);
    EXPECT_THROW(make_test_certificate_signed_by({"not a pem", "nor this"}, "x", {}), std::runtime_error);
}

}  // namespace anteroom::test
