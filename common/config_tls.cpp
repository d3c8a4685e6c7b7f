// [tls] and its [[tls.certificate]] tables, and the TLS keys of [[upstream]]. The certificate
// files are opened and checked here, so `anteroom check-config`, a start and a reload all
// reject a missing, unreadable or mismatched certificate with file:line before anything runs.
// docs/configuration.md documents every key read here; keep the two in step.

#include <algorithm>
#include <chrono>

#include "common/config_room.hpp"
#include "common/tls_files.hpp"

namespace anteroom::config_detail {

namespace {

using namespace std::chrono_literals;

constexpr std::size_t max_certificates = 256;

constexpr std::pair<std::string_view, tls_version> version_names[] = {
    {"1.2", tls_version::v1_2},
    {"1.3", tls_version::v1_3},
};

bool valid_dns_pattern(std::string_view name) {
    if (name.starts_with("*.")) {
        name.remove_prefix(2);
    }
    if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.') {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    });
}

void read_certificate(table_reader& r, tls_certificate_config& c, const std::string& file, const std::string& key) {
    c.origin = file + ":" + std::to_string(r.line()) + ": " + key;
    const auto* cert = r.required("cert");
    const auto* key_node = r.required("key");
    r.read("cert", c.cert_file);
    r.read("key", c.key_file);
    if (const auto* n = r.optional("names")) {
        if (const auto* arr = get_array(r.sink(), *n, r.key("names"))) {
            for (std::size_t i = 0; i < arr->size(); ++i) {
                const auto k = r.key("names") + "[" + std::to_string(i) + "]";
                if (auto v = get_string(r.sink(), (*arr)[i], k)) {
                    std::transform(v->begin(), v->end(), v->begin(),
                                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
                    if (!valid_dns_pattern(*v)) {
                        r.sink().add((*arr)[i], k,
                                     "must be a DNS name, optionally starting with \"*.\", got " + quoted(*v));
                        continue;
                    }
                    c.names.push_back(std::move(*v));
                }
            }
        }
    }
    r.read("default", c.is_default);
    r.finish();
    if (cert == nullptr || key_node == nullptr || c.cert_file.empty() || c.key_file.empty()) {
        return;
    }
    std::string err;
    const auto info = inspect_certificate(c.cert_file, c.key_file, err);
    if (!info) {
        r.sink().add(*cert, r.key("cert"), err);
        return;
    }
    if (c.names.empty()) {
        c.names = info->names;
        if (c.names.empty()) {
            r.sink().add(*cert, r.key("cert"),
                         c.cert_file + " names no host (no subjectAltName DNS name or common name); list them in names");
        }
    }
}

void read_tls_list(table_reader& r, std::string_view name, tls_list which, std::string& out) {
    if (const auto* n = r.optional(name)) {
        if (auto v = get_string(r.sink(), *n, r.key(name))) {
            std::string err;
            if (!check_tls_list(which, *v, err)) {
                r.sink().add(*n, r.key(name), err);
                return;
            }
            out = std::move(*v);
        }
    }
}

}  // namespace

void read_tls(table_reader& r, tls_config& t, const std::string& file) {
    if (const auto* n = r.optional("certificate")) {
        const auto key = r.key("certificate");
        const auto* arr = n->as_array();
        if (arr == nullptr || arr->empty()) {
            r.sink().add(*n, key, "expected one or more [[" + key + "]] tables");
        } else if (arr->size() > max_certificates) {
            r.sink().add(*n, key, "must list at most " + std::to_string(max_certificates) + " certificates");
        } else {
            for (std::size_t i = 0; i < arr->size(); ++i) {
                const auto ckey = key + "[" + std::to_string(i) + "]";
                if (const auto* tb = get_table(r.sink(), (*arr)[i], ckey)) {
                    table_reader cr(r.sink(), *tb, ckey);
                    read_certificate(cr, t.certificates.emplace_back(), file, ckey);
                }
            }
            const auto defaults = std::count_if(t.certificates.begin(), t.certificates.end(),
                                                [](const tls_certificate_config& c) { return c.is_default; });
            if (defaults > 1) {
                r.sink().add(*n, key, "at most one certificate can be the default");
            }
        }
    }
    r.read_enum("min_version", t.min_version, enum_names<tls_version>(version_names));
    read_tls_list(r, "ciphers", tls_list::ciphers, t.ciphers);
    read_tls_list(r, "ciphersuites", tls_list::ciphersuites, t.ciphersuites);
    read_tls_list(r, "groups", tls_list::groups, t.groups);
    r.read("session_tickets", t.session_tickets);
    r.read("ticket_key_rotation", t.ticket_key_rotation, 1min, 7 * 24h);
    r.read_integer("session_cache_size", t.session_cache_size, 0, 10'000'000);
    r.read("session_timeout", t.session_timeout, 1s, 7 * 24h);
    r.read("handshake_timeout", t.handshake_timeout, 1ms, 10min);
    r.read("hsts_max_age", t.hsts_max_age, 0ms, 2 * 365 * 24h);
    r.read("hsts_include_subdomains", t.hsts_include_subdomains);
    r.read_integer("redirect_port", t.redirect_port, 0, 65535);
    r.finish();
}

void read_upstream_tls(table_reader& r, upstream_config& u) {
    r.read("tls", u.tls);
    r.read("tls_verify", u.tls_verify);
    if (const auto* n = r.optional("tls_ca_file")) {
        if (auto v = get_string(r.sink(), *n, r.key("tls_ca_file"))) {
            std::string err;
            if (!check_ca_file(*v, err)) {
                r.sink().add(*n, r.key("tls_ca_file"), err);
            } else {
                u.tls_ca_file = std::move(*v);
            }
        }
    }
    if (const auto* n = r.optional("tls_server_name")) {
        if (auto v = get_string(r.sink(), *n, r.key("tls_server_name"))) {
            if (!valid_dns_pattern(*v) || v->starts_with("*.")) {
                r.sink().add(*n, r.key("tls_server_name"), "must be a DNS name, got " + quoted(*v));
            } else {
                u.tls_server_name = std::move(*v);
            }
        }
    }
}

}  // namespace anteroom::config_detail
