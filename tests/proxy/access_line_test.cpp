// The access log line: valid JSON with the documented fields and nothing personal.

#include "proxy/access_line.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/log.hpp"

namespace anteroom::proxy {
namespace {

using namespace std::chrono_literals;

// 2023-11-14T22:13:20Z
const auto wall = std::chrono::system_clock::time_point{} + 1'700'000'000s + 123ms;

access_record base_record() {
    access_record r;
    r.method = "GET";
    r.path = "/shop/cart";
    r.status = 200;
    r.bytes_in = 120;
    r.bytes_out = 4567;
    r.duration_us = 1500;
    r.upstream_us = 1250;
    r.upstream = "10.0.0.5:8000";
    r.request_id = "abc-123";
    r.client = parse_ip("198.51.100.77").value();
    r.time = wall;
    return r;
}

nlohmann::json parse(const std::string& line) {
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    return nlohmann::json::parse(line);  // throws (fails the test) on invalid JSON or UTF-8
}

TEST(access_line, has_every_field) {
    const auto line = format_access_line(base_record());
    const auto j = parse(line);
    EXPECT_EQ(j.at("time"), "2023-11-14T22:13:20.123Z");
    EXPECT_EQ(j.at("method"), "GET");
    EXPECT_EQ(j.at("path"), "/shop/cart");
    EXPECT_EQ(j.at("status"), 200);
    EXPECT_EQ(j.at("bytes_in"), 120);
    EXPECT_EQ(j.at("bytes_out"), 4567);
    EXPECT_DOUBLE_EQ(j.at("duration_ms").get<double>(), 1.5);
    EXPECT_DOUBLE_EQ(j.at("upstream_ms").get<double>(), 1.25);
    EXPECT_EQ(j.at("upstream"), "10.0.0.5:8000");
    EXPECT_EQ(j.at("request_id"), "abc-123");
    EXPECT_EQ(j.at("client"), "198.51.100.0");
    EXPECT_FALSE(j.contains("tag"));
    EXPECT_EQ(j.size(), 11u) << line;
}

TEST(access_line, optional_fields_are_left_out) {
    auto r = base_record();
    r.upstream_us = -1;
    r.upstream = "";
    r.tag = "queue";
    const auto j = parse(format_access_line(r));
    EXPECT_FALSE(j.contains("upstream_ms"));
    EXPECT_FALSE(j.contains("upstream"));
    EXPECT_EQ(j.at("tag"), "queue");
}

TEST(access_line, client_is_truncated_to_24_and_48_bits) {
    auto r = base_record();
    r.client = parse_ip("2001:db8:abcd:1234:5678:9abc:def0:1").value();
    EXPECT_EQ(parse(format_access_line(r)).at("client"), "2001:db8:abcd::");
    r.client = parse_ip("::ffff:203.0.113.250").value();
    EXPECT_EQ(parse(format_access_line(r)).at("client"), "203.0.113.0");
    const auto line = format_access_line(r);
    EXPECT_EQ(line.find("113.250"), std::string::npos) << line;
}

TEST(access_line, query_string_and_fragment_never_appear) {
    auto r = base_record();
    r.path = "/login?user=alice&token=s3cret";
    auto line = format_access_line(r);
    EXPECT_EQ(parse(line).at("path"), "/login");
    EXPECT_EQ(line.find("alice"), std::string::npos);
    EXPECT_EQ(line.find("s3cret"), std::string::npos);
    r.path = "/a#frag?x";
    EXPECT_EQ(parse(format_access_line(r)).at("path"), "/a");
}

TEST(access_line, hostile_strings_stay_valid_json) {
    auto r = base_record();
    r.method = "G\"ET";
    r.path = "/a\"b\\c\n\r\t\x01\x7f/\xc3\xa4/\xff\xfe/\xe2\x82";
    r.request_id = "id\"}";
    r.upstream = "up\\";
    const auto line = format_access_line(r);
    const auto j = parse(line);
    EXPECT_EQ(j.at("method"), "G\"ET");
    EXPECT_EQ(j.at("request_id"), "id\"}");
    EXPECT_EQ(j.at("upstream"), "up\\");
    // Valid UTF-8 (ä) passes through, invalid bytes become \u00XX escapes.
    EXPECT_EQ(j.at("path"), "/a\"b\\c\n\r\t\x01\x7f/\xc3\xa4/\xc3\xbf\xc3\xbe/\xc3\xa2\xc2\x82");
}

TEST(json_escape, rejects_overlong_surrogate_and_out_of_range_sequences) {
    auto escaped = [](std::string_view in) {
        std::string out;
        json_escape_append(out, in);
        return out;
    };
    EXPECT_EQ(escaped("\xe2\x82\xac"), "\xe2\x82\xac");              // €
    EXPECT_EQ(escaped("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");      // U+1F600
    EXPECT_EQ(escaped("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf");      // U+10FFFF
    EXPECT_EQ(escaped("\xed\x9f\xbf"), "\xed\x9f\xbf");              // U+D7FF
    EXPECT_EQ(escaped("\xc0\xaf"), "\\u00c0\\u00af");                // overlong '/'
    EXPECT_EQ(escaped("\xe0\x80\xaf"), "\\u00e0\\u0080\\u00af");     // overlong '/'
    EXPECT_EQ(escaped("\xed\xa0\x80"), "\\u00ed\\u00a0\\u0080");     // surrogate D800
    EXPECT_EQ(escaped("\xf0\x80\x80\xaf"), "\\u00f0\\u0080\\u0080\\u00af");
    EXPECT_EQ(escaped("\xf4\x90\x80\x80"), "\\u00f4\\u0090\\u0080\\u0080");  // > U+10FFFF
    EXPECT_EQ(escaped("\xf5\x80\x80\x80"), "\\u00f5\\u0080\\u0080\\u0080");
    for (std::string_view s : {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
        std::string line = "\"";
        json_escape_append(line, s);
        line += '"';
        EXPECT_TRUE(nlohmann::json::accept(line)) << line;
    }
}

}  // namespace
}  // namespace anteroom::proxy
