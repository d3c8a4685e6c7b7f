#include "admission/room_match.hpp"

#include <algorithm>

namespace anteroom::admission {

room_matcher::room_matcher(const std::vector<room_config>& rooms) {
    for (const auto& room : rooms) {
        for (const auto& p : room.paths) {
            entry e{p, &room};
            if (room.case_insensitive) {
                std::transform(e.prefix.begin(), e.prefix.end(), e.prefix.begin(), ascii_lower);
            }
            entries_.push_back(std::move(e));
        }
    }
    std::stable_sort(entries_.begin(), entries_.end(),
                     [](const entry& a, const entry& b) { return a.prefix.size() > b.prefix.size(); });
}

const room_config* room_matcher::match(std::string_view normalized_path) const {
    // The most specific room decides; its own exclude list exempts a path from it (and from
    // every room, so /book/static/ excluded from "book" is not caught by a room on "/").
    for (const auto& e : entries_) {
        if (!path_has_prefix(normalized_path, e.prefix, e.room->case_insensitive)) {
            continue;
        }
        for (const auto& ex : e.room->exclude) {
            if (path_has_prefix(normalized_path, ex, e.room->case_insensitive)) {
                return nullptr;
            }
        }
        return e.room;
    }
    return nullptr;
}

}  // namespace anteroom::admission
