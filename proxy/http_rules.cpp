#include "proxy/http_rules.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>

// One left-to-right pass over the head, no allocation, no exceptions. CR and LF are in no
// character class, so every scan stops at them; a scan that stops at CR followed by LF has
// reached the end of its line, any other stop at CR or LF is a bare one. That keeps the
// "every line ends in CRLF" rule in the same pass as the syntax checks.

namespace anteroom::proxy {

namespace {

enum : std::uint8_t {
    cls_tchar = 1,   // token characters (RFC 9110 5.6.2)
    cls_field = 2,   // field-vchar / obs-text / SP / HTAB: allowed inside a field value
    cls_target = 4,  // anything but CTL, SP and DEL: request-target and version bytes
    cls_digit = 8,
};

constexpr std::array<std::uint8_t, 256> make_classes() {
    std::array<std::uint8_t, 256> t{};
    for (unsigned c = 0; c < 256; ++c) {
        std::uint8_t k = 0;
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        const bool digit = c >= '0' && c <= '9';
        const bool visible = (c > 0x20 && c < 0x7f) || c >= 0x80;
        if (alpha || digit) {
            k |= cls_tchar;
        }
        for (const char* s = "!#$%&'*+-.^_`|~"; *s != '\0'; ++s) {
            if (static_cast<unsigned char>(*s) == c) {
                k |= cls_tchar;
            }
        }
        if (visible || c == ' ' || c == '\t') {
            k |= cls_field;
        }
        if (visible) {
            k |= cls_target;
        }
        if (digit) {
            k |= cls_digit;
        }
        t[c] = k;
    }
    return t;
}

constexpr std::array<std::uint8_t, 256> classes = make_classes();

inline bool is(char c, std::uint8_t cls) {
    return (classes[static_cast<unsigned char>(c)] & cls) != 0;
}

inline bool is_ows(char c) {
    return c == ' ' || c == '\t';
}

inline char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

// `lower` must already be lower case.
bool iequals(std::string_view s, std::string_view lower) {
    if (s.size() != lower.size()) {
        return false;
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (ascii_lower(s[i]) != lower[i]) {
            return false;
        }
    }
    return true;
}

bool istarts_with(std::string_view s, std::string_view lower) {
    return s.size() >= lower.size() && iequals(s.substr(0, lower.size()), lower);
}

constexpr head_check fail(head_defect d, std::string_view detail) {
    return head_check{d, detail};
}

constexpr head_check unterminated_head =
    fail(head_defect::bare_cr_or_lf, "head does not end with an empty CRLF line");
constexpr head_check bare_line_end =
    fail(head_defect::bare_cr_or_lf, "CR or LF outside a CRLF pair");

enum class stop { eol, bare, end, other };

// What ended a scan at `i`.
stop stopped_at(std::string_view h, std::size_t i) {
    if (i >= h.size()) {
        return stop::end;
    }
    if (h[i] == '\r') {
        return (i + 1 < h.size() && h[i + 1] == '\n') ? stop::eol : stop::bare;
    }
    return h[i] == '\n' ? stop::bare : stop::other;
}

// A scan stopped somewhere it should not have: line-ending problems win over `otherwise`.
head_check line_defect(std::string_view h, std::size_t i, head_check otherwise) {
    switch (stopped_at(h, i)) {
    case stop::bare:
        return bare_line_end;
    case stop::end:
        return unterminated_head;
    case stop::eol:
    case stop::other:
        break;
    }
    return otherwise;
}

// authority-form (CONNECT only): uri-host ":" port, no userinfo, path, query or fragment.
bool is_authority_form(std::string_view t) {
    const std::size_t colon = t.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == t.size()) {
        return false;
    }
    for (std::size_t i = 0; i < colon; ++i) {
        if (t[i] == '/' || t[i] == '?' || t[i] == '#' || t[i] == '@') {
            return false;
        }
    }
    for (std::size_t i = colon + 1; i < t.size(); ++i) {
        if (!is(t[i], cls_digit)) {
            return false;
        }
    }
    return true;
}

bool is_absolute_form(std::string_view t) {
    std::size_t skip = 0;
    if (istarts_with(t, "http://")) {
        skip = 7;
    } else if (istarts_with(t, "https://")) {
        skip = 8;
    } else {
        return false;
    }
    // An http(s) URI needs a non-empty authority.
    return t.size() > skip && t[skip] != '/' && t[skip] != '?' && t[skip] != '#';
}

head_check check_target(std::string_view method, std::string_view target) {
    const bool connect = method == "CONNECT";
    if (connect) {
        return is_authority_form(target)
                   ? head_check{}
                   : fail(head_defect::bad_request_line, "CONNECT needs an authority-form target");
    }
    if (target[0] == '/' || is_absolute_form(target)) {
        return {};
    }
    if (target == "*") {
        return method == "OPTIONS"
                   ? head_check{}
                   : fail(head_defect::bad_request_line, "asterisk-form is only for OPTIONS");
    }
    return fail(head_defect::bad_request_line, "request-target is not origin- or absolute-form");
}

struct framing {
    bool http10 = false;
    bool cl_seen = false;
    std::uint64_t content_length = 0;
    bool te_seen = false;
    bool te_chunked_seen = false;
    bool te_last_chunked = false;
    unsigned hosts = 0;
};

// Content-Length = 1*DIGIT, also as a list ("5, 5"); every element of every line must agree.
bool add_content_length(std::string_view v, framing& f) {
    constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    std::size_t i = 0;
    for (;;) {
        const std::size_t first = i;
        std::uint64_t x = 0;
        while (i < v.size() && is(v[i], cls_digit)) {
            const auto d = static_cast<std::uint64_t>(v[i] - '0');
            if (x > (max - d) / 10) {
                return false;
            }
            x = x * 10 + d;
            ++i;
        }
        if (i == first || (f.cl_seen && x != f.content_length)) {
            return false;
        }
        f.cl_seen = true;
        f.content_length = x;
        while (i < v.size() && is_ows(v[i])) {
            ++i;
        }
        if (i == v.size()) {
            return true;
        }
        if (v[i] != ',') {
            return false;
        }
        ++i;
        while (i < v.size() && is_ows(v[i])) {
            ++i;
        }
    }
}

// All Transfer-Encoding lines form one list of tokens. Empty elements, parameters, quoting or
// a repeated "chunked" are rejected here; "chunked is last" is checked once all lines are in.
bool add_transfer_encoding(std::string_view v, framing& f) {
    f.te_seen = true;
    std::size_t i = 0;
    for (;;) {
        const std::size_t first = i;
        while (i < v.size() && is(v[i], cls_tchar)) {
            ++i;
        }
        if (i == first) {
            return false;
        }
        const bool chunked = iequals(v.substr(first, i - first), "chunked");
        if (chunked && f.te_chunked_seen) {
            return false;
        }
        f.te_chunked_seen = f.te_chunked_seen || chunked;
        f.te_last_chunked = chunked;
        while (i < v.size() && is_ows(v[i])) {
            ++i;
        }
        if (i == v.size()) {
            return true;
        }
        if (v[i] != ',') {
            return false;
        }
        ++i;
        while (i < v.size() && is_ows(v[i])) {
            ++i;
        }
    }
}

enum class field { other, content_length, transfer_encoding, host };

field classify(std::string_view name) {
    switch (name.size()) {
    case 4:
        return iequals(name, "host") ? field::host : field::other;
    case 14:
        return iequals(name, "content-length") ? field::content_length : field::other;
    case 17:
        return iequals(name, "transfer-encoding") ? field::transfer_encoding : field::other;
    default:
        return field::other;
    }
}

// request-line = method SP request-target SP HTTP-version CRLF. Sets `i` past the CRLF.
head_check check_request_line(std::string_view h, std::size_t& i, framing& f) {
    constexpr head_check bad_shape =
        fail(head_defect::bad_request_line, "request line is not method SP target SP version");
    while (i < h.size() && is(h[i], cls_tchar)) {
        ++i;
    }
    const std::string_view method = h.substr(0, i);
    if (method.empty() || stopped_at(h, i) != stop::other || h[i] != ' ') {
        return line_defect(h, i, fail(head_defect::bad_request_line, "method is not a token"));
    }
    const std::size_t target_start = ++i;
    while (i < h.size() && is(h[i], cls_target)) {
        ++i;
    }
    const std::string_view target = h.substr(target_start, i - target_start);
    if (target.empty() || stopped_at(h, i) != stop::other || h[i] != ' ') {
        return line_defect(h, i, bad_shape);
    }
    const std::size_t version_start = ++i;
    while (i < h.size() && is(h[i], cls_target)) {
        ++i;
    }
    const std::string_view version = h.substr(version_start, i - version_start);
    if (stopped_at(h, i) != stop::eol) {
        return line_defect(h, i, bad_shape);
    }
    i += 2;
    if (version == "HTTP/1.0") {
        f.http10 = true;
    } else if (version != "HTTP/1.1") {
        return fail(head_defect::bad_request_line, "HTTP version is not HTTP/1.0 or HTTP/1.1");
    }
    return check_target(method, target);
}

// One field line starting at `i` (not at the empty line). Sets `i` past its CRLF.
head_check check_field_line(std::string_view h, std::size_t& i, framing& f) {
    const std::size_t name_start = i;
    while (i < h.size() && is(h[i], cls_tchar)) {
        ++i;
    }
    const std::string_view name = h.substr(name_start, i - name_start);
    if (stopped_at(h, i) != stop::other || h[i] != ':') {
        if (i < h.size() && is_ows(h[i])) {
            return fail(head_defect::bad_header_name, "whitespace between field name and colon");
        }
        return line_defect(h, i, fail(head_defect::bad_header_name, "field name is not a token"));
    }
    if (name.empty()) {
        return fail(head_defect::bad_header_name, "empty field name");
    }
    const field kind = classify(name);
    ++i;
    while (i < h.size() && is_ows(h[i])) {
        ++i;
    }
    const std::size_t value_start = i;
    std::size_t value_end = i;  // one past the last non-OWS byte: trailing OWS is trimmed
    while (i < h.size() && is(h[i], cls_field)) {
        if (!is_ows(h[i])) {
            value_end = i + 1;
        }
        ++i;
    }
    if (stopped_at(h, i) != stop::eol) {
        // The framing fields get their own defect so "chunked\x0b" reads as what it is.
        switch (kind) {
        case field::content_length:
            return line_defect(h, i, fail(head_defect::bad_content_length,
                                          "control character in Content-Length"));
        case field::transfer_encoding:
            return line_defect(h, i, fail(head_defect::bad_transfer_encoding,
                                          "control character in Transfer-Encoding"));
        case field::host:
        case field::other:
            break;
        }
        return line_defect(h, i, fail(head_defect::bad_header_value,
                                      "NUL, control character or DEL in field value"));
    }
    i += 2;
    const std::string_view value = h.substr(value_start, value_end - value_start);
    switch (kind) {
    case field::content_length:
        if (!add_content_length(value, f)) {
            return fail(head_defect::bad_content_length,
                        "Content-Length not 1*DIGIT, overflowing, or differing");
        }
        break;
    case field::transfer_encoding:
        if (!add_transfer_encoding(value, f)) {
            return fail(head_defect::bad_transfer_encoding,
                        "Transfer-Encoding is not a plain token list with one chunked");
        }
        break;
    case field::host:
        ++f.hosts;
        break;
    case field::other:
        break;
    }
    return {};
}

head_check check_framing(const framing& f) {
    if (f.te_seen && f.http10) {
        return fail(head_defect::bad_transfer_encoding, "Transfer-Encoding in an HTTP/1.0 request");
    }
    if (f.te_seen && f.cl_seen) {
        return fail(head_defect::cl_and_te, "both Content-Length and Transfer-Encoding");
    }
    if (f.te_seen && !f.te_last_chunked) {
        return fail(head_defect::bad_transfer_encoding, "final transfer coding is not chunked");
    }
    if (f.hosts > 1 || (!f.http10 && f.hosts == 0)) {
        return fail(head_defect::missing_host, "missing or duplicate Host");
    }
    return {};
}

}  // namespace

