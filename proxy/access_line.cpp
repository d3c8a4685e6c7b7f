#include "proxy/access_line.hpp"

#include <ctime>

#include "bot_detect/scoring.hpp"
#include "common/log.hpp"
#include "proxy/worker.hpp"

namespace anteroom::proxy {

namespace {

// "2026-11-28T14:00:00.123Z"; the seconds part is cached per thread.
void append_time(std::string& out, std::chrono::system_clock::time_point t) {
    thread_local std::time_t cached_sec = -1;
    thread_local char cached[64];
    const auto since = t.time_since_epoch();
    const auto sec = std::chrono::duration_cast<std::chrono::seconds>(since).count();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since).count() % 1000;
    if (sec != cached_sec) {
        cached_sec = sec;
        std::tm tm{};
        const std::time_t tt = sec;
        gmtime_r(&tt, &tm);
        std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    }
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms));
    out += cached;
    out += frac;
}

}  // namespace

std::string format_access_line(const access_record& r) {
    std::string s;
    s.reserve(256);
    s += "{\"time\":\"";
    append_time(s, r.time);
    s += "\",\"method\":\"";
    json_escape_append(s, r.method);
    s += "\",\"path\":\"";
    // Whatever the caller passes, a query string (it may hold personal data) never reaches the log.
    json_escape_append(s, r.path.substr(0, r.path.find_first_of("?#")));
    s += "\",\"status\":";
    s += std::to_string(r.status);
    s += ",\"bytes_in\":";
    s += std::to_string(r.bytes_in);
    s += ",\"bytes_out\":";
    s += std::to_string(r.bytes_out);
    s += ",\"duration_ms\":";
    s += std::to_string(static_cast<double>(r.duration_us) / 1000.0);
    if (r.upstream_us >= 0) {
        s += ",\"upstream_ms\":";
        s += std::to_string(static_cast<double>(r.upstream_us) / 1000.0);
    }
    if (!r.upstream.empty()) {
        s += ",\"upstream\":\"";
        json_escape_append(s, r.upstream);
        s += '"';
    }
    s += ",\"request_id\":\"";
    json_escape_append(s, r.request_id);
    s += "\",\"client\":\"";
    s += truncate(r.client, 24, 48).text();
    s += '"';
    if (!r.tag.empty()) {
        s += ",\"tag\":\"";
        json_escape_append(s, r.tag);
        s += '"';
    }
    if (r.bot_score >= 0) {
        s += ",\"bot_score\":";
        s += std::to_string(r.bot_score);
        if (r.bot_reasons != 0) {
            s += ",\"bot_reasons\":\"";
            s += bot_detect::reasons_text(r.bot_reasons);  // fixed names, nothing to escape
            s += '"';
        }
    }
    if (!r.ja4.empty()) {
        s += ",\"ja4\":\"";
        json_escape_append(s, r.ja4);
        s += '"';
    }
    s += '}';
    return s;
}

void write_access_line(shared_state& sh, access_record& r, std::chrono::steady_clock::time_point start) {
    if (sh.access == nullptr || !sh.access->enabled()) {
        return;
    }
    r.duration_us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
    sh.access->push(format_access_line(r));
}

void write_access_line_minimal(shared_state& sh, unsigned status, const ip_address& client,
                               std::string_view request_id) {
    if (sh.access == nullptr || !sh.access->enabled()) {
        return;
    }
    access_record r;
    r.method = "-";
    r.path = "-";
    r.status = status;
    r.request_id = request_id;
    r.client = client;
    r.time = std::chrono::system_clock::now();
    sh.access->push(format_access_line(r));
}

}  // namespace anteroom::proxy
