// Micro benchmarks of the per-request pure work on the proxy's hot path: finding and checking the
// request head, header hygiene, the access log line and the error page. Run: build/bench/bench/anteroom_micro
#include <benchmark/benchmark.h>

#include <string>

#include "common/endpoint.hpp"
#include "common/metrics.hpp"
#include "proxy/access_line.hpp"
#include "proxy/error_page.hpp"
#include "proxy/headers.hpp"
#include "proxy/http_rules.hpp"

namespace {

using namespace anteroom;
using namespace anteroom::proxy;

// A browser-sized request head (about 700 bytes, 12 fields).
const std::string browser_head =
    "GET /termine/zentrum/17?tag=2026-12-01 HTTP/1.1\r\n"
    "Host: impfportal.example.de\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
    "Accept-Language: de-DE,de;q=0.9,en;q=0.8\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Sec-CH-UA: \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\"\r\n"
    "Sec-CH-UA-Mobile: ?0\r\n"
    "Sec-CH-UA-Platform: \"Linux\"\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Cookie: anteroom_pass_booking=AQAAAAAAAAEAAAAAZ0m0YwAAAABnSbv7q3Vn0lYwUAt3b1c8m2CjX5yTtZEJ1T8Hk2vGdPHyLk0\r\n"
    "\r\n";

void BM_find_head_end(benchmark::State& state) {
    for (auto _ : state) {
        benchmark::DoNotOptimize(find_head_end(browser_head));
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * browser_head.size()));
}
BENCHMARK(BM_find_head_end);

void BM_check_request_head(benchmark::State& state) {
    for (auto _ : state) {
        auto r = check_request_head(browser_head);
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * browser_head.size()));
}
BENCHMARK(BM_check_request_head);

void BM_parse_head_with_beast(benchmark::State& state) {
    for (auto _ : state) {
        http::request_parser<http::empty_body> p;
        beast::error_code ec;
        p.put(net::buffer(browser_head), ec);
        benchmark::DoNotOptimize(p.is_header_done());
    }
}
BENCHMARK(BM_parse_head_with_beast);

void BM_forwarding_headers(benchmark::State& state) {
    http::request_parser<http::empty_body> p;
    beast::error_code ec;
    p.put(net::buffer(browser_head), ec);
    const auto original = p.get();
    const auto peer = to_ip(net::ip::make_address("203.0.113.7"));
    for (auto _ : state) {
        http::request_header<> req = original;
        remove_hop_by_hop(req);
        add_forwarding_headers(req, forward_info{peer, false, false, "impfportal.example.de", "anteroom", 11});
        req.set("X-Request-Id", new_request_id());
        benchmark::DoNotOptimize(req);
    }
}
BENCHMARK(BM_forwarding_headers);

void BM_access_line(benchmark::State& state) {
    access_record r;
    r.method = "GET";
    r.path = "/termine/zentrum/17";
    r.status = 200;
    r.bytes_in = 713;
    r.bytes_out = 18234;
    r.duration_us = 1843;
    r.upstream_us = 1612;
    r.upstream = "127.0.0.1:8081";
    r.request_id = "4f1c2a9be0d84b7e9a0c6b3f2e1d5a77";
    r.client = to_ip(net::ip::make_address("203.0.113.7"));
    r.time = std::chrono::system_clock::now();
    for (auto _ : state) {
        auto line = format_access_line(r);
        benchmark::DoNotOptimize(line);
    }
}
BENCHMARK(BM_access_line);

void BM_error_page(benchmark::State& state) {
    const proxy_error err{error_source::upstream, error_kind::upstream_timeout, false};
    for (auto _ : state) {
        auto page = make_error_response(err, choose_language("de-DE,de;q=0.9"), choose_format("text/html"),
                                        "4f1c2a9be0d84b7e9a0c6b3f2e1d5a77");
        benchmark::DoNotOptimize(page);
    }
}
BENCHMARK(BM_error_page);

void BM_counter_inc_contended(benchmark::State& state) {
    static counter c;
    for (auto _ : state) {
        c.inc();
    }
    benchmark::DoNotOptimize(c.value());
}
BENCHMARK(BM_counter_inc_contended)->Threads(1)->Threads(2);

void BM_histogram_observe(benchmark::State& state) {
    static histogram h;
    std::uint64_t us = 1;
    for (auto _ : state) {
        h.observe_us(us);
        us = (us * 7 + 13) % 20000;
    }
    benchmark::DoNotOptimize(h.count());
}
BENCHMARK(BM_histogram_observe);

}  // namespace