head_check check_request_head(std::string_view head, std::size_t max_fields) {
    framing f;
    std::size_t i = 0;
    if (auto r = check_request_line(head, i, f); !r.ok()) {
        return r;
    }
    std::size_t fields = 0;
    for (;;) {
        if (i >= head.size()) {
            return unterminated_head;
        }
        const char c = head[i];
        if (c == '\r' || c == '\n') {
            if (stopped_at(head, i) != stop::eol) {
                return bare_line_end;
            }
            break;  // the empty line; anything after it is not part of the head
        }
        if (is_ows(c)) {
            return fail(head_defect::obs_fold, "field line starts with whitespace (obs-fold)");
        }
        if (++fields > max_fields) {
            return fail(head_defect::too_many_headers, "more field lines than allowed");
        }
        if (auto r = check_field_line(head, i, f); !r.ok()) {
            return r;
        }
    }
    return check_framing(f);
}

std::size_t find_head_end(std::string_view bytes) {
    // Every terminator is LF [CR] LF: "\r\n\r\n", "\n\n", "\r\n\n" and "\n\r\n". In a valid
    // head the first such match is the real end, since only the empty line starts with CR.
    const char* d = bytes.data();
    const std::size_t n = bytes.size();
    std::size_t i = 0;
    while (i < n) {
        const void* hit = std::memchr(d + i, '\n', n - i);
        if (hit == nullptr) {
            return 0;
        }
        const auto lf = static_cast<std::size_t>(static_cast<const char*>(hit) - d);
        if (lf + 1 < n && d[lf + 1] == '\n') {
            return lf + 2;
        }
        if (lf + 2 < n && d[lf + 1] == '\r' && d[lf + 2] == '\n') {
            return lf + 3;
        }
        i = lf + 1;
    }
    return 0;
}

