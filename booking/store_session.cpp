// The store's login sessions and the capacity summary the waiting room polls.

#include "booking/store.hpp"

#include "booking/sqlite.hpp"
#include "booking/store_errors.hpp"
#include "common/crypto.hpp"

#include <algorithm>
#include <array>
#include <map>

namespace anteroom::booking {

using detail::done;
using detail::from_sqlite;
using detail::one_row;

namespace {

constexpr std::size_t token_bytes = 32;

// Only the hash is stored, so a copy of the database does not log anybody in.
std::optional<crypto::digest> token_hash(std::string_view token) {
    if (token.size() != crypto::base64url_encoded_size(token_bytes)) {
        return std::nullopt;
    }
    return crypto::sha256(token);
}

}  // namespace

result<std::string> store::create_session(session_kind kind, std::int64_t subject, unix_seconds expires_at) {
    std::array<std::uint8_t, token_bytes> raw{};
    if (!crypto::random_bytes(raw)) {
        return {store_error::io};
    }
    std::string token = crypto::base64url_encode(raw);
    const crypto::digest h = crypto::sha256(token);
    sql::transaction tx(*db_);
    if (tx.begin_rc() != SQLITE_OK) {
        return {from_sqlite(tx.begin_rc())};
    }
    auto s = db_->prepare("INSERT INTO sessions(token_hash, kind, subject, expires_at) VALUES (?1, ?2, ?3, ?4)");
    s.bind(1, std::span<const std::uint8_t>(h)).bind(2, static_cast<std::int64_t>(kind)).bind(3, subject);
    s.bind(4, expires_at);
    if (auto e = done(s.step()); e != store_error::ok) {
        return {e};
    }
    return {from_sqlite(tx.commit()), std::move(token)};
}

result<session> store::find_session(std::string_view token, unix_seconds now) {
    const auto h = token_hash(token);
    if (!h) {
        return {store_error::not_found};
    }
    auto s = db_->prepare("SELECT kind, subject, expires_at FROM sessions WHERE token_hash = ?1");
    s.bind(1, std::span<const std::uint8_t>(*h));
    if (auto e = one_row(s.step()); e != store_error::ok) {
        return {e};
    }
    const auto kind = s.int64(0);
    session out{kind == 1 ? session_kind::agent : kind == 2 ? session_kind::admin : session_kind::person, s.int64(1),
                s.int64(2)};
    if (out.expires_at <= now) {
        return {store_error::not_found};
    }
    return {store_error::ok, out};
}

result<void> store::delete_session(std::string_view token) {
    const auto h = token_hash(token);
    if (!h) {
        return {store_error::not_found};
    }
    sql::transaction tx(*db_);
    if (tx.begin_rc() != SQLITE_OK) {
        return {from_sqlite(tx.begin_rc())};
    }
    auto s = db_->prepare("DELETE FROM sessions WHERE token_hash = ?1");
    s.bind(1, std::span<const std::uint8_t>(*h));
    if (auto e = done(s.step()); e != store_error::ok) {
        return {e};
    }
    return {from_sqlite(tx.commit())};
}

result<capacity_summary> store::capacity(unix_seconds now, day_number horizon_days) {
    const day_number today = day_of(now);
    const day_number last = today + std::clamp<day_number>(horizon_days, 1, max_availability_days) - 1;
    // Three grouped reads in one read transaction instead of three per centre and day.
    sql::read_snapshot snapshot(*db_);
    if (snapshot.begin_rc() != SQLITE_OK) {
        return {from_sqlite(snapshot.begin_rc())};
    }
    std::map<std::pair<std::int64_t, day_number>, std::pair<day_stock, day_usage>> days;
    capacity_summary out;
    store_error err = store_error::ok;
    auto read = [&](const char* sql_text, auto&& apply) {
        if (err != store_error::ok) {
            return;
        }
        auto s = db_->prepare(sql_text);
        s.bind(1, today).bind(2, last);
        int rc = 0;
        while ((rc = s.step()) == SQLITE_ROW) {
            apply(s, days[{s.int64(0), static_cast<day_number>(s.int64(1))}]);
        }
        err = done(rc);
    };
    read("SELECT centre_id, day, SUM(vials) FROM deliveries WHERE day BETWEEN ?1 AND ?2 GROUP BY centre_id, day",
         [](sql::stmt& s, auto& d) { d.first.vials = s.int64(2); });
    read("SELECT centre_id, day, COALESCE(SUM(CASE WHEN released_at IS NULL THEN doses END), 0), "
         "COALESCE(SUM(CASE WHEN released_at IS NOT NULL THEN used END), 0) FROM care_home_reservations "
         "WHERE day BETWEEN ?1 AND ?2 GROUP BY centre_id, day",
         [](sql::stmt& s, auto& d) {
             d.first.care_home_reserved = s.int64(2);
             d.first.care_home_used = s.int64(3);
         });
    read("SELECT centre_id, day, COALESCE(SUM(CASE WHEN channel = 0 THEN n END), 0), "
         "COALESCE(SUM(CASE WHEN channel = 1 THEN n END), 0) FROM day_bookings "
         "WHERE day BETWEEN ?1 AND ?2 GROUP BY centre_id, day",
         [](sql::stmt& s, auto& d) {
             d.second.booked_online = s.int64(2);
             d.second.booked_hotline = s.int64(3);
         });
    auto cs = err == store_error::ok ? centres() : result<std::vector<centre>>{err};
    if (err == store_error::ok) {
        auto s = db_->prepare("SELECT MIN(day) FROM deliveries WHERE day > ?1");
        s.bind(1, today);
        if (s.step() == SQLITE_ROW && !s.is_null(0)) {
            out.next_delivery = static_cast<day_number>(s.int64(0));
        }
    }
    snapshot.end();
    if (err != store_error::ok || !cs.ok()) {
        return {err != store_error::ok ? err : cs.error};
    }
    for (const auto& c : cs.value) {
        out.centres.push_back({c.id, c.name, 0});
    }
    for (auto& [k, v] : days) {
        const auto& [centre_id, day] = k;
        // A copy for the lambda: clang 14 (the fuzz build) cannot capture structured bindings.
        const std::int64_t id = centre_id;
        auto it = std::find_if(cs.value.begin(), cs.value.end(), [&](const centre& c) { return c.id == id; });
        if (it == cs.value.end() || !it->opens_on(day)) {
            continue;
        }
        v.second.capacity = day_capacity(v.first, options_.capacity.doses_per_vial);
        const std::int64_t online = remaining(options_.capacity, v.second, channel::online, day, now);
        out.centres[static_cast<std::size_t>(it - cs.value.begin())].available += online;
        out.available += online;
        // Appointments the hotline holds that turn online at the cut-off.
        if (!contingent_released(options_.capacity.hotline, day, now) &&
            remaining(options_.capacity, v.second, channel::hotline, day, now) > online) {
            const unix_seconds at = start_of(day) - options_.capacity.hotline.release_before_s;
            out.next_release_at = out.next_release_at ? std::min(*out.next_release_at, at) : at;
        }
    }
    return {store_error::ok, std::move(out)};
}

}  // namespace anteroom::booking
