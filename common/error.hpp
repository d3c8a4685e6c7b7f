#pragma once
// The one error type of the request path: where it came from, what went wrong, and whether a
// retry on another upstream could help. Exactly one function (proxy::error_response) turns it
// into a response; nothing else chooses error status codes.

#include <string_view>

namespace anteroom {

enum class error_source { downstream, upstream, internal };

enum class error_kind {
    bad_request,          // 400: malformed or ambiguous request (smuggling rules)
    header_too_large,     // 431
    body_too_large,       // 413
    request_timeout,      // 408: client too slow sending the head or body
    not_found,            // 404: no route
    method_not_allowed,   // 405
    upstream_connect,     // 502: could not connect to any upstream server
    upstream_reset,       // 502: upstream closed or sent garbage
    upstream_timeout,     // 504: no response head in time
    no_healthy_upstream,  // 503: every server ejected
    overloaded,           // 503: too many connections / draining
    internal,             // 500
};

struct proxy_error {
    error_source source = error_source::internal;
    error_kind kind = error_kind::internal;
    bool retryable = false;  // true only when nothing reached the upstream yet
};

std::string_view to_string(error_source s);
std::string_view to_string(error_kind k);
unsigned status_for(error_kind k);

}  // namespace anteroom
