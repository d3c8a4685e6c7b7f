// The booking backend's HTML pages (German by default, English by Accept-Language or ?lang=):
// the route table, the start page, registration and the person's login. No page needs
// JavaScript; every POST checks the Origin first and answers with a page or a 303.

#include "booking/pages_parts.hpp"

namespace anteroom::booking {

namespace pages {

namespace {

constexpr std::size_t max_text = 200;
constexpr std::size_t max_address = 500;

bool person_logged_in(request_ctx& ctx) { return ctx.session_of(session_kind::person).has_value(); }

// ---- start -------------------------------------------------------------------------------------

struct start_view {
    bool logged_in = false;
    std::optional<capacity_summary> capacity;  // nullopt when the store could not say
};

std::string render_start(ui_language l, const start_view& v) {
    std::string h =
        "<p>" +
        std::string(tr(l,
                       "Hier können Sie sich für eine Corona-Schutzimpfung registrieren und einen Termin in "
                       "einem Impfzentrum buchen, absagen oder umbuchen.",
                       "Here you can register for a COVID-19 vaccination and book, cancel or rebook an "
                       "appointment at a vaccination centre.")) +
        "</p>\n";
    h += "<h2>" + std::string(tr(l, "Freie Termine", "Free appointments")) + "</h2>\n";
    if (v.capacity) {
        h += "<p><span class=\"big\">" + std::to_string(v.capacity->available) + "</span> " +
             std::string(tr(l, "freie Termine zurzeit", "appointments free right now")) + "</p>\n";
        if (!v.capacity->centres.empty()) {
            h += "<ul>\n";
            for (const auto& c : v.capacity->centres) {
                h += "<li><a href=\"/appointments?centre=" + std::to_string(c.id) + "\">" + html_escape(c.name) +
                     "</a>: " + std::to_string(c.available) + " " + std::string(tr(l, "frei", "free")) + "</li>\n";
            }
            h += "</ul>\n";
        }
        if (v.capacity->next_delivery) {
            h += "<p>" + std::string(tr(l, "Nächste bekannte Lieferung: ", "Next known delivery: ")) +
                 html_escape(display_date(l, *v.capacity->next_delivery)) + "</p>\n";
        }
    } else {
        h += "<p>" +
             std::string(tr(l, "Die Zahl ist gerade nicht verfügbar.", "The number is not available right now.")) +
             "</p>\n";
    }
    if (v.logged_in) {
        h += "<p><a class=\"button\" href=\"/my\">" + std::string(tr(l, "Meine Termine", "My appointments")) +
             "</a></p>\n";
        return h;
    }
    h += "<h2>" + std::string(tr(l, "So geht es", "How it works")) + "</h2>\n<ol>\n<li>" +
         std::string(tr(l, "Registrieren Sie sich. Sie erhalten einen Buchungscode und eine PIN.",
                        "Register. You receive a booking code and a PIN.")) +
         "</li>\n<li>" +
         std::string(tr(l, "Melden Sie sich mit Buchungscode und PIN an.", "Log in with the booking code and PIN.")) +
         "</li>\n<li>" +
         std::string(tr(l, "Wählen Sie ein Impfzentrum und einen Tag und buchen Sie.",
                        "Choose a vaccination centre and a day, and book.")) +
         "</li>\n</ol>\n<p><a class=\"button\" href=\"/register\">" + std::string(tr(l, "Registrieren", "Register")) +
         "</a> <a class=\"button secondary\" href=\"/login\">" + std::string(tr(l, "Anmelden", "Log in")) +
         "</a></p>\n";
    return h;
}

simple_response get_start(request_ctx& ctx) {
    const ui_language l = page_language(ctx);
    start_view v{person_logged_in(ctx), std::nullopt};
    if (auto c = ctx.db.capacity(ctx.now); c.ok()) {
        v.capacity = std::move(c.value);
    }
    return page(ctx, http::status::ok, tr(l, "Impftermin buchen", "Book a vaccination appointment"), render_start(l, v),
                v.logged_in ? area::person : area::visitor);
}

// ---- registration ------------------------------------------------------------------------------

std::string render_register_form(ui_language l, const form_values& v, const form_errors& errors) {
    std::string h = render_error_summary(l, errors);
    h += "<p>" +
         std::string(
             tr(l, "Alle Felder ohne „freiwillig“ werden gebraucht.", "All fields not marked “optional” are needed.")) +
         "</p>\n";
    return h + render_post_form("/register", render_registration_fields(l, v, false, errors),
                                tr(l, "Registrieren", "Register"));
}

simple_response get_register(request_ctx& ctx) {
    const ui_language l = page_language(ctx);
    return page(ctx, http::status::ok, tr(l, "Registrieren", "Register"), render_register_form(l, {}, {}));
}

simple_response post_register(request_ctx& ctx) {
    if (!ctx.same_origin()) {
        return cross_site(ctx);
    }
    const ui_language l = page_language(ctx);
    const form_values v(ctx.req.body());
    form_errors errors;
    auto r = read_registration(l, v, day_of(ctx.now), false, errors);
    if (r) {
        auto d = ctx.db.register_person(*r, ctx.now);
        if (d.ok()) {
            // Rendered in this response, never redirected: the PIN must not go into a URL or a cookie.
            return page(ctx, http::status::ok, tr(l, "Registrierung abgeschlossen", "Registration complete"),
                        render_login_data(l, d.value, false));
        }
        errors.add("", explain(l, d.error));
    }
    return page(ctx, http::status::bad_request, tr(l, "Registrieren", "Register"), render_register_form(l, v, errors));
}

// ---- login -------------------------------------------------------------------------------------

std::string render_login_form(ui_language l, const form_values& v, const form_errors& errors) {
    std::string inner =
        render_field(
            l,
            {.id = "booking_code",
             .label = tr(l, "Buchungscode", "Booking code"),
             .value = v.get("booking_code"),
             .type = "text",
             .hint = tr(l, "12 Zeichen, zum Beispiel ABCD-EFGH-JKLM", "12 characters, for example ABCD-EFGH-JKLM"),
             .autocomplete = "username",
             .attributes = "autocapitalize=\"characters\" spellcheck=\"false\""},
            errors) +
        render_field(l,
                     {.id = "pin",
                      .label = tr(l, "PIN", "PIN"),
                      .value = "",
                      .type = "password",
                      .hint = tr(l, "6 Ziffern", "6 digits"),
                      .autocomplete = "current-password",
                      .attributes = numeric_attributes},
                     errors);
    return render_error_summary(l, errors) + render_post_form("/login", inner, tr(l, "Anmelden", "Log in")) + "<p>" +
           std::string(tr(l, "Noch keine Zugangsdaten?", "No login details yet?")) + " <a href=\"/register\">" +
           std::string(tr(l, "Jetzt registrieren", "Register now")) + "</a></p>\n";
}

simple_response get_login(request_ctx& ctx) {
    const ui_language l = page_language(ctx);
    return page(ctx, http::status::ok, tr(l, "Anmelden", "Log in"), render_login_form(l, {}, {}));
}

simple_response post_login(request_ctx& ctx) {
    if (!ctx.same_origin()) {
        return cross_site(ctx);
    }
    const ui_language l = page_language(ctx);
    const form_values v(ctx.req.body());
    form_errors errors;
    const std::string code = v.get("booking_code");
    const std::string pin = v.get("pin");
    if (code.empty() || code.size() > 64) {
        errors.add("booking_code", tr(l, "Bitte geben Sie Ihren Buchungscode ein.", "Please enter your booking code."));
    }
    if (pin.empty() || pin.size() > 64) {
        errors.add("pin", tr(l, "Bitte geben Sie Ihre PIN ein.", "Please enter your PIN."));
    }
    http::status status = http::status::bad_request;
    if (errors.empty()) {
        auto id = ctx.db.login(code, pin);
        if (id.ok()) {
            auto cookie = open_session(ctx, session_kind::person, id.value, person_cookie);
            if (cookie.ok()) {
                auto res = redirect("/my");
                res.set(http::field::set_cookie, cookie.value);
                return res;
            }
            errors.add("", explain(l, cookie.error));
            status = status_of(cookie.error);
        } else if (id.error == store_error::wrong_credentials || id.error == store_error::not_found) {
            errors.add("booking_code", tr(l, "Buchungscode oder PIN stimmen nicht. Bitte prüfen Sie beides.",
                                          "Booking code or PIN do not match. Please check both."));
            status = http::status::unauthorized;
        } else {
            errors.add("", explain(l, id.error));
            status = status_of(id.error);
        }
    }
    return page(ctx, status, tr(l, "Anmelden", "Log in"), render_login_form(l, v, errors));
}

simple_response post_logout(request_ctx& ctx) { return close_session(ctx, session_kind::person, person_cookie, "/"); }

}  // namespace

// ---- shared with the hotline -------------------------------------------------------------------

std::optional<new_registration> read_registration(ui_language l, const form_values& v, day_number today,
                                                  bool address_required, form_errors& errors) {
    new_registration r;
    const std::size_t before = errors.list.size();
    r.name = v.get("name");
    if (r.name.empty() || r.name.size() > max_text) {
        errors.add("name", tr(l, "Bitte geben Sie den vollständigen Namen ein (höchstens 200 Zeichen).",
                              "Please enter the full name (at most 200 characters)."));
    }
    const auto birth = read_date(v.get("birth_date"));
    if (!birth || *birth > today || *birth < today - 130 * 366) {
        errors.add("birth_date", tr(l, "Bitte geben Sie ein gültiges Geburtsdatum ein, zum Beispiel 31.12.1950.",
                                    "Please enter a valid date of birth, for example 1950-12-31."));
    } else {
        r.birth_date = *birth;
    }
    r.contact = v.get("contact");
    r.postal_address = v.get("postal_address");
    if (r.contact.size() > max_text || (r.contact.empty() && !address_required)) {
        errors.add("contact", tr(l, "Bitte geben Sie eine E-Mail-Adresse, Telefonnummer oder Anschrift an.",
                                 "Please enter an email address, phone number or postal address."));
    }
    if (r.postal_address.size() > max_address || (r.postal_address.empty() && address_required)) {
        errors.add("postal_address", tr(l, "Bitte geben Sie die Postanschrift an (für den Bestätigungsbrief).",
                                        "Please enter the postal address (for the confirmation letter)."));
    }
    const auto group = read_int(v.get("priority_group"), 0, 1000);
    if (!group) {
        errors.add("priority_group", tr(l, "Bitte geben Sie die Prioritätsgruppe als Zahl von 0 bis 1000 an.",
                                        "Please enter the priority group as a number from 0 to 1000."));
    } else {
        r.priority_group = *group;
    }
    if (errors.list.size() != before) {
        return std::nullopt;
    }
    if (r.contact.empty()) {
        r.contact = r.postal_address;
    }
    return r;
}

std::string render_registration_fields(ui_language l, const form_values& v, bool address_required,
                                       const form_errors& errors) {
    return render_field(l,
                        {.id = "name",
                         .label = tr(l, "Vor- und Nachname", "Full name"),
                         .value = v.get("name"),
                         .type = "text",
                         .autocomplete = "name"},
                        errors) +
           render_field(l,
                        {.id = "birth_date",
                         .label = tr(l, "Geburtsdatum", "Date of birth"),
                         .value = v.get("birth_date"),
                         .type = "text",
                         .hint = tr(l, "TT.MM.JJJJ, zum Beispiel 31.12.1950", "YYYY-MM-DD, for example 1950-12-31"),
                         .autocomplete = "bday"},
                        errors) +
           render_field(l,
                        {.id = "contact",
                         .label = tr(l, "Kontakt", "Contact"),
                         .value = v.get("contact"),
                         .type = "text",
                         .hint = tr(l, "E-Mail-Adresse, Telefonnummer oder Anschrift",
                                    "Email address, phone number or postal address"),
                         .optional = address_required},
                        errors) +
           render_field(
               l,
               {.id = "postal_address",
                .label = tr(l, "Postanschrift", "Postal address"),
                .value = v.get("postal_address"),
                .type = "textarea",
                .hint = address_required
                            ? tr(l, "Dorthin geht der Bestätigungsbrief.", "The confirmation letter goes there.")
                            : tr(l, "Straße, Hausnummer, Postleitzahl, Ort", "Street, number, postcode, town"),
                .autocomplete = "street-address",
                .optional = !address_required},
               errors) +
           render_field(l,
                        {.id = "priority_group",
                         .label = tr(l, "Prioritätsgruppe", "Priority group"),
                         .value = v.get("priority_group"),
                         .type = "text",
                         .hint = tr(l, "Die Zahl aus Ihrem Einladungsschreiben, zum Beispiel 2",
                                    "The number from your invitation letter, for example 2"),
                         .autocomplete = "off",
                         .attributes = numeric_attributes},
                        errors);
}

std::string grouped_code(std::string_view code) {
    std::string out;
    for (std::size_t i = 0; i < code.size(); ++i) {
        if (i > 0 && i % 4 == 0) {
            out += '-';
        }
        out += code[i];
    }
    return out;
}

std::string render_login_data(ui_language l, const login_data& d, bool for_caller) {
    std::string h = "<div class=\"secret\">\n<h2>" +
                    std::string(for_caller ? tr(l, "Zugangsdaten für den Anrufer", "Login details for the caller")
                                           : tr(l, "Ihre Zugangsdaten", "Your login details")) +
                    "</h2>\n<dl>\n<dt>" + std::string(tr(l, "Buchungscode", "Booking code")) + "</dt>\n<dd>" +
                    html_escape(grouped_code(d.booking_code)) + "</dd>\n<dt>PIN</dt>\n<dd>" + html_escape(d.pin) +
                    "</dd>\n</dl>\n<p><strong>";
    if (for_caller) {
        h += std::string(tr(l, "Lesen Sie dem Anrufer beide jetzt vor. Die PIN wird nur dieses eine Mal angezeigt.",
                            "Read both to the caller now. The PIN is shown only this once."));
    } else {
        h += std::string(tr(l,
                            "Bitte schreiben Sie beide jetzt auf oder drucken Sie diese Seite aus. Die PIN wird nur "
                            "dieses eine Mal angezeigt und kann nicht wiederhergestellt werden.",
                            "Please write both down now or print this page. The PIN is shown only this once and "
                            "cannot be recovered."));
    }
    h += "</strong> " +
         std::string(tr(l, "Zum Anmelden braucht man Buchungscode und PIN.",
                        "Logging in needs the booking code and the PIN.")) +
         "</p>\n</div>\n";
    if (for_caller) {
        return h + "<p><a class=\"button\" href=\"/hotline?code=" + url_encode_component(d.booking_code) + "\">" +
               std::string(tr(l, "Weiter: Termin für den Anrufer buchen", "Next: book an appointment for the caller")) +
               "</a></p>\n";
    }
    return h + "<p><a class=\"button\" href=\"/login\">" + std::string(tr(l, "Jetzt anmelden", "Log in now")) +
           "</a></p>\n";
}

}  // namespace pages

namespace {

using namespace pages;

const route page_table[] = {
    {http::verb::get, "/", get_start},
    {http::verb::get, "/static/booking.css", stylesheet},
    {http::verb::get, "/register", get_register},
    {http::verb::post, "/register", post_register},
    {http::verb::get, "/login", get_login},
    {http::verb::post, "/login", post_login},
    {http::verb::post, "/logout", post_logout},
    {http::verb::get, "/appointments", get_appointments},
    {http::verb::post, "/appointments/book", post_book, true},
    {http::verb::get, "/my", get_my},
    {http::verb::post, "/my/cancel", post_cancel, true},
    {http::verb::post, "/my/rebook", post_rebook, true},
    {http::verb::get, "/hotline", get_hotline},
    {http::verb::post, "/hotline/login", post_hotline_login},
    {http::verb::post, "/hotline/logout", post_hotline_logout},
    {http::verb::post, "/hotline/register", post_hotline_register},
    {http::verb::post, "/hotline/book", post_hotline_book, true},
    {http::verb::post, "/hotline/cancel", post_hotline_cancel, true},
    {http::verb::get, "/admin", get_admin},
    {http::verb::post, "/admin/login", post_admin_login},
    {http::verb::post, "/admin/logout", post_admin_logout},
    {http::verb::post, "/admin/centres", post_admin_centre},
    {http::verb::post, "/admin/deliveries", post_admin_delivery},
    {http::verb::post, "/admin/groups", post_admin_group},
    {http::verb::post, "/admin/care-homes/reserve", post_admin_reserve},
    {http::verb::post, "/admin/care-homes/release", post_admin_release},
    {http::verb::post, "/admin/letters/printed", post_admin_printed},
    {http::verb::post, "/admin/agents", post_admin_agent},
    {http::verb::post, "/admin/retention", post_admin_retention},
};

}  // namespace

std::span<const route> page_routes() { return page_table; }

}  // namespace anteroom::booking
