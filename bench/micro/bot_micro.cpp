// Micro benchmarks of bot detection on the request path: scoring one request (header facts,
// the address, prefix and visitor tables, the bands), for a browser, a tool and a status poll;
// and checking a proof-of-work answer and a clearance cookie. Target: scoring <= 1 us median.
// Per TLS handshake: scanning, parsing and fingerprinting (JA4) the captured Chromium
// ClientHello (tests/bot_detect/tls_vectors/chromium.hex, 1949 bytes with an ML-KEM key share).
// Run: build/bench/bench/anteroom_micro --benchmark_filter='Bot|Ja4' --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "bot_detect/challenge.hpp"
#include "bot_detect/client_hello.hpp"
#include "bot_detect/detector.hpp"

namespace {

using namespace anteroom;
using namespace anteroom::bot_detect;

constexpr unix_ms now = 1'796'000'000'000;
constexpr std::string_view chrome_ua =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

std::vector<header_ref> chrome_headers() {
    return {{"Host", "portal.example"},
            {"Connection", "keep-alive"},
            {"sec-ch-ua", "\"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\""},
            {"sec-ch-ua-mobile", "?0"},
            {"sec-ch-ua-platform", "\"Linux\""},
            {"Upgrade-Insecure-Requests", "1"},
            {"User-Agent", chrome_ua},
            {"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"},
            {"Sec-Fetch-Site", "none"},
            {"Sec-Fetch-Mode", "navigate"},
            {"Sec-Fetch-User", "?1"},
            {"Sec-Fetch-Dest", "document"},
            {"Accept-Encoding", "gzip, deflate, br, zstd"},
            {"Accept-Language", "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7"},
            {"Cookie", "anteroom_ticket_portal=AQEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}};
}

bot_detect_config config() {
    bot_detect_config c;
    c.enabled = true;
    return c;  // default bounds: 262,144 entries per table
}

// Scores requests of many different clients (addresses cycle through 65,536) so the tables
// are exercised like a busy day, not one hot entry.
void run(benchmark::State& state, const std::vector<header_ref>& h, bool poll, bool visitor,
         std::string_view ja4 = {}) {
    const auto c = config();
    detector d(c);
    request_input in;
    in.headers = h;
    in.ja4 = ja4;
    in.path = poll ? "/_anteroom/status" : "/book";
    in.status_poll = poll;
    in.secure_origin = true;
    in.client = *parse_ip("10.0.0.1");
    std::uint32_t i = 0;
    for (auto _ : state) {
        in.client.bytes[14] = static_cast<std::uint8_t>(i >> 8);
        in.client.bytes[15] = static_cast<std::uint8_t>(i);
        in.visitor = visitor ? mix64(i & 0xffff) | 1 : 0;
        in.now = now + i * 7;
        benchmark::DoNotOptimize(d.evaluate(c, in));
        i = (i + 1) & 0xffff;
    }
}

void BM_BotScoreBrowser(benchmark::State& state) { run(state, chrome_headers(), false, false); }
BENCHMARK(BM_BotScoreBrowser);

// The same over TLS: the JA4 is looked up in the TLS family table (the Chromium family matches).
void BM_BotScoreBrowserTls(benchmark::State& state) {
    run(state, chrome_headers(), false, false, "t13d1517h2_8daaf6152771_cb7bf5808d99");
}
BENCHMARK(BM_BotScoreBrowserTls);

void BM_BotScoreStatusPoll(benchmark::State& state) { run(state, chrome_headers(), true, true); }
BENCHMARK(BM_BotScoreStatusPoll);

void BM_BotScoreTool(benchmark::State& state) {
    run(state, {{"Host", "portal.example"}, {"User-Agent", "python-requests/2.31.0"}, {"Accept", "*/*"},
                {"Accept-Encoding", "gzip, deflate"}, {"Connection", "keep-alive"}},
        false, false);
}
BENCHMARK(BM_BotScoreTool);

void BM_BotProofOfWorkCheck(benchmark::State& state) {
    const auto keys = make_ephemeral_key_ring();
    const auto client = *parse_ip("203.0.113.77");
    const bot_token t{.kind = bot_token_kind::challenge, .difficulty = 16, .nonce = 1, .expires_at = now + 300'000};
    const auto text = encode_token(t, *keys, client, chrome_ua);
    const token_check check{.want = bot_token_kind::challenge, .client = client, .user_agent = chrome_ua, .now = now};
    for (auto _ : state) {
        const auto r = decode_token(text, *keys, check);
        benchmark::DoNotOptimize(r);
        benchmark::DoNotOptimize(pow_zero_bits(text, "123456"));
    }
}
BENCHMARK(BM_BotProofOfWorkCheck);

void BM_BotClearanceCookie(benchmark::State& state) {
    const auto keys = make_ephemeral_key_ring();
    const auto client = *parse_ip("203.0.113.77");
    const bot_token t{.kind = bot_token_kind::clearance, .difficulty = 40, .nonce = 2, .expires_at = now + 1'800'000};
    const auto text = encode_token(t, *keys, client, chrome_ua);
    const token_check check{.want = bot_token_kind::clearance, .client = client, .user_agent = chrome_ua, .now = now};
    for (auto _ : state) {
        benchmark::DoNotOptimize(decode_token(text, *keys, check));
    }
}
BENCHMARK(BM_BotClearanceCookie);

std::vector<std::uint8_t> chromium_hello() {
    std::ifstream in(ANTEROOM_SOURCE_DIR "/tests/bot_detect/tls_vectors/chromium.hex");
    const std::string hex{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    std::vector<std::uint8_t> out;
    std::string pair;
    for (const char c : hex) {
        if (c == '\n') {
            continue;
        }
        pair += c;
        if (pair.size() == 2) {
            out.push_back(static_cast<std::uint8_t>(std::stoi(pair, nullptr, 16)));
            pair.clear();
        }
    }
    return out;
}

void BM_Ja4ScanChromiumHello(benchmark::State& state) {
    const auto hello = chromium_hello();
    if (scan_client_hello(hello) != hello_status::complete) {
        state.SkipWithError("tests/bot_detect/tls_vectors/chromium.hex missing or broken");
        return;
    }
    for (auto _ : state) {
        benchmark::DoNotOptimize(scan_client_hello(hello));
    }
}
BENCHMARK(BM_Ja4ScanChromiumHello);

// What a TLS handshake costs on top: parse the kept ClientHello and compute its JA4.
void BM_Ja4ParseAndFingerprintChromiumHello(benchmark::State& state) {
    const auto hello = chromium_hello();
    if (!parse_client_hello(hello)) {
        state.SkipWithError("tests/bot_detect/tls_vectors/chromium.hex missing or broken");
        return;
    }
    for (auto _ : state) {
        const auto h = parse_client_hello(hello);
        benchmark::DoNotOptimize(ja4(*h));
    }
}
BENCHMARK(BM_Ja4ParseAndFingerprintChromiumHello);

}  // namespace
