// The booking JSON API without sockets: dispatch() with a request, a store on a temp file and an
// injected clock. The same handlers run behind the real listener (booking_it.cpp covers that).

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "booking/web.hpp"
#include "common/timefmt.hpp"

namespace anteroom::booking {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const day_number day = make_day(2027, 3, 15);  // a Monday
const unix_seconds start_now = start_of(day) - 10 * seconds_per_day;

class booking_api : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "anteroom-api-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        options_.pin_iterations = 1000;
        options_.capacity.hotline = {hotline_contingent::kind::absolute, 0, 86'400};
        settings_.clock = [this] { return now_; };
        settings_.admin_token = "admin-secret-token";
        reopen();
    }
    void TearDown() override {
        db_.reset();
        fs::remove_all(dir_);
    }
    void reopen() {
        db_.reset();
        auto s = store::open(dir_ + "/b.sqlite", options_);
        ASSERT_TRUE(s.ok()) << to_string(s.error);
        db_ = std::move(s.value);
    }

    simple_response call(http::verb method, std::string target, std::string body = "", std::string cookie = "",
                         std::string auth = "") {
        simple_request req{method, target, 11};
        req.set(http::field::host, "portal.example");
        if (!body.empty()) {
            req.set(http::field::content_type, "application/json");
            req.body() = std::move(body);
            req.prepare_payload();
        }
        if (!cookie.empty()) {
            req.set(http::field::cookie, cookie);
        }
        if (!auth.empty()) {
            req.set(http::field::authorization, "Bearer " + auth);
        }
        for (const auto& [k, v] : extra_headers_) {
            req.set(k, v);
        }
        return dispatch(all_routes(), req, *db_, settings_);
    }
    static json body_of(const simple_response& r) { return json::parse(r.body(), nullptr, false); }
    static std::string cookie_of(const simple_response& r) {
        const std::string c(r[http::field::set_cookie]);
        return c.substr(0, c.find(';'));
    }

    // A centre with `vials` delivered on `day`, group 1 open, through the admin API.
    std::int64_t centre_with(std::int64_t vials) {
        auto c = call(http::verb::post, "/api/admin/centres",
                      R"({"name":"Messe )" + std::to_string(++centres_) + R"(","opens":"08:00","closes":"18:00","slot_minutes":10})",
                      "", settings_.admin_token);
        EXPECT_EQ(c.result(), http::status::created) << c.body();
        const auto id = body_of(c)["id"].get<std::int64_t>();
        EXPECT_EQ(call(http::verb::put, "/api/admin/groups/1", R"({"open":true})", "", settings_.admin_token).result(),
                  http::status::ok);
        if (vials > 0) {
            auto d = call(http::verb::post, "/api/admin/deliveries",
                          json{{"centre", id}, {"date", format_date(day)}, {"vials", vials}}.dump(), "",
                          settings_.admin_token);
            EXPECT_EQ(d.result(), http::status::created) << d.body();
        }
        return id;
    }

    // Registers and logs in; returns the session cookie ("anteroom_booking=…").
    std::string logged_in_person(std::string extra = "") {
        auto r = call(http::verb::post, "/api/registrations",
                      R"({"name":"Erika Mustermann","birth_date":"1950-01-02","contact":"erika@example.org","priority_group":1)" +
                          extra + "}");
        EXPECT_EQ(r.result(), http::status::created) << r.body();
        const auto j = body_of(r);
        auto s = call(http::verb::post, "/api/sessions",
                      json{{"booking_code", j["booking_code"]}, {"pin", j["pin"]}}.dump());
        EXPECT_EQ(s.result(), http::status::created) << s.body();
        return cookie_of(s);
    }

    simple_response book(const std::string& cookie, std::int64_t centre, day_number d = day) {
        return call(http::verb::post, "/api/bookings", json{{"centre", centre}, {"date", format_date(d)}}.dump(),
                    cookie);
    }

    std::string dir_;
    store_options options_;
    web_settings settings_;
    unix_seconds now_ = start_now;
    std::unique_ptr<store> db_;
    std::vector<std::pair<std::string, std::string>> extra_headers_;
    int centres_ = 0;
};

