#pragma once
// The request pipeline's extension point. Filters see a small view of the request and return
// an explicit verdict; the session code never changes when a filter is added (admission and
// bot detection plug in here). Filter objects are immutable and shared across threads; any
// per-request state lives in request_ctx.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/cidr.hpp"
#include "common/config.hpp"
#include "common/error.hpp"
#include "common/net.hpp"

namespace anteroom::proxy {

enum class verdict {
    next,     // continue with the next filter, then the upstream
    respond,  // answer with ctx.response (the upstream is not contacted)
    close,    // drop the connection without an answer
};

struct request_ctx;

// Asked by admission before it issues a new ticket (bot detection's penalty box for
// deprioritised visitors). nullopt: issue it now; else hold the visitor back that many seconds
// (the gate has put its cookie into ctx.response_headers).
class ticket_gate {
public:
    virtual ~ticket_gate() = default;
    virtual std::optional<unsigned> hold(request_ctx& ctx, std::int64_t now_ms) const = 0;
};

// Bot detection's view of a request, for admission, the access log and the feedback after the
// answer. Filled by the bot filter; all zero when bot detection is off.
struct bot_view {
    int score = -1;                      // -1: not scored
    std::uint32_t reasons = 0;           // bot_detect::reason bits
    std::uint8_t action = 0;             // bot_detect::band acted on (dry run: 0 = allow)
    bool infinite_queue = false;         // deny with a waiting page that never advances
    // Refused (challenge or deny): ctx.response holds the answer, which the bot tail filter
    // sends after admission has marked the visitor's place absent.
    bool blocked = false;
    std::uint64_t visitor = 0;           // key of the ticket or pass presented (0 = none)
    std::uint32_t header_signature = 0;
    const ticket_gate* gate = nullptr;   // set for deprioritised visitors
    // Admission → bot detection: what the answer did and told.
    bool ticket_issued = false;
    std::uint64_t issued_visitor = 0;    // key of the ticket just issued
    std::uint64_t admitted_visitor = 0;  // key of the pass just given to a ticket holder
    std::uint64_t admitted_ticket = 0;   // key of this room's ticket that pass replaces
    unsigned refresh_told_s = 0;
};

struct request_ctx {
    const http::request_header<>& request;
    std::string_view path;       // target without query string
    ip_address peer;             // TCP peer
    ip_address client;           // after trusted_proxies / X-Forwarded-For
    bool tls = false;
    std::string_view ja4;        // JA4 of the connection's ClientHello ("" = not TLS)
    std::string request_id;
    const route_config* route = nullptr;
    std::chrono::steady_clock::time_point start;
    std::chrono::system_clock::time_point wall_start;

    // Set by a filter returning verdict::respond.
    std::optional<http::response<http::string_body>> response;
    // Extra response headers (e.g. Set-Cookie) added to whatever response goes back.
    std::vector<std::pair<std::string, std::string>> response_headers;
    // Free-form tag for the access log ("admission:queued", ...): static text, no personal data.
    std::string_view log_tag;
    // Admission: the room this request belongs to and the pass it presented (0 = none), so the
    // response phase can end that pass when the upstream says `Anteroom-Session: end`.
    std::string_view room_id;
    std::uint64_t pass_id = 0;
    // HTTP minor version the client spoke (10 or 11); `request` is rewritten to 1.1 for the upstream.
    unsigned client_version = 11;
    bot_view bot;
    // A filter's answer is sent no earlier than this after the filters ran (slow answers to
    // deprioritised status polls); bounded by the config (≤ 10 s).
    std::chrono::milliseconds response_delay{0};
    // Set by the session before on_complete: the answer came from the upstream.
    bool upstream_answered = false;
};

class request_filter {
public:
    virtual ~request_filter() = default;
    virtual std::string_view name() const = 0;
    // request_filter phase: before any upstream is chosen.
    virtual verdict on_request(request_ctx& ctx) const = 0;
    // response_filter phase: the upstream's response head, before it is sent to the client.
    virtual void on_response(request_ctx& /*ctx*/, http::response_header<>& /*res*/) const {}
    // logging phase: after the answer was sent (or failed), with its status.
    virtual void on_complete(request_ctx& /*ctx*/, unsigned /*status*/) const {}
};

using filter_chain = std::vector<std::shared_ptr<const request_filter>>;

// A filter's own answer (verdict::respond): never cached, tagged with the request id, no body
// for HEAD.
inline void respond(request_ctx& ctx, http::status status, std::string_view type, std::string body) {
    http::response<http::string_body> r{status, 11};
    r.set(http::field::content_type, type);
    r.set(http::field::cache_control, "no-store");
    r.set("X-Request-Id", ctx.request_id);
    if (ctx.request.method() != http::verb::head) {
        r.body() = std::move(body);
    }
    ctx.response = std::move(r);
}

// The client asked for JSON (a script or our waiting page's status poll), not a page.
inline bool wants_json(const request_ctx& ctx) {
    const std::string_view accept = ctx.request[http::field::accept];
    return accept.find("application/json") != std::string_view::npos &&
           accept.find("text/html") == std::string_view::npos;
}

}  // namespace anteroom::proxy
