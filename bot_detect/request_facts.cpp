#include "bot_detect/request_facts.hpp"

#include <algorithm>
#include <array>

namespace anteroom::bot_detect {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// Tools, HTTP libraries, crawlers and automated browsers (lowercase substrings), for User-Agents
// that do not even claim to be a browser ...
constexpr std::array<std::string_view, 32> tool_markers{
    "curl/",          "wget/",        "python-requests", "python-urllib", "python-httpx", "aiohttp",
    "go-http-client", "java/",        "okhttp",          "apache-httpclient", "libwww-perl", "scrapy",
    "httpie",         "node-fetch",   "axios/",          "undici",       "postmanruntime", "insomnia",
    "k6/",            "locust",       "apachebench",     "wrk",          "httpclient",     "guzzle",
    "anteroom-bench", "headless",     "phantomjs",       "bot/",         "spider",         "crawler",
    "selenium",       "puppeteer"};
constexpr std::size_t max_classified_ua = 512;  // longer User-Agents are judged by their start

// Accept-Encoding list contains `coding` as a whole token.
bool lists_coding(std::string_view list, std::string_view coding) {
    std::size_t i = 0;
    while (i < list.size()) {
        while (i < list.size() && (list[i] == ' ' || list[i] == ',' || list[i] == '\t')) {
            ++i;
        }
        std::size_t j = i;
        while (j < list.size() && list[j] != ',' && list[j] != ';' && list[j] != ' ') {
            ++j;
        }
        if (iequals(list.substr(i, j - i), coding)) {
            return true;
        }
        while (j < list.size() && list[j] != ',') {
            ++j;
        }
        i = j;
    }
    return false;
}

void add_letter(request_facts& f, std::size_t& n, char c) {
    for (std::size_t i = 0; i < n; ++i) {
        if (f.order[i] == c) {
            return;
        }
    }
    if (n < 5) {
        f.order[n++] = c;
    }
}

// What the product tokens ("Name/version") of a browser-like User-Agent say.
struct ua_tokens {
    bool firefox = false, gecko = false, chrome = false, crios = false, fxios = false, safari = false,
         version = false, automation = false;
};

void note_token(ua_tokens& t, std::string_view name) {
    char buf[32];
    if (name.empty() || name.size() > sizeof buf) {
        return;
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        buf[i] = lower(name[i]);
    }
    const std::string_view n(buf, name.size());
    t.firefox |= n == "firefox";
    t.gecko |= n == "gecko";
    t.chrome |= n == "chrome" || n == "chromium" || n == "edg";
    t.crios |= n == "crios";
    t.fxios |= n == "fxios";
    t.safari |= n == "safari";
    t.version |= n == "version";
    // Headless browsers, crawlers (Googlebot, bingbot, Baiduspider, ...).
    t.automation |= n == "headlesschrome" || n == "phantomjs" || (n.size() > 3 && n.ends_with("bot")) ||
                    n.find("spider") != std::string_view::npos || n.find("crawler") != std::string_view::npos;
}

}  // namespace

std::string_view to_string(ua_family f) {
    switch (f) {
        case ua_family::none: return "none";
        case ua_family::automation: return "automation";
        case ua_family::chromium: return "chromium";
        case ua_family::firefox: return "firefox";
        case ua_family::safari: return "safari";
        case ua_family::other_browser: return "other_browser";
        case ua_family::unknown: return "unknown";
    }
    return "unknown";
}

ua_family classify_user_agent(std::string_view ua) {
    while (!ua.empty() && (ua.front() == ' ' || ua.front() == '\t')) {
        ua.remove_prefix(1);
    }
    if (ua.empty()) {
        return ua_family::none;
    }
    ua = ua.substr(0, max_classified_ua);
    if (!istarts_with(ua, "mozilla/")) {
        // Not even claiming to be a browser: a known tool, or something of its own.
        char buf[max_classified_ua];
        for (std::size_t i = 0; i < ua.size(); ++i) {
            buf[i] = lower(ua[i]);
        }
        const std::string_view l(buf, ua.size());
        return std::any_of(tool_markers.begin(), tool_markers.end(),
                           [&](std::string_view m) { return l.find(m) != std::string_view::npos; })
                   ? ua_family::automation
                   : ua_family::unknown;
    }
    // One pass over the product tokens: each '/' ends a name that starts after a space, '(',
    // ';' or ','.
    ua_tokens t;
    for (std::size_t slash = ua.find('/'); slash != std::string_view::npos; slash = ua.find('/', slash + 1)) {
        std::size_t start = slash;
        while (start > 0 && ua[start - 1] != ' ' && ua[start - 1] != '(' && ua[start - 1] != ';' && ua[start - 1] != ',') {
            --start;
        }
        note_token(t, ua.substr(start, slash - start));
    }
    if (t.automation) {
        return ua_family::automation;
    }
    if (t.firefox && t.gecko) {
        return ua_family::firefox;
    }
    // CriOS (Chrome on iOS) runs on WebKit and sends what Safari sends.
    if (t.chrome && !t.crios) {
        return ua_family::chromium;
    }
    if (t.safari && (t.version || t.crios || t.fxios)) {
        return ua_family::safari;
    }
    return ua_family::other_browser;
}

