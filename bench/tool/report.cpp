#include "bench/tool/report.hpp"

#include <cstdio>

namespace anteroom::bench {

namespace {

constexpr std::array<std::pair<const char*, double>, 5> percentiles{
    {{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}, {"p99.9", 0.999}, {"max", 1.0}}};

std::string format_us(std::uint64_t us) {
    char buf[32];
    if (us < 1000) {
        std::snprintf(buf, sizeof buf, "%lluus", static_cast<unsigned long long>(us));
    } else if (us < 1'000'000) {
        std::snprintf(buf, sizeof buf, "%.2fms", static_cast<double>(us) / 1e3);
    } else {
        std::snprintf(buf, sizeof buf, "%.2fs", static_cast<double>(us) / 1e6);
    }
    return buf;
}

std::string target_url(const raw_options& o) {
    return (o.tls.enabled ? "https://" : "http://") + o.host_header;
}

}  // namespace

const char* to_string(error_kind k) {
    switch (k) {
        case error_kind::connect: return "connect";
        case error_kind::timeout: return "timeout";
        case error_kind::reset: return "reset";
        case error_kind::closed: return "closed";
        case error_kind::parse: return "parse";
        case error_kind::other: return "other";
        case error_kind::handshake: return "handshake";
    }
    return "other";
}

void raw_stats::count_status(unsigned status) {
    ++responses;
    if (status >= 100 && status < 600) {
        ++status_class[status / 100 - 1];
    }
}

std::uint64_t raw_stats::error_total() const {
    std::uint64_t n = 0;
    for (auto e : errors) {
        n += e;
    }
    return n;
}

void raw_stats::merge(const raw_stats& other) {
    latency_us.merge(other.latency_us);
    attempts += other.attempts;
    responses += other.responses;
    for (std::size_t i = 0; i < status_class.size(); ++i) {
        status_class[i] += other.status_class[i];
    }
    for (std::size_t i = 0; i < errors.size(); ++i) {
        errors[i] += other.errors[i];
    }
    connections_opened += other.connections_opened;
    bytes_read += other.bytes_read;
    tls_full_handshakes += other.tls_full_handshakes;
    tls_resumed_handshakes += other.tls_resumed_handshakes;
    if (tls_protocol.empty()) {
        tls_protocol = other.tls_protocol;
        tls_cipher = other.tls_cipher;
        tls_alpn = other.tls_alpn;
    }
}

double raw_report::requests_per_second() const {
    const double s = std::chrono::duration<double>(elapsed).count();
    return s > 0 ? static_cast<double>(stats.responses) / s : 0.0;
}

std::string format_text(const raw_report& r) {
    const auto& s = r.stats;
    const auto& o = *r.options;
    std::string out;
    char line[256];
    std::snprintf(line, sizeof line, "anteroom-bench raw %s%s  %u connections, %u thread(s), %s%s\n",
                  target_url(o).c_str(), o.paths.front().c_str(), o.connections, o.threads,
                  o.keep_alive ? "keep-alive" : "new connection per request",
                  o.rate > 0 ? ", fixed rate" : "");
    out += line;
    if (r.interrupted) {
        out += "  INTERRUPTED: figures of what ran until Ctrl-C\n";
    }
    if (o.rate > 0) {
        std::snprintf(line, sizeof line, "  target rate %.0f req/s (latency from the intended send time)\n", o.rate);
        out += line;
    }
    std::snprintf(line, sizeof line, "  %llu responses in %.2fs, %.1f requests/s, %.2f MB read, %llu connections opened\n",
                  static_cast<unsigned long long>(s.responses), std::chrono::duration<double>(r.elapsed).count(),
                  r.requests_per_second(), static_cast<double>(s.bytes_read) / 1e6,
                  static_cast<unsigned long long>(s.connections_opened));
    out += line;
    out += "  latency ";
    for (const auto& [name, q] : percentiles) {
        out += std::string(" ") + name + " " + format_us(s.latency_us.percentile(q));
    }
    out += "  mean " + format_us(static_cast<std::uint64_t>(s.latency_us.mean())) + "\n";
    out += "  status ";
    for (std::size_t i = 0; i < s.status_class.size(); ++i) {
        out.append(" ").append(std::to_string(i + 1)).append("xx ").append(std::to_string(s.status_class[i]));
    }
    out += "\n  errors ";
    for (std::size_t i = 0; i < error_kind_count; ++i) {
        const auto k = static_cast<error_kind>(i);
        if (k != error_kind::handshake || o.tls.enabled) {
            out += std::string(" ") + to_string(k) + " " + std::to_string(s.errors[i]);
        }
    }
    out += "\n";
    if (o.tls.enabled) {
        std::snprintf(line, sizeof line, "  tls     %s %s, alpn %s; handshakes: %llu full, %llu resumed%s%s\n",
                      s.tls_protocol.empty() ? "-" : s.tls_protocol.c_str(),
                      s.tls_cipher.empty() ? "-" : s.tls_cipher.c_str(), s.tls_alpn.empty() ? "-" : s.tls_alpn.c_str(),
                      static_cast<unsigned long long>(s.tls_full_handshakes),
                      static_cast<unsigned long long>(s.tls_resumed_handshakes),
                      o.tls.resume ? " (resumption offered)" : "",
                      o.tls.cacert.empty() ? ", server not verified" : ", server verified");
        out += line;
    }
    return out;
}

nlohmann::json to_json(const raw_report& r) {
    const auto& s = r.stats;
    const auto& o = *r.options;
    nlohmann::json j;
    j["mode"] = "raw";
    j["target"] = target_url(o);
    j["paths"] = o.paths;
    j["method"] = o.method;
    j["connections"] = o.connections;
    j["threads"] = o.threads;
    j["keep_alive"] = o.keep_alive;
    j["rate"] = o.rate;
    j["elapsed_seconds"] = std::chrono::duration<double>(r.elapsed).count();
    j["interrupted"] = r.interrupted;
    j["attempts"] = s.attempts;
    j["responses"] = s.responses;
    j["requests_per_second"] = r.requests_per_second();
    j["bytes_read"] = s.bytes_read;
    j["connections_opened"] = s.connections_opened;
    auto& lat = j["latency_us"];
    for (const auto& [name, q] : percentiles) {
        lat[name] = s.latency_us.percentile(q);
    }
    lat["min"] = s.latency_us.min();
    lat["mean"] = s.latency_us.mean();
    lat["count"] = s.latency_us.count();
    auto& st = j["status"];
    for (std::size_t i = 0; i < s.status_class.size(); ++i) {
        st[std::to_string(i + 1) + "xx"] = s.status_class[i];
    }
    auto& er = j["errors"];
    for (std::size_t i = 0; i < error_kind_count; ++i) {
        er[to_string(static_cast<error_kind>(i))] = s.errors[i];
    }
    er["total"] = s.error_total();
    if (o.tls.enabled) {
        j["tls"] = {{"protocol", s.tls_protocol},
                    {"cipher", s.tls_cipher},
                    {"alpn", s.tls_alpn},
                    {"sni", o.tls.sni},
                    {"verified", !o.tls.cacert.empty()},
                    {"resume", o.tls.resume},
                    {"full_handshakes", s.tls_full_handshakes},
                    {"resumed_handshakes", s.tls_resumed_handshakes}};
    }
    return j;
}

}  // namespace anteroom::bench
