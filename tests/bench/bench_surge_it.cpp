// anteroom-bench surge, the real binary, against a real anteroom (in process, port 0) with a
// waiting room in front of a small portal that speaks the booking API contract. The report must
// account for every visitor exactly once and agree with what the proxy and the portal counted.
// Also: Ctrl-C during surge and raw prints the report of what ran so far.

#include <gtest/gtest.h>

#include <csignal>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/harness.hpp"
#include "tests/support/subprocess.hpp"

namespace anteroom::test {

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// The booking API as docs/api.md's contract has it, just enough of it: registrations, sessions
// (cookie anteroom_booking), centres, appointments with a shared capacity, bookings (409 when
// full or already booked). Everything else is a 200 HTML page (the portal's landing page).
class fake_portal {
public:
    explicit fake_portal(int capacity_per_day) : capacity_(capacity_per_day) {
        acceptor_.open(tcp::v4());
        acceptor_.set_option(net::socket_base::reuse_address(true));
        acceptor_.bind(tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        net::co_spawn(ioc_, accept_loop(), net::detached);
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~fake_portal() {
        ioc_.stop();
        thread_.join();
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    std::size_t bookings() const { return bookings_.load(); }
    std::size_t registrations() const { return registrations_.load(); }

private:
    net::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, sock] = co_await acceptor_.async_accept(use_tuple);
            if (ec) {
                co_return;
            }
            net::co_spawn(ioc_, serve(std::move(sock)), net::detached);
        }
    }

    net::awaitable<void> serve(tcp::socket sock) {
        beast::flat_buffer buf;
        for (;;) {
            http::request<http::string_body> req;
            auto [ec, n] = co_await http::async_read(sock, buf, req, use_tuple);
            if (ec) {
                co_return;
            }
            http::response<http::string_body> res = answer(req);
            res.version(11);
            res.keep_alive(req.keep_alive());
            res.prepare_payload();
            auto [wec, wn] = co_await http::async_write(sock, res, use_tuple);
            if (wec || !req.keep_alive()) {
                co_return;
            }
        }
    }

    static http::response<http::string_body> json_answer(unsigned status, const nlohmann::json& j) {
        http::response<http::string_body> r{static_cast<http::status>(status), 11};
        r.set(http::field::content_type, "application/json");
        r.body() = j.dump();
        return r;
    }

    http::response<http::string_body> answer(const http::request<http::string_body>& req) {
        const std::string target(req.target());
        const auto body = nlohmann::json::parse(req.body(), nullptr, false);
        std::lock_guard lock(mu_);
        if (req.method() == http::verb::post && target == "/api/registrations") {
            const auto code = "BC" + std::to_string(++registrations_);
            pins_[code] = "4711";
            return json_answer(201, {{"booking_code", code}, {"pin", "4711"}});
        }
        if (req.method() == http::verb::post && target == "/api/sessions") {
            const auto code = body.is_object() && body.contains("booking_code") ? body["booking_code"].get<std::string>() : "";
            if (!pins_.contains(code) || body["pin"] != pins_[code]) {
                return json_answer(401, {{"code", "bad_login"}, {"message", "wrong code or PIN"}});
            }
            auto r = json_answer(201, {{"ok", true}});
            r.set(http::field::set_cookie, "anteroom_booking=" + code + "; Path=/; HttpOnly");
            return r;
        }
        if (target == "/api/centres") {
            return json_answer(200, {{"centres", {{{"id", 1}, {"name", "Messe"}}, {{"id", 2}, {"name", "Rathaus"}}}}});
        }
        if (target.starts_with("/api/appointments")) {
            nlohmann::json days = nlohmann::json::array();
            for (int d = 1; d <= 3; ++d) {
                const std::string date = "2026-12-0" + std::to_string(d);
                days.push_back({{"date", date}, {"free", capacity_ - used_[date]}});
            }
            return json_answer(200, {{"centre", 1}, {"days", days}});
        }
        if (req.method() == http::verb::post && target == "/api/bookings") {
            const std::string cookie(req[http::field::cookie]);
            const auto at = cookie.find("anteroom_booking=");
            if (at == std::string::npos) {
                return json_answer(401, {{"code", "no_session"}, {"message", "log in first"}});
            }
            const auto code = cookie.substr(at + 17, cookie.find(';', at) - at - 17);
            const auto date = body.is_object() && body.contains("date") ? body["date"].get<std::string>() : "";
            if (booked_.contains(code)) {
                return json_answer(409, {{"code", "already_booked"}, {"message", "one appointment each"}});
            }
            if (used_[date] >= capacity_) {
                return json_answer(409, {{"code", "no_capacity"}, {"message", "full"}});
            }
            ++used_[date];
            booked_[code] = date;
            ++bookings_;
            return json_answer(201, {{"booking", {{"id", bookings_.load()}, {"centre", 1}, {"date", date}, {"time", "09:00"}}}});
        }
        if (target.starts_with("/api/")) {
            return json_answer(404, {{"code", "not_found"}, {"message", "no such resource"}});
        }
        http::response<http::string_body> r{http::status::ok, 11};
        r.set(http::field::content_type, "text/html");
        r.body() = "<!doctype html><title>Portal</title><p>Book an appointment</p>";
        return r;
    }

