// The admin endpoints as a plain function of a request: no listener, hooks instead of a server.

#include "proxy/admin.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace anteroom::proxy {
namespace {

const std::string token = "0123456789abcdef-admin";

class admin : public ::testing::Test {
protected:
    void SetUp() override {
        auto r = parse_config("[[upstream]]\nname = \"shop\"\nservers = [\"127.0.0.1:8001\", \"127.0.0.1:8002\"]\n"
                              "[[route]]\nprefix = \"/\"\nupstream = \"shop\"\n",
                              "admin.toml");
        ASSERT_TRUE(r.errors.empty()) << r.errors.front().text();
        std::string err;
        rt = build_runtime(r.cfg, {}, states, metrics, std::nullopt, nullptr, err);
        ASSERT_TRUE(rt) << err;
        console = std::make_shared<admin_console>(metrics);
        handler = make_admin_handler(admin_hooks{
            [this] { return metrics.render(); },
            [this] { return ready; },
            [this] {
                auto list = std::make_shared<token_list>();
                if (!configured_token.empty()) {
                    list->push_back({"admin", configured_token});
                    list->push_back({"ops-anna", anna_token});
                }
                return std::shared_ptr<const token_list>(list);
            },
            [this](std::string& err) {
                ++reloads;
                err = reload_error;
                return reload_error.empty();
            },
            [this] { return rt; },
            [this] { return nlohmann::json::array({room}); },
            [this](std::string_view id, const nlohmann::json& patch, std::string& err, bool& not_found) {
                not_found = id != "portal";
                if (not_found || !patch.contains("new_users_per_minute")) {
                    err = not_found ? "no such room" : "only the rate in this test";
                    return false;
                }
                room["new_users_per_minute"] = patch["new_users_per_minute"];
                return true;
            },
            [this] { return bots; },
            [this](bool on) { bots.effective = on; },
        }, console);
    }

    simple_response call(http::verb method, const std::string& target, const std::string& auth = "",
                         const std::string& body = "", const std::string& cookie = "", bool console_header = false) {
        simple_request req{method, target, 11};
        if (!auth.empty()) {
            req.set(http::field::authorization, auth);
        }
        if (!cookie.empty()) {
            req.set(http::field::cookie, cookie);
        }
        if (console_header) {
            req.set("X-Anteroom-Console", "1");
        }
        req.body() = body;
        req.prepare_payload();
        return handler(req, tcp::endpoint{});
    }

    // Signs in as the console page does; the cookie to send back ("" when refused).
    std::string sign_in(const std::string& token_value) {
        const auto res = call(http::verb::post, "/admin/login", "", "token=" + token_value);
        if (res.result_int() != 303) {
            return "";
        }
        const std::string set = std::string(res[http::field::set_cookie]);
        return set.substr(0, set.find(';'));
    }

