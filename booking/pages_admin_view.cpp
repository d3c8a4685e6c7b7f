// The admin page as HTML: the sections with their forms (centres, deliveries, care homes,
// groups, letters, agents, retention) and the login form. Plain values in, escaped HTML out.

#include "booking/pages_admin.hpp"

namespace anteroom::booking::pages {

namespace {

std::string day_label(ui_language l, int d) {
    static constexpr std::string_view de[] = {"Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"};
    static constexpr std::string_view en[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    return std::string(l == ui_language::en ? en[d] : de[d]);
}

// The fields of one centre; prefix "c<id>-" keeps the ids unique ("c0-" is a new centre).
std::string render_centre_form(ui_language l, const admin_view& v, const centre& c) {
    const std::string p = "c" + std::to_string(c.id) + "-";
    const std::string name = p + "name";
    const std::string opens = p + "opens";
    const std::string closes = p + "closes";
    const std::string slot = p + "slot";
    const std::string days = p + "days";
    const bool posted = v.posted.has(name);
    std::string inner = render_hidden("centre", std::to_string(c.id));
    inner +=
        render_field(l, {.id = name, .label = tr(l, "Name", "Name"), .value = v.posted.get(name, c.name)}, v.errors);
    inner += render_field(l,
                          {.id = opens,
                           .label = tr(l, "Öffnet um", "Opens at"),
                           .value = v.posted.get(opens, format_clock(c.hours.opens_minute)),
                           .type = "time",
                           .hint = tr(l, "SS:MM, zum Beispiel 08:00", "HH:MM, for example 08:00")},
                          v.errors);
    inner += render_field(
        l,
        {closes, tr(l, "Schließt um", "Closes at"), v.posted.get(closes, format_clock(c.hours.closes_minute)), "time",
         tr(l, "SS:MM, zum Beispiel 20:00", "HH:MM, for example 20:00")},
        v.errors);
    inner += render_field(l,
                          {.id = slot,
                           .label = tr(l, "Minuten je Termin", "Minutes per appointment"),
                           .value = v.posted.get(slot, std::to_string(c.hours.slot_minutes)),
                           .type = "text",
                           .attributes = numeric_attributes},
                          v.errors);
    const auto* error = v.errors.of(days);
    inner += "<fieldset class=\"checks" + std::string(error != nullptr ? " invalid" : "") + "\" id=\"" + days + "\"" +
             (error != nullptr ? " aria-describedby=\"" + days + "-error\"" : "") + ">\n<legend>" +
             std::string(tr(l, "Öffnungstage", "Opening days")) + "</legend>\n";
    if (error != nullptr) {
        inner += "<p class=\"error\" id=\"" + days + "-error\">" + html_escape(*error) + "</p>\n";
    }
    for (int d = 0; d < 7; ++d) {
        const std::string key = p + std::string(day_keys[d]);
        const bool on = posted ? v.posted.has(key) : (c.open_days >> d & 1) != 0;
        inner += "<label><input type=\"checkbox\" name=\"" + key + "\" value=\"1\"" + (on ? " checked" : "") + "> " +
                 day_label(l, d) + "</label>\n";
    }
    inner += "</fieldset>\n";
    return render_post_form("/admin/centres", inner,
                            c.id == 0 ? tr(l, "Impfzentrum anlegen", "Add centre") : tr(l, "Speichern", "Save"));
}

std::string render_centres(ui_language l, const admin_view& v) {
    std::string h = "<h2 id=\"centres\">" + std::string(tr(l, "Impfzentren", "Vaccination centres")) + "</h2>\n";
    for (const auto& c : v.centres) {
        std::string days;
        for (int d = 0; d < 7; ++d) {
            if ((c.open_days >> d & 1) != 0) {
                days += (days.empty() ? "" : ", ") + day_label(l, d);
            }
        }
        h += "<h3>" + html_escape(c.name) + "</h3>\n<p>" + format_clock(c.hours.opens_minute) + "–" +
             format_clock(c.hours.closes_minute) + ", " + html_escape(days) + "</p>\n<details" +
             (v.posted.has("c" + std::to_string(c.id) + "-name") ? " open" : "") + "><summary>" +
             std::string(tr(l, "Bearbeiten", "Edit")) + "<span class=\"visually-hidden\"> " + html_escape(c.name) +
             "</span></summary>\n" + render_centre_form(l, v, c) + "</details>\n";
    }
    centre fresh;
    fresh.name.clear();
    h += "<h3>" + std::string(tr(l, "Neues Impfzentrum", "New centre")) + "</h3>\n" + render_centre_form(l, v, fresh);
    return h;
}

std::string render_stock(ui_language l, const admin_view& v) {
    const auto centres = centre_options(v.centres);
    const auto& e = v.errors;
    const auto& p = v.posted;
    std::string h =
        "<h2 id=\"deliveries\">" + std::string(tr(l, "Lieferung erfassen", "Record a delivery")) + "</h2>\n";
    std::string inner =
        render_select(l, {.id = "d-centre", .label = tr(l, "Impfzentrum", "Centre"), .value = p.get("d-centre")},
                      centres, e) +
        render_field(l, {.id = "d-date", .label = tr(l, "Tag", "Day"), .value = p.get("d-date"), .type = "date"}, e) +
        render_field(l,
                     {.id = "d-vials",
                      .label = tr(l, "Fläschchen", "Vials"),
                      .value = p.get("d-vials"),
                      .type = "text",
                      .hint = std::string(tr(l, "Termine je Fläschchen: ", "Appointments per vial: ")) +
                              std::to_string(v.doses_per_vial),
                      .attributes = numeric_attributes},
                     e);
    h += render_post_form("/admin/deliveries", inner, tr(l, "Lieferung erfassen", "Record delivery"));

    h += "<h2 id=\"care-homes\">" + std::string(tr(l, "Pflegeheime", "Care homes")) + "</h2>\n<h3>" +
         std::string(tr(l, "Dosen reservieren", "Reserve doses")) + "</h3>\n";
    inner =
        render_select(l, {.id = "r-centre", .label = tr(l, "Impfzentrum", "Centre"), .value = p.get("r-centre")},
                      centres, e) +
        render_field(l, {.id = "r-date", .label = tr(l, "Tag", "Day"), .value = p.get("r-date"), .type = "date"}, e) +
        render_field(l,
                     {.id = "r-doses",
                      .label = tr(l, "Dosen", "Doses"),
                      .value = p.get("r-doses"),
                      .type = "text",
                      .attributes = numeric_attributes},
                     e);
    h += render_post_form("/admin/care-homes/reserve", inner, tr(l, "Reservieren", "Reserve"));
    h += "<h3>" + std::string(tr(l, "Reservierung freigeben", "Release a reservation")) + "</h3>\n";
    inner = render_field(
                l,
                {.id = "x-id",
                 .label = tr(l, "Reservierungsnummer", "Reservation number"),
                 .value = p.get("x-id"),
                 .type = "text",
                 .hint = tr(l, "Die Nummer, die beim Reservieren angezeigt wurde", "The number shown when reserving"),
                 .attributes = numeric_attributes},
                e) +
            render_field(l,
                         {.id = "x-used",
                          .label = tr(l, "Davon verimpft", "Doses used"),
                          .value = p.get("x-used"),
                          .type = "text",
                          .hint = tr(l, "Der Rest wird sofort buchbar.", "The rest becomes bookable at once."),
                          .attributes = numeric_attributes},
                         e);
    return h + render_post_form("/admin/care-homes/release", inner, tr(l, "Freigeben", "Release"));
}

std::string render_groups(ui_language l, const admin_view& v) {
    std::string h = "<h2 id=\"groups\">" + std::string(tr(l, "Prioritätsgruppen", "Priority groups")) + "</h2>\n";
    if (!v.groups.empty()) {
        h += "<ul>\n";
        for (const auto& [group, open] : v.groups) {
            const std::string n = std::to_string(group);
            h += "<li>" + std::string(tr(l, "Gruppe ", "Group ")) + n + ": " +
                 std::string(open ? tr(l, "freigegeben", "open") : tr(l, "gesperrt", "closed")) + " " +
                 render_post_form("/admin/groups",
                                  render_hidden("g-group", n) + render_hidden("g-open", open ? "0" : "1"),
                                  std::string(open ? tr(l, "Sperren: Gruppe ", "Close group ")
                                                   : tr(l, "Freigeben: Gruppe ", "Open group ")) +
                                      n,
                                  "inline", "secondary") +
                 "</li>\n";
        }
        h += "</ul>\n";
    }
    const std::string inner = render_field(l,
                                           {.id = "g-group",
                                            .label = tr(l, "Gruppe", "Group"),
                                            .value = v.posted.get("g-group"),
                                            .type = "text",
                                            .attributes = numeric_attributes},
                                           v.errors) +
                              render_hidden("g-open", "1");
    return h + render_post_form("/admin/groups", inner, tr(l, "Gruppe freigeben", "Open group"));
}

std::string render_letters(ui_language l, const admin_view& v) {
    std::string h = "<h2 id=\"letters\">" + std::string(tr(l, "Briefe drucken", "Print letters")) + "</h2>\n";
    if (v.letters.empty()) {
        return h + "<p>" + std::string(tr(l, "Keine Briefe warten.", "No letters are waiting.")) + "</p>\n";
    }
    // The list names no person: the printable letter does, and that read is audited.
    h += "<ul class=\"cards\">\n";
    for (const auto& x : v.letters) {
        const std::string n = std::to_string(x.id);
        h += "<li><p><strong>" + std::string(tr(l, "Brief ", "Letter ")) + n +
             "</strong>: " + html_escape(centre_name_of(v.centres, x.centre_id)) + ", " +
             html_escape(display_date(l, x.day)) + ", " + format_clock(x.minute) +
             "</p>\n<p><a href=\"/api/admin/letters/" + n + "\">" +
             std::string(tr(l, "Druckansicht: Brief ", "Printable page: letter ")) + n + "</a></p>\n" +
             render_post_form("/admin/letters/printed", render_hidden("letter", n),
                              std::string(tr(l, "Als gedruckt markieren: Brief ", "Mark as printed: letter ")) + n,
                              "inline", "secondary") +
             "</li>\n";
    }
    return h + "</ul>\n";
}

}  // namespace

std::string render_admin_login(ui_language l, const form_errors& errors) {
    const std::string inner = render_field(
        l,
        {.id = "token",
         .label = tr(l, "Admin-Token", "Admin token"),
         .value = "",
         .type = "password",
         .hint = tr(l, "Der Inhalt der Datei booking.admin_token_file", "The content of booking.admin_token_file"),
         .autocomplete = "current-password"},
        errors);
    return render_error_summary(l, errors) + render_post_form("/admin/login", inner, tr(l, "Anmelden", "Log in"));
}

std::string render_admin(ui_language l, const admin_view& v) {
    std::string h = render_notice(v.notice) + render_error_summary(l, v.errors);
    h += "<nav aria-label=\"" + std::string(tr(l, "Abschnitte", "Sections")) + "\"><ul class=\"toc\">\n";
    const std::pair<std::string_view, std::string_view> sections[] = {
        {"capacity", tr(l, "Freie Termine", "Free appointments")},
        {"centres", tr(l, "Impfzentren", "Vaccination centres")},
        {"deliveries", tr(l, "Lieferung erfassen", "Record a delivery")},
        {"care-homes", tr(l, "Pflegeheime", "Care homes")},
        {"groups", tr(l, "Prioritätsgruppen", "Priority groups")},
        {"letters", tr(l, "Briefe drucken", "Print letters")},
        {"agents", tr(l, "Hotline-Zugänge", "Hotline accounts")},
        {"retention", tr(l, "Löschfristen", "Retention")}};
    for (const auto& [id, label] : sections) {
        h += "<li><a href=\"#" + std::string(id) + "\">" + std::string(label) + "</a></li>\n";
    }
    h += "</ul></nav>\n<h2 id=\"capacity\">" + std::string(tr(l, "Freie Termine", "Free appointments")) + "</h2>\n";
    if (v.capacity) {
        h += "<p><span class=\"big\">" + std::to_string(v.capacity->available) + "</span> " +
             std::string(tr(l, "online buchbar", "bookable online")) + "</p>\n<ul>\n";
        for (const auto& c : v.capacity->centres) {
            h += "<li>" + html_escape(c.name) + ": " + std::to_string(c.available) + "</li>\n";
        }
        h += "</ul>\n";
    }
    h += render_centres(l, v) + render_stock(l, v) + render_groups(l, v) + render_letters(l, v);
    h += "<h2 id=\"agents\">" + std::string(tr(l, "Hotline-Zugänge", "Hotline accounts")) + "</h2>\n";
    const std::string inner = render_field(l,
                                           {.id = "a-name",
                                            .label = tr(l, "Name", "Name"),
                                            .value = v.posted.get("a-name"),
                                            .type = "text",
                                            .autocomplete = "off"},
                                           v.errors) +
                              render_field(l,
                                           {.id = "a-password",
                                            .label = tr(l, "Passwort", "Password"),
                                            .value = "",
                                            .type = "password",
                                            .hint = tr(l, "Mindestens 12 Zeichen", "At least 12 characters"),
                                            .autocomplete = "new-password"},
                                           v.errors);
    h += render_post_form("/admin/agents", inner, tr(l, "Zugang anlegen", "Create account"));
    h += "<h2 id=\"retention\">" + std::string(tr(l, "Löschfristen", "Retention")) + "</h2>\n<p>" +
         std::string(
             tr(l,
                "Löscht jetzt, was die Löschfristen verlangen (das läuft auch regelmäßig von selbst). "
                "Angezeigt werden nur Anzahlen.",
                "Deletes now what the retention rules say (this also runs periodically). Only counts are shown.")) +
         "</p>\n";
    return h + render_post_form("/admin/retention", "", tr(l, "Jetzt ausführen", "Run now"), {}, "danger");
}

}  // namespace anteroom::booking::pages
