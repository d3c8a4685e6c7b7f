// Micro benchmarks of the admission codec: signing and verifying tickets and passes, which every
// request to a room path does once (verify) and every new visitor once more (sign).
// Target: ticket sign + verify <= 1 us. Run: build/bench/bench/anteroom_micro --benchmark_filter=Ticket
#include <benchmark/benchmark.h>

#include <string>

#include "admission/token.hpp"

namespace {

using namespace anteroom;
using namespace anteroom::admission;

constexpr unix_ms now = 1'796'000'000'000;
const std::string user_agent =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

struct fixture {
    std::shared_ptr<const key_ring> keys = make_ephemeral_key_ring();
    binding_policy policy;  // /24 and /64, the default
    ip_address client = *parse_ip("203.0.113.77");
    std::uint64_t binding = client_binding(*keys, policy, client, user_agent);
    ticket t{"termine", 123'456, now - 60'000, binding, 0, 1};
    pass p{"termine", 0x0123456789abcdefULL, now - 60'000, now + 1'800'000, binding, 123'456};
    verify_context ctx{.room = "termine",
                       .binding = policy,
                       .client = client,
                       .user_agent = user_agent,
                       .now = now,
                       .max_age_ms = 86'400'000};
};

void BM_TicketSign(benchmark::State& state) {
    const fixture f;
    for (auto _ : state) {
        benchmark::DoNotOptimize(encode(f.t, *f.keys));
    }
}
BENCHMARK(BM_TicketSign);

// Verifying is what every request to a room path pays: base64url, key lookup, MAC, binding.
template <class Token, class Decode>
void verify_loop(benchmark::State& state, Token fixture::*token, Decode decode) {
    const fixture f;
    const auto text = encode(f.*token, *f.keys);
    if (!std::holds_alternative<Token>(decode(text, *f.keys, f.ctx))) {
        state.SkipWithError("the token does not verify; this would measure a rejection");
        return;
    }
    for (auto _ : state) {
        auto d = decode(text, *f.keys, f.ctx);
        benchmark::DoNotOptimize(d);
    }
}

void BM_TicketVerify(benchmark::State& state) { verify_loop(state, &fixture::t, decode_ticket); }
BENCHMARK(BM_TicketVerify);

void BM_TicketSignVerify(benchmark::State& state) {
    const fixture f;
    for (auto _ : state) {
        auto d = decode_ticket(encode(f.t, *f.keys), *f.keys, f.ctx);
        benchmark::DoNotOptimize(d);
    }
}
BENCHMARK(BM_TicketSignVerify);

void BM_PassVerify(benchmark::State& state) { verify_loop(state, &fixture::p, decode_pass); }
BENCHMARK(BM_PassVerify);

// The parts: one HMAC of a ticket-sized message, and the binding (one more HMAC).
void BM_Hmac64Bytes(benchmark::State& state) {
    const fixture f;
    const std::array<std::uint8_t, 64> msg{};
    for (auto _ : state) {
        benchmark::DoNotOptimize(f.keys->signer().mac.sign(msg));
    }
}
BENCHMARK(BM_Hmac64Bytes);

void BM_ClientBinding(benchmark::State& state) {
    const fixture f;
    for (auto _ : state) {
        benchmark::DoNotOptimize(client_binding(*f.keys, f.policy, f.client, user_agent));
    }
}
BENCHMARK(BM_ClientBinding);

}  // namespace
