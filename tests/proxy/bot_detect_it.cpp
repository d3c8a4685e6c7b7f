// Bot detection through the proxy over real sockets: a tool is denied and never reaches the
// upstream, a browser passes, a spoofed browser is challenged and a solved challenge lets it
// in once (a replay fails), the no-JavaScript proof of waiting works, deprioritised visitors are
// held back before they get a place and their status polls are answered slowly, dry run acts on
// nothing, the infinite queue never advances, a form sent the moment a visitor is let in is
// challenged, a holder refused at its claiming poll gives the admission back but keeps the place,
// and a flood of distinct addresses does not grow the tables. Scoring itself is unit-tested with a fake clock (tests/bot_detect/).

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "bot_detect/challenge.hpp"
#include "common/http_fields.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/harness.hpp"

namespace anteroom::test {
namespace {

namespace fs = std::filesystem;
using response = http::response<http::string_body>;

constexpr std::string_view chrome_ua =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

// A real Chrome navigation on a secure origin.
std::string browser() {
    return "sec-ch-ua: \"Chromium\";v=\"131\"\r\nUser-Agent: " + std::string(chrome_ua) +
           "\r\nAccept: text/html,*/*;q=0.8\r\nSec-Fetch-Site: none\r\nSec-Fetch-Mode: navigate\r\n"
           "Sec-Fetch-Dest: document\r\nAccept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: de-DE,de;q=0.9\r\n";
}
// Chrome's User-Agent without Sec-Fetch-*: 35 points (challenge band).
std::string no_fetch_metadata(const std::string& accept = "text/html") {
    return "sec-ch-ua: \"Chromium\";v=\"131\"\r\nUser-Agent: " + std::string(chrome_ua) + "\r\nAccept: " + accept +
           "\r\nAccept-Encoding: gzip, br\r\nAccept-Language: de\r\n";
}
// ... and without Sec-CH-UA too: 55 points (deprioritise band).
std::string spoofed(const std::string& accept = "text/html") {
    return "User-Agent: " + std::string(chrome_ua) + "\r\nAccept: " + accept +
           "\r\nAccept-Encoding: gzip, br\r\nAccept-Language: de\r\n";
}
const std::string tool = "User-Agent: curl/8.5.0\r\n";
const std::string json = "application/json";

std::string attribute(const std::string& html, const std::string& name) {
    const auto at = html.find(name + "=\"");
    if (at == std::string::npos) {
        return {};
    }
    const auto from = at + name.size() + 2;
    return html.substr(from, html.find('"', from) - from);
}

std::string solve(const std::string& token, unsigned difficulty) {
    for (std::uint64_t c = 0;; ++c) {
        const auto s = std::to_string(c);
        if (bot_detect::pow_zero_bits(token, s).value_or(0) >= difficulty) {
            return s;
        }
    }
}

class bot_detect_it : public ::testing::Test {
protected:
    bot_detect_it() : dir_(make_temp_dir("anteroom-bots")) {}
    ~bot_detect_it() override {
        px_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    // `room`: a paused room "portal" on /book (queues every visitor); `open_room`: one that
    // lets visitors in at its next tick while it is empty.
    void start(const std::string& bot_extra, bool room = false, bool open_room = false) {
        std::string toml = "state_dir = \"" + (fs::path(dir_) / "state").string() + "\"\n" +
                           "[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n" +
                           upstream_block("[\"" + up_.address() + "\"]") +
                           "\n[bot_detect]\nenabled = true\naction_header = true\nfetch_metadata = \"always\"\n"
                           "difficulty_min = 6\ndifficulty_max = 8\nmax_tracked = 4096\nmax_replay = 4096\n" +
                           bot_extra + "\n";
        if (room) {
            toml += "[[room]]\nid = \"portal\"\npaths = [\"/book\"]\nmode = \"paused\"\n";
        } else if (open_room) {
            toml += "[[room]]\nid = \"portal\"\npaths = [\"/book\"]\nnew_users_per_minute = 6000\n";
        }
        px_ = std::make_unique<proxy_under_test>(toml);
    }
    std::uint16_t port() const { return px_->port(); }
    // A browser's place in the open room, once the room has admitted it (waited for on the
    // admin listener: polls sooner than the refresh told would score as a bot). "" on failure.
    std::string admitted_ticket() {
        const double admitted = std::max(0.0, metric("anteroom_room_admitted_total{room=\"portal\"}"));
        const auto page = get(port(), "/book", browser());
        const auto ticket = page ? set_cookie_value(*page, "anteroom_ticket_portal") : std::nullopt;
        if (!ticket || ticket->empty() ||
            !eventually([&] { return metric("anteroom_room_admitted_total{room=\"portal\"}") > admitted; },
                        std::chrono::seconds(30))) {
            return {};
        }
        return *ticket;
    }
    double metric(const std::string& series) {
        return metric_value(scrape_metrics(px_->admin_port()), series).value_or(-1);
    }

    fake_upstream up_;
    std::string dir_;
    std::unique_ptr<proxy_under_test> px_;
};

TEST_F(bot_detect_it, a_tool_is_denied_and_never_reaches_the_upstream_while_a_browser_passes) {
    start("");
    const double denied_before = metric("anteroom_bot_decisions_total{action=\"deny\"}");
    const auto r = get(port(), "/book", tool);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 403);
    EXPECT_EQ((*r)["Anteroom-Action"], "deny");
    EXPECT_EQ(up_.request_count(), 0u);
    EXPECT_EQ(metric("anteroom_bot_decisions_total{action=\"deny\"}"), denied_before + 1);
    EXPECT_GE(metric("anteroom_bot_reasons_total{reason=\"automation_ua\"}"), 1);

