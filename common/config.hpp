#pragma once
// The parsed, validated configuration. Plain structs, built once by load_config() and then
// published as std::shared_ptr<const config>; a reload builds a whole new one and swaps it.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/cidr.hpp"

namespace anteroom {

using duration_ms = std::chrono::milliseconds;

struct listen_address {
    std::string host;  // literal IPv4/IPv6 address ("127.0.0.1", "::1", "0.0.0.0")
    std::uint16_t port = 0;
    std::string text() const;  // "127.0.0.1:8080" / "[::1]:8080"
    friend bool operator==(const listen_address&, const listen_address&) = default;
};

// A plain listener speaks HTTP; a TLS listener terminates TLS first ([tls] holds the
// certificates); a redirect listener answers every request with 308 to the https:// URL.
enum class listener_kind { plain, tls, redirect };

struct listener_config {
    listen_address address;
    listener_kind kind = listener_kind::plain;
    friend bool operator==(const listener_config&, const listener_config&) = default;
};

struct server_config {
    std::vector<listener_config> listen{{{"127.0.0.1", 8080}}};
    unsigned threads = 0;  // 0 = number of cores
    bool reuse_port = true;
    std::uint32_t max_connections = 10000;
    std::uint32_t max_header_size = 16 * 1024;           // whole request head, bytes
    std::uint64_t max_body_size = 10ull * 1024 * 1024;   // default for routes
    std::uint32_t max_requests_per_connection = 1000;
    duration_ms header_read_timeout{10'000};
    duration_ms idle_timeout{60'000};   // keep-alive idle between requests
    duration_ms body_timeout{30'000};   // longest pause while reading/writing a body
    // A request body must average at least this many bytes per second once body_timeout has
    // passed since it began (slow POST); 0 = no minimum.
    std::uint64_t body_min_rate = 1024;
    duration_ms drain_timeout{10'000};  // graceful shutdown
    std::vector<cidr> trusted_proxies;  // X-Forwarded-For honoured only from these peers
    std::string server_name = "anteroom";  // used in Via
};

enum class balance_policy { round_robin, least_outstanding };

struct upstream_config {
    std::string name = "default";
    // "host:port" literal addresses, or "builtin" for the built-in upstream page.
    std::vector<listen_address> servers;
    bool builtin = false;
    balance_policy balance = balance_policy::round_robin;
    std::uint32_t pool_size = 64;  // idle keep-alive connections kept per server and worker
    duration_ms connect_timeout{2'000};
    duration_ms response_timeout{30'000};  // from request sent to response head received
    duration_ms pool_idle_timeout{30'000};
    // Responses with a Content-Length up to this size are read whole before the client gets
    // them, so the upstream connection is free while a slow client reads; 0 = always stream.
    std::uint64_t response_buffer = 64 * 1024;
    // Request bodies with a Content-Length up to this size are read whole before a server is
    // contacted, so a slow client never holds an upstream connection; 0 = always stream.
    std::uint64_t request_buffer = 64 * 1024;
    std::uint32_t max_fails = 3;           // consecutive failures before ejection
    duration_ms fail_backoff{10'000};      // first ejection length; doubles up to 8x
    bool retry_idempotent = true;
    // TLS to the upstream: verified against tls_ca_file (or the system store), SNI and the
    // name checked = tls_server_name (or the server's address).
    bool tls = false;
    bool tls_verify = true;
    std::string tls_ca_file;
    std::string tls_server_name;
};

struct route_config {
    std::string prefix = "/";
    std::string upstream = "default";
    std::uint64_t max_body_size = 0;  // 0 = server.max_body_size
};

enum class log_level { debug, info, warn, error };

struct log_config {
    log_level level = log_level::info;
    std::string access_log = "-";  // "-" = stdout, "" = off, else a file path
    std::string error_log = "-";   // "-" = stderr, else a file path
};

struct admin_config {
    bool enabled = true;
    listen_address listen{"127.0.0.1", 9090};
    std::string token_file;  // bearer token for admin endpoints other than metrics/health
};

enum class room_mode { fifo, random, passthrough, reject, paused };
std::string_view to_string(room_mode m);
std::optional<room_mode> parse_room_mode(std::string_view text);

using unix_ms_t = std::int64_t;  // Unix time in milliseconds

struct room_event {
    std::optional<unix_ms_t> prequeue_opens;  // before it: the room answers "closed" (state closed)
    std::optional<unix_ms_t> starts;          // before it: countdown; at it: pre-queue shuffled
};

struct room_config {
    std::string id;                      // 1..32 chars [a-z0-9_-]; used in cookie names and metrics
    std::vector<std::string> paths;      // prefixes, normalised at load ("/book")
    std::vector<std::string> exclude;    // prefixes or exact paths that bypass the room
    bool case_insensitive = true;        // match paths ignoring ASCII case
    room_mode mode = room_mode::fifo;
    std::uint32_t new_users_per_minute = 60;   // 1..1000000
    std::uint32_t max_active_users = 1000;     // 1..10000000
    duration_ms session_idle_timeout{10 * 60'000};
    duration_ms session_max_duration{60 * 60'000};
    duration_ms abandon_after{5 * 60'000};
    duration_ms ticket_max_age{24 * 3600'000};  // a ticket older than this is treated as absent
    unsigned queued_status_code = 200;          // 200, 202 or 429
    room_event event;
    std::string capacity_url;                   // "" = no inventory limit; "http://host:port/path"
    duration_ms capacity_poll_interval{5'000};
    std::string waiting_template;               // "" = built-in web/waiting.html
    std::string landing_path;                   // where an admitted visitor goes without a kept URL; "" = first path
};

struct admission_config {
    std::string key_file;         // "" = <state_dir>/keys.toml, created on first start (one node only)
    bool bind_ip = true;          // bind tickets/passes to the client address prefix
    unsigned bind_v4_prefix = 24;
    unsigned bind_v6_prefix = 64;
    bool bind_user_agent = false;
    std::string agent_header = "Anteroom-Agent";  // hotline staff bypass header
    std::string agent_token_file;                 // "" = agent bypass off
    duration_ms snapshot_interval{1'000};
    bool cookie_secure = false;   // force Secure on cookies even without TLS (behind a TLS LB)
};

// A vaccination centre of the embedded booking backend, as config defines it (the admin API can
// add and edit centres; config wins for the names it lists at every start).
struct booking_centre_config {
    std::string name;
    int opens_minute = 8 * 60;
    int closes_minute = 20 * 60;
    int slot_minutes = 10;
    std::uint8_t open_days = 0x7f;  // bit 0 = Monday … bit 6 = Sunday
};

struct booking_config {
    bool embedded = false;                   // anteroom serve starts it as the "builtin" upstream
    listen_address listen{"127.0.0.1", 0};   // port 0: any free loopback port (embedded)
    std::string database = "booking.sqlite"; // relative paths are under state_dir
    unsigned threads = 4;                    // SQLite workers
    std::uint32_t max_queue = 4096;          // requests waiting for a worker; more get 503
    std::uint32_t write_batch = 64;          // bookings sharing one commit at most; 1 = off
    std::uint32_t max_connections = 4096;
    std::int64_t doses_per_vial = 6;
    bool hotline_percent = true;             // hotline_contingent as "20%" or an absolute number
    std::int64_t hotline_contingent = 0;
    duration_ms hotline_release_before{24 * 3600'000};
    int second_appointment_days = 0;         // 0 = one appointment per booking
    int retention_unbooked_months = 6;
    int retention_after_vaccination_days = 0;
    duration_ms retention_interval{3600'000};
    duration_ms session_ttl{30 * 60'000};
    std::uint32_t pin_iterations = 210'000;
    bool fsync_each_commit = false;
    std::string admin_token_file;            // "" = the booking admin API answers 404
    std::vector<std::int64_t> open_groups;   // opened when the database is created
    std::uint32_t demo_vials_per_day = 0;    // > 0: a new database gets this stock for 14 days (demo)
    bool cookie_secure = false;
    std::vector<booking_centre_config> centres;
};

// [bot_detect]: heuristic scoring of machine traffic in front of the waiting room. Every signal
// has a weight 0..100 (0 = off); the score is their sum, capped at 100. See
// docs/configuration.md#bot_detect for what each signal measures.
struct bot_signal_weights {
    int automation_ua = 90;          // curl, python-requests, Go-http-client, HeadlessChrome, ...
    int empty_ua = 60;               // no User-Agent at all
    int missing_fetch_metadata = 35; // browser UA without Sec-Fetch-Site/Mode/Dest
    int missing_client_hints = 20;   // Chromium UA without Sec-CH-UA
    int missing_accept_language = 20;
    int accept_encoding = 15;        // browser UA whose Accept-Encoding lacks what that browser sends
    int header_order = 15;           // header order contradicts the claimed browser family
    int address_rate = 25;           // requests per 10 s from one address above the limit
    int visitor_rate = 30;           // requests per 10 s with one ticket/pass above the limit
    int ticket_farming = 35;         // new tickets per minute from one address above the limit
    int prefix_ticket_farming = 10;  // ... from one IPv4 /24 or IPv6 /64
    int error_share = 20;            // share of 4xx answers to one address
    int early_polls = 45;            // status polls earlier than refresh_after_seconds
    int regular_polls = 45;          // poll intervals like clockwork (low coefficient of variation)
    int sharing = 40;                // one ticket/pass from several prefixes or User-Agents
    int tls_mismatch = 40;           // TLS fingerprint contradicts the claimed browser (TLS issue)
    int fast_form = 35;              // a form sent sooner after admission than a person can fill it
};

struct bot_limits {
    std::uint32_t address_requests_per_10s = 300;
    std::uint32_t visitor_requests_per_10s = 60;
    std::uint32_t address_tickets_per_minute = 40;
    std::uint32_t prefix_tickets_per_minute = 4000;
    double error_share = 0.5;          // of at least min_responses answers
    std::uint32_t min_responses = 10;
    std::uint32_t early_polls = 2;     // this many early polls fire the signal
    double early_tolerance = 0.25;     // a poll is early when the interval < refresh × (1 − tolerance)
    double regular_cv = 0.015;         // coefficient of variation below this (≥ 3 intervals) is "clockwork"
    std::uint32_t regular_min_intervals = 2;  // consecutive intervals at the told refresh (−0.1 %/+0.4 %)
    std::uint32_t sharing_prefixes = 2;     // more distinct prefixes than this = shared
    std::uint32_t sharing_user_agents = 1;  // more distinct User-Agents than this = shared
    duration_ms min_form_time{1'000};       // fast_form: POST/PUT/PATCH/DELETE sooner after admission; 0 = off
};

// An allow or deny rule: it matches when every condition it sets matches (unset = any).
struct bot_rule {
    std::string path_prefix;            // normalised path prefix
    std::string user_agent;             // case-insensitive substring of the User-Agent
    std::vector<cidr> cidrs;            // client address in any of these
};

enum class bot_deny_status { forbidden, too_many_requests };  // 403 or 429
enum class fetch_metadata_mode { automatic, always, never };  // when Sec-Fetch-*/Sec-CH-UA are expected

struct bot_detect_config {
    bool enabled = false;
    bool dry_run = false;                 // decide, log and count; act on nothing
    bool action_header = false;           // send "Anteroom-Action: <band>" (for load tests)
    fetch_metadata_mode fetch_metadata = fetch_metadata_mode::automatic;  // auto: TLS or loopback Host
    bot_signal_weights weights;
    bot_limits limits;
    // Bands: score >= threshold. challenge < deprioritise < deny <= 100.
    int challenge_at = 30;
    int deprioritise_at = 55;
    int deny_at = 80;
    int infinite_queue_at = 0;            // 0 = off; else deny with a waiting page that never advances
    bot_deny_status deny_status = bot_deny_status::forbidden;
    duration_ms score_half_life{5 * 60'000};       // per-key scores decay
    duration_ms deprioritise_penalty{2 * 60'000};  // a new ticket is held back this long
    duration_ms slow_status{2'000};                // status polls of deprioritised visitors wait this long
    // Proof of work: leading zero bits of SHA-256(token ":" counter).
    unsigned difficulty_min = 14;
    unsigned difficulty_max = 20;
    unsigned surge_extra_difficulty = 2;
    duration_ms challenge_ttl{5 * 60'000};
    duration_ms nojs_delay{20'000};                // proof of waiting for browsers without JavaScript
    duration_ms clearance_ttl{30 * 60'000};        // a solved challenge lowers the score this long
    int clearance_credit = 40;
    // Surge: in a window with at least surge_min_tickets new tickets, a share of them from the top
    // prefixes or one header signature above these marks a surge for surge_hold.
    duration_ms surge_window{10'000};
    std::uint32_t surge_min_tickets = 500;
    double surge_prefix_share = 0.5;
    double surge_signature_share = 0.9;
    duration_ms surge_hold{60'000};
    // Bounds: entries per table (addresses, prefixes, visitors; 64 bytes each) and replay set.
    std::uint32_t max_tracked = 262'144;
    std::uint32_t max_replay = 1'000'000;
    std::vector<bot_rule> allow;
    std::vector<bot_rule> deny;
    // [[bot_detect.tls_family]]: the JA4 fingerprints each browser engine's TLS stack sends, and
    // those of tools (OpenSSL, Python, Go, GnuTLS, Node). A browser User-Agent over a JA4 of
    // another family is a tls_mismatch; a JA4 of no family is never one.
    enum class tls_family_name : std::uint8_t { chromium, firefox, safari, tool };
    struct tls_family {
        tls_family_name name = tls_family_name::tool;
        // Lower-case JA4 patterns: '*' matches any run of characters, '?' any one character
        // ("t13*_8daaf6152771_*": TLS 1.3 with BoringSSL's cipher list).
        std::vector<std::string> ja4;
    };
    // One entry per name at most. A family the file lists replaces the built-in one of that name.
    std::vector<tls_family> tls_families = default_tls_families();
    static std::vector<tls_family> default_tls_families();
};

// [tls]: certificates and policy of the TLS listeners. The defaults follow the widely used
// "intermediate" recommendation (TLS 1.2 + 1.3, ECDHE with AEAD ciphers).
struct tls_certificate_config {
    std::string cert_file;            // PEM: the certificate, then its chain
    std::string key_file;             // PEM private key (ECDSA or RSA)
    std::vector<std::string> names;   // SNI names ("*.example.org" allowed); empty = from the certificate
    bool is_default = false;          // served when no name matches (else the first certificate)
    std::string origin;               // "anteroom.toml:12: tls.certificate[0]", for messages at load
};

enum class tls_version { v1_2, v1_3 };

struct tls_config {
    std::vector<tls_certificate_config> certificates;
    tls_version min_version = tls_version::v1_2;
    std::string ciphers =  // TLS 1.2 (OpenSSL names), in server preference order
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
    std::string ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
    std::string groups = "X25519:prime256v1:secp384r1";
    bool session_tickets = true;
    duration_ms ticket_key_rotation{3600'000};  // a new ticket key this often; old ones decrypt 2 more periods
    std::uint32_t session_cache_size = 20'480;  // TLS 1.2 session cache entries (0 = off)
    duration_ms session_timeout{3600'000};      // lifetime of a cached session or ticket
    duration_ms handshake_timeout{10'000};
    duration_ms hsts_max_age{0};                // 0 = no Strict-Transport-Security header
    bool hsts_include_subdomains = false;
    std::uint16_t redirect_port = 0;            // redirect listeners point here (0 = first TLS listener)
};

// [state]: where room state lives. "embedded" (one node, memory + snapshots in state_dir) or
// "redis" (several nodes share each room through one Redis; docs/shared-state.md).
enum class state_backend { embedded, redis };
// Redis away: "closed" — new visitors wait, places and passes are kept, nothing advances;
// "local" — each node goes on alone with its last known state and its share of the rate and of
// the free places, and hands its admissions and numbers back when Redis returns.
enum class state_fail_mode { closed, local };
struct state_config {
    state_backend backend = state_backend::embedded;
    std::string address = "127.0.0.1:6379";  // host:port, [v6]:port or unix:/path
    std::string password_file;               // "" = no AUTH; else a file holding the password
    std::string key_prefix = "anteroom";     // keys are <key_prefix>:{<room>}:...
    std::string node_name;                   // "" = hostname:pid (names the lease holder)
    duration_ms connect_timeout{1'000};
    duration_ms command_timeout{500};
    duration_ms lease_ttl{3'000};
    state_fail_mode fail_mode = state_fail_mode::closed;
};

struct config {
    std::string source_path;  // the file it was loaded from
    std::string state_dir = "var/anteroom";
    server_config server;
    std::vector<upstream_config> upstreams;  // never empty after validation
    std::vector<route_config> routes;        // never empty after validation; longest prefix wins
    log_config log;
    admin_config admin;
    admission_config admission;
    std::vector<room_config> rooms;  // may be empty: no waiting room
    booking_config booking;
    bot_detect_config bot_detect;
    tls_config tls;
    state_config state;

    const upstream_config* find_upstream(const std::string& name) const;
};

// One problem found while loading: "file:line: key: message".
struct config_error {
    std::string file;
    std::uint32_t line = 0;
    std::string key;  // dotted path, e.g. "server.max_connections", "upstream[1].servers"
    std::string message;
    std::string text() const;
};

struct config_result {
    std::shared_ptr<const config> cfg;  // null when errors is not empty
    std::vector<config_error> errors;
};

// Parse and validate a TOML file. Never throws; all problems are collected.
config_result load_config(const std::string& path);
// Same, from text (tests, fuzzing); `name` is used as the file name in messages.
config_result parse_config(std::string_view text, const std::string& name);

// Helpers shared by the parser and tests.
std::optional<duration_ms> parse_duration(std::string_view text);  // "250ms", "10s", "5m", "1h"
std::optional<std::uint64_t> parse_size(std::string_view text);    // "512", "16KiB", "10MiB", "1GiB"
std::optional<listen_address> parse_address(std::string_view text);  // "1.2.3.4:80", "[::1]:80"
// parse_address() accepts port 0. The loader allows it for listeners (server.listen,
// admin.listen: the kernel picks a free port, as hermetic tests need) and rejects it for
// upstream servers. Hosts must be literal IPs and come back in canonical form.

// Inverse of parse_size/parse_duration, for messages and logs: 16384 -> "16KiB", 0 -> "0",
// 1000ms -> "1s", 1500ms -> "1500ms".
std::string format_size(std::uint64_t bytes);
std::string format_duration(duration_ms d);

}  // namespace anteroom
