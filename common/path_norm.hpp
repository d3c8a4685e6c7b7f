#pragma once
// Request paths in one spelling, so that `/BOOK`, `/./book`, `//book` or `/%62ook` cannot walk
// around a room or a route: percent-decoding of unreserved characters only (ALPHA / DIGIT /
// "-" / "." / "_" / "~"; "%2F" stays encoded), dot-segment removal (RFC 3986 §5.2.4),
// duplicate slashes collapsed. Case folding is left to the matcher (rooms may be case-sensitive).
// Used by the config loader (room paths) and the admission filter (request paths).

#include <optional>
#include <string>
#include <string_view>

namespace anteroom {

inline char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

// The normalised form of an origin-form path (a query string is kept verbatim behind it). Other
// escapes keep their encoding with upper-case hex, and bytes that may not stand raw in a path
// (non-ASCII, '"', '|', ...) are escaped, so each path has one spelling. nullopt for paths that
// are not acceptable at all: not starting with '/', a malformed or NUL percent escape, raw
// control characters, space, '#' or '\', or a dot segment next to an encoded slash
// ("/x%2F..%2Fbook" is "/book" to a backend that decodes %2F).
std::optional<std::string> normalize_path(std::string_view path);

// Prefix match on segment boundaries: "/book" matches "/book", "/book/", "/book/x",
// "/book?..." and "/book%2Fx" (a backend may decode the slash) but not "/booking". A prefix
// ending in '/' matches everything below it.
bool path_has_prefix(std::string_view path, std::string_view prefix, bool case_insensitive);

}  // namespace anteroom
