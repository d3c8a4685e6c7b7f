#pragma once
// Small pieces of HTTP field handling shared by the proxy, the waiting room and the booking
// backend: cookies, query parameters, percent-encoding and the page language.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/net.hpp"

namespace anteroom {

// Without leading and trailing optional whitespace (spaces and tabs, RFC 9110 OWS).
std::string_view trim_ows(std::string_view s);

// The value of cookie `name` from the request's Cookie header field(s) (RFC 6265 §5.4: pairs
// separated by "; "). The first occurrence wins; a quoted value is returned without quotes.
std::optional<std::string_view> cookie_value(const http::fields& f, std::string_view name);

// The percent-decoded value of query parameter `name` in a request target ("/p?a=1&b=2") or in
// an application/x-www-form-urlencoded body ("a=1&b=2"); '+' is a space. nullopt when absent or
// when its escapes are malformed.
std::optional<std::string> query_param(std::string_view target, std::string_view name);
std::optional<std::string> form_param(std::string_view body, std::string_view name);

// A Set-Cookie value for our own cookies: Path=/, Max-Age (0 deletes), HttpOnly, SameSite=Lax,
// and Secure when asked.
std::string set_cookie_header(std::string_view name, std::string_view value, std::int64_t max_age_s, bool secure);

// Text for HTML element content and quoted attribute values: & < > " ' as character references.
std::string html_escape(std::string_view text);
void append_html_escaped(std::string& out, std::string_view text);

// Percent-encodes everything but unreserved characters (for a URL inside a query parameter).
std::string url_encode_component(std::string_view text);

enum class ui_language { de, en };
// German unless Accept-Language prefers English (q-values honoured; "de" wins ties).
ui_language pick_language(std::string_view accept_language);

}  // namespace anteroom
