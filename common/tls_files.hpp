#pragma once
// What the config loader checks about TLS material before anything starts: the certificate
// chain and key files (readable, PEM, the key belongs to the certificate), the names a
// certificate serves, CA files, and OpenSSL's acceptance of the cipher and group lists. The
// proxy builds its contexts from the same files later (proxy/tls.cpp).

#include <optional>
#include <string>
#include <vector>

namespace anteroom {

struct certificate_info {
    std::vector<std::string> names;  // subjectAltName DNS names, else the subject CN; lower case
    std::string key_type;            // "ECDSA", "RSA", "Ed25519", ...
};

// On failure returns nullopt and a message without the file prefix ("cannot read ...: ...").
std::optional<certificate_info> inspect_certificate(const std::string& cert_file, const std::string& key_file,
                                                    std::string& err);
// A PEM file with at least one CA certificate.
bool check_ca_file(const std::string& file, std::string& err);

enum class tls_list { ciphers, ciphersuites, groups };
// Whether OpenSSL accepts the list (and it selects something).
bool check_tls_list(tls_list which, const std::string& value, std::string& err);

// OpenSSL's oldest queued error as text (and the queue cleared); `none` when it is empty.
std::string openssl_error_text(const char* none = "unknown OpenSSL error");

// "*.example.org" matches "a.example.org" (one label), exact names match themselves; lower case.
bool tls_name_matches(std::string_view pattern, std::string_view host);

}  // namespace anteroom
