#include "bot_detect/tls_family.hpp"

#include <algorithm>
#include <optional>

namespace anteroom::bot_detect {

namespace {

using family_name = bot_detect_config::tls_family_name;

std::optional<family_name> claimed_family(ua_family f) {
    switch (f) {
        case ua_family::chromium: return family_name::chromium;
        case ua_family::firefox: return family_name::firefox;
        case ua_family::safari: return family_name::safari;
        default: return std::nullopt;
    }
}

bool lists(const bot_detect_config::tls_family& f, std::string_view ja4) {
    return std::any_of(f.ja4.begin(), f.ja4.end(), [&](const std::string& p) { return ja4_matches(p, ja4); });
}

}  // namespace

// Iterative, backtracking only to the last '*': O(pattern × text) at worst, and patterns and
// fingerprints are at most 64 characters.
bool ja4_matches(std::string_view pattern, std::string_view ja4) {
    std::size_t p = 0;
    std::size_t t = 0;
    std::size_t star = std::string_view::npos;  // position of the last '*' in the pattern
    std::size_t resume = 0;                     // where the text continues after that '*'
    while (t < ja4.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == ja4[t])) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            resume = t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') {
        ++p;
    }
    return p == pattern.size();
}

const bot_detect_config::tls_family* find_tls_family(const bot_detect_config& c, std::string_view ja4) {
    for (const auto& f : c.tls_families) {
        if (lists(f, ja4)) {
            return &f;
        }
    }
    return nullptr;
}

bool tls_mismatch(const bot_detect_config& c, ua_family claimed, std::string_view ja4) {
    if (ja4.empty()) {
        return false;
    }
    if (claimed == ua_family::other_browser) {
        return std::any_of(c.tls_families.begin(), c.tls_families.end(),
                           [&](const auto& f) { return f.name == family_name::tool && lists(f, ja4); });
    }
    const auto own = claimed_family(claimed);
    if (!own) {
        return false;
    }
    bool other = false;
    for (const auto& f : c.tls_families) {
        if (lists(f, ja4)) {
            if (f.name == *own) {
                return false;  // families may overlap; the claimed one wins
            }
            other = true;
        }
    }
    return other;
}

}  // namespace anteroom::bot_detect
