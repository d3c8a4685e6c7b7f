#include "bench/tool/surge_http.hpp"

#include <array>
#include <charconv>

#include "bench/tool/surge_model.hpp"

namespace anteroom::bench {

namespace {

constexpr std::string_view chrome_ua =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
constexpr std::string_view chrome_win_ua =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
constexpr std::string_view headless_ua =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36";
constexpr std::string_view firefox_ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
constexpr std::string_view chrome_ch = "\"Google Chrome\";v=\"131\", \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"";
constexpr std::array<std::string_view, 5> languages{
    "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7", "de-DE,de;q=0.9", "en-GB,en;q=0.9,de;q=0.8",
    "tr-TR,tr;q=0.9,de-DE;q=0.8,de;q=0.7,en;q=0.6", "de-AT,de;q=0.9,en;q=0.8"};
constexpr std::string_view nav_accept =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8";

void line(std::string& out, std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append("\r\n");
}

// Firefox's own order: language and encoding before the fetch metadata, no client hints (the
// ticket farmer's HeadlessChrome sends the same set).
void firefox_headers(std::string& out, const target_endpoint& to, const request_spec& r, std::string_view ua,
                     std::string_view language) {
    const bool form = r.kind == request_kind::form_submit;
    const bool nav = r.kind == request_kind::page || form;
    line(out, "User-Agent", ua);
    line(out, "Accept", nav ? "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" : "application/json");
    line(out, "Accept-Language", language);
    line(out, "Accept-Encoding", "gzip, deflate, br, zstd");
    if (r.kind == request_kind::api_post) {
        line(out, "Content-Type", "application/json");
        line(out, "Origin", "http://" + to.host_header);
    }
    if (!nav || form) {
        line(out, "Referer", "http://" + to.host_header + to.path);
    }
    if (nav) {
        line(out, "Upgrade-Insecure-Requests", "1");
    }
    line(out, "Sec-Fetch-Dest", nav ? "document" : "empty");
    line(out, "Sec-Fetch-Mode", nav ? "navigate" : "cors");
    line(out, "Sec-Fetch-Site", nav && !form ? "none" : "same-origin");
    if (nav && !form) {
        line(out, "Sec-Fetch-User", "?1");
    }
}

// A real browser: Chromium (with client hints) or Firefox (without), Sec-Fetch-* always.
void browser_headers(std::string& out, const target_endpoint& to, const request_spec& r, std::string_view ua,
                     bool chromium, std::string_view language) {
    if (!chromium) {
        firefox_headers(out, to, r, ua, language);
        return;
    }
    const bool form = r.kind == request_kind::form_submit;  // form.submit() from the page's script
    const bool nav = r.kind == request_kind::page || form;
    if (chromium) {
        line(out, "sec-ch-ua", chrome_ch);
        line(out, "sec-ch-ua-mobile", "?0");
        line(out, "sec-ch-ua-platform", ua.find("Windows") != std::string_view::npos ? "\"Windows\"" : "\"Linux\"");
    }
    if (nav) {
        line(out, "Upgrade-Insecure-Requests", "1");
    }
    line(out, "User-Agent", ua);
    line(out, "Accept", nav ? nav_accept : "application/json");
    if (r.kind == request_kind::api_post) {
        line(out, "Content-Type", "application/json");
        line(out, "Origin", "http://" + to.host_header);
    }
    line(out, "Sec-Fetch-Site", nav && !form ? "none" : "same-origin");
    line(out, "Sec-Fetch-Mode", nav ? "navigate" : "cors");
    if (nav && !form) {
        line(out, "Sec-Fetch-User", "?1");  // a script's submit has no user activation
    }
    line(out, "Sec-Fetch-Dest", nav ? "document" : "empty");
    if (!nav || form) {
        line(out, "Referer", "http://" + to.host_header + to.path);
    }
    line(out, "Accept-Encoding", "gzip, deflate, br, zstd");
    line(out, "Accept-Language", language);
}

}  // namespace

void build_request(std::string& out, cohort_kind kind, const target_endpoint& to, const request_spec& r) {
    const bool post = r.kind == request_kind::api_post;
    out.append(post ? "POST " : "GET ").append(r.path).append(" HTTP/1.1\r\n");
    line(out, "Host", to.host_header);
    line(out, "Connection", "keep-alive");
    const auto language = languages[r.variant % languages.size()];
    switch (kind) {
        case cohort_kind::human:
        case cohort_kind::cookie_dropper:
            if (r.variant % 5 == 4) {
                browser_headers(out, to, r, firefox_ua, false, language);
            } else {
                browser_headers(out, to, r, (r.variant / 5) % 3 == 0 ? chrome_ua : chrome_win_ua, true, language);
            }
            break;
        case cohort_kind::botnet:
        case cohort_kind::status_hammerer:
            browser_headers(out, to, r, chrome_win_ua, true, language);
            break;
        case cohort_kind::ticket_farmer:
            browser_headers(out, to, r, headless_ua, false, "en-US");
            break;
        case cohort_kind::header_spoofer:
            // A browser's User-Agent, but none of the headers a browser sends with it.
            line(out, "User-Agent", chrome_win_ua);
            line(out, "Accept", r.kind == request_kind::page ? "text/html" : "application/json");
            if (post) {
                line(out, "Content-Type", "application/json");
            }
            line(out, "Accept-Encoding", "gzip, deflate");
            break;
        case cohort_kind::naive_flood:
            line(out, "User-Agent", "python-requests/2.31.0");
            line(out, "Accept", "*/*");
            line(out, "Accept-Encoding", "gzip, deflate");
            if (post) {
                line(out, "Content-Type", "application/json");
            }
            break;
    }
    if (!r.cookies.empty()) {
        line(out, "Cookie", r.cookies);
    }
    if (post) {
        line(out, "Content-Length", std::to_string(r.body.size()));
    }
    out.append("\r\n");
    if (post) {
        out.append(r.body);
    }
}

std::uint8_t classify_action(unsigned status, std::string_view action_header, bool waiting_room_answer,
                             unsigned queued_status_code) {
    if (!action_header.empty()) {
        if (action_header == "challenge") {
            return action::challenged;
        }
        if (action_header == "deprioritise" || action_header == "deprioritize") {
            return action::deprioritised;
        }
        if (action_header == "deny") {
            return action::denied;
        }
        return 0;  // "allow" or something new: nothing against the visitor
    }
    if (status == 403) {
        return action::denied;
    }
    if (status == 429 && !(queued_status_code == 429 && waiting_room_answer)) {
        return action::challenged;
    }
    return 0;
}

std::optional<unsigned> page_refresh_seconds(std::string_view html) {
    constexpr std::string_view key = "data-refresh=\"";
    const auto at = html.find(key);
    if (at == std::string_view::npos) {
        return std::nullopt;
    }
    const char* p = html.data() + at + key.size();
    unsigned v = 0;
    auto [end, ec] = std::from_chars(p, html.data() + html.size(), v);
    if (ec != std::errc{} || end == p || *end != '"') {
        return std::nullopt;
    }
    return v;
}

std::optional<std::string> json_string(const nlohmann::json& j, const char* key) {
    if (!j.is_object()) {
        return std::nullopt;
    }
    const auto it = j.find(key);
    if (it == j.end() || !it->is_string()) {
        return std::nullopt;
    }
    return it->get<std::string>();
}

std::optional<std::int64_t> json_int(const nlohmann::json& j, const char* key) {
    if (!j.is_object()) {
        return std::nullopt;
    }
    const auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) {
        return std::nullopt;
    }
    return it->get<std::int64_t>();
}

}  // namespace anteroom::bench
