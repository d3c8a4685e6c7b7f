// Token wire format, version 1. All integers big-endian, fixed width; the whole record is
// base64url without padding.
//
//   offset  size  field
//   0       1     version = 1
//   1       1     kind: 1 ticket, 2 pass, 3 invitation
//   2       6     key id (which key of the ring made the MAC)
//   8       1     room length n, 1..64
//   9       n     room id bytes
//   9+n           fields of the kind:
//                   ticket      seq u64, issued_at i64, binding u64, epoch u32, flags u8   (29 bytes)
//                   pass        pass_id u64, admitted_at i64, expires_at i64, binding u64,
//                               ticket_seq u64                                          (40 bytes)
//                   invitation  code_id u64, not_after i64                                (16 bytes)
//   end-16  16    HMAC-SHA256 over every byte before it, truncated to 16 bytes
//
// So a ticket is 54 + n bytes (at most 158 characters), a pass 65 + n (at most 172) and an
// invitation 41 + n (at most 140). The length is implied by version, kind and room length, so a
// decoder accepts exactly one length: truncated, extended and trailing bytes are all malformed,
// and all of that is settled before the key lookup and the MAC. Times are Unix milliseconds.
//
// A new field or meaning needs a new version byte; old versions are then rejected as malformed
// (tickets and passes are short-lived, so nobody keeps one across such a change for long).
//
// The client binding is a second HMAC under the signing key over a different domain (its input
// starts with the label "ar-bind1", a token's with the byte 0x01), so a binding value is never
// a valid MAC of anything and a MAC never a binding.

#include "admission/token.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>

namespace anteroom::admission {

namespace {

constexpr std::uint8_t format_version = 1;
constexpr std::size_t header_size = 9;  // version, kind, key id, room length
constexpr std::size_t max_room = 64;
constexpr std::size_t mac_size = 16;

constexpr std::size_t fields_size(token_kind k) {
    switch (k) {
        case token_kind::ticket:
            return 8 + 8 + 8 + 4 + 1;
        case token_kind::pass:
            return 8 + 8 + 8 + 8 + 8;
        case token_kind::invitation:
            return 8 + 8;
    }
    return 0;
}

constexpr std::size_t max_record = header_size + max_room + fields_size(token_kind::pass) + mac_size;
static_assert(crypto::base64url_encoded_size(max_record) <= max_token_length);

using record = std::array<std::uint8_t, max_record>;

class writer {
public:
    explicit writer(record& r) : r_(r) {}

    void u8(std::uint8_t v) { r_[n_++] = v; }
    void u32(std::uint32_t v) {
        for (int shift = 24; shift >= 0; shift -= 8) {
            u8(static_cast<std::uint8_t>(v >> shift));
        }
    }
    void u64(std::uint64_t v) {
        for (int shift = 56; shift >= 0; shift -= 8) {
            u8(static_cast<std::uint8_t>(v >> shift));
        }
    }
    void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
    void bytes(std::span<const std::uint8_t> b) {
        std::memcpy(r_.data() + n_, b.data(), b.size());
        n_ += b.size();
    }

    // Version, kind, the signer's id and the room.
    void header(token_kind kind, const signing_key& key, std::string_view room) {
        if (room.empty() || room.size() > max_room) {
            throw std::invalid_argument("token room id must be 1..64 bytes");
        }
        u8(format_version);
        u8(static_cast<std::uint8_t>(kind));
        bytes(key.id);
        u8(static_cast<std::uint8_t>(room.size()));
        bytes({reinterpret_cast<const std::uint8_t*>(room.data()), room.size()});
    }

    // Appends the MAC and returns the text.
    std::string finish(const signing_key& key) {
        const auto mac = key.mac.sign({r_.data(), n_});
        bytes({mac.data(), mac_size});
        return crypto::base64url_encode({r_.data(), n_});
    }

private:
    record& r_;
    std::size_t n_ = 0;
};

class reader {
public:
    explicit reader(std::span<const std::uint8_t> b) : b_(b) {}

    std::uint8_t u8() { return b_[n_++]; }
    std::uint32_t u32() {
        std::uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            v = (v << 8) | u8();
        }
        return v;
    }
    std::uint64_t u64() {
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) {
            v = (v << 8) | u8();
        }
        return v;
    }
    std::int64_t i64() { return static_cast<std::int64_t>(u64()); }

private:
    std::span<const std::uint8_t> b_;
    std::size_t n_ = 0;
};