    const auto ok = get(port(), "/book", browser());
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->result_int(), 200);
    EXPECT_EQ((*ok)["Anteroom-Action"], "");
    EXPECT_EQ(up_.request_count(), 1u);
}

TEST_F(bot_detect_it, a_solved_challenge_admits_once_and_a_replay_fails) {
    start("");
    const auto c = get(port(), "/book/slots?day=2", no_fetch_metadata());
    ASSERT_TRUE(c);
    EXPECT_EQ(c->result_int(), 429);
    EXPECT_EQ((*c)["Anteroom-Action"], "challenge");
    EXPECT_EQ((*c)[http::field::cache_control], "no-store");
    const std::string token = attribute(c->body(), "data-token");
    const unsigned difficulty = static_cast<unsigned>(std::stoul(attribute(c->body(), "data-difficulty")));
    ASSERT_FALSE(token.empty()) << c->body();
    EXPECT_GE(difficulty, 6u);
    EXPECT_EQ(up_.request_count(), 0u);

    // A wrong answer is refused with a fresh challenge.
    const auto wrong = get(port(), "/_anteroom/challenge?token=" + token + "&solution=x&return=%2Fbook", no_fetch_metadata());
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->result_int(), 403);
    EXPECT_FALSE(attribute(wrong->body(), "data-token").empty());

    const std::string answer = "/_anteroom/challenge?token=" + token + "&solution=" + solve(token, difficulty) +
                               "&return=" + url_encode_component("/book/slots?day=2");
    const auto passed = get(port(), answer, no_fetch_metadata());
    ASSERT_TRUE(passed);
    EXPECT_EQ(passed->result_int(), 303);
    EXPECT_EQ((*passed)[http::field::location], "/book/slots?day=2");
    const auto clearance = set_cookie_value(*passed, "anteroom_clear");
    ASSERT_TRUE(clearance && !clearance->empty());

    const auto in = get(port(), "/book/slots?day=2", no_fetch_metadata() + "Cookie: anteroom_clear=" + *clearance + "\r\n");
    ASSERT_TRUE(in);
    EXPECT_EQ(in->result_int(), 200);
    EXPECT_EQ(up_.request_count(), 1u);

