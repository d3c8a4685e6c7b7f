#include "bench/tool/raw_options.hpp"

#include <arpa/inet.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace anteroom::bench {

namespace {

bool parse_ipv4(const std::string& text, std::uint32_t& out) {
    in_addr a{};
    if (inet_pton(AF_INET, text.c_str(), &a) != 1) {
        return false;
    }
    out = ntohl(a.s_addr);
    return true;
}

bool has_ctl(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

bool is_token(std::string_view s) {
    static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || extra.find(c) != std::string_view::npos;
    });
}

using header_list = std::vector<std::pair<std::string, std::string>>;

// The first -H header called `name` (case-insensitive), or end().
header_list::const_iterator find_header(const raw_options& o, std::string_view name) {
    return std::find_if(o.headers.begin(), o.headers.end(), [&](const auto& h) {
        return h.first.size() == name.size() && std::equal(name.begin(), name.end(), h.first.begin(), [](char a, char b) {
                   return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
               });
    });
}

bool has_header(const raw_options& o, std::string_view name) { return find_header(o, name) != o.headers.end(); }

bool is_host_name(std::string_view s) {
    return !s.empty() && s.size() <= 253 && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
    });
}

// The TLS options make sense only with an https:// URL; the SNI name defaults to the name of an
// explicit Host header (the URL's host is an IP literal, which SNI must not carry: RFC 6066).
std::string check_tls_options(raw_options& o, bool insecure) {
    auto& t = o.tls;
    if (!t.enabled) {
        if (!t.cacert.empty() || insecure || !t.sni.empty() || !t.version.empty() || t.resume) {
            return "--cacert, --insecure, --sni, --tls-version and --tls-resume need an https:// URL";
        }
        return "";
    }
    if (!t.cacert.empty() && !std::ifstream(t.cacert)) {
        return "--cacert: cannot read '" + t.cacert + "'";
    }
    if (!t.version.empty() && t.version != "1.2" && t.version != "1.3") {
        return "--tls-version: expected 1.2 or 1.3, got '" + t.version + "'";
    }
    if (t.sni.empty()) {
        const auto host = find_header(o, "host");
        if (host != o.headers.end() && !host->second.starts_with("[")) {
            t.sni = host->second.substr(0, host->second.find(':'));
            in_addr a4{};
            if (inet_pton(AF_INET, t.sni.c_str(), &a4) == 1) {
                t.sni.clear();
            }
        }
    } else if (!is_host_name(t.sni)) {
        return "--sni: expected a host name, got '" + t.sni + "'";
    }
    return "";
}

}  // namespace

std::optional<std::chrono::nanoseconds> parse_duration(const std::string& text) {
    double value = 0;
    const char* end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || p == text.data()) {
        return std::nullopt;
    }
    const std::string_view unit(p, static_cast<std::size_t>(end - p));
    double scale = 0;
    if (unit.empty() || unit == "s") {
        scale = 1e9;
    } else if (unit == "ms") {
        scale = 1e6;
    } else if (unit == "us") {
        scale = 1e3;
    } else if (unit == "m") {
        scale = 60e9;
    } else if (unit == "h") {
        scale = 3600e9;
    } else {
        return std::nullopt;
    }
    const double ns = value * scale;
    if (!(ns >= 1) || ns > 1e18) {
        return std::nullopt;
    }
    return std::chrono::nanoseconds(static_cast<std::int64_t>(ns));
}

std::string parse_source_range(const std::string& text, std::uint32_t& first, std::uint32_t& last) {
    const auto dash = text.find('-');
    const std::string a = text.substr(0, dash);
    const std::string b = dash == std::string::npos ? a : text.substr(dash + 1);
    std::uint32_t lo = 0;
    std::uint32_t hi = 0;
    if (!parse_ipv4(a, lo) || !parse_ipv4(b, hi)) {
        return "--source: expected an IPv4 address or a range like 127.0.0.2-127.0.0.250, got '" + text + "'";
    }
    if ((lo >> 24) != 127 || (hi >> 24) != 127) {
        return "--source: addresses must be in 127.0.0.0/8 (loopback), got '" + text + "'";
    }
    if (lo > hi) {
        return "--source: the first address is above the last in '" + text + "'";
    }
    first = lo;
    last = hi;
    return "";
}