TEST_F(booking_api, registration_login_appointments_book_cancel) {
    const auto centre = centre_with(2);  // 12 appointments
    auto reg = call(http::verb::post, "/api/registrations",
                    R"({"name":"Max","birth_date":"1960-05-06","contact":"0301234","priority_group":1})");
    ASSERT_EQ(reg.result(), http::status::created);
    const auto login = body_of(reg);
    EXPECT_EQ(login["booking_code"].get<std::string>().size(), 12u);
    EXPECT_EQ(login["pin"].get<std::string>().size(), 6u);
    EXPECT_NE(login["note"].get<std::string>().find("only once"), std::string::npos);

    auto wrong = call(http::verb::post, "/api/sessions", json{{"booking_code", login["booking_code"]}, {"pin", "000000x"}}.dump());
    EXPECT_EQ(wrong.result(), http::status::unauthorized);
    EXPECT_EQ(body_of(wrong)["code"], "wrong_credentials");

    auto s = call(http::verb::post, "/api/sessions", json{{"booking_code", login["booking_code"]}, {"pin", login["pin"]}}.dump());
    ASSERT_EQ(s.result(), http::status::created);
    const std::string set_cookie(s[http::field::set_cookie]);
    EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos);
    EXPECT_NE(set_cookie.find("SameSite=Strict"), std::string::npos);
    const auto cookie = cookie_of(s);

    auto av = call(http::verb::get, "/api/appointments?centre=" + std::to_string(centre) + "&date=" + format_date(day) + "&days=2");
    ASSERT_EQ(av.result(), http::status::ok) << av.body();
    EXPECT_EQ(body_of(av)["days"][0]["free"], 12);
    EXPECT_EQ(body_of(av)["days"][1]["free"], 0);

    auto b = book(cookie, centre);
    ASSERT_EQ(b.result(), http::status::created) << b.body();
    const auto booking = body_of(b)["booking"];
    EXPECT_EQ(booking["date"], format_date(day));
    EXPECT_EQ(booking["time"], "08:00");
    EXPECT_EQ(body_of(call(http::verb::get, "/api/appointments?centre=" + std::to_string(centre) + "&date=" + format_date(day)))["days"][0]["free"], 11);

    auto again = book(cookie, centre);
    EXPECT_EQ(again.result(), http::status::conflict);
    EXPECT_EQ(body_of(again)["code"], "already_booked");

    auto mine = call(http::verb::get, "/api/bookings", "", cookie);
    ASSERT_EQ(body_of(mine)["bookings"].size(), 1u);
    EXPECT_EQ(call(http::verb::get, "/api/me", "", cookie).result(), http::status::ok);
    EXPECT_EQ(body_of(call(http::verb::get, "/api/me", "", cookie))["name"], "Max");

    const auto id = booking["id"].get<std::int64_t>();
    EXPECT_EQ(call(http::verb::delete_, "/api/bookings/" + std::to_string(id), "", cookie).result(), http::status::no_content);
    EXPECT_EQ(body_of(call(http::verb::get, "/api/appointments?centre=" + std::to_string(centre) + "&date=" + format_date(day)))["days"][0]["free"], 12);
    EXPECT_EQ(call(http::verb::delete_, "/api/bookings/" + std::to_string(id), "", cookie).result(), http::status::not_found);

    EXPECT_EQ(call(http::verb::delete_, "/api/sessions", "", cookie).result(), http::status::no_content);
    EXPECT_EQ(call(http::verb::get, "/api/bookings", "", cookie).result(), http::status::unauthorized);
}

TEST_F(booking_api, bad_input_gets_a_4xx_with_a_stable_code) {
    const auto centre = centre_with(1);
    const auto cookie = logged_in_person();
    EXPECT_EQ(body_of(call(http::verb::post, "/api/registrations", "{not json"))["code"], "invalid_json");
    EXPECT_EQ(call(http::verb::post, "/api/registrations", "[1]").result(), http::status::bad_request);
    auto missing = call(http::verb::post, "/api/registrations", R"({"name":"A","contact":"x","priority_group":1})");
    EXPECT_EQ(missing.result(), http::status::bad_request);
    EXPECT_NE(body_of(missing)["message"].get<std::string>().find("birth_date"), std::string::npos);
    EXPECT_EQ(call(http::verb::post, "/api/registrations",
                   R"({"name":"A","birth_date":"2999-01-01","contact":"x","priority_group":1})").result(),
              http::status::bad_request);
    EXPECT_EQ(call(http::verb::post, "/api/registrations",
                   R"({"name":"A","birth_date":"1950-02-30","contact":"x","priority_group":1})").result(),
              http::status::bad_request);
    EXPECT_EQ(call(http::verb::post, "/api/registrations",
                   json{{"name", std::string(201, 'a')}, {"birth_date", "1950-01-01"}, {"contact", "x"}, {"priority_group", 1}}.dump())
                  .result(),
              http::status::bad_request);
    EXPECT_EQ(book(cookie, centre, day - 20).result(), http::status::bad_request);  // in the past
    EXPECT_EQ(body_of(book(cookie, centre, day + 1))["code"], "no_capacity");
    EXPECT_EQ(body_of(book(cookie, 999))["code"], "not_found");
    EXPECT_EQ(call(http::verb::get, "/api/appointments?centre=x&date=2027-01-01").result(), http::status::bad_request);
    EXPECT_EQ(call(http::verb::get, "/api/appointments?centre=1&date=2027-01-01&days=99").result(), http::status::bad_request);

    auto unknown = call(http::verb::get, "/api/nothing");
    EXPECT_EQ(unknown.result(), http::status::not_found);
    EXPECT_EQ(body_of(unknown)["code"], "not_found");
    auto wrong_method = call(http::verb::patch, "/api/bookings");
    EXPECT_EQ(wrong_method.result(), http::status::method_not_allowed);
    EXPECT_EQ(wrong_method[http::field::allow], "GET, POST");
}

