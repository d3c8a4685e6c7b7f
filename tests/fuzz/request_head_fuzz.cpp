// Fuzz target: a client's request head on its way through the proxy, in the order the session
// (proxy/session.cpp) handles it: find_head_end, the RFC 9112 framing rules (proxy/http_rules),
// Beast's request parser with the session's limits (and the bytes behind the head fed as body,
// as the relay does), the client address walk and request id, the redirect listener's Location,
// path normalisation and room matching (admission), the cookie and query readers, bot
// detection's request facts, and the head rewrite for the upstream (proxy/headers).
//
// Properties checked (abort = a finding):
//   - path normalisation is idempotent: a normalised path normalises to itself ("one spelling");
//   - the head the proxy sends upstream passes its own framing rules: the rewrite must never
//     turn an accepted head into one a strict upstream would reject or read differently;
//   - an https_location is an https URL.

#include <array>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "admission/room_match.hpp"
#include "bot_detect/request_facts.hpp"
#include "common/config.hpp"
#include "proxy/headers.hpp"
#include "proxy/http_rules.hpp"
#include "tests/fuzz/fuzz_target.hpp"

namespace {

using namespace anteroom;

// Rooms as an operator writes them (one case-insensitive with an exclude, one case-sensitive)
// and trusted proxies, through the real config loader.
constexpr std::string_view fixture_toml = R"(
[server]
trusted_proxies = ["127.0.0.0/8", "10.0.0.0/8", "::1/128"]

[[room]]
id = "book"
paths = ["/book", "/Termine/"]
exclude = ["/book/static/"]
case_insensitive = true

[[room]]
id = "shop"
paths = ["/Shop"]
case_insensitive = false
)";

struct fixture {
    std::shared_ptr<const config> cfg;
    admission::room_matcher rooms;
    ip_address trusted_peer;
    ip_address untrusted_peer;
};

const fixture& the_fixture() {
    static const fixture f = [] {
        auto r = parse_config(fixture_toml, "request_head_fuzz.toml");
        if (!r.cfg) {
            std::abort();  // the fixture itself is broken
        }
        fixture out{r.cfg, admission::room_matcher(r.cfg->rooms), *parse_ip("10.1.2.3"), *parse_ip("203.0.113.9")};
        return out;
    }();
    return f;
}

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

// The bytes behind the head go into the parser as body, through a small buffer_body window,
// the way the session's relay reads a body (chunked framing and Content-Length handling).
void feed_body(http::request_parser<http::buffer_body>& parser, std::string_view rest) {
    std::array<char, 512> window;
    parser.body_limit(64 * 1024);
    for (int rounds = 0; !parser.is_done() && !rest.empty() && rounds < 4096; ++rounds) {
        parser.get().body().data = window.data();
        parser.get().body().size = window.size();
        beast::error_code ec;
        const auto used = parser.put(net::buffer(rest.data(), rest.size()), ec);
        if (ec == http::error::need_buffer) {
            ec = {};
        }
        if (ec) {
            return;
        }
        rest.remove_prefix(used);
        if (used == 0 && parser.get().body().size != 0) {
            return;  // needs more input than there is
        }
    }
}

void rooms_and_paths(const fixture& fx, const http::request_header<>& req, std::string_view path) {
    if (const auto norm = normalize_path(path)) {
        const auto again = normalize_path(*norm);
        check(again.has_value() && *again == *norm);
        (void)fx.rooms.match(*norm);
    }
    (void)query_param(req.target(), "room");
    (void)cookie_value(req, "anteroom_book");
    (void)cookie_value(req, "anteroom_clear");
}

void bot_facts(const http::request_header<>& req) {
    std::array<bot_detect::header_ref, 64> refs;
    std::size_t n = 0;
    for (const auto& field : req) {
        if (n == refs.size()) {
            break;
        }
        refs[n++] = {field.name_string(), field.value()};
    }
    (void)bot_detect::extract_facts(std::span(refs.data(), n));
}

