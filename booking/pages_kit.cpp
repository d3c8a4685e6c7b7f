#include "booking/pages_kit.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>

namespace anteroom::admission::embedded {
extern const char booking_layout_html[];
extern const std::size_t booking_layout_html_size;
extern const char booking_booking_css[];
extern const std::size_t booking_booking_css_size;
}  // namespace anteroom::admission::embedded

namespace anteroom::booking::pages {

namespace {

namespace embedded = anteroom::admission::embedded;

constexpr std::string_view language_cookie = "anteroom_lang";

std::string_view trim(std::string_view s) {
    s.remove_prefix(std::min(s.size(), s.find_first_not_of(" \t\r\n")));
    return s.substr(0, s.find_last_not_of(" \t\r\n") + 1);
}

std::optional<ui_language> language_named(std::string_view s) {
    if (s == "de") {
        return ui_language::de;
    }
    if (s == "en") {
        return ui_language::en;
    }
    return std::nullopt;
}

struct slot {
    std::string_view name;
    std::string_view value;
};

// Fills {{name}} (escaped) and {{{name}}} (HTML made by this kit) in a compiled-in template; a
// name without a value stays empty (the tests render every page and look for leftovers).
std::string fill(std::string_view tpl, std::initializer_list<slot> slots) {
    std::string out;
    out.reserve(tpl.size() + 4096);
    std::size_t pos = 0;
    while (true) {
        const auto open = tpl.find("{{", pos);
        if (open == std::string_view::npos) {
            out += tpl.substr(pos);
            return out;
        }
        out += tpl.substr(pos, open - pos);
        const bool raw = tpl.substr(open, 3) == "{{{";
        const auto start = open + (raw ? 3 : 2);
        const auto close = tpl.find(raw ? "}}}" : "}}", start);
        if (close == std::string_view::npos) {
            return out;
        }
        const auto name = tpl.substr(start, close - start);
        for (const auto& s : slots) {
            if (s.name == name) {
                out += raw ? std::string(s.value) : html_escape(s.value);
            }
        }
        pos = close + (raw ? 3 : 2);
    }
}

std::string ids_of(std::string_view hint_id, std::string_view error_id) {
    std::string s(hint_id);
    if (!error_id.empty()) {
        s += (s.empty() ? "" : " ") + std::string(error_id);
    }
    return s;
}

// The label, hint and error of a field; `described` gets the ids for aria-describedby.
std::string field_head(ui_language l, const field& f, const form_errors& errors, std::string& described) {
    const std::string id = html_escape(f.id);
    std::string h = "<label for=\"" + id + "\">" + html_escape(f.label);
    if (f.optional) {
        h += " <span class=\"opt\">" + std::string(tr(l, "(freiwillig)", "(optional)")) + "</span>";
    }
    h += "</label>\n";
    std::string hint_id;
    std::string error_id;
    if (!f.hint.empty()) {
        hint_id = id + "-hint";
        h += "<p class=\"hint\" id=\"" + hint_id + "\">" + html_escape(f.hint) + "</p>\n";
    }
    if (const auto* e = errors.of(f.id)) {
        error_id = id + "-error";
        h += "<p class=\"error\" id=\"" + error_id + "\"><span class=\"visually-hidden\">" +
             std::string(tr(l, "Fehler:", "Error:")) + " </span>" + html_escape(*e) + "</p>\n";
    }
    described = ids_of(hint_id, error_id);
    return h;
}

std::string control_attributes(const field& f, const std::string& described, bool invalid) {
    std::string a = " id=\"" + html_escape(f.id) + "\" name=\"" + html_escape(f.id) + "\"";
    if (!described.empty()) {
        a += " aria-describedby=\"" + described + "\"";
    }
    if (invalid) {
        a += " aria-invalid=\"true\"";
    }
    if (!f.autocomplete.empty()) {
        a += " autocomplete=\"" + html_escape(f.autocomplete) + "\"";
    }
    if (!f.attributes.empty()) {
        a += " " + std::string(f.attributes);
    }
    return a;
}

std::string wrap_field(const field& f, const form_errors& errors, const std::string& inner) {
    return std::string("<div class=\"field") + (errors.of(f.id) != nullptr ? " invalid" : "") + "\">\n" + inner +
           "</div>\n";
}

std::string nav_item(std::string_view href, std::string_view label, std::string_view current) {
    return "<li><a href=\"" + std::string(href) + "\"" + (href == current ? " aria-current=\"page\"" : "") + ">" +
           html_escape(label) + "</a></li>";
}

std::string nav_logout(std::string_view action, std::string_view label) {
    return "<li><form method=\"post\" action=\"" + std::string(action) + "\"><button type=\"submit\">" +
           html_escape(label) + "</button></form></li>";
}

std::string navigation(ui_language l, area who, std::string_view current) {
    switch (who) {
        case area::visitor:
            return nav_item("/", tr(l, "Start", "Home"), current) +
                   nav_item("/register", tr(l, "Registrieren", "Register"), current) +
                   nav_item("/login", tr(l, "Anmelden", "Log in"), current);
        case area::person:
            return nav_item("/appointments", tr(l, "Termine", "Appointments"), current) +
                   nav_item("/my", tr(l, "Meine Termine", "My appointments"), current) +
                   nav_logout("/logout", tr(l, "Abmelden", "Log out"));
        case area::agent:
            return nav_item("/hotline", tr(l, "Hotline", "Hotline"), current) +
                   nav_logout("/hotline/logout", tr(l, "Abmelden", "Log out"));
        case area::admin:
            return nav_item("/admin", tr(l, "Verwaltung", "Administration"), current) +
                   nav_logout("/admin/logout", tr(l, "Abmelden", "Log out"));
    }
    return {};
}

// This request's target with lang=<to> instead of any lang it had.
std::string switch_href(const request_ctx& ctx, ui_language to) {
    const std::string_view target = ctx.req.target();
    const auto q = target.find('?');
    std::string query;
    if (q != std::string_view::npos) {
        std::string_view rest = target.substr(q + 1);
        while (!rest.empty()) {
            const auto amp = rest.find('&');
            const auto part = rest.substr(0, amp);
            rest.remove_prefix(amp == std::string_view::npos ? rest.size() : amp + 1);
            if (!part.empty() && part.substr(0, 5) != "lang=") {
                query += std::string(part) + "&";
            }
        }
    }
    return std::string(ctx.path) + "?" + query + "lang=" + (to == ui_language::en ? "en" : "de");
}

}  // namespace

ui_language page_language(const request_ctx& ctx) {
    if (const auto q = ctx.query("lang")) {
        if (const auto l = language_named(*q)) {
            return *l;
        }
    }
    if (const auto c = cookie_value(ctx.req, language_cookie)) {
        if (const auto l = language_named(*c)) {
            return *l;
        }
    }
    return ctx.lang();
}

// ---- forms -------------------------------------------------------------------------------------

const std::string* form_errors::of(std::string_view field) const {
    for (const auto& e : list) {
        if (e.field == field) {
            return &e.message;
        }
    }
    return nullptr;
}

bool form_values::has(std::string_view name) const { return form_param(body_, name).has_value(); }

std::string form_values::get(std::string_view name, std::string_view fallback) const {
    const auto v = form_param(body_, name);
    return v ? std::string(trim(*v)) : std::string(fallback);
}

std::optional<std::int64_t> read_int(std::string_view text, std::int64_t min, std::int64_t max) {
    text = trim(text);
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || v < min || v > max) {
        return std::nullopt;
    }
    return v;
}

