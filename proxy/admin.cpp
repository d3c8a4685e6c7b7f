#include "proxy/admin.hpp"

#include <chrono>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "common/http_fields.hpp"
#include "common/log.hpp"

namespace anteroom::proxy {

namespace {

simple_response text(http::status s, std::string body, std::string_view type = "text/plain; charset=utf-8") {
    simple_response r{s, 11};
    r.set(http::field::content_type, type);
    r.set(http::field::cache_control, "no-store");
    r.body() = std::move(body);
    return r;
}

std::int64_t now_unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
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
                   label_value(s->text()) + "\"} " + (s->available(now) ? "1" : "0") + "\n";
        }
    }
    out += "# HELP anteroom_upstream_outstanding Requests in flight per upstream server\n"
           "# TYPE anteroom_upstream_outstanding gauge\n";
    for (const auto& g : rt.upstreams) {
        for (const auto& s : g->servers) {
            out += "anteroom_upstream_outstanding{upstream=\"" + label_value(g->cfg->name) + "\",server=\"" +
                   label_value(s->text()) + "\"} " + std::to_string(s->outstanding()) + "\n";
        }
    }
    return out;
}

struct caller {
    std::string who;
    std::string via;  // "api" (bearer token) or "console" (session cookie)
};

std::optional<caller> authenticate(const simple_request& req, const token_list& tokens, const admin_console& console) {
    if (auto name = bearer_token_name(req[http::field::authorization], tokens)) {
        return caller{std::move(*name), "api"};
    }
    if (auto c = cookie_value(req, console_cookie)) {
        if (auto name = console.signer().verify(*c, tokens, now_unix_ms())) {
            return caller{std::move(*name), "console"};
        }
    }
    return std::nullopt;
}

std::string_view lang_of(const simple_request& req) {
    return pick_language(req[http::field::accept_language]) == ui_language::en ? "en" : "de";
}

simple_response redirect(std::string_view location) {
    simple_response r{http::status::see_other, 11};
    r.set(http::field::location, location);
    r.set(http::field::cache_control, "no-store");
    return r;
}

std::string console_cookie_header(std::string_view value, std::int64_t max_age_s) {
    // Path=/admin and SameSite=Strict: sent only to the console, never on a cross-site request.
    // Not Secure: the admin listener speaks plain HTTP (keep it on loopback or a private network).
    return std::string(console_cookie) + "=" + std::string(value) + "; Path=/admin; Max-Age=" +
           std::to_string(max_age_s) + "; HttpOnly; SameSite=Strict";
}

simple_response method_not_allowed(std::string_view allow) {
    auto r = json(http::status::method_not_allowed, {{"error", "use " + std::string(allow)}});
    r.set(http::field::allow, allow);
    return r;
}

// What a settings change did, old -> new, for the audit log: "room portal: new_users_per_minute 600 -> 900".
std::string describe_change(std::string_view id, const nlohmann::json& before, const nlohmann::json& after) {
    std::string what = "room " + std::string(id) + ":";
    bool any = false;
    for (const char* key : {"mode", "new_users_per_minute", "max_active_users"}) {
        const auto b = before.is_object() && before.contains(key) ? before[key].dump() : "?";
        const auto a = after.is_object() && after.contains(key) ? after[key].dump() : "?";
        if (a != b) {
            what += std::string(any ? "," : "") + " " + key + " " + b + " -> " + a;
            any = true;
        }
    }
    if (!any) {
        what += " settings unchanged";
    }
    std::erase(what, '"');
    return what;
}

nlohmann::json room_of(const admin_hooks& h, std::string_view id) {
    if (!h.rooms) {
        return nullptr;
    }
    for (auto& r : h.rooms()) {
        if (r["id"] == id) {
            return r;
        }
    }
    return nullptr;
}