TEST_F(booking_api, cross_site_posts_with_a_session_cookie_are_refused) {
    const auto centre = centre_with(1);
    const auto cookie = logged_in_person();
    extra_headers_ = {{"Origin", "https://evil.example"}};
    auto r = book(cookie, centre);
    EXPECT_EQ(r.result(), http::status::forbidden);
    EXPECT_EQ(body_of(r)["code"], "cross_site");
    EXPECT_EQ(call(http::verb::post, "/api/sessions", R"({"booking_code":"X","pin":"1"})").result(), http::status::forbidden);
    EXPECT_EQ(call(http::verb::post, "/api/registrations", "{}").result(), http::status::forbidden);
    extra_headers_ = {{"Origin", "https://portal.example"}};
    EXPECT_EQ(book(cookie, centre).result(), http::status::created);
}

TEST_F(booking_api, sessions_expire_on_the_injected_clock) {
    settings_.session_ttl_s = 600;
    centre_with(1);
    const auto cookie = logged_in_person();
    now_ += 599;
    EXPECT_EQ(call(http::verb::get, "/api/bookings", "", cookie).result(), http::status::ok);
    now_ += 1;
    EXPECT_EQ(call(http::verb::get, "/api/bookings", "", cookie).result(), http::status::unauthorized);
    EXPECT_EQ(call(http::verb::get, "/api/bookings", "", "anteroom_booking=forged").result(), http::status::unauthorized);
}

TEST_F(booking_api, closed_groups_and_closed_days_are_explained) {
    auto c = call(http::verb::post, "/api/admin/centres",
                  R"({"name":"Weekdays","opens":"09:00","closes":"12:00","slot_minutes":15,"days":["mon","tue","wed","thu","fri"]})",
                  "", settings_.admin_token);
    ASSERT_EQ(c.result(), http::status::created) << c.body();
    const auto id = body_of(c)["id"].get<std::int64_t>();
    const day_number saturday = day + 5;
    // Stock for a closed day could never be booked: refused.
    auto stock = call(http::verb::post, "/api/admin/deliveries", json{{"centre", id}, {"date", format_date(saturday)}, {"vials", 1}}.dump(), "", settings_.admin_token);
    EXPECT_EQ(body_of(stock)["code"], "day_closed");
    ASSERT_EQ(call(http::verb::post, "/api/admin/deliveries", json{{"centre", id}, {"date", format_date(day)}, {"vials", 1}}.dump(), "", settings_.admin_token).result(),
              http::status::created);
    const auto cookie = logged_in_person();
    EXPECT_EQ(body_of(book(cookie, id, day))["code"], "group_closed");
    ASSERT_EQ(call(http::verb::put, "/api/admin/groups/1", R"({"open":true})", "", settings_.admin_token).result(), http::status::ok);
    auto closed = book(cookie, id, saturday);
    EXPECT_EQ(closed.result(), http::status::bad_request);
    EXPECT_EQ(body_of(closed)["code"], "day_closed");
    auto av = body_of(call(http::verb::get, "/api/appointments?centre=" + std::to_string(id) + "&date=" + format_date(saturday)));
    EXPECT_EQ(av["days"][0]["open"], false);
    EXPECT_EQ(av["days"][0]["free"], 0);
}

