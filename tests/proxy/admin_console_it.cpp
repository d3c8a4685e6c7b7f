// The operations console over real sockets: signing in on the admin listener and using the
// session cookie, the 1 s sampler feeding /admin/api/live with what /metrics says, control
// changes under the token's name in <state_dir>/admin-audit.log (read back after a restart),
// and the bot detection dry-run switch acting on the next request at once. The page itself is
// driven in headless Chromium by tests/e2e/console_browser.py; the handler's rules without
// sockets are in tests/proxy/admin_test.cpp.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "common/keyfile.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/harness.hpp"

namespace anteroom::test {
namespace {

namespace fs = std::filesystem;
using response = http::response<http::string_body>;

const std::string anna_token = "anna-0123456789abcdef-token";
const std::string ben_token = "ben-0123456789abcdef-token";

class admin_console_it : public ::testing::Test {
protected:
    admin_console_it() : dir_(make_temp_dir("anteroom-console")) {
        std::ofstream(file("admin.token")) << "# launch day\nops-anna " << anna_token << "\nops-ben " << ben_token << "\n";
        std::string err;
        EXPECT_TRUE(write_new_keyfile(file("keys.toml"), false, err)) << err;
    }
    ~admin_console_it() override {
        px_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    std::string file(const std::string& name) const { return (fs::path(dir_) / name).string(); }

    void start(const std::string& extra = "") {
        px_.reset();
        px_ = std::make_unique<proxy_under_test>(
            "state_dir = \"" + file("state") + "\"\n" + upstream_block("[\"" + up_.address() + "\"]") +
            "\n[admission]\nkey_file = \"" + file("keys.toml") + "\"\n" + "\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"" +
            file("admin.token") + "\"\n\n[[room]]\nid = \"portal\"\npaths = [\"/book\"]\nmode = \"paused\"\n" + extra);
    }

    // One request to the admin listener; `auth` is a whole header line or "".
    std::optional<response> admin(const std::string& method, const std::string& target, const std::string& auth,
                                  const std::string& body = "", const std::string& type = "application/json") {
        raw_client c(px_->admin_port());
        c.send(method + " " + target + " HTTP/1.1\r\nHost: admin\r\n" + auth + "Content-Type: " + type +
               "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
        return c.read_response();
    }
    static std::string bearer(const std::string& token) { return "Authorization: Bearer " + token + "\r\n"; }

    fake_upstream up_;
    std::string dir_;
    std::unique_ptr<proxy_under_test> px_;
};

TEST_F(admin_console_it, sign_in_and_the_live_figures_match_the_metrics) {
    start();
    // Three visitors wait in the paused room.
    for (int i = 0; i < 3; ++i) {
        const auto r = get(px_->port(), "/book", "Accept: application/json\r\n");
        ASSERT_TRUE(r);
        ASSERT_EQ(r->result_int(), 200);
    }
    const auto page = admin("GET", "/admin/", "");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->result_int(), 401);
    EXPECT_NE(page->body().find("name=\"token\""), std::string::npos);

    const auto wrong = admin("POST", "/admin/login", "", "token=" + ben_token + "x", "application/x-www-form-urlencoded");
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->result_int(), 401);
    const auto login = admin("POST", "/admin/login", "", "token=" + ben_token, "application/x-www-form-urlencoded");
    ASSERT_TRUE(login);
    ASSERT_EQ(login->result_int(), 303);
    const auto cookie = set_cookie_value(*login, "anteroom_console");
    ASSERT_TRUE(cookie && !cookie->empty());
    const std::string session = "Cookie: anteroom_console=" + *cookie + "\r\n";
    const auto dash = admin("GET", "/admin/", session);
    ASSERT_TRUE(dash);
    EXPECT_EQ(dash->result_int(), 200);
    EXPECT_NE(dash->body().find("console.js"), std::string::npos);

