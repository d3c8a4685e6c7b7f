// Fuzz target: every signed token a client presents. Admission tickets, passes and invitations
// (admission/token) and bot detection's challenge, wait, clearance and hold tokens and the
// proof-of-work check (bot_detect/challenge), decoded with a fixed key ring.
//
// Input: one mode byte, then the token.
//   mode & 0x07  which decoder: 0 ticket, 1 pass, 2 invitation, 3 challenge, 4 wait, 5 clearance,
//                6 hold, 7 proof of work (the rest is "token:solution")
//   mode & 0x08  the rest is a raw record, not text: the target writes the signing key's id into
//                it, signs it (last 16 bytes = truncated HMAC of the bytes before) and base64url-
//                encodes it, so the fuzzer reaches the field checks behind the MAC, as a holder of
//                the key could
//   mode & 0x10  admission tokens: verify without a binding policy (bindings unchecked)
//
// Properties: a decoded token re-encodes to a token that decodes to the same fields; a token
// signed here re-encodes to exactly the presented text (one spelling per token).

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "admission/token.hpp"
#include "bot_detect/challenge.hpp"
#include "common/crypto.hpp"
#include "tests/fuzz/fuzz_target.hpp"

namespace {

using namespace anteroom;

constexpr std::int64_t now_ms = 1'796'000'000'000;  // 2026-11-29
constexpr std::string_view room = "book";
constexpr std::string_view user_agent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

signing_key make_key(std::uint8_t id_byte, std::uint8_t secret_byte) {
    key_id id;
    id.fill(id_byte);
    const std::vector<std::uint8_t> secret(32, secret_byte);
    return signing_key{id, crypto::base64url_encode(id), crypto::hmac_key(secret)};
}

struct fixture {
    key_ring keys;
    ip_address client;
};

// The test keys of tests/admission/token_test.cpp: ids 0x11.., 0x22.., signing with the first.
const fixture& the_fixture() {
    static const fixture f = [] {
        fixture out;
        out.keys.keys.push_back(make_key(0x11, 0xa1));
        out.keys.keys.push_back(make_key(0x22, 0xa2));
        out.client = *parse_ip("198.51.100.23");
        return out;
    }();
    return f;
}

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

// The raw record signed by the ring's signer, as text.
std::string signed_text(std::vector<std::uint8_t> r, const key_ring& keys) {
    constexpr std::size_t mac_size = 16;
    const signing_key& key = keys.signer();
    if (r.size() >= 2 + key.id.size()) {
        std::copy(key.id.begin(), key.id.end(), r.begin() + 2);
    }
    if (r.size() >= mac_size) {
        const auto mac = key.mac.sign({r.data(), r.size() - mac_size});
        std::copy_n(mac.begin(), mac_size, r.end() - mac_size);
    }
    return crypto::base64url_encode(r);
}

bool same(const admission::ticket& a, const admission::ticket& b) {
    return a.room == b.room && a.seq == b.seq && a.issued_at == b.issued_at && a.binding == b.binding &&
           a.flags == b.flags && a.epoch == b.epoch;
}
bool same(const admission::pass& a, const admission::pass& b) {
    return a.room == b.room && a.pass_id == b.pass_id && a.admitted_at == b.admitted_at &&
           a.expires_at == b.expires_at && a.binding == b.binding && a.ticket_seq == b.ticket_seq;
}
bool same(const admission::invitation& a, const admission::invitation& b) {
    return a.room == b.room && a.code_id == b.code_id && a.not_after == b.not_after;
}

template <class T, class Decode>
void admission_token(std::string_view text, const admission::verify_context& ctx, bool signed_here, Decode decode) {
    const auto& keys = the_fixture().keys;
    const auto result = decode(text, keys, ctx);
    if (const T* t = std::get_if<T>(&result)) {
        const std::string again = admission::encode(*t, keys);
        check(again.size() <= admission::max_token_length);
        if (signed_here) {
            check(again == text);
        }
        const auto round = decode(again, keys, ctx);
        const T* u = std::get_if<T>(&round);
        check(u != nullptr && same(*t, *u));
    }
}

void bot_token(std::string_view text, bot_detect::bot_token_kind kind, bool signed_here) {
    const fixture& fx = the_fixture();
    const bot_detect::token_check tc{kind, fx.client, user_agent, now_ms, true};
    const auto result = bot_detect::decode_token(text, fx.keys, tc);
    if (result.token) {
        const std::string again = bot_detect::encode_token(*result.token, fx.keys, fx.client, user_agent);
        if (signed_here) {
            check(again == text);
        }
        const auto round = bot_detect::decode_token(again, fx.keys, tc);
        check(round.token && round.token->kind == result.token->kind &&
              round.token->difficulty == result.token->difficulty && round.token->nonce == result.token->nonce &&
              round.token->binding == result.token->binding && round.token->not_before == result.token->not_before &&
              round.token->expires_at == result.token->expires_at);
    }
}

}  // namespace

ANTEROOM_FUZZ_TARGET(token) {
    if (size == 0) {
        return 0;
    }
    const fixture& fx = the_fixture();
    const std::uint8_t mode = data[0];
    const bool resign = (mode & 0x08) != 0;
    const std::vector<std::uint8_t> rest(data + 1, data + size);
    const std::string text = resign ? signed_text(rest, fx.keys) : std::string(rest.begin(), rest.end());

    admission::verify_context ctx{.room = room,
                                  .binding = admission::binding_policy{},
                                  .client = fx.client,
                                  .user_agent = user_agent,
                                  .now = now_ms,
                                  .max_age_ms = 24 * 3'600'000};
    if ((mode & 0x10) != 0) {
        ctx.binding.ip_prefix = false;
        ctx.binding.user_agent = false;
    }
    switch (mode & 0x07) {
        case 0:
            admission_token<admission::ticket>(text, ctx, resign, &admission::decode_ticket);
            break;
        case 1:
            admission_token<admission::pass>(text, ctx, resign, &admission::decode_pass);
            break;
        case 2:
            admission_token<admission::invitation>(text, ctx, resign, &admission::decode_invitation);
            break;
        case 3:
        case 4:
        case 5:
        case 6:
            // challenge = 1 … hold = 4
            bot_token(text, static_cast<bot_detect::bot_token_kind>((mode & 0x07) - 2), resign);
            break;
        default: {
            const std::string_view all(text);
            const auto colon = all.rfind(':');
            if (colon != std::string_view::npos) {
                if (const auto bits = bot_detect::pow_zero_bits(all.substr(0, colon), all.substr(colon + 1))) {
                    check(*bits <= 256);
                }
            }
            break;
        }
    }
    return 0;
}
