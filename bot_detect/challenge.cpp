#include "bot_detect/challenge.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <vector>

#include "common/crypto.hpp"

namespace anteroom::bot_detect {

namespace {

constexpr std::uint8_t magic = 0x42;  // 'B': admission tokens start with 1, so neither passes as the other
constexpr std::size_t mac_size = 16;
constexpr std::size_t body_size = 1 + 1 + 6 + 1 + 8 + 8 + 8 + 8;
constexpr std::size_t record_size = body_size + mac_size;
constexpr std::size_t max_text = crypto::base64url_encoded_size(record_size);

void put64(std::uint8_t* p, std::uint64_t v) {
    for (int i = 7; i >= 0; --i) {
        p[i] = static_cast<std::uint8_t>(v);
        v >>= 8;
    }
}

std::uint64_t get64(const std::uint8_t* p) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
        v = (v << 8) | p[i];
    }
    return v;
}

}  // namespace

std::string_view to_string(token_error e) {
    switch (e) {
        case token_error::malformed: return "malformed";
        case token_error::bad_signature: return "bad_signature";
        case token_error::wrong_kind: return "wrong_kind";
        case token_error::wrong_binding: return "wrong_binding";
        case token_error::expired: return "expired";
        case token_error::too_early: return "too_early";
        case token_error::replayed: return "replayed";
        case token_error::bad_solution: return "bad_solution";
        case token_error::busy: return "busy";
    }
    return "malformed";
}

std::uint64_t bot_binding(const signing_key& key, const ip_address& client, std::string_view user_agent) {
    std::array<std::uint8_t, 12 + 16 + 16> msg{};
    std::memcpy(msg.data(), "anteroom-bot", 12);
    const auto prefix = truncate(client, 24, 64);
    std::copy(prefix.bytes.begin(), prefix.bytes.end(), msg.begin() + 12);
    const auto ua = crypto::sha256(user_agent);
    std::copy_n(ua.begin(), 16, msg.begin() + 28);
    const auto mac = key.mac.sign(msg);
    const std::uint64_t v = get64(mac.data());
    return v == 0 ? 1 : v;
}

std::string encode_token(bot_token t, const key_ring& keys, const ip_address& client, std::string_view user_agent) {
    const signing_key& key = keys.signer();
    t.binding = bot_binding(key, client, user_agent);
    std::array<std::uint8_t, record_size> r{};
    r[0] = magic;
    r[1] = static_cast<std::uint8_t>(t.kind);
    std::copy(key.id.begin(), key.id.end(), r.begin() + 2);
    r[8] = t.difficulty;
    put64(&r[9], t.nonce);
    put64(&r[17], t.binding);
    put64(&r[25], static_cast<std::uint64_t>(t.not_before));
    put64(&r[33], static_cast<std::uint64_t>(t.expires_at));
    const auto mac = key.mac.sign({r.data(), body_size});
    std::copy_n(mac.begin(), mac_size, r.begin() + body_size);
    return crypto::base64url_encode(r);
}

token_result decode_token(std::string_view text, const key_ring& keys, const token_check& check) {
    token_result out;
    if (text.size() != max_text) {
        return out;
    }
    std::array<std::uint8_t, record_size> r{};
    const auto n = crypto::base64url_decode(text, r);
    if (!n || *n != record_size || r[0] != magic || r[1] < 1 || r[1] > 4) {
        return out;
    }
    key_id id;
    std::copy_n(r.begin() + 2, id.size(), id.begin());
    const signing_key* key = keys.find(id);
    if (key == nullptr || !key->mac.verify({r.data(), body_size}, {r.data() + body_size, mac_size})) {
        out.error = token_error::bad_signature;
        return out;
    }
    bot_token t;
    t.kind = static_cast<bot_token_kind>(r[1]);
    t.difficulty = r[8];
    t.nonce = get64(&r[9]);
    t.binding = get64(&r[17]);
    t.not_before = static_cast<unix_ms>(get64(&r[25]));
    t.expires_at = static_cast<unix_ms>(get64(&r[33]));
    if (t.kind != check.want) {
        out.error = token_error::wrong_kind;
        return out;
    }
    if (t.binding != bot_binding(*key, check.client, check.user_agent)) {
        out.error = token_error::wrong_binding;
        return out;
    }
    if (check.now >= t.expires_at) {
        out.error = token_error::expired;
        return out;
    }
    if (check.check_not_before && check.now < t.not_before) {
        out.error = token_error::too_early;
        return out;
    }
    out.token = t;
    return out;
}

std::optional<unsigned> pow_zero_bits(std::string_view token_text, std::string_view solution) {
    if (solution.empty() || solution.size() > 20 || token_text.size() > 256 ||
        (solution.size() > 1 && solution.front() == '0')) {
        return std::nullopt;
    }
    for (char c : solution) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
    }
    std::array<char, 256 + 1 + 20> buf{};
    std::memcpy(buf.data(), token_text.data(), token_text.size());
    buf[token_text.size()] = ':';
    std::memcpy(buf.data() + token_text.size() + 1, solution.data(), solution.size());
    const auto d = crypto::sha256(std::string_view(buf.data(), token_text.size() + 1 + solution.size()));
    unsigned bits = 0;
    for (std::uint8_t b : d) {
        if (b == 0) {
            bits += 8;
            continue;
        }
        bits += static_cast<unsigned>(__builtin_clz(b)) - 24;
        break;
    }
    return bits;
}

struct replay_set::impl {
    static constexpr std::size_t shards = 64;
    static constexpr std::size_t probe = 16;
    struct slot {
        std::uint64_t nonce = 0;
        unix_ms expires_at = 0;
    };
    struct shard {
        std::mutex mu;
        std::vector<slot> slots;
    };
    std::array<shard, shards> s;
    std::size_t per_shard = 0;
};

replay_set::replay_set(std::size_t capacity) : impl_(std::make_unique<impl>()) {
    impl_->per_shard = std::max<std::size_t>((capacity + impl::shards - 1) / impl::shards, impl::probe);
    for (auto& sh : impl_->s) {
        sh.slots.resize(impl_->per_shard);
    }
}

replay_set::~replay_set() = default;

std::size_t replay_set::capacity() const { return impl_->per_shard * impl::shards; }

bool replay_set::insert(std::uint64_t nonce, unix_ms expires_at, unix_ms now, bool& busy) {
    busy = false;
    nonce = nonce == 0 ? 1 : nonce;
    auto& sh = impl_->s[nonce % impl::shards];
    std::lock_guard lock(sh.mu);
    const std::size_t n = impl_->per_shard;
    const std::size_t start = static_cast<std::size_t>((nonce / impl::shards) % n);
    impl::slot* free_slot = nullptr;
    for (std::size_t i = 0; i < impl::probe; ++i) {
        auto& sl = sh.slots[(start + i) % n];
        const bool live = sl.nonce != 0 && sl.expires_at > now;
        if (live && sl.nonce == nonce) {
            return false;
        }
        if (!live && free_slot == nullptr) {
            free_slot = &sl;
        }
    }
    if (free_slot == nullptr) {
        busy = true;
        return false;
    }
    free_slot->nonce = nonce;
    free_slot->expires_at = expires_at;
    return true;
}

}  // namespace anteroom::bot_detect
