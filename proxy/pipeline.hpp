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

struct request_ctx {
    const http::request_header<>& request;
    std::string_view path;       // target without query string
    ip_address peer;             // TCP peer
    ip_address client;           // after trusted_proxies / X-Forwarded-For
    bool tls = false;
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
};

class request_filter {
public:
    virtual ~request_filter() = default;
    virtual std::string_view name() const = 0;
    // request_filter phase: before any upstream is chosen.
    virtual verdict on_request(request_ctx& ctx) const = 0;
    // response_filter phase: the upstream's response head, before it is sent to the client.
    virtual void on_response(request_ctx& /*ctx*/, http::response_header<>& /*res*/) const {}
};

using filter_chain = std::vector<std::shared_ptr<const request_filter>>;

}  // namespace anteroom::proxy
