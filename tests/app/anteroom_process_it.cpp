// The real `anteroom` executable as an operator runs it: the command line, SIGHUP reloads and
// the SIGTERM drain, with a fake upstream in this process and every wait bounded (log lines,
// pipes, sockets; no sleeps). The proxy learns its ports from the kernel (port 0) and reports
// them in its "listening on" log lines, which is how these tests find them.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/net.hpp"
#include "tests/support/fake_upstream.hpp"
#include "common/keyfile.hpp"
#include "tests/support/harness.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/subprocess.hpp"

namespace anteroom::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string binary = ANTEROOM_BINARY;
constexpr auto startup_timeout = 10s;  // generous: a sanitizer build on a busy CI machine

// ---- files ---------------------------------------------------------------------------------------

class temp_dir {
public:
    temp_dir() {
        std::string tmpl = (fs::temp_directory_path() / "anteroom-proc-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        path_ = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    fs::path path_;
};

void write_file(const std::string& path, const std::string& text) {
    // Write then rename: a reload never sees half a file.
    const std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::trunc);
        f << text;
    }
    fs::rename(tmp, path);
}

std::string read_file(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::vector<std::string> lines_of(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        out.emplace_back(text.substr(0, nl));
        if (nl == std::string_view::npos) {
            break;
        }
        text.remove_prefix(nl + 1);
    }
    return out;
}

// The port in the first "<needle><digits>" at or after `from`.
std::optional<std::uint16_t> port_after(std::string_view text, std::string_view needle, std::size_t from = 0) {
    const auto at = text.find(needle, from);
    if (at == std::string_view::npos) {
        return std::nullopt;
    }
    const auto digits = text.substr(at + needle.size());
    std::uint16_t port = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc{} || end == digits.data()) {
        return std::nullopt;
    }
    return port;
}

constexpr std::string_view proxy_line = " server: listening on http://127.0.0.1:";
constexpr std::string_view admin_line = " server: admin listening on http://127.0.0.1:";

// ---- a small HTTP client with a deadline on every step ---------------------------------------------

class client {
public:
    explicit client(std::uint16_t port, const std::string& host = "127.0.0.1") {
        sock_.async_connect(tcp::endpoint(net::ip::make_address(host), port),
                            [this](beast::error_code e) { ec_ = e; });
        run(2s);
    }
    bool connected() const { return !ec_ && sock_.is_open(); }
    beast::error_code ec() const { return ec_; }

    bool send(const std::string& bytes) {
        net::async_write(sock_, net::buffer(bytes), [this](beast::error_code e, std::size_t) { ec_ = e; });
        run(2s);
        return !ec_;
    }

    std::optional<http::response<http::string_body>> read_response(std::chrono::milliseconds timeout = 3s) {
        http::response_parser<http::string_body> p;
        http::async_read(sock_, buf_, p, [this](beast::error_code e, std::size_t) { ec_ = e; });
        run(timeout);
        if (ec_) {
            return std::nullopt;
        }
        return p.release();
    }

    // The server closed (EOF or reset) without sending a single byte.
    bool closed_without_response(std::chrono::milliseconds timeout = 3s) {
        std::size_t got = 0;
        char tmp[512];
        sock_.async_read_some(net::buffer(tmp), [&](beast::error_code e, std::size_t n) {
            ec_ = e;
            got = n;
        });
        run(timeout);
        return got == 0 && (ec_ == net::error::eof || ec_ == net::error::connection_reset);
    }

    std::uint16_t local_port() const {
        beast::error_code e;
        return sock_.local_endpoint(e).port();
    }

private:
    void run(std::chrono::milliseconds timeout) {
        ioc_.restart();
        ioc_.run_for(timeout);
        if (!ioc_.stopped()) {
            beast::error_code ignored;
            sock_.cancel(ignored);
            ioc_.run();
            ec_ = net::error::timed_out;
        }
    }

    net::io_context ioc_;
    tcp::socket sock_{ioc_};
    beast::flat_buffer buf_;
    beast::error_code ec_;
};

std::string request(const std::string& target, bool close = false) {
    return "GET " + target + " HTTP/1.1\r\nHost: test.local\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n";
}

std::optional<http::response<http::string_body>> get(std::uint16_t port, const std::string& target,
                                                     const std::string& host = "127.0.0.1") {
    client c(port, host);
    if (!c.connected() || !c.send(request(target, true))) {
        return std::nullopt;
    }
    return c.read_response();
}

// A new connection gets no service: refused at connect, or closed before any byte.
bool turned_away(std::uint16_t port) {
    client c(port);
    if (!c.connected()) {
        return c.ec() == net::error::connection_refused;
    }
    c.send(request("/echo/late", true));
    return c.closed_without_response();
}

std::optional<double> metric(std::uint16_t admin_port, const std::string& series) {
    const auto res = get(admin_port, "/metrics");
    if (!res || res->result_int() != 200) {
        return std::nullopt;
    }
    for (const auto& l : lines_of(res->body())) {
        if (l.starts_with(series + " ")) {
            return std::strtod(l.c_str() + series.size() + 1, nullptr);
        }
    }
    return std::nullopt;
}

const std::string reloads_ok = "anteroom_config_reloads_total{result=\"ok\"}";
const std::string reloads_failed = "anteroom_config_reloads_total{result=\"error\"}";

// ---- configs -------------------------------------------------------------------------------------

struct config_text {
    explicit config_text(std::string up) : upstream(std::move(up)) {}