TEST_F(booking_api, second_appointment_is_booked_and_cancelled_with_the_first) {
    options_.second_appointment_days = 7;
    reopen();
    const auto centre = centre_with(1);
    ASSERT_EQ(call(http::verb::post, "/api/admin/deliveries", json{{"centre", centre}, {"date", format_date(day + 7)}, {"vials", 1}}.dump(), "", settings_.admin_token).result(),
              http::status::created);
    const auto cookie = logged_in_person();
    auto b = book(cookie, centre);
    ASSERT_EQ(b.result(), http::status::created) << b.body();
    const auto list = body_of(b)["bookings"];
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[1]["date"], format_date(day + 7));
    EXPECT_EQ(list[1]["second_of"], list[0]["id"]);
    // Cancelling the second cancels the pair.
    // Rebooking by the second appointment's id moves the pair.
    ASSERT_EQ(call(http::verb::post, "/api/admin/deliveries", json{{"centre", centre}, {"date", format_date(day + 1)}, {"vials", 1}}.dump(), "", settings_.admin_token).result(),
              http::status::created);
    ASSERT_EQ(call(http::verb::post, "/api/admin/deliveries", json{{"centre", centre}, {"date", format_date(day + 8)}, {"vials", 1}}.dump(), "", settings_.admin_token).result(),
              http::status::created);
    auto moved = call(http::verb::put, "/api/bookings/" + std::to_string(list[1]["id"].get<std::int64_t>()),
                      json{{"centre", centre}, {"date", format_date(day + 1)}}.dump(), cookie);
    ASSERT_EQ(moved.result(), http::status::ok) << moved.body();
    const auto pair = body_of(moved)["bookings"];
    ASSERT_EQ(pair.size(), 2u);
    EXPECT_EQ(pair[0]["date"], format_date(day + 1));
    EXPECT_EQ(pair[1]["date"], format_date(day + 8));
    EXPECT_EQ(call(http::verb::delete_, "/api/bookings/" + std::to_string(pair[1]["id"].get<std::int64_t>()), "", cookie).result(),
              http::status::no_content);
    EXPECT_TRUE(body_of(call(http::verb::get, "/api/bookings", "", cookie))["bookings"].empty());

    // No stock for the second day: nothing is booked at all.
    const auto other = centre_with(1);
    auto none = book(cookie, other);
    EXPECT_EQ(body_of(none)["code"], "no_capacity");
    EXPECT_TRUE(body_of(call(http::verb::get, "/api/bookings", "", cookie))["bookings"].empty());
}

TEST_F(booking_api, rebook_moves_the_appointment_or_keeps_it) {
    const auto centre = centre_with(1);
    const auto cookie = logged_in_person();
    auto b = book(cookie, centre);
    const auto id = body_of(b)["booking"]["id"].get<std::int64_t>();
    auto fail = call(http::verb::put, "/api/bookings/" + std::to_string(id),
                     json{{"centre", centre}, {"date", format_date(day + 1)}}.dump(), cookie);
    EXPECT_EQ(body_of(fail)["code"], "no_capacity");
    EXPECT_EQ(body_of(call(http::verb::get, "/api/bookings", "", cookie))["bookings"][0]["id"], id);
    ASSERT_EQ(call(http::verb::post, "/api/admin/deliveries", json{{"centre", centre}, {"date", format_date(day + 1)}, {"vials", 1}}.dump(), "", settings_.admin_token).result(),
              http::status::created);
    auto ok = call(http::verb::put, "/api/bookings/" + std::to_string(id),
                   json{{"centre", centre}, {"date", format_date(day + 1)}}.dump(), cookie);
    ASSERT_EQ(ok.result(), http::status::ok) << ok.body();
    EXPECT_EQ(body_of(ok)["booking"]["date"], format_date(day + 1));
}

