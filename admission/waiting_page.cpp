#include "admission/waiting_page.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

#include "admission/room_match.hpp"
#include "common/http_fields.hpp"
#include "common/timefmt.hpp"

namespace anteroom::admission {

namespace embedded {
extern const char waiting_html[];
extern const std::size_t waiting_html_size;
}  // namespace embedded

namespace {

// ---- placeholders --------------------------------------------------------------------------

enum class field : std::uint8_t {
    lang, title, view, state, room, status_url, refresh_seconds, countdown_to, eta_note,
    next_capacity_at, words, heading, message, detail, label_countdown, countdown, label_position,
    position, label_ahead, ahead, label_eta, eta, label_updated, updated_at, updated_time, note_auto,
    note_kept, note_tabs, offline, count_
};
constexpr std::size_t field_count = static_cast<std::size_t>(field::count_);

constexpr std::array<std::string_view, field_count> field_names{
    "lang", "title", "view", "state", "room", "status_url", "refresh_seconds", "countdown_to", "eta_note",
    "next_capacity_at", "words", "heading", "message", "detail", "label_countdown", "countdown", "label_position",
    "position", "label_ahead", "ahead", "label_eta", "eta", "label_updated", "updated_at", "updated_time",
    "note_auto", "note_kept", "note_tabs", "offline"};

using values = std::array<std::string, field_count>;

std::string& at(values& v, field f) {
    return v[static_cast<std::size_t>(f)];
}

// ---- texts -----------------------------------------------------------------------------------

// What the page shows, a little finer than room_state: `opens` is a closed room whose
// prequeue_opens is still ahead (with a countdown).
enum class view { prequeue, queued, paused, sold_out, closed, opens, admitted };
constexpr std::array<std::string_view, 7> view_names{"prequeue", "queued", "paused", "sold_out",
                                                     "closed", "opens", "admitted"};

// "{}" in a text stands for one value, filled in by fill().
struct texts {
    std::string_view lang;
    std::string_view title_suffix;
    std::array<std::string_view, 7> heading;  // by view
    std::array<std::string_view, 7> message;  // by view
    std::string_view paused_eta;              // why a paused room shows no waiting time
    std::string_view note_paused, note_slowed;
    std::string_view next_at, next_unknown;
    std::string_view label_starts, label_opens, label_position, label_ahead, label_eta, label_updated;
    std::string_view note_auto, note_kept, note_tabs, offline;
    // For the ETA and the countdown, shared with the page's script (data-words):
    // under a minute | minute | minutes | hour | hours | about | day | days | unknown
    std::string_view words;
    char thousands;
    const char* date_format;  // strftime, the server's local time
};

constexpr texts german{
    "de",
    " \xe2\x80\x93 Warteraum",
    {"Gleich geht es los", "Sie sind in der Warteschlange", "Der Einlass ist angehalten",
     "Alle Termine sind vergeben", "Zurzeit geschlossen", "Der Warteraum ist noch geschlossen",
     "Sie sind an der Reihe"},
    {"Sie sind im Vorraum. Zum Start am {} wird die Reihenfolge aller, die bis dahin hier sind, ausgelost "
     "\xe2\x80\x93 ob Sie jetzt kommen oder kurz vor dem Start, macht keinen Unterschied. Wer danach kommt, "
     "stellt sich hinten an.",
     "Gerade m\xc3\xb6" "chten sehr viele Menschen gleichzeitig auf diese Seite. Damit sie f\xc3\xbcr alle "
     "funktioniert, lassen wir nacheinander ein. Sie kommen von selbst an die Reihe.",
     "Der Einlass ist gerade angehalten. Ihr Platz in der Schlange bleibt erhalten; sobald es weitergeht, "
     "r\xc3\xbc" "cken Sie von selbst vor.",
     "Im Moment sind alle Termine vergeben. Deshalb lassen wir niemanden ein \xe2\x80\x93 wer jetzt "
     "hineink\xc3\xa4me, f\xc3\xa4nde keinen freien Termin.",
     "Zurzeit ist kein Zugang m\xc3\xb6glich. Bitte versuchen Sie es sp\xc3\xa4ter noch einmal.",
     "Der Warteraum \xc3\xb6" "ffnet am {}. Diese Seite l\xc3\xa4" "dt sich dann von selbst neu \xe2\x80\x93 "
     "Sie m\xc3\xbcssen nichts tun.",
     "Sie werden jetzt weitergeleitet."},
    "Solange der Einlass ruht, l\xc3\xa4sst sich nicht sagen, wie lange Sie noch warten \xe2\x80\x93 deshalb "
    "zeigen wir keine Wartezeit an.",
    "Der Einlass war zwischendurch angehalten; deshalb dauert es jetzt l\xc3\xa4nger als zuvor angezeigt.",
    "Der Einlass wurde verlangsamt; deshalb dauert es jetzt l\xc3\xa4nger als zuvor angezeigt.",
    "Neue Termine werden voraussichtlich am {} freigegeben.",
    "Wann neue Termine freigegeben werden, steht noch nicht fest. Diese Seite zeigt es an, sobald es bekannt ist.",
    "Start in",
    "\xc3\x96" "ffnet in",
    "Ihr Platz in der Schlange",
    "Vor Ihnen",
    "Voraussichtliche Wartezeit",
    "Stand:",
    "Diese Seite aktualisiert sich von selbst, etwa alle {} Sekunden \xe2\x80\x93 neu laden ist nicht n\xc3\xb6tig.",
    "Ihr Platz bleibt erhalten, solange diese Seite ge\xc3\xb6" "ffnet ist. Schlie\xc3\x9f" "en Sie sie, halten "
    "wir ihn noch {} Minuten f\xc3\xbcr Sie frei.",
    "Bitte \xc3\xb6" "ffnen Sie die Seite nicht in mehreren Tabs: Das bringt Sie nicht schneller nach vorn.",
    "Gerade besteht keine Verbindung. Wir versuchen es weiter \xe2\x80\x93 Ihr Platz bleibt erhalten.",
    "weniger als eine Minute|Minute|Minuten|Stunde|Stunden|etwa|Tag|Tage|unbekannt",
    '.',
    "%d.%m.%Y um %H:%M Uhr",
};

constexpr texts english{
    "en",
    " \xe2\x80\x93 waiting room",
    {"Starting soon", "You are in line", "Entry is paused", "All appointments are taken", "Closed at the moment",
     "The waiting room is not open yet", "It is your turn"},
    {"You are in the pre-queue. When it starts on {}, the order of everybody who is here by then is drawn at "
     "random \xe2\x80\x93 arriving now or just before the start makes no difference. Whoever comes later joins "
     "the end of the line.",
     "Very many people want to use this site at the same time. To keep it working for everybody, we let people "
     "in one after another. Your turn comes by itself.",
     "Entry is paused at the moment. You keep your place in line; as soon as entry resumes, you move forward by "
     "yourself.",
     "All appointments are taken at the moment, so nobody is let in \xe2\x80\x93 there would be no free "
     "appointment left to book.",
     "There is no access at the moment. Please try again later.",
     "The waiting room opens on {}. This page then reloads by itself \xe2\x80\x93 you need not do anything.",
     "You are being taken to the site now."},
    "While entry is paused nobody can say how long the wait will be, so no waiting time is shown.",
    "Entry was paused for a while, so the wait is now longer than shown before.",
    "Entry has been slowed down, so the wait is now longer than shown before.",
    "New appointments are expected on {}.",
    "It is not known yet when new appointments will be released. This page will show it as soon as it is.",
    "Starts in",
    "Opens in",
    "Your place in line",
    "People ahead of you",
    "Expected wait",
    "Last updated:",
    "This page updates itself about every {} seconds \xe2\x80\x93 there is no need to reload it.",
    "You keep your place while this page is open. If you close it, we hold your place for another {} minutes.",
    "Please do not open this page in several tabs: it does not move you forward any faster.",
    "No connection right now. We keep trying \xe2\x80\x93 you keep your place.",
    "less than a minute|minute|minutes|hour|hours|about|day|days|unknown",
    ',',
    "%d %B %Y at %H:%M",
};

const texts& texts_for(language lang) {
    return lang == language::en ? english : german;
}

std::string fill(std::string_view pattern, std::string_view value) {
    std::string out(pattern);
    if (const auto at = out.find("{}"); at != std::string::npos) {
        out.replace(at, 2, value);
    }
    return out;
}

// The i-th '|'-separated word of texts::words.
std::string_view word(const texts& t, std::size_t i) {
    std::string_view rest = t.words;
    for (; i > 0; --i) {
        rest.remove_prefix(std::min(rest.size(), rest.find('|') + 1));
    }
    return rest.substr(0, rest.find('|'));
}

// ---- formatting --------------------------------------------------------------------------------

std::string grouped(std::uint64_t n, char sep) {
    std::string digits = std::to_string(n);
    for (std::size_t i = digits.size(); i > 3; i -= 3) {
        digits.insert(i - 3, 1, sep);
    }
    return digits;
}

// The page's script formats updates with the same rules (web/waiting.html, eta()).
std::string format_eta(const texts& t, std::int64_t low, std::int64_t high) {
    if (low < 0 || high < 0) {
        return std::string(word(t, 8));
    }
    if (high < 60) {
        return std::string(word(t, 0));
    }
    const bool minutes = high <= 7200;
    const std::int64_t unit = minutes ? 60 : 3600;
    const std::int64_t a = low / unit;
    const std::int64_t b = (high + unit - 1) / unit;
    const auto one = word(t, minutes ? 1 : 3);
    const auto many = word(t, minutes ? 2 : 4);
    if (a >= b) {
        return std::string(word(t, 5)) + " " + std::to_string(b) + " " + std::string(b == 1 ? one : many);
    }
    return std::to_string(a) + "\xe2\x80\x93" + std::to_string(b) + " " + std::string(many);
}

std::string format_countdown(const texts& t, std::int64_t ms) {
    const std::int64_t s = std::max<std::int64_t>(0, (ms + 500) / 1000);
    const std::int64_t days = s / 86400;
    char clock[16];
    std::snprintf(clock, sizeof clock, "%02d:%02d:%02d", static_cast<int>(s / 3600 % 24),
                  static_cast<int>(s / 60 % 60), static_cast<int>(s % 60));
    if (days == 0) {
        return clock;
    }
    return std::to_string(days) + " " + std::string(word(t, days == 1 ? 6 : 7)) + " " + clock;
}

// Without JavaScript times are shown in the server's time zone (TZ); the script shows the
// visitor's own.
std::string local_time(unix_ms ms, const char* format) {
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    localtime_r(&secs, &tm);
    char buf[64];
    const std::size_t n = std::strftime(buf, sizeof buf, format, &tm);
    return std::string(buf, n);
}

constexpr std::size_t max_status_url = 4096;

// A path of our own origin: a single leading '/', nothing a browser would read as another host
// ("//evil", "/\evil", "/\t/evil" once tabs are stripped).
bool is_local_path(std::string_view url) {
    if (url.empty() || url.size() > 2048 || url[0] != '/' || (url.size() > 1 && (url[1] == '/' || url[1] == '\\'))) {
        return false;
    }
    return std::none_of(url.begin(), url.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f || c == ' ' || c == '\\';
    });
}

// ---- rendering -----------------------------------------------------------------------------

struct render_input {
    const room_config* room = nullptr;
    wait_info info;
    language lang = language::de;
    std::string_view status_url;
    unix_ms now = 0;
    std::optional<unix_ms> opens_at;  // closed, and prequeue_opens is ahead
};

view view_of(const render_input& in) {
    switch (in.info.state) {
    case room_state::prequeue: return view::prequeue;
    case room_state::queued: return view::queued;
    case room_state::paused: return view::paused;
    case room_state::sold_out: return view::sold_out;
    case room_state::admitted: return view::admitted;
    case room_state::closed: break;
    }
    return in.opens_at ? view::opens : view::closed;
}

values make_values(const render_input& in) {
    const texts& t = texts_for(in.lang);
    const wait_info& info = in.info;
    const view v = view_of(in);
    const auto vi = static_cast<std::size_t>(v);
    const unsigned refresh = std::clamp<unsigned>(info.refresh_after_seconds, 1, 300);
    values out;

    at(out, field::lang) = t.lang;
    at(out, field::heading) = t.heading[vi];
    at(out, field::title) = std::string(t.heading[vi]) + std::string(t.title_suffix);
    at(out, field::view) = view_names[vi];
    at(out, field::state) = to_string(info.state);
    at(out, field::room) = in.room != nullptr ? in.room->id : "";
    // Without a status URL the script reloads the page instead of polling; so does an overlong
    // one (it carries the visitor's URL), which keeps the page small.
    if (in.status_url.size() <= max_status_url && is_local_path(in.status_url)) {
        at(out, field::status_url) = in.status_url;
    }
    // The meta refresh reloads the URL the visitor asked for (self_url) without repeating it in
    // the page: no redirect to a crafted target, no page size that grows with the URL.
    at(out, field::refresh_seconds) = std::to_string(refresh);
    at(out, field::eta_note) = info.eta_note;
    if (info.next_capacity_at) {
        at(out, field::next_capacity_at) = format_rfc3339(*info.next_capacity_at);
    }
    at(out, field::words) = t.words;

    std::optional<unix_ms> countdown_to;
    if (v == view::prequeue) {
        countdown_to = info.starts_at ? info.starts_at
                                      : (in.room != nullptr ? in.room->event.starts : std::optional<unix_ms>{});
    } else if (v == view::opens) {
        countdown_to = in.opens_at;
    }
    if (countdown_to) {
        at(out, field::countdown_to) = format_rfc3339(*countdown_to);
        at(out, field::countdown) = format_countdown(t, *countdown_to - in.now);
    }
    at(out, field::label_countdown) = v == view::opens ? t.label_opens : t.label_starts;

    const std::string when = countdown_to ? local_time(*countdown_to, t.date_format) : std::string("\xe2\x80\x93");
    at(out, field::message) = fill(t.message[vi], when);
    if (v == view::paused) {
        at(out, field::detail) = t.paused_eta;
    } else if (v == view::sold_out) {
        at(out, field::detail) =
            info.next_capacity_at ? fill(t.next_at, local_time(*info.next_capacity_at, t.date_format)) : t.next_unknown;
    } else if (v == view::queued && info.eta_note == "paused") {
        at(out, field::detail) = t.note_paused;
    } else if (v == view::queued && info.eta_note == "slowed") {
        at(out, field::detail) = t.note_slowed;
    }

    const bool known = info.position != 0;
    at(out, field::label_position) = t.label_position;
    at(out, field::position) = known ? grouped(info.position, t.thousands) : "\xe2\x80\x93";
    at(out, field::label_ahead) = t.label_ahead;
    at(out, field::ahead) = known ? grouped(info.ahead, t.thousands) : "\xe2\x80\x93";
    at(out, field::label_eta) = t.label_eta;
    at(out, field::eta) = format_eta(t, info.eta_low_seconds, info.eta_high_seconds);
    at(out, field::label_updated) = t.label_updated;
    at(out, field::updated_at) = format_rfc3339(info.updated_at);
    at(out, field::updated_time) = local_time(info.updated_at, "%H:%M:%S");

    const auto abandon_min = in.room != nullptr ? std::max<std::int64_t>(1, in.room->abandon_after.count() / 60'000) : 5;
    at(out, field::note_auto) = fill(t.note_auto, std::to_string(refresh));
    at(out, field::note_kept) = fill(t.note_kept, std::to_string(abandon_min));
    at(out, field::note_tabs) = t.note_tabs;
    at(out, field::offline) = t.offline;
    return out;
}

}  // namespace

// ---- page_template -----------------------------------------------------------------------------

struct page_template::part {
    std::string literal;  // text before the placeholder
    int placeholder = -1;  // index into field_names; -1 after the last placeholder
};

struct page_template_access {
    using parts = std::vector<page_template::part>;

