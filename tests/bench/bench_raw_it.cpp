// anteroom-bench raw, the real binary, against the fake upstream: the JSON report must agree with
// what the server saw, and every attempt must end exactly once (a response or one error kind).

#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/subprocess.hpp"

namespace anteroom::test {

namespace {

struct bench_run {
    run_result result;
    nlohmann::json report;
};

class BenchRaw : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (std::filesystem::temp_directory_path() / "bench-raw-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    bench_run bench(std::vector<std::string> args) {
        const auto json_path = dir_ + "/report.json";
        std::filesystem::remove(json_path);
        std::vector<std::string> argv{ANTEROOM_BENCH_BINARY, "raw", "--json", json_path};
        argv.insert(argv.end(), args.begin(), args.end());
        bench_run r;
        r.result = run_process(argv, std::chrono::seconds(30));
        std::ifstream in(json_path);
        if (in) {
            r.report = nlohmann::json::parse(in);
        }
        return r;
    }

    static void expect_every_attempt_ends_once(const nlohmann::json& j) {
        EXPECT_EQ(j["attempts"].get<std::uint64_t>(),
                  j["responses"].get<std::uint64_t>() + j["errors"]["total"].get<std::uint64_t>())
            << j.dump(2);
        std::uint64_t classes = 0;
        for (const char* c : {"1xx", "2xx", "3xx", "4xx", "5xx"}) {
            classes += j["status"][c].get<std::uint64_t>();
        }
        EXPECT_EQ(classes, j["responses"].get<std::uint64_t>());
        EXPECT_EQ(j["latency_us"]["count"], j["responses"]);
    }

    std::string dir_;
};

}  // namespace

TEST_F(BenchRaw, KeepAliveRunCountsWhatTheServerSawByStatusClass) {
    fake_upstream up;
    const auto url = "http://" + up.address() + "/";
    auto r = bench({"-c", "4", "-t", "2", "-d", "1s", "--path", "/echo", "--path", "/status/404", "--path",
                    "/status/503", url});
    ASSERT_EQ(r.result.code, 0) << r.result.err;
    const auto& j = r.report;
    ASSERT_FALSE(j.is_null());
    expect_every_attempt_ends_once(j);
    EXPECT_EQ(j["errors"]["total"], 0);
    const auto responses = j["responses"].get<std::uint64_t>();
    EXPECT_GT(responses, 30u);
    EXPECT_EQ(up.request_count(), responses);
    EXPECT_EQ(up.connections_accepted(), 4u);  // keep-alive: one connection each, never reopened
    EXPECT_EQ(j["connections_opened"], 4);
    // Round robin per thread: the three paths within one of each other on each of two threads.
    for (const char* c : {"2xx", "4xx", "5xx"}) {
        EXPECT_NEAR(static_cast<double>(j["status"][c].get<std::uint64_t>()), responses / 3.0, 2.0) << c;
    }
    EXPECT_GE(j["latency_us"]["p99"].get<std::uint64_t>(), j["latency_us"]["p50"].get<std::uint64_t>());
    EXPECT_GE(j["latency_us"]["max"].get<std::uint64_t>(), j["latency_us"]["p99.9"].get<std::uint64_t>());
    EXPECT_GT(j["requests_per_second"].get<double>(), 0.0);
    EXPECT_NE(r.result.out.find("requests/s"), std::string::npos) << r.result.out;
}

TEST_F(BenchRaw, ServerClosingConnectionsIsCountedAsClosedAndReconnected) {
    fake_upstream up;
    auto r = bench({"-c", "2", "-n", "200", "--path", "/echo", "--path", "/close", "http://" + up.address() + "/"});
    ASSERT_EQ(r.result.code, 0) << r.result.err;
    const auto& j = r.report;
    expect_every_attempt_ends_once(j);
    EXPECT_EQ(j["attempts"], 200);
    EXPECT_EQ(j["responses"], 100);
    EXPECT_EQ(j["status"]["2xx"], 100);
    EXPECT_EQ(j["errors"]["closed"], 100);
    EXPECT_EQ(up.request_count(), 200u);  // the server saw every request, answered or not
    EXPECT_EQ(j["connections_opened"].get<std::size_t>(), up.connections_accepted());
}

TEST_F(BenchRaw, NewConnectionPerRequestFromASourceRangeAtAFixedRate) {
    fake_upstream up;
    // 200 req/s for 1 s: exactly 200 slots (k / 200 s < 1 s), whatever the machine's speed.
    auto r = bench({"-c", "4", "-R", "200", "-d", "1s", "--no-keepalive", "--source", "127.0.0.2-127.0.0.9",
                    "--path", "/echo", "http://" + up.address() + "/"});
    ASSERT_EQ(r.result.code, 0) << r.result.err;
    const auto& j = r.report;
    expect_every_attempt_ends_once(j);
    EXPECT_EQ(j["attempts"], 200);
    EXPECT_EQ(j["errors"]["total"], 0) << j.dump(2);
    EXPECT_EQ(j["connections_opened"], j["responses"]);
    EXPECT_EQ(up.connections_accepted(), 200u);
    const auto seen = up.requests();
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.front().header("Connection"), "close");
    EXPECT_GT(j["elapsed_seconds"].get<double>(), 0.9);
}

TEST_F(BenchRaw, ConnectFailuresAndTimeoutsAreErrorsByKind) {
    auto refused = bench({"-c", "2", "-n", "20", "http://127.0.0.1:" + std::to_string(closed_port()) + "/"});
    ASSERT_EQ(refused.result.code, 0) << refused.result.err;
    expect_every_attempt_ends_once(refused.report);
    EXPECT_EQ(refused.report["errors"]["connect"], 20);
    EXPECT_EQ(refused.report["responses"], 0);

    fake_upstream up;
    auto slow = bench({"-c", "2", "-n", "2", "--timeout", "200ms", "--path", "/delay/3000", "http://" + up.address() + "/"});
    ASSERT_EQ(slow.result.code, 0) << slow.result.err;
    expect_every_attempt_ends_once(slow.report);
    EXPECT_EQ(slow.report["errors"]["timeout"], 2);
    EXPECT_LT(slow.report["elapsed_seconds"].get<double>(), 2.0);
}

TEST_F(BenchRaw, BadCommandLinesExitTwoWithAMessage) {
    auto tls = run_process({ANTEROOM_BENCH_BINARY, "raw", "https://127.0.0.1:8443/"});
    EXPECT_EQ(tls.code, 2);
    EXPECT_NE(tls.err.find("https:// is not supported yet"), std::string::npos) << tls.err;
    auto bogus = run_process({ANTEROOM_BENCH_BINARY, "raw", "-c", "0", "http://127.0.0.1:1/"});
    EXPECT_EQ(bogus.code, 2);
    EXPECT_NE(bogus.err.find("--connections"), std::string::npos) << bogus.err;
    EXPECT_EQ(run_process({ANTEROOM_BENCH_BINARY, "nonsense"}).code, 2);
}

}  // namespace anteroom::test
