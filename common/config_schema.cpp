// The anteroom config schema: which keys exist, their types, ranges and defaults, and the
// checks that span sections (route -> upstream, unique names, listener clashes).
// docs/configuration.md documents every key read here; keep the two in step.

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/config_reader.hpp"
#include "common/config_room.hpp"
#include "common/keyfile.hpp"

namespace anteroom {

namespace config_detail {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t TiB = 1024 * 1024 * MiB;
constexpr std::size_t max_name_length = 64;

constexpr std::pair<std::string_view, balance_policy> balance_names[] = {
    {"round_robin", balance_policy::round_robin},
    {"least_outstanding", balance_policy::least_outstanding},
};

constexpr std::pair<std::string_view, log_level> level_names[] = {
    {"debug", log_level::debug},
    {"info", log_level::info},
    {"warn", log_level::warn},
    {"error", log_level::error},
};

// Where the cross-section checks should point when they find a problem.
struct upstream_source {
    std::string key;              // "upstream[1]", or "upstream" for a single [upstream] table
    std::uint32_t name_line = 0;  // 0: the name is missing or invalid
};

struct route_source {
    std::string key;               // "route[2]"
    std::uint32_t prefix_line = 0;  // 0: the prefix is missing or invalid
    std::uint32_t upstream_line = 0;
};

std::string indexed(const std::string& key, std::size_t i) {
    return key + "[" + std::to_string(i) + "]";
}

// RFC 9110 token characters: server_name goes into the Via header verbatim.
bool is_token_char(char c) {
    static constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           specials.find(c) != std::string_view::npos;
}

// Upstream names end up in logs and metric labels, so keep them plain.
bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

bool is_wildcard(const std::string& host) {
    return host == "0.0.0.0" || host == "::";
}

bool is_v4(const std::string& host) {
    return host.find(':') == std::string::npos;
}

// Two listeners on one port collide when one of them is a wildcard of a family the other is in.
// Port 0 lets the kernel pick a free port, so it never collides.
bool listeners_clash(const listen_address& a, const listen_address& b) {
    if (a.port != b.port || a.port == 0) {
        return false;
    }
    if (a.host == b.host || a.host == "::" || b.host == "::") {
        return true;
    }
    return (is_wildcard(a.host) || is_wildcard(b.host)) && is_v4(a.host) == is_v4(b.host);
}

// One listener: "host:port", or a table { address = "host:port", tls = true } (TLS) or
// { address = "host:port", redirect_https = true } (answers with a redirect to https://).
std::optional<listener_config> read_listener(error_sink& sink, const toml::node& n, const std::string& key) {
    const auto* t = n.as_table();
    if (t == nullptr) {
        if (!n.is_string()) {
            sink.add(n, key,
                     "expected an address string or a table { address = \"...\", tls = true }, got " +
                         std::string(type_name(n.type())));
            return std::nullopt;
        }
        const auto a = get_address(sink, n, key, port_zero::allowed);
        return a ? std::optional<listener_config>(listener_config{*a, listener_kind::plain}) : std::nullopt;
    }
    table_reader r(sink, *t, key);
    std::optional<listener_config> out;
    if (const auto* a = r.required("address")) {
        if (const auto v = get_address(sink, *a, r.key("address"), port_zero::allowed)) {
            out = listener_config{*v, listener_kind::plain};
        }
    }
    bool tls = false;
    bool redirect = false;
    r.read("tls", tls);
    r.read("redirect_https", redirect);
    r.finish();
    if (tls && redirect) {
        sink.add(n, key, "a listener cannot both speak TLS and redirect to it (tls and redirect_https)");
        return std::nullopt;
    }
    if (out) {
        out->kind = tls ? listener_kind::tls : redirect ? listener_kind::redirect : listener_kind::plain;
    }
    return out;
}

// An array of at least one listener, each address once. Returns the line of the array, 0 if absent.
std::uint32_t read_listeners(table_reader& r, std::string_view name, std::vector<listener_config>& out) {
    const auto* n = r.optional(name);
    if (n == nullptr) {
        return 0;
    }
    const auto key = r.key(name);
    const auto* arr = get_array(r.sink(), *n, key);
    if (arr == nullptr) {
        return n->source().begin.line;
    }
    if (arr->empty()) {
        r.sink().add(*n, key, "must list at least one address");
    }
    std::vector<listener_config> list;
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const auto& el = (*arr)[i];
        const auto l = read_listener(r.sink(), el, indexed(key, i));
        if (!l) {
            continue;
        }
        const bool dup = l->address.port != 0 && std::any_of(list.begin(), list.end(), [&](const listener_config& o) {
                             return o.address == l->address;
                         });
        if (dup) {
            r.sink().add(el, indexed(key, i), "duplicate address " + l->address.text());
            continue;
        }
        list.push_back(*l);
    }
    out = std::move(list);
    return n->source().begin.line;
}

void read_trusted_proxies(table_reader& r, std::vector<cidr>& out) {
    const auto* n = r.optional("trusted_proxies");
    if (n == nullptr) {
        return;
    }
    const auto key = r.key("trusted_proxies");
    const auto* arr = get_array(r.sink(), *n, key);
    if (arr == nullptr) {
        return;
    }
    std::vector<cidr> list;
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const auto& el = (*arr)[i];
        const auto text = get_string(r.sink(), el, indexed(key, i));
        if (!text) {
            continue;
        }
        const auto c = parse_cidr(*text);
        if (!c) {
            r.sink().add(el, indexed(key, i),
                         "invalid CIDR " + quoted(*text) + "; expected e.g. \"10.0.0.0/8\", \"::1/128\" or \"192.0.2.7\"");
            continue;
        }
        list.push_back(*c);
    }
    out = std::move(list);
}