    net::io_context ioc_{1};
    tcp::acceptor acceptor_{ioc_};
    std::uint16_t port_ = 0;
    std::thread thread_;
    const int capacity_;
    std::mutex mu_;
    std::map<std::string, std::string> pins_;
    std::map<std::string, std::string> booked_;
    std::map<std::string, int> used_;
    std::atomic<std::size_t> registrations_{0};
    std::atomic<std::size_t> bookings_{0};
};

class BenchSurge : public ::testing::Test {
protected:
    void SetUp() override { dir_ = make_temp_dir("bench-surge"); }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string write_scenario(const std::string& text) {
        const auto path = dir_ + "/scenario.toml";
        std::ofstream(path) << text;
        return path;
    }
    static nlohmann::json read_json(const std::string& path) {
        std::ifstream in(path);
        return in ? nlohmann::json::parse(in, nullptr, false) : nlohmann::json();
    }

    // Ctrl-C to a running bench: it must exit 0 at once with the report of what ran so far.
    static nlohmann::json interrupt(subprocess& p, const std::string& json_path) {
        p.send_signal(SIGINT);
        const auto code = p.wait_exit(std::chrono::seconds(20));
        EXPECT_EQ(code.value_or(-1), 0) << p.err();
        EXPECT_NE(p.out().find("INTERRUPTED"), std::string::npos) << p.out();
        auto j = read_json(json_path);
        EXPECT_TRUE(j.is_object() && j["interrupted"] == true) << j.dump();
        return j;
    }

    // The figures must account for every visitor and every request exactly once.
    static void expect_consistent(const nlohmann::json& j) {
        const auto total = j["visitors"]["total"].get<std::uint64_t>();
        std::uint64_t outcomes = 0;
        for (const auto& [k, v] : j["visitors"]["outcomes"].items()) {
            outcomes += v.get<std::uint64_t>();
        }
        EXPECT_EQ(outcomes, total) << j["visitors"].dump();
        std::uint64_t cohort_visitors = 0;
        std::uint64_t cohort_arrived = 0;
        std::uint64_t cohort_admitted = 0;
        for (const auto& c : j["cohorts"]) {
            cohort_visitors += c["visitors"].get<std::uint64_t>();
            cohort_arrived += c["arrived"].get<std::uint64_t>();
            cohort_admitted += c["admitted"].get<std::uint64_t>();
            std::uint64_t in_cohort = 0;
            for (const auto& [k, v] : c["outcomes"].items()) {
                in_cohort += v.get<std::uint64_t>();
            }
            EXPECT_EQ(in_cohort, c["visitors"].get<std::uint64_t>()) << c.dump();
        }
        EXPECT_EQ(cohort_visitors, total);
        EXPECT_EQ(cohort_arrived, j["visitors"]["arrived"].get<std::uint64_t>());
        EXPECT_EQ(cohort_admitted, j["admission"]["admitted"].get<std::uint64_t>());
        EXPECT_EQ(total - j["visitors"]["outcomes"]["not_arrived"].get<std::uint64_t>(),
                  j["visitors"]["arrived"].get<std::uint64_t>());
        const auto& r = j["requests"];
        EXPECT_EQ(r["sent"].get<std::uint64_t>(), r["responses"].get<std::uint64_t>() +
                                                      r["errors"]["total"].get<std::uint64_t>() +
                                                      r["cut_off"].get<std::uint64_t>())
            << r.dump();
        std::uint64_t arrived_in_timeline = 0;
        std::uint64_t admitted_in_timeline = 0;
        for (const auto& n : j["timeline"]["arrived"]) {
            arrived_in_timeline += n.get<std::uint64_t>();
        }
        for (const auto& n : j["timeline"]["admitted"]) {
            admitted_in_timeline += n.get<std::uint64_t>();
        }
        EXPECT_EQ(arrived_in_timeline, j["visitors"]["arrived"].get<std::uint64_t>());
        EXPECT_EQ(admitted_in_timeline, j["admission"]["admitted"].get<std::uint64_t>());
        std::uint64_t per_minute = 0;
        for (const auto& m : j["admission"]["per_minute"]) {
            per_minute += m["admitted"].get<std::uint64_t>();
        }
        EXPECT_EQ(per_minute, j["admission"]["admitted"].get<std::uint64_t>());
    }

