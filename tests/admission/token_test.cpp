// Ticket, pass and invitation codec: round trips, every rejection reason and its precedence,
// key rotation, client binding. Time is passed in; the keys are fixed so failures reproduce.

#include "admission/token.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <set>
#include <stdexcept>
#include <tuple>
#include <vector>

namespace anteroom::admission {
namespace {

using bytes = std::vector<std::uint8_t>;

constexpr unix_ms t0 = 1'796'000'000'000;  // 2026-11-29
constexpr unix_ms minute = 60'000;

signing_key make_key(std::uint8_t id_byte, std::uint8_t secret_byte) {
    key_id id;
    id.fill(id_byte);
    return signing_key{id, crypto::base64url_encode(id), crypto::hmac_key(bytes(32, secret_byte))};
}

// A ring of keys (id byte, secret byte), signing with the one at `active`.
std::shared_ptr<const key_ring> ring(std::initializer_list<std::pair<std::uint8_t, std::uint8_t>> keys,
                                     std::size_t active = 0) {
    auto r = std::make_shared<key_ring>();
    for (const auto& [id, secret] : keys) {
        r->keys.push_back(make_key(id, secret));
    }
    r->active = active;
    return r;
}

ip_address ip(std::string_view text) {
    const auto a = parse_ip(text);
    EXPECT_TRUE(a) << text;
    return a.value_or(ip_address{});
}

bytes raw(const std::string& text) {
    auto b = crypto::base64url_decode(text);
    EXPECT_TRUE(b) << text;
    return b.value_or(bytes{});
}

std::string text(const bytes& b) { return crypto::base64url_encode(b); }

// Recomputes the MAC after an edit, as someone holding the key could: the decoder must still
// reject what is malformed, before and regardless of the MAC.
std::string resigned(bytes b, const signing_key& key) {
    const auto mac = key.mac.sign({b.data(), b.size() - 16});
    std::copy_n(mac.begin(), 16, b.end() - 16);
    return text(b);
}

template <class T>
reject_reason reason(const decoded<T>& d) {
    if (const auto* r = std::get_if<reject_reason>(&d)) {
        return *r;
    }
    ADD_FAILURE() << "token was accepted";
    return reject_reason::revoked;
}

template <class T>
T accepted(const decoded<T>& d) {
    if (const auto* r = std::get_if<reject_reason>(&d)) {
        ADD_FAILURE() << "rejected: " << to_string(*r);
        return T{};
    }
    return std::get<T>(d);
}

class token : public ::testing::Test {
protected:
    std::shared_ptr<const key_ring> keys = ring({{0x11, 0xa1}, {0x22, 0xa2}});
    binding_policy policy;  // /24, /64, no User-Agent
    ip_address client = ip("192.0.2.10");
    std::string user_agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0";

    std::uint64_t bound() const { return client_binding(*keys, policy, client, user_agent); }

    ticket make_ticket() const { return ticket{"book", 42, t0, bound(), ticket_flag_prequeue, 7}; }
    pass make_pass() const { return pass{"book", 0x0123456789abcdefULL, t0, t0 + 30 * minute, bound(), 42}; }
    invitation make_invitation() const { return invitation{"book", 99, t0 + 7 * 24 * 60 * minute}; }

