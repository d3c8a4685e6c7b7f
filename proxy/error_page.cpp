#include "proxy/error_page.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace anteroom::proxy {

namespace {

// ---- header list parsing (Accept, Accept-Language) ----------------------------------------

bool is_ows(char c) {
    return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_ows(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_ows(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

char ascii_lower(char c) {
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

// The next `sep`-separated piece of `rest` (OWS-trimmed), consuming it from `rest`. A
// separator inside a quoted-string (media type parameters) does not split.
std::string_view next_piece(std::string_view& rest, char sep) {
    bool quoted = false;
    std::size_t i = 0;
    for (; i < rest.size(); ++i) {
        const char c = rest[i];
        if (quoted && c == '\\') {
            ++i;  // quoted-pair: skip the escaped byte
        } else if (c == '"') {
            quoted = !quoted;
        } else if (c == sep && !quoted) {
            break;
        }
    }
    const std::string_view piece = trim(rest.substr(0, std::min(i, rest.size())));
    rest.remove_prefix(std::min(i + 1, rest.size()));
    return piece;
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), as thousandths. Anything
// else is malformed and counts as 0 (not acceptable), so junk never wins a negotiation.
int parse_qvalue(std::string_view v) {
    if (v.empty() || (v[0] != '0' && v[0] != '1')) {
        return 0;
    }
    const bool one = v[0] == '1';
    if (v.size() == 1) {
        return one ? 1000 : 0;
    }
    if (v[1] != '.' || v.size() > 5) {
        return 0;
    }
    int q = 0;
    int scale = 100;
    for (std::size_t i = 2; i < v.size(); ++i, scale /= 10) {
        if (v[i] < '0' || v[i] > '9' || (one && v[i] != '0')) {
            return 0;
        }
        q += (v[i] - '0') * scale;
    }
    return one ? 1000 : q;
}

struct weighted {
    std::string_view range;
    int q = 1000;
};

// "range;param=x;q=0.5" -> range and q (1000 when no q parameter is given).
weighted parse_element(std::string_view element) {
    weighted w;
    w.range = next_piece(element, ';');
    while (!element.empty()) {
        const std::string_view param = next_piece(element, ';');
        const std::size_t eq = param.find('=');
        if (eq != std::string_view::npos && iequals(trim(param.substr(0, eq)), "q")) {
            w.q = parse_qvalue(trim(param.substr(eq + 1)));
            break;
        }
    }
    return w;
}

// "de", "de-DE", "DE-at" match "de"; "dex" does not.
bool matches_language(std::string_view range, std::string_view lang) {
    if (range.size() < lang.size() || !iequals(range.substr(0, lang.size()), lang)) {
        return false;
    }
    return range.size() == lang.size() || range[lang.size()] == '-';
}

// ---- texts ---------------------------------------------------------------------------------

struct page_text {
    std::string_view title;
    std::string_view message;
};

page_text german(error_kind k) {
    switch (k) {
    case error_kind::bad_request:
        return {"Anfrage nicht verständlich",
                "Diese Anfrage konnte nicht verarbeitet werden. Bitte laden Sie die Seite neu; "
                "wenn das nicht hilft, öffnen Sie die Adresse erneut."};
    case error_kind::header_too_large:
        return {"Zu viele Cookie-Daten",
                "Ihr Browser hat mehr Header- oder Cookie-Daten gesendet, als wir annehmen können. "
                "Bitte löschen Sie die Cookies für diese Website und versuchen Sie es erneut."};
    case error_kind::body_too_large:
        return {"Daten zu groß",
                "Die gesendeten Daten sind größer als erlaubt. Bitte senden Sie weniger Daten, "
                "zum Beispiel eine kleinere Datei, und versuchen Sie es erneut."};
    case error_kind::request_timeout:
        return {"Zeit abgelaufen",
                "Die Anfrage ist nicht rechtzeitig vollständig angekommen. Bitte prüfen Sie Ihre "
                "Verbindung und laden Sie die Seite neu."};
    case error_kind::not_found:
        return {"Seite nicht gefunden",
                "Unter dieser Adresse gibt es keine Seite. Bitte prüfen Sie die Adresse oder "
                "beginnen Sie auf der Startseite."};
    case error_kind::method_not_allowed:
        return {"Aktion nicht möglich",
                "Diese Adresse unterstützt diese Art von Anfrage nicht. Bitte gehen Sie zurück "
                "und versuchen Sie es über die Seite selbst erneut."};
    case error_kind::upstream_connect:
        return {"Dienst nicht erreichbar",
                "Wir können den Dienst gerade nicht erreichen. Das liegt nicht an Ihnen. Bitte "
                "versuchen Sie es in einer Minute erneut."};
    case error_kind::upstream_reset:
        return {"Störung beim Dienst",
                "Der Dienst hat nicht richtig geantwortet. Das liegt nicht an Ihnen. Bitte "
                "versuchen Sie es in einer Minute erneut."};
    case error_kind::upstream_timeout:
        return {"Dienst antwortet nicht rechtzeitig",
                "Der Dienst ist gerade überlastet. Bitte versuchen Sie es in einer Minute "
                "erneut."};
    case error_kind::no_healthy_upstream:
        return {"Dienst vorübergehend nicht verfügbar",
                "Der Dienst ist gerade nicht verfügbar. Das liegt nicht an Ihnen. Bitte "
                "versuchen Sie es in einer Minute erneut."};
    case error_kind::overloaded:
        return {"Gerade sehr viel los",
                "Der Dienst ist gerade überlastet. Bitte versuchen Sie es in einer Minute "
                "erneut."};
    case error_kind::internal:
        return {"Unerwarteter Fehler",
                "Bei uns ist ein unerwarteter Fehler aufgetreten. Das liegt nicht an Ihnen. "
                "Bitte versuchen Sie es in einer Minute erneut."};
    }
    return {"Unerwarteter Fehler", "Bitte versuchen Sie es in einer Minute erneut."};
}

page_text english(error_kind k) {
    switch (k) {
    case error_kind::bad_request:
        return {"Request not understood",
                "This request could not be processed. Please reload the page; if that does not "
                "help, open the address again."};
    case error_kind::header_too_large:
        return {"Too much cookie data",
                "Your browser sent more header or cookie data than we can accept. Please delete "
                "the cookies for this website and try again."};
    case error_kind::body_too_large:
        return {"Data too large",
                "The data sent is larger than allowed. Please send less data, for example a "
                "smaller file, and try again."};
    case error_kind::request_timeout:
        return {"Time ran out",
                "The request did not arrive completely in time. Please check your connection and "
                "reload the page."};
    case error_kind::not_found:
        return {"Page not found",
                "There is no page at this address. Please check the address or start from the "
                "home page."};
    case error_kind::method_not_allowed:
        return {"Action not possible",
                "This address does not support this kind of request. Please go back and try "
                "again from the page itself."};
    case error_kind::upstream_connect:
        return {"Service unreachable",
                "We cannot reach the service right now. This is not your fault. Please try again "
                "in a minute."};
    case error_kind::upstream_reset:
        return {"Service error",
                "The service did not answer properly. This is not your fault. Please try again "
                "in a minute."};
    case error_kind::upstream_timeout:
        return {"Service not answering in time",
                "The service is overloaded right now. Please try again in a minute."};
    case error_kind::no_healthy_upstream:
        return {"Service temporarily unavailable",
                "The service is unavailable right now. This is not your fault. Please try again "
                "in a minute."};
    case error_kind::overloaded:
        return {"Very busy right now",
                "The service is overloaded right now. Please try again in a minute."};
    case error_kind::internal:
        return {"Unexpected error",
                "Something unexpected went wrong on our side. This is not your fault. Please try "
                "again in a minute."};
    }
    return {"Unexpected error", "Please try again in a minute."};
}

// ---- rendering -----------------------------------------------------------------------------

// Ids are ours, but may echo a client's X-Request-Id: bound them so an echo cannot bloat the
// page.
constexpr std::size_t max_request_id = 128;

void append_html_escaped(std::string& out, std::string_view s) {
    for (const char c : s) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            // Control bytes have no business in a page; show them as '?'.
            out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
            break;
        }
    }
}

constexpr std::string_view page_style =
    "body{margin:0;font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;"
    "background:#f4f5f7;color:#1f2328}"
    "main{max-width:34rem;margin:12vh auto;padding:2rem;background:#fff;border-radius:12px;"
    "box-shadow:0 2px 12px rgba(0,0,0,.08)}"
    "h1{font-size:1.5rem;margin:0 0 1rem}"
    "p{line-height:1.5;margin:0 0 1rem}"
    ".meta{color:#57606a;font-size:.875rem;margin:1.5rem 0 0}"
    "@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}"
    "main{background:#161b22}.meta{color:#8b949e}}";

std::string render_html(unsigned status, page_language lang, const page_text& text,
                        std::string_view request_id) {
    const bool de = lang == page_language::de;
    const std::string code = std::to_string(status);
    std::string out;
    out.reserve(1536);
    out += "<!DOCTYPE html>\n<html lang=\"";
    out += de ? "de" : "en";
    out += "\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
    out += code;
    out += " \xe2\x80\x93 ";  // en dash
    out += text.title;
    out += "</title>\n<style>";
    out += page_style;
    out += "</style>\n</head>\n<body>\n<main>\n<h1>";
    out += text.title;
    out += "</h1>\n<p>";
    out += text.message;
    out += "</p>\n<p class=\"meta\">";
    out += de ? "Fehlercode " : "Error code ";
    out += code;
    if (!request_id.empty()) {
        out += "<br>\n";
        out += de ? "Anfrage-ID: " : "Request ID: ";
        append_html_escaped(out, request_id);
    }
    out += "</p>\n</main>\n</body>\n</html>\n";
    return out;
}

std::string render_json(unsigned status, error_kind kind, const page_text& text,
                        std::string_view request_id) {
    nlohmann::ordered_json j;
    j["error"] = std::string(to_string(kind));
    j["status"] = status;
    j["message"] = std::string(text.message);
    j["request_id"] = std::string(request_id);
    // replace, not throw: an echoed id may be invalid UTF-8 and this is the data plane.
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// Framing errors leave the connection in an unknown state, so those responses close it.
bool closes_connection(error_kind k) {
    switch (k) {
    case error_kind::bad_request:
    case error_kind::header_too_large:
    case error_kind::body_too_large:
    case error_kind::request_timeout:
        return true;
    default:
        return false;
    }
}

}  // namespace

page_language choose_language(std::string_view accept_language) {
    page_language best = page_language::de;
    int best_q = 0;  // q=0 means "not acceptable", so it never selects a language
    while (!accept_language.empty()) {
        const weighted w = parse_element(next_piece(accept_language, ','));
        page_language lang{};
        if (matches_language(w.range, "de")) {
            lang = page_language::de;
        } else if (matches_language(w.range, "en")) {
            lang = page_language::en;
        } else {
            continue;
        }
        if (w.q > best_q) {  // strictly greater: ties go to the first listed
            best_q = w.q;
            best = lang;
        }
    }
    return best;
}

page_format choose_format(std::string_view accept) {
    int json_q = -1;  // -1: not listed
    int html_q = -1;
    int text_any_q = -1;
    int any_q = -1;
    while (!accept.empty()) {
        const weighted w = parse_element(next_piece(accept, ','));
        int* slot = nullptr;
        if (iequals(w.range, "application/json") || iequals(w.range, "application/problem+json")) {
            slot = &json_q;
        } else if (iequals(w.range, "text/html")) {
            slot = &html_q;
        } else if (iequals(w.range, "text/*")) {
            slot = &text_any_q;
        } else if (iequals(w.range, "*/*")) {
            slot = &any_q;
        } else {
            continue;
        }
        *slot = std::max(*slot, w.q);
    }
    // The most specific range that matches text/html gives its q (RFC 9110 12.5.1).
    const int html = html_q >= 0 ? html_q : text_any_q >= 0 ? text_any_q : any_q;
    return (json_q > 0 && json_q > html) ? page_format::json : page_format::html;
}

error_response make_error_response(const proxy_error& err, page_language lang, page_format fmt,
                                   std::string_view request_id) {
    request_id = request_id.substr(0, max_request_id);
    error_response r;
    r.status = status_for(err.kind);
    r.close_connection = closes_connection(err.kind);
    r.retry_after_seconds =
        (err.kind == error_kind::overloaded || err.kind == error_kind::no_healthy_upstream) ? 5
                                                                                             : 0;
    const page_text text = lang == page_language::de ? german(err.kind) : english(err.kind);
    if (fmt == page_format::json) {
        r.content_type = "application/json";
        r.body = render_json(r.status, err.kind, text, request_id);
    } else {
        r.content_type = "text/html; charset=utf-8";
        r.body = render_html(r.status, lang, text, request_id);
    }
    return r;
}

}  // namespace anteroom::proxy
