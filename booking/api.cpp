// The booking backend's JSON API (documented in booking/openapi.yaml; a test checks that every
// route here is in the spec). Handlers run on a SQLite worker thread: parse and check the
// input, make one store call (one transaction), answer JSON. Errors are {"code", "message"}
// with a stable code; every bad input is a 4xx.

#include <charconv>
#include <nlohmann/json.hpp>

#include "booking/web.hpp"
#include "common/crypto.hpp"
#include "common/timefmt.hpp"

namespace anteroom::booking {

namespace {

using json = nlohmann::json;

constexpr std::size_t max_text = 200;
constexpr std::size_t max_address = 500;
constexpr int max_days = 31;

// The request body as a JSON object and readers of its fields: each returns nullopt (and the
// first error is kept) when the field is missing or of the wrong type or size. A body that is
// not a JSON object is the first error (invalid_json).
class fields {
public:
    explicit fields(const request_ctx& ctx) : j_(json::parse(ctx.req.body(), nullptr, false)) {
        if (j_.is_discarded() || !j_.is_object()) {
            code_ = "invalid_json";
            message_ = "The body must be a JSON object.";
            j_ = json::object();
        }
    }

    const json& body() const { return j_; }

    std::optional<std::string> text(const char* name, std::size_t max, bool required = true) {
        const auto it = j_.find(name);
        if (it == j_.end() || it->is_null()) {
            if (required) {
                fail(name, "is required");
            }
            return required ? std::nullopt : std::optional<std::string>(std::string());
        }
        if (!it->is_string()) {
            fail(name, "must be a string");
            return std::nullopt;
        }
        auto s = it->get<std::string>();
        if ((required && s.empty()) || s.size() > max) {
            fail(name, "must be 1 to " + std::to_string(max) + " characters");
            return std::nullopt;
        }
        return s;
    }
    std::optional<std::int64_t> integer(const char* name, std::int64_t min, std::int64_t max) {
        const auto it = j_.find(name);
        if (it == j_.end() || !it->is_number_integer()) {
            fail(name, "must be an integer");
            return std::nullopt;
        }
        const auto v = it->get<std::int64_t>();
        if (v < min || v > max) {
            fail(name, "must be from " + std::to_string(min) + " to " + std::to_string(max));
            return std::nullopt;
        }
        return v;
    }
    std::optional<day_number> date(const char* name) {
        const auto it = j_.find(name);
        std::optional<day_number> d;
        if (it != j_.end() && it->is_string()) {
            d = parse_date(it->get<std::string>());
        }
        if (!d) {
            fail(name, "must be a date \"YYYY-MM-DD\"");
        }
        return d;
    }
    std::optional<bool> boolean(const char* name) {
        const auto it = j_.find(name);
        if (it == j_.end() || !it->is_boolean()) {
            fail(name, "must be true or false");
            return std::nullopt;
        }
        return it->get<bool>();
    }
    bool ok() const { return message_.empty(); }
    simple_response error() const { return json_error(http::status::bad_request, code_, message_); }

private:
    void fail(const char* name, const std::string& what) {
        if (message_.empty()) {
            message_ = std::string("\"") + name + "\" " + what + ".";
        }
    }
    json j_;
    std::string_view code_ = "invalid_input";
    std::string message_;
};

std::optional<std::int64_t> id_param(std::string_view s) {
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || v <= 0) {
        return std::nullopt;
    }
    return v;
}

simple_response unauthenticated() {
    return json_error(http::status::unauthorized, "unauthenticated", "Log in first.");
}

simple_response cross_site() {
    return json_error(http::status::forbidden, "cross_site", "Cross-site requests are refused.");
}

json booking_json(const booking_record& b) {
    json j{{"id", b.id},
           {"centre", b.centre_id},
           {"date", format_date(b.day)},
           {"time", format_clock(b.minute)},
           {"channel", b.via == channel::hotline ? "hotline" : "online"}};
    if (b.first_booking != 0) {
        j["second_of"] = b.first_booking;
    }
    return j;
}

json centre_json(const centre& c) {
    static constexpr const char* days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    json open_days = json::array();
    for (int d = 0; d < 7; ++d) {
        if ((c.open_days >> d & 1) != 0) {
            open_days.push_back(days[d]);
        }
    }
    return {{"id", c.id},
            {"name", c.name},
            {"opens", format_clock(c.hours.opens_minute)},
            {"closes", format_clock(c.hours.closes_minute)},
            {"slot_minutes", c.hours.slot_minutes},
            {"days", open_days}};
}

// The person's bookings with the ones just made (they include a second appointment).
simple_response bookings_answer(request_ctx& ctx, std::int64_t registration_id, http::status status,
                                std::int64_t booking_id) {
    auto all = ctx.db.bookings_of(registration_id);
    if (!all.ok()) {
        return json_error(all.error);
    }
    json list = json::array();
    json made;
    for (const auto& b : all.value) {
        if (b.day < day_of(ctx.now)) {
            continue;
        }
        list.push_back(booking_json(b));
        if (b.id == booking_id) {
            made = booking_json(b);
        }
    }
    json j{{"bookings", list}};
    if (!made.is_null()) {
        j["booking"] = made;
    }
    return json_response(status, j.dump());
}

// ---- people ----------------------------------------------------------------------------------

// Name, birth date, contact and group, shared by online and hotline registration.
std::optional<new_registration> read_registration(fields& f, day_number today, bool address_required) {
    new_registration r;
    auto name = f.text("name", max_text);
    auto birth = f.date("birth_date");
    auto contact = f.text("contact", max_text, !address_required);
    auto address = f.text("postal_address", max_address, address_required);
    auto group = f.integer("priority_group", 0, 1000);
    if (!f.ok()) {
        return std::nullopt;
    }
    if (*birth > today || *birth < today - 130 * 366) {
        return std::nullopt;
    }
    r.name = std::move(*name);
    r.birth_date = *birth;
    r.contact = contact->empty() ? *address : std::move(*contact);
    r.postal_address = std::move(*address);
    r.priority_group = *group;
    return r;
}

simple_response login_answer(const login_data& d) {
    json j{{"booking_code", d.booking_code},
           {"pin", d.pin},
           {"note", "Keep your booking code and PIN. They are shown only once; you need both to log in."}};
    return json_response(http::status::created, j.dump());
}

// Online (contact required) or by the hotline (postal address required, for the letter).
simple_response register_from(request_ctx& ctx, bool by_hotline) {
    if (!ctx.same_origin()) {
        return cross_site();
    }
    fields f(ctx);
    auto r = read_registration(f, day_of(ctx.now), by_hotline);
    if (!f.ok()) {
        return f.error();
    }
    if (!r) {
        return json_error(http::status::bad_request, "invalid_input", "\"birth_date\" is not a plausible birth date.");
    }
    auto d = ctx.db.register_person(*r, ctx.now);
    return d.ok() ? login_answer(d.value) : json_error(d.error);
}

simple_response post_registration(request_ctx& ctx) { return register_from(ctx, false); }

// A new session of `kind` for `subject`, answered 201 with its cookie.
simple_response session_answer(request_ctx& ctx, session_kind kind, std::int64_t subject, std::string_view cookie) {
    const unix_seconds expires = ctx.now + ctx.settings.session_ttl_s;
    auto token = ctx.db.create_session(kind, subject, expires);
    if (!token.ok()) {
        return json_error(token.error);
    }
    auto res = json_response(http::status::created, json{{"expires_at", format_rfc3339(expires * 1000)}}.dump());
    res.set(http::field::set_cookie,
            session_cookie(cookie, token.value, ctx.settings.session_ttl_s, ctx.settings.cookie_secure));
    return res;
}

simple_response post_session(request_ctx& ctx) {
    if (!ctx.same_origin()) {
        return cross_site();
    }
    fields f(ctx);
    auto code = f.text("booking_code", 64);
    auto pin = f.text("pin", 64);
    if (!f.ok()) {
        return f.error();
    }
    auto id = ctx.db.login(*code, *pin);
    return id.ok() ? session_answer(ctx, session_kind::person, id.value, person_cookie) : json_error(id.error);
}

simple_response logout(request_ctx& ctx, session_kind kind, std::string_view cookie) {
    if (!ctx.same_origin()) {
        return cross_site();
    }
    if (const auto t = ctx.session_token(kind)) {
        (void)ctx.db.delete_session(*t);
    }
    simple_response res{http::status::no_content, 11};
    res.set(http::field::set_cookie, session_cookie(cookie, "", 0, ctx.settings.cookie_secure));
    return res;
}

simple_response delete_session(request_ctx& ctx) { return logout(ctx, session_kind::person, person_cookie); }

simple_response get_me(request_ctx& ctx) {
    const auto s = ctx.session_of(session_kind::person);
    if (!s) {
        return unauthenticated();
    }
    auto r = ctx.db.registration(s->subject);
    if (!r.ok()) {
        return json_error(r.error);
    }
    json j{{"booking_code", r.value.booking_code},
           {"name", r.value.name},
           {"birth_date", format_date(r.value.birth_date)},
           {"contact", r.value.contact},
           {"postal_address", r.value.postal_address},
           {"priority_group", r.value.priority_group}};
    return json_response(http::status::ok, j.dump());
}

simple_response get_centres(request_ctx& ctx) {
    auto cs = ctx.db.centres();
    if (!cs.ok()) {
        return json_error(cs.error);
    }
    json list = json::array();
    for (const auto& c : cs.value) {
        list.push_back(centre_json(c));
    }
    return json_response(http::status::ok, json{{"centres", list}}.dump());
}

simple_response get_appointments(request_ctx& ctx) {
    const auto centre_text = ctx.query("centre");
    const auto centre_id = centre_text ? id_param(*centre_text) : std::nullopt;
    const auto date_text = ctx.query("date");
    const day_number today = day_of(ctx.now);
    const auto from = date_text ? parse_date(*date_text) : std::optional<day_number>(today);
    int days = 1;
    if (const auto d = ctx.query("days")) {
        const auto [end, ec] = std::from_chars(d->data(), d->data() + d->size(), days);
        if (ec != std::errc{} || end != d->data() + d->size() || days < 1 || days > max_days) {
            return json_error(http::status::bad_request, "invalid_input", "\"days\" must be from 1 to 31.");
        }
    }
    if (!centre_id || !from) {
        return json_error(http::status::bad_request, "invalid_input",
                          "Query needs centre=<id> and date=YYYY-MM-DD (days=1..31 optional).");
    }
    const std::int64_t centre = *centre_id;  // a plain copy: GCC -O3 misreads the optional below
    auto c = ctx.db.centre_by_id(centre);
    if (!c.ok()) {
        return json_error(c.error);
    }
    auto av = ctx.db.availability(centre, *from, *from + days - 1, ctx.now);
    if (!av.ok()) {
        return json_error(av.error);
    }
    json list = json::array();
    for (const auto& d : av.value) {
        const bool open = c.value.opens_on(d.day);
        list.push_back({{"date", format_date(d.day)}, {"open", open}, {"free", open ? d.free_online : 0}});
    }
    return json_response(http::status::ok, json{{"centre", centre}, {"days", list}}.dump());
}

simple_response get_bookings(request_ctx& ctx) {
    const auto s = ctx.session_of(session_kind::person);
    if (!s) {
        return unauthenticated();
    }
    return bookings_answer(ctx, s->subject, http::status::ok, 0);
}

simple_response book_or_rebook(request_ctx& ctx, std::int64_t replacing) {
    if (!ctx.same_origin()) {
        return cross_site();
    }
    const auto s = ctx.session_of(session_kind::person);
    if (!s) {
        return unauthenticated();
    }
    fields f(ctx);
    auto centre_id = f.integer("centre", 1, INT64_MAX);
    auto day = f.date("date");
    if (!f.ok()) {
        return f.error();
    }
    auto r = replacing == 0 ? ctx.db.book(s->subject, *centre_id, *day, ctx.now)
                            : ctx.db.rebook(s->subject, replacing, *centre_id, *day, ctx.now);
    if (!r.ok()) {
        return json_error(r.error);
    }
    return bookings_answer(ctx, s->subject, replacing == 0 ? http::status::created : http::status::ok, r.value.id);
}

simple_response post_booking(request_ctx& ctx) { return book_or_rebook(ctx, 0); }

simple_response put_booking(request_ctx& ctx) {
    const auto id = id_param(ctx.params[0]);
    if (!id) {
        return json_error(store_error::not_found);
    }
    return book_or_rebook(ctx, *id);
}

simple_response delete_booking(request_ctx& ctx) {
    if (!ctx.same_origin()) {
        return cross_site();
    }
    const auto s = ctx.session_of(session_kind::person);
    if (!s) {
        return unauthenticated();
    }
    const auto id = id_param(ctx.params[0]);
    if (!id) {
        return json_error(store_error::not_found);
    }
    auto r = ctx.db.cancel(s->subject, *id, ctx.now);
    return r.ok() ? simple_response{http::status::no_content, 11} : json_error(r.error);
}

simple_response get_capacity(request_ctx& ctx) {
    auto c = ctx.db.capacity(ctx.now);
    if (!c.ok()) {
        return json_error(c.error);
    }
    json centres = json::array();
    for (const auto& pc : c.value.centres) {
        centres.push_back({{"id", pc.id}, {"name", pc.name}, {"available", pc.available}});
    }
    json j{{"available", c.value.available},
           {"centres", centres},
           {"next_delivery", c.value.next_delivery ? json(format_date(*c.value.next_delivery)) : json(nullptr)}};
    // What the waiting room shows when nothing is left: when held hotline appointments turn
    // online (a delivery is bookable at once, so it never lies in the future).
    if (c.value.available == 0 && c.value.next_release_at) {
        j["next_available_at"] = format_rfc3339(*c.value.next_release_at * 1000);
    }
    return json_response(http::status::ok, j.dump());
}

// ---- hotline -----------------------------------------------------------------------------------

simple_response post_agent_session(request_ctx& ctx) {
    if (!ctx.same_origin()) {
        return cross_site();
    }
    fields f(ctx);
    auto name = f.text("name", max_text);
    auto password = f.text("password", max_text);
    if (!f.ok()) {
        return f.error();
    }
    auto id = ctx.db.agent_login(*name, *password);
    return id.ok() ? session_answer(ctx, session_kind::agent, id.value, agent_cookie) : json_error(id.error);
}

simple_response delete_agent_session(request_ctx& ctx) { return logout(ctx, session_kind::agent, agent_cookie); }

std::optional<session> agent_or_error(request_ctx& ctx, simple_response& error) {
    if (ctx.req.method() != http::verb::get && !ctx.same_origin()) {
        error = cross_site();
        return std::nullopt;
    }
    auto s = ctx.session_of(session_kind::agent);
    if (!s) {
        error = unauthenticated();
    }
    return s;
}

simple_response get_hotline_registration(request_ctx& ctx) {
    simple_response error;
    const auto s = agent_or_error(ctx, error);
    if (!s) {
        return error;
    }
    auto v = ctx.db.agent_read_registration(s->subject, ctx.params[0], ctx.now);
    if (!v.ok()) {
        return json_error(v.error);
    }
    auto bookings = ctx.db.bookings_of(v.value.id);
    json list = json::array();
    for (const auto& b : bookings.value) {
        if (b.day >= day_of(ctx.now)) {
            list.push_back(booking_json(b));
        }
    }
    json j{{"booking_code", v.value.booking_code},
           {"name", v.value.name},
           {"birth_date", format_date(v.value.birth_date)},
           {"contact", v.value.contact},
           {"postal_address", v.value.postal_address},
           {"priority_group", v.value.priority_group},
           {"bookings", list}};
    return json_response(http::status::ok, j.dump());
}

simple_response post_hotline_registration(request_ctx& ctx) {
    simple_response error;
    if (!agent_or_error(ctx, error)) {
        return error;
    }
    return register_from(ctx, true);
}

simple_response post_hotline_booking(request_ctx& ctx) {
    simple_response error;
    const auto s = agent_or_error(ctx, error);
    if (!s) {
        return error;
    }
    fields f(ctx);
    auto code = f.text("booking_code", 64);
    auto centre_id = f.integer("centre", 1, INT64_MAX);
    auto day = f.date("date");
    if (!f.ok()) {
        return f.error();
    }
    auto reg = ctx.db.registration_id_by_code(*code);
    if (!reg.ok()) {
        return json_error(reg.error);
    }
    auto r = ctx.db.hotline_book(s->subject, reg.value, *centre_id, *day, ctx.now);
    if (!r.ok()) {
        return json_error(r.error);
    }
    return bookings_answer(ctx, reg.value, http::status::created, r.value.id);
}

simple_response delete_hotline_booking(request_ctx& ctx) {
    simple_response error;
    if (!agent_or_error(ctx, error)) {
        return error;
    }
    const auto id = id_param(ctx.params[0]);
    const auto code = ctx.query("booking_code");
    if (!id || !code) {
        return json_error(http::status::bad_request, "invalid_input", "Needs the booking id and ?booking_code=.");
    }
    auto reg = ctx.db.registration_id_by_code(*code);
    if (!reg.ok()) {
        return json_error(reg.error);
    }
    auto r = ctx.db.cancel(reg.value, *id, ctx.now);
    return r.ok() ? simple_response{http::status::no_content, 11} : json_error(r.error);
}

// ---- admin -------------------------------------------------------------------------------------

// Admin endpoints: 404 when no admin token is configured (the API does not exist then).
std::optional<simple_response> admin_check(request_ctx& ctx) {
    if (ctx.settings.admin_token.empty()) {
        return json_error(http::status::not_found, "not_found", "No such endpoint.");
    }
    if (ctx.req.method() != http::verb::get && !ctx.same_origin()) {
        return cross_site();
    }
    if (!ctx.session_of(session_kind::admin)) {
        auto r = unauthenticated();
        r.set(http::field::www_authenticate, "Bearer realm=\"anteroom-booking\"");
        return r;
    }
    return std::nullopt;
}

simple_response post_admin_session(request_ctx& ctx) {
    if (ctx.settings.admin_token.empty()) {
        return json_error(http::status::not_found, "not_found", "No such endpoint.");
    }
    if (!ctx.same_origin()) {
        return cross_site();
    }
    fields f(ctx);
    auto token = f.text("token", 4096);
    if (!f.ok()) {
        return f.error();
    }
    if (!crypto::equal_ct(crypto::sha256(*token), crypto::sha256(ctx.settings.admin_token))) {
        return json_error(store_error::wrong_credentials);
    }
    return session_answer(ctx, session_kind::admin, 0, admin_cookie);
}

std::optional<centre> read_centre(fields& f) {
    centre c;
    auto name = f.text("name", max_text);
    auto opens = f.text("opens", 5);
    auto closes = f.text("closes", 5);
    auto slot = f.integer("slot_minutes", 1, 240);
    if (!f.ok()) {
        return std::nullopt;
    }
    const auto clock = [](const std::string& s) -> std::optional<int> {
        if (s.size() != 5 || s[2] != ':') {
            return std::nullopt;
        }
        int h = 0;
        int m = 0;
        if (std::from_chars(s.data(), s.data() + 2, h).ec != std::errc{} ||
            std::from_chars(s.data() + 3, s.data() + 5, m).ec != std::errc{} || m > 59 || h * 60 + m > 24 * 60) {
            return std::nullopt;
        }
        return h * 60 + m;
    };
    const auto o = clock(*opens);
    const auto cl = clock(*closes);
    if (!o || !cl) {
        return std::nullopt;
    }
    c.name = std::move(*name);
    c.hours = {*o, *cl, static_cast<int>(*slot)};
    return c;
}

std::optional<std::uint8_t> read_days(const json& j) {
    static constexpr std::string_view names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    const auto it = j.find("days");
    if (it == j.end()) {
        return every_day;
    }
    if (!it->is_array()) {
        return std::nullopt;
    }
    std::uint8_t mask = 0;
    for (const auto& d : *it) {
        const auto* n = d.is_string() ? std::find(std::begin(names), std::end(names), d.get<std::string>()) : nullptr;
        if (n == nullptr || n == std::end(names)) {
            return std::nullopt;
        }
        mask |= static_cast<std::uint8_t>(1u << (n - std::begin(names)));
    }
    return mask == 0 ? std::nullopt : std::optional<std::uint8_t>(mask);
}

simple_response save_centre(request_ctx& ctx, std::int64_t id) {
    if (auto e = admin_check(ctx)) {
        return *e;
    }
    fields f(ctx);
    auto c = read_centre(f);
    if (!f.ok()) {
        return f.error();
    }
    const auto days = read_days(f.body());
    if (!c || !days) {
        return json_error(http::status::bad_request, "invalid_input",
                          "\"opens\"/\"closes\" must be \"HH:MM\" and \"days\" a list of \"mon\" … \"sun\".");
    }
    c->open_days = *days;
    c->id = id;
    if (id == 0) {
        auto r = ctx.db.add_centre(*c);
        if (!r.ok()) {
            return json_error(r.error);
        }
        c->id = r.value;
    } else if (auto r = ctx.db.update_centre(*c); !r.ok()) {
        return json_error(r.error);
    }
    return json_response(id == 0 ? http::status::created : http::status::ok, centre_json(*c).dump());
}

simple_response post_admin_centre(request_ctx& ctx) { return save_centre(ctx, 0); }

simple_response put_admin_centre(request_ctx& ctx) {
    const auto id = id_param(ctx.params[0]);
    return id ? save_centre(ctx, *id) : json_error(store_error::not_found);
}

simple_response get_admin_centres(request_ctx& ctx) {
    if (auto e = admin_check(ctx)) {
        return *e;
    }
    return get_centres(ctx);
}

simple_response post_admin_delivery(request_ctx& ctx) {
    if (auto e = admin_check(ctx)) {
        return *e;
    }
    fields f(ctx);
    auto centre_id = f.integer("centre", 1, INT64_MAX);
    auto day = f.date("date");
    auto vials = f.integer("vials", 1, 1'000'000);
    if (!f.ok()) {
        return f.error();
    }
    if (*day < day_of(ctx.now)) {
        return json_error(store_error::day_past);
    }
    auto r = ctx.db.record_delivery(*centre_id, *day, *vials, ctx.now);
    if (!r.ok()) {
        return json_error(r.error);
    }
    json j{{"id", r.value},
           {"centre", *centre_id},
           {"date", format_date(*day)},
           {"vials", *vials},
           {"appointments", *vials * ctx.settings.doses_per_vial}};
    return json_response(http::status::created, j.dump());
}

simple_response get_admin_groups(request_ctx& ctx) {
    if (auto e = admin_check(ctx)) {
        return *e;
    }
    auto g = ctx.db.groups();
    if (!g.ok()) {
        return json_error(g.error);
    }
    json list = json::array();
    for (const auto& [id, open] : g.value) {
        list.push_back({{"id", id}, {"open", open}});
    }
    return json_response(http::status::ok, json{{"groups", list}}.dump());
}

simple_response put_admin_group(request_ctx& ctx) {
    if (auto e = admin_check(ctx)) {
        return *e;
    }
    std::int64_t id = 0;
    const auto [end, ec] = std::from_chars(ctx.params[0].data(), ctx.params[0].data() + ctx.params[0].size(), id);
    if (ec != std::errc{} || end != ctx.params[0].data() + ctx.params[0].size() || id < 0 || id > 1000) {
        return json_error(http::status::bad_request, "invalid_input", "A group is a number from 0 to 1000.");
    }
    fields f(ctx);
    auto open = f.boolean("open");
    if (!f.ok()) {
        return f.error();
    }
    auto r = ctx.db.set_group_open(id, *open);
    return r.ok() ? json_response(http::status::ok, json{{"id", id}, {"open", *open}}.dump()) : json_error(r.error);
}

simple_response post_admin_reservation(request_ctx& ctx) {
    if (auto e = admin_check(ctx)) {
        return *e;
    }
    fields f(ctx);
    auto centre_id = f.integer("centre", 1, INT64_MAX);
    auto day = f.date("date");
    auto doses = f.integer("doses", 1, 1'000'000);
    if (!f.ok()) {
        return f.error();
    }
    auto r = ctx.db.reserve_care_home(*centre_id, *day, *doses, ctx.now);
    if (!r.ok()) {
        return json_error(r.error);
    }
    json j{{"id", r.value}, {"centre", *centre_id}, {"date", format_date(*day)}, {"doses", *doses}};
    return json_response(http::status::created, j.dump());
}

simple_response post_admin_release(request_ctx& ctx) {
    if (auto e = admin_check(ctx)) {
        return *e;
    }
    const auto id = id_param(ctx.params[0]);
    if (!id) {
        return json_error(store_error::not_found);
    }
    fields f(ctx);
    auto used = f.integer("used", 0, 1'000'000);
    if (!f.ok()) {
        return f.error();
    }
    auto r = ctx.db.release_care_home(*id, *used, ctx.now);
    return r.ok() ? json_response(http::status::ok, json{{"id", *id}, {"used", *used}}.dump()) : json_error(r.error);
}

simple_response post_admin_vaccination(request_ctx& ctx) {
    if (auto e = admin_check(ctx)) {
        return *e;
    }
    fields f(ctx);
    auto code = f.text("booking_code", 64);
    auto day = f.date("date");
    if (!f.ok()) {
        return f.error();
    }
    if (*day > day_of(ctx.now)) {
        return json_error(http::status::bad_request, "invalid_input", "\"date\" lies in the future.");
    }
    auto reg = ctx.db.registration_id_by_code(*code);
    if (!reg.ok()) {
        return json_error(reg.error);
    }
    auto r = ctx.db.record_vaccination_complete(reg.value, *day);
    return r.ok() ? simple_response{http::status::no_content, 11} : json_error(r.error);
}

simple_response post_admin_agent(request_ctx& ctx) {
    if (auto e = admin_check(ctx)) {
        return *e;
    }
    fields f(ctx);
    auto name = f.text("name", 64);
    auto password = f.text("password", max_text);
    if (!f.ok()) {
        return f.error();
    }
    if (password->size() < 12) {
        return json_error(http::status::bad_request, "invalid_input", "\"password\" needs at least 12 characters.");
    }
    auto r = ctx.db.create_agent(*name, *password, ctx.now);
    return r.ok() ? json_response(http::status::created, json{{"id", r.value}, {"name", *name}}.dump())
                  : json_error(r.error);
}

simple_response get_admin_letters(request_ctx& ctx) {
    if (auto e = admin_check(ctx)) {
        return *e;
    }
    auto l = ctx.db.pending_letters();
    if (!l.ok()) {
        return json_error(l.error);
    }
    // The list names no person: the printable letter does, and that read is audited.
    json list = json::array();
    for (const auto& x : l.value) {
        list.push_back({{"id", x.id},
                        {"booking", x.booking_id},
                        {"centre", x.centre_id},
                        {"date", format_date(x.day)},
                        {"time", format_clock(x.minute)},
                        {"print_url", "/api/admin/letters/" + std::to_string(x.id)}});
    }
    return json_response(http::status::ok, json{{"letters", list}}.dump());
}

simple_response get_admin_letter(request_ctx& ctx) {
    if (auto e = admin_check(ctx)) {
        return *e;
    }
    const auto id = id_param(ctx.params[0]);
    if (!id) {
        return json_error(store_error::not_found);
    }
    auto l = ctx.db.letter_for_print(*id, "admin", ctx.now);
    if (!l.ok()) {
        return json_error(l.error);
    }
    auto c = ctx.db.centre_by_id(l.value.centre_id);
    const std::string centre_name = c.ok() ? c.value.name : std::to_string(l.value.centre_id);
    const bool en = ctx.lang() == ui_language::en;
    std::string address = html_escape(l.value.postal_address);
    for (std::size_t p = 0; (p = address.find('\n', p)) != std::string::npos; p += 5) {
        address.replace(p, 1, "<br>");
    }
    std::string page =
        std::string("<!doctype html><html lang=\"") + (en ? "en" : "de") +
        "\"><head><meta charset=\"utf-8\"><title>" + (en ? "Appointment confirmation" : "Terminbestätigung") +
        "</title><style>@page{size:A4;margin:25mm 20mm}body{font:12pt/1.5 serif;max-width:170mm;margin:auto}"
        ".address{margin:20mm 0 15mm;min-height:40mm}h1{font-size:14pt}.noprint{margin:1em 0}"
        "@media print{.noprint{display:none}}</style></head><body>"
        "<p class=\"noprint\">" +
        (en ? "Print this page (Ctrl+P); the address fits a DIN window envelope."
            : "Drucken Sie diese Seite (Strg+P); die Anschrift passt in ein DIN-Fensterkuvert.") +
        "</p><div class=\"address\">" + html_escape(l.value.name) + "<br>" +
        address + "</div><h1>" + (en ? "Your vaccination appointment" : "Ihr Impftermin") + "</h1><p>" +
        (en ? "Dear " : "Guten Tag ") + html_escape(l.value.name) + ",</p><p>" +
        (en ? "as agreed on the phone, your appointment is booked:" : "wie telefonisch vereinbart, ist Ihr Termin gebucht:") +
        "</p><p><strong>" + html_escape(centre_name) + "</strong><br>" + format_date(l.value.day) + ", " +
        format_clock(l.value.minute) + "</p><p>" +
        (en ? "Please bring this letter and an identity document. To cancel, call the hotline."
            : "Bitte bringen Sie dieses Schreiben und einen Ausweis mit. Zum Absagen rufen Sie die Hotline an.") +
        "</p><p>" + (en ? "Letter" : "Schreiben") + " " + std::to_string(l.value.id) + "</p></body></html>";
    auto res = html_response(http::status::ok, std::move(page));
    // Its print layout is an inline style: allowed for this page only, nothing else is.
    res.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
    return res;
}

simple_response post_admin_letter_printed(request_ctx& ctx) {
    if (auto e = admin_check(ctx)) {
        return *e;
    }
    const auto id = id_param(ctx.params[0]);
    if (!id) {
        return json_error(store_error::not_found);
    }
    auto r = ctx.db.mark_letter_printed(*id, ctx.now);
    return r.ok() ? simple_response{http::status::no_content, 11} : json_error(r.error);
}

simple_response post_admin_retention(request_ctx& ctx) {
    if (auto e = admin_check(ctx)) {
        return *e;
    }
    auto r = ctx.db.run_retention(ctx.now);
    if (!r.ok()) {
        return json_error(r.error);
    }
    json j{{"unbooked_deleted", r.value.unbooked_deleted},
           {"vaccinated_deleted", r.value.vaccinated_deleted},
           {"sessions_expired", r.value.sessions_expired}};
    return json_response(http::status::ok, j.dump());
}

const route api_table[] = {
    {http::verb::post, "/api/registrations", post_registration},
    {http::verb::post, "/api/sessions", post_session},
    {http::verb::delete_, "/api/sessions", delete_session},
    {http::verb::get, "/api/me", get_me},
    {http::verb::get, "/api/centres", get_centres},
    {http::verb::get, "/api/appointments", get_appointments},
    {http::verb::get, "/api/bookings", get_bookings},
    {http::verb::post, "/api/bookings", post_booking, true},
    {http::verb::put, "/api/bookings/{id}", put_booking, true},
    {http::verb::delete_, "/api/bookings/{id}", delete_booking, true},
    {http::verb::get, "/api/capacity", get_capacity},
    {http::verb::post, "/api/agent/sessions", post_agent_session},
    {http::verb::delete_, "/api/agent/sessions", delete_agent_session},
    {http::verb::get, "/api/hotline/registrations/{code}", get_hotline_registration},
    {http::verb::post, "/api/hotline/registrations", post_hotline_registration},
    {http::verb::post, "/api/hotline/bookings", post_hotline_booking, true},
    {http::verb::delete_, "/api/hotline/bookings/{id}", delete_hotline_booking, true},
    {http::verb::post, "/api/admin/sessions", post_admin_session},
    {http::verb::get, "/api/admin/centres", get_admin_centres},
    {http::verb::post, "/api/admin/centres", post_admin_centre},
    {http::verb::put, "/api/admin/centres/{id}", put_admin_centre},
    {http::verb::post, "/api/admin/deliveries", post_admin_delivery},
    {http::verb::get, "/api/admin/groups", get_admin_groups},
    {http::verb::put, "/api/admin/groups/{id}", put_admin_group},
    {http::verb::post, "/api/admin/care-home-reservations", post_admin_reservation},
    {http::verb::post, "/api/admin/care-home-reservations/{id}/release", post_admin_release},
    {http::verb::post, "/api/admin/vaccinations", post_admin_vaccination},
    {http::verb::post, "/api/admin/agents", post_admin_agent},
    {http::verb::get, "/api/admin/letters", get_admin_letters},
    {http::verb::get, "/api/admin/letters/{id}", get_admin_letter},
    {http::verb::post, "/api/admin/letters/{id}/printed", post_admin_letter_printed},
    {http::verb::post, "/api/admin/retention", post_admin_retention},
};

}  // namespace

std::span<const route> api_routes() { return api_table; }

}  // namespace anteroom::booking