    // The same solution again: refused (JSON tells why).
    const auto replay = get(port(), answer, no_fetch_metadata(json));
    ASSERT_TRUE(replay);
    EXPECT_EQ(replay->result_int(), 403);
    EXPECT_EQ(nlohmann::json::parse(replay->body(), nullptr, false)["code"], "replayed");
    // The clearance is bound to the client: another User-Agent cannot use it.
    const auto stolen = get(port(), "/book", tool + "Cookie: anteroom_clear=" + *clearance + "\r\n");
    ASSERT_TRUE(stolen);
    EXPECT_EQ(stolen->result_int(), 403);
}

TEST_F(bot_detect_it, json_clients_get_the_challenge_as_json) {
    start("");
    const auto c = get(port(), "/_anteroom/status?room=portal", no_fetch_metadata(json));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->result_int(), 429);
    const auto j = nlohmann::json::parse(c->body(), nullptr, false);
    EXPECT_EQ(j["state"], "challenge");
    EXPECT_EQ(j["submit"], "/_anteroom/challenge");
    ASSERT_TRUE(j["token"].is_string());
    const auto solved = get(port(),
                            "/_anteroom/challenge?token=" + j["token"].get<std::string>() + "&solution=" +
                                solve(j["token"], j["difficulty"].get<unsigned>()),
                            no_fetch_metadata(json));
    ASSERT_TRUE(solved);
    EXPECT_EQ(solved->result_int(), 200);
    EXPECT_TRUE(set_cookie_value(*solved, "anteroom_clear"));
}

TEST_F(bot_detect_it, browsers_without_javascript_get_in_by_waiting) {
    start("nojs_delay = \"0s\"\n");
    const auto c = get(port(), "/book", no_fetch_metadata());
    ASSERT_TRUE(c);
    ASSERT_EQ(c->result_int(), 429);
    // <noscript><meta http-equiv="refresh" content="0;url=/_anteroom/challenge?wait=…">
    const auto at = c->body().find("url=/_anteroom/challenge?wait=");
    ASSERT_NE(at, std::string::npos) << c->body();
    std::string url = c->body().substr(at + 4, c->body().find('"', at) - at - 4);
    for (std::size_t p = url.find("&amp;"); p != std::string::npos; p = url.find("&amp;")) {
        url.replace(p, 5, "&");
    }
    const auto passed = get(port(), url, no_fetch_metadata());
    ASSERT_TRUE(passed);
    EXPECT_EQ(passed->result_int(), 303);
    EXPECT_TRUE(set_cookie_value(*passed, "anteroom_clear"));
    // A forged wait token is refused.
    const auto forged = get(port(), "/_anteroom/challenge?wait=AAAA&return=%2F", no_fetch_metadata(json));
    ASSERT_TRUE(forged);
    EXPECT_EQ(forged->result_int(), 403);
}

TEST_F(bot_detect_it, deprioritised_visitors_wait_for_a_place_and_their_polls_are_slow) {
    start("deprioritise_penalty = \"0s\"\nslow_status = \"300ms\"\n", true);
    const double holds = metric("anteroom_bot_holds_total");
    const auto first = get(port(), "/book", spoofed());
    ASSERT_TRUE(first);
    EXPECT_EQ((*first)["Anteroom-Action"], "deprioritise");
    EXPECT_FALSE(set_cookie_value(*first, "anteroom_ticket_portal"));  // no place yet
    const auto hold = set_cookie_value(*first, "anteroom_hold");
    ASSERT_TRUE(hold && !hold->empty());
    EXPECT_EQ(metric("anteroom_bot_holds_total"), holds + 1);

    // Back after the penalty (0 s here): a place at the end of the line.
    const auto second = get(port(), "/book", spoofed() + "Cookie: anteroom_hold=" + *hold + "\r\n");
    ASSERT_TRUE(second);
    const auto ticket = set_cookie_value(*second, "anteroom_ticket_portal");
    ASSERT_TRUE(ticket && !ticket->empty());

    const auto t0 = std::chrono::steady_clock::now();
    const auto poll = get(port(), "/_anteroom/status?room=portal",
                          spoofed(json) + "Cookie: anteroom_ticket_portal=" + *ticket + "\r\n");
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(poll);
    EXPECT_EQ(poll->result_int(), 200);
    EXPECT_GE(took, std::chrono::milliseconds(300));
    EXPECT_EQ(nlohmann::json::parse(poll->body(), nullptr, false)["state"], "paused");
}

