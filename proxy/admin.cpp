#include "proxy/admin.hpp"

#include <openssl/crypto.h>

#include <nlohmann/json.hpp>

namespace anteroom::proxy {

namespace {

simple_response text(http::status s, std::string body, std::string_view type = "text/plain; charset=utf-8") {
    simple_response r{s, 11};
    r.set(http::field::content_type, type);
    r.set(http::field::cache_control, "no-store");
    r.body() = std::move(body);
    return r;
}

simple_response json(http::status s, const nlohmann::json& j) {
    return text(s, j.dump() + "\n", "application/json");
}

// Health figures are computed when asked rather than kept up to date per request.
std::string upstream_health_metrics(const runtime& rt) {
    std::string out = "# HELP anteroom_upstream_server_up 1 when the server is not ejected\n"
                      "# TYPE anteroom_upstream_server_up gauge\n";
    const auto now = std::chrono::steady_clock::now();
    for (const auto& g : rt.upstreams) {
        for (const auto& s : g->servers) {
            out += "anteroom_upstream_server_up{upstream=\"" + label_value(g->cfg->name) + "\",server=\"" +
                   label_value(s->address().text()) + "\"} " + (s->available(now) ? "1" : "0") + "\n";
        }
    }
    out += "# HELP anteroom_upstream_outstanding Requests in flight per upstream server\n"
           "# TYPE anteroom_upstream_outstanding gauge\n";
    for (const auto& g : rt.upstreams) {
        for (const auto& s : g->servers) {
            out += "anteroom_upstream_outstanding{upstream=\"" + label_value(g->cfg->name) + "\",server=\"" +
                   label_value(s->address().text()) + "\"} " + std::to_string(s->outstanding()) + "\n";
        }
    }
    return out;
}

// PATCH/POST /admin/rooms/<id> with a JSON body of settings, or POST .../pause, .../resume.
simple_response room_update(const admin_hooks& h, const simple_request& req, std::string_view rest) {
    if (req.method() != http::verb::patch && req.method() != http::verb::post) {
        auto r = json(http::status::method_not_allowed, {{"error", "use PATCH (or POST)"}});
        r.set(http::field::allow, "PATCH, POST");
        return r;
    }
    nlohmann::json patch;
    std::string_view id = rest;
    if (rest.ends_with("/pause") || rest.ends_with("/resume")) {
        const bool pause = rest.ends_with("/pause");
        id = rest.substr(0, rest.rfind('/'));
        patch = pause ? nlohmann::json{{"mode", "paused"}} : nlohmann::json{{"resume", true}};
    } else {
        patch = nlohmann::json::parse(req.body(), nullptr, false);
        if (patch.is_discarded()) {
            return json(http::status::bad_request, {{"error", "body is not valid JSON"}});
        }
    }
    std::string err;
    bool not_found = false;
    if (!h.update_room(id, patch, err, not_found)) {
        return json(not_found ? http::status::not_found : http::status::unprocessable_entity, {{"error", err}});
    }
    auto rooms = h.rooms();
    for (auto& r : rooms) {
        if (r["id"] == id) {
            return json(http::status::ok, r);
        }
    }
    return json(http::status::ok, {{"id", id}});
}

}  // namespace

bool token_matches(std::string_view header, std::string_view token) {
    // The scheme name is case-insensitive (RFC 9110 §11.1); the token is compared in constant time.
    constexpr std::string_view scheme = "Bearer ";
    if (token.empty() || header.size() != scheme.size() + token.size() ||
        !beast::iequals(header.substr(0, scheme.size()), scheme)) {
        return false;
    }
    return CRYPTO_memcmp(header.data() + scheme.size(), token.data(), token.size()) == 0;
}

simple_handler make_admin_handler(admin_hooks hooks) {
    return [h = std::move(hooks)](const simple_request& req, const tcp::endpoint&) -> simple_response {
        const std::string_view target = req.target();
        const auto path = target.substr(0, target.find('?'));
        const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
        if (path == "/metrics" && get) {
            std::string body = h.render_metrics();
            if (auto rt = h.current_runtime()) {
                body += upstream_health_metrics(*rt);
            }
            return text(http::status::ok, std::move(body), "text/plain; version=0.0.4; charset=utf-8");
        }
        if (path == "/healthz" && get) {
            return text(http::status::ok, "ok\n");
        }
        if (path == "/readyz" && get) {
            return h.ready() ? text(http::status::ok, "ready\n")
                             : text(http::status::service_unavailable, "not ready\n");
        }
        if (path.starts_with("/admin/") || path == "/admin") {
            const std::string token = h.token();
            if (token.empty()) {
                return json(http::status::forbidden,
                            {{"error", "admin API disabled: set admin.token_file to enable it"}});
            }
            if (!token_matches(req[http::field::authorization], token)) {
                auto r = json(http::status::unauthorized, {{"error", "missing or wrong bearer token"}});
                r.set(http::field::www_authenticate, "Bearer realm=\"anteroom-admin\"");
                return r;
            }
            if (path == "/admin/reload") {
                if (req.method() != http::verb::post) {
                    auto r = json(http::status::method_not_allowed, {{"error", "use POST"}});
                    r.set(http::field::allow, "POST");
                    return r;
                }
                std::string err;
                if (h.reload(err)) {
                    return json(http::status::ok, {{"reloaded", true}});
                }
                return json(http::status::unprocessable_entity, {{"reloaded", false}, {"errors", err}});
            }
            if (path == "/admin/upstreams" && get) {
                nlohmann::json out = nlohmann::json::array();
                const auto now = std::chrono::steady_clock::now();
                if (auto rt = h.current_runtime()) {
                    for (const auto& g : rt->upstreams) {
                        nlohmann::json servers = nlohmann::json::array();
                        for (const auto& s : g->servers) {
                            servers.push_back({{"address", s->address().text()},
                                               {"up", s->available(now)},
                                               {"consecutive_failures", s->consecutive_failures()},
                                               {"outstanding", s->outstanding()}});
                        }
                        out.push_back({{"name", g->cfg->name}, {"servers", servers}});
                    }
                }
                return json(http::status::ok, out);
            }
            if (path == "/admin/rooms" && get && h.rooms) {
                return json(http::status::ok, h.rooms());
            }
            if (path.starts_with("/admin/rooms/") && h.update_room) {
                return room_update(h, req, path.substr(std::string_view("/admin/rooms/").size()));
            }
            return json(http::status::not_found, {{"error", "no such admin endpoint"}});
        }
        return text(http::status::not_found, "not found\n");
    };
}

}  // namespace anteroom::proxy
