// The booking backend's HTML pages through dispatch(), with a store on a temp file and a fixed
// clock: registration shows the login data once, login sets the cookie, booking, rebooking and
// cancelling through the forms change the store, German by default and English on request,
// accessible errors, cross-site posts refused, the admin page's gate and actions, the hotline's
// booking with its letter, and escaping of what people type.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "booking/web.hpp"

namespace anteroom::booking {
namespace {

namespace fs = std::filesystem;

const day_number day = make_day(2027, 3, 15);  // a Monday
const unix_seconds now = start_of(day) - 10 * seconds_per_day + 9 * 3600;
constexpr std::string_view host = "booking.test";

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// The text between `before` and the next `after`, after the first `before`.
std::string between(const std::string& text, std::string_view before, std::string_view after) {
    const auto b = text.find(before);
    if (b == std::string::npos) {
        return {};
    }
    const auto start = b + before.size();
    return text.substr(start, text.find(after, start) - start);
}

std::string form(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
    std::string body;
    for (const auto& [name, value] : fields) {
        body += (body.empty() ? "" : "&") + std::string(name) + "=" + url_encode_component(value);
    }
    return body;
}

// A browser: keeps the cookies it is sent, sends Host (and Origin on POST) like one.
struct browser {
    std::map<std::string, std::string> cookies;
    std::string accept_language;
    std::string origin = "https://" + std::string(host);

    simple_request request(http::verb method, std::string_view target, std::string body = {}) const {
        simple_request req{method, target, 11};
        req.set(http::field::host, host);
        if (!accept_language.empty()) {
            req.set(http::field::accept_language, accept_language);
        }
        std::string c;
        for (const auto& [name, value] : cookies) {
            c += (c.empty() ? "" : "; ") + name + "=" + value;
        }
        if (!c.empty()) {
            req.set(http::field::cookie, c);
        }
        if (method == http::verb::post) {
            if (!origin.empty()) {
                req.set(http::field::origin, origin);
            }
            req.set(http::field::content_type, "application/x-www-form-urlencoded");
            req.body() = std::move(body);
            req.prepare_payload();
        }
        return req;
    }

    void keep_cookies(const simple_response& res) {
        for (const auto& f : res.base()) {
            if (f.name() != http::field::set_cookie) {
                continue;
            }
            const std::string v(f.value());
            const auto eq = v.find('=');
            const auto semi = v.find(';');
            const std::string name = v.substr(0, eq);
            const std::string value = v.substr(eq + 1, semi - eq - 1);
            if (value.empty() || has(v, "Max-Age=0")) {
                cookies.erase(name);
            } else {
                cookies[name] = value;
            }
        }
    }
};

class Pages : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "anteroom-pages-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        options_.pin_iterations = 1000;  // the real default is slow on purpose
        options_.capacity.hotline = {hotline_contingent::kind::absolute, 0, 86'400};
        settings_.clock = [] { return now; };
        settings_.admin_token = "admin-token-for-tests";
        open();
    }
    void TearDown() override {
        db_.reset();
        fs::remove_all(dir_);
    }

    void open() {
        db_.reset();
        auto s = store::open(dir_ + "/booking.sqlite", options_);
        ASSERT_TRUE(s.ok()) << to_string(s.error);
        db_ = std::move(s.value);
    }

    simple_response send(browser& b, http::verb method, std::string_view target, std::string body = {}) {
        auto res = dispatch(all_routes(), b.request(method, target, std::move(body)), *db_, settings_);
        b.keep_cookies(res);
        return res;
    }
    simple_response get(browser& b, std::string_view target) { return send(b, http::verb::get, target); }
    simple_response post(browser& b, std::string_view target, std::string body) {
        return send(b, http::verb::post, target, std::move(body));
    }

    // A centre open every day with `vials` delivered for `day`; group 1 open.
    std::int64_t centre_with(std::int64_t vials, std::string name = "Messe Nord") {
        auto c = db_->add_centre({0, std::move(name), {}});
        EXPECT_TRUE(c.ok());
        EXPECT_TRUE(db_->set_group_open(1, true).ok());
        if (vials > 0) {
            EXPECT_TRUE(db_->record_delivery(c.value, day, vials, now).ok());
        }
        return c.value;
    }