std::uint32_t fnv1a32(std::string_view s, std::uint32_t h) {
    for (char c : s) {
        h ^= static_cast<std::uint8_t>(c);
        h *= 16777619u;
    }
    return h;
}

std::uint64_t fnv1a64(std::string_view s, std::uint64_t h) {
    for (char c : s) {
        h ^= static_cast<std::uint8_t>(c);
        h *= 1099511628211ull;
    }
    return h;
}

request_facts extract_facts(std::span<const header_ref> headers) {
    request_facts f;
    std::size_t letters = 0;
    std::uint32_t sig = 2166136261u;
    for (const auto& h : headers) {
        const auto n = h.name;
        if (n.empty()) {
            continue;
        }
        // The signature: each name's length, first and last letter, in order (cheap, and enough
        // to tell one client's set of fields and their order from another's).
        for (const std::uint32_t part : {static_cast<std::uint32_t>(n.size()), static_cast<std::uint32_t>(lower(n.front())),
                                         static_cast<std::uint32_t>(lower(n.back()))}) {
            sig ^= part;
            sig *= 16777619u;
        }
        // Compare only names of a matching length.
        switch (n.size()) {
            case 6:
                if (iequals(n, "accept")) {
                    f.present |= has::accept;
                    add_letter(f, letters, 'A');
                } else if (iequals(n, "cookie")) {
                    f.present |= has::cookie;
                }
                break;
            case 9:
                if (iequals(n, "sec-ch-ua")) {
                    f.present |= has::sec_ch_ua;
                }
                break;
            case 10:
                if (iequals(n, "user-agent")) {
                    if (f.user_agent.empty()) {
                        f.user_agent = h.value;
                    }
                    add_letter(f, letters, 'U');
                }
                break;
            case 14:
                if (istarts_with(n, "sec-fetch-")) {
                    const auto rest = n.substr(10);
                    f.present |= iequals(rest, "site") ? has::sec_fetch_site : 0;
                    f.present |= iequals(rest, "mode") ? has::sec_fetch_mode : 0;
                    f.present |= iequals(rest, "dest") ? has::sec_fetch_dest : 0;
                    add_letter(f, letters, 'F');
                }
                break;
            case 15:
                if (iequals(n, "accept-language")) {
                    f.present |= h.value.empty() ? 0 : has::accept_language;
                    add_letter(f, letters, 'L');
                } else if (iequals(n, "accept-encoding")) {
                    f.present |= has::accept_encoding;
                    f.present |= lists_coding(h.value, "gzip") ? has::gzip : 0;
                    f.present |= lists_coding(h.value, "br") ? has::br : 0;
                    add_letter(f, letters, 'E');
                }
                break;
            default:
                break;
        }
    }
    f.header_signature = sig;
    f.family = classify_user_agent(f.user_agent);
    f.ua_hash = f.user_agent.empty() ? 0 : fnv1a32(f.user_agent);
    return f;
}

std::string_view expected_order(ua_family f) {
    switch (f) {
        case ua_family::chromium: return "UAFEL";
        case ua_family::firefox: return "UALEF";
        case ua_family::safari: return "AFLUE";
        default: return "";
    }
}

bool order_matches(ua_family f, std::string_view order) {
    const auto want = expected_order(f);
    if (want.empty()) {
        return true;
    }
    std::size_t at = 0;
    for (char c : order) {
        if (c == 0) {
            break;
        }
        const auto pos = want.find(c, at);
        if (pos == std::string_view::npos) {
            return false;
        }
        at = pos + 1;
    }
    return true;
}

}  // namespace anteroom::bot_detect