    verify_context ctx(unix_ms now = t0) const {
        return verify_context{.room = "book",
                              .binding = policy,
                              .client = client,
                              .user_agent = user_agent,
                              .now = now,
                              .max_age_ms = 60 * minute};
    }
};

// ---- round trips ----

TEST_F(token, ticket_round_trip_keeps_every_field) {
    ticket t = make_ticket();
    t.room = std::string(64, 'r');
    t.seq = 0xfedcba9876543210ULL;
    t.flags = ticket_flag_prequeue | ticket_flag_bypass;
    t.epoch = 0xdeadbeef;
    auto c = ctx();
    c.room = t.room;
    const auto d = accepted(decode_ticket(encode(t, *keys), *keys, c));
    EXPECT_EQ(std::tie(d.room, d.seq, d.issued_at, d.binding, d.flags, d.epoch),
              std::tie(t.room, t.seq, t.issued_at, t.binding, t.flags, t.epoch));
}

TEST_F(token, pass_round_trip_keeps_every_field) {
    const pass p = make_pass();
    const auto d = accepted(decode_pass(encode(p, *keys), *keys, ctx()));
    EXPECT_EQ(std::tie(d.room, d.pass_id, d.admitted_at, d.expires_at, d.binding, d.ticket_seq),
              std::tie(p.room, p.pass_id, p.admitted_at, p.expires_at, p.binding, p.ticket_seq));
}

TEST_F(token, invitation_round_trip_keeps_every_field) {
    const invitation i = make_invitation();
    const auto d = accepted(decode_invitation(encode(i, *keys), *keys, ctx()));
    EXPECT_EQ(std::tie(d.room, d.code_id, d.not_after), std::tie(i.room, i.code_id, i.not_after));
}

TEST_F(token, layout_is_version_kind_key_id_room_fields_and_a_16_byte_mac) {
    const auto b = raw(encode(make_ticket(), *keys));
    ASSERT_EQ(b.size(), 54u + 4u);
    EXPECT_EQ(b[0], 1);
    EXPECT_EQ(b[1], static_cast<std::uint8_t>(token_kind::ticket));
    EXPECT_EQ(bytes(b.begin() + 2, b.begin() + 8), bytes(6, 0x11));
    EXPECT_EQ(b[8], 4);
    EXPECT_EQ(std::string(b.begin() + 9, b.begin() + 13), "book");
    EXPECT_EQ(b[13 + 7], 42);  // seq, big-endian
    EXPECT_EQ(raw(encode(make_pass(), *keys)).size(), 65u + 4u);
    EXPECT_EQ(raw(encode(make_invitation(), *keys)).size(), 41u + 4u);
}

TEST_F(token, longest_tokens_fit_max_token_length_and_use_the_url_alphabet) {
    pass p = make_pass();
    p.room = std::string(64, 'x');
    const auto s = encode(p, *keys);
    EXPECT_LE(s.size(), max_token_length);
    EXPECT_EQ(s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos);
}

TEST_F(token, signs_with_the_active_key) {
    const auto second_active = ring({{0x11, 0xa1}, {0x22, 0xa2}}, 1);
    const auto b = raw(encode(make_ticket(), *second_active));
    EXPECT_EQ(bytes(b.begin() + 2, b.begin() + 8), bytes(6, 0x22));
}

TEST_F(token, encoding_a_room_outside_1_to_64_bytes_is_a_bug_and_throws) {
    ticket t = make_ticket();
    t.room = "";
    EXPECT_THROW((void)encode(t, *keys), std::invalid_argument);
    t.room = std::string(65, 'x');
    EXPECT_THROW((void)encode(t, *keys), std::invalid_argument);
}

// ---- malformed: shape is checked before the key and the MAC ----

TEST_F(token, every_changed_byte_is_rejected_with_the_reason_of_its_region) {
    const auto good = raw(encode(make_ticket(), *keys));
    for (std::size_t i = 0; i < good.size(); ++i) {
        for (const std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0x80}, std::uint8_t{0xff}}) {
            auto b = good;
            b[i] ^= mask;
            const auto r = reason(decode_ticket(text(b), *keys, ctx()));
            SCOPED_TRACE("byte " + std::to_string(i) + " ^ " + std::to_string(mask));
            if (i < 2 || i == 8) {
                EXPECT_EQ(r, reject_reason::malformed);  // version, kind, room length
            } else if (i < 8) {
                EXPECT_EQ(r, reject_reason::unknown_key);
            } else {
                EXPECT_EQ(r, reject_reason::bad_signature);  // room, fields, MAC
            }
        }
    }
}

