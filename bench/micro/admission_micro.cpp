// Micro benchmarks of the admission codec: signing and verifying tickets and passes, which every
// request to a room path does once (verify) and every new visitor once more (sign); and of the
// room's decision (a ticket issued, a waiting ticket polled) and the status JSON it renders.
// Target: ticket sign + verify <= 1 us. Run: build/bench/bench/anteroom_micro --benchmark_filter=Ticket
#include <benchmark/benchmark.h>

#include <string>

#include "admission/room_controller.hpp"
#include "admission/token.hpp"
#include "admission/waiting_page.hpp"

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

// The room's decision for a visitor in line: place lookup, liveness, ETA and refresh class, on a
// room with 1,000,000 waiting (the controller alone, without the mutex the proxy takes).
struct room_fixture {
    room_fixture() {
        cfg.id = "portal";
        cfg.paths = {"/"};
        cfg.new_users_per_minute = 600;
        cfg.max_active_users = 1000;
        for (std::size_t i = 0; i < identity.seed.size(); ++i) {
            identity.seed[i] = static_cast<std::uint8_t>(i);
            identity.pass_secret[i] = static_cast<std::uint8_t>(0xa0 + i);
        }
        identity.created_at = now;
        room = std::make_unique<room_controller>(cfg, identity, now);
        for (int i = 0; i < 1'000'000; ++i) {
            auto t = room->issue(static_cast<std::uint64_t>(i), now);
            if (i == 500'000 && t) {
                middle = *t;
            }
        }
    }
    room_config cfg;
    room_identity identity;
    std::unique_ptr<room_controller> room;
    ticket middle;
};

void BM_RoomPollWaiting(benchmark::State& state) {
    static room_fixture f;  // built once: a million tickets take a while
    unix_ms t = now + 1000;
    for (auto _ : state) {
        benchmark::DoNotOptimize(f.room->poll(f.middle, t));
        t += 1;  // time moves on; the place stays in line (rate 600/min over a million ahead)
    }
}
BENCHMARK(BM_RoomPollWaiting);

void BM_RoomIssueTicket(benchmark::State& state) {
    room_fixture f;
    unix_ms t = now + 1000;
    std::uint64_t binding = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(f.room->issue(++binding, t));
    }
}
BENCHMARK(BM_RoomIssueTicket)->Iterations(2'000'000);

void BM_StatusJson(benchmark::State& state) {
    wait_info w;
    w.state = room_state::queued;
    w.position = 123'456;
    w.ahead = 123'455;
    w.eta_low_seconds = 540;
    w.eta_high_seconds = 780;
    w.refresh_after_seconds = 30;
    w.updated_at = now;
    for (auto _ : state) {
        benchmark::DoNotOptimize(status_json("portal", w, std::nullopt));
    }
}
BENCHMARK(BM_StatusJson);

}  // namespace
