#include "booking/web.hpp"

#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "common/crypto.hpp"

namespace anteroom::booking {

namespace {

// Splits "/a/b/c" into segments and matches them against a pattern's; "{x}" takes any one
// non-empty segment.
bool match(std::string_view pattern, std::string_view path, std::vector<std::string_view>& params) {
    params.clear();
    while (!pattern.empty() || !path.empty()) {
        if (pattern.empty() || path.empty() || pattern.front() != '/' || path.front() != '/') {
            return false;
        }
        pattern.remove_prefix(1);
        path.remove_prefix(1);
        const auto pe = pattern.find('/');
        const auto se = path.find('/');
        const std::string_view p = pattern.substr(0, pe);
        const std::string_view s = path.substr(0, se);
        if (p.size() >= 2 && p.front() == '{' && p.back() == '}') {
            if (s.empty()) {
                return false;
            }
            params.push_back(s);
        } else if (p != s) {
            return false;
        }
        pattern = pe == std::string_view::npos ? std::string_view{} : pattern.substr(pe);
        path = se == std::string_view::npos ? std::string_view{} : path.substr(se);
    }
    return true;
}

std::string_view cookie_name(session_kind kind) {
    switch (kind) {
        case session_kind::person: return person_cookie;
        case session_kind::agent: return agent_cookie;
        case session_kind::admin: return admin_cookie;
    }
    return person_cookie;
}

std::string_view message_of(store_error e) {
    switch (e) {
        case store_error::ok: return "ok";
        case store_error::invalid_input: return "The request is missing a field or a value is out of range.";
        case store_error::not_found: return "Not found.";
        case store_error::wrong_credentials: return "Booking code or PIN (name or password) do not match.";
        case store_error::group_closed: return "Your priority group cannot book yet.";
        case store_error::already_booked: return "You already hold an appointment; cancel or rebook it.";
        case store_error::no_capacity: return "No appointment is left on that day.";
        case store_error::day_past: return "That day is in the past.";
        case store_error::address_required: return "Hotline bookings need a postal address for the letter.";
        case store_error::conflict: return "That conflicts with existing data.";
        case store_error::busy: return "The booking database is busy; please try again.";
        case store_error::io: return "The booking database failed.";
        case store_error::schema_too_new: return "The booking database was written by a newer version.";
        case store_error::day_closed: return "The centre is closed on that day.";
    }
    return "error";
}

}  // namespace

ui_language request_ctx::lang() const { return pick_language(req[http::field::accept_language]); }

std::optional<std::string_view> request_ctx::session_token(session_kind kind) const {
    return cookie_value(req, cookie_name(kind));
}

std::optional<session> request_ctx::session_of(session_kind kind) {
    if (kind == session_kind::admin && !settings.admin_token.empty()) {
        const std::string_view auth = req[http::field::authorization];
        constexpr std::string_view bearer = "Bearer ";
        if (auth.size() > bearer.size() && auth.substr(0, bearer.size()) == bearer) {
            const std::string_view given = auth.substr(bearer.size());
            const auto a = crypto::sha256(given);
            const auto b = crypto::sha256(settings.admin_token);
            if (crypto::equal_ct(a, b)) {
                return session{session_kind::admin, 0, now + settings.session_ttl_s};
            }
            return std::nullopt;
        }
    }
    if (kind == session_kind::admin && settings.admin_token.empty()) {
        return std::nullopt;
    }
    const auto token = session_token(kind);
    if (!token) {
        return std::nullopt;
    }
    auto s = db.find_session(*token, now);
    if (!s.ok() || s.value.kind != kind) {
        return std::nullopt;
    }
    return s.value;
}

bool request_ctx::same_origin() const {
    const std::string_view origin = req[http::field::origin];
    if (origin.empty()) {
        return true;  // not a browser's cross-site form post (those always send Origin now)
    }
    const auto scheme_end = origin.find("://");
    if (scheme_end == std::string_view::npos) {
        return false;
    }
    return origin.substr(scheme_end + 3) == req[http::field::host];
}

simple_response dispatch(std::span<const route> routes, const simple_request& req, store& db,
                         const web_settings& settings) {
    const std::string_view target = req.target();
    const std::string_view path = target.substr(0, target.find('?'));
    const http::verb method = req.method() == http::verb::head ? http::verb::get : req.method();
    request_ctx ctx{req, db, settings, settings.clock ? settings.clock() : std::time(nullptr), path, {}};
    std::string allow;
    for (const auto& r : routes) {
        if (!match(r.pattern, path, ctx.params)) {
            continue;
        }
        if (r.method == method) {
            simple_response res = r.handler(ctx);
            if (res.find(http::field::cache_control) == res.end()) {
                res.set(http::field::cache_control, "no-store");  // personal data: never cached
            }
            res.set("X-Content-Type-Options", "nosniff");
            return res;
        }
        const std::string_view name = http::to_string(r.method);
        if (allow.find(name) == std::string::npos) {
            allow += (allow.empty() ? "" : ", ") + std::string(name);
        }
    }
    const bool api = path.substr(0, 5) == "/api/";
    if (!allow.empty()) {
        auto res = api ? json_error(http::status::method_not_allowed, "method_not_allowed", "Method not allowed.")
                       : simple_text(http::status::method_not_allowed, "method not allowed\n");
        res.set(http::field::allow, allow);
        return res;
    }
    return api ? json_error(http::status::not_found, "not_found", "No such endpoint.")
               : simple_text(http::status::not_found, "not found\n");
}

bool shares_commit(std::span<const route> routes, const simple_request& req) {
    const std::string_view target = req.target();
    const std::string_view path = target.substr(0, target.find('?'));
    std::vector<std::string_view> params;
    for (const auto& r : routes) {
        if (r.shares_commit && r.method == req.method() && match(r.pattern, path, params)) {
            return true;
        }
    }
    return false;
}

std::span<const route> all_routes() {
    static const std::vector<route> all = [] {
        std::vector<route> v(api_routes().begin(), api_routes().end());
        v.insert(v.end(), page_routes().begin(), page_routes().end());
        return v;
    }();
    return all;
}

std::optional<day_number> parse_date(std::string_view text) {
    int y = 0;
    unsigned m = 0;
    unsigned d = 0;
    char tail = 0;
    const std::string s(text.substr(0, 16));
    if (text.size() != 10 || text[4] != '-' || text[7] != '-' ||
        std::sscanf(s.c_str(), "%4d-%2u-%2u%c", &y, &m, &d, &tail) != 3) {
        return std::nullopt;
    }
    const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
    if (!ymd.ok() || y < 1900 || y > 2200) {
        return std::nullopt;
    }
    return static_cast<day_number>(std::chrono::sys_days{ymd}.time_since_epoch().count());
}

std::string format_date(day_number d) {
    const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{d}}};
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()));
    return buf;
}

