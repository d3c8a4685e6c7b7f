#include "bot_detect/challenge_page.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>
#include <vector>

// admission/embed.cmake puts every embedded file into this namespace.
namespace anteroom::admission::embedded {
extern const char challenge_html[];
extern const std::size_t challenge_html_size;
}  // namespace anteroom::admission::embedded

namespace anteroom::bot_detect {

namespace {

enum class field : std::uint8_t {
    lang, title, heading, retry_note, message, nojs_note, nojs_seconds, nojs_url, token, difficulty,
    return_path, progress_label, expected, tries_of, done_note, button, count_
};
constexpr std::size_t field_count = static_cast<std::size_t>(field::count_);
constexpr std::array<std::string_view, field_count> field_names{
    "lang", "title", "heading", "retry_note", "message", "nojs_note", "nojs_seconds", "nojs_url", "token",
    "difficulty", "return_path", "progress_label", "expected", "tries_of", "done_note", "button"};

// "{}" stands for the no-JavaScript delay in seconds.
struct texts {
    std::string_view lang, title, heading, retry, message, nojs, progress, tries_of, done, button;
    char thousands;
};

constexpr texts german{
    "de",
    "Kurze Pr\xc3\xbc" "fung \xe2\x80\x93 Warteraum",
    "Einen Moment bitte",
    "Das hat nicht geklappt. Wir versuchen es noch einmal.",
    "Gerade greifen auch Programme auf dieses Portal zu, die Termine f\xc3\xbcr sich abgreifen wollen. Deshalb "
    "pr\xc3\xbc" "ft das Portal kurz, dass hier ein Browser und keine Maschine anfragt: Ihr Browser rechnet "
    "dazu eine kleine Aufgabe. Das dauert meist nur wenige Sekunden, danach geht es von selbst weiter. Sie "
    "m\xc3\xbcssen nichts tun.",
    "Ohne JavaScript kann Ihr Browser die Aufgabe nicht rechnen. Das ist nicht schlimm: Bitte lassen Sie diese "
    "Seite ge\xc3\xb6" "ffnet \xe2\x80\x93 nach {} Sekunden werden Sie von selbst eingelassen.",
    "Ihr Browser rechnet \xe2\x80\xa6",
    "Versuche (im Mittel n\xc3\xb6tig)",
    "Geschafft \xe2\x80\x93 es geht weiter.",
    "Weiter",
    '.',
};

constexpr texts english{
    "en",
    "Quick check \xe2\x80\x93 waiting room",
    "One moment, please",
    "That did not work. We are trying again.",
    "Programs that grab appointments for themselves are using this portal too right now. So the portal briefly "
    "checks that a browser, not a machine, is asking: your browser works out a small puzzle. This usually "
    "takes a few seconds and then continues by itself. You need not do anything.",
    "Without JavaScript your browser cannot work out the puzzle. That is fine: please keep this page open "
    "\xe2\x80\x93 you will be let in after {} seconds.",
    "Your browser is working \xe2\x80\xa6",
    "tries (needed on average)",
    "Done \xe2\x80\x93 continuing.",
    "Continue",
    ',',
};

// 2^N tries are expected; beyond 2^63 nobody solves it anyway, the figure only has to print.
constexpr unsigned max_expected_bits = 63;

std::string grouped(std::uint64_t n, char sep) {
    std::string digits = std::to_string(n);
    for (std::size_t i = digits.size(); i > 3; i -= 3) {
        digits.insert(i - 3, 1, sep);
    }
    return digits;
}

// The five characters HTML gives a meaning to, in text and in quoted attributes.
constexpr std::string_view entity_of(char c) {
    constexpr std::string_view plain;
    return c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '"' ? "&quot;" : c == '\'' ? "&#39;" : plain;
}

void append_html(std::string& out, std::string_view s) {
    for (const char c : s) {
        const auto e = entity_of(c);
        if (e.empty()) {
            out += c;
        } else {
            out += e;
        }
    }
}

struct part {
    std::string_view literal;  // text before the placeholder (views into the embedded page)
    int placeholder = -1;      // -1 after the last one
};

// The built-in page split at its {{placeholders}} once; a defect in it is a build defect.
const std::vector<part>& parts() {
    static const std::vector<part> list = [] {
        const std::string_view text(admission::embedded::challenge_html, admission::embedded::challenge_html_size);
        std::vector<part> out;
        std::size_t pos = 0;
        for (;;) {
            const auto open = text.find("{{", pos);
            if (open == std::string_view::npos) {
                out.push_back({text.substr(pos), -1});
                return out;
            }
            const auto close = text.find("}}", open + 2);
            const auto key = text.substr(open + 2, close == std::string_view::npos ? 0 : close - open - 2);
            const auto it = std::find(field_names.begin(), field_names.end(), key);
            if (close == std::string_view::npos || it == field_names.end()) {
                throw std::logic_error("web/challenge.html: bad placeholder {{" + std::string(key.substr(0, 64)) + "}}");
            }
            out.push_back({text.substr(pos, open - pos), static_cast<int>(it - field_names.begin())});
            pos = close + 2;
        }
    }();
    return list;
}

std::string fill(std::string_view pattern, std::string_view value) {
    std::string out(pattern);
    if (const auto at = out.find("{}"); at != std::string::npos) {
        out.replace(at, 2, value);
    }
    return out;
}

}  // namespace

std::string render_challenge_page(const challenge_page_ctx& ctx) {
    const texts& t = ctx.lang == ui_language::en ? english : german;
    const std::string seconds = std::to_string(ctx.nojs_seconds);
    std::array<std::string, field_count> v;
    auto at = [&v](field f) -> std::string& { return v[static_cast<std::size_t>(f)]; };
    at(field::lang) = t.lang;
    at(field::title) = t.title;
    at(field::heading) = t.heading;
    at(field::retry_note) = ctx.retry ? t.retry : "";
    at(field::message) = t.message;
    at(field::nojs_note) = fill(t.nojs, seconds);
    at(field::nojs_seconds) = seconds;
    at(field::nojs_url) = ctx.nojs_url;
    at(field::token) = ctx.token;
    at(field::difficulty) = std::to_string(ctx.difficulty);
    at(field::return_path) = ctx.return_path;
    at(field::progress_label) = t.progress;
    at(field::expected) = grouped(std::uint64_t{1} << std::min(ctx.difficulty, max_expected_bits), t.thousands);
    at(field::tries_of) = t.tries_of;
    at(field::done_note) = t.done;
    at(field::button) = t.button;

    std::string out;
    out.reserve(12 * 1024);
    for (const auto& p : parts()) {
        out += p.literal;
        if (p.placeholder >= 0) {
            append_html(out, v[static_cast<std::size_t>(p.placeholder)]);
        }
    }
    return out;
}

}  // namespace anteroom::bot_detect