TEST_F(token, every_changed_byte_of_a_pass_and_an_invitation_is_rejected) {
    const auto p = raw(encode(make_pass(), *keys));
    for (std::size_t i = 0; i < p.size(); ++i) {
        auto b = p;
        b[i] ^= 0x04;
        EXPECT_TRUE(std::holds_alternative<reject_reason>(decode_pass(text(b), *keys, ctx()))) << i;
    }
    const auto inv = raw(encode(make_invitation(), *keys));
    for (std::size_t i = 0; i < inv.size(); ++i) {
        auto b = inv;
        b[i] ^= 0x04;
        EXPECT_TRUE(std::holds_alternative<reject_reason>(decode_invitation(text(b), *keys, ctx()))) << i;
    }
}

TEST_F(token, every_changed_character_is_rejected) {
    const auto good = encode(make_pass(), *keys);
    for (std::size_t i = 0; i < good.size(); ++i) {
        for (const char c : {'A', 'z', '-', '_', '0', '=', '.', ' '}) {
            if (good[i] == c) {
                continue;
            }
            auto s = good;
            s[i] = c;
            EXPECT_TRUE(std::holds_alternative<reject_reason>(decode_pass(s, *keys, ctx()))) << i << " " << c;
        }
    }
}

TEST_F(token, every_truncation_is_malformed) {
    const auto good = encode(make_ticket(), *keys);
    for (std::size_t n = 0; n < good.size(); ++n) {
        EXPECT_EQ(reason(decode_ticket(good.substr(0, n), *keys, ctx())), reject_reason::malformed) << n;
    }
    const auto b = raw(good);
    for (std::size_t n = 0; n < b.size(); ++n) {
        EXPECT_EQ(reason(decode_ticket(text(bytes(b.begin(), b.begin() + static_cast<long>(n))), *keys, ctx())),
                  reject_reason::malformed)
            << n;
    }
}

TEST_F(token, trailing_bytes_and_characters_are_malformed) {
    const auto good = encode(make_ticket(), *keys);
    for (const char* extra : {"A", "AA", "AAA", "AAAA", "=", "==", " ", "\n"}) {
        EXPECT_EQ(reason(decode_ticket(good + extra, *keys, ctx())), reject_reason::malformed) << extra;
    }
    auto b = raw(good);
    b.push_back(0);
    EXPECT_EQ(reason(decode_ticket(text(b), *keys, ctx())), reject_reason::malformed);
    // Even with a MAC over the longer record.
    b.insert(b.end() - 16, 0);
    EXPECT_EQ(reason(decode_ticket(resigned(b, keys->signer()), *keys, ctx())), reject_reason::malformed);
}

TEST_F(token, unknown_version_kind_and_bad_room_length_are_malformed_even_when_signed) {
    const auto good = raw(encode(make_ticket(), *keys));
    const auto& key = keys->signer();
    for (const std::uint8_t version : {0, 2, 255}) {
        auto b = good;
        b[0] = version;
        EXPECT_EQ(reason(decode_ticket(resigned(b, key), *keys, ctx())), reject_reason::malformed) << int{version};
    }
    for (const std::uint8_t kind : {0, 2, 3, 4, 255}) {
        auto b = good;
        b[1] = kind;
        EXPECT_EQ(reason(decode_ticket(resigned(b, key), *keys, ctx())), reject_reason::malformed) << int{kind};
    }
    // Room length 0 and 65 with a record of the matching total length.
    auto empty_room = good;
    empty_room[8] = 0;
    empty_room.erase(empty_room.begin() + 9, empty_room.begin() + 13);
    EXPECT_EQ(reason(decode_ticket(resigned(empty_room, key), *keys, ctx())), reject_reason::malformed);
    auto long_room = good;
    long_room[8] = 65;
    long_room.insert(long_room.begin() + 13, 61, 'x');
    EXPECT_EQ(reason(decode_ticket(resigned(long_room, key), *keys, ctx())), reject_reason::malformed);
}