    std::string upstream;                            // "127.0.0.1:PORT"
    std::vector<std::string> listen{"127.0.0.1:0"};
    std::string drain_timeout = "5s";
    std::string access_log;  // "" = off
    unsigned threads = 1;
    std::string extra;       // appended as is (e.g. [[room]] tables)

    std::string str() const {
        std::string l;
        for (const auto& a : listen) {
            l += (l.empty() ? "\"" : ", \"") + a + "\"";
        }
        return "[server]\n"
               "listen = [" + l + "]\n"
               "threads = " + std::to_string(threads) + "\n"
               "drain_timeout = \"" + drain_timeout + "\"\n"
               "\n[[upstream]]\nname = \"default\"\nservers = [\"" + upstream + "\"]\n"
               "\n[log]\nlevel = \"info\"\naccess_log = \"" + access_log + "\"\n"
               "\n[admin]\nlisten = \"127.0.0.1:0\"\n" + extra;
    }
};

// `anteroom serve` on port 0, started from a config file in its own temp dir.
class running_anteroom {
public:
    explicit running_anteroom(const config_text& cfg) : config_path_(dir_.file("anteroom.toml")) {
        write_file(config_path_, "state_dir = \"" + dir_.file("state") + "\"\n" + cfg.str());
        launch();
    }

    // kill -9, then the same config and state_dir again (ports are new: they are port 0).
    void kill_and_restart() {
        kill();
        launch();
    }
    void kill() {
        proc_->send_signal(SIGKILL);
        proc_->wait_exit(startup_timeout);
    }

    std::string state_file(const std::string& name) const { return dir_.file("state/" + name); }

    void launch() {
        proc_ = std::make_unique<subprocess>(std::vector<std::string>{binary, "serve", "--config", config_path_});
        const bool up = proc_->wait_for_stderr(
            [](std::string_view e) {
                return e.find(admin_line) != std::string_view::npos && e.find(proxy_line) != std::string_view::npos;
            },
            startup_timeout);
        if (!up) {
            throw std::runtime_error("anteroom did not start; stderr:\n" + proc_->err());
        }
        port_ = port_after(proc_->err(), proxy_line).value();
        admin_port_ = port_after(proc_->err(), admin_line).value();
    }

public:

    // Replaces the config file (state_dir kept) and sends SIGHUP; returns the stderr offset from
    // which the reload's own log lines start.
    std::size_t reload(const std::string& body) {
        write_file(config_path_, "state_dir = \"" + dir_.file("state") + "\"\n" + body);
        const auto mark = proc_->err().size();
        proc_->send_signal(SIGHUP);
        return mark;
    }

    subprocess& proc() { return *proc_; }
    const std::string& config_path() const { return config_path_; }
    std::uint16_t port() const { return port_; }
    std::uint16_t admin_port() const { return admin_port_; }

private:
    temp_dir dir_;
    std::string config_path_;
    std::unique_ptr<subprocess> proc_;
    std::uint16_t port_ = 0;
    std::uint16_t admin_port_ = 0;
};

// ---- admission state across a hard restart ----------------------------------------------------------

std::optional<http::response<http::string_body>> get_with(std::uint16_t port, const std::string& target,
                                                          const std::string& headers) {
    client c(port);
    if (!c.connected() ||
        !c.send("GET " + target + " HTTP/1.1\r\nHost: test.local\r\nConnection: close\r\n" + headers + "\r\n")) {
        return std::nullopt;
    }
    return c.read_response();
}

TEST(anteroom_process, kill_9_keeps_every_waiting_place_and_every_pass) {
    fake_upstream up;
    temp_dir secrets;
    const std::string agent = "agent-token-0123456789abcdef";
    write_file(secrets.file("agent.token"), agent + "\n");
    config_text cfg{up.address()};
    cfg.extra = "\n[admission]\nagent_token_file = \"" + secrets.file("agent.token") +
                "\"\n\n[[room]]\nid = \"book\"\npaths = [\"/book\"]\nmode = \"paused\"\n";
    running_anteroom ar(cfg);

    std::vector<std::string> tickets;
    for (int i = 0; i < 3; ++i) {
        const auto r = get_with(ar.port(), "/book", "Accept: application/json\r\n");
        ASSERT_TRUE(r);
        ASSERT_EQ(nlohmann::json::parse(r->body())["position"], i + 1);
        tickets.push_back(set_cookie_value(*r, "anteroom_ticket_book").value());
    }
    const auto admitted = get_with(ar.port(), "/book/echo", "Anteroom-Agent: " + agent + "\r\n");
    ASSERT_TRUE(admitted);
    ASSERT_EQ(admitted->result_int(), 200);
    const auto pass = set_cookie_value(*admitted, "anteroom_pass_book").value();
    ASSERT_EQ(up.request_count(), 1u);

    // The store snapshots every second: wait for one written after the last change, then kill -9.
    const auto changed = fs::file_time_type::clock::now();
    ASSERT_TRUE(eventually(
        [&] {
            std::error_code ec;
            const auto t = fs::last_write_time(ar.state_file("admission.snapshot"), ec);
            return !ec && t > changed;
        },
        5s));
    ar.kill_and_restart();

    for (int i = 0; i < 3; ++i) {
        const auto r = get_with(ar.port(), "/_anteroom/status?room=book",
                                "Accept: application/json\r\nCookie: anteroom_ticket_book=" + tickets[i] + "\r\n");
        ASSERT_TRUE(r);
        ASSERT_EQ(r->result_int(), 200) << r->body();
        const auto j = nlohmann::json::parse(r->body());
        EXPECT_EQ(j["state"], "paused");
        EXPECT_EQ(j["position"], i + 1);
    }
    const auto again = get_with(ar.port(), "/book/echo", "Cookie: anteroom_pass_book=" + pass + "\r\n");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->result_int(), 200);
    EXPECT_EQ(up.request_count(), 2u);
    // A newcomer after the restart queues behind the three.
    const auto late = get_with(ar.port(), "/book", "Accept: application/json\r\n");
    ASSERT_TRUE(late);
    EXPECT_EQ(nlohmann::json::parse(late->body())["position"], 4);
}