    // Every value is HTML-escaped: the template decides where it goes, never what it contains.
    static std::string render(const page_template& t, const render_input& in) {
        const values v = make_values(in);
        std::string out;
        out.reserve(8 * 1024);
        for (const auto& p : *static_cast<const parts*>(t.impl_.get())) {
            out += p.literal;
            if (p.placeholder >= 0) {
                append_html_escaped(out, v[static_cast<std::size_t>(p.placeholder)]);
            }
        }
        return out;
    }

    // Splits `text` at {{name}} placeholders; nullptr and `err` ("name:line: problem") when a
    // placeholder is unknown or not closed.
    static std::shared_ptr<const page_template> parse(std::string_view text, const std::string& name,
                                                      std::string& err) {
        auto list = std::make_shared<parts>();
        std::size_t pos = 0;
        while (true) {
            const auto open = text.find("{{", pos);
            if (open == std::string_view::npos) {
                list->push_back({std::string(text.substr(pos)), -1});
                break;
            }
            const auto line = std::to_string(1 + std::count(text.begin(), text.begin() + open, '\n'));
            const auto close = text.find("}}", open + 2);
            if (close == std::string_view::npos) {
                err = name + ":" + line + ": \"{{\" without a closing \"}}\"";
                return nullptr;
            }
            auto key = text.substr(open + 2, close - open - 2);
            key.remove_prefix(std::min(key.size(), key.find_first_not_of(' ')));
            key = key.substr(0, key.find_last_not_of(' ') + 1);
            const auto it = std::find(field_names.begin(), field_names.end(), key);
            if (it == field_names.end()) {
                std::string known;
                for (const auto n : field_names) {
                    known += (known.empty() ? "" : ", ") + std::string(n);
                }
                err = name + ":" + line + ": unknown placeholder {{" + std::string(key.substr(0, 64)) +
                      "}}; known placeholders: " + known;
                return nullptr;
            }
            list->push_back({std::string(text.substr(pos, open - pos)), static_cast<int>(it - field_names.begin())});
            pos = close + 2;
        }
        auto t = std::make_shared<page_template>();
        t->impl_ = std::move(list);
        return t;
    }
};

std::shared_ptr<const page_template> page_template::builtin() {
    static const std::shared_ptr<const page_template> parsed = [] {
        std::string err;
        auto t = page_template_access::parse(std::string_view(embedded::waiting_html, embedded::waiting_html_size),
                                             "web/waiting.html", err);
        if (!t) {
            throw std::logic_error("built-in waiting page: " + err);  // a build defect; tests catch it
        }
        return t;
    }();
    return parsed;
}

std::shared_ptr<const page_template> page_template::load(const std::string& path, std::string& err) {
    // Templates are pages of a few KiB; a much larger file is a mistake.
    constexpr std::size_t limit = 256 * 1024;
    errno = 0;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f) {
        err = path + ": cannot read file: " + std::strerror(errno);
        return nullptr;
    }
    std::string text(limit + 1, '\0');
    text.resize(std::fread(text.data(), 1, text.size(), f.get()));
    if (std::ferror(f.get()) != 0) {
        err = path + ": cannot read file: " + std::strerror(errno != 0 ? errno : EIO);
        return nullptr;
    }
    if (text.size() > limit) {
        err = path + ": larger than 256KiB";
        return nullptr;
    }
    return page_template_access::parse(text, path, err);
}

