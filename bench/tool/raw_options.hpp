#pragma once
// `anteroom-bench raw` options: parsed and validated here, apart from any I/O, so tests can call
// parse_raw_options with an argument list and check the message. Bad options exit with 2.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace anteroom::bench {

// https:// targets. Without --cacert the peer is not verified (a bench talks to its own test
// certificates; wrk does not verify either).
struct tls_client_options {
    bool enabled = false;  // the URL is https://
    std::string cacert;    // PEM file of trusted CAs; verification is on when set
    std::string sni;       // server name sent (and verified); "" = none, as the URL host is an IP
    std::string version;   // "" = TLS 1.2 or 1.3, else "1.2" or "1.3" only
    bool resume = false;   // each connection slot resumes its previous session
};

struct raw_options {
    std::string target_ip;     // literal IPv4 or IPv6 address
    std::uint16_t target_port = 80;  // 443 for https:// without a port
    std::string host_header;   // "ip:port" as written in the URL
    std::vector<std::string> paths;  // round robin; at least one
    std::string method = "GET";
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    unsigned connections = 10;
    unsigned threads = 1;
    std::chrono::nanoseconds duration{std::chrono::seconds(10)};  // ignored when requests is set
    std::optional<std::uint64_t> requests;                        // request-count mode
    bool keep_alive = true;
    double rate = 0;  // requests per second over all connections; 0 = as fast as possible
    std::chrono::nanoseconds timeout{std::chrono::seconds(2)};
    std::uint32_t source_first = 0;  // host-order IPv4, 0 = no binding
    std::uint32_t source_last = 0;
    std::string json_file;
    tls_client_options tls;
};

struct raw_parse_result {
    std::optional<raw_options> options;  // set when the run should go ahead
    int exit_code = 0;                   // otherwise: 0 for --help, 2 for bad options
    std::string message;                 // help text or the error
};

// args excludes the program name and the subcommand ("raw").
raw_parse_result parse_raw_options(const std::vector<std::string>& args);

// "10s", "500ms", "2m", "1.5s", "250us"; a bare number is seconds. nullopt when malformed or <= 0.
std::optional<std::chrono::nanoseconds> parse_duration(const std::string& text);

// "127.0.0.2-127.0.0.250" or one address; both ends inside 127.0.0.0/8, first <= last.
// Returns the error text, or "" with first/last set.
std::string parse_source_range(const std::string& text, std::uint32_t& first, std::uint32_t& last);

// "http://IP:PORT/path" or "https://IP:PORT/path" (sets tls.enabled) with a literal address;
// "" or the error text.
std::string parse_target_url(const std::string& url, raw_options& out, std::string& url_path);

}  // namespace anteroom::bench

namespace anteroom::bench {

// The request bytes for each path, built once: request line, Host (unless given with -H), the
// -H headers, Content-Length when there is a body, "Connection: close" without keep-alive.
std::vector<std::string> serialise_requests(const raw_options& o);

}  // namespace anteroom::bench
