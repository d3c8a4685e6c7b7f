// The hotline agent's page: log in, find a caller by booking code (an audited read), register a
// caller (postal address required), book for a caller (from the hotline contingent; the booking
// creates a confirmation letter) and cancel for a caller.

#include "booking/pages_parts.hpp"

namespace anteroom::booking::pages {

namespace {

constexpr int week_days = 7;

// ---- log in ------------------------------------------------------------------------------------

std::string render_agent_login(ui_language l, const form_values& v, const form_errors& errors) {
    const std::string inner = render_field(l,
                                           {.id = "agent_name",
                                            .label = tr(l, "Name", "Name"),
                                            .value = v.get("agent_name"),
                                            .type = "text",
                                            .autocomplete = "username"},
                                           errors) +
                              render_field(l,
                                           {.id = "password",
                                            .label = tr(l, "Passwort", "Password"),
                                            .value = "",
                                            .type = "password",
                                            .autocomplete = "current-password"},
                                           errors);
    return render_error_summary(l, errors) + "<p>" +
           std::string(tr(l, "Diese Seite ist für Mitarbeitende der Hotline.", "This page is for hotline staff.")) +
           "</p>\n" + render_post_form("/hotline/login", inner, tr(l, "Anmelden", "Log in"));
}

simple_response agent_login_page(request_ctx& ctx, const form_values& v, const form_errors& errors,
                                 http::status status) {
    const ui_language l = page_language(ctx);
    return page(ctx, status, tr(l, "Hotline: Anmelden", "Hotline: log in"), render_agent_login(l, v, errors));
}

// ---- the caller --------------------------------------------------------------------------------

struct caller_view {
    registration_view person;
    std::vector<std::pair<booking_record, std::string>> appointments;  // with the centre's name
    week_picker picker;
    std::optional<week_view> week;
};

struct hotline_view {
    std::string_view notice;
    form_errors errors;
    form_values posted;
    std::string code;  // as searched for
    std::optional<caller_view> caller;
};

std::string render_caller(ui_language l, const caller_view& c) {
    const auto& r = c.person;
    std::string h = "<h2>" + std::string(tr(l, "Anrufer", "Caller")) + ": " + html_escape(r.name) + "</h2>\n";
    h += "<dl class=\"data\">\n";
    const auto row = [&](std::string_view term, const std::string& value) {
        h += "<dt>" + std::string(term) + "</dt><dd>" + html_escape(value) + "</dd>\n";
    };
    row(tr(l, "Buchungscode", "Booking code"), grouped_code(r.booking_code));
    row(tr(l, "Geburtsdatum", "Date of birth"), display_date(l, r.birth_date));
    row(tr(l, "Kontakt", "Contact"), r.contact);
    row(tr(l, "Postanschrift", "Postal address"), r.postal_address.empty() ? "–" : r.postal_address);
    row(tr(l, "Prioritätsgruppe", "Priority group"), std::to_string(r.priority_group));
    h += "</dl>\n<h3>" + std::string(tr(l, "Termine", "Appointments")) + "</h3>\n";
    if (c.appointments.empty()) {
        h += "<p>" + std::string(tr(l, "Keine Termine.", "No appointments.")) + "</p>\n";
    } else {
        h += "<ul class=\"cards\">\n";
        for (const auto& [b, centre_name] : c.appointments) {
            const std::string when = display_date(l, b.day) + ", " + format_clock(b.minute);
            h += "<li><p><strong>" + html_escape(when) + "</strong><br>" + html_escape(centre_name);
            if (b.first_booking != 0) {
                h += "<br>" + std::string(tr(l, "Zweiter Termin", "Second appointment"));
            }
            h +=
                "</p>\n" +
                render_post_form("/hotline/cancel",
                                 render_hidden("code", r.booking_code) + render_hidden("booking", std::to_string(b.id)),
                                 std::string(tr(l, "Absagen: ", "Cancel: ")) + when, "inline", "danger") +
                "</li>\n";
        }
        h += "</ul>\n";
    }
    if (r.postal_address.empty()) {
        h += "<p>" +
             std::string(tr(l, "Ohne Postanschrift kann die Hotline nicht buchen (der Brief geht dorthin).",
                            "Without a postal address the hotline cannot book (the letter goes there).")) +
             "</p>\n";
    }
    if (c.week) {
        h += "<h3>" + std::string(tr(l, "Termin buchen", "Book an appointment")) + "</h3>\n" +
             render_week_picker(l, c.picker) + render_week(l, *c.week);
    }
    return h;
}

std::string render_hotline(ui_language l, const hotline_view& v) {
    std::string h = render_notice(v.notice) + render_error_summary(l, v.errors);
    h += "<h2>" + std::string(tr(l, "Anrufer finden", "Find a caller")) + "</h2>\n";
    h += "<form method=\"get\" action=\"/hotline\">\n" +
         render_field(l,
                      {.id = "code",
                       .label = tr(l, "Buchungscode", "Booking code"),
                       .value = v.code,
                       .type = "text",
                       .autocomplete = "off",
                       .attributes = "autocapitalize=\"characters\" spellcheck=\"false\""},
                      v.errors) +
         "<button type=\"submit\" class=\"secondary\">" + std::string(tr(l, "Suchen", "Find")) + "</button>\n</form>\n";
    if (v.caller) {
        h += render_caller(l, *v.caller);
    }
    h += "<h2>" + std::string(tr(l, "Anrufer registrieren", "Register a caller")) + "</h2>\n" +
         render_post_form("/hotline/register", render_registration_fields(l, v.posted, true, v.errors),
                          tr(l, "Registrieren", "Register"));
    return h;
}

// The agent's page, with the caller of `code` when one is given (that read is audited).
simple_response hotline_page(request_ctx& ctx, std::int64_t agent_id, hotline_view v,
                             std::optional<std::int64_t> centre_id, day_number from, http::status status) {
    const ui_language l = page_language(ctx);
    if (!v.code.empty()) {
        auto r = ctx.db.agent_read_registration(agent_id, v.code, ctx.now);
        if (!r.ok()) {
            v.errors.add("code", r.error == store_error::not_found
                                     ? tr(l, "Zu diesem Buchungscode gibt es keine Registrierung.",
                                          "There is no registration with that booking code.")
                                     : explain(l, r.error));
            if (status == http::status::ok) {
                status = status_of(r.error);
            }
        } else {
            caller_view c{std::move(r.value), {}, {}, std::nullopt};
            auto cs = ctx.db.centres();
            auto bookings = ctx.db.bookings_of(c.person.id);
            const day_number today = day_of(ctx.now);
            for (const auto& b : bookings.value) {
                if (b.day >= today) {
                    c.appointments.emplace_back(b, centre_name_of(cs.value, b.centre_id));
                }
            }
            if (!cs.value.empty()) {
                const std::int64_t id = centre_id.value_or(cs.value.front().id);
                from = std::max(from, today);
                c.picker = {"/hotline", {{"code", c.person.booking_code}}, centre_options(cs.value), id, from, today};
                week_view w{centre_name_of(cs.value, id),
                            id,
                            {},
                            "/hotline/book",
                            {{"code", c.person.booking_code}},
                            tr(l, "Für den Anrufer buchen", "Book for the caller"),
                            "h4"};  // below "Termin buchen"
                if (auto days = load_week(ctx, id, from, week_days, channel::hotline); days.ok()) {
                    w.days = std::move(days.value);
                } else {
                    v.errors.add("centre", explain(l, days.error));
                }
                c.week = std::move(w);
            }
            v.caller = std::move(c);
        }
    }
    return page(ctx, status, tr(l, "Hotline", "Hotline"), render_hotline(l, v), area::agent);
}

simple_response agent_login_needed(request_ctx& ctx) {
    return agent_login_page(ctx, {}, {}, http::status::unauthorized);
}

// What the caller's POSTs (book, cancel) start with: the agent, and the caller's booking code.
struct caller_post {
    session agent;
    ui_language lang = ui_language::de;
    form_values posted;
    hotline_view view;
};

std::optional<caller_post> begin_caller_post(request_ctx& ctx, simple_response& answer) {
    const auto s = session_for_post(ctx, session_kind::agent, agent_login_needed, answer);
    if (!s) {
        return std::nullopt;
    }
    caller_post p{*s, page_language(ctx), form_values(ctx.req.body()), {}};
    p.view.code = p.posted.get("code");
    return p;
}

std::string done_url(std::string_view code, std::string_view done) {
    return "/hotline?code=" + url_encode_component(code) + "&done=" + std::string(done);
}

}  // namespace

simple_response get_hotline(request_ctx& ctx) {
    const auto s = ctx.session_of(session_kind::agent);
    if (!s) {
        return agent_login_needed(ctx);
    }
    const ui_language l = page_language(ctx);
    hotline_view v;
    v.code = ctx.query("code").value_or("");
    const auto done = ctx.query("done").value_or("");
    if (done == "booked") {
        v.notice = tr(l, "Der Termin ist gebucht; der Bestätigungsbrief ist in der Druckwarteschlange.",
                      "The appointment is booked; the confirmation letter is in the print queue.");
    } else if (done == "cancelled") {
        v.notice = tr(l, "Der Termin ist abgesagt.", "The appointment is cancelled.");
    }
    std::optional<std::int64_t> centre_id;
    if (const auto c = ctx.query("centre")) {
        centre_id = read_int(*c, 1, INT64_MAX);
    }
    const auto date = ctx.query("date");
    const day_number from = date ? read_date(*date).value_or(day_of(ctx.now)) : day_of(ctx.now);
    return hotline_page(ctx, s->subject, std::move(v), centre_id, from, http::status::ok);
}

simple_response post_hotline_login(request_ctx& ctx) {
    if (!ctx.same_origin()) {
        return cross_site(ctx);
    }
    const ui_language l = page_language(ctx);
    const form_values v(ctx.req.body());
    form_errors errors;
    const std::string name = v.get("agent_name");
    const std::string password = form_param(ctx.req.body(), "password").value_or("");
    if (name.empty() || name.size() > 200) {
        errors.add("agent_name", tr(l, "Bitte geben Sie Ihren Namen ein.", "Please enter your name."));
    }
    if (password.empty() || password.size() > 200) {
        errors.add("password", tr(l, "Bitte geben Sie Ihr Passwort ein.", "Please enter your password."));
    }
    if (!errors.empty()) {
        return agent_login_page(ctx, v, errors, http::status::bad_request);
    }
    auto id = ctx.db.agent_login(name, password);
    if (!id.ok()) {
        const bool wrong = id.error == store_error::wrong_credentials || id.error == store_error::not_found;
        errors.add("agent_name", wrong ? tr(l, "Name oder Passwort stimmen nicht.", "Name or password do not match.")
                                       : explain(l, id.error));
        return agent_login_page(ctx, v, errors, wrong ? http::status::unauthorized : status_of(id.error));
    }
    auto cookie = open_session(ctx, session_kind::agent, id.value, agent_cookie);
    if (!cookie.ok()) {
        errors.add("", explain(l, cookie.error));
        return agent_login_page(ctx, v, errors, status_of(cookie.error));
    }
    auto res = redirect("/hotline");
    res.set(http::field::set_cookie, cookie.value);
    return res;
}

simple_response post_hotline_logout(request_ctx& ctx) {
    return close_session(ctx, session_kind::agent, agent_cookie, "/hotline");
}

simple_response post_hotline_register(request_ctx& ctx) {
    simple_response answer;
    const auto s = session_for_post(ctx, session_kind::agent, agent_login_needed, answer);
    if (!s) {
        return answer;
    }
    const ui_language l = page_language(ctx);
    hotline_view v;
    v.posted = form_values(ctx.req.body());
    auto r = read_registration(l, v.posted, day_of(ctx.now), true, v.errors);
    if (r) {
        auto d = ctx.db.register_person(*r, ctx.now);
        if (d.ok()) {
            return page(ctx, http::status::ok, tr(l, "Anrufer registriert", "Caller registered"),
                        render_login_data(l, d.value, true), area::agent);
        }
        v.errors.add("", explain(l, d.error));
    }
    return hotline_page(ctx, s->subject, std::move(v), std::nullopt, day_of(ctx.now), http::status::bad_request);
}

simple_response post_hotline_book(request_ctx& ctx) {
    simple_response answer;
    auto p = begin_caller_post(ctx, answer);
    if (!p) {
        return answer;
    }
    auto& v = p->view;
    const auto centre_id = read_int(p->posted.get("centre"), 1, INT64_MAX);
    const auto day = read_date(p->posted.get("date"));
    if (!centre_id || !day || v.code.empty()) {
        v.errors.add("", explain(p->lang, store_error::invalid_input));
        return hotline_page(ctx, p->agent.subject, std::move(v), centre_id, day_of(ctx.now), http::status::bad_request);
    }
    auto reg = ctx.db.registration_id_by_code(v.code);
    auto r = reg.ok() ? ctx.db.hotline_book(p->agent.subject, reg.value, *centre_id, *day, ctx.now)
                      : result<booking_record>{reg.error};
    if (r.ok()) {
        return redirect(done_url(v.code, "booked"));
    }
    v.errors.add("", explain(p->lang, r.error));
    return hotline_page(ctx, p->agent.subject, std::move(v), centre_id, *day, status_of(r.error));
}

simple_response post_hotline_cancel(request_ctx& ctx) {
    simple_response answer;
    auto p = begin_caller_post(ctx, answer);
    if (!p) {
        return answer;
    }
    auto& v = p->view;
    const auto id = read_int(p->posted.get("booking"), 1, INT64_MAX);
    auto reg = ctx.db.registration_id_by_code(v.code);
    auto r = !reg.ok() ? result<void>{reg.error}
             : id      ? ctx.db.cancel(reg.value, *id, ctx.now)
                       : result<void>{store_error::not_found};
    if (r.ok()) {
        return redirect(done_url(v.code, "cancelled"));
    }
    v.errors.add("", explain(p->lang, r.error));
    return hotline_page(ctx, p->agent.subject, std::move(v), std::nullopt, day_of(ctx.now), status_of(r.error));
}

}  // namespace anteroom::booking::pages