TEST_F(bot_detect_it, dry_run_decides_and_counts_but_acts_on_nothing) {
    start("dry_run = true\n");
    const double denied = metric("anteroom_bot_decisions_total{action=\"deny\"}");
    const auto r = get(port(), "/book", tool);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 200);
    EXPECT_EQ((*r)["Anteroom-Action"], "");
    EXPECT_EQ(up_.request_count(), 1u);
    EXPECT_EQ(metric("anteroom_bot_decisions_total{action=\"deny\"}"), denied + 1);
    EXPECT_EQ(metric("anteroom_bot_dry_run"), 1);
}

TEST_F(bot_detect_it, the_infinite_queue_never_advances_and_hands_out_no_place) {
    start("infinite_queue_at = 85\n", true);
    const auto page = get(port(), "/book", tool + "Accept: application/json\r\n");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->result_int(), 200);
    EXPECT_FALSE(set_cookie_value(*page, "anteroom_ticket_portal"));
    const auto j = nlohmann::json::parse(page->body(), nullptr, false);
    EXPECT_EQ(j["state"], "queued");
    EXPECT_GE(j["position"].get<int>(), 4000);
    const auto poll = get(port(), "/_anteroom/status?room=portal", tool + "Accept: application/json\r\n");
    ASSERT_TRUE(poll);
    EXPECT_EQ(nlohmann::json::parse(poll->body(), nullptr, false)["position"], j["position"]);
    // Outside any room there is no line to stand in: denied.
    const auto other = get(port(), "/elsewhere", tool);
    ASSERT_TRUE(other);
    EXPECT_EQ(other->result_int(), 403);
    EXPECT_EQ(up_.request_count(), 0u);
}

// The registration a script sends the moment it is let in is challenged; the same request with
// the signal off reaches the portal. (The 1 s default is tested with a fake clock; here the limit
// is 60 s so a slow machine cannot make the form look slow.)
TEST_F(bot_detect_it, a_form_sent_at_once_after_admission_is_challenged) {
    for (const bool on : {true, false}) {
        SCOPED_TRACE(on ? "min_form_time 60s" : "min_form_time 0ms");
        start(std::string("[bot_detect.limits]\nmin_form_time = \"") + (on ? "60s" : "0ms") + "\"\n", false, true);
        const double fast = metric("anteroom_bot_reasons_total{reason=\"fast_form\"}");
        const std::size_t upstream_before = up_.request_count();
        const std::string ticket = admitted_ticket();  // the empty room lets it in at its next tick
        ASSERT_FALSE(ticket.empty());
        const auto poll =
            get(port(), "/_anteroom/status?room=portal",
                browser() + "Accept: application/json\r\nCookie: anteroom_ticket_portal=" + ticket + "\r\n");
        ASSERT_TRUE(poll);
        ASSERT_EQ(poll->result_int(), 200) << poll->body();
        const auto pass = set_cookie_value(*poll, "anteroom_pass_portal");
        ASSERT_TRUE(pass.has_value()) << poll->body();
        ASSERT_FALSE(pass->empty());

        raw_client c(port());
        const std::string body = R"({"centre":"c1","day":"2026-12-14"})";
        c.send("POST /book/register HTTP/1.1\r\nHost: t\r\n" + browser() + "Content-Type: application/json\r\n" +
               "Content-Length: " + std::to_string(body.size()) + "\r\nCookie: anteroom_pass_portal=" + *pass +
               "\r\n\r\n" + body);
        const auto r = c.read_response();
        ASSERT_TRUE(r) << c.ec().message();
        if (on) {
            EXPECT_EQ(r->result_int(), 429);
            EXPECT_EQ((*r)["Anteroom-Action"], "challenge");
            EXPECT_EQ(up_.request_count(), upstream_before);
            EXPECT_EQ(metric("anteroom_bot_reasons_total{reason=\"fast_form\"}"), fast + 1);
        } else {
            EXPECT_EQ(r->result_int(), 200);
            EXPECT_EQ((*r)["Anteroom-Action"], "");
            ASSERT_EQ(up_.request_count(), upstream_before + 1);
            EXPECT_EQ(up_.requests().back().target, "/book/register");
            EXPECT_EQ(metric("anteroom_bot_reasons_total{reason=\"fast_form\"}"), fast);
        }
        px_.reset();
    }
}

