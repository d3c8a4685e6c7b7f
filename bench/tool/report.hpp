#pragma once
// What a raw run counted, merged over threads, and its two renderings: the table printed at the
// end and the JSON written by --json.
//
// Accounting: every slot taken is one attempt, and ends exactly once, either as a response
// (counted by status class, latency recorded) or as one error kind. So
// attempts == responses + sum(errors), which the integration test checks.

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/tool/histogram.hpp"
#include "bench/tool/raw_options.hpp"

namespace anteroom::bench {

enum class error_kind : std::uint8_t {
    connect,  // connect (or bind) failed
    timeout,  // no complete response within --timeout
    reset,    // connection reset or broken pipe
    closed,   // the server closed the connection before the response was complete
    parse,    // the response was not valid HTTP/1.1
    other,
    handshake,  // the TLS handshake failed (certificate, version, alert, or the peer left during it)
};
inline constexpr std::size_t error_kind_count = 7;
const char* to_string(error_kind k);

struct raw_stats {
    histogram latency_us;  // microseconds, responses only
    std::uint64_t attempts = 0;
    std::uint64_t responses = 0;
    std::array<std::uint64_t, 5> status_class{};  // 1xx..5xx
    std::array<std::uint64_t, error_kind_count> errors{};
    std::uint64_t connections_opened = 0;
    std::uint64_t bytes_read = 0;
    // https: handshakes that completed, by whether the server resumed the offered session; and
    // what the first one negotiated (the same for every connection against one server).
    std::uint64_t tls_full_handshakes = 0;
    std::uint64_t tls_resumed_handshakes = 0;
    std::string tls_protocol;  // "TLSv1.3"
    std::string tls_cipher;
    std::string tls_alpn;  // "" when the server chose none

    void count_status(unsigned status);
    void count_error(error_kind k) { ++errors[static_cast<std::size_t>(k)]; }
    std::uint64_t error_total() const;
    void merge(const raw_stats& other);
};

struct raw_report {
    const raw_options* options = nullptr;
    std::chrono::nanoseconds elapsed{};
    raw_stats stats;
    bool interrupted = false;  // Ctrl-C: the figures cover what ran until then

    double requests_per_second() const;  // responses per second of elapsed time
};

std::string format_text(const raw_report& r);
nlohmann::json to_json(const raw_report& r);

}  // namespace anteroom::bench
