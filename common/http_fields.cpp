#include "common/http_fields.hpp"

#include <algorithm>
#include <charconv>

namespace anteroom {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

}  // namespace

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

std::optional<std::string_view> cookie_value(const http::fields& f, std::string_view name) {
    for (auto [it, end] = f.equal_range(http::field::cookie); it != end; ++it) {
        std::string_view rest = it->value();
        while (!rest.empty()) {
            const auto semi = rest.find(';');
            const std::string_view pair = trim_ows(rest.substr(0, semi));
            rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
            const auto eq = pair.find('=');
            if (eq == std::string_view::npos || trim_ows(pair.substr(0, eq)) != name) {
                continue;
            }
            std::string_view value = trim_ows(pair.substr(eq + 1));
            if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
                value = value.substr(1, value.size() - 2);
            }
            return value;
        }
    }
    return std::nullopt;
}

std::optional<std::string> query_param(std::string_view target, std::string_view name) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) {
        return std::nullopt;
    }
    std::string_view rest = target.substr(q + 1);
    return form_param(rest.substr(0, rest.find('#')), name);
}

std::optional<std::string> form_param(std::string_view rest, std::string_view name) {
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        const auto eq = pair.find('=');
        if (pair.substr(0, eq) != name) {
            continue;
        }
        const std::string_view raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        std::string out;
        out.reserve(raw.size());
        for (std::size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] == '+') {
                out += ' ';
            } else if (raw[i] != '%') {
                out += raw[i];
            } else {
                if (i + 2 >= raw.size()) {
                    return std::nullopt;
                }
                const int hi = hex_value(raw[i + 1]);
                const int lo = hex_value(raw[i + 2]);
                if (hi < 0 || lo < 0) {
                    return std::nullopt;
                }
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
            }
        }
        return out;
    }
    return std::nullopt;
}

std::string url_encode_component(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 15];
        }
    }
    return out;
}

ui_language pick_language(std::string_view accept_language) {
    // The best q of any range naming the language ("en", "en-GB"); "*" states no preference.
    double q_de = 0;
    double q_en = 0;
    while (!accept_language.empty()) {
        const auto comma = accept_language.find(',');
        std::string_view item = accept_language.substr(0, comma);
        accept_language.remove_prefix(comma == std::string_view::npos ? accept_language.size() : comma + 1);

        const auto semi = item.find(';');
        std::string_view tag = item.substr(0, semi);
        std::string_view params = semi == std::string_view::npos ? std::string_view{} : item.substr(semi + 1);
        double q = 1;
        bool malformed = false;
        while (!params.empty()) {
            const auto next = params.find(';');
            std::string_view param = params.substr(0, next);
            params.remove_prefix(next == std::string_view::npos ? params.size() : next + 1);
            param.remove_prefix(std::min(param.size(), param.find_first_not_of(" \t")));
            param = param.substr(0, param.find_last_not_of(" \t") + 1);
            if (param.size() >= 2 && (param[0] | 0x20) == 'q' && param[1] == '=') {
                const auto [end, ec] = std::from_chars(param.data() + 2, param.data() + param.size(), q);
                malformed = ec != std::errc{} || end != param.data() + param.size() || q < 0 || q > 1;
            }
        }
        if (malformed) {
            continue;  // a weight we cannot read is no preference
        }
        tag.remove_prefix(std::min(tag.size(), tag.find_first_not_of(" \t")));
        tag = tag.substr(0, tag.find_last_not_of(" \t") + 1);
        const auto names = [&](std::string_view lang) {
            return tag.size() >= 2 && (tag[0] | 0x20) == lang[0] && (tag[1] | 0x20) == lang[1] &&
                   (tag.size() == 2 || tag[2] == '-');
        };
        if (names("de")) {
            q_de = std::max(q_de, q);
        } else if (names("en")) {
            q_en = std::max(q_en, q);
        }
    }
    return q_en > q_de ? ui_language::en : ui_language::de;
}

std::string set_cookie_header(std::string_view name, std::string_view value, std::int64_t max_age_s, bool secure) {
    std::string c;
    c.reserve(name.size() + value.size() + 80);
    c.append(name).append("=").append(value).append("; Path=/; Max-Age=");
    c.append(std::to_string(max_age_s > 0 ? max_age_s : 0)).append("; HttpOnly; SameSite=Lax");
    if (secure) {
        c.append("; Secure");
    }
    return c;
}

void append_html_escaped(std::string& out, std::string_view text) {
    for (const char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
}

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    append_html_escaped(out, text);
    return out;
}

}  // namespace anteroom
