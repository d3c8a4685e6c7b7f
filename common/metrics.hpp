#pragma once
// A small Prometheus registry. Metrics are created once (at start or on reload, off the hot
// path) and then updated with relaxed atomics; rendering walks the registry under its mutex.
// Objects are never destroyed before the registry, so references handed out stay valid across
// config reloads (a route or upstream that comes back gets its old series).

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace anteroom {

class counter {
public:
    void inc(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

class gauge {
public:
    void add(std::int64_t n) { v_.fetch_add(n, std::memory_order_relaxed); }
    void set(std::int64_t n) { v_.store(n, std::memory_order_relaxed); }
    std::int64_t value() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::int64_t> v_{0};
};

// Fixed buckets in seconds (upper bounds), observations in microseconds.
class histogram {
public:
    static constexpr std::array<double, 14> bounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                   0.1,    0.25,  0.5,    1.0,   2.5,   5.0,  10.0};
    void observe_us(std::uint64_t us);
    // Observations in bucket i alone (not cumulative); i == bounds.size() is above the last bound.
    std::uint64_t bucket(std::size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
    // The sum of all buckets, so a concurrent observation can never make +Inf (= count) smaller
    // than the last finite cumulative bucket in one rendering.
    std::uint64_t count() const;
    std::uint64_t sum_us() const { return sum_us_.load(std::memory_order_relaxed); }

private:
    std::array<std::atomic<std::uint64_t>, bounds.size() + 1> buckets_{};
    std::atomic<std::uint64_t> sum_us_{0};
};

class metrics_registry {
public:
    // `labels` is the inside of the braces, already escaped: route="/",class="2xx" (or "").
    counter& get_counter(const std::string& name, const std::string& help, const std::string& labels = "");
    gauge& get_gauge(const std::string& name, const std::string& help, const std::string& labels = "");
    histogram& get_histogram(const std::string& name, const std::string& help, const std::string& labels = "");

    // Prometheus text exposition format 0.0.4.
    std::string render() const;

    static metrics_registry& global();

private:
    enum class kind { counter, gauge, histogram };
    struct family {
        kind k;
        std::string help;
        std::map<std::string, void*> series;  // labels -> metric object
    };
    template <class T>
    T& get(kind k, const std::string& name, const std::string& help, const std::string& labels,
           std::deque<T>& store);

    mutable std::mutex mu_;
    std::map<std::string, family> families_;
    std::deque<counter> counters_;
    std::deque<gauge> gauges_;
    std::deque<histogram> histograms_;
};

// Escape a label value (backslash, quote, newline).
std::string label_value(std::string_view v);

}  // namespace anteroom