TEST_F(token, a_token_of_another_kind_is_malformed) {
    EXPECT_EQ(reason(decode_pass(encode(make_ticket(), *keys), *keys, ctx())), reject_reason::malformed);
    EXPECT_EQ(reason(decode_ticket(encode(make_pass(), *keys), *keys, ctx())), reject_reason::malformed);
    EXPECT_EQ(reason(decode_ticket(encode(make_invitation(), *keys), *keys, ctx())), reject_reason::malformed);
    EXPECT_EQ(reason(decode_invitation(encode(make_pass(), *keys), *keys, ctx())), reject_reason::malformed);
}

TEST_F(token, text_that_is_not_a_token_is_malformed) {
    const auto good = encode(make_ticket(), *keys);
    for (const std::string& s : {std::string(), std::string("x"), std::string("not a token"), good + "==",
                                 std::string(max_token_length + 4, 'A'), std::string(300, 'A')}) {
        EXPECT_EQ(reason(decode_ticket(s, *keys, ctx())), reject_reason::malformed) << s;
    }
    auto with_plus = good;
    with_plus[10] = '+';
    EXPECT_EQ(reason(decode_ticket(with_plus, *keys, ctx())), reject_reason::malformed);
}

// ---- keys ----

TEST_F(token, a_key_id_not_in_the_ring_is_unknown_key) {
    const auto other = ring({{0x33, 0xa1}});
    EXPECT_EQ(reason(decode_ticket(encode(make_ticket(), *other), *keys, ctx())), reject_reason::unknown_key);
}

TEST_F(token, the_same_key_id_with_another_secret_is_bad_signature) {
    const auto forger = ring({{0x11, 0xee}});
    EXPECT_EQ(reason(decode_ticket(encode(make_ticket(), *forger), *keys, ctx())), reject_reason::bad_signature);
    EXPECT_EQ(reason(decode_pass(encode(make_pass(), *forger), *keys, ctx())), reject_reason::bad_signature);
    EXPECT_EQ(reason(decode_invitation(encode(make_invitation(), *forger), *keys, ctx())),
              reject_reason::bad_signature);
}

TEST_F(token, rotation_old_tokens_verify_while_their_key_is_listed) {
    const auto before = ring({{0x11, 0xa1}});
    const auto rotated = ring({{0x11, 0xa1}, {0x44, 0xa4}}, 1);  // new key active, old one kept
    const auto retired = ring({{0x44, 0xa4}});                   // old key removed

    ticket t = make_ticket();
    t.binding = client_binding(*before, policy, client, user_agent);
    const auto old_ticket = encode(t, *before);
    EXPECT_EQ(accepted(decode_ticket(old_ticket, *rotated, ctx())).seq, t.seq);
    EXPECT_EQ(reason(decode_ticket(old_ticket, *retired, ctx())), reject_reason::unknown_key);

    // A pass made after the rotation carries the binding of the old ticket, but is signed by the
    // new key: it verifies with the rotated ring.
    pass p = make_pass();
    p.binding = t.binding;
    const auto new_pass = encode(p, *rotated);
    EXPECT_EQ(raw(new_pass)[2], 0x44);
    EXPECT_EQ(accepted(decode_pass(new_pass, *rotated, ctx())).pass_id, p.pass_id);

    // New tokens are bound under the new key and verify on every node with the new file.
    pass fresh = make_pass();
    fresh.binding = client_binding(*rotated, policy, client, user_agent);
    EXPECT_EQ(accepted(decode_pass(encode(fresh, *rotated), *retired, ctx())).pass_id, fresh.pass_id);
}

// ---- room, time, binding ----