    metrics_registry metrics;
    server_state_registry states;
    std::shared_ptr<const runtime> rt;
    simple_handler handler;
    bool ready = true;
    std::string configured_token = token;
    std::string anna_token = "anna-0123456789abcdef";
    nlohmann::json room = {{"id", "portal"}, {"mode", "fifo"}, {"new_users_per_minute", 600}, {"max_active_users", 100}};
    bot_service::dry_run_state bots{true, false, false};
    std::shared_ptr<admin_console> console;
    std::string reload_error;
    int reloads = 0;
};

TEST_F(admin, metrics_include_registry_and_upstream_health) {
    rt->upstreams[0]->servers[1]->on_failure(std::chrono::steady_clock::now(), 1, std::chrono::hours(1));
    server_state::in_flight busy(rt->upstreams[0]->servers[0].get());
    const auto res = call(http::verb::get, "/metrics?x=1");
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_EQ(res[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
    const auto& b = res.body();
    EXPECT_NE(b.find("anteroom_requests_total{route=\"/\",class=\"2xx\"} 0\n"), std::string::npos) << b;
    EXPECT_NE(b.find("anteroom_upstream_server_up{upstream=\"shop\",server=\"127.0.0.1:8001\"} 1\n"),
              std::string::npos);
    EXPECT_NE(b.find("anteroom_upstream_server_up{upstream=\"shop\",server=\"127.0.0.1:8002\"} 0\n"),
              std::string::npos);
    EXPECT_NE(b.find("anteroom_upstream_outstanding{upstream=\"shop\",server=\"127.0.0.1:8001\"} 1\n"),
              std::string::npos);
}

TEST_F(admin, health_and_readiness_need_no_token) {
    EXPECT_EQ(call(http::verb::get, "/healthz").result_int(), 200);
    EXPECT_EQ(call(http::verb::head, "/healthz").result_int(), 200);
    EXPECT_EQ(call(http::verb::get, "/readyz").result_int(), 200);
    ready = false;
    EXPECT_EQ(call(http::verb::get, "/readyz").result_int(), 503);
    EXPECT_EQ(call(http::verb::get, "/nope").result_int(), 404);
}

TEST_F(admin, admin_api_is_off_without_a_token_file) {
    configured_token.clear();
    EXPECT_EQ(call(http::verb::post, "/admin/reload", "Bearer ").result_int(), 403);
    EXPECT_EQ(reloads, 0);
}

TEST_F(admin, admin_api_needs_the_exact_bearer_token) {
    const std::vector<std::string> wrong{"",    "Bearer wrong",       "Bearer " + token + "x",        "Basic " + token,
                                         token, "Bearer  " + token, "Bearer " + token.substr(1)};
    for (const auto& auth : wrong) {
        const auto res = call(http::verb::post, "/admin/reload", auth);
        EXPECT_EQ(res.result_int(), 401) << auth;
        EXPECT_EQ(res[http::field::www_authenticate], "Bearer realm=\"anteroom-admin\"");
    }
    EXPECT_EQ(reloads, 0);
    EXPECT_EQ(call(http::verb::post, "/admin/reload", "Bearer " + token).result_int(), 200);
    EXPECT_EQ(call(http::verb::post, "/admin/reload", "bearer " + token).result_int(), 200);  // scheme: any case
    EXPECT_EQ(reloads, 2);
}

TEST_F(admin, reload_is_post_only_and_reports_errors) {
    const auto auth = "Bearer " + token;
    const auto get = call(http::verb::get, "/admin/reload", auth);
    EXPECT_EQ(get.result_int(), 405);
    EXPECT_EQ(get[http::field::allow], "POST");
    EXPECT_EQ(reloads, 0);
    reload_error = "admin.toml:3: server.threads: out of range\n";
    const auto bad = call(http::verb::post, "/admin/reload", auth);
    EXPECT_EQ(bad.result_int(), 422);
    const auto j = nlohmann::json::parse(bad.body());
    EXPECT_EQ(j.at("reloaded"), false);
    EXPECT_EQ(j.at("errors"), reload_error);
}

TEST_F(admin, upstreams_lists_every_server_with_its_state) {
    rt->upstreams[0]->servers[0]->on_failure(std::chrono::steady_clock::now(), 5, std::chrono::hours(1));
    const auto res = call(http::verb::get, "/admin/upstreams", "Bearer " + token);
    ASSERT_EQ(res.result_int(), 200);
    const auto j = nlohmann::json::parse(res.body());
    ASSERT_EQ(j.size(), 1u);
    EXPECT_EQ(j[0].at("name"), "shop");
    ASSERT_EQ(j[0].at("servers").size(), 2u);
    EXPECT_EQ(j[0]["servers"][0].at("address"), "127.0.0.1:8001");
    EXPECT_EQ(j[0]["servers"][0].at("up"), true);
    EXPECT_EQ(j[0]["servers"][0].at("consecutive_failures"), 1);
    EXPECT_EQ(call(http::verb::get, "/admin/other", "Bearer " + token).result_int(), 404);
}

TEST(admin_token, comparison) {
    const token_list tokens{{"admin", "abc"}, {"ops", "xyz"}};
    EXPECT_EQ(bearer_token_name("Bearer abc", tokens), "admin");
    EXPECT_EQ(bearer_token_name("BEARER xyz", tokens), "ops");
    EXPECT_FALSE(bearer_token_name("Bearer abd", tokens));
    EXPECT_FALSE(bearer_token_name("Bearer ", tokens));
    EXPECT_FALSE(bearer_token_name("", tokens));
    EXPECT_FALSE(bearer_token_name("Bearerxabc", tokens));
    EXPECT_FALSE(bearer_token_name("Bearer abc", {}));
}

TEST_F(admin, console_page_asks_for_a_token_and_a_session_opens_it) {
    const auto anonymous = call(http::verb::get, "/admin/");
    EXPECT_EQ(anonymous.result_int(), 401);
    EXPECT_NE(anonymous.body().find("<form"), std::string::npos);
    EXPECT_NE(anonymous["Content-Security-Policy"].find("script-src 'self'"), std::string::npos);
    EXPECT_EQ(anonymous.body().find("{{"), std::string::npos);  // every placeholder filled

    const auto wrong = call(http::verb::post, "/admin/login", "", "token=wrong-0123456789abcdef");
    EXPECT_EQ(wrong.result_int(), 401);
    EXPECT_TRUE(wrong[http::field::set_cookie].empty());
    EXPECT_NE(wrong.body().find("Falsches Token"), std::string::npos);

    const auto login = call(http::verb::post, "/admin/login", "", "token=" + anna_token);
    ASSERT_EQ(login.result_int(), 303);
    EXPECT_EQ(login[http::field::location], "/admin/");
    const std::string set = std::string(login[http::field::set_cookie]);
    EXPECT_NE(set.find("HttpOnly"), std::string::npos);
    EXPECT_NE(set.find("SameSite=Strict"), std::string::npos);
    EXPECT_NE(set.find("Path=/admin"), std::string::npos);
    const std::string cookie = set.substr(0, set.find(';'));

    const auto page = call(http::verb::get, "/admin/", "", "", cookie);
    EXPECT_EQ(page.result_int(), 200);
    EXPECT_NE(page.body().find("/admin/static/console.js"), std::string::npos);
    EXPECT_EQ(page.body().find("{{"), std::string::npos);
    EXPECT_EQ(call(http::verb::get, "/admin/static/console.js").result_int(), 200);
    EXPECT_EQ(call(http::verb::get, "/admin/static/other.js").result_int(), 404);

    // The cookie opens the API as the token's name; a forged one does not.
    const auto live = call(http::verb::get, "/admin/api/live?since=0", "", "", cookie);
    ASSERT_EQ(live.result_int(), 200);
    EXPECT_EQ(nlohmann::json::parse(live.body()).at("who"), "ops-anna");
    EXPECT_EQ(call(http::verb::get, "/admin/api/live", "", "", cookie + "x").result_int(), 401);

    const auto out = call(http::verb::post, "/admin/logout", "", "", cookie, true);
    EXPECT_EQ(out.result_int(), 303);
    EXPECT_NE(std::string(out[http::field::set_cookie]).find("Max-Age=0"), std::string::npos);
}

TEST_F(admin, a_session_ends_when_its_token_is_removed) {
    const auto cookie = sign_in(anna_token);
    ASSERT_FALSE(cookie.empty());
    EXPECT_EQ(call(http::verb::get, "/admin/api/audit", "", "", cookie).result_int(), 200);
    anna_token = "anna-rotated-0123456789";  // the token file changed and was reloaded
    EXPECT_EQ(call(http::verb::get, "/admin/api/audit", "", "", cookie).result_int(), 401);
}

TEST_F(admin, console_changes_need_the_console_header_and_are_audited_with_the_token_name) {
    const auto cookie = sign_in(anna_token);
    ASSERT_FALSE(cookie.empty());
    const std::string body = R"({"new_users_per_minute": 900})";
    // As a cross-site form would send it: the cookie but not the header.
    EXPECT_EQ(call(http::verb::patch, "/admin/rooms/portal", "", body, cookie).result_int(), 403);
    EXPECT_EQ(room["new_users_per_minute"], 600);

    const auto ok = call(http::verb::patch, "/admin/rooms/portal", "", body, cookie, true);
    ASSERT_EQ(ok.result_int(), 200) << ok.body();
    EXPECT_EQ(nlohmann::json::parse(ok.body()).at("new_users_per_minute"), 900);
    // The bearer token needs no header (no browser sends it on its own).
    EXPECT_EQ(call(http::verb::patch, "/admin/rooms/portal", "Bearer " + token, R"({"new_users_per_minute": 1200})")
                  .result_int(), 200);
    EXPECT_EQ(call(http::verb::patch, "/admin/rooms/portal", "Bearer " + token, R"({"mode": "paused"})").result_int(), 422);

    const auto audit = nlohmann::json::parse(call(http::verb::get, "/admin/api/audit", "Bearer " + token).body());
    ASSERT_EQ(audit.size(), 2u);  // refused changes are not changes
    EXPECT_EQ(audit[0]["who"], "admin");
    EXPECT_EQ(audit[0]["via"], "api");
    EXPECT_EQ(audit[0]["what"], "room portal: new_users_per_minute 900 -> 1200");
    EXPECT_EQ(audit[1]["who"], "ops-anna");
    EXPECT_EQ(audit[1]["via"], "console");
    EXPECT_EQ(audit[1]["what"], "room portal: new_users_per_minute 600 -> 900");
    EXPECT_NE(metrics.render().find("anteroom_admin_changes_total{via=\"console\"} 1\n"), std::string::npos);
}

TEST_F(admin, bot_detection_dry_run_switch) {
    const auto auth = "Bearer " + token;
    EXPECT_EQ(call(http::verb::post, "/admin/api/bot-detect", auth, R"({"dry_run": "yes"})").result_int(), 422);
    const auto on = call(http::verb::post, "/admin/api/bot-detect", auth, R"({"dry_run": true})");
    ASSERT_EQ(on.result_int(), 200);
    EXPECT_EQ(nlohmann::json::parse(on.body()).at("dry_run"), true);
    EXPECT_TRUE(bots.effective);
    EXPECT_EQ(nlohmann::json::parse(call(http::verb::get, "/admin/api/audit", auth).body())[0]["what"],
              "bot detection dry_run false -> true");
    bots.enabled = false;
    EXPECT_EQ(call(http::verb::post, "/admin/api/bot-detect", auth, R"({"dry_run": false})").result_int(), 409);
    EXPECT_EQ(call(http::verb::get, "/admin/api/bot-detect", auth).result_int(), 405);
}

TEST_F(admin, live_figures_come_from_the_sampled_metrics) {
    console->sample(1'800'000'000'000, "anteroom_room_waiting{room=\"portal\"} 12\n");
    console->sample(1'800'000'001'000, "anteroom_room_waiting{room=\"portal\"} 15\n");
    const auto auth = "Bearer " + token;
    auto j = nlohmann::json::parse(call(http::verb::get, "/admin/api/live?since=0", auth).body());
    ASSERT_EQ(j.at("samples").size(), 2u);
    EXPECT_EQ(j["samples"][1]["rooms"]["portal"]["waiting"], 15);
    EXPECT_EQ(j.at("rooms")[0].at("id"), "portal");
    EXPECT_EQ(j.at("bot_detect").at("enabled"), true);
    EXPECT_EQ(j.at("step_ms"), 1000);
    j = nlohmann::json::parse(call(http::verb::get, "/admin/api/live?since=1800000000000", auth).body());
    EXPECT_EQ(j.at("samples").size(), 1u);
    EXPECT_EQ(call(http::verb::get, "/admin/api/live?since=yesterday", auth).result_int(), 400);
}

TEST(bot_service, a_live_dry_run_switch_holds_across_reloads_until_the_config_changes_its_own_value) {
    metrics_registry m;
    bot_service svc(m);
    const auto keys = make_ephemeral_key_ring();
    const std::string base = "[[upstream]]\nname = \"a\"\nservers = [\"127.0.0.1:8001\"]\n"
                             "[[route]]\nprefix = \"/\"\nupstream = \"a\"\n[bot_detect]\nenabled = true\n";
    const auto off = parse_config(base, "off.toml");
    const auto on = parse_config(base + "dry_run = true\n", "on.toml");
    ASSERT_TRUE(off.errors.empty() && on.errors.empty());
    EXPECT_TRUE(svc.prepare(off.cfg, keys).head);
    EXPECT_FALSE(svc.dry_run().effective);
    svc.set_dry_run(true);
    EXPECT_TRUE(svc.dry_run().effective);
    EXPECT_FALSE(svc.dry_run().config);
    svc.prepare(off.cfg, keys);  // a reload that leaves dry_run as it was
    EXPECT_TRUE(svc.dry_run().effective);
    svc.set_dry_run(false);
    svc.prepare(on.cfg, keys);  // the config's own value changed: it rules again
    EXPECT_TRUE(svc.dry_run().effective);
    EXPECT_TRUE(svc.dry_run().config);
    EXPECT_EQ(m.render().find("anteroom_bot_dry_run 0"), std::string::npos);
}

}  // namespace
}  // namespace anteroom::proxy
