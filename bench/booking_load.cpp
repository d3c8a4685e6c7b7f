// anteroom-booking-load: bookings per second through the booking backend's HTTP API.
//
// Starts the booking service in this process (its own I/O thread and SQLite workers, a fresh
// database in a temp dir), prepares registrations and login sessions directly in the store (the
// PIN hash is deliberately slow; logins are not what is measured), then runs C clients, each
// with one keep-alive connection, that POST /api/bookings for a different person each time
// until the duration is over (the clients are coroutines on one thread). Reports bookings/s,
// latency percentiles, errors, and checks the database for double bookings (every (centre,
// day, slot) once, no day beyond its stock). --write-batch sets [booking] write_batch (1 = no
// group commit).
//
//   anteroom-booking-load [--clients 64] [--seconds 10] [--threads 4] [--people 80000]
//                         [--write-batch 64]

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "booking/service.hpp"
#include "booking/store.hpp"
#include "booking/web.hpp"
#include "common/config.hpp"

namespace {

namespace fs = std::filesystem;
using namespace anteroom;
using clock_type = std::chrono::steady_clock;

struct args {
    int clients = 64;
    int seconds = 10;
    int threads = 4;
    int people = 80'000;
    int write_batch = 64;
};

args parse(int argc, char** argv) {
    args a;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        const int v = std::atoi(argv[i + 1]);
        if (k == "--clients") a.clients = std::clamp(v, 1, 1024);
        else if (k == "--seconds") a.seconds = std::clamp(v, 1, 3600);
        else if (k == "--threads") a.threads = std::clamp(v, 1, 64);
        else if (k == "--people") a.people = std::clamp(v, 100, 10'000'000);
        else if (k == "--write-batch") a.write_batch = std::clamp(v, 1, 4096);
        else {
            std::fprintf(stderr, "unknown option %s\n", k.c_str());
            std::exit(2);
        }
    }
    return a;
}

}  // namespace