// Waits until the snapshot (and, with `previous`, also admission.snapshot.prev) was written
// after `since`.
bool snapshot_written_after(const running_anteroom& ar, fs::file_time_type since, bool previous = false) {
    return eventually(
        [&] {
            std::error_code ec, ec2;
            const auto t = fs::last_write_time(ar.state_file("admission.snapshot"), ec);
            const auto p = fs::last_write_time(ar.state_file("admission.snapshot.prev"), ec2);
            return !ec && t > since && (!previous || (!ec2 && p > since));
        },
        5s);
}

// A paused room "book" whose state is written every 100 ms.
config_text snapshotting_room(const fake_upstream& up) {
    config_text cfg{up.address()};
    cfg.extra = "\n[admission]\nsnapshot_interval = \"100ms\"\n\n[[room]]\nid = \"book\"\npaths = [\"/book\"]\n"
                "mode = \"paused\"\n";
    return cfg;
}

void damage(const std::string& path) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x5a');
}

std::optional<nlohmann::json> status_of(std::uint16_t port, const std::string& ticket) {
    const auto r = get_with(port, "/_anteroom/status?room=book",
                            "Accept: application/json\r\nCookie: anteroom_ticket_book=" + ticket + "\r\n");
    if (!r || r->result_int() != 200) {
        return std::nullopt;
    }
    return nlohmann::json::parse(r->body(), nullptr, false);
}

TEST(anteroom_process, a_damaged_snapshot_falls_back_to_the_previous_one_and_two_damaged_ones_stop_the_start) {
    fake_upstream up;
    running_anteroom ar(snapshotting_room(up));
    std::vector<std::string> tickets;
    for (int i = 0; i < 2; ++i) {
        const auto r = get_with(ar.port(), "/book", "Accept: application/json\r\n");
        ASSERT_TRUE(r);
        tickets.push_back(set_cookie_value(*r, "anteroom_ticket_book").value());
    }
    ASSERT_TRUE(snapshot_written_after(ar, fs::file_time_type::clock::now(), true));
    ar.kill();
    damage(ar.state_file("admission.snapshot"));

    ar.launch();
    EXPECT_NE(ar.proc().err().find("damaged snapshot"), std::string::npos) << ar.proc().err();
    EXPECT_NE(ar.proc().err().find("restored the previous snapshot"), std::string::npos) << ar.proc().err();
    EXPECT_TRUE(fs::exists(ar.state_file("admission.snapshot.corrupt")));
    for (int i = 0; i < 2; ++i) {
        const auto j = status_of(ar.port(), tickets[i]);
        ASSERT_TRUE(j);
        EXPECT_EQ((*j)["position"], i + 1);
    }

    // Both snapshots damaged: no start, a message that says why and what to do, exit 1.
    ASSERT_TRUE(snapshot_written_after(ar, fs::file_time_type::clock::now(), true));
    ar.kill();
    damage(ar.state_file("admission.snapshot"));
    damage(ar.state_file("admission.snapshot.prev"));
    subprocess refused({binary, "serve", "--config", ar.config_path()});
    EXPECT_EQ(refused.wait_exit(startup_timeout), 1);
    EXPECT_NE(refused.err().find("Refusing to start with empty rooms"), std::string::npos) << refused.err();
    EXPECT_EQ(refused.err().find("listening on"), std::string::npos) << "nothing half-started";
}