    login_data person(std::string name = "Erika Mustermann", std::string address = "", std::int64_t group = 1) {
        auto r = db_->register_person(
            {std::move(name), make_day(1950, 1, 2), "erika@example.org", std::move(address), group}, now);
        EXPECT_TRUE(r.ok()) << to_string(r.error);
        return r.value;
    }

    void log_in(browser& b, const login_data& d) {
        auto res = post(b, "/login", form({{"booking_code", d.booking_code}, {"pin", d.pin}}));
        ASSERT_EQ(res.result(), http::status::see_other) << res.body();
        ASSERT_TRUE(b.cookies.count(std::string(person_cookie)));
    }

    void admin_log_in(browser& b) {
        auto res = post(b, "/admin/login", form({{"token", settings_.admin_token}}));
        ASSERT_EQ(res.result(), http::status::see_other) << res.body();
        ASSERT_TRUE(b.cookies.count(std::string(admin_cookie)));
    }

    std::int64_t free_online(std::int64_t centre, day_number d = day) {
        auto a = db_->availability(centre, d, d, now);
        EXPECT_TRUE(a.ok());
        return a.value.empty() ? -1 : a.value[0].free_online;
    }

    std::string dir_;
    store_options options_;
    web_settings settings_;
    std::unique_ptr<store> db_;
};

TEST_F(Pages, register_shows_code_and_pin_once_in_the_post_answer) {
    browser b;
    auto form_page = get(b, "/register");
    ASSERT_EQ(form_page.result(), http::status::ok);
    EXPECT_TRUE(has(form_page.body(), "<label for=\"name\">"));
    EXPECT_TRUE(has(form_page.body(), "<label for=\"birth_date\">"));
    EXPECT_TRUE(has(form_page.body(), "<label for=\"priority_group\">"));

    auto res = post(b, "/register",
                    form({{"name", "Max Muster"},
                          {"birth_date", "2.1.1950"},
                          {"contact", "max@example.org"},
                          {"postal_address", ""},
                          {"priority_group", "1"}}));
    ASSERT_EQ(res.result(), http::status::ok) << res.body();
    EXPECT_EQ(res[http::field::cache_control], "no-store");
    EXPECT_TRUE(res[http::field::set_cookie].empty());  // never in a cookie
    EXPECT_TRUE(res[http::field::location].empty());    // nor in a URL
    const std::string code = between(res.body(), "<dt>Buchungscode</dt>\n<dd>", "</dd>");
    const std::string pin = between(res.body(), "<dt>PIN</dt>\n<dd>", "</dd>");
    ASSERT_EQ(code.size(), 14u) << res.body();  // 12 characters in groups of 4
    ASSERT_EQ(pin.size(), 6u);
    EXPECT_TRUE(has(res.body(), "nur dieses eine Mal"));
    EXPECT_EQ(db_->registration_count().value, 1);

    // The grouped code logs in; no later page shows the PIN.
    auto login = post(b, "/login", form({{"booking_code", code}, {"pin", pin}}));
    ASSERT_EQ(login.result(), http::status::see_other);
    auto my = get(b, "/my");
    ASSERT_EQ(my.result(), http::status::ok);
    EXPECT_TRUE(has(my.body(), code));
    EXPECT_FALSE(has(my.body(), ">" + pin + "<"));
    EXPECT_FALSE(has(my.body(), "<dt>PIN</dt>"));
}

TEST_F(Pages, login_sets_the_session_cookie_and_logout_clears_it) {
    const auto d = person();
    browser b;
    ASSERT_EQ(get(b, "/my").result(), http::status::see_other);  // not logged in: to the login form
    auto res = post(b, "/login", form({{"booking_code", d.booking_code}, {"pin", d.pin}}));
    ASSERT_EQ(res.result(), http::status::see_other);
    EXPECT_EQ(res[http::field::location], "/my");
    const std::string cookie(res[http::field::set_cookie]);
    EXPECT_TRUE(has(cookie, std::string(person_cookie) + "="));
    EXPECT_TRUE(has(cookie, "HttpOnly"));
    EXPECT_TRUE(has(cookie, "SameSite=Strict"));
    EXPECT_TRUE(has(cookie, "Max-Age=" + std::to_string(settings_.session_ttl_s)));
    auto my = get(b, "/my");
    ASSERT_EQ(my.result(), http::status::ok);
    EXPECT_TRUE(has(my.body(), "Erika Mustermann"));

    ASSERT_EQ(post(b, "/logout", "").result(), http::status::see_other);
    EXPECT_FALSE(b.cookies.count(std::string(person_cookie)));
    EXPECT_EQ(get(b, "/my").result(), http::status::see_other);
}

TEST_F(Pages, wrong_pin_is_an_accessible_error) {
    const auto d = person();
    browser b;
    auto res = post(b, "/login", form({{"booking_code", d.booking_code}, {"pin", "000000x"}}));
    EXPECT_EQ(res.result(), http::status::unauthorized);
    EXPECT_TRUE(b.cookies.empty());
    EXPECT_TRUE(has(res.body(), "role=\"alert\""));
    EXPECT_TRUE(has(res.body(), "aria-describedby=\"booking_code-hint booking_code-error\""));
    EXPECT_TRUE(has(res.body(), "id=\"booking_code-error\""));
    EXPECT_TRUE(has(res.body(), "Buchungscode oder PIN stimmen nicht"));
    EXPECT_FALSE(has(res.body(), "000000x"));  // the PIN is not shown again
}

TEST_F(Pages, registration_errors_are_next_to_the_fields_and_summarised) {
    browser b;
    auto res = post(
        b, "/register",
        form({{"name", ""}, {"birth_date", "31.02.1950"}, {"contact", "x@example.org"}, {"priority_group", "many"}}));
    ASSERT_EQ(res.result(), http::status::bad_request);
    const std::string& html = res.body();
    EXPECT_TRUE(has(html, "role=\"alert\""));
    EXPECT_TRUE(has(html, "<a href=\"#name\">"));
    EXPECT_TRUE(has(html, "<p class=\"error\" id=\"name-error\">"));
    EXPECT_TRUE(has(html, "id=\"name\" name=\"name\" aria-describedby=\"name-error\" aria-invalid=\"true\""));
    EXPECT_TRUE(has(html, "aria-describedby=\"birth_date-hint birth_date-error\""));
    EXPECT_TRUE(has(html, "id=\"priority_group-error\""));
    EXPECT_FALSE(has(html, "id=\"contact-error\""));
    EXPECT_TRUE(has(html, "value=\"x@example.org\""));  // what was typed stays
    EXPECT_EQ(db_->registration_count().value, 0);
}

TEST_F(Pages, german_by_default_english_by_accept_language_or_link) {
    browser de;
    auto res = get(de, "/");
    ASSERT_EQ(res.result(), http::status::ok);
    EXPECT_TRUE(has(res.body(), "<html lang=\"de\">"));
    EXPECT_TRUE(has(res.body(), "<h1>Impftermin buchen</h1>"));
    EXPECT_TRUE(has(res.body(), "href=\"/?lang=en\""));

    browser en;
    en.accept_language = "en-GB,en;q=0.9,de;q=0.5";
    res = get(en, "/login");
    EXPECT_TRUE(has(res.body(), "<html lang=\"en\">"));
    EXPECT_TRUE(has(res.body(), "<h1>Log in</h1>"));

    // ?lang= wins and is remembered.
    res = get(de, "/register?lang=en");
    EXPECT_TRUE(has(res.body(), "<html lang=\"en\">"));
    EXPECT_EQ(de.cookies["anteroom_lang"], "en");
    res = get(de, "/login");
    EXPECT_TRUE(has(res.body(), "<html lang=\"en\">"));
    res = get(de, "/login?lang=de");
    EXPECT_TRUE(has(res.body(), "<html lang=\"de\">"));
}

TEST_F(Pages, start_page_shows_the_free_appointments) {
    centre_with(10);
    browser b;
    auto res = get(b, "/");
    ASSERT_EQ(res.result(), http::status::ok);
    EXPECT_TRUE(has(res.body(), "<span class=\"big\">60</span>"));
    EXPECT_TRUE(has(res.body(), "href=\"/register\""));
    EXPECT_TRUE(has(res.body(), "href=\"/hotline\""));
    EXPECT_TRUE(has(res.body(), "href=\"/admin\""));
    settings_.admin_token.clear();
    EXPECT_FALSE(has(get(b, "/").body(), "href=\"/admin\""));
}

TEST_F(Pages, booking_through_the_form_books_and_cancel_returns_it) {
    const auto c = centre_with(10);
    const auto d = person();
    browser b;
    log_in(b, d);
    const std::string week = "/appointments?centre=" + std::to_string(c) + "&date=" + format_date(day);
    auto page = get(b, week);
    ASSERT_EQ(page.result(), http::status::ok);
    EXPECT_TRUE(has(page.body(), "60 frei"));
    EXPECT_TRUE(has(page.body(), "geschlossen") || has(page.body(), "ausgebucht"));  // the other days
    EXPECT_TRUE(has(page.body(), "action=\"/appointments/book\""));
    EXPECT_TRUE(has(page.body(), "Buchen: Mo. 15.03.2027"));

    auto res = post(b, "/appointments/book", form({{"centre", std::to_string(c)}, {"date", format_date(day)}}));
    ASSERT_EQ(res.result(), http::status::see_other) << res.body();
    EXPECT_EQ(res[http::field::location], "/my?done=booked");
    auto booked = db_->bookings_of(d.registration_id);
    ASSERT_EQ(booked.value.size(), 1u);
    EXPECT_EQ(booked.value[0].day, day);
    EXPECT_EQ(free_online(c), 59);

    auto my = get(b, "/my?done=booked");
    EXPECT_TRUE(has(my.body(), "role=\"status\""));
    EXPECT_TRUE(has(my.body(), "Mo. 15.03.2027"));
    EXPECT_TRUE(has(my.body(), "Messe Nord"));

    res = post(b, "/my/cancel", form({{"booking", std::to_string(booked.value[0].id)}}));
    ASSERT_EQ(res.result(), http::status::see_other);
    EXPECT_EQ(res[http::field::location], "/my?done=cancelled");
    EXPECT_TRUE(db_->bookings_of(d.registration_id).value.empty());
    EXPECT_EQ(free_online(c), 60);
}

TEST_F(Pages, rebook_moves_the_appointment) {
    const auto c = centre_with(10);
    ASSERT_TRUE(db_->record_delivery(c, day + 1, 1, now).ok());
    const auto d = person();
    browser b;
    log_in(b, d);
    auto first = db_->book(d.registration_id, c, day, now);
    ASSERT_TRUE(first.ok());
    auto my = get(b, "/my");
    EXPECT_TRUE(has(my.body(), "/appointments?rebook=" + std::to_string(first.value.id)));
    auto choose = get(b, "/appointments?rebook=" + std::to_string(first.value.id) + "&centre=" + std::to_string(c) +
                             "&date=" + format_date(day));
    EXPECT_TRUE(has(choose.body(), "action=\"/my/rebook\""));
    auto res = post(b, "/my/rebook",
                    form({{"booking", std::to_string(first.value.id)},
                          {"centre", std::to_string(c)},
                          {"date", format_date(day + 1)}}));
    ASSERT_EQ(res.result(), http::status::see_other) << res.body();
    auto now_booked = db_->bookings_of(d.registration_id);
    ASSERT_EQ(now_booked.value.size(), 1u);
    EXPECT_EQ(now_booked.value[0].day, day + 1);
}

TEST_F(Pages, booking_errors_are_explained_in_both_languages) {
    const auto c = centre_with(10);
    const auto d = person();
    const auto closed_group = person("Otto Normal", "", 7);
    browser b;
    log_in(b, d);
    const auto book = [&](browser& who, day_number on) {
        return post(who, "/appointments/book", form({{"centre", std::to_string(c)}, {"date", format_date(on)}}));
    };
    auto res = book(b, day + 1);  // nothing delivered
    EXPECT_EQ(res.result(), http::status::conflict);
    EXPECT_TRUE(has(res.body(), "role=\"alert\""));
    EXPECT_TRUE(has(res.body(), "kein Termin mehr frei"));
    b.accept_language = "en";
    EXPECT_TRUE(has(book(b, day + 1).body(), "No appointment is left on that day"));
    EXPECT_TRUE(has(book(b, day - 20).body(), "That day is in the past"));
    ASSERT_EQ(book(b, day).result(), http::status::see_other);
    res = book(b, day);
    EXPECT_EQ(res.result(), http::status::conflict);
    EXPECT_TRUE(has(res.body(), "You already have an appointment"));

    browser other;
    log_in(other, closed_group);
    res = book(other, day);
    EXPECT_TRUE(has(res.body(), "Ihre Prioritätsgruppe ist noch nicht zur Buchung freigegeben"));
    EXPECT_TRUE(db_->bookings_of(closed_group.registration_id).value.empty());
}

TEST_F(Pages, closed_days_are_shown_as_closed) {
    auto c = db_->add_centre({0, "Nur montags", {}, 0x01});
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(db_->record_delivery(c.value, day, 2, now).ok());
    browser b;
    auto res = get(b, "/appointments?centre=" + std::to_string(c.value) + "&date=" + format_date(day));
    ASSERT_EQ(res.result(), http::status::ok);
    EXPECT_TRUE(has(res.body(), "Mo. 15.03.2027</strong>: 12 frei"));
    EXPECT_TRUE(has(res.body(), "Di. 16.03.2027</strong>: <span class=\"closed\">geschlossen"));
    EXPECT_TRUE(has(res.body(), "href=\"/login\""));  // booking needs a login
    EXPECT_FALSE(has(res.body(), "action=\"/appointments/book\""));
}

TEST_F(Pages, second_appointment_is_listed_with_the_first) {
    options_.second_appointment_days = 28;
    open();
    const auto c = centre_with(10);
    ASSERT_TRUE(db_->record_delivery(c, day + 28, 10, now).ok());
    const auto d = person();
    browser b;
    log_in(b, d);
    ASSERT_EQ(post(b, "/appointments/book", form({{"centre", std::to_string(c)}, {"date", format_date(day)}})).result(),
              http::status::see_other);
    ASSERT_EQ(db_->bookings_of(d.registration_id).value.size(), 2u);
    auto my = get(b, "/my");
    EXPECT_TRUE(has(my.body(), "Zweiter Termin"));
    EXPECT_TRUE(has(my.body(), "Mo. 12.04.2027"));
    EXPECT_TRUE(has(my.body(), "zusammen mit dem ersten Termin"));
}

TEST_F(Pages, cross_site_posts_are_refused) {
    const auto c = centre_with(10);
    const auto d = person();
    browser b;
    log_in(b, d);
    b.origin = "https://evil.example";
    auto res = post(b, "/appointments/book", form({{"centre", std::to_string(c)}, {"date", format_date(day)}}));
    EXPECT_EQ(res.result(), http::status::forbidden);
    EXPECT_TRUE(db_->bookings_of(d.registration_id).value.empty());
    res = post(b, "/register",
               form({{"name", "X"}, {"birth_date", "1950-01-02"}, {"contact", "x"}, {"priority_group", "1"}}));
    EXPECT_EQ(res.result(), http::status::forbidden);
    EXPECT_EQ(db_->registration_count().value, 1);
    EXPECT_EQ(post(b, "/logout", "").result(), http::status::forbidden);
    EXPECT_EQ(post(b, "/hotline/login", form({{"agent_name", "a"}, {"password", "b"}})).result(),
              http::status::forbidden);

    browser admin;
    admin_log_in(admin);
    admin.origin = "http://evil.example";
    res = post(admin, "/admin/deliveries",
               form({{"d-centre", std::to_string(c)}, {"d-date", format_date(day)}, {"d-vials", "5"}}));
    EXPECT_EQ(res.result(), http::status::forbidden);
    EXPECT_EQ(free_online(c), 60);
}

TEST_F(Pages, admin_pages_need_a_token_and_a_session) {
    browser b;
    settings_.admin_token.clear();
    EXPECT_EQ(get(b, "/admin").result(), http::status::not_found);
    EXPECT_EQ(post(b, "/admin/login", form({{"token", ""}})).result(), http::status::not_found);
    EXPECT_EQ(post(b, "/admin/retention", "").result(), http::status::not_found);

    settings_.admin_token = "admin-token-for-tests";
    auto res = get(b, "/admin");
    EXPECT_EQ(res.result(), http::status::unauthorized);
    EXPECT_TRUE(has(res.body(), "name=\"token\""));
    EXPECT_TRUE(has(res.body(), "<label for=\"token\">"));
    EXPECT_EQ(post(b, "/admin/retention", "").result(), http::status::unauthorized);

    res = post(b, "/admin/login", form({{"token", "wrong"}}));
    EXPECT_EQ(res.result(), http::status::unauthorized);
    EXPECT_TRUE(has(res.body(), "id=\"token-error\""));
    EXPECT_FALSE(b.cookies.count(std::string(admin_cookie)));

    admin_log_in(b);
    res = get(b, "/admin");
    ASSERT_EQ(res.result(), http::status::ok);
    EXPECT_TRUE(has(res.body(), "<h1>Verwaltung</h1>"));
    // A person's session is no admin session.
    browser person_browser;
    log_in(person_browser, person());
    person_browser.cookies[std::string(admin_cookie)] = person_browser.cookies[std::string(person_cookie)];
    EXPECT_EQ(get(person_browser, "/admin").result(), http::status::unauthorized);
}

TEST_F(Pages, admin_records_a_delivery_and_manages_centres_groups_and_agents) {
    browser b;
    admin_log_in(b);
    auto res = post(b, "/admin/centres",
                    form({{"centre", "0"},
                          {"c0-name", "Stadthalle"},
                          {"c0-opens", "08:00"},
                          {"c0-closes", "18:00"},
                          {"c0-slot", "15"},
                          {"c0-mon", "1"},
                          {"c0-wed", "1"}}));
    ASSERT_EQ(res.result(), http::status::see_other) << res.body();
    auto cs = db_->centres();
    ASSERT_EQ(cs.value.size(), 1u);
    const auto c = cs.value[0];
    EXPECT_EQ(c.open_days, 0x05);
    EXPECT_EQ(c.hours.opens_minute, 480);

    // Edit with an error: shown beside the field, the posted values kept.
    const std::string p = "c" + std::to_string(c.id) + "-";
    res = post(b, "/admin/centres",
               form({{"centre", std::to_string(c.id)},
                     {p + "name", "Stadthalle"},
                     {p + "opens", "09:00"},
                     {p + "closes", "07:00"},
                     {p + "slot", "15"}}));
    EXPECT_EQ(res.result(), http::status::bad_request);
    EXPECT_TRUE(has(res.body(), "id=\"" + p + "closes-error\""));
    EXPECT_TRUE(has(res.body(), "id=\"" + p + "days-error\""));
    EXPECT_TRUE(has(res.body(), "value=\"09:00\""));

    res = post(b, "/admin/deliveries",
               form({{"d-centre", std::to_string(c.id)}, {"d-date", format_date(day)}, {"d-vials", "10"}}));
    ASSERT_EQ(res.result(), http::status::see_other) << res.body();
    const std::string location(res[http::field::location]);
    EXPECT_TRUE(has(location, "n=60"));
    auto shown = get(b, location);
    EXPECT_TRUE(has(shown.body(), "Lieferung erfasst: 60 Termine"));
    EXPECT_EQ(db_->capacity(now).value.available, 60);

    res = post(b, "/admin/groups", form({{"g-group", "3"}, {"g-open", "1"}}));
    ASSERT_EQ(res.result(), http::status::see_other);
    auto groups = db_->groups().value;
    EXPECT_NE(std::find(groups.begin(), groups.end(), std::pair<std::int64_t, bool>{3, true}), groups.end());

    res = post(b, "/admin/care-homes/reserve",
               form({{"r-centre", std::to_string(c.id)}, {"r-date", format_date(day)}, {"r-doses", "12"}}));
    ASSERT_EQ(res.result(), http::status::see_other);
    EXPECT_EQ(db_->capacity(now).value.available, 48);
    const std::string reservation = between(std::string(res[http::field::location]), "id=", "#");
    res = post(b, "/admin/care-homes/release", form({{"x-id", reservation}, {"x-used", "2"}}));
    ASSERT_EQ(res.result(), http::status::see_other) << res.body();
    EXPECT_EQ(db_->capacity(now).value.available, 58);

    res = post(b, "/admin/agents", form({{"a-name", "anna"}, {"a-password", "short"}}));
    EXPECT_EQ(res.result(), http::status::bad_request);
    EXPECT_TRUE(has(res.body(), "id=\"a-password-error\""));
    res = post(b, "/admin/agents", form({{"a-name", "anna"}, {"a-password", "a long enough password"}}));
    ASSERT_EQ(res.result(), http::status::see_other);
    EXPECT_TRUE(db_->agent_login("anna", "a long enough password").ok());

    res = post(b, "/admin/retention", "");
    ASSERT_EQ(res.result(), http::status::see_other);
    EXPECT_TRUE(has(get(b, std::string(res[http::field::location])).body(), "Gelöscht ohne Termin: 0"));
}

TEST_F(Pages, hotline_booking_needs_the_agent_session_and_creates_a_letter) {
    const auto c = centre_with(10);
    const auto caller = person("Karl Anrufer", "Hauptstr. 1\n12345 Stadt");
    ASSERT_TRUE(db_->create_agent("anna", "a long enough password", now).ok());
    const auto book_form =
        form({{"code", caller.booking_code}, {"centre", std::to_string(c)}, {"date", format_date(day)}});

    browser b;
    auto res = get(b, "/hotline");
    EXPECT_EQ(res.result(), http::status::unauthorized);
    EXPECT_TRUE(has(res.body(), "<label for=\"agent_name\">"));
    EXPECT_EQ(post(b, "/hotline/book", book_form).result(), http::status::unauthorized);
    EXPECT_TRUE(db_->pending_letters().value.empty());
    // A person's session is not an agent's.
    log_in(b, caller);
    b.cookies[std::string(agent_cookie)] = b.cookies[std::string(person_cookie)];
    EXPECT_EQ(post(b, "/hotline/book", book_form).result(), http::status::unauthorized);
    b.cookies.clear();

    res = post(b, "/hotline/login", form({{"agent_name", "anna"}, {"password", "wrong password!"}}));
    EXPECT_EQ(res.result(), http::status::unauthorized);
    EXPECT_TRUE(has(res.body(), "id=\"agent_name-error\""));
    res = post(b, "/hotline/login", form({{"agent_name", "anna"}, {"password", "a long enough password"}}));
    ASSERT_EQ(res.result(), http::status::see_other);
    ASSERT_TRUE(b.cookies.count(std::string(agent_cookie)));

    const auto audits_before = db_->audit_count(caller.registration_id).value;
    res = get(b, "/hotline?code=" + caller.booking_code + "&centre=" + std::to_string(c) + "&date=" + format_date(day));
    ASSERT_EQ(res.result(), http::status::ok);
    EXPECT_TRUE(has(res.body(), "Karl Anrufer"));
    EXPECT_TRUE(has(res.body(), "action=\"/hotline/book\""));
    EXPECT_GT(db_->audit_count(caller.registration_id).value, audits_before);

    res = post(b, "/hotline/book", book_form);
    ASSERT_EQ(res.result(), http::status::see_other) << res.body();
    EXPECT_EQ(db_->bookings_of(caller.registration_id).value.size(), 1u);
    const auto letters = db_->pending_letters().value;
    ASSERT_EQ(letters.size(), 1u);

    // The admin sees the letter in the print queue (without the person's name) and marks it printed.
    browser admin;
    admin_log_in(admin);
    auto queue = get(admin, "/admin");
    const std::string n = std::to_string(letters[0].id);
    EXPECT_TRUE(has(queue.body(), "href=\"/api/admin/letters/" + n + "\""));
    EXPECT_FALSE(has(queue.body(), "Karl Anrufer"));
    for (int twice = 0; twice < 2; ++twice) {
        res = post(admin, "/admin/letters/printed", form({{"letter", n}}));
        EXPECT_EQ(res.result(), http::status::see_other) << res.body();
    }
    EXPECT_TRUE(db_->pending_letters().value.empty());

    auto bookings = db_->bookings_of(caller.registration_id).value;
    res =
        post(b, "/hotline/cancel", form({{"code", caller.booking_code}, {"booking", std::to_string(bookings[0].id)}}));
    ASSERT_EQ(res.result(), http::status::see_other);
    EXPECT_TRUE(db_->bookings_of(caller.registration_id).value.empty());

    res = get(b, "/hotline?code=NOSUCHCODE99");
    EXPECT_TRUE(has(res.body(), "id=\"code-error\""));
}

TEST_F(Pages, hotline_registers_a_caller_with_a_postal_address) {
    ASSERT_TRUE(db_->create_agent("anna", "a long enough password", now).ok());
    browser b;
    ASSERT_EQ(
        post(b, "/hotline/login", form({{"agent_name", "anna"}, {"password", "a long enough password"}})).result(),
        http::status::see_other);
    auto res =
        post(b, "/hotline/register", form({{"name", "Karl"}, {"birth_date", "1940-05-06"}, {"priority_group", "1"}}));
    EXPECT_EQ(res.result(), http::status::bad_request);
    EXPECT_TRUE(has(res.body(), "id=\"postal_address-error\""));
    res = post(b, "/hotline/register",
               form({{"name", "Karl"},
                     {"birth_date", "1940-05-06"},
                     {"priority_group", "1"},
                     {"postal_address", "Hauptstr. 1, 12345 Stadt"}}));
    ASSERT_EQ(res.result(), http::status::ok);
    EXPECT_TRUE(has(res.body(), "<dt>PIN</dt>"));
    EXPECT_EQ(db_->registration_count().value, 1);
}

TEST_F(Pages, what_people_type_is_escaped) {
    const auto evil = person("<script>alert(1)</script>", "<b>Street</b>");
    browser b;
    log_in(b, evil);
    auto my = get(b, "/my");
    ASSERT_EQ(my.result(), http::status::ok);
    EXPECT_FALSE(has(my.body(), "<script>"));
    EXPECT_TRUE(has(my.body(), "&lt;script&gt;alert(1)&lt;/script&gt;"));
    EXPECT_TRUE(has(my.body(), "&lt;b&gt;Street&lt;/b&gt;"));

    auto res = post(b, "/register", form({{"name", "\"><script>x()</script>"}, {"birth_date", "bad"}}));
    EXPECT_EQ(res.result(), http::status::bad_request);
    EXPECT_FALSE(has(res.body(), "<script>"));
    EXPECT_TRUE(has(res.body(), "value=\"&quot;&gt;&lt;script&gt;x()&lt;/script&gt;\""));
    EXPECT_FALSE(has(get(b, "/login?lang=%22%3E%3Cscript%3E").body(), "<script>"));
}

TEST_F(Pages, every_page_is_whole_and_the_stylesheet_is_served) {
    centre_with(10);
    ASSERT_TRUE(db_->create_agent("anna", "a long enough password", now).ok());
    browser b;
    admin_log_in(b);
    ASSERT_EQ(
        post(b, "/hotline/login", form({{"agent_name", "anna"}, {"password", "a long enough password"}})).result(),
        http::status::see_other);
    log_in(b, person());
    for (const std::string target : {"/", "/register", "/login", "/appointments", "/my", "/hotline", "/admin"}) {
        for (const std::string lang : {"de", "en"}) {
            auto res = get(b, target + "?lang=" + lang);
            EXPECT_EQ(res.result(), http::status::ok) << target;
            EXPECT_EQ(res[http::field::content_type], "text/html; charset=utf-8");
            EXPECT_TRUE(has(res.body(), "<html lang=\"" + lang + "\">")) << target;
            EXPECT_FALSE(has(res.body(), "{{")) << target;
            EXPECT_TRUE(has(res.body(), "</html>")) << target;
            EXPECT_TRUE(has(res.body(), "<link rel=\"stylesheet\" href=\"/static/booking.css\">"));
            // Every visible input has a label.
            std::size_t pos = 0;
            while ((pos = res.body().find("<input type=\"", pos)) != std::string::npos) {
                const auto end = res.body().find('>', pos);
                const std::string tag = res.body().substr(pos, end - pos);
                pos = end;
                if (has(tag, "type=\"hidden\"") || has(tag, "type=\"checkbox\"")) {
                    continue;
                }
                const std::string id = between(tag, "id=\"", "\"");
                EXPECT_TRUE(has(res.body(), "<label for=\"" + id + "\">")) << target << ": " << tag;
            }
        }
    }
    auto css = get(b, "/static/booking.css");
    ASSERT_EQ(css.result(), http::status::ok);
    EXPECT_EQ(css[http::field::content_type], "text/css; charset=utf-8");
    EXPECT_TRUE(has(css.body(), ".visually-hidden"));
}

}  // namespace
}  // namespace anteroom::booking