// What proxy_request does to the head before it goes upstream.
void rewrite_for_upstream(http::request_parser<http::buffer_body>& parser, const ip_address& peer, bool trusted) {
    auto& req = parser.get();
    const bool upgrade = proxy::wants_upgrade(req);
    const std::string upgrade_value =
        upgrade ? std::string(proxy::field_value(req, http::field::upgrade)) : std::string();
    const bool chunked = parser.chunked();
    const auto host_field = proxy::find_field(req, http::field::host);
    const bool has_host = host_field != req.end();
    const std::string host(has_host ? std::string_view(host_field->value()) : std::string_view());
    const std::string codings = chunked ? proxy::inner_codings(req) : std::string();
    proxy::remove_hop_by_hop(req);
    proxy::erase_field(req, http::field::expect);
    std::string lines;
    const std::string id = proxy::new_request_id();
    proxy::add_forwarding_headers(req, proxy::forward_info{peer, trusted, false, host, "anteroom", req.version(), id},
                                  lines);
    req.version(11);
    if (chunked) {
        proxy::set_chunked(req, codings);
    } else if (const auto cl = parser.content_length()) {
        req.content_length(*cl);
    }
    if (upgrade) {
        req.set(http::field::upgrade, upgrade_value);
        req.set(http::field::connection, "upgrade");
    }
    // Once a server is chosen, the session gives a request without Host (HTTP/1.0) the server's
    // address, since it goes out as HTTP/1.1.
    if (!has_host) {
        req.set(http::field::host, "127.0.0.1:9001");
    }
    // Both ways the session writes a head: append_head with the added lines, and Beast's
    // serializer after insert_lines (a streamed body). They must agree, and be a valid head.
    std::string sent;
    proxy::append_head(sent, req.base(), lines);
    proxy::insert_lines(req, lines);
    std::ostringstream out;
    out << req.base();
    check(out.str() == sent);
    const auto verdict = proxy::check_request_head(sent, 1000);
    check(verdict.ok());
}

}  // namespace

ANTEROOM_FUZZ_TARGET(request_head) {
    const fixture& fx = the_fixture();
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const std::size_t max_header_size = fx.cfg->server.max_header_size;

    const std::size_t head_len = proxy::find_head_end(bytes);
    if (head_len == 0 || head_len > max_header_size) {
        return 0;  // the session waits for more, or answers 431
    }
    check(head_len <= bytes.size());
    const std::string_view head = bytes.substr(0, head_len);
    if (!proxy::check_request_head(head).ok()) {
        return 0;  // 400 and close
    }

    http::request_parser<http::buffer_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(max_header_size));
    parser.body_limit(boost::none);
    beast::error_code ec;
    const auto used = parser.put(net::buffer(head.data(), head.size()), ec);
    if (ec || used != head_len || !parser.is_header_done()) {
        return 0;  // 400
    }
    const auto& req = parser.get();
    const std::string_view path = proxy::path_of(req.target());

    // Both kinds of peer: a trusted proxy (X-Forwarded-For is walked) and a plain client.
    const auto& trusted = fx.cfg->server.trusted_proxies;
    (void)proxy::client_address(fx.trusted_peer, proxy::field_value(req, "X-Forwarded-For"), trusted);
    (void)proxy::client_address(fx.untrusted_peer, proxy::field_value(req, "X-Forwarded-For"), trusted);
    (void)proxy::is_valid_request_id(proxy::field_value(req, "X-Request-Id"));
    (void)req.keep_alive();

    for (const std::uint16_t port : {std::uint16_t{443}, std::uint16_t{8443}}) {
        if (const auto location = proxy::https_location(req[http::field::host], port, req.target())) {
            check(location->starts_with("https://"));
        }
    }

    rooms_and_paths(fx, req, path);
    bot_facts(req);

    const bool peer_is_trusted = (size & 1) != 0;  // a bit of the input picks the peer kind
    rewrite_for_upstream(parser, peer_is_trusted ? fx.trusted_peer : fx.untrusted_peer, peer_is_trusted);
    feed_body(parser, bytes.substr(head_len));
    return 0;
}