TEST(anteroom_process, a_full_or_unwritable_state_dir_raises_the_alarm_while_serving_continues) {
    fake_upstream up;
    running_anteroom ar(snapshotting_room(up));
    const auto failures = [&] { return metric(ar.admin_port(), "anteroom_snapshot_failures_total").value_or(-1); };
    ASSERT_TRUE(eventually([&] {
        return metric(ar.admin_port(), "anteroom_snapshot_last_success_timestamp_seconds").value_or(0) > 0;
    }));
    EXPECT_EQ(failures(), 0);
    const std::string tmp = ar.state_file("admission.snapshot.tmp");

    // Disk full: the next snapshot's temporary file is /dev/full (its write fails with ENOSPC,
    // then the writer removes it — the link — and the one after succeeds).
    ASSERT_TRUE(eventually([&] {
        std::error_code ec;
        fs::create_symlink("/dev/full", tmp, ec);
        return !ec;
    }));
    ASSERT_TRUE(ar.proc().wait_for_stderr_text("No space left on device", 5s)) << ar.proc().err();
    EXPECT_NE(ar.proc().err().find("snapshot failed, serving continues"), std::string::npos) << ar.proc().err();
    ASSERT_TRUE(ar.proc().wait_for_stderr_text("snapshot written again", 5s)) << ar.proc().err();
    EXPECT_GE(failures(), 1);

    // Unwritable until the operator acts (a directory where the file must go): every interval
    // fails, one log line says so, the counter climbs, and visitors are still served.
    const auto mark = ar.proc().err().size();
    ASSERT_TRUE(eventually([&] {
        std::error_code ec;
        return fs::create_directory(tmp, ec) && !ec;
    }));
    const double before = failures();
    ASSERT_TRUE(eventually([&] { return failures() >= before + 3; }, 5s));
    ASSERT_TRUE(ar.proc().wait_for_stderr_text("Is a directory", 5s, mark)) << ar.proc().err();
    const auto r = get_with(ar.port(), "/book", "Accept: application/json\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 200);
    EXPECT_TRUE(set_cookie_value(*r, "anteroom_ticket_book").has_value());
    fs::remove(tmp);
    ASSERT_TRUE(ar.proc().wait_for_stderr_text("snapshot written again", 5s, mark)) << ar.proc().err();
    // All the failing intervals in between gave one log line, not one each.
    const std::string during = ar.proc().err().substr(mark, ar.proc().err().find("snapshot written again", mark) - mark);
    std::size_t logged = 0;
    for (auto at = during.find("snapshot failed"); at != std::string::npos; at = during.find("snapshot failed", at + 1)) {
        ++logged;
    }
    EXPECT_EQ(logged, 1u) << during;
}

// ---- command line ----------------------------------------------------------------------------------

// Three problems on lines 4, 5 and 7: all are reported, each with file:line and the key.
const std::string bad_config = "state_dir = \"/tmp/anteroom-unused\"\n"  // 1
                               "[server]\n"                              // 2
                               "listen = [\"127.0.0.1:0\"]\n"            // 3
                               "max_connections = 0\n"                   // 4: out of range
                               "bogus_key = 1\n"                         // 5: unknown key
                               "[log]\n"                                 // 6
                               "level = \"loud\"\n";                     // 7: not a level

void expect_bad_config_report(const std::string& err, const std::string& path) {
    auto lines = lines_of(err);
    std::sort(lines.begin(), lines.end());  // the order of the report is not part of the contract
    ASSERT_EQ(lines.size(), 3u) << err;
    EXPECT_TRUE(lines[0].starts_with(path + ":4: server.max_connections: ")) << lines[0];
    EXPECT_TRUE(lines[1].starts_with(path + ":5: server.bogus_key: ")) << lines[1];
    EXPECT_TRUE(lines[2].starts_with(path + ":7: log.level: ")) << lines[2];
}

TEST(anteroom_process, check_config_reports_every_error_with_file_and_line) {
    temp_dir dir;
    const auto path = dir.file("bad.toml");
    write_file(path, bad_config);
    const auto r = run_process({binary, "check-config", "--config", path});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.out, "");
    expect_bad_config_report(r.err, path);
}

TEST(anteroom_process, check_config_reports_toml_syntax_errors_with_file_and_line) {
    temp_dir dir;
    const auto path = dir.file("broken.toml");
    write_file(path, "[server]\nthreads = 1\n[log\nlevel = \"info\"\n");
    const auto r = run_process({binary, "check-config", "--config", path});
    EXPECT_EQ(r.code, 1);
    EXPECT_TRUE(r.err.starts_with(path + ":3:")) << r.err;
}

TEST(anteroom_process, check_config_accepts_a_good_file) {
    temp_dir dir;
    const auto path = dir.file("good.toml");
    write_file(path, "state_dir = \"" + dir.file("state") + "\"\n" + config_text{"127.0.0.1:9"}.str());
    const auto r = run_process({binary, "check-config", "--config", path});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, path + ": ok\n");
    EXPECT_EQ(r.err, "");
}

TEST(anteroom_process, check_config_on_a_missing_file_fails_naming_it) {
    temp_dir dir;
    const auto path = dir.file("absent.toml");
    const auto r = run_process({binary, "check-config", "--config", path});
    EXPECT_EQ(r.code, 1);
    EXPECT_TRUE(r.err.starts_with(path + ":")) << r.err;
}

TEST(anteroom_process, serve_refuses_a_bad_file_with_the_check_config_messages) {
    temp_dir dir;
    const auto path = dir.file("bad.toml");
    write_file(path, bad_config);
    const auto check = run_process({binary, "check-config", "--config", path});
    const auto serve = run_process({binary, "serve", "--config", path});
    EXPECT_EQ(serve.code, 1);
    EXPECT_EQ(serve.err, check.err);
    expect_bad_config_report(serve.err, path);
}