TEST_F(booking_api, capacity_counts_online_appointments_and_the_next_release) {
    options_.capacity.hotline = {hotline_contingent::kind::absolute, 6, 86'400};
    reopen();
    const auto centre = centre_with(2);  // 12, 6 held for the hotline
    auto c = body_of(call(http::verb::get, "/api/capacity"));
    EXPECT_EQ(c["available"], 6);
    EXPECT_EQ(c["centres"][0]["id"], centre);
    EXPECT_EQ(c["centres"][0]["available"], 6);
    EXPECT_TRUE(c["next_delivery"] == format_date(day));
    EXPECT_FALSE(c.contains("next_available_at"));
    // Online books its 6: nothing left online, the contingent turns online a day before.
    for (int i = 0; i < 6; ++i) {
        ASSERT_EQ(book(logged_in_person(), centre).result(), http::status::created);
    }
    c = body_of(call(http::verb::get, "/api/capacity"));
    EXPECT_EQ(c["available"], 0);
    EXPECT_EQ(c["next_available_at"], format_rfc3339((start_of(day) - 86'400) * 1000));
    now_ = start_of(day) - 86'400;
    EXPECT_EQ(body_of(call(http::verb::get, "/api/capacity"))["available"], 6);
}

TEST_F(booking_api, admin_endpoints_need_the_token_or_do_not_exist) {
    EXPECT_EQ(call(http::verb::get, "/api/admin/letters").result(), http::status::unauthorized);
    EXPECT_EQ(call(http::verb::get, "/api/admin/letters", "", "", "wrong").result(), http::status::unauthorized);
    EXPECT_EQ(call(http::verb::get, "/api/admin/letters", "", "", settings_.admin_token).result(), http::status::ok);
    // An admin session from the token (for the admin page).
    auto s = call(http::verb::post, "/api/admin/sessions", json{{"token", settings_.admin_token}}.dump());
    ASSERT_EQ(s.result(), http::status::created);
    EXPECT_EQ(call(http::verb::get, "/api/admin/groups", "", cookie_of(s)).result(), http::status::ok);
    // A person's session is not an admin session.
    centre_with(0);
    const auto person = logged_in_person();
    EXPECT_EQ(call(http::verb::get, "/api/admin/groups", "", person).result(), http::status::unauthorized);
    settings_.admin_token.clear();
    EXPECT_EQ(call(http::verb::get, "/api/admin/letters").result(), http::status::not_found);
}

TEST_F(booking_api, hotline_books_for_a_caller_with_a_letter_and_an_audit_trail) {
    const auto centre = centre_with(1);
    auto agent = call(http::verb::post, "/api/admin/agents", R"({"name":"anna","password":"correct horse battery"})", "",
                      settings_.admin_token);
    ASSERT_EQ(agent.result(), http::status::created) << agent.body();
    EXPECT_EQ(call(http::verb::post, "/api/admin/agents", R"({"name":"bob","password":"short"})", "", settings_.admin_token).result(),
              http::status::bad_request);
    auto s = call(http::verb::post, "/api/agent/sessions", R"({"name":"anna","password":"correct horse battery"})");
    ASSERT_EQ(s.result(), http::status::created);
    const auto agent_cookie_value = cookie_of(s);

    // Registration by phone: the postal address is required.
    EXPECT_EQ(call(http::verb::post, "/api/hotline/registrations",
                   R"({"name":"Oma Else","birth_date":"1935-07-01","priority_group":1})", agent_cookie_value).result(),
              http::status::bad_request);
    auto reg = call(http::verb::post, "/api/hotline/registrations",
                    R"({"name":"Oma Else","birth_date":"1935-07-01","postal_address":"Lindenweg 3\n12345 Musterstadt","priority_group":1})",
                    agent_cookie_value);
    ASSERT_EQ(reg.result(), http::status::created) << reg.body();
    const auto code = body_of(reg)["booking_code"].get<std::string>();
    // Not without an agent session.
    EXPECT_EQ(call(http::verb::post, "/api/hotline/bookings", json{{"booking_code", code}, {"centre", centre}, {"date", format_date(day)}}.dump()).result(),
              http::status::unauthorized);
    auto b = call(http::verb::post, "/api/hotline/bookings",
                  json{{"booking_code", code}, {"centre", centre}, {"date", format_date(day)}}.dump(), agent_cookie_value);
    ASSERT_EQ(b.result(), http::status::created) << b.body();
    EXPECT_EQ(body_of(b)["booking"]["channel"], "hotline");

    auto read = call(http::verb::get, "/api/hotline/registrations/" + code, "", agent_cookie_value);
    ASSERT_EQ(read.result(), http::status::ok);
    EXPECT_EQ(body_of(read)["bookings"].size(), 1u);

    auto letters = body_of(call(http::verb::get, "/api/admin/letters", "", "", settings_.admin_token))["letters"];
    ASSERT_EQ(letters.size(), 1u);
    EXPECT_FALSE(letters[0].contains("name"));  // the list names nobody
    const auto letter_id = letters[0]["id"].get<std::int64_t>();
    const auto reg_id = db_->registration_id_by_code(code).value;
    const auto audits_before = db_->audit_count(reg_id).value;
    auto page = call(http::verb::get, "/api/admin/letters/" + std::to_string(letter_id), "", "", settings_.admin_token);
    ASSERT_EQ(page.result(), http::status::ok);
    EXPECT_NE(page.body().find("Oma Else"), std::string::npos);
    EXPECT_NE(page.body().find("Lindenweg 3<br>12345 Musterstadt"), std::string::npos);
    EXPECT_NE(page.body().find("@media print"), std::string::npos);
    EXPECT_EQ(db_->audit_count(reg_id).value, audits_before + 1);
    EXPECT_EQ(call(http::verb::post, "/api/admin/letters/" + std::to_string(letter_id) + "/printed", "", "", settings_.admin_token).result(),
              http::status::no_content);
    EXPECT_EQ(call(http::verb::post, "/api/admin/letters/" + std::to_string(letter_id) + "/printed", "", "", settings_.admin_token).result(),
              http::status::no_content);  // idempotent
    EXPECT_EQ(call(http::verb::post, "/api/admin/letters/999/printed", "", "", settings_.admin_token).result(),
              http::status::not_found);
    EXPECT_TRUE(body_of(call(http::verb::get, "/api/admin/letters", "", "", settings_.admin_token))["letters"].empty());

    const auto bid = body_of(b)["booking"]["id"].get<std::int64_t>();
    EXPECT_EQ(call(http::verb::delete_, "/api/hotline/bookings/" + std::to_string(bid) + "?booking_code=" + code, "", agent_cookie_value).result(),
              http::status::no_content);
}

TEST_F(booking_api, care_home_reservation_and_release_return_doses_to_the_pool) {
    const auto centre = centre_with(2);  // 12
    auto r = call(http::verb::post, "/api/admin/care-home-reservations",
                  json{{"centre", centre}, {"date", format_date(day)}, {"doses", 10}}.dump(), "", settings_.admin_token);
    ASSERT_EQ(r.result(), http::status::created) << r.body();
    EXPECT_EQ(body_of(call(http::verb::get, "/api/capacity"))["available"], 2);
    const auto id = body_of(r)["id"].get<std::int64_t>();
    ASSERT_EQ(call(http::verb::post, "/api/admin/care-home-reservations/" + std::to_string(id) + "/release", R"({"used":4})", "", settings_.admin_token).result(),
              http::status::ok);
    EXPECT_EQ(body_of(call(http::verb::get, "/api/capacity"))["available"], 8);
    EXPECT_EQ(call(http::verb::post, "/api/admin/care-home-reservations/" + std::to_string(id) + "/release", R"({"used":4})", "", settings_.admin_token).result(),
              http::status::conflict);
    EXPECT_EQ(call(http::verb::post, "/api/admin/care-home-reservations",
                   json{{"centre", 999}, {"date", format_date(day)}, {"doses", 1}}.dump(), "", settings_.admin_token).result(),
              http::status::not_found);
    EXPECT_EQ(body_of(call(http::verb::post, "/api/admin/care-home-reservations",
                           json{{"centre", centre}, {"date", format_date(day - 20)}, {"doses", 1}}.dump(), "", settings_.admin_token))["code"],
              "day_past");
}

TEST_F(booking_api, retention_deletes_and_reports_counts_only) {
    centre_with(0);
    (void)logged_in_person();
    now_ = start_now + 200 * seconds_per_day;  // past six months
    auto r = call(http::verb::post, "/api/admin/retention", "", "", settings_.admin_token);
    ASSERT_EQ(r.result(), http::status::ok);
    EXPECT_EQ(body_of(r)["unbooked_deleted"], 1);
    EXPECT_EQ(db_->registration_count().value, 0);
    EXPECT_EQ(r.body().find("Erika"), std::string::npos);
}

}  // namespace
}  // namespace anteroom::booking

namespace anteroom::booking {
namespace {

TEST_F(booking_api, a_past_appointment_is_history_and_cannot_be_cancelled) {
    const auto centre = centre_with(1);
    const auto cookie = logged_in_person();
    auto b = book(cookie, centre);
    ASSERT_EQ(b.result(), http::status::created);
    now_ = start_of(day + 1);
    const auto id = body_of(b)["booking"]["id"].get<std::int64_t>();
    const auto reg = db_->bookings_of(1).value;
    ASSERT_EQ(reg.size(), 1u);
    EXPECT_EQ(db_->cancel(reg[0].registration_id, id, now_).error, store_error::day_past);
    EXPECT_EQ(db_->bookings_of(1).value.size(), 1u);
}

}  // namespace
}  // namespace anteroom::booking
