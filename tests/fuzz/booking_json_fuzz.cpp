// Fuzz target: the booking backend's JSON API (booking/api.cpp) through dispatch(), as the
// service's SQLite workers run it: route match, session from cookie or bearer token, same-origin
// check, the JSON body readers and validation, and the store on an in-memory SQLite database.
//
// Input (text, so seeds are readable):
//   line 1   "METHOD /target"            e.g. "POST /api/bookings"
//   line 2   who is asking: "-" nobody, "p" the person (cookie), "a" the admin (bearer token),
//            "g" a hotline agent (cookie)
//   rest     the request body
//
// The fixture (a centre with a delivery, an open group, a registered person, an agent) is set
// up through the same API and the store. The database is reopened every `reopen_every` inputs
// so it stays small; a finding is replayed on a fresh fixture (anteroom_fuzz_replay runs its
// inputs in order, which also reproduces findings that need a state made by earlier inputs).
//
// Property: every answer is a status with a JSON body (an error is {"code","message"}), or no
// body (204); no handler throws.

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "booking/web.hpp"
#include "tests/fuzz/fuzz_target.hpp"

namespace {

using namespace anteroom;
using namespace anteroom::booking;

const day_number day = make_day(2027, 3, 15);  // a Monday
const unix_seconds now = start_of(day) - 10 * seconds_per_day;
constexpr int reopen_every = 2000;
constexpr std::string_view admin_token = "admin-secret-token-fuzz";

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

struct fixture {
    web_settings settings;
    std::unique_ptr<store> db;
    std::string person_cookie_value;
    std::string agent_cookie_value;
    int runs = 0;
};

simple_response call(fixture& fx, http::verb method, std::string_view target, std::string body,
                     std::string_view auth) {
    simple_request req{method, target, 11};
    req.set(http::field::host, "portal.example");
    req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
    if (auth == "p") {
        req.set(http::field::cookie, std::string(person_cookie) + "=" + fx.person_cookie_value);
    } else if (auth == "g") {
        req.set(http::field::cookie, std::string(agent_cookie) + "=" + fx.agent_cookie_value);
    } else if (auth == "a") {
        req.set(http::field::authorization, "Bearer " + std::string(admin_token));
    }
    return dispatch(api_routes(), req, *fx.db, fx.settings);
}

void expect_status(const simple_response& r, http::status want) {
    check(r.result() == want);
}

void open_fixture(fixture& fx) {
    fx.db.reset();
    store_options options;
    options.pin_iterations = 1000;  // the test setting: a registration costs microseconds, not 0.1 s
    auto s = store::open(":memory:", options);
    check(s.ok());
    fx.db = std::move(s.value);
    fx.settings.admin_token = std::string(admin_token);
    fx.settings.clock = [] { return now; };

    expect_status(call(fx, http::verb::post, "/api/admin/centres",
                       R"({"name":"Messe","opens":"08:00","closes":"18:00","slot_minutes":10})", "a"),
                  http::status::created);
    expect_status(call(fx, http::verb::put, "/api/admin/groups/1", R"({"open":true})", "a"), http::status::ok);
    expect_status(call(fx, http::verb::post, "/api/admin/deliveries",
                       R"({"centre":1,"date":"2027-03-15","vials":2})", "a"),
                  http::status::created);
    const auto reg = call(fx, http::verb::post, "/api/registrations",
                          R"({"name":"Erika Mustermann","birth_date":"1950-01-02","contact":"erika@example.org","priority_group":1})",
                          "-");
    expect_status(reg, http::status::created);
    const auto code = nlohmann::json::parse(reg.body(), nullptr, false)["booking_code"].get<std::string>();
    const auto id = fx.db->registration_id_by_code(code);
    check(id.ok());
    auto person = fx.db->create_session(session_kind::person, id.value, now + 3600);
    check(person.ok());
    fx.person_cookie_value = person.value;
    auto agent = fx.db->create_agent("agent1", "agent-password-1", now);
    check(agent.ok());
    auto agent_session = fx.db->create_session(session_kind::agent, agent.value, now + 3600);
    check(agent_session.ok());
    fx.agent_cookie_value = agent_session.value;
}

fixture& the_fixture() {
    static fixture fx;
    if (fx.db == nullptr || fx.runs >= reopen_every) {
        open_fixture(fx);
        fx.runs = 0;
    }
    ++fx.runs;
    return fx;
}

}  // namespace

ANTEROOM_FUZZ_TARGET(booking_json) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto line1 = in.substr(0, in.find('\n'));
    in.remove_prefix(std::min(in.size(), line1.size() + 1));
    const auto line2 = in.substr(0, in.find('\n'));
    in.remove_prefix(std::min(in.size(), line2.size() + 1));

    const auto space = line1.find(' ');
    if (space == std::string_view::npos) {
        return 0;
    }
    const auto method = http::string_to_verb(line1.substr(0, space));
    const auto target = line1.substr(space + 1);
    if (method == http::verb::unknown || !target.starts_with("/api/")) {
        return 0;
    }
    for (const char c : target) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
            return 0;  // Beast's parser refuses such a target before the service sees it
        }
    }
    fixture& fx = the_fixture();
    const auto r = call(fx, method, target, std::string(in), line2);
    if (!r.body().empty()) {
        const auto j = nlohmann::json::parse(r.body(), nullptr, false);
        check(!j.is_discarded());
        if (r.result_int() >= 400 && j.is_object()) {
            check(j.contains("code") && j.contains("message"));
        }
    }
    return 0;
}