std::string_view to_string(head_defect d) {
    switch (d) {
    case head_defect::none:
        return "none";
    case head_defect::bad_request_line:
        return "bad_request_line";
    case head_defect::bare_cr_or_lf:
        return "bare_cr_or_lf";
    case head_defect::obs_fold:
        return "obs_fold";
    case head_defect::bad_header_name:
        return "bad_header_name";
    case head_defect::bad_header_value:
        return "bad_header_value";
    case head_defect::cl_and_te:
        return "cl_and_te";
    case head_defect::bad_content_length:
        return "bad_content_length";
    case head_defect::bad_transfer_encoding:
        return "bad_transfer_encoding";
    case head_defect::missing_host:
        return "missing_host";
    case head_defect::too_many_headers:
        return "too_many_headers";
    }
    return "unknown";
}

std::optional<std::string> https_location(std::string_view host, std::uint16_t port, std::string_view target) {
    std::string_view name = host;
    if (name.starts_with('[')) {
        const auto close = name.find(']');
        if (close == std::string_view::npos) {
            return std::nullopt;
        }
        const auto literal = name.substr(1, close - 1);
        if (literal.empty() || literal.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) {
            return std::nullopt;
        }
        name = name.substr(0, close + 1);
    } else {
        if (const auto colon = name.rfind(':'); colon != std::string_view::npos) {
            name = name.substr(0, colon);
        }
        const bool ok = !name.empty() && name.size() <= 253 && std::all_of(name.begin(), name.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
        });
        if (!ok) {
            return std::nullopt;
        }
    }
    if (target.starts_with("http://") || target.starts_with("https://")) {
        const auto after_scheme = target.find("//") + 2;
        const auto slash = target.find_first_of("/?", after_scheme);
        target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
    if (target.empty() || target == "*") {
        target = "/";
    }
    std::string out = "https://";
    out += name;
    if (port != 0 && port != 443) {
        out += ':';
        out += std::to_string(port);
    }
    if (target.front() != '/') {
        out += '/';
    }
    out += target;
    return out;
}

}  // namespace anteroom::proxy
