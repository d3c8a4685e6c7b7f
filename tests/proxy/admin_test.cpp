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
        handler = make_admin_handler(admin_hooks{
            [this] { return metrics.render(); },
            [this] { return ready; },
            [this] { return configured_token; },
            [this](std::string& err) {
                ++reloads;
                err = reload_error;
                return reload_error.empty();
            },
            [this] { return rt; },
            {},  // no rooms: tests/admission/admission_it.cpp covers the rooms API
            {},
        });
    }

    simple_response call(http::verb method, const std::string& target, const std::string& auth = "") {
        simple_request req{method, target, 11};
        if (!auth.empty()) {
            req.set(http::field::authorization, auth);
        }
        return handler(req, tcp::endpoint{});
    }

    metrics_registry metrics;
    server_state_registry states;
    std::shared_ptr<const runtime> rt;
    simple_handler handler;
    bool ready = true;
    std::string configured_token = token;
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
    EXPECT_TRUE(token_matches("Bearer abc", "abc"));
    EXPECT_TRUE(token_matches("BEARER abc", "abc"));
    EXPECT_FALSE(token_matches("Bearer abd", "abc"));
    EXPECT_FALSE(token_matches("Bearer ", ""));  // an empty token never matches
    EXPECT_FALSE(token_matches("", ""));
    EXPECT_FALSE(token_matches("Bearerxabc", "abc"));
}

}  // namespace
}  // namespace anteroom::proxy
