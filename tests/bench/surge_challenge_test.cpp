// How surge visitors answer a proof-of-work challenge (docs/bot-detection.md): the challenge
// read from the page and from JSON, the counter found, the browser's time, the form submitted, and
// the solves_challenges cohort key.

#include "bench/tool/surge_challenge.hpp"

#include <gtest/gtest.h>

#include "bench/tool/scenario.hpp"
#include "bench/tool/surge_http.hpp"
#include "bot_detect/challenge_page.hpp"
#include "common/crypto.hpp"
#include "common/http_fields.hpp"

namespace anteroom::bench {

namespace {

constexpr std::string_view token = "dG9rZW4tZm9yLXRoZS1iZW5jaA_-";

std::string page(std::string_view ret) {
    bot_detect::challenge_page_ctx c;
    c.token = token;
    c.difficulty = 10;
    c.return_path = ret;
    c.nojs_url = "/_anteroom/challenge?wait=x&return=%2F";
    c.nojs_seconds = 15;
    return bot_detect::render_challenge_page(c);
}

}  // namespace

TEST(SurgeChallenge, ReadsTheRenderedPage) {
    const auto ch = parse_challenge(page("/book?centre=3&day=\"mon\""));
    ASSERT_TRUE(ch);
    EXPECT_EQ(ch->token, token);
    EXPECT_EQ(ch->difficulty, 10u);
    EXPECT_EQ(ch->return_path, "/book?centre=3&day=\"mon\"");  // character references decoded
}

TEST(SurgeChallenge, ReadsAHandWrittenFormAndRefusesOthers) {
    const std::string html =
        "<p>x</p><form id=\"anteroom-challenge\" method=\"post\" action=\"/_anteroom/challenge\" data-token=\"abc_-1\" "
        "data-difficulty=\"7\">\n<input type=\"hidden\" name=\"token\" value=\"abc_-1\">\n<input type=\"hidden\" "
        "name=\"solution\" value=\"\">\n<input type=\"hidden\" name=\"return\" value=\"/a?b=1&amp;c=2\">\n</form>";
    const auto ch = parse_challenge_html(html);
    ASSERT_TRUE(ch);
    EXPECT_EQ(ch->token, "abc_-1");
    EXPECT_EQ(ch->difficulty, 7u);
    EXPECT_EQ(ch->return_path, "/a?b=1&c=2");
    EXPECT_FALSE(parse_challenge_html("<html>waiting page</html>"));
    EXPECT_FALSE(parse_challenge_html(
        "<form id=\"anteroom-challenge\" data-token=\"a b\" data-difficulty=\"7\"></form>"));  // not base64url
    EXPECT_FALSE(parse_challenge_html("<form id=\"anteroom-challenge\" data-token=\"ab\" data-difficulty=\"x\"></form>"));
    EXPECT_FALSE(parse_challenge_html("<form id=\"anteroom-challenge\" data-token=\"ab\""));  // cut off
}

TEST(SurgeChallenge, ReadsTheJsonAnswer) {
    const auto ch = parse_challenge(
        R"({"state":"challenge","token":"Tok-_9","difficulty":12,"submit":"/_anteroom/challenge","return":"/book?x=1"})");
    ASSERT_TRUE(ch);
    EXPECT_EQ(ch->token, "Tok-_9");
    EXPECT_EQ(ch->difficulty, 12u);
    EXPECT_EQ(ch->return_path, "/book?x=1");
    EXPECT_FALSE(parse_challenge(R"({"state":"queued","position":3})"));
    EXPECT_FALSE(parse_challenge(R"({"state":"challenge","token":"T","difficulty":-1})"));
    EXPECT_FALSE(parse_challenge(R"({"state":"challenge","token":7,"difficulty":3})"));
    EXPECT_FALSE(parse_challenge("{not json"));
}

TEST(SurgeChallenge, SolutionHasTheLeadingZeroBits) {
    for (unsigned difficulty : {0u, 1u, 8u, 14u}) {
        std::uint64_t hashes = 0;
        const auto sol = solve_challenge(token, difficulty, challenge_max_tries(difficulty), hashes);
        ASSERT_TRUE(sol) << difficulty;
        EXPECT_EQ(hashes, sol->counter + 1);
        // Checked with the project's own SHA-256, on the exact string the protocol names.
        const auto d = crypto::sha256(std::string(token) + ":" + std::to_string(sol->counter));
        std::uint8_t raw[32];
        std::copy(d.begin(), d.end(), raw);
        EXPECT_GE(leading_zero_bits(raw), difficulty);
        if (sol->counter > 0) {  // and it is the first one
            const auto before = crypto::sha256(std::string(token) + ":" + std::to_string(sol->counter - 1));
            std::copy(before.begin(), before.end(), raw);
            EXPECT_LT(leading_zero_bits(raw), difficulty);
        }
    }
    std::uint64_t hashes = 0;
    EXPECT_FALSE(solve_challenge(token, 40, 1000, hashes));  // gives up after max_tries
    EXPECT_EQ(hashes, 1000u);
    std::atomic<bool> stop{true};
    EXPECT_FALSE(solve_challenge(token, 40, 1'000'000, hashes, &stop));
    EXPECT_LT(hashes, 70'000u);
}

TEST(SurgeChallenge, LeadingZeroBitsCountFromTheTopOfByteZero) {
    std::uint8_t d[32] = {};
    EXPECT_EQ(leading_zero_bits(d), 256u);
    d[0] = 0x80;
    EXPECT_EQ(leading_zero_bits(d), 0u);
    d[0] = 0x01;
    EXPECT_EQ(leading_zero_bits(d), 7u);
    d[0] = 0;
    d[1] = 0x20;
    EXPECT_EQ(leading_zero_bits(d), 10u);
}

TEST(SurgeChallenge, BrowserTimeFollowsTheDifficulty) {
    EXPECT_EQ(browser_solve_ms(4, 0.5), 300u);  // at least 300 ms
    EXPECT_EQ(browser_solve_ms(4, 0.0), 210u);  // jittered by ±30 %
    EXPECT_EQ(browser_solve_ms(20, 0.5), 5242u);  // 2^20 / 200,000 per second
    EXPECT_LT(browser_solve_ms(20, 0.0), browser_solve_ms(20, 1.0));
}

TEST(SurgeChallenge, SubmitTargetIsUrlEncoded) {
    challenge_info ch{"Tok-_9", 12, "/book?x=1&y=ä b"};
    const auto target = challenge_submit_target(ch, 4711);
    EXPECT_EQ(target, "/_anteroom/challenge?token=Tok-_9&solution=4711&return=%2Fbook%3Fx%3D1%26y%3D%C3%A4%20b");
    // What the server reads back with its own query parser.
    EXPECT_EQ(query_param(target, "return"), "/book?x=1&y=ä b");
    EXPECT_EQ(query_param(target, "solution"), "4711");
    EXPECT_EQ(query_param(target, "token"), "Tok-_9");
}

TEST(SurgeChallenge, SubmitIsABrowserFormNavigation) {
    target_endpoint to{"127.0.0.1", 8080, "127.0.0.1:8080", "/book"};
    request_spec r;
    r.kind = request_kind::form_submit;
    r.path = "/_anteroom/challenge?token=a&solution=1&return=%2F";
    r.cookies = "anteroom_ticket_portal=t";
    std::string out;
    build_request(out, cohort_kind::human, to, r);
    EXPECT_TRUE(out.starts_with("GET /_anteroom/challenge?token=a&solution=1&return=%2F HTTP/1.1\r\n")) << out;
    for (auto h : {"Accept: text/html", "Sec-Fetch-Site: same-origin\r\n", "Sec-Fetch-Mode: navigate\r\n",
                   "Sec-Fetch-Dest: document\r\n", "Referer: http://127.0.0.1:8080/book\r\n",
                   "Cookie: anteroom_ticket_portal=t\r\n", "sec-ch-ua: ", "Upgrade-Insecure-Requests: 1\r\n"}) {
        EXPECT_NE(out.find(h), std::string::npos) << h << "\n" << out;
    }
    EXPECT_EQ(out.find("Sec-Fetch-User"), std::string::npos);  // a script's submit, no user activation
    EXPECT_EQ(out.find("Content-"), std::string::npos);         // no body
    EXPECT_TRUE(out.ends_with("\r\n\r\n"));
}

TEST(SurgeChallenge, HumansSolveByDefaultBotsDoNot) {
    const std::string text = R"(name = "t"
[target]
url = "http://127.0.0.1:8080/book"
[[cohort]]
name = "people"
kind = "human"
count = 5
[[cohort]]
name = "net"
kind = "botnet"
count = 5
[[cohort]]
name = "solver"
kind = "botnet"
count = 5
solves_challenges = true
[[cohort]]
name = "stubborn"
kind = "human"
count = 5
solves_challenges = false
)";
    const auto r = parse_scenario(text, "t.toml");
    ASSERT_TRUE(r.sc) << r.errors.front();
    EXPECT_TRUE(r.sc->cohorts[0].solves_challenges);
    EXPECT_FALSE(r.sc->cohorts[1].solves_challenges);
    EXPECT_TRUE(r.sc->cohorts[2].solves_challenges);
    EXPECT_FALSE(r.sc->cohorts[3].solves_challenges);
    const auto bad = parse_scenario(text.substr(0, text.rfind("false")) + "\"no\"\n", "t.toml");
    EXPECT_FALSE(bad.sc);
}

}  // namespace anteroom::bench
