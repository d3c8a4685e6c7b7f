#include "common/config.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/common/config_test_support.hpp"

namespace anteroom {
namespace {

using namespace std::chrono_literals;

using config_test::expect_valid;
using config_test::only_error;
using config_test::parse;
using config_test::secret_files;
using config_test::texts;

// ---- defaults --------------------------------------------------------------------------------

TEST(config, empty_file_gives_builtin_upstream_and_root_route) {
    const auto r = parse("");
    expect_valid(r);
    const config& c = *r.cfg;
    EXPECT_EQ(c.source_path, "test.toml");
    EXPECT_EQ(c.state_dir, "var/anteroom");
    ASSERT_EQ(c.server.listen.size(), 1u);
    EXPECT_EQ(c.server.listen[0], (listener_config{{"127.0.0.1", 8080}, listener_kind::plain}));
    ASSERT_EQ(c.upstreams.size(), 1u);
    EXPECT_EQ(c.upstreams[0].name, "default");
    EXPECT_TRUE(c.upstreams[0].builtin);
    EXPECT_TRUE(c.upstreams[0].servers.empty());
    ASSERT_EQ(c.routes.size(), 1u);
    EXPECT_EQ(c.routes[0].prefix, "/");
    EXPECT_EQ(c.routes[0].upstream, "default");
    EXPECT_EQ(c.routes[0].max_body_size, 0u);
    EXPECT_TRUE(c.admin.enabled);
    EXPECT_EQ(c.admin.listen, (listen_address{"127.0.0.1", 9090}));
    EXPECT_EQ(c.log.level, log_level::info);
}

TEST(config, default_route_points_at_first_upstream) {
    const auto r = parse(R"(
[[upstream]]
name = "app"
servers = ["10.0.0.1:8000"]

[[upstream]]
name = "other"
servers = ["builtin"]
)");
    expect_valid(r);
    ASSERT_EQ(r.cfg->routes.size(), 1u);
    EXPECT_EQ(r.cfg->routes[0].prefix, "/");
    EXPECT_EQ(r.cfg->routes[0].upstream, "app");
    ASSERT_NE(r.cfg->find_upstream("other"), nullptr);
    EXPECT_TRUE(r.cfg->find_upstream("other")->builtin);
    EXPECT_EQ(r.cfg->find_upstream("missing"), nullptr);
}

TEST(config, single_upstream_table_means_one_upstream) {
    const auto r = parse(R"(
[upstream]
name = "app"
servers = ["[::1]:8000", "127.0.0.1:8001"]
)");
    expect_valid(r);
    ASSERT_EQ(r.cfg->upstreams.size(), 1u);
    EXPECT_EQ(r.cfg->upstreams[0].servers,
              (std::vector<listen_address>{{"::1", 8000}, {"127.0.0.1", 8001}}));
    EXPECT_FALSE(r.cfg->upstreams[0].builtin);

    const auto e = only_error(parse("[upstream]\nname = \"app\"\nservers = [\"builtin\"]\nweight = 1\n"));
    EXPECT_EQ(e.text(), "test.toml:4: upstream.weight: unknown key; allowed keys: name, servers, balance, "
                        "pool_size, connect_timeout, response_timeout, pool_idle_timeout, request_buffer, "
                        "response_buffer, max_fails, "
                        "fail_backoff, retry_idempotent, tls, tls_verify, tls_ca_file, tls_server_name");
}

// ---- unknown keys ----------------------------------------------------------------------------

TEST(config, unknown_top_level_key) {
    const auto e = only_error(parse("# comment\nstatedir = \"x\"\n"));
    EXPECT_EQ(e.text(), "test.toml:2: statedir: unknown key; allowed keys: state_dir, server, upstream, "
                        "route, log, admin, admission, booking, bot_detect, tls, state, room");
}

TEST(config, unknown_nested_key_names_the_line_and_allowed_keys) {
    const auto e = only_error(parse("[server]\nthreads = 2\n\nmax_conections = 5\n"));
    EXPECT_EQ(e.line, 4u);
    EXPECT_EQ(e.key, "server.max_conections");
    EXPECT_NE(e.message.find("unknown key; allowed keys: listen, threads,"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("max_connections"), std::string::npos);
}

TEST(config, unknown_sub_table_and_dotted_key) {
    const auto r = parse("[server.tls]\ncert = \"x\"\n[log]\nformat.json = true\n");
    EXPECT_EQ(texts(r), (std::vector<std::string>{
                            "test.toml:1: server.tls: unknown key; allowed keys: listen, threads, reuse_port, "
                            "max_connections, max_header_size, max_body_size, max_requests_per_connection, "
                            "header_read_timeout, idle_timeout, body_timeout, body_min_rate, drain_timeout, trusted_proxies, "
                            "server_name",
                            "test.toml:4: log.format: unknown key; allowed keys: level, access_log, error_log",
                        }));
}

TEST(config, unknown_key_inside_array_of_tables) {
    const auto r = parse(R"([[upstream]]
name = "a"
servers = ["builtin"]

[[upstream]]
name = "b"
servers = ["10.0.0.1:80"]
weight = 2

[[route]]
prefix = "/"
upstream = "a"
rewrite = "/x"
)");
    EXPECT_EQ(r.cfg, nullptr);
    ASSERT_EQ(r.errors.size(), 2u) << ::testing::PrintToString(texts(r));
    EXPECT_EQ(r.errors[0].line, 8u);
    EXPECT_EQ(r.errors[0].key, "upstream[1].weight");
    EXPECT_EQ(r.errors[1].text(),
              "test.toml:13: route[0].rewrite: unknown key; allowed keys: prefix, upstream, max_body_size");
}

// ---- types and ranges ------------------------------------------------------------------------

TEST(config, wrong_type_names_the_expected_type) {
    const auto r = parse(R"(state_dir = 5
[server]
max_connections = "10"
reuse_port = 1
threads = 2.0
listen = "127.0.0.1:80"
[admin]
enabled = "yes"
)");
    EXPECT_EQ(texts(r), (std::vector<std::string>{
                            "test.toml:1: state_dir: expected a string, got an integer",
                            "test.toml:3: server.max_connections: expected an integer, got a string",
                            "test.toml:4: server.reuse_port: expected a boolean (true or false), got an integer",
                            "test.toml:5: server.threads: expected an integer, got a float",
                            "test.toml:6: server.listen: expected an array, got a string",
                            "test.toml:8: admin.enabled: expected a boolean (true or false), got a string",
                        }));
}

TEST(config, section_of_wrong_type) {
    EXPECT_EQ(only_error(parse("server = 5\n")).text(), "test.toml:1: server: expected a table, got an integer");
    EXPECT_EQ(only_error(parse("upstream = \"x\"\n")).text(),
              "test.toml:1: upstream: expected an array of tables ([[upstream]]) or a table, got a string");
    EXPECT_EQ(only_error(parse("route = [1]\n")).text(), "test.toml:1: route[0]: expected a table, got an integer");
}

TEST(config, out_of_range_integer) {
    const auto e = only_error(parse("[server]\nthreads = 4\nmax_connections = 0\n"));
    EXPECT_EQ(e.text(), "test.toml:3: server.max_connections: must be between 1 and 1000000, got 0");
    EXPECT_EQ(only_error(parse("[server]\nthreads = 257\n")).message, "must be between 0 and 256, got 257");
    EXPECT_EQ(only_error(parse("[[upstream]]\nname = \"a\"\nservers = [\"builtin\"]\nmax_fails = -1\n")).message,
              "must be between 1 and 1000, got -1");
}

TEST(config, sizes_accept_integers_and_unit_strings) {
    const auto r = parse("[server]\nmax_header_size = 2048\nmax_body_size = \"1GiB\"\n");
    expect_valid(r);
    EXPECT_EQ(r.cfg->server.max_header_size, 2048u);
    EXPECT_EQ(r.cfg->server.max_body_size, 1ull << 30);
}

TEST(config, bad_size) {
    const auto e = only_error(parse("[server]\nmax_body_size = \"10MB\"\n"));
    EXPECT_EQ(e.text(), "test.toml:2: server.max_body_size: invalid size \"10MB\"; expected a number of bytes, "
                        "optionally followed by one of B, KiB, MiB, GiB, TiB (e.g. \"512\", \"16KiB\", \"10MiB\")");
    EXPECT_EQ(only_error(parse("[server]\nmax_body_size = true\n")).message,
              "expected a size (an integer number of bytes or a string like \"16KiB\"), got a boolean");
}

TEST(config, size_out_of_range) {
    EXPECT_EQ(only_error(parse("[server]\nmax_header_size = \"2MiB\"\n")).message,
              "must be between 1KiB and 1MiB, got 2MiB");
    EXPECT_EQ(only_error(parse("[server]\nmax_header_size = 512\n")).message,
              "must be between 1KiB and 1MiB, got 512");
    EXPECT_EQ(only_error(parse("[server]\nmax_body_size = -5\n")).message, "must be between 1B and 1TiB, got -5");
    EXPECT_EQ(only_error(parse("[server]\nmax_body_size = 0\n")).message, "must be between 1B and 1TiB, got 0");
}

TEST(config, bad_duration_lists_the_units) {
    const auto r = parse("[server]\nidle_timeout = \"10 sec\"\nbody_timeout = 30\n");
    EXPECT_EQ(texts(r), (std::vector<std::string>{
                            "test.toml:2: server.idle_timeout: invalid duration \"10 sec\"; expected a number "
                            "followed by one of ms, s, m, h (e.g. \"250ms\", \"10s\", \"5m\", \"1h\")",
                            "test.toml:3: server.body_timeout: expected a duration string: a number followed "
                            "by one of ms, s, m, h (e.g. \"250ms\", \"10s\", \"5m\", \"1h\"), got an integer",
                        }));
}

TEST(config, duration_out_of_range) {
    EXPECT_EQ(only_error(parse("[server]\ndrain_timeout = \"11m\"\n")).text(),
              "test.toml:2: server.drain_timeout: must be between 0ms and 10m, got 11m");
    EXPECT_EQ(only_error(parse("[server]\nheader_read_timeout = \"0s\"\n")).message,
              "must be between 1ms and 1h, got 0ms");
    const auto r = parse("[server]\ndrain_timeout = \"0s\"\nidle_timeout = \"1h\"\n");
    expect_valid(r);
    EXPECT_EQ(r.cfg->server.drain_timeout, 0ms);
    EXPECT_EQ(r.cfg->server.idle_timeout, 1h);
}

TEST(config, enums) {
    EXPECT_EQ(only_error(parse("[log]\nlevel = \"verbose\"\n")).text(),
              "test.toml:2: log.level: must be one of \"debug\", \"info\", \"warn\", \"error\"; got \"verbose\"");
    const auto e = only_error(parse("[[upstream]]\nname = \"a\"\nservers = [\"builtin\"]\nbalance = \"random\"\n"));
    EXPECT_EQ(e.key, "upstream[0].balance");
    EXPECT_EQ(e.message, "must be one of \"round_robin\", \"least_outstanding\"; got \"random\"");
}

TEST(config, string_rules) {
    EXPECT_EQ(only_error(parse("state_dir = \"\"\n")).text(), "test.toml:1: state_dir: must not be empty");
    EXPECT_EQ(only_error(parse("[log]\nerror_log = \"\"\n")).message, "must not be empty (use \"-\" for stderr)");
    EXPECT_EQ(only_error(parse("[server]\nserver_name = \"my proxy\"\n")).key, "server.server_name");
    EXPECT_EQ(only_error(parse("[server]\nserver_name = \"\"\n")).key, "server.server_name");
    // An access log of "" means "off" and is valid.
    const auto r = parse("[log]\naccess_log = \"\"\n[server]\nserver_name = \"edge-1\"\n");
    expect_valid(r);
    EXPECT_EQ(r.cfg->log.access_log, "");
    EXPECT_EQ(r.cfg->server.server_name, "edge-1");
}

// ---- addresses -------------------------------------------------------------------------------

TEST(config, bad_address) {
    EXPECT_EQ(only_error(parse("[server]\nlisten = [\"127.0.0.1:80\", \"localhost:8080\"]\n")).text(),
              "test.toml:2: server.listen[1]: invalid address \"localhost:8080\"; expected a literal IP and a "
              "port, e.g. \"127.0.0.1:8080\" or \"[::1]:8080\" (host names are not resolved)");
    EXPECT_EQ(only_error(parse("[[upstream]]\nname = \"a\"\nservers = [\"127.0.0.1:0\"]\n")).text(),
              "test.toml:3: upstream[0].servers[0]: port must be between 1 and 65535, got 0");
    EXPECT_EQ(only_error(parse("[admin]\nlisten = \"::1:9090\"\n")).key, "admin.listen");
    EXPECT_EQ(only_error(parse("[server]\nlisten = []\n")).message, "must list at least one address");
    EXPECT_EQ(only_error(parse("[server]\nlisten = [\"127.0.0.1:80\", \"127.0.0.1:80\"]\n")).message,
              "duplicate address 127.0.0.1:80");
}

// Port 0 asks the kernel for a free port: how tests run listeners without fixed ports.
TEST(config, listeners_accept_port_zero) {
    const auto r = parse("[server]\nlisten = [\"127.0.0.1:0\", \"127.0.0.1:0\"]\n[admin]\nlisten = \"127.0.0.1:0\"\n");
    expect_valid(r);
    EXPECT_EQ(r.cfg->server.listen, (std::vector<listener_config>{{{"127.0.0.1", 0}}, {{"127.0.0.1", 0}}}));
    EXPECT_EQ(r.cfg->admin.listen, (listen_address{"127.0.0.1", 0}));
}

TEST(config, addresses_on_separate_lines_report_their_own_line) {
    const auto e = only_error(parse("[server]\nlisten = [\n  \"127.0.0.1:80\",\n  \"1.2.3.4:99999\",\n]\n"));
    EXPECT_EQ(e.line, 4u);
    EXPECT_EQ(e.key, "server.listen[1]");
}

TEST(config, trusted_proxies) {
    const auto r = parse("[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\", \"192.0.2.7\"]\n");
    expect_valid(r);
    ASSERT_EQ(r.cfg->server.trusted_proxies.size(), 3u);
    EXPECT_EQ(r.cfg->server.trusted_proxies[0].text(), "10.0.0.0/8");
    EXPECT_EQ(r.cfg->server.trusted_proxies[1].text(), "::1/128");
    const auto e = only_error(parse("[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n"));
    EXPECT_EQ(e.key, "server.trusted_proxies[0]");
    EXPECT_NE(e.message.find("invalid CIDR \"10.0.0.0/33\""), std::string::npos);
}

TEST(config, admin_listen_must_not_clash_with_server_listen) {
    const auto e = only_error(parse("[server]\nlisten = [\"0.0.0.0:9090\"]\n"));
    EXPECT_EQ(e.text(), "test.toml:2: admin.listen: 127.0.0.1:9090 clashes with server.listen 0.0.0.0:9090; "
                        "use another port or set admin.enabled = false");
    expect_valid(parse("[server]\nlisten = [\"0.0.0.0:9090\"]\n[admin]\nenabled = false\n"));
    expect_valid(parse("[server]\nlisten = [\"[::1]:9090\"]\n"));
}

// ---- upstreams and routes --------------------------------------------------------------------

TEST(config, duplicate_upstream_name) {
    const auto e = only_error(parse(R"([[upstream]]
name = "app"
servers = ["builtin"]

[[upstream]]
name = "app"
servers = ["10.0.0.1:80"]
)"));
    EXPECT_EQ(e.text(), "test.toml:6: upstream[1].name: duplicate upstream name \"app\" (first defined on line 2)");
}

TEST(config, route_to_unknown_upstream) {
    const auto e = only_error(parse(R"([[upstream]]
name = "app"
servers = ["builtin"]

[[route]]
prefix = "/api/"
upstream = "ap"
)"));
    EXPECT_EQ(e.text(), "test.toml:7: route[0].upstream: unknown upstream \"ap\"; defined upstreams: \"app\"");
}

TEST(config, route_may_name_the_default_upstream) {
    const auto r = parse("[[route]]\nprefix = \"/\"\nupstream = \"default\"\nmax_body_size = \"1KiB\"\n");
    expect_valid(r);
    EXPECT_EQ(r.cfg->routes[0].max_body_size, 1024u);
}

TEST(config, builtin_cannot_be_mixed_with_addresses) {
    const auto e = only_error(parse("[[upstream]]\nname = \"a\"\nservers = [\"builtin\", \"10.0.0.1:80\"]\n"));
    EXPECT_EQ(e.text(), "test.toml:3: upstream[0].servers: \"builtin\" cannot be combined with server addresses");
}

TEST(config, upstream_servers_rules) {
    EXPECT_EQ(only_error(parse("[[upstream]]\nname = \"a\"\nservers = []\n")).message,
              "must list at least one server (\"host:port\" or \"builtin\")");
    EXPECT_EQ(only_error(parse("[[upstream]]\nname = \"a\"\nservers = [\"10.0.0.1:80\", \"10.0.0.1:80\"]\n")).key,
              "upstream[0].servers[1]");
    EXPECT_EQ(only_error(parse("[[upstream]]\nname = \"a b\"\nservers = [\"builtin\"]\n")).key, "upstream[0].name");
}

TEST(config, missing_required_key_points_at_its_table) {
    const auto r = parse("state_dir = \"x\"\n\n[[upstream]]\nname = \"a\"\n\n[[route]]\nupstream = \"a\"\n");
    EXPECT_EQ(texts(r), (std::vector<std::string>{
                            "test.toml:3: upstream[0].servers: required key is missing",
                            "test.toml:6: route[0].prefix: required key is missing",
                        }));
}

TEST(config, missing_upstream_name_does_not_cascade_into_route_errors) {
    const auto r = parse("[[upstream]]\nservers = [\"builtin\"]\n[[route]]\nprefix = \"/\"\nupstream = \"a\"\n");
    EXPECT_EQ(texts(r), (std::vector<std::string>{"test.toml:1: upstream[0].name: required key is missing"}));
}

TEST(config, route_prefix_rules) {
    EXPECT_EQ(only_error(parse("[[route]]\nprefix = \"api\"\nupstream = \"default\"\n")).text(),
              "test.toml:2: route[0].prefix: must start with \"/\" and contain no '?', '#', spaces or control "
              "characters, got \"api\"");
    EXPECT_EQ(only_error(parse(R"([[route]]
prefix = "/a"
upstream = "default"
[[route]]
prefix = "/a"
upstream = "default"
)")).text(),
              "test.toml:5: route[1].prefix: duplicate route prefix \"/a\" (first defined on line 2)");
}

TEST(config, routes_sorted_longest_prefix_first) {
    const auto r = parse(R"(
[[route]]
prefix = "/"
upstream = "default"
[[route]]
prefix = "/api/v1/"
upstream = "default"
[[route]]
prefix = "/static/"
upstream = "default"
[[route]]
prefix = "/api/"
upstream = "default"
)");
    expect_valid(r);
    std::vector<std::string> prefixes;
    for (const auto& route : r.cfg->routes) {
        prefixes.push_back(route.prefix);
    }
    EXPECT_EQ(prefixes, (std::vector<std::string>{"/api/v1/", "/static/", "/api/", "/"}));
}

// ---- whole files -----------------------------------------------------------------------------

TEST(config, all_errors_are_collected_in_line_order) {
    const auto r = parse(R"(bogus = 1
[server]
max_connections = 0
idle_timeout = "forever"
[[upstream]]
name = "a"
servers = ["builtin", "10.0.0.1:80"]
[[route]]
prefix = "/"
upstream = "nope"
[log]
level = "loud"
)");
    EXPECT_EQ(r.cfg, nullptr);
    std::vector<std::pair<std::uint32_t, std::string>> got;
    for (const auto& e : r.errors) {
        got.emplace_back(e.line, e.key);
    }
    EXPECT_EQ(got, (std::vector<std::pair<std::uint32_t, std::string>>{
                       {1, "bogus"},
                       {3, "server.max_connections"},
                       {4, "server.idle_timeout"},
                       {7, "upstream[0].servers"},
                       {10, "route[0].upstream"},
                       {12, "log.level"},
                   }));
}

TEST(config, syntax_error_reports_its_line) {
    const auto e = only_error(parse("[server]\nthreads = \n"));
    EXPECT_EQ(e.line, 2u);
    EXPECT_EQ(e.key, "");
    EXPECT_EQ(e.message.rfind("invalid TOML: ", 0), 0u) << e.message;
    EXPECT_EQ(e.text().rfind("test.toml:2: invalid TOML: ", 0), 0u) << e.text();
}

// toml++ 3.3.0 used to assert (abort) on these instead of reporting a syntax error.
TEST(config, malformed_table_headers_are_syntax_errors) {
    for (const char* text : {"[.server]\n", "a = 1\n[[[1]]]\n", "[[=\n", "[ .a]\n"}) {
        const auto r = parse(text);
        EXPECT_EQ(r.cfg, nullptr) << text;
        ASSERT_EQ(r.errors.size(), 1u) << text;
        EXPECT_EQ(r.errors[0].message.rfind("invalid TOML: ", 0), 0u) << r.errors[0].message;
    }
}

TEST(config, full_file_round_trip) {
    const secret_files secrets;
    const auto r = parse(secrets.in(R"(
state_dir = "/var/lib/anteroom"

[server]
listen = ["0.0.0.0:80", "[::]:80"]
threads = 8
reuse_port = false
max_connections = 50000
max_header_size = "32KiB"
max_body_size = "100MiB"
max_requests_per_connection = 500
header_read_timeout = "5s"
idle_timeout = "2m"
body_timeout = "15s"
drain_timeout = "30s"
trusted_proxies = ["10.0.0.0/8", "2001:db8::/32"]
server_name = "edge"

[[upstream]]
name = "app"
servers = ["10.0.0.1:8080", "10.0.0.2:8080"]
balance = "least_outstanding"
pool_size = 16
connect_timeout = "500ms"
response_timeout = "1m"
pool_idle_timeout = "45s"
max_fails = 5
fail_backoff = "20s"
retry_idempotent = false

[[upstream]]
name = "waiting-room"
servers = ["builtin"]

[[route]]
prefix = "/"
upstream = "waiting-room"

[[route]]
prefix = "/api/"
upstream = "app"
max_body_size = "1MiB"

[log]
level = "debug"
access_log = "/var/log/anteroom/access.log"
error_log = "/var/log/anteroom/error.log"

[admin]
enabled = true
listen = "[::1]:9000"
token_file = "/etc/anteroom/admin.token"
)"));
    expect_valid(r);
    const config& c = *r.cfg;
    EXPECT_EQ(c.state_dir, "/var/lib/anteroom");
    EXPECT_EQ(c.server.listen, (std::vector<listener_config>{{{"0.0.0.0", 80}}, {{"::", 80}}}));
    EXPECT_EQ(c.server.threads, 8u);
    EXPECT_FALSE(c.server.reuse_port);
    EXPECT_EQ(c.server.max_connections, 50000u);
    EXPECT_EQ(c.server.max_header_size, 32u * 1024);
    EXPECT_EQ(c.server.max_body_size, 100ull << 20);
    EXPECT_EQ(c.server.max_requests_per_connection, 500u);
    EXPECT_EQ(c.server.header_read_timeout, 5s);
    EXPECT_EQ(c.server.idle_timeout, 2min);
    EXPECT_EQ(c.server.body_timeout, 15s);
    EXPECT_EQ(c.server.drain_timeout, 30s);
    ASSERT_EQ(c.server.trusted_proxies.size(), 2u);
    EXPECT_EQ(c.server.trusted_proxies[1].text(), "2001:db8::/32");
    EXPECT_EQ(c.server.server_name, "edge");

    ASSERT_EQ(c.upstreams.size(), 2u);
    const upstream_config& app = c.upstreams[0];
    EXPECT_EQ(app.name, "app");
    EXPECT_EQ(app.servers, (std::vector<listen_address>{{"10.0.0.1", 8080}, {"10.0.0.2", 8080}}));
    EXPECT_FALSE(app.builtin);
    EXPECT_EQ(app.balance, balance_policy::least_outstanding);
    EXPECT_EQ(app.pool_size, 16u);
    EXPECT_EQ(app.connect_timeout, 500ms);
    EXPECT_EQ(app.response_timeout, 1min);
    EXPECT_EQ(app.pool_idle_timeout, 45s);
    EXPECT_EQ(app.max_fails, 5u);
    EXPECT_EQ(app.fail_backoff, 20s);
    EXPECT_FALSE(app.retry_idempotent);
    EXPECT_TRUE(c.upstreams[1].builtin);

    ASSERT_EQ(c.routes.size(), 2u);
    EXPECT_EQ(c.routes[0].prefix, "/api/");
    EXPECT_EQ(c.routes[0].upstream, "app");
    EXPECT_EQ(c.routes[0].max_body_size, 1u << 20);
    EXPECT_EQ(c.routes[1].prefix, "/");
    EXPECT_EQ(c.routes[1].upstream, "waiting-room");

    EXPECT_EQ(c.log.level, log_level::debug);
    EXPECT_EQ(c.log.access_log, "/var/log/anteroom/access.log");
    EXPECT_EQ(c.log.error_log, "/var/log/anteroom/error.log");
    EXPECT_TRUE(c.admin.enabled);
    EXPECT_EQ(c.admin.listen, (listen_address{"::1", 9000}));
    EXPECT_EQ(c.admin.token_file, secrets.path("admin.token"));
}

// ---- helpers ---------------------------------------------------------------------------------

TEST(config_helpers, parse_size) {
    EXPECT_EQ(parse_size("0"), 0u);
    EXPECT_EQ(parse_size("512"), 512u);
    EXPECT_EQ(parse_size("512B"), 512u);
    EXPECT_EQ(parse_size("16KiB"), 16u * 1024);
    EXPECT_EQ(parse_size("10MiB"), 10ull << 20);
    EXPECT_EQ(parse_size("1GiB"), 1ull << 30);
    EXPECT_EQ(parse_size("2TiB"), 2ull << 40);
    EXPECT_EQ(parse_size("18446744073709551615"), 18446744073709551615ull);
    EXPECT_EQ(parse_size("16777215TiB"), 16777215ull << 40);
    for (const char* bad : {"", "B", "KiB", "-1", "+1", "1.5MiB", "16 KiB", " 16KiB", "16KiB ", "16kib", "16K",
                            "10MB", "1KB", "18446744073709551616", "16777216TiB", "1KiBKiB"}) {
        EXPECT_EQ(parse_size(bad), std::nullopt) << bad;
    }
}

TEST(config_helpers, parse_duration) {
    EXPECT_EQ(parse_duration("250ms"), 250ms);
    EXPECT_EQ(parse_duration("10s"), 10s);
    EXPECT_EQ(parse_duration("5m"), 5min);
    EXPECT_EQ(parse_duration("1h"), 1h);
    EXPECT_EQ(parse_duration("0s"), 0ms);
    EXPECT_EQ(parse_duration("9223372036854775807ms"), duration_ms::max());
    for (const char* bad : {"", "10", "s", "ms", "1.5s", "-1s", "+1s", "10S", "10sec", "1h30m", " 1s", "1s ",
                            "10 s", "1d", "9223372036854775808ms", "2562047788016h"}) {
        EXPECT_EQ(parse_duration(bad), std::nullopt) << bad;
    }
}

TEST(config_helpers, parse_address) {
    EXPECT_EQ(parse_address("1.2.3.4:80"), (listen_address{"1.2.3.4", 80}));
    EXPECT_EQ(parse_address("[::1]:80"), (listen_address{"::1", 80}));
    EXPECT_EQ(parse_address("[2001:DB8:0::1]:443"), (listen_address{"2001:db8::1", 443}));
    EXPECT_EQ(parse_address("0.0.0.0:65535"), (listen_address{"0.0.0.0", 65535}));
    // Port 0 parses; the loader allows it for listeners only.
    EXPECT_EQ(parse_address("127.0.0.1:0"), (listen_address{"127.0.0.1", 0}));
    for (const char* bad : {"", ":80", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:8o",
                            "1.2.3.4:123456", "localhost:80", "::1:80", "[::1]", "[::1]80", "[::1:80", "[1.2.3.4]:80",
                            "1.2.3:80", "01.2.3.4:80", "[fe80::1%eth0]:80", " 1.2.3.4:80"}) {
        EXPECT_EQ(parse_address(bad), std::nullopt) << bad;
    }
}

TEST(config_helpers, listen_address_text_round_trips) {
    EXPECT_EQ((listen_address{"127.0.0.1", 8080}).text(), "127.0.0.1:8080");
    EXPECT_EQ((listen_address{"::1", 8080}).text(), "[::1]:8080");
    for (const char* text : {"127.0.0.1:8080", "[::1]:8080", "[2001:db8::1]:1"}) {
        const auto a = parse_address(text);
        ASSERT_TRUE(a) << text;
        EXPECT_EQ(a->text(), text);
    }
}

TEST(config_helpers, format_size_and_duration) {
    EXPECT_EQ(format_size(0), "0");
    EXPECT_EQ(format_size(512), "512B");
    EXPECT_EQ(format_size(16 * 1024), "16KiB");
    EXPECT_EQ(format_size(1536), "1536B");
    EXPECT_EQ(format_size(1ull << 40), "1TiB");
    EXPECT_EQ(format_duration(0ms), "0ms");
    EXPECT_EQ(format_duration(1500ms), "1500ms");
    EXPECT_EQ(format_duration(90s), "90s");
    EXPECT_EQ(format_duration(10min), "10m");
    EXPECT_EQ(format_duration(2h), "2h");
}

TEST(config_helpers, error_text_omits_missing_line_and_key) {
    EXPECT_EQ((config_error{"a.toml", 12, "server.threads", "bad"}).text(), "a.toml:12: server.threads: bad");
    EXPECT_EQ((config_error{"a.toml", 0, "", "cannot read file: x"}).text(), "a.toml: cannot read file: x");
    EXPECT_EQ((config_error{"a.toml", 3, "", "invalid TOML: y"}).text(), "a.toml:3: invalid TOML: y");
}

// ---- files -----------------------------------------------------------------------------------

TEST(config_file, missing_file_is_one_error_without_a_line) {
    const std::string path = ::testing::TempDir() + "anteroom-config-test-does-not-exist/x.toml";
    const auto r = load_config(path);
    EXPECT_EQ(r.cfg, nullptr);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].line, 0u);
    EXPECT_EQ(r.errors[0].message, "cannot read file: No such file or directory");
    EXPECT_EQ(r.errors[0].text(), path + ": cannot read file: No such file or directory");
}

TEST(config_file, a_bad_admin_token_file_names_the_config_line_and_the_token_file_line) {
    const secret_files secrets;
    std::ofstream(secrets.path("admin.token")) << "ops-anna token-for-the-config-tests-1\nops-anna token-for-the-config-tests-2\n";
    const auto e = only_error(parse(secrets.in("[admin]\n\ntoken_file = \"/etc/anteroom/admin.token\"\n")));
    EXPECT_EQ(e.line, 3u);
    EXPECT_EQ(e.key, "admin.token_file");
    EXPECT_EQ(e.message, secrets.path("admin.token") + ":2: token name \"ops-anna\" appears twice");
    std::ofstream(secrets.path("admin.token")) << "ops-anna token-for-the-config-tests-1\nops-ben token-for-the-config-tests-2\n";
    expect_valid(parse(secrets.in("[admin]\ntoken_file = \"/etc/anteroom/admin.token\"\n")));
}

TEST(config_file, directory_is_unreadable) {
    const auto r = load_config(::testing::TempDir());
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].message.rfind("cannot read file: ", 0), 0u) << r.errors[0].message;
}

TEST(config_file, loads_from_disk_and_names_the_file) {
    const std::string path = ::testing::TempDir() + "anteroom-config-test.toml";
    {
        std::ofstream out(path, std::ios::trunc);
        out << "[server]\nthreads = 3\n\n[log]\nlevel = \"nope\"\n";
    }
    auto r = load_config(path);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].text(), path + ":5: log.level: must be one of \"debug\", \"info\", \"warn\", \"error\"; "
                                         "got \"nope\"");
    {
        std::ofstream out(path, std::ios::trunc);
        out << "[server]\nthreads = 3\n";
    }
    r = load_config(path);
    expect_valid(r);
    EXPECT_EQ(r.cfg->source_path, path);
    EXPECT_EQ(r.cfg->server.threads, 3u);
    std::remove(path.c_str());
}

#ifdef ANTEROOM_SOURCE_DIR
// Every setting except source_path; catches a shipped file that drifts from the code defaults.
void expect_same_settings(const config& a, const config& b) {
    EXPECT_EQ(a.state_dir, b.state_dir);
    EXPECT_EQ(a.server.listen, b.server.listen);
    EXPECT_EQ(a.server.threads, b.server.threads);
    EXPECT_EQ(a.server.reuse_port, b.server.reuse_port);
    EXPECT_EQ(a.server.max_connections, b.server.max_connections);
    EXPECT_EQ(a.server.max_header_size, b.server.max_header_size);
    EXPECT_EQ(a.server.max_body_size, b.server.max_body_size);
    EXPECT_EQ(a.server.max_requests_per_connection, b.server.max_requests_per_connection);
    EXPECT_EQ(a.server.header_read_timeout, b.server.header_read_timeout);
    EXPECT_EQ(a.server.idle_timeout, b.server.idle_timeout);
    EXPECT_EQ(a.server.body_timeout, b.server.body_timeout);
    EXPECT_EQ(a.server.drain_timeout, b.server.drain_timeout);
    EXPECT_EQ(a.server.trusted_proxies, b.server.trusted_proxies);
    EXPECT_EQ(a.server.server_name, b.server.server_name);
    ASSERT_EQ(a.upstreams.size(), b.upstreams.size());
    for (std::size_t i = 0; i < a.upstreams.size(); ++i) {
        const auto& x = a.upstreams[i];
        const auto& y = b.upstreams[i];
        EXPECT_EQ(x.name, y.name);
        EXPECT_EQ(x.servers, y.servers);
        EXPECT_EQ(x.builtin, y.builtin);
        EXPECT_EQ(x.balance, y.balance);
        EXPECT_EQ(x.pool_size, y.pool_size);
        EXPECT_EQ(x.connect_timeout, y.connect_timeout);
        EXPECT_EQ(x.response_timeout, y.response_timeout);
        EXPECT_EQ(x.pool_idle_timeout, y.pool_idle_timeout);
        EXPECT_EQ(x.max_fails, y.max_fails);
        EXPECT_EQ(x.fail_backoff, y.fail_backoff);
        EXPECT_EQ(x.retry_idempotent, y.retry_idempotent);
    }
    ASSERT_EQ(a.routes.size(), b.routes.size());
    for (std::size_t i = 0; i < a.routes.size(); ++i) {
        EXPECT_EQ(a.routes[i].prefix, b.routes[i].prefix);
        EXPECT_EQ(a.routes[i].upstream, b.routes[i].upstream);
        EXPECT_EQ(a.routes[i].max_body_size, b.routes[i].max_body_size);
    }
    EXPECT_EQ(a.log.level, b.log.level);
    EXPECT_EQ(a.log.access_log, b.log.access_log);
    EXPECT_EQ(a.log.error_log, b.log.error_log);
    EXPECT_EQ(a.admin.enabled, b.admin.enabled);
    EXPECT_EQ(a.admin.listen, b.admin.listen);
    EXPECT_EQ(a.admin.token_file, b.admin.token_file);
    EXPECT_EQ(a.admission.key_file, b.admission.key_file);
    EXPECT_EQ(a.admission.bind_ip, b.admission.bind_ip);
    EXPECT_EQ(a.admission.bind_v4_prefix, b.admission.bind_v4_prefix);
    EXPECT_EQ(a.admission.bind_v6_prefix, b.admission.bind_v6_prefix);
    EXPECT_EQ(a.admission.bind_user_agent, b.admission.bind_user_agent);
    EXPECT_EQ(a.admission.agent_header, b.admission.agent_header);
    EXPECT_EQ(a.admission.agent_token_file, b.admission.agent_token_file);
    EXPECT_EQ(a.admission.snapshot_interval, b.admission.snapshot_interval);
    EXPECT_EQ(a.admission.cookie_secure, b.admission.cookie_secure);
}

// The shipped example room documents every room key at its default, except what makes it an
// example (id, paths, exclude, rate, the booking backend as inventory).
void expect_default_room_settings(const room_config& a) {
    const room_config b;
    EXPECT_EQ(a.case_insensitive, b.case_insensitive);
    EXPECT_EQ(a.mode, b.mode);
    EXPECT_EQ(a.max_active_users, b.max_active_users);
    EXPECT_EQ(a.session_idle_timeout, b.session_idle_timeout);
    EXPECT_EQ(a.session_max_duration, b.session_max_duration);
    EXPECT_EQ(a.abandon_after, b.abandon_after);
    EXPECT_EQ(a.ticket_max_age, b.ticket_max_age);
    EXPECT_EQ(a.queued_status_code, b.queued_status_code);
    EXPECT_EQ(a.event.prequeue_opens, b.event.prequeue_opens);
    EXPECT_EQ(a.event.starts, b.event.starts);
    EXPECT_EQ(a.capacity_poll_interval, b.capacity_poll_interval);
    EXPECT_EQ(a.waiting_template, b.waiting_template);
    EXPECT_EQ(a.landing_path, b.landing_path);
}
#endif

TEST(config_file, shipped_default_config_loads_cleanly) {
#ifdef ANTEROOM_SOURCE_DIR
    const auto r = load_config(ANTEROOM_SOURCE_DIR "/conf/anteroom.toml");
    expect_valid(r);
    const config& c = *r.cfg;
    // The shipped file documents the built-in defaults; serving works out of the box.
    EXPECT_EQ(c.server.listen, (std::vector<listener_config>{{{"127.0.0.1", 8080}}}));
    ASSERT_EQ(c.upstreams.size(), 1u);
    EXPECT_TRUE(c.upstreams[0].builtin);
    ASSERT_EQ(c.routes.size(), 1u);
    EXPECT_EQ(c.routes[0].prefix, "/");
    EXPECT_TRUE(c.admin.enabled);
    EXPECT_EQ(c.admin.listen, (listen_address{"127.0.0.1", 9090}));
    EXPECT_EQ(c.admin.token_file, "");
    expect_same_settings(c, *parse("").cfg);
    // One example room, so `make run` shows the waiting room.
    ASSERT_EQ(c.rooms.size(), 1u);
    const room_config& portal = c.rooms[0];
    EXPECT_EQ(portal.id, "portal");
    EXPECT_EQ(portal.paths, (std::vector<std::string>{"/"}));
    EXPECT_EQ(portal.exclude, (std::vector<std::string>{"/favicon.ico", "/robots.txt", "/static/"}));
    EXPECT_EQ(portal.new_users_per_minute, 60u);
    EXPECT_EQ(portal.max_active_users, 1000u);
    EXPECT_EQ(portal.capacity_url, "builtin:/api/capacity");
    expect_default_room_settings(portal);
    // The embedded booking backend with demo stock, every other [booking] key at its default.
    const booking_config& b = c.booking;
    const booking_config d;
    EXPECT_TRUE(b.embedded);
    EXPECT_EQ(b.listen, d.listen);
    EXPECT_EQ(b.database, d.database);
    EXPECT_EQ(b.threads, d.threads);
    EXPECT_EQ(b.max_queue, d.max_queue);
    EXPECT_EQ(b.write_batch, d.write_batch);
    EXPECT_EQ(b.max_connections, d.max_connections);
    EXPECT_EQ(b.doses_per_vial, d.doses_per_vial);
    EXPECT_TRUE(b.hotline_percent);
    EXPECT_EQ(b.hotline_contingent, 10);
    EXPECT_EQ(b.hotline_release_before, d.hotline_release_before);
    EXPECT_EQ(b.second_appointment_days, d.second_appointment_days);
    EXPECT_EQ(b.retention_unbooked_months, d.retention_unbooked_months);
    EXPECT_EQ(b.retention_after_vaccination_days, d.retention_after_vaccination_days);
    EXPECT_EQ(b.retention_interval, d.retention_interval);
    EXPECT_EQ(b.session_ttl, d.session_ttl);
    EXPECT_EQ(b.pin_iterations, d.pin_iterations);
    EXPECT_EQ(b.fsync_each_commit, d.fsync_each_commit);
    EXPECT_EQ(b.admin_token_file, d.admin_token_file);
    EXPECT_EQ(b.open_groups, (std::vector<std::int64_t>{1}));
    EXPECT_EQ(b.demo_vials_per_day, 20u);
    EXPECT_EQ(b.cookie_secure, d.cookie_secure);
    ASSERT_EQ(b.centres.size(), 2u);
    EXPECT_EQ(b.centres[1].open_days, 0x1f);  // Monday to Friday
    EXPECT_EQ(b.centres[1].slot_minutes, 15);
#else
    GTEST_SKIP() << "ANTEROOM_SOURCE_DIR not defined";
#endif
}

}  // namespace
}  // namespace anteroom