std::string page_template::render(const page_context& ctx) const {
    render_input in{ctx.room, ctx.info != nullptr ? *ctx.info : wait_info{}, ctx.lang, ctx.status_url, ctx.now,
                    std::nullopt};
    if (in.info.state == room_state::closed && ctx.room != nullptr && ctx.room->event.prequeue_opens &&
        ctx.now < *ctx.room->event.prequeue_opens) {
        in.opens_at = ctx.room->event.prequeue_opens;
    }
    return page_template_access::render(*this, in);
}

// ---- the rest of the interface -----------------------------------------------------------------

std::string status_json(std::string_view room, const wait_info& info, std::optional<std::string_view> go_to) {
    using json = nlohmann::ordered_json;
    const bool known = info.position != 0;
    const bool eta_known = info.eta_low_seconds >= 0 && info.eta_high_seconds >= 0;
    json j;
    j["room"] = std::string(room);
    j["state"] = std::string(to_string(info.state));
    j["position"] = known ? json(info.position) : json(nullptr);
    j["ahead"] = known ? json(info.ahead) : json(nullptr);
    j["eta_low_seconds"] = eta_known ? json(info.eta_low_seconds) : json(nullptr);
    j["eta_high_seconds"] = eta_known ? json(info.eta_high_seconds) : json(nullptr);
    j["refresh_after_seconds"] = info.refresh_after_seconds;
    j["updated_at"] = format_rfc3339(info.updated_at);
    if (info.starts_at) {
        j["starts_at"] = format_rfc3339(*info.starts_at);
    }
    if (info.next_capacity_at) {
        j["next_capacity_at"] = format_rfc3339(*info.next_capacity_at);
    }
    if (!info.eta_note.empty()) {
        j["eta_note"] = std::string(info.eta_note);
    }
    if (go_to) {
        j["url"] = std::string(*go_to);
    }
    // replace, not throw: a URL from the visitor may be invalid UTF-8 and this is the data plane.
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string closed_page(const room_config& room, language lang, std::optional<unix_ms> now) {
    render_input in{&room, wait_info{}, lang, {}, now.value_or(0), std::nullopt};
    in.info.state = room_state::closed;
    in.info.refresh_after_seconds = 60;
    in.info.updated_at = in.now;
    if (now && room.event.prequeue_opens && *now < *room.event.prequeue_opens) {
        in.opens_at = room.event.prequeue_opens;
    }
    return page_template_access::render(*page_template::builtin(), in);
}

std::optional<std::string> safe_return_path(std::string_view candidate, const room_config& room) {
    if (!is_local_path(candidate)) {
        return std::nullopt;
    }
    const auto path = normalize_path(candidate.substr(0, candidate.find_first_of("?#")));
    if (!path) {
        return std::nullopt;
    }
    const bool inside = std::any_of(room.paths.begin(), room.paths.end(), [&](const std::string& prefix) {
        return path_has_prefix(*path, prefix, room.case_insensitive);
    });
    if (!inside) {
        return std::nullopt;
    }
    return std::string(candidate);
}

}  // namespace anteroom::admission
