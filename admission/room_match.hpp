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

// The normalised form of an origin-form path (no query string). nullopt for paths that are
// not acceptable at all: not starting with '/', a malformed or NUL percent escape.
std::optional<std::string> normalize_path(std::string_view path);

// Prefix match on segment boundaries: "/book" matches "/book", "/book/", "/book/x" and
// "/book?..." but not "/booking". A prefix ending in '/' matches everything below it.
bool path_has_prefix(std::string_view path, std::string_view prefix, bool case_insensitive);

class room_matcher {
public:
    room_matcher() = default;
    explicit room_matcher(const std::vector<room_config>& rooms);  // keeps pointers into rooms

    // The room whose longest `paths` prefix matches the normalised path and none of whose
    // `exclude` entries match; null when no room applies.
    const room_config* match(std::string_view normalized_path) const;

private:
    struct entry {
        std::string prefix;  // lower-cased when the room is case-insensitive
        const room_config* room = nullptr;
    };
    std::vector<entry> entries_;  // longest prefix first
};

}  // namespace anteroom::admission