std::uint32_t read_server(table_reader& r, server_config& s) {
    const auto listen_line = read_listeners(r, "listen", s.listen);
    r.read_integer("threads", s.threads, 0, 256);
    r.read("reuse_port", s.reuse_port);
    r.read_integer("max_connections", s.max_connections, 1, 1'000'000);
    r.read_size("max_header_size", s.max_header_size, 1 * KiB, 1 * MiB);
    r.read_size("max_body_size", s.max_body_size, 1, 1 * TiB);
    r.read_integer("max_requests_per_connection", s.max_requests_per_connection, 1, 10'000'000);
    r.read("header_read_timeout", s.header_read_timeout, 1ms, 1h);
    r.read("idle_timeout", s.idle_timeout, 1ms, 1h);
    r.read("body_timeout", s.body_timeout, 1ms, 1h);
    r.read_size("body_min_rate", s.body_min_rate, 0, 1024 * MiB);
    r.read("drain_timeout", s.drain_timeout, 0ms, 10min);
    read_trusted_proxies(r, s.trusted_proxies);
    if (const auto* n = r.optional("server_name")) {
        if (auto v = get_string(r.sink(), *n, r.key("server_name"))) {
            if (v->empty() || v->size() > max_name_length || !std::all_of(v->begin(), v->end(), is_token_char)) {
                r.sink().add(*n, r.key("server_name"),
                             "must be 1 to 64 token characters (letters, digits, !#$%&'*+-.^_`|~), got " + quoted(*v));
            } else {
                s.server_name = std::move(*v);
            }
        }
    }
    r.finish();
    return listen_line;
}

void read_upstream_servers(table_reader& r, upstream_config& u) {
    const auto* n = r.required("servers");
    if (n == nullptr) {
        return;
    }
    const auto key = r.key("servers");
    const auto* arr = get_array(r.sink(), *n, key);
    if (arr == nullptr) {
        return;
    }
    if (arr->empty()) {
        r.sink().add(*n, key, "must list at least one server (\"host:port\" or \"builtin\")");
        return;
    }
    bool builtin = false;
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const auto& el = (*arr)[i];
        if (const auto* s = el.as_string(); s != nullptr && s->get() == "builtin") {
            if (builtin) {
                r.sink().add(el, indexed(key, i), "duplicate \"builtin\"");
            }
            builtin = true;
            continue;
        }
        const auto a = get_address(r.sink(), el, indexed(key, i), port_zero::rejected);
        if (!a) {
            continue;
        }
        if (std::find(u.servers.begin(), u.servers.end(), *a) != u.servers.end()) {
            r.sink().add(el, indexed(key, i), "duplicate server " + a->text());
            continue;
        }
        u.servers.push_back(*a);
    }
    if (builtin && !u.servers.empty()) {
        r.sink().add(*n, key, "\"builtin\" cannot be combined with server addresses");
    }
    u.builtin = builtin;
}

