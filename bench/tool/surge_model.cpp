#include "bench/tool/surge_model.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>
#include <random>

namespace anteroom::bench {

const char* to_string(outcome o) {
    switch (o) {
        case outcome::not_arrived: return "not_arrived";
        case outcome::waiting: return "waiting";
        case outcome::abandoned: return "abandoned";
        case outcome::admitted: return "admitted";
        case outcome::booked: return "booked";
        case outcome::denied: return "denied";
        case outcome::finished: return "finished";
        case outcome::failed: return "failed";
    }
    return "failed";
}

std::vector<std::uint32_t> arrival_times(const arrival_spec& a, std::uint64_t count, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const double start = static_cast<double>(a.start.count());
    const double span = static_cast<double>(a.duration.count());
    std::vector<std::uint32_t> out;
    out.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i) {
        double t = 0;
        switch (a.shape) {
            case arrival_shape::poisson:
                // n points of a Poisson process conditioned on n: uniform order statistics.
                t = start + span * u(rng);
                break;
            case arrival_shape::ramp:
                // Density rising linearly over the span: inverse of F(x) = x².
                t = start + span * std::sqrt(u(rng));
                break;
            case arrival_shape::spike:
                if (u(rng) < a.early) {
                    t = start * u(rng);
                } else {
                    // Exponential after the start, cut at the span (redrawn inside it).
                    const double mean = std::max(1.0, static_cast<double>(a.spread.count()));
                    const double cut = 1.0 - std::exp(-span / mean);
                    t = start - mean * std::log1p(-u(rng) * cut);
                }
                break;
        }
        out.push_back(static_cast<std::uint32_t>(std::clamp(t, 0.0, 4.0e9)));
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<visitor_record> make_visitors(const scenario& sc) {
    std::vector<visitor_record> all;
    all.reserve(sc.total);
    for (std::size_t c = 0; c < sc.cohorts.size(); ++c) {
        const auto& spec = sc.cohorts[c];
        const auto times = arrival_times(spec.arrivals, spec.count, sc.seed * 1000003 + c);
        const std::uint64_t span = std::uint64_t{spec.source_last} - spec.source_first + 1;
        // Addresses in a scattered but fixed order, so neighbours in time do not share a /24 more
        // than the range makes them.
        const std::uint64_t stride = span > 2 ? (span / 2 + 1) | 1 : 1;
        for (std::uint64_t i = 0; i < times.size(); ++i) {
            visitor_record v;
            v.arrival_ms = times[i];
            v.cohort = static_cast<std::uint8_t>(c);
            std::uint64_t k = (i * stride) % span;
            if (std::gcd(stride, span) != 1) {
                k = i % span;
            }
            v.source = static_cast<std::uint32_t>(spec.source_first + k);
            all.push_back(v);
        }
    }
    std::stable_sort(all.begin(), all.end(),
                     [](const visitor_record& a, const visitor_record& b) { return a.arrival_ms < b.arrival_ms; });
    return all;
}

std::size_t coarse_histogram::index_of(std::uint64_t value) {
    if (value < 8) {
        return static_cast<std::size_t>(value);
    }
    const unsigned top = 63 - static_cast<unsigned>(std::countl_zero(value));  // >= 3
    const auto sub = static_cast<unsigned>((value >> (top - 2)) & 3);
    const std::size_t i = 8 + (top - 3) * 4 + sub;
    return std::min(i, size - 1);
}

std::uint64_t coarse_histogram::upper_bound_of(std::size_t index) {
    if (index < 8) {
        return index;
    }
    const std::size_t top = (index - 8) / 4 + 3;
    const std::uint64_t sub = (index - 8) % 4;
    return ((4 + sub + 1) << (top - 2)) - 1;
}

void coarse_histogram::record(std::uint64_t value) {
    ++b_[index_of(value)];
    ++count_;
}

void coarse_histogram::merge(const coarse_histogram& o) {
    for (std::size_t i = 0; i < size; ++i) {
        b_[i] += o.b_[i];
    }
    count_ += o.count_;
}

std::uint64_t coarse_histogram::percentile(double q) const {
    if (count_ == 0) {
        return 0;
    }
    const auto want = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < size; ++i) {
        seen += b_[i];
        if (seen >= want) {
            return upper_bound_of(i);
        }
    }
    return upper_bound_of(size - 1);
}

timeline_bucket& timeline::at(std::uint32_t ms) {
    const std::size_t i = std::min<std::size_t>(ms / bucket_ms_, max_buckets - 1);
    if (i >= b_.size()) {
        b_.resize(i + 1);
    }
    return b_[i];
}

void timeline::resize_to(std::uint32_t end_ms) {
    const std::size_t n = std::min<std::size_t>(end_ms / bucket_ms_ + 1, max_buckets);
    if (b_.size() < n) {
        b_.resize(n);
    }
}

void timeline::merge(const timeline& o) {
    if (b_.size() < o.b_.size()) {
        b_.resize(o.b_.size());
    }
    for (std::size_t i = 0; i < o.b_.size(); ++i) {
        auto& d = b_[i];
        const auto& s = o.b_[i];
        d.arrived += s.arrived;
        d.admitted += s.admitted;
        d.booked += s.booked;
        d.responses += s.responses;
        d.errors += s.errors;
        d.waiting += s.waiting;
        d.machine_actions += s.machine_actions;
        d.latency_us.merge(s.latency_us);
    }
}

}  // namespace anteroom::bench