// One bad thing per file, of every kind an operator makes: each stops `serve` before anything
// listens, with exit 1 and `file:line: key: message` naming the line of the bad thing.
TEST(anteroom_process, serve_refuses_every_kind_of_bad_file_naming_file_and_line) {
    temp_dir dir;
    write_file(dir.file("garbage.pem"), "this is not a certificate\n");
    struct bad_file {
        std::string what;
        std::string body;  // from line 4, after state_dir, [server] and its listen line
        int line;          // of the bad thing
        std::string key;   // "" for TOML syntax errors
    };
    const std::vector<bad_file> cases = {
        {"syntax", "[log\nlevel = \"info\"\n", 4, ""},
        {"duplicate key", "threads = 1\nthreads = 2\n", 5, ""},
        {"type", "max_connections = \"many\"\n", 4, "server.max_connections"},
        {"range", "threads = 9999\n", 4, "server.threads"},
        {"unknown key", "[log]\ncolour = true\n", 5, "log.colour"},
        {"table where a value belongs", "[log]\nlevel = { loud = true }\n", 5, "log.level"},
        {"missing key file", "[admission]\nkey_file = \"" + dir.file("no-such-keys.toml") + "\"\n", 5,
         "admission.key_file"},
        {"missing admin token", "[admin]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"" + dir.file("no-such.token") + "\"\n",
         6, "admin.token_file"},
        {"unreadable certificate",
         "[tls]\n[[tls.certificate]]\ncert = \"" + dir.file("no-such.pem") + "\"\nkey = \"" + dir.file("garbage.pem") + "\"\n",
         6, "tls.certificate[0].cert"},
        {"certificate that is not PEM",
         "[tls]\n[[tls.certificate]]\ncert = \"" + dir.file("garbage.pem") + "\"\nkey = \"" + dir.file("garbage.pem") + "\"\n",
         6, "tls.certificate[0].cert"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        const auto path = dir.file("bad.toml");
        const bool tls = c.what.find("certificate") != std::string::npos;
        write_file(path, "state_dir = \"" + dir.file("state") + "\"\n[server]\n" +
                             (tls ? "listen = [{ address = \"127.0.0.1:0\", tls = true }]\n"
                                  : "listen = [\"127.0.0.1:0\"]\n") +
                             c.body +
                             // After the bad line, so its number stays; no fixed admin port if it ever started.
                             (c.body.find("[admin]") == std::string::npos ? "\n[admin]\nenabled = false\n" : ""));
        const auto r = run_process({binary, "serve", "--config", path});
        EXPECT_EQ(r.code, 1) << r.err;
        const std::string where = path + ":" + std::to_string(c.line) + ":";
        EXPECT_TRUE(r.err.starts_with(where + (c.key.empty() ? "" : " " + c.key + ":"))) << r.err;
        EXPECT_EQ(r.err.find("listening on"), std::string::npos) << "nothing half-started:\n" << r.err;
    }
}

TEST(anteroom_process, serve_fails_cleanly_when_the_port_is_taken) {
    net::io_context ioc;
    tcp::acceptor taken(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    const auto port = taken.local_endpoint().port();
    temp_dir dir;
    const auto path = dir.file("anteroom.toml");
    config_text cfg{"127.0.0.1:9"};
    cfg.listen = {"127.0.0.1:" + std::to_string(port)};
    write_file(path, "state_dir = \"" + dir.file("state") + "\"\n" + cfg.str());
    const auto r = run_process({binary, "serve", "--config", path});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("cannot start: 127.0.0.1:" + std::to_string(port) + ": "), std::string::npos) << r.err;
}

TEST(anteroom_process, version_and_help) {
    const auto v = run_process({binary, "--version"});
    EXPECT_EQ(v.code, 0);
    EXPECT_EQ(v.out, std::string("anteroom ") + ANTEROOM_VERSION + "\n");
    const auto h = run_process({binary, "--help"});
    EXPECT_EQ(h.code, 0);
    for (const char* word : {"serve", "check-config", "keygen", "--config", "--version"}) {
        EXPECT_NE(h.out.find(word), std::string::npos) << word << " missing in:\n" << h.out;
    }
    const auto bad = run_process({binary, "no-such-command"});
    EXPECT_NE(bad.code, 0);
    EXPECT_NE(bad.err, "");
}

TEST(anteroom_process, keygen_writes_a_0600_file_and_refuses_to_overwrite_without_force) {
    temp_dir dir;
    const auto path = dir.file("keys.toml");
    const auto first = run_process({binary, "keygen", "-o", path});
    ASSERT_EQ(first.code, 0) << first.err;
    EXPECT_NE(first.out.find(path), std::string::npos);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    const auto original = read_file(path);
    EXPECT_NE(original.find("[[key]]"), std::string::npos);
    EXPECT_NE(original.find("secret = \""), std::string::npos);

    const auto again = run_process({binary, "keygen", "-o", path});
    EXPECT_EQ(again.code, 1);
    EXPECT_NE(again.err.find(path), std::string::npos) << again.err;
    EXPECT_EQ(read_file(path), original);

    const auto forced = run_process({binary, "keygen", "--force", "-o", path});
    EXPECT_EQ(forced.code, 0) << forced.err;
    const auto replaced = read_file(path);
    EXPECT_NE(replaced, original);
    EXPECT_NE(replaced.find("[[key]]"), std::string::npos);
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST(anteroom_process, invite_prints_a_code_that_admits_at_once) {
    temp_dir dir;
    const auto keys = dir.file("keys.toml");
    ASSERT_EQ(run_process({binary, "keygen", "-o", keys}).code, 0);
    const auto bad = run_process({binary, "invite", "--keys", keys, "--room", "book", "--valid", "soon"});
    EXPECT_EQ(bad.code, 1);
    EXPECT_FALSE(bad.err.empty());
    const auto inv = run_process({binary, "invite", "--keys", keys, "--room", "book", "--valid", "1h"});
    ASSERT_EQ(inv.code, 0) << inv.err;
    std::string code = inv.out;
    while (!code.empty() && (code.back() == '\n' || code.back() == '\r')) {
        code.pop_back();
    }
    ASSERT_FALSE(code.empty());
    EXPECT_EQ(code.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos) << code;

    fake_upstream up;
    config_text cfg{up.address()};
    cfg.extra = "\n[admission]\nkey_file = \"" + keys + "\"\n\n[[room]]\nid = \"book\"\npaths = [\"/book\"]\nmode = \"paused\"\n";
    running_anteroom ar(cfg);
    const auto waiting = get(ar.port(), "/book/echo");
    ASSERT_TRUE(waiting);
    EXPECT_EQ(up.request_count(), 0u);
    const auto in = get(ar.port(), "/book/echo?anteroom_invite=" + code);
    ASSERT_TRUE(in);
    EXPECT_EQ(in->result_int(), 200);
    EXPECT_EQ(up.request_count(), 1u);
    EXPECT_TRUE(set_cookie_value(*in, "anteroom_pass_book").has_value());
}

TEST(anteroom_process, a_broken_waiting_template_fails_check_config_and_start_naming_its_line) {
    temp_dir dir;
    write_file(dir.file("page.html"), "<p>\n{{postion}}</p>\n");
    const auto conf = dir.file("anteroom.toml");
    write_file(conf, "state_dir = \"" + dir.file("state") + "\"\n[server]\nlisten = [\"127.0.0.1:0\"]\n"
                     "[admin]\nlisten = \"127.0.0.1:0\"\n[[room]]\nid = \"book\"\npaths = [\"/book\"]\n"
                     "waiting_template = \"" + dir.file("page.html") + "\"\n");
    const auto check = run_process({binary, "check-config", "--config", conf});
    EXPECT_EQ(check.code, 1);
    EXPECT_NE(check.err.find(dir.file("page.html") + ":2:"), std::string::npos) << check.err;
    const auto serve = run_process({binary, "serve", "--config", conf});
    EXPECT_EQ(serve.code, 1);
    EXPECT_NE(serve.err.find(dir.file("page.html") + ":2:"), std::string::npos) << serve.err;
}

// ---- serving ------------------------------------------------------------------------------------------

TEST(anteroom_process, serves_on_the_logged_port_and_writes_access_lines_without_queries) {
    fake_upstream up;
    config_text cfg{up.address()};
    cfg.access_log = "-";
    running_anteroom ar(cfg);
    const auto res = get(ar.port(), "/echo/hello?token=secret");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 200);
    ASSERT_EQ(up.request_count(), 1u);
    EXPECT_EQ(up.requests()[0].target, "/echo/hello?token=secret");
    const auto health = get(ar.admin_port(), "/healthz");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->result_int(), 200);
    // The access log is written by its own thread: wait for the line, not for time.
    ASSERT_TRUE(ar.proc().wait_for_stdout(
        [](std::string_view o) { return o.find("\"path\":\"/echo/hello\"") != std::string_view::npos; }, 3s))
        << ar.proc().out();
    EXPECT_EQ(ar.proc().out().find("secret"), std::string::npos) << ar.proc().out();
    EXPECT_NE(ar.proc().out().find("\"client\":\"127.0.0.0\""), std::string::npos) << ar.proc().out();
}