// A record whose shape, key and MAC have been checked; the fields of its kind start at `fields`.
struct verified {
    const signing_key* key = nullptr;
    std::string_view room;
    std::span<const std::uint8_t> fields;
};

// Everything that does not depend on the kind's fields: length, version, kind, room length, key
// id, MAC — in that order, so the reason reported is the first thing wrong.
std::variant<verified, reject_reason> open(std::string_view text, token_kind kind, const key_ring& keys,
                                           record& buf) {
    if (text.size() > max_token_length) {
        return reject_reason::malformed;
    }
    const auto n = crypto::base64url_decode(text, buf);
    if (!n || *n < header_size || buf[0] != format_version || buf[1] != static_cast<std::uint8_t>(kind)) {
        return reject_reason::malformed;
    }
    const std::size_t room_len = buf[8];
    if (room_len == 0 || room_len > max_room || *n != header_size + room_len + fields_size(kind) + mac_size) {
        return reject_reason::malformed;
    }
    key_id id;
    std::copy_n(buf.begin() + 2, id.size(), id.begin());
    const signing_key* key = keys.find(id);
    if (key == nullptr) {
        return reject_reason::unknown_key;
    }
    const std::size_t signed_len = *n - mac_size;
    if (!key->mac.verify({buf.data(), signed_len}, {buf.data() + signed_len, mac_size})) {
        return reject_reason::bad_signature;
    }
    return verified{key, {reinterpret_cast<const char*>(buf.data() + header_size), room_len},
                    {buf.data() + header_size + room_len, fields_size(kind)}};
}

std::optional<reject_reason> check_binding(std::uint64_t carried, const signing_key& signer, const key_ring& keys,
                                           const verify_context& ctx) {
    if (!ctx.binding.binds_anything()) {
        return std::nullopt;
    }
    if (carried == 0) {
        return reject_reason::wrong_binding;
    }
    if (client_binding(signer, ctx.binding, ctx.client, ctx.user_agent) == carried) {
        return std::nullopt;
    }
    // A pass keeps the binding of the ticket it was admitted from, which an older key may have made.
    for (const auto& k : keys.keys) {
        if (&k != &signer && client_binding(k, ctx.binding, ctx.client, ctx.user_agent) == carried) {
            return std::nullopt;
        }
    }
    return reject_reason::wrong_binding;
}

}  // namespace

std::string_view to_string(reject_reason r) {
    switch (r) {
        case reject_reason::malformed:
            return "malformed";
        case reject_reason::unknown_key:
            return "unknown_key";
        case reject_reason::bad_signature:
            return "bad_signature";
        case reject_reason::expired:
            return "expired";
        case reject_reason::wrong_room:
            return "wrong_room";
        case reject_reason::wrong_binding:
            return "wrong_binding";
        case reject_reason::future:
            return "future";
        case reject_reason::revoked:
            return "revoked";
    }
    return "unknown";
}

std::uint64_t client_binding(const signing_key& key, const binding_policy& policy, const ip_address& client,
                             std::string_view user_agent) {
    if (!policy.binds_anything()) {
        return 0;
    }
    // label, what is bound, the prefix lengths, the truncated address (or zeros), the first half
    // of SHA-256 of the User-Agent (or zeros): fixed width, so no two inputs share an encoding,
    // and 43 bytes, so the inner hash is one compression.
    static constexpr std::string_view label = "ar-bind1";
    std::array<std::uint8_t, 8 + 3 + 16 + 16> msg{};
    std::memcpy(msg.data(), label.data(), label.size());
    msg[8] = static_cast<std::uint8_t>((policy.ip_prefix ? 1 : 0) | (policy.user_agent ? 2 : 0));
    msg[9] = static_cast<std::uint8_t>(std::min(policy.v4_prefix, 32u));
    msg[10] = static_cast<std::uint8_t>(std::min(policy.v6_prefix, 128u));
    if (policy.ip_prefix) {
        const auto prefix = truncate(client, msg[9], msg[10]);
        std::copy(prefix.bytes.begin(), prefix.bytes.end(), msg.begin() + 11);
    }
    if (policy.user_agent) {
        const auto ua = crypto::sha256(user_agent);
        std::copy_n(ua.begin(), 16, msg.begin() + 27);
    }
    const auto mac = key.mac.sign(msg);
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
        v = (v << 8) | mac[static_cast<std::size_t>(i)];
    }
    return v == 0 ? 1 : v;  // 0 means "unbound"
}

