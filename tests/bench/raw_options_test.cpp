#include "bench/tool/raw_options.hpp"

#include <gtest/gtest.h>

namespace anteroom::bench {

namespace {
raw_parse_result parse(std::vector<std::string> args) { return parse_raw_options(args); }

void expect_bad(std::vector<std::string> args, std::string_view needle) {
    const auto r = parse(args);
    EXPECT_FALSE(r.options.has_value());
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.message.find(needle), std::string::npos) << r.message;
}
}  // namespace

TEST(BenchRawOptions, DefaultsAreWrkLike) {
    const auto r = parse({"http://127.0.0.1:8080/"});
    ASSERT_TRUE(r.options) << r.message;
    const auto& o = *r.options;
    EXPECT_EQ(o.target_ip, "127.0.0.1");
    EXPECT_EQ(o.target_port, 8080);
    EXPECT_EQ(o.host_header, "127.0.0.1:8080");
    EXPECT_EQ(o.paths, std::vector<std::string>{"/"});
    EXPECT_EQ(o.connections, 10u);
    EXPECT_EQ(o.threads, 1u);
    EXPECT_EQ(o.duration, std::chrono::seconds(10));
    EXPECT_EQ(o.timeout, std::chrono::seconds(2));
    EXPECT_TRUE(o.keep_alive);
    EXPECT_FALSE(o.requests);
    EXPECT_EQ(o.rate, 0);
}

TEST(BenchRawOptions, EveryOptionIsRead) {
    const auto r = parse({"-c", "50", "-t", "2", "-n", "1000", "-m", "POST", "--path", "/a", "--path", "/b?x=1",
                          "-H", "X-Test:  yes", "--body", "hello", "--no-keepalive", "-R", "2500", "--source",
                          "127.0.0.2-127.0.0.250", "--timeout", "500ms", "--json", "out.json",
                          "http://127.0.0.3:9000/ignored"});
    ASSERT_TRUE(r.options) << r.message;
    const auto& o = *r.options;
    EXPECT_EQ(o.connections, 50u);
    EXPECT_EQ(o.threads, 2u);
    EXPECT_EQ(o.requests, 1000u);
    EXPECT_EQ(o.method, "POST");
    EXPECT_EQ(o.paths, (std::vector<std::string>{"/a", "/b?x=1"}));
    ASSERT_EQ(o.headers.size(), 1u);
    EXPECT_EQ(o.headers[0].second, "yes");
    EXPECT_EQ(o.body, "hello");
    EXPECT_FALSE(o.keep_alive);
    EXPECT_EQ(o.rate, 2500);
    EXPECT_EQ(o.source_first, 0x7F000002u);
    EXPECT_EQ(o.source_last, 0x7F0000FAu);
    EXPECT_EQ(o.timeout, std::chrono::milliseconds(500));
    EXPECT_EQ(o.json_file, "out.json");
    EXPECT_EQ(o.target_ip, "127.0.0.3");
    EXPECT_EQ(o.target_port, 9000);

    const auto v6 = parse({"http://[::1]:9001"});
    ASSERT_TRUE(v6.options) << v6.message;
    EXPECT_EQ(v6.options->target_ip, "::1");
    EXPECT_EQ(v6.options->paths, std::vector<std::string>{"/"});
}

TEST(BenchRawOptions, HelpExitsZeroWithText) {
    const auto r = parse({"--help"});
    EXPECT_FALSE(r.options);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.message.find("--connections"), std::string::npos);
}

TEST(BenchRawOptions, BadOptionsExitTwoWithAClearMessage) {
    expect_bad({}, "url");
    expect_bad({"ftp://127.0.0.1/"}, "must start with http:// or https://");
    expect_bad({"http://localhost:8080/"}, "literal IP address");
    expect_bad({"http://127.0.0.1:0/"}, "bad port");
    expect_bad({"http://127.0.0.1:99999/"}, "bad port");
    expect_bad({"-c", "0", "http://127.0.0.1:80/"}, "--connections");
    expect_bad({"-c", "2", "-t", "3", "http://127.0.0.1:80/"}, "must not exceed --connections");
    expect_bad({"-d", "soon", "http://127.0.0.1:80/"}, "--duration");
    expect_bad({"-d", "1s", "-n", "5", "http://127.0.0.1:80/"}, "excludes");
    expect_bad({"-n", "0", "http://127.0.0.1:80/"}, "--requests");
    expect_bad({"-R", "0", "http://127.0.0.1:80/"}, "--rate");
    expect_bad({"--timeout", "-1s", "http://127.0.0.1:80/"}, "--timeout");
    expect_bad({"--source", "10.0.0.1-10.0.0.9", "http://127.0.0.1:80/"}, "127.0.0.0/8");
    expect_bad({"--source", "127.0.0.9-127.0.0.2", "http://127.0.0.1:80/"}, "above the last");
    expect_bad({"--source", "127.0.0.x", "http://127.0.0.1:80/"}, "--source");
    expect_bad({"--source", "127.0.0.2", "http://[::1]:80/"}, "IPv4 target");
    expect_bad({"--path", "nope", "http://127.0.0.1:80/"}, "--path");
    expect_bad({"-H", "NoColon", "http://127.0.0.1:80/"}, "--header");
    expect_bad({"-m", "GE T", "http://127.0.0.1:80/"}, "--method");
    expect_bad({"--body-file", "/nonexistent/x", "http://127.0.0.1:80/"}, "--body-file");
    expect_bad({"--bogus", "http://127.0.0.1:80/"}, "--bogus");
}

