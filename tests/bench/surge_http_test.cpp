// What surge visitors send and how answers are read: headers per kind, cookies kept compactly,
// the server's action from status and Anteroom-Action, the waiting page's refresh.

#include "bench/tool/surge_http.hpp"

#include <gtest/gtest.h>

#include "bench/tool/cookie_jar.hpp"
#include "bench/tool/surge_model.hpp"

namespace anteroom::bench {

namespace {

std::string request(cohort_kind k, request_kind r, std::string_view cookies = "", std::string_view body = "",
                    std::uint64_t variant = 0) {
    target_endpoint to{"127.0.0.1", 8080, "127.0.0.1:8080", "/"};
    request_spec spec;
    spec.kind = r;
    spec.path = r == request_kind::status ? "/_anteroom/status?room=portal" : "/";
    spec.cookies = cookies;
    spec.body = body;
    spec.variant = variant;
    std::string out;
    build_request(out, k, to, spec);
    return out;
}

bool has(const std::string& req, std::string_view header) { return req.find(header) != std::string::npos; }

}  // namespace

TEST(SurgeRequests, HumansSendWhatABrowserSends) {
    const auto nav = request(cohort_kind::human, request_kind::page, "a=1");
    EXPECT_TRUE(nav.starts_with("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
    for (auto h : {"sec-ch-ua: ", "Sec-Fetch-Mode: navigate", "Sec-Fetch-Dest: document", "Sec-Fetch-User: ?1",
                   "Accept-Language: ", "Upgrade-Insecure-Requests: 1", "Cookie: a=1\r\n"}) {
        EXPECT_TRUE(has(nav, h)) << h << "\n" << nav;
    }
    EXPECT_TRUE(nav.ends_with("\r\n\r\n"));
    const auto poll = request(cohort_kind::human, request_kind::status);
    EXPECT_TRUE(has(poll, "Accept: application/json\r\n"));
    EXPECT_TRUE(has(poll, "Sec-Fetch-Mode: cors"));
    EXPECT_TRUE(has(poll, "Referer: http://127.0.0.1:8080/"));
    EXPECT_FALSE(has(poll, "Cookie:"));
    // Firefox (one in five) sends no client hints, but Sec-Fetch-* all the same.
    const auto firefox = request(cohort_kind::human, request_kind::page, "", "", 4);
    EXPECT_TRUE(has(firefox, "Firefox/"));
    EXPECT_FALSE(has(firefox, "sec-ch-ua"));
    EXPECT_TRUE(has(firefox, "Sec-Fetch-Site: none"));
}

TEST(SurgeRequests, BotsGiveThemselvesAwayInTheirOwnWays) {
    const auto flood = request(cohort_kind::naive_flood, request_kind::page);
    EXPECT_TRUE(has(flood, "User-Agent: python-requests/"));
    EXPECT_FALSE(has(flood, "Sec-Fetch"));
    const auto spoof = request(cohort_kind::header_spoofer, request_kind::page);
    EXPECT_TRUE(has(spoof, "Chrome/131"));
    EXPECT_FALSE(has(spoof, "sec-ch-ua"));
    EXPECT_FALSE(has(spoof, "Sec-Fetch"));
    EXPECT_FALSE(has(spoof, "Accept-Language"));
    EXPECT_TRUE(has(request(cohort_kind::ticket_farmer, request_kind::page), "HeadlessChrome/"));
    EXPECT_TRUE(has(request(cohort_kind::botnet, request_kind::page), "Sec-Fetch-Mode: navigate"));
}

TEST(SurgeRequests, PostsCarryJsonWithItsLength) {
    const std::string body = R"({"booking_code":"X","pin":"1"})";
    const auto post = request(cohort_kind::human, request_kind::api_post, "s=1", body);
    EXPECT_TRUE(post.starts_with("POST / HTTP/1.1\r\n"));
    EXPECT_TRUE(has(post, "Content-Type: application/json\r\n"));
    EXPECT_TRUE(has(post, "Content-Length: " + std::to_string(body.size()) + "\r\n"));
    EXPECT_TRUE(has(post, "Origin: http://127.0.0.1:8080\r\n"));
    EXPECT_TRUE(post.ends_with("\r\n\r\n" + body));
}

TEST(SurgeActions, HeaderFirstThenStatusCodes) {
    EXPECT_EQ(classify_action(200, "", false, 200), 0);
    EXPECT_EQ(classify_action(200, "allow", false, 200), 0);
    EXPECT_EQ(classify_action(200, "challenge", false, 200), action::challenged);
    EXPECT_EQ(classify_action(200, "deprioritise", true, 200), action::deprioritised);
    EXPECT_EQ(classify_action(200, "deprioritize", true, 200), action::deprioritised);
    EXPECT_EQ(classify_action(403, "deny", false, 200), action::denied);
    EXPECT_EQ(classify_action(403, "", false, 200), action::denied);
    EXPECT_EQ(classify_action(429, "", false, 200), action::challenged);
    // A room that queues with 429: its waiting answers are not challenges, anything else is.
    EXPECT_EQ(classify_action(429, "", true, 429), 0);
    EXPECT_EQ(classify_action(429, "", false, 429), action::challenged);
    EXPECT_EQ(classify_action(503, "", false, 200), 0);
}

TEST(SurgePages, RefreshIsReadFromTheWaitingPage) {
    EXPECT_EQ(page_refresh_seconds(R"(<main id="ar" data-state="queued" data-refresh="25" data-x="">)"), 25u);
    EXPECT_FALSE(page_refresh_seconds("<html>ok</html>").has_value());
    EXPECT_FALSE(page_refresh_seconds(R"(data-refresh="x")").has_value());
    const auto j = nlohmann::json::parse(R"({"state":"queued","position":12,"eta_high_seconds":null})");
    EXPECT_EQ(json_string(j, "state"), "queued");
    EXPECT_EQ(json_int(j, "position"), 12);
    EXPECT_FALSE(json_int(j, "eta_high_seconds").has_value());
    EXPECT_FALSE(json_string(j, "position").has_value());
    EXPECT_FALSE(json_string(nlohmann::json::array(), "state").has_value());
}

TEST(SurgeCookies, SetCookieAddsReplacesAndDeletes) {
    std::string h;
    EXPECT_EQ(apply_set_cookie(h, "anteroom_ticket_portal=T1; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax"),
              "anteroom_ticket_portal");
    EXPECT_EQ(h, "anteroom_ticket_portal=T1");
    apply_set_cookie(h, "anteroom_booking=S; Path=/");
    EXPECT_EQ(h, "anteroom_ticket_portal=T1; anteroom_booking=S");
    apply_set_cookie(h, "anteroom_ticket_portal=T2; Path=/");
    EXPECT_EQ(h, "anteroom_booking=S; anteroom_ticket_portal=T2");
    EXPECT_EQ(cookie_value(h, "anteroom_ticket_portal"), "T2");
    apply_set_cookie(h, "anteroom_ticket_portal=; Path=/; Max-Age=0");
    EXPECT_EQ(h, "anteroom_booking=S");
    apply_set_cookie(h, "anteroom_booking=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
    EXPECT_EQ(h, "");
    EXPECT_EQ(apply_set_cookie(h, "garbage"), "");
    EXPECT_EQ(h, "");
    EXPECT_EQ(cookie_value("a=1; ab=2", "b"), "");
}

TEST(SurgeCookies, JarSlotsGrowShrinkAndAreReused) {
    cookie_jar jar;
    bool overflow = false;
    auto s = jar.store(cookie_jar::none, "a=1", "", overflow);
    EXPECT_FALSE(overflow);
    EXPECT_EQ(jar.cookies(s), "a=1");
    EXPECT_EQ(jar.extra(s), "");
    const std::string big(300, 'x');
    s = jar.store(s, "a=" + big, "code\tpin", overflow);  // moves to a larger class
    EXPECT_EQ(jar.cookies(s), "a=" + big);
    EXPECT_EQ(jar.extra(s), "code\tpin");
    EXPECT_EQ(jar.slots_in_use(), 1u);
    // Storing a view of its own content is safe.
    s = jar.store(s, jar.cookies(s).substr(0, 3), jar.extra(s), overflow);
    EXPECT_EQ(jar.cookies(s), "a=x");
    const auto before = s;
    s = jar.store(s, std::string(2000, 'y'), "", overflow);
    EXPECT_TRUE(overflow);
    EXPECT_EQ(s, before);
    EXPECT_EQ(jar.cookies(s), "a=x");
    EXPECT_EQ(jar.store(s, "", "", overflow), cookie_jar::none);
    EXPECT_EQ(jar.slots_in_use(), 0u);
    // Freed slots come back before new ones are made.
    std::vector<std::uint32_t> slots;
    for (int i = 0; i < 5000; ++i) {
        slots.push_back(jar.store(cookie_jar::none, "k=" + std::to_string(i), "", overflow));
    }
    const auto reserved = jar.bytes_reserved();
    for (auto x : slots) {
        jar.release(x);
    }
    for (int i = 0; i < 5000; ++i) {
        jar.store(cookie_jar::none, "k=v", "", overflow);
    }
    EXPECT_EQ(jar.bytes_reserved(), reserved);
    EXPECT_EQ(jar.slots_in_use(), 5000u);
}

}  // namespace anteroom::bench