// Caught at the very poll that would have claimed its place: the admission goes back to the
// room's rate, and the place stays claimable — the visitor solves the challenge, polls again
// and gets its pass.
TEST_F(bot_detect_it, a_holder_refused_at_the_claiming_poll_gives_the_admission_back_and_keeps_the_place) {
    // Polls sooner than the refresh told are not what this is about (the test polls at once).
    start("[bot_detect.signals]\nearly_polls = false\n", false, true);
    const std::string returned = "anteroom_room_admissions_returned_total{room=\"portal\"}";
    const double returned_before = std::max(0.0, metric(returned));
    const std::string ticket = admitted_ticket();
    ASSERT_FALSE(ticket.empty());
    const std::string cookie = "Cookie: anteroom_ticket_portal=" + ticket + "\r\n";
    const auto caught = get(port(), "/_anteroom/status?room=portal", no_fetch_metadata(json) + cookie);
    ASSERT_TRUE(caught);
    EXPECT_EQ(caught->result_int(), 429);
    EXPECT_EQ((*caught)["Anteroom-Action"], "challenge");
    EXPECT_FALSE(set_cookie_value(*caught, "anteroom_pass_portal"));
    EXPECT_EQ(metric(returned), returned_before + 1);

    // The person solves the challenge and polls again with the clearance it got.
    const auto j = nlohmann::json::parse(caught->body(), nullptr, false);
    ASSERT_TRUE(j["token"].is_string()) << caught->body();
    const auto solved = get(port(),
                            "/_anteroom/challenge?token=" + j["token"].get<std::string>() + "&solution=" +
                                solve(j["token"], j["difficulty"].get<unsigned>()),
                            no_fetch_metadata(json));
    ASSERT_TRUE(solved);
    const auto clearance = set_cookie_value(*solved, "anteroom_clear");
    ASSERT_TRUE(clearance && !clearance->empty());
    const auto back = get(port(), "/_anteroom/status?room=portal",
                          no_fetch_metadata(json) + "Cookie: anteroom_ticket_portal=" + ticket +
                              "; anteroom_clear=" + *clearance + "\r\n");
    ASSERT_TRUE(back);
    ASSERT_EQ(back->result_int(), 200) << back->body();
    EXPECT_EQ(nlohmann::json::parse(back->body(), nullptr, false)["state"], "admitted");
    const auto pass = set_cookie_value(*back, "anteroom_pass_portal");
    EXPECT_TRUE(pass && !pass->empty());
    EXPECT_EQ(metric(returned), returned_before + 1);  // once per place
}

TEST_F(bot_detect_it, a_flood_of_distinct_addresses_does_not_grow_the_tables) {
    start("");
    const double bytes = metric("anteroom_bot_table_bytes");
    ASSERT_GT(bytes, 0);
    // 6,000 requests from distinct addresses (X-Forwarded-For from a trusted proxy) against
    // tables of 4,096 entries each, 500 per keep-alive connection.
    std::unique_ptr<raw_client> c;
    const int n = 6000;
    for (int i = 0; i < n; ++i) {
        if (i % 500 == 0) {
            c = std::make_unique<raw_client>(port());
        }
        const std::string xff = "10." + std::to_string(i / 65536) + "." + std::to_string((i / 256) % 256) + "." +
                                std::to_string(i % 256);
        c->send("GET /x HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: " + xff + "\r\n" + tool + "\r\n");
        const auto r = c->read_response();
        ASSERT_TRUE(r) << i;
        ASSERT_EQ(r->result_int(), 403);
    }
    EXPECT_EQ(metric("anteroom_bot_table_bytes"), bytes);
    EXPECT_EQ(up_.request_count(), 0u);
}

}  // namespace
}  // namespace anteroom::test
