// The operations console's pure parts: reading our own /metrics text, the samples and figures
// the charts show (with scrapes at chosen times, no clock), the audit log file, console
// sessions, and the named admin tokens.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/keyfile.hpp"
#include "console/audit.hpp"
#include "console/live.hpp"
#include "console/prom_text.hpp"
#include "console/session.hpp"

namespace anteroom::console {
namespace {

TEST(prom_text, reads_samples_labels_and_special_values) {
    const auto s = parse_prom_text(
        "# HELP a_total A\n# TYPE a_total counter\n"
        "a_total 3\n"
        "b{room=\"x\",le=\"0.5\"} 1.5e2\n"
        "c{path=\"/a}b\",q=\"say \\\"hi\\\"\"} +Inf\n"
        "\n"
        "broken{x=\"1\" 3\n"
        "d 7 1700000000000\n"
        "e notanumber\n");
    ASSERT_EQ(s.size(), 4u);
    EXPECT_EQ(s[0].name, "a_total");
    EXPECT_EQ(s[0].value, 3);
    EXPECT_EQ(s[1].labels, "room=\"x\",le=\"0.5\"");
    EXPECT_EQ(s[1].value, 150);
    EXPECT_EQ(label_of(s[1].labels, "le"), "0.5");
    EXPECT_EQ(label_of(s[1].labels, "room"), "x");
    EXPECT_FALSE(label_of(s[1].labels, "nope"));
    EXPECT_TRUE(std::isinf(s[2].value));
    EXPECT_EQ(label_of(s[2].labels, "path"), "/a}b");
    EXPECT_EQ(label_of(s[2].labels, "q"), "say \"hi\"");
    EXPECT_EQ(s[3].name, "d");  // the timestamp after the value is ignored
    EXPECT_EQ(s[3].value, 7);
}

TEST(histogram_quantile, interpolates_like_prometheus) {
    // 10 observations ≤ 1, 10 more ≤ 2, none above.
    const std::vector<std::pair<double, double>> h{{1, 10}, {2, 20}, {HUGE_VAL, 20}};
    EXPECT_DOUBLE_EQ(*histogram_quantile(0.5, h), 1.0);
    EXPECT_DOUBLE_EQ(*histogram_quantile(0.25, h), 0.5);
    EXPECT_DOUBLE_EQ(*histogram_quantile(0.75, h), 1.5);
    // Everything above the highest bound: that bound.
    EXPECT_DOUBLE_EQ(*histogram_quantile(0.9, {{1, 0}, {2, 0}, {HUGE_VAL, 5}}), 2.0);
    EXPECT_FALSE(histogram_quantile(0.5, {{1, 0}, {HUGE_VAL, 0}}));
    EXPECT_FALSE(histogram_quantile(0.5, {}));
}

// A scrape as anteroom writes it, with the figures a test chooses.
std::string scrape(double waiting, double admitted, double wait_le_60, double wait_le_300, double kept, double missed,
                   double answers_2xx, double answers_5xx, double upstream_fast, double upstream_all,
                   double challenges, double automation_ua) {
    auto n = [](double v) { return std::to_string(v); };
    return "anteroom_room_waiting{room=\"portal\"} " + n(waiting) + "\n" +
           "anteroom_room_active{room=\"portal\"} 40\n"
           "anteroom_room_max_active_users{room=\"portal\"} 50\n"
           "anteroom_room_new_users_per_minute{room=\"portal\"} 600\n"
           "anteroom_room_available{room=\"portal\"} -1\n"
           "anteroom_room_admitted_total{room=\"portal\"} " + n(admitted) + "\n" +
           "anteroom_room_eta_kept_total{room=\"portal\"} " + n(kept) + "\n" +
           "anteroom_room_eta_missed_total{room=\"portal\"} " + n(missed) + "\n" +
           "anteroom_room_wait_seconds_bucket{room=\"portal\",le=\"60\"} " + n(wait_le_60) + "\n" +
           "anteroom_room_wait_seconds_bucket{room=\"portal\",le=\"300\"} " + n(wait_le_300) + "\n" +
           "anteroom_room_wait_seconds_bucket{room=\"portal\",le=\"+Inf\"} " + n(wait_le_300) + "\n" +
           "anteroom_requests_total{route=\"/\",class=\"2xx\"} " + n(answers_2xx) + "\n" +
           "anteroom_requests_total{route=\"/\",class=\"5xx\"} " + n(answers_5xx) + "\n" +
           "anteroom_upstream_response_seconds_bucket{upstream=\"a\",le=\"0.01\"} " + n(upstream_fast) + "\n" +
           "anteroom_upstream_response_seconds_bucket{upstream=\"a\",le=\"0.1\"} " + n(upstream_all) + "\n" +
           "anteroom_upstream_response_seconds_bucket{upstream=\"a\",le=\"+Inf\"} " + n(upstream_all) + "\n" +
           "anteroom_bot_decisions_total{action=\"allow\"} 0\n"
           "anteroom_bot_decisions_total{action=\"challenge\"} " + n(challenges) + "\n" +
           "anteroom_bot_reasons_total{reason=\"automation_ua\"} " + n(automation_ua) + "\n" +
           "anteroom_bot_reasons_total{reason=\"empty_ua\"} 0\n";
}

TEST(live_recorder, gauges_as_they_are_and_rates_from_the_growth_over_the_window) {
    live_recorder rec(1800, 60'000);
    const unix_ms t0 = 1'800'000'000'000;
    rec.record(t0, scrape(100, 1000, 10, 10, 5, 0, 1000, 0, 100, 100, 0, 0));
    ASSERT_EQ(rec.size(), 1u);
    // The first sample has no base: no rates, no percentiles.
    EXPECT_EQ(rec.latest()->rooms.at(0).admitted_per_minute, 0);
    EXPECT_FALSE(rec.latest()->rooms.at(0).wait_p50_s);
    EXPECT_FALSE(rec.latest()->error_rate);

    // 30 s later: 300 more admitted (600/min), 20 waits between 60 and 300 s, 9 of 10 ETAs kept,
    // 2 of 200 answers were 5xx, upstream: 100 answers, half under 10 ms.
    rec.record(t0 + 30'000, scrape(80, 1300, 10, 30, 14, 1, 1198, 2, 150, 200, 30, 12));
    const sample& s = *rec.latest();
    ASSERT_EQ(s.rooms.size(), 1u);
    const room_point& p = s.rooms[0];
    EXPECT_EQ(p.id, "portal");
    EXPECT_EQ(p.waiting, 80);
    EXPECT_EQ(p.active, 40);
    EXPECT_EQ(p.max_active_users, 50);
    EXPECT_EQ(p.new_users_per_minute, 600);
    EXPECT_FALSE(p.available);  // -1 = unknown
    EXPECT_DOUBLE_EQ(p.admitted_per_minute, 600);
    EXPECT_DOUBLE_EQ(*p.wait_p50_s, 180);  // half way through the 60..300 bucket
    EXPECT_DOUBLE_EQ(*p.eta_accuracy, 0.9);
    EXPECT_DOUBLE_EQ(s.requests_per_minute, 400);
    EXPECT_DOUBLE_EQ(*s.error_rate, 0.01);
    EXPECT_NEAR(*s.upstream_p50_ms, 10, 1e-9);
    EXPECT_NEAR(*s.upstream_p99_ms, 98.2, 1e-9);  // 0.01 + 0.09 × 49/50 s
    EXPECT_DOUBLE_EQ(s.bots_per_minute[1], 60);   // challenge
    ASSERT_EQ(rec.top_reasons().size(), 1u);
    EXPECT_EQ(rec.top_reasons()[0].reason, "automation_ua");
    EXPECT_DOUBLE_EQ(rec.top_reasons()[0].per_minute, 24);

    const auto j = rec.samples_json(t0);
    ASSERT_EQ(j.size(), 1u);  // only the samples after `since`
    EXPECT_EQ(j[0]["t"], t0 + 30'000);
    EXPECT_EQ(j[0]["rooms"]["portal"]["admitted_per_minute"], 600.0);
    EXPECT_TRUE(j[0]["rooms"]["portal"]["available"].is_null());
    EXPECT_EQ(j[0]["bots"]["challenge"], 60.0);
    EXPECT_EQ(rec.samples_json(0).size(), 2u);
}

TEST(live_recorder, the_window_slides_and_the_history_is_bounded) {
    live_recorder rec(100, 60'000);
    const unix_ms t0 = 1'800'000'000'000;
    // Admissions: 10 per second for the first two minutes, then none.
    for (int i = 0; i <= 300; ++i) {
        const double admitted = 10.0 * std::min(i, 120);
        rec.record(t0 + i * 1000, scrape(0, admitted, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
        if (i == 90) {
            EXPECT_DOUBLE_EQ(rec.latest()->rooms[0].admitted_per_minute, 600);
        }
    }
    EXPECT_EQ(rec.size(), 100u);
    EXPECT_DOUBLE_EQ(rec.latest()->rooms[0].admitted_per_minute, 0);  // nothing in the last minute
    EXPECT_FALSE(rec.latest()->rooms[0].wait_p50_s);                   // nobody admitted: no percentile
    EXPECT_FALSE(rec.latest()->error_rate);                             // no answers: no rate
    // A scrape at or before the last is ignored.
    rec.record(t0 + 300'000, scrape(5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    EXPECT_EQ(rec.latest()->rooms[0].waiting, 0);
}

std::filesystem::path temp_dir(const std::string& name) {
    auto d = std::filesystem::temp_directory_path() /
             ("anteroom-console-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    return d;
}

TEST(audit_log, appends_json_lines_and_reads_them_back_after_a_restart) {
    const auto dir = temp_dir("audit");
    const auto path = (dir / "admin-audit.log").string();
    std::string err;
    {
        audit_log log(3);
        ASSERT_TRUE(log.open(path, err)) << err;
        for (int i = 0; i < 5; ++i) {
            ASSERT_TRUE(log.record({1000 + i, "ops-anna", "console", "change " + std::to_string(i)}, err)) << err;
        }
        const auto j = log.recent_json(10);
        ASSERT_EQ(j.size(), 3u);  // memory keeps the last 3
        EXPECT_EQ(j[0]["what"], "change 4");
        EXPECT_EQ(j[2]["what"], "change 2");
        EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::group_read,
                  std::filesystem::perms::none);
    }
    {
        std::ofstream torn(path, std::ios::app);
        torn << "{\"at\":12";  // a crash in the middle of a line
    }
    audit_log again(10);
    ASSERT_TRUE(again.open(path, err)) << err;
    const auto j = again.recent_json(10);
    ASSERT_EQ(j.size(), 5u);
    EXPECT_EQ(j[0]["who"], "ops-anna");
    EXPECT_EQ(j[0]["via"], "console");
    EXPECT_EQ(j[0]["at"], 1004);
    audit_log nowhere;
    EXPECT_FALSE(nowhere.open((dir / "missing" / "x.log").string(), err));
    EXPECT_NE(err.find("missing"), std::string::npos);
    EXPECT_FALSE(nowhere.record({1, "a", "api", "kept in memory"}, err));
    EXPECT_EQ(nowhere.size(), 1u);
    std::filesystem::remove_all(dir);
}

TEST(session_signer, a_cookie_names_its_token_until_it_expires_or_the_token_changes) {
    const std::array<std::uint8_t, 32> key{1, 2, 3};
    const session_signer signer(key);
    std::vector<named_token> tokens{{"admin", "0123456789abcdef"}, {"ops-anna", "fedcba9876543210x"}};
    const auto cookie = signer.issue(tokens[1], 5000);
    EXPECT_EQ(signer.verify(cookie, tokens, 4999), "ops-anna");
    EXPECT_FALSE(signer.verify(cookie, tokens, 5000));  // expired
    // Another process's key, a changed byte, garbage: not a session.
    const session_signer other(std::array<std::uint8_t, 32>{9});
    EXPECT_FALSE(other.verify(cookie, tokens, 0));
    std::string forged = cookie;
    forged[2] = forged[2] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(signer.verify(forged, tokens, 0));
    EXPECT_FALSE(signer.verify("", tokens, 0));
    EXPECT_FALSE(signer.verify("abc.def", tokens, 0));
    // The token was changed or removed in the file: its sessions end.
    auto rotated = tokens;
    rotated[1].token = "a-new-token-0000000";
    EXPECT_FALSE(signer.verify(cookie, rotated, 0));
    EXPECT_FALSE(signer.verify(cookie, {tokens[0]}, 0));
}

TEST(find_token, finds_the_named_token_that_matches_exactly) {
    std::vector<named_token> tokens{{"admin", "0123456789abcdef"}, {"ops", "fedcba9876543210"}};
    ASSERT_NE(find_token("fedcba9876543210", tokens), nullptr);
    EXPECT_EQ(find_token("fedcba9876543210", tokens)->name, "ops");
    EXPECT_EQ(find_token("fedcba987654321", tokens), nullptr);
    EXPECT_EQ(find_token("", tokens), nullptr);
}

TEST(named_tokens, file_format_and_errors_with_line_numbers) {
    const auto dir = temp_dir("tokens");
    const auto write = [&](const std::string& text) {
        const auto p = (dir / "admin.token").string();
        std::ofstream(p) << text;
        return p;
    };
    std::string err;
    auto t = read_named_tokens(write("0123456789abcdef\n"), "admin token", err);
    ASSERT_TRUE(t) << err;
    ASSERT_EQ(t->size(), 1u);
    EXPECT_EQ((*t)[0].name, "admin");  // a bare token (the old format) is named "admin"
    t = read_named_tokens(write("# launch day\n\nops-anna  0123456789abcdef\r\nops.ben\tfedcba9876543210\n"), "admin token", err);
    ASSERT_TRUE(t) << err;
    ASSERT_EQ(t->size(), 2u);
    EXPECT_EQ((*t)[1].name, "ops.ben");
    EXPECT_EQ((*t)[1].token, "fedcba9876543210");
    const std::vector<std::pair<std::string, std::string>> bad{
        {"a 0123456789abcdef\nb short\n", ":2: admin token must be at least 16 characters"},
        {"Anna 0123456789abcdef\n", ":1: token name must be 1 to 32 characters"},
        {"a 0123456789abcdef\na fedcba9876543210\n", ":2: token name \"a\" appears twice"},
        {"a 0123456789abcdef\nb 0123456789abcdef\n", ":2: the same token appears twice"},
        {"a b 0123456789abcdef\n", ":1: expected `TOKEN` or `NAME TOKEN`"},
        {"# only a comment\n", "holds no token"},
    };
    for (const auto& [text, want] : bad) {
        err.clear();
        EXPECT_FALSE(read_named_tokens(write(text), "admin token", err)) << text;
        EXPECT_NE(err.find(want), std::string::npos) << err;
    }
    EXPECT_FALSE(read_named_tokens((dir / "none").string(), "admin token", err));
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace anteroom::console