upstream_source read_upstream(table_reader& r, upstream_config& u, std::string key) {
    upstream_source src;
    src.key = std::move(key);
    if (const auto* n = r.required("name")) {
        if (auto v = get_string(r.sink(), *n, r.key("name"))) {
            if (v->empty() || v->size() > max_name_length || !std::all_of(v->begin(), v->end(), is_name_char)) {
                r.sink().add(*n, r.key("name"),
                             "must be 1 to 64 characters from A-Z a-z 0-9 _ - . (got " + quoted(*v) + ")");
            } else {
                u.name = std::move(*v);
                src.name_line = n->source().begin.line;
            }
        }
    }
    read_upstream_servers(r, u);
    r.read_enum("balance", u.balance, enum_names<balance_policy>(balance_names));
    r.read_integer("pool_size", u.pool_size, 0, 10'000);
    r.read("connect_timeout", u.connect_timeout, 1ms, 10min);
    r.read("response_timeout", u.response_timeout, 1ms, 1h);
    r.read("pool_idle_timeout", u.pool_idle_timeout, 1ms, 1h);
    r.read_size("request_buffer", u.request_buffer, 0, 16 * MiB);
    r.read_size("response_buffer", u.response_buffer, 0, 16 * MiB);
    r.read_integer("max_fails", u.max_fails, 1, 1'000);
    r.read("fail_backoff", u.fail_backoff, 1ms, 1h);
    r.read("retry_idempotent", u.retry_idempotent);
    read_upstream_tls(r, u);
    r.finish();
    return src;
}

route_source read_route(table_reader& r, route_config& route, std::string key) {
    route_source src;
    src.key = std::move(key);
    if (const auto* n = r.required("prefix")) {
        if (auto v = get_string(r.sink(), *n, r.key("prefix"))) {
            const bool bad_char = std::any_of(v->begin(), v->end(), [](char c) {
                return c == '?' || c == '#' || c == ' ' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
            });
            if (!v->starts_with('/') || bad_char) {
                r.sink().add(*n, r.key("prefix"),
                             "must start with \"/\" and contain no '?', '#', spaces or control characters, got " +
                                 quoted(*v));
            } else {
                route.prefix = std::move(*v);
                src.prefix_line = n->source().begin.line;
            }
        }
    }
    if (const auto* n = r.required("upstream")) {
        if (auto v = get_string(r.sink(), *n, r.key("upstream"))) {
            route.upstream = std::move(*v);
            src.upstream_line = n->source().begin.line;
        }
    }
    r.read_size("max_body_size", route.max_body_size, 0, 1 * TiB);
    r.finish();
    return src;
}

void read_log(table_reader& r, log_config& l) {
    r.read_enum("level", l.level, enum_names<log_level>(level_names));
    r.read("access_log", l.access_log);
    if (const auto* n = r.optional("error_log")) {
        if (auto v = get_string(r.sink(), *n, r.key("error_log"))) {
            if (v->empty()) {
                r.sink().add(*n, r.key("error_log"), "must not be empty (use \"-\" for stderr)");
            } else {
                l.error_log = std::move(*v);
            }
        }
    }
    r.finish();
}

std::uint32_t read_admin(table_reader& r, admin_config& a) {
    std::uint32_t listen_line = 0;
    r.read("enabled", a.enabled);
    if (const auto* n = r.optional("listen")) {
        if (const auto v = get_address(r.sink(), *n, r.key("listen"), port_zero::allowed)) {
            a.listen = *v;
        }
        listen_line = n->source().begin.line;
    }
    r.read_file("token_file", a.token_file, named_token_file_check("admin token"));
    r.finish();
    return listen_line;
}

// Calls `each(reader, key)` for every table of an array of tables ([[name]]), or once for a
// single [name] table. Returns false when the key is absent, so the caller applies defaults.
template <class Each>
bool for_each_table(table_reader& root, std::string_view name, Each&& each) {
    const auto* n = root.optional(name);
    if (n == nullptr) {
        return false;
    }
    const auto key = root.key(name);
    auto& sink = root.sink();
    if (const auto* t = n->as_table()) {
        table_reader r(sink, *t, key);
        each(r, key);
        return true;
    }
    const auto* arr = n->as_array();
    if (arr == nullptr) {
        sink.add(*n, key, "expected an array of tables ([[" + key + "]]) or a table, got " +
                              std::string(type_name(n->type())));
        return true;
    }
    if (arr->empty()) {
        sink.add(*n, key, "must not be empty (leave it out to get the default)");
    }
    for (std::size_t i = 0; i < arr->size(); ++i) {
        if (const auto* t = get_table(sink, (*arr)[i], indexed(key, i))) {
            table_reader r(sink, *t, indexed(key, i));
            each(r, indexed(key, i));
        }
    }
    return true;
}

template <class Each>
void with_section(table_reader& root, std::string_view name, Each&& each) {
    if (const auto* n = root.optional(name)) {
        if (const auto* t = get_table(root.sink(), *n, root.key(name))) {
            table_reader r(root.sink(), *t, root.key(name));
            each(r);
        }
    }
}

// A TLS listener needs a certificate; a redirect needs somewhere to send visitors.
void check_tls_listeners(error_sink& sink, const config& cfg, std::uint32_t server_line, std::uint32_t tls_line) {
    const auto has = [&](listener_kind k) {
        return std::any_of(cfg.server.listen.begin(), cfg.server.listen.end(),
                           [k](const listener_config& l) { return l.kind == k; });
    };
    const std::uint32_t line = std::max<std::uint32_t>(server_line, 1);
    if (has(listener_kind::tls) && cfg.tls.certificates.empty()) {
        sink.add(std::max(line, tls_line), tls_line != 0 ? "tls.certificate" : "server.listen",
                 "a listener has tls = true but no [[tls.certificate]] is configured");
    }
    if (has(listener_kind::redirect) && !has(listener_kind::tls) && cfg.tls.redirect_port == 0) {
        sink.add(line, "server.listen",
                 "a listener redirects to HTTPS but no listener has tls = true; add one or set tls.redirect_port");
    }
}

void check_upstream_names(error_sink& sink, const config& cfg, const std::vector<upstream_source>& src) {
    for (std::size_t i = 0; i < cfg.upstreams.size(); ++i) {
        for (std::size_t j = 0; j < i && src[i].name_line != 0; ++j) {
            if (src[j].name_line != 0 && cfg.upstreams[j].name == cfg.upstreams[i].name) {
                sink.add(src[i].name_line, src[i].key + ".name",
                         "duplicate upstream name " + quoted(cfg.upstreams[i].name) + " (first defined on line " +
                             std::to_string(src[j].name_line) + ")");
                break;
            }
        }
    }
}

void check_routes(error_sink& sink, const config& cfg, const std::vector<upstream_source>& up_src,
                  const std::vector<route_source>& src) {
    // A route may only be reported as pointing nowhere when every upstream name was readable;
    // otherwise the real problem is the broken name, already reported.
    const bool names_known =
        std::all_of(up_src.begin(), up_src.end(), [](const upstream_source& s) { return s.name_line != 0; });
    std::string defined;
    for (const auto& u : cfg.upstreams) {
        defined += (defined.empty() ? "" : ", ") + quoted(u.name);
    }
    for (std::size_t i = 0; i < cfg.routes.size(); ++i) {
        const auto& route = cfg.routes[i];
        if (src[i].upstream_line != 0 && names_known && cfg.find_upstream(route.upstream) == nullptr) {
            sink.add(src[i].upstream_line, src[i].key + ".upstream",
                     "unknown upstream " + quoted(route.upstream) + "; defined upstreams: " + defined);
        }
        for (std::size_t j = 0; j < i && src[i].prefix_line != 0; ++j) {
            if (src[j].prefix_line != 0 && cfg.routes[j].prefix == route.prefix) {
                sink.add(src[i].prefix_line, src[i].key + ".prefix",
                         "duplicate route prefix " + quoted(route.prefix) + " (first defined on line " +
                             std::to_string(src[j].prefix_line) + ")");
                break;
            }
        }
    }
}

void check_admin_listen(error_sink& sink, const config& cfg, std::uint32_t admin_line, std::uint32_t server_line) {
    if (!cfg.admin.enabled) {
        return;
    }
    for (const auto& l : cfg.server.listen) {
        if (listeners_clash(l.address, cfg.admin.listen)) {
            sink.add(admin_line != 0 ? admin_line : std::max<std::uint32_t>(server_line, 1), "admin.listen",
                     cfg.admin.listen.text() + " clashes with server.listen " + l.address.text() +
                         "; use another port or set admin.enabled = false");
        }
    }
}

config_result syntax_error(const std::string& name, const toml::parse_error& e) {
    return {nullptr, {config_error{name, e.source().begin.line, "", "invalid TOML: " + std::string(e.description())}}};
}

config_result parse_checked(std::string_view text, const std::string& name) {
#if TOML_EXCEPTIONS
    toml::table doc;
    try {
        doc = toml::parse(text, std::string_view{name});
    } catch (const toml::parse_error& e) {
        return syntax_error(name, e);
    }
#else
    const toml::parse_result parsed = toml::parse(text, std::string_view{name});
    if (!parsed) {
        return syntax_error(name, parsed.error());
    }
    const toml::table& doc = parsed.table();
#endif

    auto cfg = std::make_shared<config>();
    cfg->source_path = name;
    error_sink sink(name);
    table_reader root(sink, doc, "");

    if (const auto* n = root.optional("state_dir")) {
        if (auto v = get_string(sink, *n, "state_dir")) {
            if (v->empty()) {
                sink.add(*n, "state_dir", "must not be empty");
            } else {
                cfg->state_dir = std::move(*v);
            }
        }
    }
    std::uint32_t server_listen_line = 0;
    with_section(root, "server", [&](table_reader& r) { server_listen_line = read_server(r, cfg->server); });

    std::vector<upstream_source> up_src;
    const bool has_upstreams = for_each_table(root, "upstream", [&](table_reader& r, const std::string& key) {
        cfg->upstreams.emplace_back();
        up_src.push_back(read_upstream(r, cfg->upstreams.back(), key));
    });

    std::vector<route_source> route_src;
    const bool has_routes = for_each_table(root, "route", [&](table_reader& r, const std::string& key) {
        cfg->routes.emplace_back();
        route_src.push_back(read_route(r, cfg->routes.back(), key));
    });

    with_section(root, "log", [&](table_reader& r) { read_log(r, cfg->log); });
    std::uint32_t admin_listen_line = 0;
    with_section(root, "admin", [&](table_reader& r) { admin_listen_line = read_admin(r, cfg->admin); });
    with_section(root, "admission", [&](table_reader& r) { read_admission(r, cfg->admission); });
    with_section(root, "booking", [&](table_reader& r) { read_booking(r, cfg->booking); });
    with_section(root, "bot_detect", [&](table_reader& r) { read_bot_detect(r, cfg->bot_detect); });
    std::uint32_t tls_line = 0;
    with_section(root, "tls", [&](table_reader& r) {
        tls_line = r.line();
        read_tls(r, cfg->tls, name);
    });
    std::uint32_t state_line = 0;
    with_section(root, "state", [&](table_reader& r) { state_line = read_state(r, cfg->state); });
    std::vector<room_source> room_src;
    for_each_table(root, "room", [&](table_reader& r, const std::string& key) {
        cfg->rooms.emplace_back();
        room_src.push_back(read_room(r, cfg->rooms.back(), key));
    });
    root.finish();

    if (!has_upstreams) {
        upstream_config builtin;
        builtin.name = "default";
        builtin.builtin = true;
        cfg->upstreams.push_back(std::move(builtin));
        up_src.push_back({"upstream", 1});
    }
    if (!has_routes && !cfg->upstreams.empty()) {
        cfg->routes.push_back(route_config{"/", cfg->upstreams.front().name, 0});
        route_src.push_back({"route", 0, 0});
    }

    check_upstream_names(sink, *cfg, up_src);
    check_routes(sink, *cfg, up_src, route_src);
    check_admin_listen(sink, *cfg, admin_listen_line, server_listen_line);
    check_tls_listeners(sink, *cfg, server_listen_line, tls_line);
    check_rooms(sink, cfg->rooms, room_src);
    check_state(sink, *cfg, state_line, room_src);

    if (!sink.empty()) {
        return {nullptr, sink.take()};
    }
    // Longest prefix first, so the proxy can take the first route that matches.
    std::stable_sort(cfg->routes.begin(), cfg->routes.end(),
                     [](const route_config& a, const route_config& b) { return a.prefix.size() > b.prefix.size(); });
    return {std::move(cfg), {}};
}

}  // namespace
}  // namespace config_detail

config_result parse_config(std::string_view text, const std::string& name) {
    try {
        return config_detail::parse_checked(text, name);
    } catch (const std::exception& e) {
        // Only resource exhaustion gets here: bad input is reported, never thrown.
        return {nullptr, {config_error{name, 0, "", std::string("internal error: ") + e.what()}}};
    }
}

}  // namespace anteroom
