#pragma once
// The access log line: one JSON object per request. No personal data: the path without its
// query string, the client address truncated to IPv4 /24 or IPv6 /48, no headers, no cookies.

#include <chrono>
#include <string>
#include <string_view>

#include "common/cidr.hpp"
#include "common/net.hpp"

namespace anteroom::proxy {

struct shared_state;

struct access_record {
    std::string_view method;
    std::string_view path;
    unsigned status = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::int64_t duration_us = 0;
    std::int64_t upstream_us = -1;  // -1: no upstream involved
    std::string_view upstream;
    std::string_view request_id;
    ip_address client;
    std::string_view tag;
    int bot_score = -1;              // -1: not scored (bot detection off)
    std::uint32_t bot_reasons = 0;   // bot_detect::reason bits
    std::string_view ja4;            // TLS ClientHello fingerprint ("" = plain HTTP)
    std::chrono::system_clock::time_point time;
};

std::string format_access_line(const access_record& r);

// `r` without duration_us, which is measured here from `start`.
void write_access_line(shared_state& sh, access_record& r, std::chrono::steady_clock::time_point start);
// For requests rejected before their head could be parsed.
void write_access_line_minimal(shared_state& sh, unsigned status, const ip_address& client,
                               std::string_view request_id);

}  // namespace anteroom::proxy