std::optional<day_number> read_date(std::string_view text) {
    text = trim(text);
    if (const auto iso = parse_date(text)) {
        return iso;
    }
    // German "15.3.2027": where a browser offers no date picker, people type this.
    const auto d1 = text.find('.');
    const auto d2 = d1 == std::string_view::npos ? d1 : text.find('.', d1 + 1);
    if (d2 == std::string_view::npos) {
        return std::nullopt;
    }
    const auto d = read_int(text.substr(0, d1), 1, 31);
    const auto m = read_int(text.substr(d1 + 1, d2 - d1 - 1), 1, 12);
    const auto y = read_int(text.substr(d2 + 1), 1900, 2200);
    if (!d || !m || !y) {
        return std::nullopt;
    }
    const std::chrono::year_month_day ymd{std::chrono::year{static_cast<int>(*y)},
                                          std::chrono::month{static_cast<unsigned>(*m)},
                                          std::chrono::day{static_cast<unsigned>(*d)}};
    if (!ymd.ok()) {
        return std::nullopt;
    }
    return make_day(static_cast<int>(*y), static_cast<unsigned>(*m), static_cast<unsigned>(*d));
}

std::optional<int> read_clock(std::string_view text) {
    text = trim(text);
    const auto colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0 || text.size() - colon != 3) {
        return std::nullopt;
    }
    const auto h = read_int(text.substr(0, colon), 0, 24);
    const auto m = read_int(text.substr(colon + 1), 0, 59);
    if (!h || !m || *h * 60 + *m > 24 * 60) {
        return std::nullopt;
    }
    return static_cast<int>(*h * 60 + *m);
}

