// Pure parts of TLS termination: the session-ticket key ring (with an injected clock) and where
// a redirect listener sends a request.

#include <gtest/gtest.h>

#include <cstring>

#include "proxy/http_rules.hpp"
#include "proxy/tls.hpp"

namespace anteroom::proxy {
namespace {

using namespace std::chrono_literals;

TEST(ticket_keys, rotate_on_schedule_and_decrypt_for_two_more_periods) {
    auto now = std::chrono::steady_clock::time_point{} + 100h;
    ticket_keys keys([&] { return now; });
    keys.set_rotation(1h);
    const auto k1 = keys.current();
    EXPECT_EQ(std::memcmp(keys.current().name, k1.name, sizeof k1.name), 0);  // same period, same key
    ticket_keys::key found;
    bool current = false;
    ASSERT_TRUE(keys.find(k1.name, found, current));
    EXPECT_TRUE(current);
    EXPECT_EQ(std::memcmp(found.aes, k1.aes, sizeof k1.aes), 0);

    now += 1h;
    const auto k2 = keys.current();
    EXPECT_NE(std::memcmp(k2.name, k1.name, sizeof k1.name), 0);
    EXPECT_EQ(keys.rotations(), 2u);
    ASSERT_TRUE(keys.find(k1.name, found, current));  // still decrypts, but is renewed
    EXPECT_FALSE(current);

    now += 1h + 59min;  // k1 is 2h59m old
    ASSERT_TRUE(keys.find(k1.name, found, current));
    now += 1min;  // three periods: gone
    EXPECT_FALSE(keys.find(k1.name, found, current));
    // k2 is 2h old and not the newest in use any more once a new ticket was made.
    ASSERT_TRUE(keys.find(k2.name, found, current));
    EXPECT_FALSE(current);  // older than one period even without a rotation
    keys.current();
    EXPECT_EQ(keys.rotations(), 3u);

    unsigned char unknown[16] = {1, 2, 3};
    EXPECT_FALSE(keys.find(unknown, found, current));
}

TEST(ticket_keys, at_most_three_keys_are_kept) {
    auto now = std::chrono::steady_clock::time_point{} + 1h;
    ticket_keys keys([&] { return now; });
    keys.set_rotation(1min);
    std::vector<ticket_keys::key> made;
    for (int i = 0; i < 5; ++i) {
        made.push_back(keys.current());
        now += 10s;  // faster than rotation: one key
    }
    EXPECT_EQ(keys.rotations(), 1u);
    for (int i = 0; i < 4; ++i) {
        now += 1min;
        made.push_back(keys.current());
    }
    ticket_keys::key found;
    bool current = false;
    EXPECT_FALSE(keys.find(made[0].name, found, current));  // pushed out of the ring
    EXPECT_TRUE(keys.find(made.back().name, found, current));
}

TEST(https_location, keeps_host_and_target_and_uses_the_tls_port) {
    EXPECT_EQ(https_location("impfen.example", 443, "/book?x=1"), "https://impfen.example/book?x=1");
    EXPECT_EQ(https_location("impfen.example:80", 8443, "/"), "https://impfen.example:8443/");
    EXPECT_EQ(https_location("[2001:db8::1]:80", 443, "/a"), "https://[2001:db8::1]/a");
    EXPECT_EQ(https_location("127.0.0.1:8080", 0, "/a"), "https://127.0.0.1/a");
    // absolute-form keeps only path and query; asterisk-form goes to the root
    EXPECT_EQ(https_location("h.example", 443, "http://other.example/p?q"), "https://h.example/p?q");
    EXPECT_EQ(https_location("h.example", 443, "http://other.example"), "https://h.example/");
    EXPECT_EQ(https_location("h.example", 443, "*"), "https://h.example/");
}

TEST(https_location, refuses_hosts_it_cannot_put_into_a_url) {
    EXPECT_FALSE(https_location("", 443, "/"));
    EXPECT_FALSE(https_location("evil.example/path", 443, "/"));
    EXPECT_FALSE(https_location("a b", 443, "/"));
    EXPECT_FALSE(https_location("[::1", 443, "/"));
    EXPECT_FALSE(https_location("[zz]", 443, "/"));
    EXPECT_FALSE(https_location("user@host", 443, "/"));
}

}  // namespace
}  // namespace anteroom::proxy