std::string format_clock(int minute) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02d:%02d", minute / 60 % 100, minute % 60);
    return buf;
}

http::status status_of(store_error e) {
    switch (e) {
        case store_error::ok: return http::status::ok;
        case store_error::invalid_input:
        case store_error::day_past:
        case store_error::day_closed:
        case store_error::address_required: return http::status::bad_request;
        case store_error::not_found: return http::status::not_found;
        case store_error::wrong_credentials: return http::status::unauthorized;
        case store_error::group_closed:
        case store_error::already_booked:
        case store_error::no_capacity:
        case store_error::conflict: return http::status::conflict;
        case store_error::busy: return http::status::service_unavailable;
        case store_error::io:
        case store_error::schema_too_new: return http::status::internal_server_error;
    }
    return http::status::internal_server_error;
}

simple_response json_response(http::status status, std::string body) {
    simple_response r{status, 11};
    r.set(http::field::content_type, "application/json");
    r.body() = std::move(body);
    return r;
}

simple_response json_error(http::status status, std::string_view code, std::string_view message) {
    nlohmann::json j{{"code", code}, {"message", message}};
    auto r = json_response(status, j.dump());
    if (status == http::status::service_unavailable) {
        r.set(http::field::retry_after, "1");
    }
    return r;
}

simple_response json_error(store_error e) { return json_error(status_of(e), to_string(e), message_of(e)); }

simple_response html_response(http::status status, std::string body) {
    simple_response r{status, 11};
    r.set(http::field::content_type, "text/html; charset=utf-8");
    r.set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'");
    r.body() = std::move(body);
    return r;
}

simple_response redirect(std::string_view location) {
    simple_response r{http::status::see_other, 11};
    r.set(http::field::location, location);
    return r;
}

std::string session_cookie(std::string_view name, std::string_view token, std::int64_t max_age_s, bool secure) {
    std::string c(name);
    c += '=';
    c += token;
    c += "; Path=/; Max-Age=" + std::to_string(max_age_s) + "; HttpOnly; SameSite=Strict";
    if (secure) {
        c += "; Secure";
    }
    return c;
}

}  // namespace anteroom::booking