std::string render_field(ui_language l, const field& f, const form_errors& errors) {
    std::string described;
    std::string h = field_head(l, f, errors, described);
    const std::string attrs = control_attributes(f, described, errors.of(f.id) != nullptr);
    if (f.type == "textarea") {
        h += "<textarea" + attrs + " rows=\"3\">" + html_escape(f.value) + "</textarea>\n";
    } else {
        h += "<input type=\"" + std::string(f.type) + "\"" + attrs + " value=\"" + html_escape(f.value) + "\">\n";
    }
    return wrap_field(f, errors, h);
}

std::string render_select(ui_language l, const field& f, const std::vector<option>& options,
                          const form_errors& errors) {
    std::string described;
    std::string h = field_head(l, f, errors, described);
    h += "<select" + control_attributes(f, described, errors.of(f.id) != nullptr) + ">\n";
    for (const auto& o : options) {
        h += "<option value=\"" + html_escape(o.value) + "\"" + (o.value == f.value ? " selected" : "") + ">" +
             html_escape(o.label) + "</option>\n";
    }
    h += "</select>\n";
    return wrap_field(f, errors, h);
}

std::string render_error_summary(ui_language l, const form_errors& errors) {
    if (errors.empty()) {
        return {};
    }
    std::string h =
        "<div class=\"alert\" role=\"alert\" aria-labelledby=\"alert-title\" tabindex=\"-1\">\n"
        "<h2 id=\"alert-title\">" +
        std::string(tr(l, "Das hat nicht geklappt", "There is a problem")) + "</h2>\n<ul>\n";
    for (const auto& e : errors.list) {
        h += e.field.empty()
                 ? "<li>" + html_escape(e.message) + "</li>\n"
                 : "<li><a href=\"#" + html_escape(e.field) + "\">" + html_escape(e.message) + "</a></li>\n";
    }
    return h + "</ul>\n</div>\n";
}

std::string render_notice(std::string_view text) {
    return text.empty() ? std::string() : "<p class=\"notice\" role=\"status\">" + html_escape(text) + "</p>\n";
}

std::string render_hidden(std::string_view name, std::string_view value) {
    return "<input type=\"hidden\" name=\"" + html_escape(name) + "\" value=\"" + html_escape(value) + "\">\n";
}

std::string render_post_form(std::string_view action, std::string_view inner, std::string_view button,
                             std::string_view css_class, std::string_view button_class) {
    std::string h = "<form method=\"post\" action=\"" + html_escape(action) + "\"";
    if (!css_class.empty()) {
        h += " class=\"" + std::string(css_class) + "\"";
    }
    h += ">\n" + std::string(inner) + "<button type=\"submit\"";
    if (!button_class.empty()) {
        h += " class=\"" + std::string(button_class) + "\"";
    }
    return h + ">" + html_escape(button) + "</button>\n</form>\n";
}

// ---- values shown ------------------------------------------------------------------------------

