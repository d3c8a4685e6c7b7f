#pragma once
// Certificates made in memory for TLS tests: no files in the tree, nothing that expires in the
// repository. Each call makes a fresh key (EC P-256 unless RSA is asked for) and a certificate
// valid from an hour ago for a day (or the validity given), and returns both as PEM.
//
//   auto leaf = make_test_certificate("localhost", {"localhost", "example.test"});
//   auto ca = make_test_ca("Test CA");
//   auto signed_leaf = make_test_certificate_signed_by(ca, "example.test", {"example.test"});
//   auto wrong_ca = make_test_ca("Some other CA");   // verifying signed_leaf against it fails
//
// Errors (OpenSSL failures, a malformed issuer PEM) throw std::runtime_error: test setup only.

#include <chrono>
#include <string>
#include <vector>

namespace anteroom::test {

struct test_certificate {
    std::string cert_pem;  // "-----BEGIN CERTIFICATE-----..."
    std::string key_pem;   // the private key, unencrypted PKCS#8 ("-----BEGIN PRIVATE KEY-----...")
};

enum class test_key_type { ec_p256, rsa_2048 };

// Everything the helpers below fill in; for the unusual cases (expired, IP addresses, a CA).
struct test_certificate_spec {
    std::string common_name;
    std::vector<std::string> dns_names;     // subjectAltName DNS entries
    std::vector<std::string> ip_addresses;  // subjectAltName IP entries: "127.0.0.1", "::1"
    test_key_type key = test_key_type::ec_p256;
    bool is_ca = false;  // basicConstraints CA:TRUE and keyCertSign instead of a server/client leaf
    std::chrono::seconds not_before{-3600};  // relative to now; negative is in the past
    std::chrono::seconds not_after{24 * 3600};
};

// Self-signed when `issuer` is null, else signed by issuer's key (with its subject as issuer).
test_certificate make_test_certificate(const test_certificate_spec& spec, const test_certificate* issuer = nullptr);

// A self-signed EC P-256 leaf for `common_name` with these subjectAltName DNS names.
test_certificate make_test_certificate(const std::string& common_name, const std::vector<std::string>& dns_names);

// The same with an RSA 2048 key.
test_certificate make_test_certificate_rsa(const std::string& common_name, const std::vector<std::string>& dns_names);

// A self-signed EC P-256 CA certificate (for chains and "wrong CA" tests).
test_certificate make_test_ca(const std::string& common_name);

// An EC P-256 leaf signed by `ca` (from make_test_ca, or any certificate and key in PEM).
test_certificate make_test_certificate_signed_by(const test_certificate& ca, const std::string& common_name,
                                                 const std::vector<std::string>& dns_names);

// Writes cert_pem and key_pem to these paths (the key with mode 0600); throws on failure.
void write_test_certificate(const test_certificate& c, const std::string& cert_path, const std::string& key_path);

}  // namespace anteroom::test
