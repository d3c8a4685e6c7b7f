#pragma once
// The TLS signal: does the connection's JA4 (client_hello.hpp) contradict the browser its
// User-Agent claims? Decided on the [[bot_detect.tls_family]] table of the config: a Chrome
// User-Agent over Python's or Firefox's TLS stack is a mismatch; a JA4 that no family lists
// says nothing (new browser versions, TLS-intercepting middleboxes, unusual builds).

#include <string_view>

#include "bot_detect/request_facts.hpp"
#include "common/config.hpp"

namespace anteroom::bot_detect {

// Glob match of a JA4 pattern: '*' matches any run of characters (also none), '?' any one.
bool ja4_matches(std::string_view pattern, std::string_view ja4);

// Which family of the table lists `ja4`, in table order; nullptr when none does.
const bot_detect_config::tls_family* find_tls_family(const bot_detect_config& c, std::string_view ja4);

// True when `claimed` is chromium, firefox or safari, `ja4` belongs to another family of the
// table and not also to the claimed one; for other_browser, when it belongs to the tool family.
// Never for an empty ja4 (no TLS on this hop) nor for User-Agents that claim no browser
// (automation, unknown, none: the header signals judge those).
bool tls_mismatch(const bot_detect_config& c, ua_family claimed, std::string_view ja4);

}  // namespace anteroom::bot_detect
