// Prometheus text rendering of a private registry (never the global one, so tests stay apart).

#include "common/metrics.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace anteroom {
namespace {

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
        out.push_back(l);
    }
    return out;
}

// The sample line for `series` (name plus label set); "" if absent.
std::string sample(const std::string& text, const std::string& series) {
    for (const auto& l : lines(text)) {
        if (l.starts_with(series + " ")) {
            return l.substr(series.size() + 1);
        }
    }
    return "";
}

TEST(metrics, counters_and_gauges_render_with_help_type_and_labels) {
    metrics_registry r;
    r.get_counter("anteroom_requests_total", "Requests answered", "route=\"/\",class=\"2xx\"").inc(3);
    r.get_counter("anteroom_requests_total", "Requests answered", "route=\"/\",class=\"5xx\"").inc();
    r.get_gauge("anteroom_connections_open", "Open connections").set(-2);
    r.get_gauge("anteroom_connections_open", "Open connections").add(7);
    const auto text = r.render();
    EXPECT_EQ(lines(text), (std::vector<std::string>{
                               "# HELP anteroom_connections_open Open connections",
                               "# TYPE anteroom_connections_open gauge",
                               "anteroom_connections_open 5",
                               "# HELP anteroom_requests_total Requests answered",
                               "# TYPE anteroom_requests_total counter",
                               "anteroom_requests_total{route=\"/\",class=\"2xx\"} 3",
                               "anteroom_requests_total{route=\"/\",class=\"5xx\"} 1",
                           }));
    EXPECT_TRUE(text.ends_with("\n"));
}

TEST(metrics, the_same_series_is_the_same_object) {
    metrics_registry r;
    auto& a = r.get_counter("c_total", "h", "x=\"1\"");
    auto& b = r.get_counter("c_total", "h", "x=\"1\"");
    auto& other = r.get_counter("c_total", "h", "x=\"2\"");
    EXPECT_EQ(&a, &b);
    EXPECT_NE(&a, &other);
    a.inc();
    b.inc();
    EXPECT_EQ(a.value(), 2u);
    EXPECT_EQ(other.value(), 0u);
}

TEST(metrics, one_name_cannot_have_two_kinds) {
    metrics_registry r;
    r.get_counter("x", "h");
    EXPECT_THROW(r.get_gauge("x", "h"), std::logic_error);
    EXPECT_THROW(r.get_histogram("x", "h"), std::logic_error);
}

TEST(metrics, label_values_and_help_are_escaped) {
    EXPECT_EQ(label_value("plain/path"), "plain/path");
    EXPECT_EQ(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    metrics_registry r;
    r.get_counter("t_total", "help with \\ and\nnewline", "route=\"" + label_value("/\"x\"\n") + "\"").inc();
    const auto text = r.render();
    EXPECT_NE(text.find("# HELP t_total help with \\\\ and\\nnewline\n"), std::string::npos) << text;
    EXPECT_EQ(sample(text, "t_total{route=\"/\\\"x\\\"\\n\"}"), "1") << text;
}

TEST(metrics, histogram_buckets_are_cumulative_with_sum_and_count) {
    metrics_registry r;
    auto& h = r.get_histogram("lat_seconds", "Latency", "upstream=\"a\"");
    h.observe_us(400);         // 0.0004 s -> le 0.0005
    h.observe_us(500);         // exactly on a bound -> le 0.0005
    h.observe_us(501);         // -> le 0.001
    h.observe_us(30'000);      // -> le 0.05
    h.observe_us(10'000'000);  // exactly 10 s -> le 10
    h.observe_us(60'000'000);  // above every bound -> only +Inf
    const auto text = r.render();
    const std::string s = "lat_seconds_bucket{upstream=\"a\",le=\"";
    EXPECT_EQ(sample(text, s + "0.0005\"}"), "2");
    EXPECT_EQ(sample(text, s + "0.001\"}"), "3");
    EXPECT_EQ(sample(text, s + "0.0025\"}"), "3");
    EXPECT_EQ(sample(text, s + "0.025\"}"), "3");
    EXPECT_EQ(sample(text, s + "0.05\"}"), "4");
    EXPECT_EQ(sample(text, s + "5\"}"), "4");
    EXPECT_EQ(sample(text, s + "10\"}"), "5");
    EXPECT_EQ(sample(text, s + "+Inf\"}"), "6");
    EXPECT_EQ(sample(text, "lat_seconds_count{upstream=\"a\"}"), "6");
    EXPECT_EQ(sample(text, "lat_seconds_sum{upstream=\"a\"}"), "70.031401");
    EXPECT_EQ(h.count(), 6u);
    EXPECT_NE(text.find("# TYPE lat_seconds histogram\n"), std::string::npos);
    // Every bound appears once, in increasing order, followed by +Inf.
    std::vector<std::string> les;
    for (const auto& l : lines(text)) {
        if (l.starts_with(s)) {
            les.push_back(l.substr(s.size(), l.find('"', s.size()) - s.size()));
        }
    }
    EXPECT_EQ(les, (std::vector<std::string>{"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
                                             "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}));
}

TEST(metrics, histogram_without_labels_and_large_sums_keep_precision) {
    metrics_registry r;
    auto& h = r.get_histogram("h_seconds", "H");
    for (int i = 0; i < 3; ++i) {
        h.observe_us(123'456'789'012);  // about 34 hours each
    }
    h.observe_us(1);
    const auto text = r.render();
    EXPECT_EQ(sample(text, "h_seconds_bucket{le=\"0.0005\"}"), "1");
    EXPECT_EQ(sample(text, "h_seconds_bucket{le=\"+Inf\"}"), "4");
    EXPECT_EQ(sample(text, "h_seconds_sum"), "370370.367037");
    EXPECT_EQ(sample(text, "h_seconds_count"), "4");
}

TEST(metrics, empty_registry_renders_nothing) {
    metrics_registry r;
    EXPECT_EQ(r.render(), "");
}

}  // namespace
}  // namespace anteroom