TEST(BenchRawOptions, HttpsTargetsAndTheTlsOptions) {
    auto r = parse({"https://127.0.0.1/x"});
    ASSERT_TRUE(r.options) << r.message;
    EXPECT_TRUE(r.options->tls.enabled);
    EXPECT_EQ(r.options->target_port, 443);
    EXPECT_EQ(r.options->host_header, "127.0.0.1");
    EXPECT_EQ(r.options->paths, std::vector<std::string>{"/x"});
    EXPECT_TRUE(r.options->tls.cacert.empty());  // not verified unless --cacert
    EXPECT_TRUE(r.options->tls.sni.empty());     // an IP literal is never sent as SNI
    EXPECT_FALSE(r.options->tls.resume);
    EXPECT_FALSE(parse({"http://127.0.0.1/"}).options->tls.enabled);

    const std::string readable = ANTEROOM_SOURCE_DIR "/README.md";
    r = parse({"--cacert", readable, "--sni", "shop.example", "--tls-version", "1.2", "--tls-resume", "--no-keepalive",
               "https://[::1]:8443/"});
    ASSERT_TRUE(r.options) << r.message;
    const auto& t = r.options->tls;
    EXPECT_EQ(t.cacert, readable);
    EXPECT_EQ(t.sni, "shop.example");
    EXPECT_EQ(t.version, "1.2");
    EXPECT_TRUE(t.resume);
    EXPECT_EQ(r.options->target_port, 8443);

    // The SNI name comes from an explicit Host header unless --sni names one.
    EXPECT_EQ(parse({"-H", "Host: shop.example:8443", "-k", "https://127.0.0.1:8443/"}).options->tls.sni, "shop.example");
    EXPECT_EQ(parse({"-H", "host: 10.1.2.3", "https://127.0.0.1:8443/"}).options->tls.sni, "");
    EXPECT_EQ(parse({"-H", "Host: a.example", "--sni", "b.example", "https://127.0.0.1/"}).options->tls.sni, "b.example");

    expect_bad({"--tls-resume", "http://127.0.0.1/"}, "need an https:// URL");
    expect_bad({"-k", "http://127.0.0.1/"}, "need an https:// URL");
    expect_bad({"--sni", "a.example", "http://127.0.0.1/"}, "need an https:// URL");
    expect_bad({"-k", "--cacert", readable, "https://127.0.0.1/"}, "excludes");
    expect_bad({"--cacert", "/nonexistent/ca.pem", "https://127.0.0.1/"}, "--cacert: cannot read");
    expect_bad({"--tls-version", "1.1", "https://127.0.0.1/"}, "--tls-version");
    expect_bad({"--sni", "bad name", "https://127.0.0.1/"}, "--sni");
    expect_bad({"https://127.0.0.1:0/"}, "bad port");
}

TEST(BenchRawOptions, Durations) {
    EXPECT_EQ(parse_duration("10"), std::chrono::seconds(10));
    EXPECT_EQ(parse_duration("1.5s"), std::chrono::milliseconds(1500));
    EXPECT_EQ(parse_duration("250ms"), std::chrono::milliseconds(250));
    EXPECT_EQ(parse_duration("40us"), std::chrono::microseconds(40));
    EXPECT_EQ(parse_duration("2m"), std::chrono::minutes(2));
    EXPECT_FALSE(parse_duration(""));
    EXPECT_FALSE(parse_duration("0s"));
    EXPECT_FALSE(parse_duration("5 s"));
    EXPECT_FALSE(parse_duration("5d"));
}

TEST(BenchRawOptions, RequestsArePreSerialisedOncePerPath) {
    auto r = parse({"-m", "POST", "--path", "/a", "--path", "/b", "-H", "X-K: v", "--body", "abc", "--no-keepalive",
                    "http://127.0.0.1:8080/"});
    ASSERT_TRUE(r.options);
    const auto reqs = serialise_requests(*r.options);
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_EQ(reqs[0],
              "POST /a HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-K: v\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
    EXPECT_TRUE(reqs[1].starts_with("POST /b HTTP/1.1\r\n"));

    r = parse({"-H", "host: example.org", "http://127.0.0.1:8080/x"});
    ASSERT_TRUE(r.options);
    EXPECT_EQ(serialise_requests(*r.options)[0], "GET /x HTTP/1.1\r\nhost: example.org\r\n\r\n");
}

}  // namespace anteroom::bench
