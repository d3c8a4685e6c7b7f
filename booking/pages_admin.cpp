// The admin page: log in with the admin token, then centres (list, add, edit hours and days),
// deliveries, priority groups, care-home reservations, the letters' print queue, hotline agent
// accounts and the retention job. Without an admin token configured, none of it exists (404).

#include "booking/pages_admin.hpp"
#include "booking/pages_parts.hpp"

#include "common/crypto.hpp"

namespace anteroom::booking::pages {

namespace {

// What a finished action reports after its 303 (numbers only in the URL).
std::string notice_of(const request_ctx& ctx, ui_language l) {
    const auto done = ctx.query("done").value_or("");
    const auto n = [&](std::string_view name) {
        const auto q = ctx.query(name);
        return std::to_string(q ? read_int(*q, 0, INT64_MAX).value_or(0) : 0);
    };
    if (done == "centre") {
        return std::string(tr(l, "Das Impfzentrum ist gespeichert.", "The centre is saved."));
    }
    if (done == "delivery") {
        return std::string(tr(l, "Lieferung erfasst: ", "Delivery recorded: ")) + n("n") +
               std::string(
                   tr(l, " Termine sind jetzt zusätzlich buchbar.", " appointments are now bookable in addition."));
    }
    if (done == "group") {
        return std::string(tr(l, "Gruppe ", "Group ")) + n("g") + " " +
               std::string(n("open") == "1" ? tr(l, "ist freigegeben.", "is open.")
                                            : tr(l, "ist gesperrt.", "is closed."));
    }
    if (done == "reserved") {
        return std::string(tr(l, "Reserviert. Reservierungsnummer: ", "Reserved. Reservation number: ")) + n("id");
    }
    if (done == "released") {
        return std::string(tr(l, "Freigegeben; nicht verimpfte Dosen sind wieder buchbar.",
                              "Released; unused doses are bookable again."));
    }
    if (done == "printed") {
        return std::string(tr(l, "Als gedruckt markiert.", "Marked as printed."));
    }
    if (done == "agent") {
        return std::string(tr(l, "Der Hotline-Zugang ist angelegt.", "The hotline account is created."));
    }
    if (done == "retention") {
        return std::string(
                   tr(l, "Löschlauf fertig. Gelöscht ohne Termin: ", "Retention done. Deleted without appointment: ")) +
               n("u") + std::string(tr(l, "; nach Impfung: ", "; after vaccination: ")) + n("x") +
               std::string(tr(l, "; abgelaufene Sitzungen: ", "; expired sessions: ")) + n("s") + ".";
    }
    return {};
}

simple_response admin_page(request_ctx& ctx, admin_view v, http::status status) {
    const ui_language l = page_language(ctx);
    v.doses_per_vial = ctx.settings.doses_per_vial;
    auto cap = ctx.db.capacity(ctx.now);
    auto cs = ctx.db.centres();
    auto gs = ctx.db.groups();
    auto ls = ctx.db.pending_letters();
    for (const auto e : {cap.error, cs.error, gs.error, ls.error}) {
        if (e != store_error::ok) {
            v.errors.add("", explain(l, e));
            status = status_of(e);
            break;
        }
    }
    if (cap.ok()) {
        v.capacity = std::move(cap.value);
    }
    v.centres = std::move(cs.value);
    v.groups = std::move(gs.value);
    v.letters = std::move(ls.value);
    return page(ctx, status, tr(l, "Verwaltung", "Administration"), render_admin(l, v), area::admin);
}

simple_response admin_login_page(request_ctx& ctx, const form_errors& errors, http::status status) {
    const ui_language l = page_language(ctx);
    return page(ctx, status, tr(l, "Verwaltung: Anmelden", "Administration: log in"), render_admin_login(l, errors));
}

// nullopt when the request may go on; else the answer: 404 without an admin token, 403
// cross-site, 401 with the login form without an admin session.
std::optional<simple_response> admin_gate(request_ctx& ctx) {
    if (ctx.settings.admin_token.empty()) {
        return not_found();
    }
    if (ctx.req.method() != http::verb::get && ctx.req.method() != http::verb::head && !ctx.same_origin()) {
        return cross_site(ctx);
    }
    if (!ctx.session_of(session_kind::admin)) {
        return admin_login_page(ctx, {}, http::status::unauthorized);
    }
    return std::nullopt;
}

// The admin page again with the posted form and its errors.
simple_response admin_retry(request_ctx& ctx, form_errors errors, http::status status) {
    admin_view v;
    v.errors = std::move(errors);
    v.posted = form_values(ctx.req.body());
    return admin_page(ctx, std::move(v), status);
}

simple_response admin_result(request_ctx& ctx, store_error e, std::string location) {
    if (e == store_error::ok) {
        return redirect(location);
    }
    form_errors errors;
    errors.add("", explain(page_language(ctx), e));
    return admin_retry(ctx, std::move(errors), status_of(e));
}

std::string_view number_error(ui_language l) {
    return tr(l, "Bitte geben Sie eine ganze Zahl im erlaubten Bereich ein.",
              "Please enter a whole number in the allowed range.");
}

std::string_view date_error(ui_language l) {
    return tr(l, "Bitte geben Sie ein Datum ein, zum Beispiel 2027-03-15.",
              "Please enter a date, for example 2027-03-15.");
}

// A delivery or a care-home reservation: centre, a day from today on, and how many.
struct stock_form {
    std::int64_t centre_id = 0;
    day_number day = 0;
    std::int64_t amount = 0;
};

std::optional<stock_form> read_stock_form(const request_ctx& ctx, const std::string& prefix,
                                          const std::string& amount_field, form_errors& errors) {
    const ui_language l = page_language(ctx);
    const form_values v(ctx.req.body());
    const auto centre_id = read_int(v.get(prefix + "centre"), 1, INT64_MAX);
    const auto day = read_date(v.get(prefix + "date"));
    const auto amount = read_int(v.get(amount_field), 1, 1'000'000);
    if (!centre_id) {
        errors.add(prefix + "centre", tr(l, "Bitte ein Impfzentrum wählen.", "Please choose a centre."));
    }
    if (!day || *day < day_of(ctx.now)) {
        errors.add(prefix + "date", !day ? date_error(l) : explain(l, store_error::day_past));
    }
    if (!amount) {
        errors.add(amount_field, number_error(l));
    }
    if (!errors.empty()) {
        return std::nullopt;
    }
    return stock_form{*centre_id, *day, *amount};
}

}  // namespace

simple_response get_admin(request_ctx& ctx) {
    if (auto gate = admin_gate(ctx)) {
        return *gate;
    }
    admin_view v;
    v.notice = notice_of(ctx, page_language(ctx));
    return admin_page(ctx, std::move(v), http::status::ok);
}

simple_response post_admin_login(request_ctx& ctx) {
    if (ctx.settings.admin_token.empty()) {
        return not_found();
    }
    if (!ctx.same_origin()) {
        return cross_site(ctx);
    }
    const ui_language l = page_language(ctx);
    const auto token = form_param(ctx.req.body(), "token").value_or("");
    form_errors errors;
    if (!crypto::equal_ct(crypto::sha256(token), crypto::sha256(ctx.settings.admin_token))) {
        errors.add("token", tr(l, "Das Token stimmt nicht.", "The token does not match."));
        return admin_login_page(ctx, errors, http::status::unauthorized);
    }
    auto cookie = open_session(ctx, session_kind::admin, 0, admin_cookie);
    if (!cookie.ok()) {
        errors.add("", explain(l, cookie.error));
        return admin_login_page(ctx, errors, status_of(cookie.error));
    }
    auto res = redirect("/admin");
    res.set(http::field::set_cookie, cookie.value);
    return res;
}

simple_response post_admin_logout(request_ctx& ctx) {
    if (ctx.settings.admin_token.empty()) {
        return not_found();
    }
    return close_session(ctx, session_kind::admin, admin_cookie, "/admin");
}

simple_response post_admin_centre(request_ctx& ctx) {
    if (auto gate = admin_gate(ctx)) {
        return *gate;
    }
    const ui_language l = page_language(ctx);
    const form_values v(ctx.req.body());
    form_errors errors;
    const auto id = read_int(v.get("centre"), 0, INT64_MAX);
    if (!id) {
        return admin_result(ctx, store_error::not_found, {});
    }
    const std::string p = "c" + std::to_string(*id) + "-";
    centre c;
    c.id = *id;
    c.name = v.get(p + "name");
    if (c.name.empty() || c.name.size() > 200) {
        errors.add(p + "name", tr(l, "Bitte geben Sie einen Namen ein.", "Please enter a name."));
    }
    const auto opens = read_clock(v.get(p + "opens"));
    const auto closes = read_clock(v.get(p + "closes"));
    if (!opens) {
        errors.add(p + "opens", tr(l, "Bitte eine Uhrzeit wie 08:00 eingeben.", "Please enter a time like 08:00."));
    }
    if (!closes || (opens && *closes <= *opens)) {
        errors.add(p + "closes", tr(l, "Bitte eine Uhrzeit nach der Öffnung eingeben, zum Beispiel 20:00.",
                                    "Please enter a time after opening, for example 20:00."));
    }
    const auto slot = read_int(v.get(p + "slot"), 1, 240);
    if (!slot) {
        errors.add(p + "slot",
                   tr(l, "Bitte eine Zahl von 1 bis 240 eingeben.", "Please enter a number from 1 to 240."));
    }
    std::uint8_t days = 0;
    for (int d = 0; d < 7; ++d) {
        if (v.has(p + std::string(day_keys[d]))) {
            days |= static_cast<std::uint8_t>(1u << d);
        }
    }
    if (days == 0) {
        errors.add(p + "days",
                   tr(l, "Bitte mindestens einen Öffnungstag wählen.", "Please choose at least one opening day."));
    }
    if (!errors.empty()) {
        return admin_retry(ctx, std::move(errors), http::status::bad_request);
    }
    c.hours = {*opens, *closes, static_cast<int>(*slot)};
    c.open_days = days;
    const store_error e = c.id == 0 ? ctx.db.add_centre(c).error : ctx.db.update_centre(c).error;
    return admin_result(ctx, e, "/admin?done=centre#centres");
}

simple_response post_admin_delivery(request_ctx& ctx) {
    if (auto gate = admin_gate(ctx)) {
        return *gate;
    }
    form_errors errors;
    const auto f = read_stock_form(ctx, "d-", "d-vials", errors);
    if (!f) {
        return admin_retry(ctx, std::move(errors), http::status::bad_request);
    }
    const auto r = ctx.db.record_delivery(f->centre_id, f->day, f->amount, ctx.now);
    return admin_result(
        ctx, r.error,
        "/admin?done=delivery&n=" + std::to_string(f->amount * ctx.settings.doses_per_vial) + "#deliveries");
}

simple_response post_admin_group(request_ctx& ctx) {
    if (auto gate = admin_gate(ctx)) {
        return *gate;
    }
    const form_values v(ctx.req.body());
    const auto group = read_int(v.get("g-group"), 0, 1000);
    const bool open = v.get("g-open") == "1";
    if (!group) {
        form_errors errors;
        errors.add("g-group", number_error(page_language(ctx)));
        return admin_retry(ctx, std::move(errors), http::status::bad_request);
    }
    return admin_result(ctx, ctx.db.set_group_open(*group, open).error,
                        "/admin?done=group&g=" + std::to_string(*group) + "&open=" + (open ? "1" : "0") + "#groups");
}

simple_response post_admin_reserve(request_ctx& ctx) {
    if (auto gate = admin_gate(ctx)) {
        return *gate;
    }
    form_errors errors;
    const auto f = read_stock_form(ctx, "r-", "r-doses", errors);
    if (!f) {
        return admin_retry(ctx, std::move(errors), http::status::bad_request);
    }
    const auto r = ctx.db.reserve_care_home(f->centre_id, f->day, f->amount, ctx.now);
    return admin_result(ctx, r.error, "/admin?done=reserved&id=" + std::to_string(r.value) + "#care-homes");
}

simple_response post_admin_release(request_ctx& ctx) {
    if (auto gate = admin_gate(ctx)) {
        return *gate;
    }
    const ui_language l = page_language(ctx);
    const form_values v(ctx.req.body());
    form_errors errors;
    const auto id = read_int(v.get("x-id"), 1, INT64_MAX);
    const auto used = read_int(v.get("x-used"), 0, 1'000'000);
    if (!id) {
        errors.add("x-id", number_error(l));
    }
    if (!used) {
        errors.add("x-used", number_error(l));
    }
    if (!errors.empty()) {
        return admin_retry(ctx, std::move(errors), http::status::bad_request);
    }
    return admin_result(ctx, ctx.db.release_care_home(*id, *used, ctx.now).error, "/admin?done=released#care-homes");
}

simple_response post_admin_printed(request_ctx& ctx) {
    if (auto gate = admin_gate(ctx)) {
        return *gate;
    }
    const auto id = read_int(form_values(ctx.req.body()).get("letter"), 1, INT64_MAX);
    const store_error e = id ? ctx.db.mark_letter_printed(*id, ctx.now).error : store_error::not_found;
    // Printed already (the button sent twice, or from another tab): what was asked for is true.
    return admin_result(ctx, e == store_error::conflict ? store_error::ok : e, "/admin?done=printed#letters");
}

simple_response post_admin_agent(request_ctx& ctx) {
    if (auto gate = admin_gate(ctx)) {
        return *gate;
    }
    const ui_language l = page_language(ctx);
    const form_values v(ctx.req.body());
    form_errors errors;
    const std::string name = v.get("a-name");
    const std::string password = form_param(ctx.req.body(), "a-password").value_or("");
    if (name.empty() || name.size() > 64) {
        errors.add("a-name", tr(l, "Bitte einen Namen mit höchstens 64 Zeichen eingeben.",
                                "Please enter a name of at most 64 characters."));
    }
    if (password.size() < 12 || password.size() > 200) {
        errors.add("a-password",
                   tr(l, "Das Passwort braucht mindestens 12 Zeichen.", "The password needs at least 12 characters."));
    }
    if (!errors.empty()) {
        return admin_retry(ctx, std::move(errors), http::status::bad_request);
    }
    const auto r = ctx.db.create_agent(name, password, ctx.now);
    if (r.error == store_error::conflict) {
        errors.add("a-name", tr(l, "Diesen Namen gibt es schon.", "That name is taken."));
        return admin_retry(ctx, std::move(errors), http::status::conflict);
    }
    return admin_result(ctx, r.error, "/admin?done=agent#agents");
}

simple_response post_admin_retention(request_ctx& ctx) {
    if (auto gate = admin_gate(ctx)) {
        return *gate;
    }
    const auto r = ctx.db.run_retention(ctx.now);
    return admin_result(ctx, r.error,
                        "/admin?done=retention&u=" + std::to_string(r.value.unbooked_deleted) +
                            "&x=" + std::to_string(r.value.vaccinated_deleted) +
                            "&s=" + std::to_string(r.value.sessions_expired) + "#retention");
}

}  // namespace anteroom::booking::pages
