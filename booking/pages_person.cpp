// The logged-in person's pages: choose a centre and a week, book a day (or move an appointment
// there), see my appointments and my data, cancel.

#include "booking/pages_parts.hpp"

#include <algorithm>

namespace anteroom::booking::pages {

namespace {

constexpr int week_days = 7;

// ---- choose and book ---------------------------------------------------------------------------

struct appointments_view {
    form_errors errors;
    std::vector<centre> centres;
    week_picker picker;
    std::optional<week_view> week;  // nullopt when there is no centre
    bool logged_in = false;
    std::int64_t rebooking = 0;  // the appointment being moved, 0 when booking a new one
};

std::string render_appointments(ui_language l, const appointments_view& v) {
    std::string h = render_error_summary(l, v.errors);
    if (v.rebooking != 0) {
        h += "<p>" +
             std::string(
                 tr(l, "Wählen Sie den neuen Tag. Ihr bisheriger Termin bleibt bestehen, bis der neue gebucht ist.",
                    "Choose the new day. Your current appointment stays until the new one is booked.")) +
             " <a href=\"/my\">" + std::string(tr(l, "Abbrechen", "Cancel")) + "</a></p>\n";
    }
    if (!v.logged_in) {
        h += "<p>" + std::string(tr(l, "Zum Buchen melden Sie sich bitte an:", "To book, please log in:")) +
             " <a href=\"/login\">" + std::string(tr(l, "Anmelden", "Log in")) + "</a></p>\n";
    }
    if (!v.week) {
        return h + "<p>" +
               std::string(tr(l, "Es gibt noch keine Impfzentren.", "There are no vaccination centres yet.")) +
               "</p>\n";
    }
    return h + render_week_picker(l, v.picker) + render_week(l, *v.week);
}

// The page for centre and week, also after a failed booking (errors, status).
simple_response appointments_page(request_ctx& ctx, std::optional<std::int64_t> centre_id, day_number from,
                                  std::int64_t rebooking, form_errors errors, http::status status) {
    const ui_language l = page_language(ctx);
    appointments_view v;
    v.errors = std::move(errors);
    v.logged_in = ctx.session_of(session_kind::person).has_value();
    v.rebooking = v.logged_in ? rebooking : 0;
    const std::string_view title = v.rebooking != 0 ? tr(l, "Termin umbuchen", "Rebook an appointment")
                                                    : tr(l, "Termin wählen", "Choose an appointment");
    auto cs = ctx.db.centres();
    if (!cs.ok()) {
        v.errors.add("", explain(l, cs.error));
        return page(ctx, status_of(cs.error), title, render_appointments(l, v), area::person);
    }
    v.centres = std::move(cs.value);
    if (!v.centres.empty()) {
        const day_number today = day_of(ctx.now);
        from = std::max(from, today);
        const bool known = centre_id && std::any_of(v.centres.begin(), v.centres.end(),
                                                    [&](const centre& c) { return c.id == *centre_id; });
        if (centre_id && !known) {
            v.errors.add("centre", tr(l, "Dieses Impfzentrum gibt es nicht. Bitte wählen Sie eines aus der Liste.",
                                      "That vaccination centre does not exist. Please choose one from the list."));
        }
        const std::int64_t id = known ? *centre_id : v.centres.front().id;
        v.picker = {"/appointments", {}, centre_options(v.centres), id, from, today};
        week_view w{centre_name_of(v.centres, id), id, {}, {}, {}, tr(l, "Buchen", "Book")};
        if (v.rebooking != 0) {
            v.picker.keep.emplace_back("rebook", std::to_string(v.rebooking));
            w.action = "/my/rebook";
            w.hidden.emplace_back("booking", std::to_string(v.rebooking));
            w.button = tr(l, "Hierhin umbuchen", "Move here");
        } else if (v.logged_in) {
            w.action = "/appointments/book";
        }
        auto days = load_week(ctx, id, from, week_days, channel::online);
        if (days.ok()) {
            w.days = std::move(days.value);
        } else {
            v.errors.add("", explain(l, days.error));
        }
        v.week = std::move(w);
    }
    return page(ctx, status, title, render_appointments(l, v), v.logged_in ? area::person : area::visitor);
}

simple_response get_appointments_page(request_ctx& ctx) {
    const auto centre_text = ctx.query("centre");
    const auto date_text = ctx.query("date");
    const auto rebook_text = ctx.query("rebook");
    std::optional<std::int64_t> centre_id;
    if (centre_text) {
        centre_id = read_int(*centre_text, 1, INT64_MAX).value_or(-1);
    }
    const day_number from = date_text ? read_date(*date_text).value_or(day_of(ctx.now)) : day_of(ctx.now);
    const std::int64_t rebooking = rebook_text ? read_int(*rebook_text, 1, INT64_MAX).value_or(0) : 0;
    return appointments_page(ctx, centre_id, from, rebooking, {}, http::status::ok);
}

simple_response login_needed(request_ctx& ctx) {
    const ui_language l = page_language(ctx);
    return page(
        ctx, http::status::unauthorized, tr(l, "Bitte anmelden", "Please log in"),
        "<p>" +
            std::string(tr(l, "Ihre Anmeldung ist abgelaufen oder fehlt.", "Your login has expired or is missing.")) +
            " <a href=\"/login\">" + std::string(tr(l, "Anmelden", "Log in")) + "</a></p>\n");
}

// Books (replacing = 0) or moves an appointment to the posted centre and day.
simple_response book_or_rebook(request_ctx& ctx, bool rebooking) {
    simple_response answer;
    const auto s = session_for_post(ctx, session_kind::person, login_needed, answer);
    if (!s) {
        return answer;
    }
    const ui_language l = page_language(ctx);
    const form_values v(ctx.req.body());
    const auto centre_id = read_int(v.get("centre"), 1, INT64_MAX);
    const auto day = read_date(v.get("date"));
    const auto booking = rebooking ? read_int(v.get("booking"), 1, INT64_MAX) : std::optional<std::int64_t>(0);
    form_errors errors;
    if (!centre_id || !day || !booking) {
        errors.add("", explain(l, store_error::invalid_input));
        return appointments_page(ctx, centre_id, day_of(ctx.now), 0, std::move(errors), http::status::bad_request);
    }
    auto r = rebooking ? ctx.db.rebook(s->subject, *booking, *centre_id, *day, ctx.now)
                       : ctx.db.book(s->subject, *centre_id, *day, ctx.now);
    if (r.ok()) {
        return redirect(rebooking ? "/my?done=rebooked" : "/my?done=booked");
    }
    errors.add("", explain(l, r.error));
    return appointments_page(ctx, centre_id, *day, *booking, std::move(errors), status_of(r.error));
}

// ---- my appointments ---------------------------------------------------------------------------

struct appointment_line {
    booking_record booking;
    std::string centre_name;
    bool actions = true;  // false for a second appointment that goes with a listed first one
};

struct my_view {
    std::string_view notice;
    form_errors errors;
    std::vector<appointment_line> appointments;
    std::optional<registration_view> me;
};

std::string render_my(ui_language l, const my_view& v) {
    std::string h = render_notice(v.notice) + render_error_summary(l, v.errors);
    h += "<h2>" + std::string(tr(l, "Ihre Termine", "Your appointments")) + "</h2>\n";
    if (v.appointments.empty()) {
        h += "<p>" + std::string(tr(l, "Sie haben keinen Termin.", "You have no appointment.")) +
             " <a href=\"/appointments\">" + std::string(tr(l, "Termin buchen", "Book an appointment")) + "</a></p>\n";
    } else {
        h += "<ul class=\"cards\">\n";
        for (const auto& a : v.appointments) {
            const auto& b = a.booking;
            const std::string when = display_date(l, b.day) + ", " + format_clock(b.minute);
            h += "<li>\n<h3>" + html_escape(when) + "</h3>\n<p>" + html_escape(a.centre_name);
            if (b.first_booking != 0) {
                h += "<br>" + std::string(tr(l, "Zweiter Termin", "Second appointment"));
            }
            h += "</p>\n";
            if (!a.actions) {
                h += "<p>" +
                     std::string(tr(l, "Wird zusammen mit dem ersten Termin abgesagt oder umgebucht.",
                                    "Is cancelled or rebooked together with the first appointment.")) +
                     "</p>\n";
            } else {
                h += "<p><a href=\"/appointments?rebook=" + std::to_string(b.id) +
                     "&amp;centre=" + std::to_string(b.centre_id) + "&amp;date=" + format_date(b.day) + "\">" +
                     std::string(tr(l, "Umbuchen", "Rebook")) + "<span class=\"visually-hidden\"> " +
                     html_escape(when) + "</span></a></p>\n";
                h += render_post_form("/my/cancel", render_hidden("booking", std::to_string(b.id)),
                                      std::string(tr(l, "Termin absagen: ", "Cancel appointment: ")) + when, "inline",
                                      "danger");
            }
            h += "</li>\n";
        }
        h += "</ul>\n";
    }
    if (v.me) {
        const auto& r = *v.me;
        h += "<h2>" + std::string(tr(l, "Ihre Daten", "Your data")) + "</h2>\n<dl class=\"data\">\n";
        const auto row = [&](std::string_view term, const std::string& value) {
            h += "<dt>" + std::string(term) + "</dt><dd>" + html_escape(value) + "</dd>\n";
        };
        row(tr(l, "Buchungscode", "Booking code"), grouped_code(r.booking_code));
        row(tr(l, "Name", "Name"), r.name);
        row(tr(l, "Geburtsdatum", "Date of birth"), display_date(l, r.birth_date));
        row(tr(l, "Kontakt", "Contact"), r.contact);
        row(tr(l, "Postanschrift", "Postal address"), r.postal_address.empty() ? "–" : r.postal_address);
        row(tr(l, "Prioritätsgruppe", "Priority group"), std::to_string(r.priority_group));
        h += "</dl>\n";
    }
    return h;
}

}  // namespace

simple_response get_appointments(request_ctx& ctx) { return get_appointments_page(ctx); }

simple_response post_book(request_ctx& ctx) { return book_or_rebook(ctx, false); }

simple_response post_rebook(request_ctx& ctx) { return book_or_rebook(ctx, true); }

simple_response get_my(request_ctx& ctx) {
    const auto s = ctx.session_of(session_kind::person);
    if (!s) {
        return redirect("/login");
    }
    const ui_language l = page_language(ctx);
    my_view v;
    const auto done = ctx.query("done").value_or("");
    if (done == "booked") {
        v.notice = tr(l, "Ihr Termin ist gebucht.", "Your appointment is booked.");
    } else if (done == "rebooked") {
        v.notice = tr(l, "Ihr Termin ist umgebucht.", "Your appointment has been moved.");
    } else if (done == "cancelled") {
        v.notice = tr(l, "Ihr Termin ist abgesagt.", "Your appointment is cancelled.");
    }
    auto bookings = ctx.db.bookings_of(s->subject);
    auto cs = ctx.db.centres();
    auto me = ctx.db.registration(s->subject);
    http::status status = http::status::ok;
    for (const auto e : {bookings.error, cs.error, me.error}) {
        if (e != store_error::ok) {
            v.errors.add("", explain(l, e));
            status = status_of(e);
            break;
        }
    }
    const day_number today = day_of(ctx.now);
    for (const auto& b : bookings.value) {
        if (b.day >= today) {
            v.appointments.push_back({b, centre_name_of(cs.value, b.centre_id), true});
        }
    }
    for (auto& a : v.appointments) {
        for (const auto& other : v.appointments) {
            if (a.booking.first_booking != 0 && other.booking.id == a.booking.first_booking) {
                a.actions = false;
            }
        }
    }
    if (me.ok()) {
        v.me = std::move(me.value);
    }
    return page(ctx, status, tr(l, "Meine Termine", "My appointments"), render_my(l, v), area::person);
}

simple_response post_cancel(request_ctx& ctx) {
    simple_response answer;
    const auto s = session_for_post(ctx, session_kind::person, login_needed, answer);
    if (!s) {
        return answer;
    }
    const ui_language l = page_language(ctx);
    const auto id = read_int(form_values(ctx.req.body()).get("booking"), 1, INT64_MAX);
    auto r = id ? ctx.db.cancel(s->subject, *id, ctx.now) : result<void>{store_error::not_found};
    if (r.ok()) {
        return redirect("/my?done=cancelled");
    }
    form_errors errors;
    errors.add("", explain(l, r.error));
    return page(ctx, status_of(r.error), tr(l, "Absage nicht möglich", "Cannot cancel"),
                render_error_summary(l, errors) + "<p><a href=\"/my\">" +
                    std::string(tr(l, "Zurück zu meinen Terminen", "Back to my appointments")) + "</a></p>\n",
                area::person);
}

}  // namespace anteroom::booking::pages