TEST_F(token, another_rooms_token_is_wrong_room) {
    auto c = ctx();
    c.room = "register";
    EXPECT_EQ(reason(decode_ticket(encode(make_ticket(), *keys), *keys, c)), reject_reason::wrong_room);
    EXPECT_EQ(reason(decode_pass(encode(make_pass(), *keys), *keys, c)), reject_reason::wrong_room);
    EXPECT_EQ(reason(decode_invitation(encode(make_invitation(), *keys), *keys, c)), reject_reason::wrong_room);
    c.room = "boo";  // a prefix is another room
    EXPECT_EQ(reason(decode_ticket(encode(make_ticket(), *keys), *keys, c)), reject_reason::wrong_room);
}

TEST_F(token, a_ticket_expires_after_max_age) {
    const auto s = encode(make_ticket(), *keys);
    EXPECT_TRUE(std::holds_alternative<ticket>(decode_ticket(s, *keys, ctx(t0 + 60 * minute))));
    EXPECT_EQ(reason(decode_ticket(s, *keys, ctx(t0 + 60 * minute + 1))), reject_reason::expired);
    auto no_limit = ctx(t0 + 1000 * 60 * minute);
    no_limit.max_age_ms = 0;
    EXPECT_TRUE(std::holds_alternative<ticket>(decode_ticket(s, *keys, no_limit)));
}

TEST_F(token, a_pass_expires_at_expires_at) {
    const auto s = encode(make_pass(), *keys);
    EXPECT_TRUE(std::holds_alternative<pass>(decode_pass(s, *keys, ctx(t0 + 30 * minute - 1))));
    EXPECT_EQ(reason(decode_pass(s, *keys, ctx(t0 + 30 * minute))), reject_reason::expired);
    auto long_after_ticket_age = ctx(t0 + 30 * minute - 1);
    long_after_ticket_age.max_age_ms = 1;  // max_age is for tickets only
    EXPECT_TRUE(std::holds_alternative<pass>(decode_pass(s, *keys, long_after_ticket_age)));
}

TEST_F(token, an_invitation_expires_after_not_after) {
    const auto i = make_invitation();
    const auto s = encode(i, *keys);
    EXPECT_TRUE(std::holds_alternative<invitation>(decode_invitation(s, *keys, ctx(i.not_after))));
    EXPECT_EQ(reason(decode_invitation(s, *keys, ctx(i.not_after + 1))), reject_reason::expired);
}

TEST_F(token, issued_or_admitted_beyond_the_allowed_skew_is_future) {
    const auto ts = encode(make_ticket(), *keys);
    const auto ps = encode(make_pass(), *keys);
    EXPECT_TRUE(std::holds_alternative<ticket>(decode_ticket(ts, *keys, ctx(t0 - minute))));
    EXPECT_EQ(reason(decode_ticket(ts, *keys, ctx(t0 - minute - 1))), reject_reason::future);
    EXPECT_TRUE(std::holds_alternative<pass>(decode_pass(ps, *keys, ctx(t0 - minute))));
    EXPECT_EQ(reason(decode_pass(ps, *keys, ctx(t0 - minute - 1))), reject_reason::future);
    auto strict = ctx(t0 - 1);
    strict.allowed_skew_ms = 0;
    EXPECT_EQ(reason(decode_ticket(ts, *keys, strict)), reject_reason::future);
}

TEST_F(token, extreme_times_neither_overflow_nor_pass) {
    ticket t = make_ticket();
    t.issued_at = std::numeric_limits<std::int64_t>::min();
    EXPECT_EQ(reason(decode_ticket(encode(t, *keys), *keys, ctx())), reject_reason::expired);
    t.issued_at = std::numeric_limits<std::int64_t>::max();
    EXPECT_EQ(reason(decode_ticket(encode(t, *keys), *keys, ctx())), reject_reason::future);
    pass p = make_pass();
    p.expires_at = std::numeric_limits<std::int64_t>::min();
    EXPECT_EQ(reason(decode_pass(encode(p, *keys), *keys, ctx())), reject_reason::expired);
}