int main(int argc, char** argv) {
    const args a = parse(argc, argv);
    std::string tmpl = (fs::temp_directory_path() / "anteroom-booking-load-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
        std::perror("mkdtemp");
        return 1;
    }
    const std::string dir = tmpl;
    const std::string toml = "state_dir = \"" + dir +
                             "\"\n[log]\naccess_log = \"\"\nlevel = \"warn\"\n[booking]\nlisten = \"127.0.0.1:0\"\n"
                             "pin_iterations = 1000\nopen_groups = [1]\nthreads = " + std::to_string(a.threads) +
                             "\nwrite_batch = " + std::to_string(a.write_batch) +
                             "\n[[booking.centre]]\nname = \"Messe\"\n[[booking.centre]]\nname = \"Halle\"\n";
    const auto parsed = parse_config(toml, "booking-load.toml");
    if (!parsed.cfg) {
        std::fprintf(stderr, "%s\n", parsed.errors.front().text().c_str());
        return 1;
    }
    const booking::unix_seconds now = std::time(nullptr);
    const booking::day_number first_day = booking::day_of(now) + 1;
    constexpr int days = 30;

    // Setup through the store: stock for every person, registrations and sessions.
    std::vector<std::string> cookies;
    {
        std::string err;
        auto db = booking::open_configured(*parsed.cfg, err);
        if (!db.ok()) {
            std::fprintf(stderr, "%s\n", err.c_str());
            return 1;
        }
        const std::int64_t vials = a.people / (2 * days * 6) + 2;
        for (std::int64_t c = 1; c <= 2; ++c) {
            for (int d = 0; d < days; ++d) {
                db.value->record_delivery(c, first_day + d, vials, now);
            }
        }
        std::fprintf(stderr, "setup: %d registrations and sessions ...\n", a.people);
        cookies.reserve(static_cast<std::size_t>(a.people));
        (void)db.value->begin_batch();  // setup commits in groups, or it would take minutes
        for (int i = 0; i < a.people; ++i) {
            if (i > 0 && i % 10'000 == 0) {
                (void)db.value->end_batch(true);
                (void)db.value->begin_batch();
            }
            auto r = db.value->register_person({"Person", booking::make_day(1960, 1, 1), "p@example.org", "", 1}, now);
            auto s = r.ok() ? db.value->create_session(booking::session_kind::person, r.value.registration_id, now + 3600)
                            : booking::result<std::string>{r.error};
            if (!s.ok()) {
                std::fprintf(stderr, "setup failed: %s\n", std::string(booking::to_string(s.error)).c_str());
                return 1;
            }
            cookies.push_back(std::string(booking::person_cookie) + "=" + s.value);
        }
        if (db.value->end_batch(true) != booking::store_error::ok) {
            std::fprintf(stderr, "setup failed: commit\n");
            return 1;
        }
    }

    std::string err;
    auto svc = booking::service::start({parsed.cfg, nullptr}, err);
    if (!svc) {
        std::fprintf(stderr, "%s\n", err.c_str());
        return 1;
    }
    const auto ep = svc->local_endpoint();

    // The clients: C keep-alive connections as coroutines on this one thread, so that the load
    // generator takes as little of the machine's cores from the server as it can.
    net::io_context ioc(1);
    constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
    std::size_t next_person = 0;
    std::vector<std::uint32_t> all;  // latencies, microseconds
    all.reserve(200'000);
    std::array<std::uint64_t, 4> total{};  // 201, 409, other, connection errors
    const auto t0 = clock_type::now();
    const auto deadline = t0 + std::chrono::seconds(a.seconds);
    auto client = [&]() -> net::awaitable<void> {
        beast::tcp_stream s(co_await net::this_coro::executor);
        if (auto [ec] = co_await s.async_connect(ep, use_tuple); ec) {
            ++total[3];
            co_return;
        }
        beast::flat_buffer buf;
        http::request<http::string_body> req{http::verb::post, "/api/bookings", 11};
        req.set(http::field::host, "bench");
        req.set(http::field::content_type, "application/json");
        while (clock_type::now() < deadline && next_person < cookies.size()) {
            const std::size_t p = next_person++;
            const int centre = 1 + static_cast<int>(p % 2);
            const int day = first_day + static_cast<int>((p / 2) % days);
            req.set(http::field::cookie, cookies[p]);
            req.body() = "{\"centre\":" + std::to_string(centre) + ",\"date\":\"" + booking::format_date(day) + "\"}";
            req.prepare_payload();
            const auto start = clock_type::now();
            auto [wec, wn] = co_await http::async_write(s, req, use_tuple);
            http::response<http::string_body> res;
            beast::error_code ec = wec;
            if (!ec) {
                auto [rec, rn] = co_await http::async_read(s, buf, res, use_tuple);
                ec = rec;
            }
            if (ec) {
                ++total[3];
                co_return;
            }
            all.push_back(static_cast<std::uint32_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - start).count()));
            ++total[res.result_int() == 201 ? 0 : res.result_int() == 409 ? 1 : 2];
        }
    };
    for (int c = 0; c < a.clients; ++c) {
        net::co_spawn(ioc, client(), net::detached);
    }
    ioc.run();
    const double elapsed = std::chrono::duration<double>(clock_type::now() - t0).count();
    svc->stop();

    std::sort(all.begin(), all.end());
    const auto pct = [&](double q) {
        return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<std::size_t>(q * static_cast<double>(all.size())))] / 1000.0;
    };

    // Integrity: each (centre, day, slot) once; no day beyond its stock.
    sqlite3* db = nullptr;
    sqlite3_open_v2((dir + "/booking.sqlite").c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    auto scalar = [&](const char* q) {
        sqlite3_stmt* st = nullptr;
        sqlite3_prepare_v2(db, q, -1, &st, nullptr);
        const std::int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_finalize(st);
        return v;
    };
    const auto rows = scalar("SELECT COUNT(*) FROM bookings");
    const auto distinct = scalar("SELECT COUNT(*) FROM (SELECT DISTINCT centre_id, day, slot FROM bookings)");
    const auto people_twice = scalar("SELECT COUNT(*) FROM (SELECT registration_id FROM bookings GROUP BY registration_id HAVING COUNT(*) > 1)");
    const auto overbooked = scalar(
        "SELECT COUNT(*) FROM (SELECT b.centre_id, b.day, COUNT(*) AS n FROM bookings b GROUP BY b.centre_id, b.day) x "
        "WHERE x.n > 6 * (SELECT SUM(vials) FROM deliveries d WHERE d.centre_id = x.centre_id AND d.day = x.day)");
    sqlite3_close(db);
    fs::remove_all(dir);

    std::printf("clients %d, SQLite workers %d, write_batch %d, %.1f s\n", a.clients, a.threads, a.write_batch, elapsed);
    std::printf("bookings/s %.0f  (201: %llu, 409: %llu, other: %llu, connection errors: %llu)\n",
                static_cast<double>(total[0]) / elapsed, static_cast<unsigned long long>(total[0]),
                static_cast<unsigned long long>(total[1]), static_cast<unsigned long long>(total[2]),
                static_cast<unsigned long long>(total[3]));
    std::printf("latency ms  p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n", pct(0.5), pct(0.9), pct(0.99),
                pct(0.999), all.empty() ? 0.0 : all.back() / 1000.0);
    std::printf("integrity   rows %lld, distinct slots %lld, people booked twice %lld, days over stock %lld -> %s\n",
                static_cast<long long>(rows), static_cast<long long>(distinct), static_cast<long long>(people_twice),
                static_cast<long long>(overbooked),
                rows == distinct && people_twice == 0 && overbooked == 0 && rows == static_cast<long long>(total[0]) ? "OK"
                                                                                                                     : "DOUBLE BOOKING");
    return rows == distinct && people_twice == 0 && overbooked == 0 ? 0 : 1;
}