// ---- SIGHUP ----------------------------------------------------------------------------------------

TEST(anteroom_process, sighup_applies_a_good_config_and_keeps_unchanged_listeners) {
    fake_upstream a;
    fake_upstream b;
    config_text cfg{a.address()};
    cfg.threads = 2;
    running_anteroom ar(cfg);
    EXPECT_EQ(metric(ar.admin_port(), reloads_ok), 0.0);

    // A keep-alive connection opened before the reload.
    client kept(ar.port());
    ASSERT_TRUE(kept.connected());
    ASSERT_TRUE(kept.send(request("/echo/before")));
    auto res = kept.read_response();
    ASSERT_TRUE(res) << kept.ec().message();
    EXPECT_EQ(res->result_int(), 200);
    EXPECT_EQ(a.request_count(), 1u);

    // New upstream and a second listener.
    cfg.upstream = b.address();
    cfg.listen = {"127.0.0.1:0", "127.0.0.2:0"};
    const auto mark = ar.reload(cfg.str());
    ASSERT_TRUE(ar.proc().wait_for_stderr_text("config: reloaded " + ar.config_path(), 5s, mark)) << ar.proc().err();
    const auto added = port_after(ar.proc().err(), " server: listening on http://127.0.0.2:", mark);
    ASSERT_TRUE(added) << ar.proc().err();
    // The unchanged listener was not reopened: no new "listening on 127.0.0.1" line.
    EXPECT_FALSE(port_after(ar.proc().err(), proxy_line, mark)) << ar.proc().err();

    // The old connection still works and now reaches the new upstream.
    ASSERT_TRUE(kept.send(request("/echo/after")));
    res = kept.read_response();
    ASSERT_TRUE(res) << kept.ec().message();
    EXPECT_EQ(res->result_int(), 200);
    EXPECT_EQ(a.request_count(), 1u);
    ASSERT_EQ(b.request_count(), 1u);
    EXPECT_EQ(b.requests()[0].target, "/echo/after");

    // Same port for new connections, and the added listener serves too.
    res = get(ar.port(), "/echo/same-port");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 200);
    res = get(*added, "/echo/new-listener", "127.0.0.2");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 200);
    EXPECT_EQ(b.request_count(), 3u);

    EXPECT_EQ(metric(ar.admin_port(), reloads_ok), 1.0);
    EXPECT_EQ(metric(ar.admin_port(), reloads_failed), 0.0);
}

