#include "common/path_norm.hpp"

#include <string>

namespace anteroom {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = ascii_lower(c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

bool is_unreserved(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

// Characters that may stand raw in a path besides unreserved ones (RFC 3986 pchar and '/').
bool is_raw_path_char(unsigned char c) {
    static constexpr std::string_view allowed = "!$&'()*+,;=:@/";
    return is_unreserved(c) || allowed.find(static_cast<char>(c)) != std::string_view::npos;
}

void append_escape(std::string& out, unsigned char c) {
    static constexpr char hex[] = "0123456789ABCDEF";
    out += '%';
    out += hex[c >> 4];
    out += hex[c & 0xf];
}

// Percent-decodes unreserved characters and brings every other byte into one spelling: kept
// escapes with upper-case hex, and bytes that may not stand raw in a path (non-ASCII, '"', '<',
// '|', ...) escaped, so "/b%c3%bc" and "/bü" are the same path. Rejects NUL, malformed escapes,
// raw control characters, spaces, '#' and '\' (which some servers read as '/'; browsers never
// send it raw).
std::optional<std::string> canonical_escapes(std::string_view path) {
    std::string out;
    out.reserve(path.size());
    for (std::size_t i = 0; i < path.size(); ++i) {
        const auto c = static_cast<unsigned char>(path[i]);
        if (c == '%') {
            if (i + 2 >= path.size()) {
                return std::nullopt;
            }
            const int hi = hex_value(path[i + 1]);
            const int lo = hex_value(path[i + 2]);
            if (hi < 0 || lo < 0) {
                return std::nullopt;
            }
            const auto decoded = static_cast<unsigned char>(hi * 16 + lo);
            if (decoded == 0) {
                return std::nullopt;
            }
            if (is_unreserved(decoded)) {
                out += static_cast<char>(decoded);
            } else {
                append_escape(out, decoded);
            }
            i += 2;
        } else if (c <= 0x20 || c == 0x7f || c == '#' || c == '\\') {
            return std::nullopt;
        } else if (is_raw_path_char(c)) {
            out += static_cast<char>(c);
        } else {
            append_escape(out, c);
        }
    }
    return out;
}

bool is_dot_segment(std::string_view segment) {
    return segment == "." || segment == "..";
}

// "%2F" hides a slash that a backend may decode; a dot segment behind it would then climb out of
// the path we matched ("/x%2F..%2Fbook" is "/book" to such a backend). No browser produces this.
bool hides_dot_segment(std::string_view segment) {
    std::size_t start = 0;
    bool hidden = false;
    while (true) {
        std::size_t next = segment.find("%2F", start);
        const auto piece = segment.substr(start, next == std::string_view::npos ? std::string_view::npos : next - start);
        if (is_dot_segment(piece) && (hidden || next != std::string_view::npos)) {
            return true;
        }
        if (next == std::string_view::npos) {
            return false;
        }
        hidden = true;
        start = next + 3;
    }
}

}  // namespace

std::optional<std::string> normalize_path(std::string_view path) {
    if (!path.starts_with('/')) {
        return std::nullopt;
    }
    // A query string is not part of the path: kept verbatim behind the normalised path.
    const auto query_at = path.find('?');
    const std::string_view query = query_at == std::string_view::npos ? std::string_view{} : path.substr(query_at);
    const auto canonical = canonical_escapes(path.substr(0, query_at));
    if (!canonical) {
        return std::nullopt;
    }

    // Segments after the leading '/'. Empty segments (duplicate slashes) and "." vanish, ".."
    // removes the segment before it (never above the root), as RFC 3986 §5.2.4 does after the
    // slashes are merged. A path that ends in a slash or a dot segment keeps a trailing slash.
    std::vector<std::string_view> segments;
    bool trailing_slash = false;
    std::string_view rest = std::string_view(*canonical).substr(1);
    while (true) {
        const auto slash = rest.find('/');
        const auto segment = rest.substr(0, slash);
        const bool last = slash == std::string_view::npos;
        if (hides_dot_segment(segment)) {
            return std::nullopt;
        }
        if (segment == "..") {
            if (!segments.empty()) {
                segments.pop_back();
            }
        } else if (!segment.empty() && segment != ".") {
            segments.push_back(segment);
        }
        if (last) {
            trailing_slash = segment.empty() || is_dot_segment(segment);
            break;
        }
        rest.remove_prefix(slash + 1);
    }

    std::string out;
    out.reserve(canonical->size() + query.size());
    for (const auto s : segments) {
        out += '/';
        out += s;
    }
    if (trailing_slash || segments.empty()) {
        out += '/';
    }
    out += query;
    return out;
}

bool path_has_prefix(std::string_view path, std::string_view prefix, bool case_insensitive) {
    if (prefix.empty() || prefix.size() > path.size()) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        const bool same = case_insensitive ? ascii_lower(path[i]) == ascii_lower(prefix[i]) : path[i] == prefix[i];
        if (!same) {
            return false;
        }
    }
    if (prefix.back() == '/' || path.size() == prefix.size()) {
        return true;
    }
    const auto rest = path.substr(prefix.size());
    // An encoded slash counts as a boundary too: a backend that decodes it sees "/book/x".
    return rest.front() == '/' || rest.front() == '?' ||
           (rest.size() >= 3 && rest[0] == '%' && rest[1] == '2' && ascii_lower(rest[2]) == 'f');
}

}  // namespace anteroom