std::string parse_target_url(const std::string& url, raw_options& out, std::string& url_path) {
    const bool tls = url.starts_with("https://");
    if (!tls && !url.starts_with("http://")) {
        return "the URL must start with http:// or https://, got '" + url + "'";
    }
    const std::string rest = url.substr(tls ? 8 : 7);
    const auto slash = rest.find('/');
    const std::string authority = rest.substr(0, slash);
    url_path = slash == std::string::npos ? "/" : rest.substr(slash);
    std::string host;
    std::string port_text;
    if (authority.starts_with("[")) {
        const auto close = authority.find(']');
        if (close == std::string::npos) {
            return "bad IPv6 address in '" + url + "'";
        }
        host = authority.substr(1, close - 1);
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') {
                return "bad address in '" + url + "'";
            }
            port_text = authority.substr(close + 2);
        }
    } else {
        const auto colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string::npos) {
            port_text = authority.substr(colon + 1);
        }
    }
    in6_addr a6{};
    in_addr a4{};
    if (inet_pton(AF_INET, host.c_str(), &a4) != 1 && inet_pton(AF_INET6, host.c_str(), &a6) != 1) {
        return "the URL needs a literal IP address (no name lookup), got '" + host + "'";
    }
    unsigned port = tls ? 443 : 80;
    if (!port_text.empty() || authority.ends_with(":")) {
        auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc{} || p != port_text.data() + port_text.size() || port == 0 || port > 65535) {
            return "bad port in '" + url + "'";
        }
    }
    if (has_ctl(url_path) || url_path.find(' ') != std::string::npos) {
        return "the path in '" + url + "' contains spaces or control characters";
    }
    out.target_ip = host;
    out.target_port = static_cast<std::uint16_t>(port);
    out.host_header = authority;
    out.tls.enabled = tls;
    return "";
}