TEST_F(token, another_clients_token_is_wrong_binding) {
    const auto ts = encode(make_ticket(), *keys);
    const auto ps = encode(make_pass(), *keys);
    auto c = ctx();
    c.client = ip("198.51.100.10");
    EXPECT_EQ(reason(decode_ticket(ts, *keys, c)), reject_reason::wrong_binding);
    EXPECT_EQ(reason(decode_pass(ps, *keys, c)), reject_reason::wrong_binding);
    c.client = ip("192.0.2.250");  // same /24
    EXPECT_TRUE(std::holds_alternative<ticket>(decode_ticket(ts, *keys, c)));
}

TEST_F(token, an_unbound_token_is_wrong_binding_while_the_policy_binds) {
    ticket t = make_ticket();
    t.binding = 0;
    EXPECT_EQ(reason(decode_ticket(encode(t, *keys), *keys, ctx())), reject_reason::wrong_binding);
}

TEST_F(token, a_policy_that_binds_nothing_checks_no_binding) {
    auto c = ctx();
    c.binding = binding_policy{.ip_prefix = false, .user_agent = false};
    c.client = ip("198.51.100.10");
    EXPECT_TRUE(std::holds_alternative<ticket>(decode_ticket(encode(make_ticket(), *keys), *keys, c)));
    ticket unbound = make_ticket();
    unbound.binding = 0;
    EXPECT_TRUE(std::holds_alternative<ticket>(decode_ticket(encode(unbound, *keys), *keys, c)));
}

TEST_F(token, invitations_are_not_bound) {
    auto c = ctx();
    c.client = ip("198.51.100.10");
    c.user_agent = "curl/8";
    EXPECT_TRUE(std::holds_alternative<invitation>(decode_invitation(encode(make_invitation(), *keys), *keys, c)));
}

TEST_F(token, the_first_failing_check_is_the_reason) {
    // Wrong room, expired and wrong binding at once: wrong_room.
    auto c = ctx(t0 + 1000 * minute);
    c.room = "register";
    c.client = ip("198.51.100.10");
    const auto ts = encode(make_ticket(), *keys);
    EXPECT_EQ(reason(decode_ticket(ts, *keys, c)), reject_reason::wrong_room);
    // Expired and wrong binding: expired.
    c.room = "book";
    EXPECT_EQ(reason(decode_ticket(ts, *keys, c)), reject_reason::expired);
    // Future and wrong binding: future.
    c.now = t0 - 10 * minute;
    EXPECT_EQ(reason(decode_ticket(ts, *keys, c)), reject_reason::future);
    // Tampered and for another room: bad_signature.
    auto b = raw(ts);
    b.back() ^= 1;
    c.room = "register";
    EXPECT_EQ(reason(decode_ticket(text(b), *keys, c)), reject_reason::bad_signature);
    // Unknown key and tampered: unknown_key.
    b[2] ^= 1;
    EXPECT_EQ(reason(decode_ticket(text(b), *keys, c)), reject_reason::unknown_key);
    // Malformed and unknown key: malformed.
    b.push_back(0);
    EXPECT_EQ(reason(decode_ticket(text(b), *keys, c)), reject_reason::malformed);
}

// ---- client_binding ----

TEST_F(token, binding_by_ipv4_prefix_24) {
    const auto& k = keys->signer();
    const auto a = client_binding(k, policy, ip("192.0.2.1"), "");
    EXPECT_NE(a, 0u);
    EXPECT_EQ(client_binding(k, policy, ip("192.0.2.254"), "other agent"), a);  // UA not bound
    EXPECT_NE(client_binding(k, policy, ip("192.0.3.1"), ""), a);
    EXPECT_NE(client_binding(k, policy, ip("193.0.2.1"), ""), a);
    binding_policy wide = policy;
    wide.v4_prefix = 16;
    EXPECT_EQ(client_binding(k, wide, ip("192.0.3.1"), ""), client_binding(k, wide, ip("192.0.200.1"), ""));
    EXPECT_NE(client_binding(k, wide, ip("192.0.2.1"), ""), a);  // the policy itself is bound
}