// PATCH/POST /admin/rooms/<id> with a JSON body of settings, or POST .../pause, .../resume.
simple_response room_update(const admin_hooks& h, admin_console& console, const caller& who,
                            const simple_request& req, std::string_view rest) {
    if (req.method() != http::verb::patch && req.method() != http::verb::post) {
        return method_not_allowed("PATCH, POST");
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
    const auto before = room_of(h, id);
    std::string err;
    bool not_found = false;
    if (!h.update_room(id, patch, err, not_found)) {
        return json(not_found ? http::status::not_found : http::status::unprocessable_entity, {{"error", err}});
    }
    auto after = room_of(h, id);
    console.audit(who.who, who.via, describe_change(id, before, after));
    return json(http::status::ok, after.is_null() ? nlohmann::json{{"id", id}} : after);
}

simple_response bot_detect_update(const admin_hooks& h, admin_console& console, const caller& who,
                                  const simple_request& req) {
    if (req.method() != http::verb::post) {
        return method_not_allowed("POST");
    }
    const auto body = nlohmann::json::parse(req.body(), nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("dry_run") || !body["dry_run"].is_boolean() ||
        body.size() != 1) {
        return json(http::status::unprocessable_entity, {{"error", "body must be {\"dry_run\": true|false}"}});
    }
    if (!h.bot_dry_run || !h.set_bot_dry_run || !h.bot_dry_run().enabled) {
        return json(http::status::conflict,
                    {{"error", "bot detection is off in the config ([bot_detect] enabled = false)"}});
    }
    const bool before = h.bot_dry_run().effective;
    const bool on = body["dry_run"].get<bool>();
    h.set_bot_dry_run(on);
    console.audit(who.who, who.via,
                  std::string("bot detection dry_run ") + (before ? "true" : "false") + " -> " + (on ? "true" : "false"));
    const auto st = h.bot_dry_run();
    return json(http::status::ok, {{"enabled", st.enabled}, {"dry_run", st.effective}, {"dry_run_config", st.config}});
}

simple_response live(const admin_hooks& h, const admin_console& console, const caller& who, const simple_request& req) {
    std::int64_t since = 0;
    if (auto v = query_param(req.target(), "since")) {
        char* end = nullptr;
        since = std::strtoll(v->c_str(), &end, 10);
        if (end == v->c_str() || *end != '\0') {
            return json(http::status::bad_request, {{"error", "since must be a time in unix milliseconds"}});
        }
    }
    nlohmann::json out = console.live(since);
    out["now"] = now_unix_ms();
    out["who"] = who.who;
    out["version"] = ANTEROOM_VERSION;
    const auto bots = h.bot_dry_run ? h.bot_dry_run() : bot_service::dry_run_state{};
    out["bot_detect"] = {{"enabled", bots.enabled}, {"dry_run", bots.effective}, {"dry_run_config", bots.config}};
    out["rooms"] = h.rooms ? h.rooms() : nlohmann::json::array();
    out["audit"] = console.audit_json(50);
    return json(http::status::ok, out);
}

// /admin/, /admin/login, /admin/logout and /admin/static/*: the console's pages.
std::optional<simple_response> console_route(admin_console& console, const token_list& tokens,
                                             const simple_request& req, std::string_view path) {
    const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
    if (path.starts_with("/admin/static/")) {
        if (!get) {
            return method_not_allowed("GET");
        }
        if (auto asset = console_asset(path.substr(std::string_view("/admin/static/").size()))) {
            return asset;
        }
        return text(http::status::not_found, "not found\n");
    }
    if (path == "/admin/login") {
        if (req.method() != http::verb::post) {
            return redirect("/admin/");
        }
        const auto presented = form_param(req.body(), "token").value_or("");
        const named_token* t = console::find_token(presented, tokens);
        if (t == nullptr) {
            ANTEROOM_LOG(log_level::warn, "admin", "console sign-in with a wrong token");
            return console_login(lang_of(req), http::status::unauthorized,
                                 lang_of(req) == "en" ? "Wrong token." : "Falsches Token.");
        }
        auto r = redirect("/admin/");
        r.set(http::field::set_cookie,
              console_cookie_header(console.signer().issue(*t, now_unix_ms() + console_session_ms), console_session_ms / 1000));
        ANTEROOM_LOG(log_level::info, "admin", t->name + " signed in to the console");
        return r;
    }
    if (path == "/admin/logout") {
        if (req.method() != http::verb::post) {
            return method_not_allowed("POST");
        }
        auto r = redirect("/admin/");
        r.set(http::field::set_cookie, console_cookie_header("", 0));
        return r;
    }
    if (path == "/admin/" || path == "/admin") {
        if (!get) {
            return method_not_allowed("GET");
        }
        if (!authenticate(req, tokens, console)) {
            return console_login(lang_of(req), http::status::unauthorized, "");
        }
        return console_dashboard(lang_of(req));
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> bearer_token_name(std::string_view header, const token_list& tokens) {
    // The scheme name is case-insensitive (RFC 9110 §11.1); the token is compared in constant time.
    constexpr std::string_view scheme = "Bearer ";
    if (header.size() <= scheme.size() || !beast::iequals(header.substr(0, scheme.size()), scheme)) {
        return std::nullopt;
    }
    if (const named_token* t = console::find_token(header.substr(scheme.size()), tokens)) {
        return t->name;
    }
    return std::nullopt;
}

std::string render_admin_metrics(const admin_hooks& h) {
    std::string body = h.render_metrics();
    if (auto rt = h.current_runtime()) {
        body += upstream_health_metrics(*rt);
    }
    return body;
}

simple_handler make_admin_handler(admin_hooks hooks, std::shared_ptr<admin_console> console) {
    return [h = std::move(hooks), console](const simple_request& req, const tcp::endpoint&) -> simple_response {
        const std::string_view target = req.target();
        const auto path = target.substr(0, target.find('?'));
        const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
        if (path == "/metrics" && get) {
            return text(http::status::ok, render_admin_metrics(h), "text/plain; version=0.0.4; charset=utf-8");
        }
        if (path == "/healthz" && get) {
            return text(http::status::ok, "ok\n");
        }
        if (path == "/readyz" && get) {
            return h.ready() ? text(http::status::ok, "ready\n")
                             : text(http::status::service_unavailable, "not ready\n");
        }
        if (!path.starts_with("/admin/") && path != "/admin") {
            return text(http::status::not_found, "not found\n");
        }
        const auto tokens = h.tokens();
        if (!tokens || tokens->empty()) {
            return json(http::status::forbidden, {{"error", "admin API disabled: set admin.token_file to enable it"}});
        }
        if (auto page = console_route(*console, *tokens, req, path)) {
            return std::move(*page);
        }
        const auto who = authenticate(req, *tokens, *console);
        if (!who) {
            auto r = json(http::status::unauthorized, {{"error", "missing or wrong bearer token"}});
            r.set(http::field::www_authenticate, "Bearer realm=\"anteroom-admin\"");
            return r;
        }
        // A cross-site form can send the cookie along (were SameSite ignored) but cannot set
        // this header; bearer tokens are never sent by a browser on its own.
        if (who->via == "console" && !get && req["X-Anteroom-Console"] != "1") {
            return json(http::status::forbidden, {{"error", "console requests that change something need X-Anteroom-Console: 1"}});
        }
        if (path == "/admin/reload") {
            if (req.method() != http::verb::post) {
                return method_not_allowed("POST");
            }
            std::string err;
            if (h.reload(err)) {
                console->audit(who->who, who->via, "configuration reloaded");
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
                        servers.push_back({{"address", s->text()},
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
            return room_update(h, *console, *who, req, path.substr(std::string_view("/admin/rooms/").size()));
        }
        if (path == "/admin/api/live") {
            return get ? live(h, *console, *who, req) : method_not_allowed("GET");
        }
        if (path == "/admin/api/audit") {
            return get ? json(http::status::ok, console->audit_json(console::audit_log::default_keep))
                       : method_not_allowed("GET");
        }
        if (path == "/admin/api/bot-detect") {
            return bot_detect_update(h, *console, *who, req);
        }
        return json(http::status::not_found, {{"error", "no such admin endpoint"}});
    };
}

}  // namespace anteroom::proxy