raw_parse_result parse_raw_options(const std::vector<std::string>& args) {
    raw_options o;
    std::string url;
    std::string duration_text;
    std::string timeout_text;
    std::string source_text;
    std::string body_file;
    std::vector<std::string> header_texts;
    std::uint64_t requests = 0;
    bool no_keep_alive = false;
    bool insecure = false;

    CLI::App app{"anteroom-bench raw: HTTP load with a latency histogram (like wrk, plus fixed rate and source ranges)",
                 "anteroom-bench raw"};
    app.add_option("url", url, "Target, e.g. http://127.0.0.1:8080/ or https://127.0.0.1:8443/ (literal IP)")->required();
    app.add_option("-c,--connections", o.connections, "Open connections (default 10)");
    app.add_option("-t,--threads", o.threads, "Threads, one io_context each (default 1)");
    auto* dur = app.add_option("-d,--duration", duration_text, "Run time: 10s, 500ms, 2m (default 10s)");
    auto* req = app.add_option("-n,--requests", requests, "Stop after this many requests instead of a duration");
    dur->excludes(req);
    app.add_option("-m,--method", o.method, "Request method (default GET)");
    app.add_option("-p,--path", o.paths, "Request path; repeat for a round-robin list (default: the URL's path)");
    app.add_option("-H,--header", header_texts, "Extra header 'Name: value' (repeatable)");
    auto* body = app.add_option("-b,--body", o.body, "Request body");
    app.add_option("--body-file", body_file, "Request body from a file")->excludes(body);
    app.add_flag("--no-keepalive", no_keep_alive, "A new connection for every request");
    app.add_option("-R,--rate", o.rate, "Fixed rate in requests/s over all connections; latency from the intended send time");
    app.add_option("--source", source_text, "Bind connections to addresses in this 127.0.0.0/8 range, round robin");
    app.add_option("--timeout", timeout_text, "Per-request timeout, connect included (default 2s)");
    app.add_option("--json", o.json_file, "Write every figure as JSON to this file");
    auto* cacert = app.add_option("--cacert", o.tls.cacert, "https: verify the server against the CAs in this PEM file");
    app.add_flag("-k,--insecure", insecure, "https: do not verify the server (the default without --cacert)")
        ->excludes(cacert);
    app.add_option("--sni", o.tls.sni, "https: server name to send and verify (default: from -H Host, else none)");
    app.add_option("--tls-version", o.tls.version, "https: only 1.2 or only 1.3 (default: either)");
    app.add_flag("--tls-resume", o.tls.resume,
                 "https: resume each connection slot's previous TLS session (counts full vs resumed handshakes)");

    std::vector<std::string> reversed(args.rbegin(), args.rend());
    try {
        app.parse(reversed);
    } catch (const CLI::CallForHelp&) {
        return {std::nullopt, 0, app.help()};
    } catch (const CLI::ParseError& e) {
        return {std::nullopt, 2, std::string(e.what()) + "\nRun with --help for the options."};
    }

    auto fail = [](std::string message) { return raw_parse_result{std::nullopt, 2, std::move(message)}; };
    std::string url_path;
    if (auto err = parse_target_url(url, o, url_path); !err.empty()) {
        return fail(err);
    }
    if (o.paths.empty()) {
        o.paths.push_back(url_path);
    }
    for (const auto& p : o.paths) {
        if (p.empty() || p[0] != '/' || has_ctl(p) || p.find(' ') != std::string::npos) {
            return fail("--path must start with '/' and hold no spaces or control characters, got '" + p + "'");
        }
    }
    if (!is_token(o.method)) {
        return fail("--method: '" + o.method + "' is not a valid method token");
    }
    for (const auto& h : header_texts) {
        const auto colon = h.find(':');
        if (colon == std::string::npos || !is_token(h.substr(0, colon)) || has_ctl(h)) {
            return fail("--header: expected 'Name: value', got '" + h + "'");
        }
        std::string value = h.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        o.headers.emplace_back(h.substr(0, colon), value);
    }
    if (o.connections == 0 || o.connections > 1'000'000) {
        return fail("--connections must be between 1 and 1000000");
    }
    if (o.threads == 0 || o.threads > 256) {
        return fail("--threads must be between 1 and 256");
    }
    if (o.threads > o.connections) {
        return fail("--threads (" + std::to_string(o.threads) + ") must not exceed --connections (" +
                    std::to_string(o.connections) + ")");
    }
    if (!duration_text.empty()) {
        auto d = parse_duration(duration_text);
        if (!d) {
            return fail("--duration: expected a positive time like 10s, 500ms or 2m, got '" + duration_text + "'");
        }
        o.duration = *d;
    }
    if (req->count() > 0) {
        if (requests == 0) {
            return fail("--requests must be at least 1");
        }
        o.requests = requests;
    }
    if (!timeout_text.empty()) {
        auto t = parse_duration(timeout_text);
        if (!t) {
            return fail("--timeout: expected a positive time like 2s or 500ms, got '" + timeout_text + "'");
        }
        o.timeout = *t;
    }
    if (app.count("--rate") > 0 && !(o.rate > 0 && o.rate <= 1e8)) {
        return fail("--rate must be above 0 and at most 100000000 requests/s");
    }
    if (!source_text.empty()) {
        if (auto err = parse_source_range(source_text, o.source_first, o.source_last); !err.empty()) {
            return fail(err);
        }
        if (o.target_ip.find(':') != std::string::npos) {
            return fail("--source needs an IPv4 target");
        }
    }
    if (!body_file.empty()) {
        std::ifstream in(body_file, std::ios::binary);
        if (!in) {
            return fail("--body-file: cannot read '" + body_file + "'");
        }
        std::ostringstream ss;
        ss << in.rdbuf();
        o.body = ss.str();
    }
    if (auto err = check_tls_options(o, insecure); !err.empty()) {
        return fail(err);
    }
    o.keep_alive = !no_keep_alive;
    return {std::move(o), 0, ""};
}

}  // namespace anteroom::bench

namespace anteroom::bench {

std::vector<std::string> serialise_requests(const raw_options& o) {
    std::string common;
    if (!has_header(o, "host")) {
        common += "Host: " + o.host_header + "\r\n";
    }
    for (const auto& [name, value] : o.headers) {
        common += name + ": " + value + "\r\n";
    }
    if (!o.body.empty() && !has_header(o, "content-length") && !has_header(o, "transfer-encoding")) {
        common += "Content-Length: " + std::to_string(o.body.size()) + "\r\n";
    }
    if (!o.keep_alive && !has_header(o, "connection")) {
        common += "Connection: close\r\n";
    }
    common += "\r\n";
    common += o.body;
    std::vector<std::string> out;
    out.reserve(o.paths.size());
    for (const auto& p : o.paths) {
        out.push_back(o.method + " " + p + " HTTP/1.1\r\n" + common);
    }
    return out;
}

}  // namespace anteroom::bench
