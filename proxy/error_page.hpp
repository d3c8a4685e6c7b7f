#pragma once
// The single mapping from a proxy_error to what the client sees: a friendly HTML page in
// German (default) or English (by Accept-Language), or JSON when the client asked for it.
// Pure: no sockets, no Beast.

#include <string>
#include <string_view>

#include "common/error.hpp"

namespace anteroom::proxy {

enum class page_language { de, en };
enum class page_format { html, json };

// German unless the client prefers English: the highest-q language range among de*/en*
// decides; ties go to the first listed. Anything else (or nothing) -> German.
page_language choose_language(std::string_view accept_language);

// JSON when Accept lists application/json (or */*+json-ish "application/problem+json") with a
// q greater than that of text/html; HTML otherwise.
page_format choose_format(std::string_view accept);

struct error_response {
    unsigned status = 500;
    std::string content_type;  // "text/html; charset=utf-8" or "application/json"
    std::string body;
    bool close_connection = false;  // downstream framing errors must close
    unsigned retry_after_seconds = 0;  // set for 503; 0 = no Retry-After header
};

// request_id is echoed in the page so people can quote it to support.
error_response make_error_response(const proxy_error& err, page_language lang, page_format fmt,
                                   std::string_view request_id);

}  // namespace anteroom::proxy