TEST(anteroom_process, sighup_removing_a_listener_closes_it) {
    fake_upstream up;
    config_text cfg{up.address()};
    cfg.listen = {"127.0.0.1:0", "127.0.0.2:0"};
    running_anteroom ar(cfg);
    const auto second = port_after(ar.proc().err(), " server: listening on http://127.0.0.2:");
    ASSERT_TRUE(second);
    cfg.listen = {"127.0.0.1:0"};
    const auto mark = ar.reload(cfg.str());
    // Logged once the acceptors are really closed.
    ASSERT_TRUE(ar.proc().wait_for_stderr_text("stopped listening on http://127.0.0.2:" + std::to_string(*second),
                                               5s, mark))
        << ar.proc().err();
    client probe(*second, "127.0.0.2");
    EXPECT_FALSE(probe.connected());
    EXPECT_EQ(probe.ec(), net::error::connection_refused) << probe.ec().message();
    auto res = get(ar.port(), "/echo/still");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 200);
}

TEST(anteroom_process, sighup_with_a_bad_file_keeps_the_running_config) {
    fake_upstream a;
    fake_upstream b;
    config_text cfg{a.address()};
    running_anteroom ar(cfg);

    client kept(ar.port());
    ASSERT_TRUE(kept.connected());

    // Valid TOML pointing at upstream b, except for one out-of-range value.
    config_text next{b.address()};
    std::string text = next.str();
    text.replace(text.find("threads = 1"), 11, "threads = -3");  // line 4 of the file (after state_dir)
    const auto mark = ar.reload(text);
    ASSERT_TRUE(ar.proc().wait_for_stderr_text("config: reload rejected: " + ar.config_path() + ":4: server.threads: ",
                                               5s, mark))
        << ar.proc().err();
    EXPECT_EQ(ar.proc().err().find("config: reloaded", mark), std::string::npos);

    ASSERT_TRUE(kept.send(request("/echo/after-bad-reload")));
    auto res = kept.read_response();
    ASSERT_TRUE(res) << kept.ec().message();
    EXPECT_EQ(res->result_int(), 200);
    res = get(ar.port(), "/echo/new-connection");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 200);
    EXPECT_EQ(a.request_count(), 2u);
    EXPECT_EQ(b.request_count(), 0u);

    EXPECT_EQ(metric(ar.admin_port(), reloads_failed), 1.0);
    EXPECT_EQ(metric(ar.admin_port(), reloads_ok), 0.0);

    // A fixed file is then accepted.
    const auto mark2 = ar.reload(next.str());
    ASSERT_TRUE(ar.proc().wait_for_stderr_text("config: reloaded", 5s, mark2)) << ar.proc().err();
    res = get(ar.port(), "/echo/fixed");
    ASSERT_TRUE(res);
    EXPECT_EQ(b.request_count(), 1u);
    EXPECT_EQ(metric(ar.admin_port(), reloads_ok), 1.0);
}

// ---- SIGTERM --------------------------------------------------------------------------------------

TEST(anteroom_process, sigterm_lets_the_request_in_flight_finish_then_exits_0) {
    fake_upstream up;
    config_text cfg{up.address()};
    cfg.drain_timeout = "10s";
    running_anteroom ar(cfg);

    client slow(ar.port());
    ASSERT_TRUE(slow.connected());
    ASSERT_TRUE(slow.send(request("/delay/600")));
    ASSERT_TRUE(up.wait_for_requests(1, 3s));  // the request is in flight at the upstream

    const auto t0 = std::chrono::steady_clock::now();
    const auto mark = ar.proc().err().size();
    ar.proc().send_signal(SIGTERM);
    ASSERT_TRUE(ar.proc().wait_for_stderr_text("draining: stopped accepting", 3s, mark)) << ar.proc().err();
    EXPECT_TRUE(turned_away(ar.port()));

    const auto res = slow.read_response();
    ASSERT_TRUE(res) << slow.ec().message();
    EXPECT_EQ(res->result_int(), 200);
    EXPECT_TRUE(slow.closed_without_response());  // not kept open for another request

    const auto code = ar.proc().wait_exit(5s);
    ASSERT_TRUE(code) << ar.proc().err();
    EXPECT_EQ(*code, 0) << ar.proc().err();
    // Well inside the 10 s drain time: it left as soon as the last connection was done.
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    EXPECT_EQ(up.request_count(), 1u);  // the turned-away request never reached the upstream
}

TEST(anteroom_process, sigterm_with_a_request_longer_than_the_drain_time_exits_after_it) {
    fake_upstream up;
    config_text cfg{up.address()};
    cfg.drain_timeout = "300ms";
    running_anteroom ar(cfg);

    client slow(ar.port());
    ASSERT_TRUE(slow.connected());
    ASSERT_TRUE(slow.send(request("/delay/30000")));
    ASSERT_TRUE(up.wait_for_requests(1, 3s));

    const auto t0 = std::chrono::steady_clock::now();
    ar.proc().send_signal(SIGTERM);
    const auto code = ar.proc().wait_exit(5s);
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(code) << ar.proc().err();
    EXPECT_EQ(*code, 0) << ar.proc().err();
    EXPECT_GE(took, 300ms);
    EXPECT_LT(took, 3s);
    EXPECT_NE(ar.proc().err().find("drain time over, closing 1 connections"), std::string::npos) << ar.proc().err();
    // The cut connection ends without a response.
    EXPECT_TRUE(slow.closed_without_response(1s));
}