std::string display_date(ui_language l, day_number d) {
    static constexpr std::string_view de_days[] = {"Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So."};
    static constexpr std::string_view en_days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static constexpr std::string_view en_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{d}}};
    const int wd = weekday_of(d);
    const auto day = static_cast<unsigned>(ymd.day());
    const auto month = static_cast<unsigned>(ymd.month());
    const int year = static_cast<int>(ymd.year());
    if (l == ui_language::en) {
        return std::string(en_days[wd]) + " " + std::to_string(day) + " " + std::string(en_months[month - 1]) + " " +
               std::to_string(year);
    }
    const auto two = [](unsigned v) { return (v < 10 ? "0" : "") + std::to_string(v); };
    return std::string(de_days[wd]) + " " + two(day) + "." + two(month) + "." + std::to_string(year);
}

std::string centre_name_of(const std::vector<centre>& centres, std::int64_t id) {
    for (const auto& c : centres) {
        if (c.id == id) {
            return c.name;
        }
    }
    return "#" + std::to_string(id);
}

std::vector<option> centre_options(const std::vector<centre>& centres) {
    std::vector<option> o;
    for (const auto& c : centres) {
        o.push_back({std::to_string(c.id), c.name});
    }
    return o;
}

std::string_view explain(ui_language l, store_error e) {
    switch (e) {
        case store_error::ok: return tr(l, "Erledigt.", "Done.");
        case store_error::invalid_input: return tr(l, "Bitte prüfen Sie Ihre Angaben.", "Please check your entries.");
        case store_error::not_found:
            return tr(l, "Das gibt es nicht (mehr). Bitte laden Sie die Seite neu.",
                      "That does not exist (any more). Please reload the page.");
        case store_error::wrong_credentials:
            return tr(l, "Die Anmeldedaten stimmen nicht. Bitte prüfen Sie die Eingabe.",
                      "The login details do not match. Please check what you entered.");
        case store_error::group_closed:
            return tr(
                l,
                "Ihre Prioritätsgruppe ist noch nicht zur Buchung freigegeben. Sobald sie freigegeben ist, "
                "können Sie hier einen Termin buchen.",
                "Your priority group cannot book yet. As soon as it is opened, you can book an appointment here.");
        case store_error::already_booked:
            return tr(l, "Sie haben bereits einen Termin. Unter „Meine Termine“ können Sie ihn absagen oder umbuchen.",
                      "You already have an appointment. Under “My appointments” you can cancel or rebook it.");
        case store_error::no_capacity:
            return tr(l, "An diesem Tag ist kein Termin mehr frei. Bitte wählen Sie einen anderen Tag.",
                      "No appointment is left on that day. Please choose another day.");
        case store_error::day_past:
            return tr(l, "Dieser Tag liegt in der Vergangenheit. Bitte wählen Sie einen Tag ab heute.",
                      "That day is in the past. Please choose a day from today on.");
        case store_error::address_required:
            return tr(l, "Für eine Buchung über die Hotline brauchen wir eine Postanschrift für den Bestätigungsbrief.",
                      "A hotline booking needs a postal address for the confirmation letter.");
        case store_error::conflict:
            return tr(l, "Das steht im Widerspruch zu vorhandenen Daten (zum Beispiel ist der Name schon vergeben).",
                      "That conflicts with existing data (for example, the name is taken).");
        case store_error::busy:
            return tr(l, "Das System ist gerade stark ausgelastet. Bitte versuchen Sie es gleich noch einmal.",
                      "The system is very busy right now. Please try again in a moment.");
        case store_error::io:
        case store_error::schema_too_new:
            return tr(l, "Ein technischer Fehler ist aufgetreten. Bitte versuchen Sie es später noch einmal.",
                      "A technical error occurred. Please try again later.");
        case store_error::day_closed:
            return tr(l, "Das Impfzentrum ist an diesem Tag geschlossen. Bitte wählen Sie einen anderen Tag.",
                      "The centre is closed on that day. Please choose another day.");
    }
    return tr(l, "Unbekannter Fehler.", "Unknown error.");
}