namespace anteroom {
namespace {

TEST(config_booking, reads_every_key_and_reports_bad_values_with_lines) {
    const auto ok = parse_config(
        "[booking]\nembedded = true\nhotline_contingent = 25\nsecond_appointment_days = 21\n"
        "[[booking.centre]]\nname = \"A\"\nopens = \"07:30\"\ncloses = \"24:00\"\ndays = [\"sat\", \"sun\"]\n",
        "b.toml");
    ASSERT_TRUE(ok.cfg) << (ok.errors.empty() ? "" : ok.errors[0].text());
    EXPECT_FALSE(ok.cfg->booking.hotline_percent);
    EXPECT_EQ(ok.cfg->booking.hotline_contingent, 25);
    EXPECT_EQ(ok.cfg->booking.second_appointment_days, 21);
    EXPECT_EQ(ok.cfg->booking.centres[0].opens_minute, 7 * 60 + 30);
    EXPECT_EQ(ok.cfg->booking.centres[0].closes_minute, 24 * 60);
    EXPECT_EQ(ok.cfg->booking.centres[0].open_days, 0x60);

    const auto bad = parse_config(
        "[booking]\nhotline_contingent = \"120%\"\nthreads = 0\n"
        "[[booking.centre]]\nname = \"A\"\nopens = \"25:00\"\ndays = [\"someday\"]\n"
        "[[booking.centre]]\nname = \"A\"\nopens = \"18:00\"\ncloses = \"08:00\"\n",
        "b.toml");
    ASSERT_FALSE(bad.cfg);
    std::string all;
    for (const auto& e : bad.errors) {
        all += e.text() + "\n";
    }
    EXPECT_NE(all.find("b.toml:2: booking.hotline_contingent:"), std::string::npos) << all;
    EXPECT_NE(all.find("b.toml:3: booking.threads:"), std::string::npos) << all;
    EXPECT_NE(all.find("b.toml:6: booking.centre[0].opens: must be a time"), std::string::npos) << all;
    EXPECT_NE(all.find("booking.centre[0].days[0]: must be one of"), std::string::npos) << all;
    EXPECT_NE(all.find("duplicate centre name"), std::string::npos) << all;
    EXPECT_NE(all.find("booking.centre[1].closes: must be later than opens"), std::string::npos) << all;
}

TEST(config_booking, builtin_capacity_url_needs_a_path) {
    EXPECT_TRUE(parse_config("[[room]]\nid = \"r\"\npaths = [\"/\"]\ncapacity_url = \"builtin:/api/capacity\"\n", "r.toml").cfg);
    const auto bad = parse_config("[[room]]\nid = \"r\"\npaths = [\"/\"]\ncapacity_url = \"builtin:api\"\n", "r.toml");
    ASSERT_FALSE(bad.cfg);
    EXPECT_NE(bad.errors[0].text().find("r.toml:4: room[0].capacity_url: invalid URL"), std::string::npos)
        << bad.errors[0].text();
}

}  // namespace
}  // namespace anteroom