std::uint64_t client_binding(const key_ring& keys, const binding_policy& policy, const ip_address& client,
                             std::string_view user_agent) {
    return client_binding(keys.signer(), policy, client, user_agent);
}

namespace {

template <class Fields>
std::string encode_record(token_kind kind, std::string_view room, const key_ring& keys, Fields&& fields) {
    record buf{};
    writer w(buf);
    w.header(kind, keys.signer(), room);
    fields(w);
    return w.finish(keys.signer());
}

}  // namespace

std::string encode(const ticket& t, const key_ring& keys) {
    return encode_record(token_kind::ticket, t.room, keys, [&](writer& w) {
        w.u64(t.seq);
        w.i64(t.issued_at);
        w.u64(t.binding);
        w.u32(t.epoch);
        w.u8(t.flags);
    });
}

std::string encode(const pass& p, const key_ring& keys) {
    return encode_record(token_kind::pass, p.room, keys, [&](writer& w) {
        w.u64(p.pass_id);
        w.i64(p.admitted_at);
        w.i64(p.expires_at);
        w.u64(p.binding);
        w.u64(p.ticket_seq);
    });
}

std::string encode(const invitation& i, const key_ring& keys) {
    return encode_record(token_kind::invitation, i.room, keys, [&](writer& w) {
        w.u64(i.code_id);
        w.i64(i.not_after);
    });
}

namespace {

// Opens the record, checks the room, then lets `fields` read the kind's fields into a T and
// check time and binding; T's room is filled last, only for a token that passed.
template <class T, class Fields>
decoded<T> decode_record(std::string_view text, token_kind kind, const key_ring& keys, const verify_context& ctx,
                         Fields&& fields) {
    record buf{};
    auto opened = open(text, kind, keys, buf);
    if (auto* r = std::get_if<reject_reason>(&opened)) {
        return *r;
    }
    const auto& v = std::get<verified>(opened);
    if (v.room != ctx.room) {
        return reject_reason::wrong_room;
    }
    reader rd(v.fields);
    T out;
    if (const std::optional<reject_reason> r = fields(rd, out, *v.key)) {
        return *r;
    }
    out.room = v.room;
    return out;
}

}  // namespace

// Time checks compare the token's value with bounds computed from the caller's values only, so
// no arithmetic is done on (possibly extreme) token fields.

decoded<ticket> decode_ticket(std::string_view text, const key_ring& keys, const verify_context& ctx) {
    return decode_record<ticket>(
        text, token_kind::ticket, keys, ctx,
        [&](reader& rd, ticket& t, const signing_key& signer) -> std::optional<reject_reason> {
            t.seq = rd.u64();
            t.issued_at = rd.i64();
            t.binding = rd.u64();
            t.epoch = rd.u32();
            t.flags = rd.u8();
            if (ctx.max_age_ms > 0 && t.issued_at < ctx.now - ctx.max_age_ms) {
                return reject_reason::expired;
            }
            if (t.issued_at > ctx.now + ctx.allowed_skew_ms) {
                return reject_reason::future;
            }
            return check_binding(t.binding, signer, keys, ctx);
        });
}

decoded<pass> decode_pass(std::string_view text, const key_ring& keys, const verify_context& ctx) {
    return decode_record<pass>(
        text, token_kind::pass, keys, ctx,
        [&](reader& rd, pass& p, const signing_key& signer) -> std::optional<reject_reason> {
            p.pass_id = rd.u64();
            p.admitted_at = rd.i64();
            p.expires_at = rd.i64();
            p.binding = rd.u64();
            p.ticket_seq = rd.u64();
            if (p.expires_at <= ctx.now) {
                return reject_reason::expired;
            }
            if (p.admitted_at > ctx.now + ctx.allowed_skew_ms) {
                return reject_reason::future;
            }
            return check_binding(p.binding, signer, keys, ctx);
        });
}

decoded<invitation> decode_invitation(std::string_view text, const key_ring& keys, const verify_context& ctx) {
    return decode_record<invitation>(
        text, token_kind::invitation, keys, ctx,
        [&](reader& rd, invitation& i, const signing_key&) -> std::optional<reject_reason> {
            i.code_id = rd.u64();
            i.not_after = rd.i64();
            if (i.not_after < ctx.now) {
                return reject_reason::expired;
            }
            return std::nullopt;
        });
}

}  // namespace anteroom::admission