std::string render_week(ui_language l, const week_view& w) {
    std::string h =
        "<" + std::string(w.heading) + ">" + html_escape(w.centre_name) + "</" + std::string(w.heading) + ">\n";
    h += "<ul class=\"days\">\n";
    for (const auto& d : w.days) {
        const std::string date = display_date(l, d.day);
        h += "<li><span><strong>" + html_escape(date) + "</strong>: ";
        if (!d.open) {
            h += "<span class=\"closed\">" + std::string(tr(l, "geschlossen", "closed")) + "</span></span>";
        } else if (d.free == 0) {
            h += std::string(tr(l, "ausgebucht", "fully booked")) + "</span>";
        } else {
            h += std::to_string(d.free) + " " + std::string(tr(l, "frei", "free")) + "</span>";
            if (!w.action.empty()) {
                std::string inner;
                for (const auto& [name, value] : w.hidden) {
                    inner += render_hidden(name, value);
                }
                inner += render_hidden("centre", std::to_string(w.centre_id));
                inner += render_hidden("date", format_date(d.day));
                // The button names the day, so a screen reader's list of buttons makes sense alone.
                const std::string label = std::string(w.button) + ": " + date;
                h += render_post_form(w.action, inner, label);
            }
        }
        h += "</li>\n";
    }
    return h + "</ul>\n";
}

std::string render_week_picker(ui_language l, const week_picker& p) {
    const form_errors none;
    std::string carried;
    std::string keep_query;
    for (const auto& [name, value] : p.keep) {
        carried += render_hidden(name, value);
        keep_query += name + "=" + url_encode_component(value) + "&";
    }
    std::string h = "<form method=\"get\" action=\"" + html_escape(p.path) + "\">\n" + carried;
    h += render_select(
        l, {.id = "centre", .label = tr(l, "Impfzentrum", "Vaccination centre"), .value = std::to_string(p.centre_id)},
        p.centres, none);
    h += render_field(l,
                      {.id = "date",
                       .label = tr(l, "Woche ab", "Week from"),
                       .value = format_date(p.from),
                       .type = "date",
                       .hint = tr(l, "Zum Beispiel 2027-03-15", "For example 2027-03-15")},
                      none);
    h += "<button type=\"submit\" class=\"secondary\">" + std::string(tr(l, "Anzeigen", "Show")) +
         "</button>\n</form>\n";
    const std::string base =
        html_escape(std::string(p.path) + "?" + keep_query + "centre=" + std::to_string(p.centre_id) + "&date=");
    h += "<p class=\"pager\">";
    if (p.from > p.today) {
        h += "<a href=\"" + base + format_date(std::max(p.today, p.from - 7)) + "\">" +
             std::string(tr(l, "Vorherige Woche", "Previous week")) + "</a> ";
    }
    h += "<a href=\"" + base + format_date(p.from + 7) + "\">" + std::string(tr(l, "Nächste Woche", "Next week")) +
         "</a></p>\n";
    return h;
}

result<std::vector<day_row>> load_week(request_ctx& ctx, std::int64_t centre_id, day_number from, int days,
                                       channel ch) {
    auto c = ctx.db.centre_by_id(centre_id);
    if (!c.ok()) {
        return {c.error};
    }
    auto av = ctx.db.availability(centre_id, from, from + days - 1, ctx.now);
    if (!av.ok()) {
        return {av.error};
    }
    result<std::vector<day_row>> out;
    for (const auto& d : av.value) {
        const bool open = c.value.opens_on(d.day);
        out.value.push_back({d.day, open, open ? (ch == channel::online ? d.free_online : d.free_hotline) : 0});
    }
    return out;
}

// ---- the page ----------------------------------------------------------------------------------

