// Addresses and prefixes without sockets: parsing, canonical text, matching, truncation.

#include "common/cidr.hpp"

#include <gtest/gtest.h>

namespace anteroom {
namespace {

ip_address ip(std::string_view t) {
    auto a = parse_ip(t);
    EXPECT_TRUE(a) << t;
    return a.value_or(ip_address{});
}

cidr net_of(std::string_view t) {
    auto c = parse_cidr(t);
    EXPECT_TRUE(c) << t;
    return c.value_or(cidr{});
}

TEST(cidr, parse_ip_accepts_literals_and_prints_them_canonically) {
    EXPECT_EQ(ip("192.0.2.1").text(), "192.0.2.1");
    EXPECT_TRUE(ip("192.0.2.1").is_v4());
    EXPECT_EQ(ip("2001:DB8:0:0:0:0:0:1").text(), "2001:db8::1");  // RFC 5952
    EXPECT_FALSE(ip("2001:db8::1").is_v4());
    EXPECT_EQ(ip("::1").text(), "::1");
    EXPECT_EQ(ip("::").text(), "::");
    // v4-mapped IPv6 is the same address as the IPv4 one.
    EXPECT_EQ(ip("::ffff:192.0.2.1"), ip("192.0.2.1"));
    EXPECT_EQ(ip("::ffff:192.0.2.1").text(), "192.0.2.1");
}

TEST(cidr, ipv4_text_matches_inet_ntop_for_every_octet_value) {
    for (unsigned v = 0; v < 256; ++v) {
        const std::string quad = std::to_string(v) + "." + std::to_string(255 - v) + ".0." + std::to_string(v / 2);
        EXPECT_EQ(ip(quad).text(), quad);
    }
    EXPECT_EQ(ip("0.0.0.0").text(), "0.0.0.0");
    EXPECT_EQ(ip("255.255.255.255").text(), "255.255.255.255");
    EXPECT_EQ(ip("10.100.9.99").text(), "10.100.9.99");
}

TEST(cidr, parse_ip_rejects_everything_else) {
    for (std::string_view bad : {"", " 1.2.3.4", "1.2.3.4 ", "1.2.3", "1.2.3.256", "1.2.3.4.5", "01.2.3.4x",
                                 "localhost", "[::1]", "::1%lo", "2001:db8:::1", "1.2.3.4/8",
                                 "aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa:aaaa"}) {
        EXPECT_FALSE(parse_ip(bad)) << "'" << bad << "'";
    }
}

TEST(cidr, parse_cidr_masks_host_bits_and_defaults_to_a_host_prefix) {
    EXPECT_EQ(net_of("10.1.2.3/8").text(), "10.0.0.0/8");
    EXPECT_EQ(net_of("192.168.1.7").text(), "192.168.1.7/32");
    EXPECT_EQ(net_of("2001:db8:abcd:12::1/48").text(), "2001:db8:abcd::/48");
    EXPECT_EQ(net_of("::1").text(), "::1/128");
    EXPECT_EQ(net_of("0.0.0.0/0").text(), "0.0.0.0/0");
    EXPECT_EQ(net_of("10.1.2.3/13").text(), "10.0.0.0/13");
    EXPECT_EQ(net_of("10.1.2.3/8"), net_of("10.0.0.0/8"));
}

TEST(cidr, parse_cidr_rejects_bad_prefixes) {
    for (std::string_view bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "/8", "10.0.0.0/8/8", "10.0.0.0/-1",
                                 "10.0.0.0/ 8", "10.0.0.0/0x8", "10.0.0.0/0008", "host/8", ""}) {
        EXPECT_FALSE(parse_cidr(bad)) << "'" << bad << "'";
    }
}

TEST(cidr, contains_respects_prefix_and_family) {
    const auto ten = net_of("10.0.0.0/8");
    EXPECT_TRUE(ten.contains(ip("10.0.0.0")));
    EXPECT_TRUE(ten.contains(ip("10.255.255.255")));
    EXPECT_FALSE(ten.contains(ip("11.0.0.0")));
    EXPECT_FALSE(ten.contains(ip("9.255.255.255")));
    // An IPv4 prefix never matches IPv6 addresses and vice versa, even /0.
    EXPECT_TRUE(net_of("0.0.0.0/0").contains(ip("203.0.113.1")));
    EXPECT_FALSE(net_of("0.0.0.0/0").contains(ip("2001:db8::1")));
    EXPECT_TRUE(net_of("::/0").contains(ip("2001:db8::1")));
    EXPECT_FALSE(net_of("::/0").contains(ip("203.0.113.1")));
    // Prefix lengths that do not fall on a byte boundary.
    const auto odd = net_of("192.168.0.0/23");
    EXPECT_TRUE(odd.contains(ip("192.168.1.255")));
    EXPECT_FALSE(odd.contains(ip("192.168.2.0")));
    const auto v6 = net_of("fd00::/7");
    EXPECT_TRUE(v6.contains(ip("fc00::1")));
    EXPECT_TRUE(v6.contains(ip("fdff::1")));
    EXPECT_FALSE(v6.contains(ip("fe00::1")));
    EXPECT_TRUE(net_of("::1").contains(ip("::1")));
    EXPECT_FALSE(net_of("::1").contains(ip("::2")));
}

TEST(cidr, truncate_keeps_the_network_part_only) {
    EXPECT_EQ(truncate(ip("198.51.100.77"), 24, 48).text(), "198.51.100.0");
    EXPECT_EQ(truncate(ip("2001:db8:abcd:1234:5678::9"), 24, 48).text(), "2001:db8:abcd::");
    EXPECT_EQ(truncate(ip("198.51.100.77"), 20, 48).text(), "198.51.96.0");
    EXPECT_EQ(truncate(ip("198.51.100.77"), 32, 128).text(), "198.51.100.77");
    EXPECT_EQ(truncate(ip("198.51.100.77"), 99, 999).text(), "198.51.100.77");  // clamped
    EXPECT_EQ(truncate(ip("198.51.100.77"), 0, 0).text(), "0.0.0.0");
    EXPECT_TRUE(truncate(ip("198.51.100.77"), 0, 0).is_v4());
    EXPECT_EQ(truncate(ip("2001:db8::1"), 24, 0).text(), "::");
}

}  // namespace
}  // namespace anteroom