    std::string dir_;
};

std::string room_config(const std::string& upstream, int per_minute) {
    return upstream_block("[\"" + upstream + "\"]") + "\n[[room]]\nid = \"portal\"\npaths = [\"/\"]\nnew_users_per_minute = " +
           std::to_string(per_minute) + "\nmax_active_users = 100000\n";
}

}  // namespace

TEST_F(BenchSurge, ShortSurgeAccountsForEveryVisitorOnceAndAgreesWithTheServer) {
    fake_portal portal(400);
    proxy_under_test px(room_config(portal.address(), 60000));
    const auto scenario = write_scenario(R"(name = "it"
seed = 5
[target]
url = "http://127.0.0.1:)" + std::to_string(px.port()) + R"(/"
room = "portal"
new_users_per_minute = 60000
[run]
stop_after = "40s"
connections = 512
timeout = "15s"
[arrivals]
total = 1500
shape = "spike"
start = "200ms"
duration = "2s"
spread = "500ms"
[booking]
first_date = "2026-12-01"
days = 3
[[cohort]]
name = "people"
kind = "human"
share = 0.5
source = "127.1.0.1-127.1.0.100"
think_time = "10ms-40ms"
[[cohort]]
name = "flood"
kind = "naive_flood"
share = 0.2
source = "127.9.0.1-127.9.0.4"
visits = 2
interval = "100ms"
[[cohort]]
name = "botnet"
kind = "botnet"
share = 0.2
source = "127.20.0.1-127.20.0.200"
think_time = "10ms-20ms"
[[cohort]]
name = "droppers"
kind = "cookie_dropper"
share = 0.1
source = "127.50.0.1-127.50.0.20"
visits = 2
interval = "100ms"
)");
    const auto json_path = dir_ + "/surge.json";
    const auto html_path = dir_ + "/surge.html";
    const auto csv_path = dir_ + "/visitors.csv";
    const auto r = run_process({ANTEROOM_BENCH_BINARY, "surge", "--scenario", scenario, "--json", json_path, "--report",
                                html_path, "--visitors", csv_path, "--quiet"},
                               std::chrono::seconds(60));
    ASSERT_EQ(r.code, 0) << r.err << r.out;
    const auto j = read_json(json_path);
    ASSERT_TRUE(j.is_object()) << r.out;
    expect_consistent(j);
    EXPECT_FALSE(j["interrupted"].get<bool>());
    EXPECT_EQ(j["visitors"]["total"], 1500);
    EXPECT_EQ(j["visitors"]["arrived"], 1500);
    // Loopback and a healthy proxy: no server errors; a transport error would be a bench bug
    // or a very slow machine (sanitizers, parallel tests), so allow a handful.
    EXPECT_EQ(j["requests"]["status"]["5xx"], 0);
    EXPECT_LE(j["requests"]["errors"]["total"].get<std::uint64_t>(), 10u) << j["requests"].dump();

    // The room lets 1,000 a second in: nearly everybody is admitted within the run, and the
    // bench's admissions and appointments are the server's and the portal's.
    const auto admitted = j["admission"]["admitted"].get<std::uint64_t>();
    EXPECT_GT(admitted, 600u);
    const auto metrics = scrape_metrics(px.admin_port());
    const auto passes = metric_value(metrics, "anteroom_room_passes_issued_total{room=\"portal\"}");
    ASSERT_TRUE(passes.has_value()) << metrics;
    // Flood bots and cookie droppers may take a pass on each visit but count once.
    EXPECT_GE(static_cast<std::uint64_t>(*passes), admitted);
    // An appointment the bench saw booked is one the portal made; one whose answer was cut off at
    // the end is the only kind the bench may miss.
    EXPECT_LE(j["booking"]["booked"].get<std::uint64_t>(), portal.bookings());
    EXPECT_GE(j["booking"]["booked"].get<std::uint64_t>() + j["requests"]["cut_off"].get<std::uint64_t>(),
              portal.bookings());
    EXPECT_GT(portal.bookings(), 100u) << j["booking"].dump() << j["requests"].dump() << j["admission"].dump();
    EXPECT_LE(portal.bookings(), 3u * 400u);  // the portal's capacity holds

    // People and the botnet walk the booking flow; floods and droppers never book.
    for (const auto& c : j["cohorts"]) {
        const std::string kind = c["kind"];
        if (kind == "naive_flood" || kind == "cookie_dropper") {
            EXPECT_EQ(c["booked"], 0) << kind;
            EXPECT_EQ(c["outcomes"]["waiting"], 0) << kind;  // their script ends by itself
        } else {
            EXPECT_GT(c["booked"].get<std::uint64_t>(), 0u) << kind;
        }
    }
    // No bot detection yet: nothing challenged, so no precision; every bot missed.
    EXPECT_TRUE(j["machine_actions"]["precision"].is_null());
    EXPECT_EQ(j["machine_actions"]["recall"], 0.0);
    EXPECT_TRUE(j["bots"]["share_of_appointments"].is_number() && j["bots"]["share_of_appointments"] > 0.0)
        << j["bots"].dump();

    std::ifstream html(html_path);
    const std::string page((std::istreambuf_iterator<char>(html)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(page.starts_with("<!doctype html>"));
    std::size_t charts = 0;
    for (auto at = page.find("<svg"); at != std::string::npos; at = page.find("<svg", at + 1)) {
        ++charts;
    }
    EXPECT_EQ(charts, 4u);
    EXPECT_EQ(page.find("<script"), std::string::npos);
    EXPECT_NE(r.out.find("order fairness"), std::string::npos) << r.out;

    // One CSV line per visitor, and its outcomes are the report's.
    std::ifstream csv(csv_path);
    std::string line;
    std::getline(csv, line);
    EXPECT_TRUE(line.starts_with("cohort,kind,arrival_ms")) << line;
    std::map<std::string, std::uint64_t> outcomes;
    std::size_t rows = 0;
    while (std::getline(csv, line)) {
        ++rows;
        std::size_t at = 0;
        for (int field = 0; field < 8; ++field) {
            at = line.find(',', at) + 1;
        }
        ++outcomes[line.substr(at, line.find(',', at) - at)];
    }
    EXPECT_EQ(rows, 1500u);
    for (const auto& [name, n] : j["visitors"]["outcomes"].items()) {
        EXPECT_EQ(outcomes[name], n.get<std::uint64_t>()) << name;
    }
}

TEST_F(BenchSurge, CtrlCPrintsTheReportOfWhatRanSoFar) {
    fake_portal portal(10);
    proxy_under_test px(room_config(portal.address(), 60));
    const auto scenario = write_scenario(R"(name = "long"
[target]
url = "http://127.0.0.1:)" + std::to_string(px.port()) + R"(/"
[run]
stop_after = "10m"
[arrivals]
total = 100000
duration = "10m"
[[cohort]]
name = "people"
kind = "human"
share = 1.0
source = "127.1.0.1-127.1.0.254"
)");
    const auto json_path = dir_ + "/surge.json";
    // Counters are process-wide (other tests' rooms count too): wait for 20 more tickets.
    const auto tickets = [&] {
        return metric_value(scrape_metrics(px.admin_port()), "anteroom_room_tickets_issued_total{room=\"portal\"}")
            .value_or(0);
    };
    const double before = tickets();
    subprocess p({ANTEROOM_BENCH_BINARY, "surge", "--scenario", scenario, "--json", json_path, "--quiet"});
    // Once the proxy has handed out some tickets, the run is under way.
    ASSERT_TRUE(eventually([&] { return tickets() >= before + 20; }, std::chrono::seconds(20)));
    const auto j = interrupt(p, json_path);
    ASSERT_TRUE(j.is_object());
    expect_consistent(j);
    EXPECT_GT(j["visitors"]["outcomes"]["not_arrived"].get<std::uint64_t>(), 0u);
    EXPECT_GE(j["visitors"]["arrived"].get<std::uint64_t>(), 20u);
}

TEST_F(BenchSurge, CtrlCDuringRawPrintsTheReportOfWhatRanSoFar) {
    fake_upstream up;
    const auto json_path = dir_ + "/raw.json";
    subprocess p({ANTEROOM_BENCH_BINARY, "raw", "-c", "2", "-d", "10m", "--json", json_path, "--path", "/echo",
                  "http://" + up.address() + "/"});
    ASSERT_TRUE(up.wait_for_requests(50, std::chrono::seconds(20)));
    const auto j = interrupt(p, json_path);
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(j["attempts"].get<std::uint64_t>(),
              j["responses"].get<std::uint64_t>() + j["errors"]["total"].get<std::uint64_t>());
    EXPECT_GE(j["responses"].get<std::uint64_t>(), 50u);
    EXPECT_LT(j["elapsed_seconds"].get<double>(), 120.0);
}

TEST_F(BenchSurge, BadScenarioExitsTwoWithFileAndLine) {
    const auto scenario = write_scenario("[target]\nurl = \"http://127.0.0.1:1/\"\n[[cohort]]\nname = \"x\"\nkind = \"robot\"\ncount = 1\n");
    const auto r = run_process({ANTEROOM_BENCH_BINARY, "surge", "--scenario", scenario});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find(scenario + ":5: kind: expected one of"), std::string::npos) << r.err;
    EXPECT_EQ(run_process({ANTEROOM_BENCH_BINARY, "surge"}).code, 2);  // --scenario is required
}

}  // namespace anteroom::test
