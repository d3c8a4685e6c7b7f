#pragma once
// The booking backend's request handling, shared by the JSON API (api.cpp) and the HTML pages
// (pages.cpp): a route table matched on method and path ("/api/bookings/{id}"), a context that
// runs on a SQLite worker thread with that worker's store, sessions from cookies or a bearer
// token, and the helpers every handler needs (dates, JSON errors, cookies, escaping).
// Nothing here touches a socket: tests call dispatch() with a request and a store.

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "booking/store.hpp"
#include "common/http_fields.hpp"
#include "common/simple_server.hpp"

namespace anteroom::booking {

// What the handlers need from config, fixed while the service runs.
struct web_settings {
    std::string admin_token;        // "" = admin endpoints answer 404
    std::int64_t session_ttl_s = 1800;
    bool cookie_secure = false;
    std::int64_t doses_per_vial = 6;
    std::function<unix_seconds()> clock;  // injected in tests
};

inline constexpr std::string_view person_cookie = "anteroom_booking";
inline constexpr std::string_view agent_cookie = "anteroom_agent";
inline constexpr std::string_view admin_cookie = "anteroom_admin";

struct request_ctx {
    const simple_request& req;
    store& db;
    const web_settings& settings;
    unix_seconds now = 0;
    std::string_view path;                 // without the query
    std::vector<std::string_view> params;  // the {…} parts of the route, in order

    std::optional<std::string> query(std::string_view name) const { return query_param(req.target(), name); }
    ui_language lang() const;
    // The session of that kind from its cookie (or, for admin, also `Authorization: Bearer`);
    // nullopt when absent, unknown or expired.
    std::optional<session> session_of(session_kind kind);
    std::optional<std::string_view> session_token(session_kind kind) const;
    // For unsafe methods with cookie authentication: the browser's Origin, when sent, must be
    // this host (SameSite=Strict cookies are the first line; this is the second).
    bool same_origin() const;
};

using handler_fn = simple_response (*)(request_ctx&);

struct route {
    http::verb method;
    std::string_view pattern;  // "/api/bookings/{id}"
    handler_fn handler;
    // A short write (book, rebook, cancel) with no slow hashing in it: it may share one commit
    // with others (group commit, [booking] write_batch).
    bool shares_commit = false;
};

// Matches method and path; 404 for an unknown path, 405 (with Allow) for a known path with
// another method. HEAD is served by GET routes.
simple_response dispatch(std::span<const route> routes, const simple_request& req, store& db,
                         const web_settings& settings);

// Whether the route that will answer req shares commits (see route::shares_commit).
bool shares_commit(std::span<const route> routes, const simple_request& req);

// Both tables, in the order dispatch tries them; the OpenAPI coverage test reads api_routes().
std::span<const route> api_routes();
std::span<const route> page_routes();
std::span<const route> all_routes();

// ---- helpers ---------------------------------------------------------------------------------

// "YYYY-MM-DD" ↔ day number; "HH:MM" for minutes after midnight.
std::optional<day_number> parse_date(std::string_view text);
std::string format_date(day_number d);
std::string format_clock(int minute);

// HTTP status and stable JSON code for a store error.
http::status status_of(store_error e);

simple_response json_response(http::status status, std::string body);
// {"code": code, "message": message}
simple_response json_error(http::status status, std::string_view code, std::string_view message);
simple_response json_error(store_error e);
simple_response html_response(http::status status, std::string body);
simple_response redirect(std::string_view location);  // 303 See Other

// Set-Cookie for a session (HttpOnly, SameSite=Strict, Path=/) or one that clears it.
std::string session_cookie(std::string_view name, std::string_view token, std::int64_t max_age_s, bool secure);

}  // namespace anteroom::booking