TEST_F(token, binding_by_ipv6_prefix_64) {
    const auto& k = keys->signer();
    const auto a = client_binding(k, policy, ip("2001:db8:1:2::1"), "");
    EXPECT_NE(a, 0u);
    EXPECT_EQ(client_binding(k, policy, ip("2001:db8:1:2:ffff:eeee:dddd:cccc"), ""), a);
    EXPECT_NE(client_binding(k, policy, ip("2001:db8:1:3::1"), ""), a);
    EXPECT_NE(client_binding(k, policy, ip("2001:db9:1:2::1"), ""), a);
}

TEST_F(token, binding_by_user_agent) {
    const auto& k = keys->signer();
    const binding_policy ua_only{.ip_prefix = false, .user_agent = true};
    const auto a = client_binding(k, ua_only, ip("192.0.2.1"), "Firefox");
    EXPECT_NE(a, 0u);
    EXPECT_EQ(client_binding(k, ua_only, ip("198.51.100.7"), "Firefox"), a);  // address not bound
    EXPECT_NE(client_binding(k, ua_only, ip("192.0.2.1"), "Chrome"), a);
    EXPECT_NE(client_binding(k, ua_only, ip("192.0.2.1"), ""), a);

    const binding_policy both{.ip_prefix = true, .user_agent = true};
    const auto b = client_binding(k, both, ip("192.0.2.1"), "Firefox");
    EXPECT_NE(b, a);
    EXPECT_EQ(client_binding(k, both, ip("192.0.2.99"), "Firefox"), b);
    EXPECT_NE(client_binding(k, both, ip("192.0.2.1"), "Chrome"), b);
    EXPECT_NE(client_binding(k, both, ip("192.0.9.1"), "Firefox"), b);

    // And through the decoder.
    auto c = ctx();
    c.binding = both;
    ticket t = make_ticket();
    t.binding = client_binding(*keys, both, client, user_agent);
    const auto s = encode(t, *keys);
    EXPECT_TRUE(std::holds_alternative<ticket>(decode_ticket(s, *keys, c)));
    c.user_agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/129.0";
    EXPECT_EQ(reason(decode_ticket(s, *keys, c)), reject_reason::wrong_binding);
}

TEST_F(token, binding_is_zero_only_when_nothing_is_bound_and_needs_the_key) {
    const binding_policy none{.ip_prefix = false, .user_agent = false};
    EXPECT_EQ(client_binding(*keys, none, client, user_agent), 0u);
    EXPECT_NE(client_binding(*keys, policy, ip("0.0.0.0"), ""), 0u);
    EXPECT_NE(client_binding(*keys, policy, ip("::"), ""), 0u);
    EXPECT_NE(client_binding(keys->keys[0], policy, client, ""), client_binding(keys->keys[1], policy, client, ""));
    EXPECT_EQ(client_binding(*keys, policy, client, ""), client_binding(keys->signer(), policy, client, ""));
}

TEST(token_reasons, every_reason_has_a_distinct_name) {
    std::set<std::string_view> names;
    for (std::size_t r = 0; r < reject_reason_count; ++r) {
        names.insert(to_string(static_cast<reject_reason>(r)));
    }
    EXPECT_EQ(names.size(), reject_reason_count);
    EXPECT_EQ(to_string(reject_reason::bad_signature), "bad_signature");
    EXPECT_EQ(to_string(reject_reason::wrong_binding), "wrong_binding");
    EXPECT_EQ(to_string(reject_reason::revoked), "revoked");
}

}  // namespace
}  // namespace anteroom::admission
