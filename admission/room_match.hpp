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
#include "common/path_norm.hpp"

namespace anteroom::admission {

using anteroom::normalize_path;
using anteroom::path_has_prefix;

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
