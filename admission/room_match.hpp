#pragma once
// Which room a request path belongs to. Paths are normalised first so that `/BOOK`,
// `/./book`, `//book` or `/%62ook` cannot walk around a room: percent-decoding of unreserved
// characters only (ALPHA / DIGIT / "-" / "." / "_" / "~"; "%2F" stays encoded), dot-segment
// removal (RFC 3986 §5.2.4), duplicate slashes collapsed. Case folding happens per room at
// match time (room_config::case_insensitive).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"

namespace anteroom::admission {

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

class room_matcher {
public:
    room_matcher() = default;
    explicit room_matcher(const std::vector<room_config>& rooms);  // keeps pointers into rooms

    // The room whose `paths` prefix is the longest to match the normalised path, unless one of
    // that room's `exclude` entries matches: then null (no room applies, not even a room with a
    // shorter prefix). Null when no prefix matches.
    const room_config* match(std::string_view normalized_path) const;

private:
    struct entry {
        std::string prefix;  // lower-cased when the room is case-insensitive
        const room_config* room = nullptr;
    };
    std::vector<entry> entries_;  // longest prefix first
};

}  // namespace anteroom::admission
