// [bot_detect] and its sub-tables (common/config_bot.cpp); the rest of the schema is in
// config_test.cpp and config_room_test.cpp.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "tests/common/config_test_support.hpp"

namespace anteroom {
namespace {

using namespace std::chrono_literals;

using config_test::expect_valid;
using config_test::only_error;
using config_test::parse;
using config_test::texts;

// A [bot_detect] section; line 1 is its header, so the first extra line is line 2.
std::string bot(const std::string& extra) {
    return "[bot_detect]\n" + extra;
}

// The bot_detect part of a snippet that must load.
bot_detect_config bot_ok(const std::string& extra) {
    const auto r = parse(bot(extra));
    EXPECT_TRUE(r.errors.empty()) << ::testing::PrintToString(texts(r));
    return r.cfg != nullptr ? r.cfg->bot_detect : bot_detect_config{};
}

// "test.toml:line: key: message" of the one error a snippet produces.
std::string bot_error(const std::string& extra) {
    return only_error(parse(bot(extra))).text();
}

// Every scalar of [bot_detect], [bot_detect.signals] and [bot_detect.limits].
void expect_same_settings(const bot_detect_config& a, const bot_detect_config& b) {
    EXPECT_EQ(a.enabled, b.enabled);
    EXPECT_EQ(a.dry_run, b.dry_run);
    EXPECT_EQ(a.action_header, b.action_header);
    EXPECT_EQ(a.fetch_metadata, b.fetch_metadata);
    EXPECT_EQ(a.challenge_at, b.challenge_at);
    EXPECT_EQ(a.deprioritise_at, b.deprioritise_at);
    EXPECT_EQ(a.deny_at, b.deny_at);
    EXPECT_EQ(a.infinite_queue_at, b.infinite_queue_at);
    EXPECT_EQ(a.deny_status, b.deny_status);
    EXPECT_EQ(a.score_half_life, b.score_half_life);
    EXPECT_EQ(a.deprioritise_penalty, b.deprioritise_penalty);
    EXPECT_EQ(a.slow_status, b.slow_status);
    EXPECT_EQ(a.difficulty_min, b.difficulty_min);
    EXPECT_EQ(a.difficulty_max, b.difficulty_max);
    EXPECT_EQ(a.surge_extra_difficulty, b.surge_extra_difficulty);
    EXPECT_EQ(a.challenge_ttl, b.challenge_ttl);
    EXPECT_EQ(a.nojs_delay, b.nojs_delay);
    EXPECT_EQ(a.clearance_ttl, b.clearance_ttl);
    EXPECT_EQ(a.clearance_credit, b.clearance_credit);
    EXPECT_EQ(a.surge_window, b.surge_window);
    EXPECT_EQ(a.surge_min_tickets, b.surge_min_tickets);
    EXPECT_DOUBLE_EQ(a.surge_prefix_share, b.surge_prefix_share);
    EXPECT_DOUBLE_EQ(a.surge_signature_share, b.surge_signature_share);
    EXPECT_EQ(a.surge_hold, b.surge_hold);
    EXPECT_EQ(a.max_tracked, b.max_tracked);
    EXPECT_EQ(a.max_replay, b.max_replay);
    const auto& w = a.weights;
    const auto& v = b.weights;
    EXPECT_EQ((std::vector<int>{w.automation_ua, w.empty_ua, w.missing_fetch_metadata, w.missing_client_hints,
                                w.missing_accept_language, w.accept_encoding, w.header_order, w.address_rate,
                                w.visitor_rate, w.ticket_farming, w.prefix_ticket_farming, w.error_share,
                                w.early_polls, w.regular_polls, w.sharing, w.tls_mismatch, w.fast_form}),
              (std::vector<int>{v.automation_ua, v.empty_ua, v.missing_fetch_metadata, v.missing_client_hints,
                                v.missing_accept_language, v.accept_encoding, v.header_order, v.address_rate,
                                v.visitor_rate, v.ticket_farming, v.prefix_ticket_farming, v.error_share,
                                v.early_polls, v.regular_polls, v.sharing, v.tls_mismatch, v.fast_form}));
    const auto& l = a.limits;
    const auto& m = b.limits;
    EXPECT_EQ((std::vector<std::uint32_t>{l.address_requests_per_10s, l.visitor_requests_per_10s,
                                          l.address_tickets_per_minute, l.prefix_tickets_per_minute,
                                          l.min_responses, l.early_polls, l.regular_min_intervals,
                                          l.sharing_prefixes, l.sharing_user_agents}),
              (std::vector<std::uint32_t>{m.address_requests_per_10s, m.visitor_requests_per_10s,
                                          m.address_tickets_per_minute, m.prefix_tickets_per_minute,
                                          m.min_responses, m.early_polls, m.regular_min_intervals,
                                          m.sharing_prefixes, m.sharing_user_agents}));
    EXPECT_EQ(l.min_form_time, m.min_form_time);
    EXPECT_EQ((std::vector<double>{l.error_share, l.early_tolerance, l.regular_cv}),
              (std::vector<double>{m.error_share, m.early_tolerance, m.regular_cv}));
}

// ---- [bot_detect] ----------------------------------------------------------------------------

TEST(config_bot, defaults_without_the_section) {
    const auto r = parse("");
    expect_valid(r);
    const bot_detect_config& b = r.cfg->bot_detect;
    // The documented defaults (docs/configuration.md), spot-checked; the rest is the struct's.
    EXPECT_FALSE(b.enabled);
    EXPECT_EQ(b.fetch_metadata, fetch_metadata_mode::automatic);
    EXPECT_EQ(b.challenge_at, 30);
    EXPECT_EQ(b.deprioritise_at, 55);
    EXPECT_EQ(b.deny_at, 80);
    EXPECT_EQ(b.infinite_queue_at, 0);
    EXPECT_EQ(b.deny_status, bot_deny_status::forbidden);
    EXPECT_EQ(b.nojs_delay, 20s);
    EXPECT_EQ(b.max_tracked, 262'144u);
    EXPECT_TRUE(b.allow.empty());
    EXPECT_TRUE(b.deny.empty());
    expect_same_settings(b, bot_detect_config{});
    expect_same_settings(bot_ok(""), bot_detect_config{});
}

TEST(config_bot, every_key) {
    const auto b = bot_ok(R"(enabled = true
dry_run = true
action_header = true
fetch_metadata = "always"
challenge_at = 20
deprioritise_at = 40
deny_at = 60
infinite_queue_at = 90
deny_status = 429
score_half_life = "10m"
deprioritise_penalty = "0ms"
slow_status = "10s"
difficulty_min = 10
difficulty_max = 24
surge_extra_difficulty = 8
challenge_ttl = "2m"
nojs_delay = "30s"
clearance_ttl = "1h"
clearance_credit = 100
surge_window = "30s"
surge_min_tickets = 1000
surge_prefix_share = 0.25
surge_signature_share = 1
surge_hold = "5m"
max_tracked = 1024
max_replay = 67108864
)");
    bot_detect_config want;
    want.enabled = want.dry_run = want.action_header = true;
    want.fetch_metadata = fetch_metadata_mode::always;
    want.challenge_at = 20;
    want.deprioritise_at = 40;
    want.deny_at = 60;
    want.infinite_queue_at = 90;
    want.deny_status = bot_deny_status::too_many_requests;
    want.score_half_life = 10min;
    want.deprioritise_penalty = 0ms;
    want.slow_status = 10s;
    want.difficulty_min = 10;
    want.difficulty_max = 24;
    want.surge_extra_difficulty = 8;
    want.challenge_ttl = 2min;
    want.nojs_delay = 30s;
    want.clearance_ttl = 1h;
    want.clearance_credit = 100;
    want.surge_window = 30s;
    want.surge_min_tickets = 1000;
    want.surge_prefix_share = 0.25;
    want.surge_signature_share = 1.0;
    want.surge_hold = 5min;
    want.max_tracked = 1024;
    want.max_replay = 64u * 1024 * 1024;
    expect_same_settings(b, want);
}

TEST(config_bot, fetch_metadata_and_deny_status_values) {
    EXPECT_EQ(bot_ok("fetch_metadata = \"auto\"\n").fetch_metadata, fetch_metadata_mode::automatic);
    EXPECT_EQ(bot_ok("fetch_metadata = \"never\"\n").fetch_metadata, fetch_metadata_mode::never);
    EXPECT_EQ(bot_ok("deny_status = 403\n").deny_status, bot_deny_status::forbidden);
    EXPECT_EQ(bot_error("enabled = true\nfetch_metadata = \"automatic\"\n"),
              "test.toml:3: bot_detect.fetch_metadata: must be one of \"auto\", \"always\", \"never\"; got "
              "\"automatic\"");
    EXPECT_EQ(bot_error("deny_status = 404\n"), "test.toml:2: bot_detect.deny_status: must be 403 or 429, got 404");
    EXPECT_EQ(bot_error("deny_status = 700\n"),
              "test.toml:2: bot_detect.deny_status: must be between 100 and 599, got 700");
    EXPECT_EQ(bot_error("deny_status = \"403\"\n"),
              "test.toml:2: bot_detect.deny_status: expected an integer, got a string");
}

TEST(config_bot, bad_values_name_file_line_and_key) {
    EXPECT_EQ(bot_error("enabled = \"yes\"\n"),
              "test.toml:2: bot_detect.enabled: expected a boolean (true or false), got a string");
    EXPECT_EQ(bot_error("\nslow_status = \"11s\"\n"),
              "test.toml:3: bot_detect.slow_status: must be between 0ms and 10s, got 11s");
    EXPECT_EQ(bot_error("score_half_life = 60\n"),
              "test.toml:2: bot_detect.score_half_life: expected a duration string: a number followed by one of "
              "ms, s, m, h (e.g. \"250ms\", \"10s\", \"5m\", \"1h\"), got an integer");
    EXPECT_EQ(bot_error("max_tracked = 1023\n"),
              "test.toml:2: bot_detect.max_tracked: must be between 1024 and 16777216, got 1023");
    EXPECT_EQ(bot_error("max_replay = 67108865\n"),
              "test.toml:2: bot_detect.max_replay: must be between 1024 and 67108864, got 67108865");
    EXPECT_EQ(bot_error("clearance_credit = 101\n"),
              "test.toml:2: bot_detect.clearance_credit: must be between 0 and 100, got 101");
    EXPECT_EQ(bot_error("difficulty_max = 33\n"),
              "test.toml:2: bot_detect.difficulty_max: must be between 1 and 32, got 33");
    EXPECT_EQ(bot_error("difficulty_min = 0\n"),
              "test.toml:2: bot_detect.difficulty_min: must be between 1 and 32, got 0");
    EXPECT_EQ(bot_error("surge_min_tickets = 0\n"),
              "test.toml:2: bot_detect.surge_min_tickets: must be between 1 and 10000000, got 0");
}

TEST(config_bot, shares_are_numbers_from_0_to_1) {
    EXPECT_DOUBLE_EQ(bot_ok("surge_prefix_share = 0\n").surge_prefix_share, 0.0);
    EXPECT_DOUBLE_EQ(bot_ok("surge_prefix_share = 0.75\n").surge_prefix_share, 0.75);
    EXPECT_EQ(bot_error("surge_prefix_share = 1.5\n"),
              "test.toml:2: bot_detect.surge_prefix_share: must be between 0 and 1, got 1.5");
    EXPECT_EQ(bot_error("surge_signature_share = -0.1\n"),
              "test.toml:2: bot_detect.surge_signature_share: must be between 0 and 1, got -0.1");
    EXPECT_EQ(bot_error("surge_signature_share = nan\n"),
              "test.toml:2: bot_detect.surge_signature_share: must be between 0 and 1, got nan");
    EXPECT_EQ(bot_error("surge_signature_share = inf\n"),
              "test.toml:2: bot_detect.surge_signature_share: must be between 0 and 1, got inf");
    EXPECT_EQ(bot_error("surge_prefix_share = \"50%\"\n"),
              "test.toml:2: bot_detect.surge_prefix_share: expected a number, got a string");
}

TEST(config_bot, unknown_keys_list_the_allowed_ones) {
    EXPECT_EQ(bot_error("enabled = true\ndeny_threshold = 80\n"),
              "test.toml:3: bot_detect.deny_threshold: unknown key; allowed keys: enabled, dry_run, action_header, "
              "fetch_metadata, challenge_at, deprioritise_at, deny_at, infinite_queue_at, deny_status, "
              "score_half_life, deprioritise_penalty, slow_status, difficulty_min, difficulty_max, "
              "surge_extra_difficulty, challenge_ttl, nojs_delay, clearance_ttl, clearance_credit, surge_window, "
              "surge_min_tickets, surge_prefix_share, surge_signature_share, surge_hold, max_tracked, max_replay, "
              "signals, limits, allow, deny, tls_family");
    EXPECT_EQ(only_error(parse("bot_detect = true\n")).text(),
              "test.toml:1: bot_detect: expected a table, got a boolean");
}

// ---- checks between keys ---------------------------------------------------------------------

TEST(config_bot, bands_must_rise) {
    const auto b = bot_ok("challenge_at = 1\ndeprioritise_at = 2\ndeny_at = 100\ninfinite_queue_at = 100\n");
    EXPECT_EQ(b.challenge_at, 1);
    EXPECT_EQ(b.infinite_queue_at, 100);
    EXPECT_EQ(bot_ok("deny_at = 90\ninfinite_queue_at = 90\n").infinite_queue_at, 90);
    EXPECT_EQ(bot_ok("infinite_queue_at = 0\n").infinite_queue_at, 0);

    EXPECT_EQ(bot_error("challenge_at = 55\n"),
              "test.toml:2: bot_detect.challenge_at: challenge_at (55) must be less than deprioritise_at (55)");
    EXPECT_EQ(bot_error("challenge_at = 40\n\ndeprioritise_at = 35\n"),
              "test.toml:4: bot_detect.deprioritise_at: challenge_at (40) must be less than deprioritise_at (35)");
    EXPECT_EQ(bot_error("deny_at = 50\n"),
              "test.toml:2: bot_detect.deny_at: deprioritise_at (55) must be less than deny_at (50)");
    EXPECT_EQ(bot_error("deprioritise_at = 90\n"),
              "test.toml:2: bot_detect.deprioritise_at: deprioritise_at (90) must be less than deny_at (80)");
    EXPECT_EQ(bot_error("infinite_queue_at = 79\n"),
              "test.toml:2: bot_detect.infinite_queue_at: infinite_queue_at (79) must be 0 (off) or from deny_at "
              "(80) to 100");
    EXPECT_EQ(bot_error("challenge_at = 0\n"),
              "test.toml:2: bot_detect.challenge_at: must be between 1 and 100, got 0");
    EXPECT_EQ(bot_error("deny_at = 101\n"), "test.toml:2: bot_detect.deny_at: must be between 1 and 100, got 101");
    // An invalid threshold is reported once, not again as out of order.
    EXPECT_EQ(bot_error("deprioritise_at = \"high\"\ndeny_at = 20\n"),
              "test.toml:2: bot_detect.deprioritise_at: expected an integer, got a string");
}

TEST(config_bot, challenge_difficulty_and_delays) {
    EXPECT_EQ(bot_ok("difficulty_min = 16\ndifficulty_max = 16\n").difficulty_min, 16u);
    EXPECT_EQ(bot_error("difficulty_min = 21\n"),
              "test.toml:2: bot_detect.difficulty_min: difficulty_min (21) must not exceed difficulty_max (20)");
    EXPECT_EQ(bot_error("difficulty_min = 12\ndifficulty_max = 10\n"),
              "test.toml:3: bot_detect.difficulty_max: difficulty_min (12) must not exceed difficulty_max (10)");
    EXPECT_EQ(bot_ok("difficulty_max = 32\nsurge_extra_difficulty = 0\n").difficulty_max, 32u);
    EXPECT_EQ(bot_error("difficulty_max = 31\n"),
              "test.toml:2: bot_detect.difficulty_max: difficulty_max + surge_extra_difficulty must be at most 32, "
              "got 33");
    EXPECT_EQ(bot_error("surge_extra_difficulty = 13\n"),
              "test.toml:2: bot_detect.surge_extra_difficulty: difficulty_max + surge_extra_difficulty must be at "
              "most 32, got 33");
    EXPECT_EQ(bot_error("surge_extra_difficulty = 17\n"),
              "test.toml:2: bot_detect.surge_extra_difficulty: must be between 0 and 16, got 17");

    EXPECT_EQ(bot_ok("nojs_delay = \"0ms\"\n").nojs_delay, 0ms);
    EXPECT_EQ(bot_error("nojs_delay = \"5m\"\n"),
              "test.toml:2: bot_detect.nojs_delay: nojs_delay (5m) must be shorter than challenge_ttl (5m)");
    EXPECT_EQ(bot_error("challenge_ttl = \"15s\"\n"),
              "test.toml:2: bot_detect.challenge_ttl: nojs_delay (20s) must be shorter than challenge_ttl (15s)");
    EXPECT_EQ(bot_error("challenge_ttl = \"5s\"\n"),
              "test.toml:2: bot_detect.challenge_ttl: must be between 10s and 1h, got 5s");
}

// ---- [bot_detect.signals] and [bot_detect.limits] --------------------------------------------

TEST(config_bot, signal_weights) {
    const auto b = bot_ok(R"(
[bot_detect.signals]
automation_ua = 100
empty_ua = 0
missing_fetch_metadata = false
missing_client_hints = true
missing_accept_language = 1
accept_encoding = 2
header_order = 3
address_rate = 4
visitor_rate = 5
ticket_farming = 6
prefix_ticket_farming = 7
error_share = 8
early_polls = 9
regular_polls = 10
sharing = 11
tls_mismatch = false
fast_form = 12
)");
    bot_detect_config want;
    want.weights = {.automation_ua = 100, .empty_ua = 0, .missing_fetch_metadata = 0,
                    .missing_client_hints = want.weights.missing_client_hints,  // true: the default
                    .missing_accept_language = 1, .accept_encoding = 2, .header_order = 3, .address_rate = 4,
                    .visitor_rate = 5, .ticket_farming = 6, .prefix_ticket_farming = 7, .error_share = 8,
                    .early_polls = 9, .regular_polls = 10, .sharing = 11, .tls_mismatch = 0, .fast_form = 12};
    expect_same_settings(b, want);

    // Dotted keys in [bot_detect] are the same table.
    EXPECT_EQ(bot_ok("signals.sharing = false\n").weights.sharing, 0);

    EXPECT_EQ(bot_error("[bot_detect.signals]\nempty_ua = 101\n"),
              "test.toml:3: bot_detect.signals.empty_ua: must be between 0 and 100, got 101");
    EXPECT_EQ(bot_error("[bot_detect.signals]\n\nsharing = \"off\"\n"),
              "test.toml:4: bot_detect.signals.sharing: expected a weight 0 to 100, false (off) or true (the "
              "default), got a string");
    EXPECT_EQ(bot_error("[bot_detect.signals]\nua_automation = 90\n"),
              "test.toml:3: bot_detect.signals.ua_automation: unknown key; allowed keys: automation_ua, empty_ua, "
              "missing_fetch_metadata, missing_client_hints, missing_accept_language, accept_encoding, "
              "header_order, address_rate, visitor_rate, ticket_farming, prefix_ticket_farming, error_share, "
              "early_polls, regular_polls, sharing, tls_mismatch, fast_form");
    EXPECT_EQ(bot_error("signals = 1\n"), "test.toml:2: bot_detect.signals: expected a table, got an integer");
}

TEST(config_bot, limits) {
    const auto b = bot_ok(R"(
[bot_detect.limits]
address_requests_per_10s = 1000
visitor_requests_per_10s = 100
address_tickets_per_minute = 10
prefix_tickets_per_minute = 20000
error_share = 0.8
min_responses = 20
early_polls = 3
early_tolerance = 0.5
regular_cv = 0.1
regular_min_intervals = 6
sharing_prefixes = 3
sharing_user_agents = 2
min_form_time = "5s"
)");
    bot_detect_config want;
    want.limits = {.address_requests_per_10s = 1000, .visitor_requests_per_10s = 100,
                   .address_tickets_per_minute = 10, .prefix_tickets_per_minute = 20000, .error_share = 0.8,
                   .min_responses = 20, .early_polls = 3, .early_tolerance = 0.5, .regular_cv = 0.1,
                   .regular_min_intervals = 6, .sharing_prefixes = 3, .sharing_user_agents = 2,
                   .min_form_time = duration_ms(5'000)};
    expect_same_settings(b, want);

    EXPECT_EQ(bot_error("[bot_detect.limits]\naddress_requests_per_10s = 0\n"),
              "test.toml:3: bot_detect.limits.address_requests_per_10s: must be between 1 and 1000000, got 0");
    EXPECT_EQ(bot_error("[bot_detect.limits]\nregular_min_intervals = 1\n"),
              "test.toml:3: bot_detect.limits.regular_min_intervals: must be between 2 and 1000, got 1");
    EXPECT_EQ(bot_error("[bot_detect.limits]\nerror_share = 2\n"),
              "test.toml:3: bot_detect.limits.error_share: must be between 0 and 1, got 2");
    EXPECT_EQ(bot_error("[bot_detect.limits]\nsharing_prefixes = 0\n"),
              "test.toml:3: bot_detect.limits.sharing_prefixes: must be between 1 and 64, got 0");
    const auto unknown = bot_error("[bot_detect.limits]\nrequests = 1\n");
    EXPECT_NE(unknown.find("test.toml:3: bot_detect.limits.requests: unknown key; allowed keys: "
                           "address_requests_per_10s,"),
              std::string::npos)
        << unknown;
}

// ---- [[bot_detect.allow]] and [[bot_detect.deny]] --------------------------------------------

TEST(config_bot, rules) {
    const auto b = bot_ok(R"(
[[bot_detect.allow]]
path = "/%62ook/api/"
[[bot_detect.allow]]
user_agent = "Uptime-Kuma/"
cidr = ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"]
[[bot_detect.deny]]
path = "/_anteroom/status"
user_agent = "python-requests"
)");
    ASSERT_EQ(b.allow.size(), 2u);
    EXPECT_EQ(b.allow[0].path_prefix, "/book/api/");
    EXPECT_EQ(b.allow[0].user_agent, "");
    EXPECT_TRUE(b.allow[0].cidrs.empty());
    EXPECT_EQ(b.allow[1].path_prefix, "");
    EXPECT_EQ(b.allow[1].user_agent, "Uptime-Kuma/");
    ASSERT_EQ(b.allow[1].cidrs.size(), 3u);
    EXPECT_EQ(b.allow[1].cidrs[0], *parse_cidr("192.0.2.0/24"));
    EXPECT_EQ(b.allow[1].cidrs[2], *parse_cidr("198.51.100.7/32"));
    ASSERT_EQ(b.deny.size(), 1u);
    EXPECT_EQ(b.deny[0].path_prefix, "/_anteroom/status");
    EXPECT_EQ(b.deny[0].user_agent, "python-requests");
    EXPECT_EQ(bot_ok("[[bot_detect.deny]]\npath = \"/\"\n").deny[0].path_prefix, "/");
}

TEST(config_bot, rule_errors) {
    const std::string allow = "[[bot_detect.allow]]\n";
    EXPECT_EQ(bot_error(allow), "test.toml:2: bot_detect.allow[0]: must set at least one of path, user_agent, cidr");
    EXPECT_EQ(bot_error(allow + "path = \"/a\"\n" + allow),
              "test.toml:4: bot_detect.allow[1]: must set at least one of path, user_agent, cidr");
    EXPECT_EQ(bot_error(allow + "path = \"book\"\n"),
              "test.toml:3: bot_detect.allow[0].path: invalid path \"book\"; it must start with \"/\" and contain "
              "no spaces, control characters, '#' or '\\', no malformed or NUL escapes (\"%zz\", \"%00\") and no "
              "dot segment next to \"%2F\"");
    EXPECT_EQ(bot_error(allow + "path = \"/book?x=1\"\n"),
              "test.toml:3: bot_detect.allow[0].path: must be a path without a query string, got \"/book?x=1\"");
    EXPECT_EQ(bot_error(allow + "path = \"/book/../admin\"\n"),
              "test.toml:3: bot_detect.allow[0].path: \"/book/../admin\" has an empty, \".\" or \"..\" segment, "
              "so it means \"/admin\"; write that if you mean it");
    for (const char* p : {"//book", "/book/.", "/%2E%2e/book", "/a/./b"}) {
        EXPECT_NE(bot_error(allow + "path = \"" + p + "\"\n").find("segment, so it means"), std::string::npos) << p;
    }
    EXPECT_EQ(bot_ok(allow + "path = \"/a/.../b\"\n").allow[0].path_prefix, "/a/.../b");
    EXPECT_EQ(bot_error(allow + "path = 1\n"), "test.toml:3: bot_detect.allow[0].path: expected a string, got an integer");
    EXPECT_EQ(bot_error(allow + "user_agent = \"\"\n"),
              "test.toml:3: bot_detect.allow[0].user_agent: must be 1 to 200 bytes without control characters (a "
              "substring of the User-Agent), got \"\"");
    EXPECT_EQ(bot_ok(allow + "user_agent = \"" + std::string(200, 'x') + "\"\n").allow[0].user_agent.size(), 200u);
    EXPECT_NE(bot_error(allow + "user_agent = \"" + std::string(201, 'x') + "\"\n")
                  .find("test.toml:3: bot_detect.allow[0].user_agent: must be 1 to 200 bytes"),
              std::string::npos);
    EXPECT_EQ(bot_error(allow + "user_agent = \"a\\tb\"\n"),
              "test.toml:3: bot_detect.allow[0].user_agent: must be 1 to 200 bytes without control characters (a "
              "substring of the User-Agent), got \"a\\x09b\"");
    EXPECT_EQ(bot_error(allow + "cidr = [\"10.0.0.0/8\",\n  \"10.0.0.0/33\"]\n"),
              "test.toml:4: bot_detect.allow[0].cidr[1]: invalid CIDR \"10.0.0.0/33\"; expected e.g. "
              "\"10.0.0.0/8\", \"::1/128\" or \"192.0.2.7\"");
    EXPECT_EQ(bot_error(allow + "cidr = []\n"),
              "test.toml:3: bot_detect.allow[0].cidr: must list 1 to 10000 CIDRs, e.g. [\"192.0.2.0/24\"]");
    EXPECT_EQ(bot_error(allow + "cidr = \"10.0.0.0/8\"\n"),
              "test.toml:3: bot_detect.allow[0].cidr: expected an array, got a string");
    EXPECT_EQ(bot_error("[[bot_detect.deny]]\npath = \"/\"\npaths = [\"/x\"]\n"),
              "test.toml:4: bot_detect.deny[0].paths: unknown key; allowed keys: path, user_agent, cidr");
    EXPECT_EQ(bot_error("deny = 1\n"), "test.toml:2: bot_detect.deny: expected one or more [[bot_detect.deny]] tables");
    EXPECT_EQ(bot_error("allow = []\n"),
              "test.toml:2: bot_detect.allow: expected one or more [[bot_detect.allow]] tables");
    EXPECT_EQ(bot_error("allow = [1]\n"), "test.toml:2: bot_detect.allow[0]: expected a table, got an integer");
}

TEST(config_bot, every_problem_is_reported_in_file_order) {
    const auto r = parse(R"([bot_detect]
deny_status = 500
[bot_detect.signals]
sharing = 200
[[bot_detect.allow]]
[[bot_detect.deny]]
cidr = ["nope"]
)");
    EXPECT_EQ(r.cfg, nullptr);
    EXPECT_EQ(texts(r), (std::vector<std::string>{
                            "test.toml:2: bot_detect.deny_status: must be 403 or 429, got 500",
                            "test.toml:4: bot_detect.signals.sharing: must be between 0 and 100, got 200",
                            "test.toml:5: bot_detect.allow[0]: must set at least one of path, user_agent, cidr",
                            "test.toml:7: bot_detect.deny[0].cidr[0]: invalid CIDR \"nope\"; expected e.g. "
                            "\"10.0.0.0/8\", \"::1/128\" or \"192.0.2.7\"",
                        }));
}

// ---- [[bot_detect.tls_family]] ----------------------------------------------------------------

using tls_name = bot_detect_config::tls_family_name;

const bot_detect_config::tls_family* family_named(const bot_detect_config& b, tls_name name) {
    for (const auto& f : b.tls_families) {
        if (f.name == name) {
            return &f;
        }
    }
    return nullptr;
}

TEST(config_bot, tls_families_default_to_the_built_in_table) {
    const auto b = bot_ok("");
    ASSERT_EQ(b.tls_families.size(), bot_detect_config::default_tls_families().size());
    for (const auto name : {tls_name::chromium, tls_name::firefox, tls_name::safari, tls_name::tool}) {
        ASSERT_NE(family_named(b, name), nullptr);
        EXPECT_FALSE(family_named(b, name)->ja4.empty());
    }
}

TEST(config_bot, built_in_tls_patterns_pass_the_loader) {
    // Written out as a file, the built-in table loads unchanged: its patterns obey the rules.
    const char* names[] = {"chromium", "firefox", "safari", "tool"};
    std::string text;
    for (const auto& f : bot_detect_config::default_tls_families()) {
        text += "[[bot_detect.tls_family]]\nname = \"" + std::string(names[static_cast<int>(f.name)]) + "\"\nja4 = [";
        for (const auto& p : f.ja4) {
            text += "\"" + p + "\",";
        }
        text += "]\n";
    }
    const auto r = parse(text);
    expect_valid(r);
    const auto& got = r.cfg->bot_detect.tls_families;
    const auto want = bot_detect_config::default_tls_families();
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(got[i].name, want[i].name);
        EXPECT_EQ(got[i].ja4, want[i].ja4);
    }
}

TEST(config_bot, a_listed_tls_family_replaces_the_built_in_one) {
    const auto b = parse(R"([[bot_detect.tls_family]]
name = "chromium"
ja4 = ["t13d1516h2_8daaf6152771_02713d6af862", "t13d15??h2_8daaf6152771_*"]
[[bot_detect.tls_family]]
name = "tool"
ja4 = []
)");
    expect_valid(b);
    const auto& fams = b.cfg->bot_detect;
    EXPECT_EQ(family_named(fams, tls_name::chromium)->ja4,
              (std::vector<std::string>{"t13d1516h2_8daaf6152771_02713d6af862", "t13d15??h2_8daaf6152771_*"}));
    EXPECT_TRUE(family_named(fams, tls_name::tool)->ja4.empty());  // turned off
    EXPECT_EQ(family_named(fams, tls_name::firefox)->ja4, family_named(bot_detect_config{}, tls_name::firefox)->ja4);
}

TEST(config_bot, tls_family_errors) {
    const std::string fam = "[[bot_detect.tls_family]]\n";
    EXPECT_EQ(only_error(parse(fam + "name = \"opera\"\nja4 = []\n")).text(),
              "test.toml:2: bot_detect.tls_family[0].name: must be one of \"chromium\", \"firefox\", \"safari\", "
              "\"tool\"; got \"opera\"");
    EXPECT_EQ(only_error(parse(fam + "name = \"tool\"\n")).text(),
              "test.toml:1: bot_detect.tls_family[0].ja4: required key is missing");
    EXPECT_EQ(only_error(parse(fam + "ja4 = []\n")).text(),
              "test.toml:1: bot_detect.tls_family[0].name: required key is missing");
    const std::string bad_pattern =
        "must be a JA4 fingerprint (36 characters a-z, 0-9, _) or a pattern of at most 64 with * and ?, e.g. "
        "\"t13*_8daaf6152771_*\"; got ";
    EXPECT_EQ(only_error(parse(fam + "name = \"tool\"\nja4 = [\"*_e8f1e7e78f70_*\",\n  \"T13*\"]\n")).text(),
              "test.toml:4: bot_detect.tls_family[0].ja4[1]: " + bad_pattern + "\"T13*\"");
    EXPECT_EQ(only_error(parse(fam + "name = \"tool\"\nja4 = [\"t13d1516h2_8daaf6152771\"]\n")).text(),
              "test.toml:3: bot_detect.tls_family[0].ja4[0]: " + bad_pattern + "\"t13d1516h2_8daaf6152771\"");
    EXPECT_EQ(only_error(parse(fam + "name = \"tool\"\nja4 = [\"\"]\n")).text(),
              "test.toml:3: bot_detect.tls_family[0].ja4[0]: " + bad_pattern + "\"\"");
    EXPECT_EQ(only_error(parse(fam + "name = \"tool\"\nja4 = \"*\"\n")).text(),
              "test.toml:3: bot_detect.tls_family[0].ja4: expected an array, got a string");
    EXPECT_EQ(only_error(parse(fam + "name = \"tool\"\nja4 = []\n" + fam + "name = \"tool\"\nja4 = [\"*\"]\n")).text(),
              "test.toml:5: bot_detect.tls_family[1].name: family already listed in bot_detect.tls_family[0]");
    EXPECT_EQ(only_error(parse(fam + "name = \"tool\"\nja4 = []\nja3 = []\n")).text(),
              "test.toml:4: bot_detect.tls_family[0].ja3: unknown key; allowed keys: name, ja4");
    EXPECT_EQ(bot_error("tls_family = 1\n"),
              "test.toml:2: bot_detect.tls_family: expected one or more [[bot_detect.tls_family]] tables");
}

// ---- the shipped file ------------------------------------------------------------------------

TEST(config_bot, shipped_config_enables_bot_detection_with_the_defaults) {
#ifdef ANTEROOM_SOURCE_DIR
    const auto r = load_config(ANTEROOM_SOURCE_DIR "/conf/anteroom.toml");
    expect_valid(r);
    // The shipped file turns bot detection on and shows the main knobs at their defaults.
    bot_detect_config want;
    want.enabled = true;
    expect_same_settings(r.cfg->bot_detect, want);
#else
    GTEST_SKIP() << "ANTEROOM_SOURCE_DIR not defined";
#endif
}

}  // namespace
}  // namespace anteroom
