// The bot detector without sockets: header facts, each signal, scoring, decay, bands, the
// bounded tables, the surge detector, and challenge tokens with a fake clock.

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bot_detect/challenge.hpp"
#include "bot_detect/detector.hpp"
#include "bot_detect/tls_family.hpp"
#include "common/crypto.hpp"

namespace anteroom::bot_detect {
namespace {

constexpr std::string_view chrome_ua =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
constexpr std::string_view firefox_ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
constexpr std::string_view safari_ua =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";

using headers = std::vector<header_ref>;

headers chrome_navigation() {
    return {{"Host", "portal.example"},
            {"Connection", "keep-alive"},
            {"sec-ch-ua", "\"Chromium\";v=\"131\""},
            {"sec-ch-ua-mobile", "?0"},
            {"Upgrade-Insecure-Requests", "1"},
            {"User-Agent", chrome_ua},
            {"Accept", "text/html,*/*;q=0.8"},
            {"Sec-Fetch-Site", "none"},
            {"Sec-Fetch-Mode", "navigate"},
            {"Sec-Fetch-User", "?1"},
            {"Sec-Fetch-Dest", "document"},
            {"Accept-Encoding", "gzip, deflate, br, zstd"},
            {"Accept-Language", "de-DE,de;q=0.9"}};
}

headers firefox_navigation() {
    return {{"Host", "portal.example"},
            {"User-Agent", firefox_ua},
            {"Accept", "text/html"},
            {"Accept-Language", "de,en-US;q=0.7"},
            {"Accept-Encoding", "gzip, deflate, br, zstd"},
            {"Connection", "keep-alive"},
            {"Upgrade-Insecure-Requests", "1"},
            {"Sec-Fetch-Dest", "document"},
            {"Sec-Fetch-Mode", "navigate"},
            {"Sec-Fetch-Site", "none"}};
}

bot_detect_config base_config() {
    bot_detect_config c;
    c.enabled = true;
    c.max_tracked = 4096;
    c.max_replay = 4096;
    return c;
}

ip_address ip(std::string_view text) { return *parse_ip(text); }

request_input input(const headers& h, std::string_view client, unix_ms now, std::uint64_t visitor = 0,
                    bool poll = false) {
    request_input in;
    in.headers = h;
    in.path = poll ? "/_anteroom/status" : "/";
    in.client = ip(client);
    in.visitor = visitor;
    in.status_poll = poll;
    in.secure_origin = true;
    in.now = now;
    return in;
}

constexpr unix_ms t0 = 1'800'000'000'000;

TEST(BotFacts, ClassifiesUserAgents) {
    EXPECT_EQ(classify_user_agent(chrome_ua), ua_family::chromium);
    EXPECT_EQ(classify_user_agent(firefox_ua), ua_family::firefox);
    EXPECT_EQ(classify_user_agent(safari_ua), ua_family::safari);
    EXPECT_EQ(classify_user_agent(""), ua_family::none);
    EXPECT_EQ(classify_user_agent("curl/8.5.0"), ua_family::automation);
    EXPECT_EQ(classify_user_agent("python-requests/2.31.0"), ua_family::automation);
    EXPECT_EQ(classify_user_agent("Go-http-client/1.1"), ua_family::automation);
    EXPECT_EQ(classify_user_agent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                                  "HeadlessChrome/131.0.0.0 Safari/537.36"),
              ua_family::automation);
    EXPECT_EQ(classify_user_agent("VaccApp/2.1 (Android)"), ua_family::unknown);
}

TEST(BotFacts, HeaderPresenceAndOrder) {
    const auto h = chrome_navigation();
    const auto f = extract_facts(h);
    EXPECT_EQ(f.family, ua_family::chromium);
    EXPECT_EQ(f.present & has::fetch_all, has::fetch_all);
    EXPECT_NE(f.present & has::sec_ch_ua, 0);
    EXPECT_NE(f.present & has::br, 0);
    EXPECT_STREQ(f.order, "UAFEL");
    EXPECT_TRUE(order_matches(ua_family::chromium, f.order));
    EXPECT_FALSE(order_matches(ua_family::firefox, f.order));
    const auto ff = extract_facts(firefox_navigation());
    EXPECT_STREQ(ff.order, "UALEF");
    EXPECT_TRUE(order_matches(ua_family::firefox, ff.order));
    // Missing letters are fine as long as the present ones keep their order.
    EXPECT_TRUE(order_matches(ua_family::chromium, "UAE"));
    EXPECT_FALSE(order_matches(ua_family::chromium, "ELA"));
    // The signature depends on names and order, not on values.
    auto h2 = h;
    h2[1].value = "close";
    EXPECT_EQ(extract_facts(h2).header_signature, f.header_signature);
    std::swap(h2[5], h2[6]);
    EXPECT_NE(extract_facts(h2).header_signature, f.header_signature);
}

TEST(BotScore, RealBrowsersScoreZero) {
    const auto c = base_config();
    detector d(c);
    for (const auto& h : {chrome_navigation(), firefox_navigation()}) {
        const auto r = d.evaluate(c, input(h, "198.51.100.7", t0));
        EXPECT_EQ(r.score, 0) << reasons_text(r.reasons);
        EXPECT_EQ(r.action, band::allow);
    }
}

TEST(BotScore, AutomationUserAgentIsDenied) {
    const auto c = base_config();
    detector d(c);
    const headers h{{"Host", "x"}, {"User-Agent", "python-requests/2.31.0"}, {"Accept", "*/*"}};
    const auto r = d.evaluate(c, input(h, "203.0.113.9", t0));
    EXPECT_EQ(r.action, band::deny);
    EXPECT_EQ(r.reasons & reason::automation_ua, reason::automation_ua);
    EXPECT_EQ(reasons_text(r.reasons), "automation_ua");
}

TEST(BotScore, SpoofedBrowserWithoutCompanionHeaders) {
    const auto c = base_config();
    detector d(c);
    const headers h{{"Host", "x"}, {"User-Agent", chrome_ua}, {"Accept", "text/html"}, {"Accept-Encoding", "gzip"}};
    const auto r = d.evaluate(c, input(h, "203.0.113.9", t0));
    EXPECT_EQ(r.reasons & reason::missing_fetch_metadata, reason::missing_fetch_metadata);
    EXPECT_EQ(r.reasons & reason::missing_client_hints, reason::missing_client_hints);
    EXPECT_EQ(r.reasons & reason::missing_accept_language, reason::missing_accept_language);
    EXPECT_EQ(r.reasons & reason::accept_encoding, reason::accept_encoding);  // no br on a secure origin
    EXPECT_EQ(r.score, 35 + 20 + 20 + 15);
    EXPECT_EQ(r.action, band::deny);
}

TEST(BotScore, FetchMetadataOnlyExpectedFromSecureOrigins) {
    const auto c = base_config();
    detector d(c);
    headers h{{"Host", "x"}, {"User-Agent", chrome_ua}, {"Accept", "text/html"},
              {"Accept-Encoding", "gzip, deflate"}, {"Accept-Language", "de"}};
    auto in = input(h, "203.0.113.9", t0);
    in.secure_origin = false;  // plain HTTP: Chrome sends neither Sec-Fetch-* nor br
    EXPECT_EQ(d.evaluate(c, in).score, 0);
    in.secure_origin = true;
    EXPECT_EQ(d.evaluate(c, in).score, 35 + 20 + 15);
}

TEST(BotScore, WeightZeroSwitchesASignalOff) {
    auto c = base_config();
    c.weights.automation_ua = 0;
    detector d(c);
    const headers h{{"User-Agent", "curl/8.5.0"}};
    EXPECT_EQ(d.evaluate(c, input(h, "203.0.113.9", t0)).score, 0);
}

TEST(BotScore, HeaderOrderAgainstClaimedFamily) {
    const auto c = base_config();
    detector d(c);
    // Firefox's User-Agent with Chrome's header order.
    auto h = chrome_navigation();
    h[5].value = firefox_ua;
    h.erase(h.begin() + 2, h.begin() + 4);  // no sec-ch-ua from Firefox
    const auto r = d.evaluate(c, input(h, "203.0.113.9", t0));
    EXPECT_EQ(r.reasons, reason::header_order);
    EXPECT_EQ(r.score, 15);
}

TEST(BotScore, TicketFarmingPerAddressButNeverDenyOnAddressAlone) {
    auto c = base_config();
    c.weights.ticket_farming = 100;  // even at full weight the address alone stays below deny
    detector d(c);
    const auto h = chrome_navigation();
    const auto sig = extract_facts(h).header_signature;
    unix_ms now = t0 - t0 % 60'000;
    for (int i = 0; i < 60; ++i) {
        d.observe(c, {.client = ip("192.0.2.10"), .ticket_issued = true, .header_signature = sig, .now = now + i * 100});
    }
    const auto r = d.evaluate(c, input(h, "192.0.2.10", now + 6'000));
    EXPECT_EQ(r.reasons & reason::ticket_farming, reason::ticket_farming);
    EXPECT_EQ(r.score, c.deny_at - 1);
    EXPECT_EQ(r.action, band::deprioritise);
    // A neighbour in the same /24 without tickets of its own is not affected by the address signal.
    EXPECT_EQ(d.evaluate(c, input(h, "192.0.2.11", now + 6'000)).reasons & reason::ticket_farming, 0u);
}

TEST(BotScore, StoredScoreDecaysWithHalfLife) {
    auto c = base_config();
    c.score_half_life = std::chrono::seconds(60);
    detector d(c);
    const auto h = chrome_navigation();
    unix_ms now = t0 - t0 % 60'000;
    for (int i = 0; i < 41; ++i) {
        d.observe(c, {.client = ip("192.0.2.10"), .ticket_issued = true, .now = now});
    }
    EXPECT_EQ(d.evaluate(c, input(h, "192.0.2.10", now + 1'000)).score, 35);
    // Two windows later the farming has stopped; the stored score halves per minute.
    EXPECT_EQ(d.evaluate(c, input(h, "192.0.2.10", now + 121'000)).score, 9);  // 35 / 4 = 8.75
    EXPECT_EQ(d.evaluate(c, input(h, "192.0.2.10", now + 361'000)).score, 1);
    EXPECT_EQ(d.evaluate(c, input(h, "192.0.2.10", now + 3'600'000)).score, 0);
}

TEST(BotScore, EarlyAndClockworkPolls) {
    const auto c = base_config();
    detector d(c);
    const auto h = chrome_navigation();
    const std::uint64_t bot = visitor_key("ticket-of-a-script");
    const std::uint64_t human = visitor_key("ticket-of-a-person");
    d.observe(c, {.client = ip("192.0.2.1"), .visitor = bot, .ticket_issued = true, .refresh_told_s = 5, .now = t0});
    d.observe(c, {.client = ip("192.0.2.2"), .visitor = human, .ticket_issued = true, .refresh_told_s = 5, .now = t0});
    // The script polls exactly every 5 s, the person at 5 s ± 20 %.
    const int jitter_ms[] = {700, -900, 300, -400, 950, -200, 600};
    decision bot_r;
    decision human_r;
    unix_ms hb = t0;
    for (int i = 1; i <= 7; ++i) {
        bot_r = d.evaluate(c, input(h, "192.0.2.1", t0 + i * 5'000, bot, true));
        hb += 5'000 + jitter_ms[i - 1];
        human_r = d.evaluate(c, input(h, "192.0.2.2", hb, human, true));
    }
    EXPECT_EQ(bot_r.reasons & reason::regular_polls, reason::regular_polls);
    EXPECT_GE(bot_r.score, c.challenge_at);
    EXPECT_EQ(human_r.score, 0) << reasons_text(human_r.reasons);

    // A hammerer polls every 500 ms though told 5 s.
    const std::uint64_t hammer = visitor_key("ticket-of-a-hammerer");
    d.observe(c, {.client = ip("192.0.2.3"), .visitor = hammer, .ticket_issued = true, .refresh_told_s = 5, .now = t0});
    decision r;
    for (int i = 1; i <= 3; ++i) {
        r = d.evaluate(c, input(h, "192.0.2.3", t0 + i * 500, hammer, true));
    }
    EXPECT_EQ(r.reasons & reason::early_polls, reason::early_polls);
}

TEST(BotScore, ClockworkNeedsTheToldPace) {
    const auto c = base_config();
    detector d(c);
    const auto h = chrome_navigation();
    // Two intervals exactly at the told 10 s (plus a few ms of network): clockwork.
    const std::uint64_t script = visitor_key("script");
    d.observe(c, {.client = ip("192.0.2.1"), .visitor = script, .ticket_issued = true, .refresh_told_s = 10, .now = t0});
    auto r = d.evaluate(c, input(h, "192.0.2.1", t0 + 10'004, script, true));
    EXPECT_EQ(r.reasons & reason::regular_polls, 0u);  // one interval proves nothing
    r = d.evaluate(c, input(h, "192.0.2.1", t0 + 20'009, script, true));
    EXPECT_EQ(r.reasons & reason::regular_polls, reason::regular_polls);
    EXPECT_EQ(r.action, band::challenge);

    // A background tab throttled to one timer a minute: regular, but not at the pace told.
    const std::uint64_t tab = visitor_key("background-tab");
    d.observe(c, {.client = ip("192.0.2.2"), .visitor = tab, .ticket_issued = true, .refresh_told_s = 5, .now = t0});
    for (int i = 1; i <= 6; ++i) {
        r = d.evaluate(c, input(h, "192.0.2.2", t0 + i * 60'000, tab, true));
    }
    EXPECT_EQ(r.reasons & reason::regular_polls, 0u) << reasons_text(r.reasons);
}

TEST(BotScore, FormSentSoonerAfterAdmissionThanAPersonCouldFillItIn) {
    const auto c = base_config();
    detector d(c);
    const auto h = chrome_navigation();
    auto post = [&](std::uint64_t visitor, unix_ms at) {
        auto in = input(h, "192.0.2.9", at, visitor);
        in.path = "/api/registrations";
        in.unsafe_method = true;
        return d.evaluate(c, in);
    };
    // Waits with a ticket, polls, and the poll at 5 s gives it a pass.
    auto admit = [&](std::string_view name) {
        const std::uint64_t ticket = visitor_key(std::string(name) + "-ticket");
        const std::uint64_t pass = visitor_key(std::string(name) + "-pass");
        d.observe(c, {.client = ip("192.0.2.9"), .visitor = ticket, .ticket_issued = true, .refresh_told_s = 5,
                      .now = t0});
        EXPECT_EQ(d.evaluate(c, input(h, "192.0.2.9", t0 + 5'000, ticket, true)).score, 0);
        d.observe(c, {.client = ip("192.0.2.9"),
                      .visitor = ticket,
                      .admitted_visitor = pass,
                      .admitted_ticket = ticket,
                      .now = t0 + 5'000});
        return std::pair{ticket, pass};
    };
    // A script books 300 ms after the answer that let it in.
    const auto [script_ticket, script] = admit("script");
    EXPECT_EQ(d.evaluate(c, input(h, "192.0.2.9", t0 + 5'100, script)).score, 0);  // the page: a GET
    auto r = post(script, t0 + 5'300);
    EXPECT_EQ(r.reasons & reason::fast_form, reason::fast_form) << reasons_text(r.reasons);
    EXPECT_EQ(r.action, band::challenge);  // alone it only challenges
    // One that keeps the ticket cookie it was told to drop is measured the same.
    r = post(script_ticket, t0 + 5'400);
    EXPECT_EQ(r.reasons & reason::fast_form, reason::fast_form) << reasons_text(r.reasons);
    // Measured from the admission only: a status poll after it (another tab, another room's
    // page) ends the measuring instead of starting it again.
    const auto polled = admit("polled").second;
    d.evaluate(c, input(h, "192.0.2.9", t0 + 8'000, polled, true));
    EXPECT_EQ(post(polled, t0 + 8'300).reasons & reason::fast_form, 0u);
    // A person: the form comes 9 s after the page.
    EXPECT_EQ(post(admit("person").second, t0 + 14'000).score, 0);
    // The limit itself: 1 s by default.
    EXPECT_EQ(post(admit("quick-person").second, t0 + 6'001).score, 0);
    // Still waiting (never admitted): a POST gets the waiting room, not this signal.
    const std::uint64_t waiting = visitor_key("waiting");
    d.observe(c, {.client = ip("192.0.2.9"), .visitor = waiting, .ticket_issued = true, .refresh_told_s = 5, .now = t0});
    EXPECT_EQ(post(waiting, t0 + 100).reasons & reason::fast_form, 0u);
    // A pass nobody was let in with here (an invitation, another node): nothing to measure from.
    EXPECT_EQ(post(visitor_key("no-room"), t0 + 100).score, 0);
    // Off with min_form_time = 0.
    auto off = base_config();
    off.limits.min_form_time = duration_ms(0);
    detector d2(off);
    const std::uint64_t other = visitor_key("script-2");
    d2.observe(off, {.client = ip("192.0.2.9"), .admitted_visitor = other, .now = t0});
    auto in = input(h, "192.0.2.9", t0 + 200, other);
    in.unsafe_method = true;
    EXPECT_EQ(d2.evaluate(off, in).reasons & reason::fast_form, 0u);
}

TEST(BotScore, TicketSharedAcrossPrefixes) {
    const auto c = base_config();
    detector d(c);
    const auto h = chrome_navigation();
    const std::uint64_t v = visitor_key("shared-ticket");
    decision r;
    for (int i = 0; i < 6; ++i) {
        r = d.evaluate(c, input(h, "10." + std::to_string(i * 37) + ".1.1", t0 + i, v));
    }
    EXPECT_EQ(r.reasons & reason::sharing, reason::sharing);
    // One prefix, many requests: not shared.
    const std::uint64_t w = visitor_key("home-ticket");
    for (int i = 0; i < 6; ++i) {
        r = d.evaluate(c, input(h, "10.9.9." + std::to_string(i + 1), t0 + i, w));
    }
    EXPECT_EQ(r.reasons & reason::sharing, 0u);
}

TEST(BotScore, RequestRatePerVisitorAndErrorShare) {
    const auto c = base_config();
    detector d(c);
    const auto h = chrome_navigation();
    const std::uint64_t v = visitor_key("busy");
    decision r;
    for (int i = 0; i < 70; ++i) {
        r = d.evaluate(c, input(h, "192.0.2.50", t0 - t0 % 10'000 + i * 10, v));
    }
    EXPECT_EQ(r.reasons & reason::visitor_rate, reason::visitor_rate);

    for (int i = 0; i < 20; ++i) {
        d.observe(c, {.client = ip("192.0.2.60"), .status = i < 15 ? 404u : 200u, .from_upstream = true, .now = t0});
    }
    r = d.evaluate(c, input(h, "192.0.2.60", t0 + 1));
    EXPECT_EQ(r.reasons & reason::error_share, reason::error_share);
}

TEST(BotScore, ClearanceCreditAndBands) {
    const auto c = base_config();
    detector d(c);
    const headers h{{"User-Agent", chrome_ua}, {"Accept", "text/html"}, {"Accept-Encoding", "gzip, br"},
                    {"Accept-Language", "de"}};
    auto in = input(h, "203.0.113.20", t0);
    auto r = d.evaluate(c, in);
    EXPECT_EQ(r.score, 35 + 20);
    EXPECT_EQ(r.action, band::deprioritise);
    EXPECT_GE(r.difficulty, c.difficulty_min);
    EXPECT_LE(r.difficulty, c.difficulty_max);
    in.clearance_credit = 40;
    r = d.evaluate(c, in);
    EXPECT_EQ(r.score, 15);
    EXPECT_EQ(r.action, band::allow);
    EXPECT_NE(r.reasons & reason::cleared, 0u);
}

TEST(BotScore, AllowAndDenyRules) {
    auto c = base_config();
    bot_rule monitor;
    monitor.user_agent = "Prometheus";
    monitor.cidrs.push_back(*parse_cidr("10.0.0.0/8"));
    c.allow.push_back(monitor);
    bot_rule block;
    block.path_prefix = "/wp-admin";
    c.deny.push_back(block);
    detector d(c);
    const headers prom{{"User-Agent", "Prometheus/2.48"}};
    EXPECT_EQ(d.evaluate(c, input(prom, "10.1.2.3", t0)).action, band::allow);
    EXPECT_EQ(d.evaluate(c, input(prom, "10.1.2.3", t0)).reasons, reason::allow_rule);
    // The same tool from outside the CIDR is scored like any tool.
    EXPECT_EQ(d.evaluate(c, input(prom, "192.0.2.1", t0)).action, band::deny);
    const auto chrome = chrome_navigation();
    auto in = input(chrome, "192.0.2.1", t0);
    in.path = "/wp-admin/login.php";
    const auto r = d.evaluate(c, in);
    EXPECT_EQ(r.action, band::deny);
    EXPECT_EQ(r.reasons, reason::deny_rule);
}

TEST(BotScore, DifficultyRisesWithScoreAndSurge) {
    auto c = base_config();
    c.surge_min_tickets = 50;
    c.surge_window = std::chrono::seconds(10);
    detector d(c);
    const headers low{{"User-Agent", chrome_ua},      {"Sec-Fetch-Site", "none"}, {"Sec-Fetch-Mode", "navigate"},
                      {"Sec-Fetch-Dest", "document"}, {"sec-ch-ua", "x"},        {"Accept-Encoding", "gzip, br"}};
    const auto base = d.evaluate(c, input(low, "192.0.2.1", t0));
    EXPECT_EQ(base.action, band::allow);  // 20: Accept-Language missing only
    auto in = input(low, "192.0.2.1", t0);
    in.ja4 = "t13d311100_e8f1e7e78f70_d41ae481755e";  // Python's TLS under a Chrome UA: +40 → 60
    const auto harder = d.evaluate(c, in);
    EXPECT_EQ(harder.action, band::deprioritise);
    EXPECT_GT(harder.difficulty, c.difficulty_min);

    // 100 new tickets in one window, all from one prefix: a surge once the window closes.
    const unix_ms w0 = t0 - t0 % 10'000;
    for (int i = 0; i < 100; ++i) {
        d.observe(c, {.client = ip("198.51.100.1"), .ticket_issued = true, .header_signature = 7, .now = w0 + i});
    }
    EXPECT_FALSE(d.surging(w0 + 5'000));
    d.observe(c, {.client = ip("198.51.100.1"), .ticket_issued = true, .header_signature = 7, .now = w0 + 10'001});
    EXPECT_TRUE(d.surging(w0 + 10'001));
    in.now = w0 + 10'002;
    const auto during = d.evaluate(c, in);
    EXPECT_TRUE(during.surge);
    EXPECT_EQ(during.difficulty, std::min(harder.difficulty + c.surge_extra_difficulty, c.difficulty_max));
    EXPECT_FALSE(d.surging(w0 + 10'001 + c.surge_hold.count()));
}

TEST(BotTables, BoundedUnderAnAddressFlood) {
    auto c = base_config();
    c.max_tracked = 8192;
    detector d(c);
    const headers h{{"User-Agent", "curl/8"}};
    const auto before = d.memory_bytes();
    // The figure: a million distinct addresses.
    for (std::uint32_t i = 0; i < 1'000'000; ++i) {
        ip_address a;
        a.bytes[10] = 0xff;
        a.bytes[11] = 0xff;
        a.bytes[12] = static_cast<std::uint8_t>(10 + (i >> 24));
        a.bytes[13] = static_cast<std::uint8_t>(i >> 16);
        a.bytes[14] = static_cast<std::uint8_t>(i >> 8);
        a.bytes[15] = static_cast<std::uint8_t>(i);
        request_input in;
        in.headers = h;
        in.client = a;
        in.now = t0 + i;
        d.evaluate(c, in);
    }
    EXPECT_EQ(d.memory_bytes(), before);
    EXPECT_LE(d.tracked_addresses(), 8192u);
    EXPECT_GT(d.evictions(), 990'000u);
}

TEST(BotTables, EvictsTheLeastRecentlySeenOfASet) {
    key_table t(1);  // one set of 8 per shard
    const std::uint64_t shard_bits = 5ull << 58;  // all keys in one shard
    for (std::uint64_t k = 1; k <= 8; ++k) {
        t.with(shard_bits | k, static_cast<std::uint32_t>(100 + k), [](key_entry& e, bool fresh) {
            EXPECT_TRUE(fresh);
            e.rate_cur = 1;
        });
    }
    // Touch key 1 again, then a ninth key evicts key 2 (the oldest now).
    t.with(shard_bits | 1, 200, [](key_entry& e, bool fresh) {
        EXPECT_FALSE(fresh);
        e.last_s = 200;
    });
    t.with(shard_bits | 9, 201, [](key_entry&, bool fresh) { EXPECT_TRUE(fresh); });
    t.with(shard_bits | 1, 202, [](key_entry& e, bool fresh) {
        EXPECT_FALSE(fresh);
        EXPECT_EQ(e.rate_cur, 1);
    });
    t.with(shard_bits | 2, 203, [](key_entry& e, bool fresh) {
        EXPECT_TRUE(fresh);
        EXPECT_EQ(e.rate_cur, 0);
    });
    EXPECT_EQ(t.evictions(), 2u);
}

// Four threads on one table (the workers share it): every increment lands exactly once, per key,
// and evictions() and size() can be read while they run. Under `make test-tsan` this is also
// the check that the shard locks cover every access.
TEST(BotTables, ThreadsSharingATableLoseNoUpdate) {
    key_table t(65536);  // ample room for every key below: no eviction may hide a lost update
    constexpr int threads = 4;
    constexpr std::uint64_t keys = 512;
    constexpr int passes = 50;
    std::vector<std::thread> workers;
    std::atomic<bool> stop{false};
    std::thread reader([&] {
        while (!stop) {
            EXPECT_LE(t.size(), keys);
            EXPECT_EQ(t.evictions(), 0u);
        }
    });
    for (int w = 0; w < threads; ++w) {
        workers.emplace_back([&t] {
            for (int p = 0; p < passes; ++p) {
                for (std::uint64_t k = 0; k < keys; ++k) {
                    // Spread over the shards (the top bits choose the shard).
                    const std::uint64_t key = (k * 0x9E3779B97F4A7C15ull) | 1;
                    t.with(key, 100, [](key_entry& e, bool) { ++e.rate_cur; });
                }
            }
        });
    }
    for (auto& w : workers) {
        w.join();
    }
    stop = true;
    reader.join();
    EXPECT_EQ(t.size(), keys);
    for (std::uint64_t k = 0; k < keys; ++k) {
        const std::uint64_t key = (k * 0x9E3779B97F4A7C15ull) | 1;
        t.with(key, 100, [&](key_entry& e, bool fresh) {
            EXPECT_FALSE(fresh);
            EXPECT_EQ(e.rate_cur, threads * passes) << "key " << k;
        });
    }
}

class BotTokens : public ::testing::Test {
protected:
    std::shared_ptr<const key_ring> keys = make_ephemeral_key_ring();
    ip_address client = *parse_ip("198.51.100.23");
    std::string ua{chrome_ua};

    token_check check(bot_token_kind k, unix_ms now) const {
        return {.want = k, .client = client, .user_agent = ua, .now = now};
    }
};

TEST_F(BotTokens, RoundTripAndChecks) {
    bot_token t{.kind = bot_token_kind::challenge, .difficulty = 8, .nonce = 42, .expires_at = t0 + 60'000};
    const auto text = encode_token(t, *keys, client, ua);
    auto r = decode_token(text, *keys, check(bot_token_kind::challenge, t0));
    ASSERT_TRUE(r.token);
    EXPECT_EQ(r.token->difficulty, 8);
    EXPECT_EQ(r.token->nonce, 42u);

    EXPECT_EQ(decode_token(text, *keys, check(bot_token_kind::clearance, t0)).error, token_error::wrong_kind);
    EXPECT_EQ(decode_token(text, *keys, check(bot_token_kind::challenge, t0 + 60'000)).error, token_error::expired);
    auto other = check(bot_token_kind::challenge, t0);
    other.client = *parse_ip("203.0.113.1");
    EXPECT_EQ(decode_token(text, *keys, other).error, token_error::wrong_binding);
    other = check(bot_token_kind::challenge, t0);
    other.client = *parse_ip("198.51.100.200");  // same /24: still the same client
    EXPECT_TRUE(decode_token(text, *keys, other).token);
    other.user_agent = "curl/8";
    EXPECT_EQ(decode_token(text, *keys, other).error, token_error::wrong_binding);

    // Tampering with any character breaks the MAC or the format.
    for (std::size_t i = 0; i < text.size(); i += 7) {
        auto bad = text;
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        EXPECT_FALSE(decode_token(bad, *keys, check(bot_token_kind::challenge, t0)).token) << i;
    }
    EXPECT_EQ(decode_token("", *keys, check(bot_token_kind::challenge, t0)).error, token_error::malformed);
    EXPECT_EQ(decode_token(text + "A", *keys, check(bot_token_kind::challenge, t0)).error, token_error::malformed);
    // Another key ring (a forger's) does not verify.
    const auto forged = encode_token(t, *make_ephemeral_key_ring(), client, ua);
    EXPECT_EQ(decode_token(forged, *keys, check(bot_token_kind::challenge, t0)).error, token_error::bad_signature);
}

TEST_F(BotTokens, WaitTokenNotBefore) {
    bot_token t{.kind = bot_token_kind::wait, .nonce = 1, .not_before = t0 + 20'000, .expires_at = t0 + 300'000};
    const auto text = encode_token(t, *keys, client, ua);
    EXPECT_EQ(decode_token(text, *keys, check(bot_token_kind::wait, t0 + 19'999)).error, token_error::too_early);
    EXPECT_TRUE(decode_token(text, *keys, check(bot_token_kind::wait, t0 + 20'000)).token);
}

TEST_F(BotTokens, ProofOfWorkSolutionIsCheckedWithOneHash) {
    bot_token t{.kind = bot_token_kind::challenge, .difficulty = 10, .nonce = 7, .expires_at = t0 + 60'000};
    const auto text = encode_token(t, *keys, client, ua);
    std::uint64_t c = 0;
    while (pow_zero_bits(text, std::to_string(c)).value_or(0) < 10) {
        ++c;
    }
    const auto bits = pow_zero_bits(text, std::to_string(c));
    ASSERT_TRUE(bits);
    EXPECT_GE(*bits, 10u);
    // The definition: SHA-256 over "token:counter".
    const auto digest = crypto::sha256(text + ":" + std::to_string(c));
    EXPECT_EQ(digest[0], 0);
    EXPECT_LT(digest[1], 0x40);
    EXPECT_FALSE(pow_zero_bits(text, ""));
    EXPECT_FALSE(pow_zero_bits(text, "12a"));
    EXPECT_FALSE(pow_zero_bits(text, "007"));
    EXPECT_FALSE(pow_zero_bits(text, "123456789012345678901"));
}

TEST(BotReplay, OnceOnlyUntilExpiryAndBounded) {
    replay_set s(1024);
    bool busy = false;
    EXPECT_TRUE(s.insert(99, t0 + 1'000, t0, busy));
    EXPECT_FALSE(s.insert(99, t0 + 1'000, t0 + 10, busy));
    EXPECT_FALSE(busy);
    // Once the token expired, its slot may be reused (the token itself no longer verifies).
    EXPECT_TRUE(s.insert(99, t0 + 5'000, t0 + 1'000, busy));
    // Fill far beyond capacity with live nonces: insertions start failing as busy, never forget.
    std::size_t accepted = 0;
    std::size_t refused = 0;
    for (std::uint64_t n = 1000; n < 1000 + 4 * s.capacity(); ++n) {
        if (s.insert(n, t0 + 60'000, t0, busy)) {
            ++accepted;
        } else {
            EXPECT_TRUE(busy);
            ++refused;
        }
    }
    EXPECT_LE(accepted, s.capacity());
    EXPECT_GT(refused, 0u);
    EXPECT_FALSE(s.insert(99, t0 + 5'000, t0 + 1'001, busy));
}

// ---- TLS fingerprint against the User-Agent ----------------------------------------------------
// JA4 values of the ClientHellos in tests/bot_detect/tls_vectors (expected.txt).
constexpr std::string_view ja4_chromium = "t13d1517h2_8daaf6152771_cb7bf5808d99";
constexpr std::string_view ja4_python = "t13d311100_e8f1e7e78f70_d41ae481755e";
constexpr std::string_view ja4_curl = "t13i3111h2_e8f1e7e78f70_b26ce05bbdd6";
constexpr std::string_view ja4_firefox = "t13d1715h2_5b57614c22b0_7121afd63204";  // FoxIO mapping
constexpr std::string_view ja4_safari = "t13d2014h2_a09f3c656075_14788d8d241b";   // FoxIO mapping
constexpr std::string_view ja4_unknown = "t13d1312h2_0123456789ab_0123456789ab";

TEST(BotTls, GlobPatterns) {
    EXPECT_TRUE(ja4_matches("t13*_8daaf6152771_*", ja4_chromium));
    EXPECT_FALSE(ja4_matches("t12*_8daaf6152771_*", ja4_chromium));
    EXPECT_TRUE(ja4_matches(ja4_chromium, ja4_chromium));
    EXPECT_FALSE(ja4_matches(ja4_chromium.substr(0, 35), ja4_chromium));
    EXPECT_TRUE(ja4_matches("t13d15??h2_*", ja4_chromium));
    EXPECT_TRUE(ja4_matches("*", ja4_chromium));
    EXPECT_TRUE(ja4_matches("**_cb7bf5808d99", ja4_chromium));
    EXPECT_TRUE(ja4_matches("*8*8*", ja4_chromium));
    EXPECT_FALSE(ja4_matches("*_e8f1e7e78f70_*", ja4_chromium));
    EXPECT_FALSE(ja4_matches("t13*", ""));
    EXPECT_TRUE(ja4_matches("*", ""));
}

TEST(BotTls, DefaultFamiliesKnowTheCapturedClients) {
    const bot_detect_config c;
    using name = bot_detect_config::tls_family_name;
    const auto family = [&](std::string_view ja4) {
        const auto* f = find_tls_family(c, ja4);
        return f != nullptr ? std::optional<name>(f->name) : std::nullopt;
    };
    EXPECT_EQ(family(ja4_chromium), name::chromium);
    EXPECT_EQ(family(ja4_firefox), name::firefox);
    EXPECT_EQ(family(ja4_safari), name::safari);
    for (const std::string_view tool : {ja4_python, ja4_curl, std::string_view("t13i310900_e8f1e7e78f70_1f22a2ca17c4"),
                                        std::string_view("t13d591000_a33745022dd6_1f22a2ca17c4"),
                                        std::string_view("t13d291300_723694b0fccc_899037bd0b8c"),
                                        std::string_view("t13d190900_9dc949149365_97f8aa674fd9")}) {
        EXPECT_EQ(family(tool), name::tool) << tool;
    }
    EXPECT_EQ(family(ja4_unknown), std::nullopt);
}

TEST(BotTls, MismatchDecisions) {
    const bot_detect_config c;
    // A browser User-Agent over another family's stack, or a tool's.
    EXPECT_TRUE(tls_mismatch(c, ua_family::chromium, ja4_python));
    EXPECT_TRUE(tls_mismatch(c, ua_family::chromium, ja4_firefox));
    EXPECT_TRUE(tls_mismatch(c, ua_family::firefox, ja4_chromium));
    EXPECT_TRUE(tls_mismatch(c, ua_family::safari, ja4_curl));
    EXPECT_TRUE(tls_mismatch(c, ua_family::other_browser, ja4_python));
    // Its own stack, an unknown stack, no TLS.
    EXPECT_FALSE(tls_mismatch(c, ua_family::chromium, ja4_chromium));
    EXPECT_FALSE(tls_mismatch(c, ua_family::firefox, ja4_firefox));
    EXPECT_FALSE(tls_mismatch(c, ua_family::safari, ja4_safari));
    EXPECT_FALSE(tls_mismatch(c, ua_family::chromium, ja4_unknown));
    EXPECT_FALSE(tls_mismatch(c, ua_family::chromium, ""));
    // other_browser may run on any engine: only a tool's stack contradicts it.
    EXPECT_FALSE(tls_mismatch(c, ua_family::other_browser, ja4_chromium));
    // User-Agents that claim no browser are not contradicted (the header signals judge them).
    EXPECT_FALSE(tls_mismatch(c, ua_family::automation, ja4_python));
    EXPECT_FALSE(tls_mismatch(c, ua_family::unknown, ja4_python));
    EXPECT_FALSE(tls_mismatch(c, ua_family::none, ja4_python));
}

TEST(BotTls, ConfiguredFamilies) {
    bot_detect_config c;
    using name = bot_detect_config::tls_family_name;
    // Overlapping families: the claimed one wins.
    c.tls_families.push_back({name::firefox, {"*_8daaf6152771_*"}});
    EXPECT_FALSE(tls_mismatch(c, ua_family::firefox, ja4_chromium));
    EXPECT_TRUE(tls_mismatch(c, ua_family::safari, ja4_chromium));
    // Without a table nothing is ever a mismatch.
    c.tls_families.clear();
    EXPECT_FALSE(tls_mismatch(c, ua_family::chromium, ja4_python));
}

TEST(BotTls, EvaluateScoresTheMismatch) {
    auto c = base_config();
    detector d(c);
    const auto chrome = chrome_navigation();
    auto in = input(chrome, "192.0.2.1", t0);
    in.ja4 = ja4_chromium;
    const auto own = d.evaluate(c, in);
    EXPECT_EQ(own.reasons & reason::tls_mismatch, 0u);
    in.ja4 = ja4_python;
    in.client = ip("192.0.2.2");
    const auto python = d.evaluate(c, in);
    EXPECT_NE(python.reasons & reason::tls_mismatch, 0u);
    EXPECT_EQ(python.score, own.score + c.weights.tls_mismatch);
    c.weights.tls_mismatch = 0;  // off
    in.client = ip("192.0.2.3");
    EXPECT_EQ(d.evaluate(c, in).reasons & reason::tls_mismatch, 0u);
}

}  // namespace
}  // namespace anteroom::bot_detect