TEST(anteroom_process, a_second_sigterm_stops_at_once) {
    fake_upstream up;
    config_text cfg{up.address()};
    cfg.drain_timeout = "60s";
    running_anteroom ar(cfg);

    client slow(ar.port());
    ASSERT_TRUE(slow.connected());
    ASSERT_TRUE(slow.send(request("/delay/30000")));
    ASSERT_TRUE(up.wait_for_requests(1, 3s));
    const auto mark = ar.proc().err().size();
    ar.proc().send_signal(SIGTERM);
    ASSERT_TRUE(ar.proc().wait_for_stderr_text("draining: stopped accepting, 1 connections open", 3s, mark))
        << ar.proc().err();
    ar.proc().send_signal(SIGTERM);
    const auto code = ar.proc().wait_exit(3s);
    ASSERT_TRUE(code) << ar.proc().err();
    EXPECT_EQ(*code, 0) << ar.proc().err();
    EXPECT_NE(ar.proc().err().find("second stop signal", mark), std::string::npos);
}

// Issue 9: three `anteroom serve` processes share a room through one redis-server; the node
// advancing the queue is killed with SIGKILL (it cannot give its lease back) and another takes
// over within lease_ttl + lease_ttl/3; the visitors who got their tickets from it keep their
// places on the other nodes.
TEST(anteroom_process, shared_room_lease_holder_killed_another_node_advances_within_the_lease_time) {
    if (!fs::exists(redis_server)) {
        GTEST_SKIP() << "redis-server is not installed (scripts/install-deps.sh --test installs it)";
    }
    temp_dir shared;
    redis_server_process redis(shared.file(""));
    ASSERT_TRUE(redis.ready()) << redis.proc().out();
    std::string err;
    ASSERT_TRUE(write_new_keyfile(shared.file("keys.toml"), false, err)) << err;
    fake_upstream up;
    std::vector<std::unique_ptr<running_anteroom>> nodes;
    for (int i = 0; i < 3; ++i) {
        config_text cfg(up.address());
        cfg.extra = "\n[admission]\nkey_file = \"" + shared.file("keys.toml") + "\"\nbind_ip = false\n"
                    "\n[state]\nbackend = \"redis\"\naddress = \"unix:" + redis_server_process::socket_path(shared.file("")) +
                    "\"\nnode_name = \"node" + std::to_string(i) + "\"\nlease_ttl = \"1s\"\n"
                    "\n[[room]]\nid = \"book\"\npaths = [\"/book\"]\nnew_users_per_minute = 600\nmax_active_users = 100000\n";
        nodes.push_back(std::make_unique<running_anteroom>(cfg));
    }
    const auto m = [&](std::size_t i, const std::string& series) { return metric(nodes[i]->admin_port(), series).value_or(-1); };
    for (std::size_t i = 0; i < 3; ++i) {
        ASSERT_TRUE(eventually([&] { return m(i, "anteroom_state_redis_connected") == 1; }, 10s)) << nodes[i]->proc().err();
    }
    std::size_t leader = 3;
    ASSERT_TRUE(eventually([&] {
        for (std::size_t i = 0; i < 3; ++i) {
            if (m(i, "anteroom_state_rooms_led") == 1) {
                leader = i;
                return true;
            }
        }
        return false;
    }, 5s));
    // 90 visitors (nine seconds of line at 10 a second), round robin; keep the leader's.
    std::vector<std::string> on_leader;
    for (int v = 0; v < 90; ++v) {
        const std::size_t node = static_cast<std::size_t>(v) % 3;
        const auto r = get_with(nodes[node]->port(), "/book/slot", "Accept: application/json\r\n");
        ASSERT_TRUE(r && r->result_int() == 200);
        const auto t = set_cookie_value(*r, "anteroom_ticket_book");
        ASSERT_TRUE(t && !t->empty());
        if (node == leader) {
            on_leader.push_back(*t);
        }
    }
    const std::size_t survivor = (leader + 1) % 3;
    const std::string admitted = "anteroom_room_admitted_total{room=\"book\"}";
    ASSERT_TRUE(eventually([&] { return m(survivor, admitted) >= 5; }, 5s));

    const auto killed_at = std::chrono::steady_clock::now();
    nodes[leader]->kill();
    // Admissions stop (nobody advances) until a survivor holds the lease.
    ASSERT_TRUE(eventually([&] {
        return m(survivor, "anteroom_state_rooms_led") + m((leader + 2) % 3, "anteroom_state_rooms_led") == 1;
    }, 5s));
    const auto taken_over = std::chrono::steady_clock::now() - killed_at;
    const double at_takeover = m(survivor, admitted);
    ASSERT_TRUE(eventually([&] { return m(survivor, admitted) >= at_takeover + 5; }, 3s));
    std::printf("shared room: lease taken over %lld ms after the holder was killed (lease_ttl 1 s)\n",
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(taken_over).count()));
    EXPECT_LT(taken_over, 1333ms + 500ms);  // ttl + ttl/3, plus a sync and a scrape
    // The dead node's visitors keep their places on the others: no new ticket, still waiting or in.
    for (const auto& t : on_leader) {
        const auto r = get_with(nodes[survivor]->port(), "/book/slot",
                                "Accept: application/json\r\nCookie: anteroom_ticket_book=" + t + "\r\n");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->result_int(), 200);
        const auto fresh = set_cookie_value(*r, "anteroom_ticket_book");
        EXPECT_TRUE(!fresh || fresh->empty()) << "a new ticket: " << r->body();  // "" = deleted on admission
    }
}

}  // namespace
}  // namespace anteroom::test
