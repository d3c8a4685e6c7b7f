// [admission] and [[room]] (common/config_room.cpp); the rest of the schema is in config_test.cpp.

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "tests/common/config_test_support.hpp"

namespace anteroom {
namespace {

using namespace std::chrono_literals;

using config_test::secret_files;
using config_test::expect_valid;
using config_test::only_error;
using config_test::parse;
using config_test::texts;

// A room with the given extra lines; line 1 is [[room]], line 2 the id, line 3 the paths.
std::string room(const std::string& extra, const std::string& paths = "[\"/book\"]") {
    return "[[room]]\nid = \"book\"\npaths = " + paths + "\n" + extra;
}

// The message of the one error a room snippet produces.
std::string room_error(const std::string& extra, const std::string& paths = "[\"/book\"]") {
    return only_error(parse(room(extra, paths))).message;
}

// ---- [admission] -----------------------------------------------------------------------------

TEST(config_admission, defaults) {
    const auto r = parse("");
    expect_valid(r);
    const admission_config& a = r.cfg->admission;
    EXPECT_EQ(a.key_file, "");
    EXPECT_TRUE(a.bind_ip);
    EXPECT_EQ(a.bind_v4_prefix, 24u);
    EXPECT_EQ(a.bind_v6_prefix, 64u);
    EXPECT_FALSE(a.bind_user_agent);
    EXPECT_EQ(a.agent_header, "Anteroom-Agent");
    EXPECT_EQ(a.agent_token_file, "");
    EXPECT_EQ(a.snapshot_interval, 1s);
    EXPECT_FALSE(a.cookie_secure);
    EXPECT_TRUE(r.cfg->rooms.empty());
}

TEST(config_admission, every_key) {
    const secret_files secrets;
    const auto r = parse(secrets.in(R"([admission]
key_file = "/etc/anteroom/keys.toml"
bind_ip = false
bind_v4_prefix = 16
bind_v6_prefix = 48
bind_user_agent = true
agent_header = "X-Hotline"
agent_token_file = "/etc/anteroom/agent.token"
snapshot_interval = "500ms"
cookie_secure = true
)"));
    expect_valid(r);
    const admission_config& a = r.cfg->admission;
    EXPECT_EQ(a.key_file, secrets.path("keys.toml"));
    EXPECT_FALSE(a.bind_ip);
    EXPECT_EQ(a.bind_v4_prefix, 16u);
    EXPECT_EQ(a.bind_v6_prefix, 48u);
    EXPECT_TRUE(a.bind_user_agent);
    EXPECT_EQ(a.agent_header, "X-Hotline");
    EXPECT_EQ(a.agent_token_file, secrets.path("agent.token"));
    EXPECT_EQ(a.snapshot_interval, 500ms);
    EXPECT_TRUE(a.cookie_secure);
}

TEST(config_admission, rules) {
    EXPECT_EQ(only_error(parse("[admission]\nbind_v4_prefix = 33\n")).text(),
              "test.toml:2: admission.bind_v4_prefix: must be between 0 and 32, got 33");
    EXPECT_EQ(only_error(parse("[admission]\nbind_v6_prefix = 129\n")).message, "must be between 0 and 128, got 129");
    EXPECT_EQ(only_error(parse("[admission]\nsnapshot_interval = \"50ms\"\n")).message,
              "must be between 100ms and 1m, got 50ms");
    EXPECT_EQ(only_error(parse("[admission]\nagent_header = \"X Agent\"\n")).message,
              "must be a header name of 1 to 64 token characters, got \"X Agent\"");
    EXPECT_EQ(only_error(parse("[admission]\nagent_header = \"\"\n")).key, "admission.agent_header");
    const auto e = only_error(parse("[admission]\nkeyfile = \"x\"\n"));
    EXPECT_EQ(e.text(), "test.toml:2: admission.keyfile: unknown key; allowed keys: key_file, bind_ip, "
                        "bind_v4_prefix, bind_v6_prefix, bind_user_agent, agent_header, agent_token_file, "
                        "snapshot_interval, cookie_secure");
}

// ---- [[room]]: values --------------------------------------------------------------------------

TEST(config_room, defaults) {
    const auto r = parse(room(""));
    expect_valid(r);
    ASSERT_EQ(r.cfg->rooms.size(), 1u);
    const room_config& c = r.cfg->rooms[0];
    EXPECT_EQ(c.id, "book");
    EXPECT_EQ(c.paths, (std::vector<std::string>{"/book"}));
    EXPECT_TRUE(c.exclude.empty());
    EXPECT_TRUE(c.case_insensitive);
    EXPECT_EQ(c.mode, room_mode::fifo);
    EXPECT_EQ(c.new_users_per_minute, 60u);
    EXPECT_EQ(c.max_active_users, 1000u);
    EXPECT_EQ(c.session_idle_timeout, 10min);
    EXPECT_EQ(c.session_max_duration, 1h);
    EXPECT_EQ(c.abandon_after, 5min);
    EXPECT_EQ(c.ticket_max_age, 24h);
    EXPECT_EQ(c.queued_status_code, 200u);
    EXPECT_FALSE(c.event.prequeue_opens);
    EXPECT_FALSE(c.event.starts);
    EXPECT_EQ(c.capacity_url, "");
    EXPECT_EQ(c.capacity_poll_interval, 5s);
    EXPECT_EQ(c.waiting_template, "");
    EXPECT_EQ(c.landing_path, "");
}

TEST(config_room, every_key) {
    const auto r = parse(R"([[room]]
id = "vaccine-2026_b"
paths = ["/Book/", "/%74ermine", "/a\u00fc"]
exclude = ["/Book/static/", "/termine/robots.txt"]
case_insensitive = false
mode = "random"
new_users_per_minute = 1000000
max_active_users = 10000000
session_idle_timeout = "30m"
session_max_duration = "2h"
abandon_after = "10m"
ticket_max_age = "48h"
queued_status_code = 429
capacity_url = "http://[::1]:8081/capacity?room=b"
capacity_poll_interval = "2s"
landing_path = "/termine/start"

[room.event]
prequeue_opens = "2026-12-01T08:00:00+01:00"
starts = 2026-12-01T09:00:00.250Z

[[room]]
id = "reg"
paths = ["/register"]
mode = "passthrough"
)");
    expect_valid(r);
    ASSERT_EQ(r.cfg->rooms.size(), 2u);
    const room_config& c = r.cfg->rooms[0];
    EXPECT_EQ(c.id, "vaccine-2026_b");
    EXPECT_EQ(c.paths, (std::vector<std::string>{"/Book/", "/termine", "/a%C3%BC"}));  // normalised
    EXPECT_EQ(c.exclude, (std::vector<std::string>{"/Book/static/", "/termine/robots.txt"}));
    EXPECT_FALSE(c.case_insensitive);
    EXPECT_EQ(c.mode, room_mode::random);
    EXPECT_EQ(c.new_users_per_minute, 1'000'000u);
    EXPECT_EQ(c.max_active_users, 10'000'000u);
    EXPECT_EQ(c.session_idle_timeout, 30min);
    EXPECT_EQ(c.session_max_duration, 2h);
    EXPECT_EQ(c.abandon_after, 10min);
    EXPECT_EQ(c.ticket_max_age, 48h);
    EXPECT_EQ(c.queued_status_code, 429u);
    EXPECT_EQ(c.capacity_url, "http://[::1]:8081/capacity?room=b");
    EXPECT_EQ(c.capacity_poll_interval, 2s);
    EXPECT_EQ(c.landing_path, "/termine/start");
    EXPECT_EQ(c.event.prequeue_opens, 1'796'108'400'000);  // 2026-12-01T07:00:00Z
    EXPECT_EQ(c.event.starts, 1'796'115'600'250);          // 2026-12-01T09:00:00.250Z
    EXPECT_EQ(r.cfg->rooms[1].mode, room_mode::passthrough);
}

TEST(config_room, single_room_table_and_status_codes) {
    const auto r = parse("[room]\nid = \"a\"\npaths = [\"/\"]\nqueued_status_code = 202\n");
    expect_valid(r);
    EXPECT_EQ(r.cfg->rooms.at(0).queued_status_code, 202u);
    EXPECT_EQ(only_error(parse(room("queued_status_code = 201\n"))).text(),
              "test.toml:4: room[0].queued_status_code: must be 200, 202 or 429, got 201");
    EXPECT_EQ(room_error("queued_status_code = 700\n"), "must be between 100 and 599, got 700");
    EXPECT_EQ(room_error("queued_status_code = \"429\"\n"), "expected an integer, got a string");
}

TEST(config_room, modes) {
    for (const auto m : {room_mode::fifo, room_mode::random, room_mode::passthrough, room_mode::reject,
                         room_mode::paused}) {
        EXPECT_EQ(parse_room_mode(to_string(m)), m);
        const auto r = parse(room("mode = \"" + std::string(to_string(m)) + "\"\n"));
        expect_valid(r);
        EXPECT_EQ(r.cfg->rooms[0].mode, m);
    }
    EXPECT_EQ(parse_room_mode("FIFO"), std::nullopt);
    EXPECT_EQ(parse_room_mode(""), std::nullopt);
    EXPECT_EQ(room_error("mode = \"lottery\"\n"),
              "must be one of \"fifo\", \"random\", \"passthrough\", \"reject\", \"paused\"; got \"lottery\"");
}

TEST(config_room, ranges) {
    EXPECT_EQ(room_error("new_users_per_minute = 0\n"), "must be between 1 and 1000000, got 0");
    EXPECT_EQ(room_error("max_active_users = 10000001\n"), "must be between 1 and 10000000, got 10000001");
    EXPECT_EQ(room_error("session_idle_timeout = \"5s\"\n"), "must be between 10s and 24h, got 5s");
    EXPECT_EQ(room_error("session_max_duration = \"169h\"\n"), "must be between 1m and 168h, got 169h");
    EXPECT_EQ(room_error("abandon_after = \"90s\"\n"), "must be between 2m and 24h, got 90s");
    EXPECT_EQ(room_error("ticket_max_age = \"30s\"\n"), "must be between 1m and 720h, got 30s");
    EXPECT_EQ(room_error("capacity_poll_interval = \"500ms\"\n"), "must be between 1s and 1h, got 500ms");
    const auto e = only_error(parse(room("session_idle_timeout = \"2h\"\n")));
    EXPECT_EQ(e.text(), "test.toml:1: room[0].session_idle_timeout: 2h is longer than session_max_duration (1h)");
}

TEST(config_room, unknown_keys) {
    const auto e = only_error(parse(room("max_users = 5\n")));
    EXPECT_EQ(e.line, 4u);
    EXPECT_EQ(e.key, "room[0].max_users");
    EXPECT_NE(e.message.find("allowed keys: id, paths, exclude, case_insensitive, mode,"), std::string::npos)
        << e.message;
    EXPECT_EQ(only_error(parse(room("[room.event]\nstart = \"2026-12-01T08:00:00Z\"\n"))).text(),
              "test.toml:5: room[0].event.start: unknown key; allowed keys: prequeue_opens, starts");
    EXPECT_EQ(only_error(parse(room("event = 5\n"))).message, "expected a table, got an integer");
}

// ---- ids -------------------------------------------------------------------------------------

TEST(config_room, ids) {
    EXPECT_EQ(only_error(parse("[[room]]\npaths = [\"/\"]\n")).text(), "test.toml:1: room[0].id: required key is missing");
    for (const char* bad : {"", "Book", "book room", "b\u00fcro", "a.b", "x23456789012345678901234567890123"}) {
        const auto e = only_error(parse("[[room]]\nid = \"" + std::string(bad) + "\"\npaths = [\"/\"]\n"));
        EXPECT_EQ(e.key, "room[0].id") << bad;
        EXPECT_EQ(e.message.rfind("must be 1 to 32 characters from a-z 0-9 _ - (it names cookies and metrics)", 0),
                  0u)
            << e.message;
    }
    expect_valid(parse("[[room]]\nid = \"x2345678901234567890123456789012\"\npaths = [\"/\"]\n"));
    const auto r = parse(room("") + "\n[[room]]\nid = \"book\"\npaths = [\"/other\"]\n");
    EXPECT_EQ(only_error(r).text(), "test.toml:6: room[1].id: duplicate room id \"book\" (first defined on line 2)");
}

// ---- paths -----------------------------------------------------------------------------------

TEST(config_room, paths_are_required) {
    EXPECT_EQ(only_error(parse("[[room]]\nid = \"a\"\n")).text(), "test.toml:1: room[0].paths: required key is missing");
    EXPECT_EQ(room_error("", "[]"), "must list at least one path prefix, e.g. [\"/book\"]");
    EXPECT_EQ(room_error("", "\"/book\""), "expected an array, got a string");
}

TEST(config_room, paths_are_normalised_and_refused_when_they_mean_something_else) {
    const auto r = parse(room("", "[\"/%62ook\", \"/b%c3%bc\", \"/x%2fy\", \"/~me\"]"));
    expect_valid(r);
    EXPECT_EQ(r.cfg->rooms[0].paths, (std::vector<std::string>{"/book", "/b%C3%BC", "/x%2Fy", "/~me"}));

    EXPECT_EQ(room_error("", "[\"/book/../admin\"]"),
              "\"/book/../admin\" has an empty, \".\" or \"..\" segment, so it means \"/admin\"; write that if you "
              "mean it");
    for (const char* bad : {"//book", "/./book", "/book/.", "/%2e%2e/book", "/book//x"}) {
        EXPECT_NE(room_error("", std::string("[\"") + bad + "\"]").find("has an empty, \".\" or \"..\" segment"),
                  std::string::npos)
            << bad;
    }
    for (const char* bad : {"book", "", "/bo ok", "/book%zz", "/book%00", "/book#x", "/x%2F..%2Fbook"}) {
        const auto e = only_error(parse(room("", std::string("[\"") + bad + "\"]")));
        EXPECT_EQ(e.key, "room[0].paths[0]") << bad;
        EXPECT_EQ(e.message.rfind("invalid path ", 0), 0u) << e.message;
    }
    EXPECT_EQ(room_error("", "[\"/book?x=1\"]"), "must be a path without a query string, got \"/book?x=1\"");
    EXPECT_EQ(room_error("", "[\"/_anteroom/x\"]"),
              "\"/_anteroom/x\" is reserved for anteroom's own endpoints (/_anteroom/...)");
    EXPECT_EQ(room_error("", "[\"/_anteroom\"]"),
              "\"/_anteroom\" is reserved for anteroom's own endpoints (/_anteroom/...)");
    EXPECT_EQ(only_error(parse(room("", "[\"/book\", \"/%62ook\"]"))).text(),
              "test.toml:3: room[0].paths[1]: duplicate path \"/book\"");
    EXPECT_EQ(room_error("", "[\"/book\", 5]"), "expected a string, got an integer");
}

TEST(config_room, no_path_is_claimed_by_two_rooms) {
    const std::string second = "\n[[room]]\nid = \"other\"\npaths = [\"/x\",\n  \"/BOOK\"]\n";
    EXPECT_EQ(only_error(parse(room("") + second)).text(),
              "test.toml:8: room[1].paths[1]: path \"/BOOK\" is already claimed by room \"book\" (line 3)");
    // Two case-sensitive rooms may split /book and /BOOK between them.
    expect_valid(parse(room("case_insensitive = false\n") + second + "case_insensitive = false\n"));
    // Nested prefixes are fine: the longest wins.
    expect_valid(parse(room("") + "\n[[room]]\nid = \"vip\"\npaths = [\"/book/vip\"]\n"));
}

TEST(config_room, exclude_and_landing_path_lie_inside_the_room) {
    const auto r = parse(room("exclude = [\"/BOOK/static/\", \"/book/robots.txt\"]\nlanding_path = \"/book/start\"\n"));
    expect_valid(r);
    EXPECT_EQ(r.cfg->rooms[0].exclude, (std::vector<std::string>{"/BOOK/static/", "/book/robots.txt"}));
    EXPECT_EQ(only_error(parse(room("exclude = [\"/robots.txt\"]\n"))).text(),
              "test.toml:4: room[0].exclude: \"/robots.txt\" is not under any of the room's paths, so it would "
              "exclude nothing");
    EXPECT_EQ(room_error("exclude = [\"/book/../x\"]\n"),
              "\"/book/../x\" has an empty, \".\" or \"..\" segment, so it means \"/x\"; write that if you mean it");
    EXPECT_EQ(only_error(parse(room("landing_path = \"/other\"\n"))).text(),
              "test.toml:4: room[0].landing_path: \"/other\" is not inside the room's paths");
    EXPECT_EQ(room_error("exclude = [\"/book/static/\"]\nlanding_path = \"/book/static/x\"\n"),
              "\"/book/static/x\" is not inside the room's paths");
    EXPECT_EQ(room_error("landing_path = \"book\"\n").rfind("invalid path \"book\"", 0), 0u);
}

// ---- [room.event] ------------------------------------------------------------------------------

TEST(config_room, event_timestamps) {
    const auto r = parse(room("[room.event]\nstarts = \"2026-12-01T08:00:00Z\"\n"));
    expect_valid(r);
    EXPECT_EQ(r.cfg->rooms[0].event.starts, 1'796'112'000'000);
    EXPECT_FALSE(r.cfg->rooms[0].event.prequeue_opens);

    EXPECT_EQ(only_error(parse(room("[room.event]\nstarts = \"2026-12-01 08:00\"\n"))).text(),
              "test.toml:5: room[0].event.starts: invalid timestamp \"2026-12-01 08:00\"; expected an RFC 3339 "
              "timestamp with a time zone, e.g. \"2026-12-01T08:00:00+01:00\" or \"2026-12-01T07:00:00Z\"");
    EXPECT_EQ(room_error("[room.event]\nstarts = \"2026-12-01T08:00:00\"\n").rfind("invalid timestamp", 0), 0u);
    EXPECT_EQ(room_error("[room.event]\nstarts = \"2026-02-30T08:00:00Z\"\n").rfind("invalid timestamp", 0), 0u);
    EXPECT_EQ(room_error("[room.event]\nstarts = 2026-12-01T08:00:00\n").rfind("needs a time zone offset", 0), 0u);
    EXPECT_EQ(room_error("[room.event]\nstarts = 2026-12-01\n").rfind("expected an RFC 3339 timestamp", 0), 0u);
    EXPECT_EQ(room_error("[room.event]\nstarts = 1796112000\n"),
              "expected an RFC 3339 timestamp with a time zone, e.g. \"2026-12-01T08:00:00+01:00\" or "
              "\"2026-12-01T07:00:00Z\", got an integer");
}

TEST(config_room, prequeue_opens_before_starts) {
    const auto r = parse(room("[room.event]\nprequeue_opens = \"2026-12-01T07:00:00Z\"\nstarts = \"2026-12-01T08:00:00Z\"\n"));
    expect_valid(r);
    EXPECT_EQ(r.cfg->rooms[0].event.prequeue_opens, 1'796'108'400'000);
    EXPECT_EQ(only_error(parse(room("[room.event]\nprequeue_opens = \"2026-12-01T09:00:00+01:00\"\n"
                                    "starts = \"2026-12-01T08:00:00Z\"\n")))
                  .text(),
              "test.toml:5: room[0].event.prequeue_opens: must be before starts (2026-12-01T08:00:00Z), got "
              "2026-12-01T08:00:00Z");
    EXPECT_EQ(only_error(parse(room("[room.event]\nprequeue_opens = \"2026-12-01T07:00:00Z\"\n"))).text(),
              "test.toml:5: room[0].event.prequeue_opens: needs starts: the pre-queue ends when the event starts");
    // A broken starts is reported once, not again as "needs starts".
    EXPECT_EQ(only_error(parse(room("[room.event]\nprequeue_opens = \"2026-12-01T07:00:00Z\"\nstarts = \"soon\"\n")))
                  .key,
              "room[0].event.starts");
}

// ---- capacity_url ------------------------------------------------------------------------------

TEST(config_room, capacity_url) {
    for (const char* ok : {"http://127.0.0.1:8081/capacity", "http://[::1]:1/c?room=x", "http://10.0.0.5:80/"}) {
        const auto r = parse(room("capacity_url = \"" + std::string(ok) + "\"\n"));
        expect_valid(r);
        EXPECT_EQ(r.cfg->rooms[0].capacity_url, ok);
    }
    expect_valid(parse(room("capacity_url = \"\"\n")));
    EXPECT_EQ(only_error(parse(room("capacity_url = \"https://10.0.0.5/c\"\n"))).text(),
              "test.toml:4: room[0].capacity_url: https is not supported yet; use http:// to the backend on a "
              "private network");
    for (const char* bad : {"http://backend:8081/capacity", "http://127.0.0.1/capacity", "http://127.0.0.1:8081",
                            "http://127.0.0.1:0/c", "ftp://127.0.0.1:21/c", "127.0.0.1:8081/c",
                            "http://127.0.0.1:8081/a b", "http://::1:8081/c"}) {
        EXPECT_EQ(room_error("capacity_url = \"" + std::string(bad) + "\"\n").rfind("invalid URL ", 0), 0u) << bad;
    }
}

// ---- waiting_template --------------------------------------------------------------------------

class config_template : public ::testing::Test {
protected:
    std::string path_ = ::testing::TempDir() + "anteroom-config-template-test.html";
    void write(const std::string& text) {
        std::ofstream(path_, std::ios::trunc) << text;
    }
    void TearDown() override { std::remove(path_.c_str()); }
};

TEST_F(config_template, a_template_that_loads_is_kept) {
    write("<p>{{position}}</p>\n");
    const auto r = parse(room("waiting_template = \"" + path_ + "\"\n"));
    expect_valid(r);
    EXPECT_EQ(r.cfg->rooms[0].waiting_template, path_);
}

TEST_F(config_template, a_missing_template_is_a_config_error) {
    // Only readability is checked here; the placeholders are checked by the admission library
    // when the proxy starts or reloads, and by check-config (tests/app, tests/admission).
    EXPECT_EQ(room_error("waiting_template = \"" + path_ + ".missing\"\n"),
              "cannot read the waiting page template " + path_ + ".missing");
}

}  // namespace
}  // namespace anteroom