    // The sampler runs every second on the control thread: wait for a sample that shows the line.
    nlohmann::json live;
    ASSERT_TRUE(eventually(
        [&] {
            const auto r = admin("GET", "/admin/api/live?since=0", session);
            if (!r || r->result_int() != 200) {
                return false;
            }
            live = nlohmann::json::parse(r->body());
            const auto& s = live["samples"];
            return !s.empty() && s.back()["rooms"].contains("portal") && s.back()["rooms"]["portal"]["waiting"] == 3;
        },
        std::chrono::seconds(5)))
        << live.dump();
    EXPECT_EQ(live["who"], "ops-ben");
    const std::string metrics = scrape_metrics(px_->admin_port());
    EXPECT_EQ(metric_value(metrics, "anteroom_room_waiting{room=\"portal\"}"), 3);
    EXPECT_EQ(live["samples"].back()["rooms"]["portal"]["new_users_per_minute"],
              metric_value(metrics, "anteroom_room_new_users_per_minute{room=\"portal\"}").value_or(-1));
    EXPECT_EQ(live["rooms"][0]["mode"], "paused");
    // Only newer samples on the next poll.
    const std::int64_t last = live["samples"].back()["t"];
    const auto next = admin("GET", "/admin/api/live?since=" + std::to_string(last), session);
    ASSERT_TRUE(next);
    const auto newer = nlohmann::json::parse(next->body());
    for (const auto& s : newer["samples"]) {
        EXPECT_GT(s["t"].get<std::int64_t>(), last);
    }
}

TEST_F(admin_console_it, changes_are_audited_under_the_token_name_and_survive_a_restart) {
    start();
    // A console session needs the header to change anything; the bearer token does not.
    const auto login = admin("POST", "/admin/login", "", "token=" + anna_token, "application/x-www-form-urlencoded");
    ASSERT_TRUE(login);
    const std::string session = "Cookie: anteroom_console=" + set_cookie_value(*login, "anteroom_console").value_or("") + "\r\n";
    auto r = admin("POST", "/admin/rooms/portal/resume", session, "{}");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 403);
    r = admin("POST", "/admin/rooms/portal/resume", session + "X-Anteroom-Console: 1\r\n", "{}");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 200) << r->body();
    r = admin("PATCH", "/admin/rooms/portal", bearer(ben_token), R"({"new_users_per_minute": 90})");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 200);
    EXPECT_EQ(metric_value(scrape_metrics(px_->admin_port()), "anteroom_room_new_users_per_minute{room=\"portal\"}"), 90);

    std::ifstream in(file("state") + "/admin-audit.log");
    std::vector<nlohmann::json> lines;
    for (std::string line; std::getline(in, line);) {
        lines.push_back(nlohmann::json::parse(line));
    }
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0]["who"], "ops-anna");
    EXPECT_EQ(lines[0]["via"], "console");
    EXPECT_EQ(lines[0]["what"], "room portal: mode paused -> fifo");
    EXPECT_EQ(lines[1]["who"], "ops-ben");
    EXPECT_EQ(lines[1]["via"], "api");
    EXPECT_EQ(lines[1]["what"], "room portal: new_users_per_minute 60 -> 90");

    // A restart shows the earlier changes on the page; the old session is gone (new key).
    start();
    const auto audit = admin("GET", "/admin/api/audit", bearer(anna_token));
    ASSERT_TRUE(audit);
    const auto j = nlohmann::json::parse(audit->body());
    ASSERT_EQ(j.size(), 2u);
    EXPECT_EQ(j[0]["who"], "ops-ben");
    const auto stale = admin("GET", "/admin/api/audit", session);
    ASSERT_TRUE(stale);
    EXPECT_EQ(stale->result_int(), 401);
}

TEST_F(admin_console_it, the_dry_run_switch_acts_on_the_next_request) {
    start("\n[bot_detect]\nenabled = true\naction_header = true\n");
    const std::string tool = "User-Agent: curl/8.5.0\r\n";
    auto r = get(px_->port(), "/other", tool);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 403);

    auto sw = admin("POST", "/admin/api/bot-detect", bearer(anna_token), R"({"dry_run": true})");
    ASSERT_TRUE(sw);
    ASSERT_EQ(sw->result_int(), 200) << sw->body();
    EXPECT_EQ(nlohmann::json::parse(sw->body())["dry_run_config"], false);
    r = get(px_->port(), "/other", tool);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 200);
    EXPECT_EQ(metric_value(scrape_metrics(px_->admin_port()), "anteroom_bot_dry_run"), 1);

    sw = admin("POST", "/admin/api/bot-detect", bearer(anna_token), R"({"dry_run": false})");
    ASSERT_TRUE(sw);
    ASSERT_EQ(sw->result_int(), 200);
    r = get(px_->port(), "/other", tool);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 403);
}

TEST_F(admin_console_it, the_switch_is_refused_when_bot_detection_is_off) {
    start();
    const auto sw = admin("POST", "/admin/api/bot-detect", bearer(anna_token), R"({"dry_run": true})");
    ASSERT_TRUE(sw);
    EXPECT_EQ(sw->result_int(), 409);
    EXPECT_NE(sw->body().find("bot detection is off"), std::string::npos);
}

}  // namespace
}  // namespace anteroom::test
