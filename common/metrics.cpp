#include "common/metrics.hpp"

#include <cstdio>
#include <stdexcept>

namespace anteroom {

void histogram::observe_us(std::uint64_t us) {
    const double s = static_cast<double>(us) / 1e6;
    std::size_t i = 0;
    while (i < bounds.size() && s > bounds[i]) {
        ++i;
    }
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_us_.fetch_add(us, std::memory_order_relaxed);
}

std::uint64_t histogram::count() const {
    std::uint64_t n = 0;
    for (const auto& b : buckets_) {
        n += b.load(std::memory_order_relaxed);
    }
    return n;
}

template <class T>
T& metrics_registry::get(kind k, const std::string& name, const std::string& help, const std::string& labels,
                         std::deque<T>& store) {
    std::lock_guard lock(mu_);
    auto [it, inserted] = families_.try_emplace(name, family{k, help, {}});
    if (!inserted && it->second.k != k) {
        // A programming error (two kinds under one name), caught at start-up, never per request.
        throw std::logic_error("metric registered twice with different kinds: " + name);
    }
    auto& series = it->second.series;
    if (auto s = series.find(labels); s != series.end()) {
        return *static_cast<T*>(s->second);
    }
    T& obj = store.emplace_back();
    series.emplace(labels, &obj);
    return obj;
}

counter& metrics_registry::get_counter(const std::string& name, const std::string& help, const std::string& labels) {
    return get(kind::counter, name, help, labels, counters_);
}

gauge& metrics_registry::get_gauge(const std::string& name, const std::string& help, const std::string& labels) {
    return get(kind::gauge, name, help, labels, gauges_);
}

histogram& metrics_registry::get_histogram(const std::string& name, const std::string& help,
                                           const std::string& labels) {
    return get(kind::histogram, name, help, labels, histograms_);
}

namespace {

std::string with_labels(const std::string& name, const std::string& labels, const std::string& extra = "") {
    std::string s = name;
    if (!labels.empty() || !extra.empty()) {
        s += '{';
        s += labels;
        if (!labels.empty() && !extra.empty()) {
            s += ',';
        }
        s += extra;
        s += '}';
    }
    return s;
}

std::string format_double(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

// Microseconds as exact decimal seconds: "%g" would round a growing sum to six digits, and a
// rate() over it would then stall for minutes at a time.
std::string format_seconds_us(std::uint64_t us) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%llu.%06llu", static_cast<unsigned long long>(us / 1'000'000),
                  static_cast<unsigned long long>(us % 1'000'000));
    return buf;
}

// HELP text escapes backslash and newline (exposition format 0.0.4).
std::string help_text(const std::string& help) {
    std::string out;
    for (char c : help) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace

std::string metrics_registry::render() const {
    std::lock_guard lock(mu_);
    std::string out;
    out.reserve(4096);
    for (const auto& [name, fam] : families_) {
        out += "# HELP " + name + " " + help_text(fam.help) + "\n";
        out += "# TYPE " + name + " ";
        out += fam.k == kind::counter ? "counter" : fam.k == kind::gauge ? "gauge" : "histogram";
        out += "\n";
        for (const auto& [labels, ptr] : fam.series) {
            switch (fam.k) {
                case kind::counter:
                    out += with_labels(name, labels) + " " +
                           std::to_string(static_cast<const counter*>(ptr)->value()) + "\n";
                    break;
                case kind::gauge:
                    out += with_labels(name, labels) + " " +
                           std::to_string(static_cast<const gauge*>(ptr)->value()) + "\n";
                    break;
                case kind::histogram: {
                    const auto* h = static_cast<const histogram*>(ptr);
                    std::uint64_t cumulative = 0;
                    for (std::size_t i = 0; i < histogram::bounds.size(); ++i) {
                        cumulative += h->bucket(i);
                        out += with_labels(name + "_bucket", labels,
                                           "le=\"" + format_double(histogram::bounds[i]) + "\"") +
                               " " + std::to_string(cumulative) + "\n";
                    }
                    // +Inf and _count from the same reads as the finite buckets: consistent even
                    // while observations land.
                    cumulative += h->bucket(histogram::bounds.size());
                    out += with_labels(name + "_bucket", labels, "le=\"+Inf\"") + " " +
                           std::to_string(cumulative) + "\n";
                    out += with_labels(name + "_sum", labels) + " " + format_seconds_us(h->sum_us()) + "\n";
                    out += with_labels(name + "_count", labels) + " " + std::to_string(cumulative) + "\n";
                    break;
                }
            }
        }
    }
    return out;
}

metrics_registry& metrics_registry::global() {
    static metrics_registry r;
    return r;
}

std::string label_value(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace anteroom