std::string render_shell(const shell& s) {
    const ui_language l = s.lang;
    const ui_language other = l == ui_language::en ? ui_language::de : ui_language::en;
    const std::string nav = navigation(l, s.who, s.switch_href.substr(0, s.switch_href.find('?')));
    const std::string admin =
        s.admin_link ? "<li><a href=\"/admin\">" + std::string(tr(l, "Verwaltung", "Administration")) + "</a></li>"
                     : std::string();
    return fill(std::string_view(embedded::booking_layout_html, embedded::booking_layout_html_size),
                {{"lang", l == ui_language::en ? "en" : "de"},
                 {"title", s.title},
                 {"site", tr(l, "Impftermine", "Vaccination appointments")},
                 {"skip", tr(l, "Zum Inhalt springen", "Skip to content")},
                 {"nav_label", tr(l, "Hauptnavigation", "Main navigation")},
                 {"nav", nav},
                 {"switch_href", s.switch_href},
                 {"switch_lang", other == ui_language::en ? "en" : "de"},
                 {"switch_name", other == ui_language::en ? "English" : "Deutsch"},
                 {"body", s.body},
                 {"footer_hotline", tr(l, "Hotline (für Mitarbeitende)", "Hotline (staff)")},
                 {"footer_admin", admin},
                 {"footer_note",
                  tr(l, "Diese Seiten funktionieren ohne JavaScript.", "These pages work without JavaScript.")}});
}

simple_response page(const request_ctx& ctx, http::status status, std::string_view title, std::string body, area who) {
    const ui_language l = page_language(ctx);
    shell s{l,
            title,
            std::move(body),
            who,
            switch_href(ctx, l == ui_language::en ? ui_language::de : ui_language::en),
            !ctx.settings.admin_token.empty()};
    auto res = html_response(status, render_shell(s));
    if (const auto q = ctx.query("lang"); q && language_named(*q)) {
        res.set(http::field::set_cookie, std::string(language_cookie) + "=" + *q +
                                             "; Path=/; Max-Age=31536000; SameSite=Lax" +
                                             (ctx.settings.cookie_secure ? "; Secure" : ""));
    }
    return res;
}

simple_response cross_site(const request_ctx& ctx) {
    const ui_language l = page_language(ctx);
    return page(ctx, http::status::forbidden, tr(l, "Anfrage abgelehnt", "Request refused"),
                "<p>" +
                    std::string(tr(l, "Formulare dieser Seite können nur von dieser Seite aus abgeschickt werden.",
                                   "Forms of this site can only be sent from this site.")) +
                    " <a href=\"/\">" + std::string(tr(l, "Zur Startseite", "To the start page")) + "</a></p>\n");
}

simple_response not_found() { return simple_text(http::status::not_found, "not found\n"); }

simple_response stylesheet(request_ctx&) {
    simple_response r{http::status::ok, 11};
    r.set(http::field::content_type, "text/css; charset=utf-8");
    r.body() = std::string(embedded::booking_booking_css, embedded::booking_booking_css_size);
    return r;
}

// ---- sessions ----------------------------------------------------------------------------------

result<std::string> open_session(request_ctx& ctx, session_kind kind, std::int64_t subject, std::string_view cookie) {
    auto token = ctx.db.create_session(kind, subject, ctx.now + ctx.settings.session_ttl_s);
    if (!token.ok()) {
        return {token.error};
    }
    return {store_error::ok,
            session_cookie(cookie, token.value, ctx.settings.session_ttl_s, ctx.settings.cookie_secure)};
}

std::optional<session> session_for_post(request_ctx& ctx, session_kind kind,
                                        simple_response (*login_page)(request_ctx&), simple_response& answer) {
    if (!ctx.same_origin()) {
        answer = cross_site(ctx);
        return std::nullopt;
    }
    auto s = ctx.session_of(kind);
    if (!s) {
        answer = login_page(ctx);
    }
    return s;
}

simple_response close_session(request_ctx& ctx, session_kind kind, std::string_view cookie, std::string_view location) {
    if (!ctx.same_origin()) {
        return cross_site(ctx);
    }
    if (const auto t = ctx.session_token(kind)) {
        (void)ctx.db.delete_session(*t);
    }
    auto res = redirect(location);
    res.set(http::field::set_cookie, session_cookie(cookie, "", 0, ctx.settings.cookie_secure));
    return res;
}

}  // namespace anteroom::booking::pages
