#include "common/error.hpp"

namespace anteroom {

std::string_view to_string(error_source s) {
    switch (s) {
    case error_source::downstream:
        return "downstream";
    case error_source::upstream:
        return "upstream";
    case error_source::internal:
        return "internal";
    }
    return "unknown";
}

std::string_view to_string(error_kind k) {
    switch (k) {
    case error_kind::bad_request:
        return "bad_request";
    case error_kind::header_too_large:
        return "header_too_large";
    case error_kind::body_too_large:
        return "body_too_large";
    case error_kind::request_timeout:
        return "request_timeout";
    case error_kind::not_found:
        return "not_found";
    case error_kind::method_not_allowed:
        return "method_not_allowed";
    case error_kind::upstream_connect:
        return "upstream_connect";
    case error_kind::upstream_reset:
        return "upstream_reset";
    case error_kind::upstream_timeout:
        return "upstream_timeout";
    case error_kind::no_healthy_upstream:
        return "no_healthy_upstream";
    case error_kind::overloaded:
        return "overloaded";
    case error_kind::internal:
        return "internal";
    }
    return "unknown";
}

unsigned status_for(error_kind k) {
    switch (k) {
    case error_kind::bad_request:
        return 400;
    case error_kind::header_too_large:
        return 431;
    case error_kind::body_too_large:
        return 413;
    case error_kind::request_timeout:
        return 408;
    case error_kind::not_found:
        return 404;
    case error_kind::method_not_allowed:
        return 405;
    case error_kind::upstream_connect:
    case error_kind::upstream_reset:
        return 502;
    case error_kind::upstream_timeout:
        return 504;
    case error_kind::no_healthy_upstream:
    case error_kind::overloaded:
        return 503;
    case error_kind::internal:
        return 500;
    }
    return 500;
}

}  // namespace anteroom
