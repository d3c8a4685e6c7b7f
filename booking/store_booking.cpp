// The store's booking side: availability, booking (online and hotline), cancel, rebook, letters,
// the audit trail and the retention job. Setup, admin and registration are in store.cpp.

#include "booking/store.hpp"

#include "booking/secret.hpp"
#include "booking/sqlite.hpp"
#include "booking/store_errors.hpp"

#include <algorithm>

namespace anteroom::booking {

namespace {

using detail::done;
using detail::from_sqlite;
using detail::one_row;

store_error audit(sql::connection& db, unix_seconds now, const std::string& actor, const char* action,
                  std::int64_t registration_id) {
    auto s = db.prepare("INSERT INTO audit(at, actor, action, registration_id) VALUES (?1, ?2, ?3, ?4)");
    s.bind(1, now).bind(2, std::string_view(actor)).bind(3, std::string_view(action)).bind(4, registration_id);
    return done(s.step());
}

std::string agent_actor(std::int64_t agent_id) { return "agent:" + std::to_string(agent_id); }

}  // namespace

result<std::vector<day_availability>> store::availability(std::int64_t centre_id, day_number from, day_number to,
                                                          unix_seconds now) {
    from = std::max(from, day_of(now));
    if (to - from >= max_availability_days) {
        return {store_error::invalid_input};
    }
    // One read transaction, so all days are seen at the same point in time.
    sql::read_snapshot snapshot(*db_);
    if (snapshot.begin_rc() != SQLITE_OK) {
        return {from_sqlite(snapshot.begin_rc())};
    }
    std::vector<day_availability> out;
    store_error err = store_error::ok;
    for (day_number d = from; d <= to && err == store_error::ok; ++d) {
        auto u = usage_of(centre_id, d);
        if (!u.ok()) {
            err = u.error;
            break;
        }
        out.push_back({d, u.value.capacity, u.value.booked_online + u.value.booked_hotline,
                       remaining(options_.capacity, u.value, channel::online, d, now),
                       remaining(options_.capacity, u.value, channel::hotline, d, now)});
    }
    snapshot.end();
    return {err, std::move(out)};
}

result<booking_record> store::book_tx(std::int64_t registration_id, std::int64_t centre_id, day_number day,
                                         channel ch, std::int64_t agent_id, unix_seconds now,
                                         std::int64_t replacing_booking) {
    sql::transaction tx(*db_);
    if (tx.begin_rc() != SQLITE_OK) {
        return {from_sqlite(tx.begin_rc())};
    }
    const day_number today = day_of(now);
    if (day < today) {
        return {store_error::day_past};
    }
    std::int64_t group = 0;
    {
        auto s = db_->prepare("SELECT priority_group, postal_address FROM registrations WHERE id = ?1");
        s.bind(1, registration_id);
        if (auto e = one_row(s.step()); e != store_error::ok) {
            return {e};
        }
        group = s.int64(0);
        if (ch == channel::hotline && s.text(1).empty()) {
            return {store_error::address_required};
        }
    }
    {
        std::vector<std::int64_t> open_groups;
        auto s = db_->prepare("SELECT id FROM priority_groups WHERE open = 1");
        int rc = 0;
        while ((rc = s.step()) == SQLITE_ROW) {
            open_groups.push_back(s.int64(0));
        }
        if (rc != SQLITE_DONE) {
            return {from_sqlite(rc)};
        }
        if (!group_may_book(group, open_groups)) {
            return {store_error::group_closed};
        }
    }
    auto c = centre_by_id(centre_id);
    if (!c.ok()) {
        return {c.error};
    }
    if (replacing_booking != 0) {
        // Either appointment of a pair names the pair.
        auto first = db_->prepare("SELECT COALESCE(first_booking, id) FROM bookings WHERE id = ?1 AND registration_id = ?2");
        first.bind(1, replacing_booking).bind(2, registration_id);
        if (auto e = one_row(first.step()); e != store_error::ok) {
            return {e};
        }
        replacing_booking = first.int64(0);
    }
    if (replacing_booking != 0) {
        // Freed first (with its second appointment), so a rebook may take a slot on the same day;
        // the transaction rolls back on failure and the old appointment stays.
        auto s = db_->prepare(
            "DELETE FROM bookings WHERE (id = ?1 OR first_booking = ?1) AND registration_id = ?2 AND day >= ?3");
        s.bind(1, replacing_booking).bind(2, registration_id).bind(3, today);
        if (auto e = done(s.step()); e != store_error::ok) {
            return {e};
        }
        if (sqlite3_changes(db_->get()) == 0) {
            return {store_error::not_found};
        }
    }
    {
        auto s = db_->prepare("SELECT COUNT(*) FROM bookings WHERE registration_id = ?1 AND day >= ?2");
        s.bind(1, registration_id).bind(2, today);
        if (int rc = s.step(); rc != SQLITE_ROW) {
            return {from_sqlite(rc)};
        }
        if (s.int64(0) > 0) {
            return {store_error::already_booked};
        }
    }
    auto first = insert_booking(registration_id, c.value, day, ch, agent_id, now, 0);
    if (!first.ok()) {
        return first;
    }
    if (options_.second_appointment_days > 0) {
        // The second dose: N days later, or the next day the centre opens.
        day_number second_day = day + options_.second_appointment_days;
        for (int i = 0; i < 7 && !c.value.opens_on(second_day); ++i) {
            ++second_day;
        }
        auto second = insert_booking(registration_id, c.value, second_day, ch, agent_id, now, first.value.id);
        if (!second.ok()) {
            return {second.error};
        }
    }
    if (ch == channel::hotline) {
        auto s = db_->prepare("INSERT INTO letters(booking_id, created_at) VALUES (?1, ?2)");
        s.bind(1, first.value.id).bind(2, now);
        if (auto e = done(s.step()); e != store_error::ok) {
            return {e};
        }
        if (auto e = audit(*db_, now, agent_actor(agent_id), "hotline_book", registration_id); e != store_error::ok) {
            return {e};
        }
    }
    return {from_sqlite(tx.commit()), first.value};
}

result<booking_record> store::insert_booking(std::int64_t registration_id, const centre& c, day_number day, channel ch,
                                             std::int64_t agent_id, unix_seconds now, std::int64_t first_booking) {
    if (!c.opens_on(day)) {
        return {store_error::day_closed};
    }
    auto u = usage_of(c.id, day);
    if (!u.ok()) {
        return {u.error};
    }
    if (remaining(options_.capacity, u.value, ch, day, now) <= 0) {
        return {store_error::no_capacity};
    }
    // The next appointment number after the highest taken (one index probe); when that is past
    // the day's capacity, the lowest gap a cancellation left. UNIQUE(centre_id, day, slot)
    // backs this up.
    std::int64_t slot = 0;
    {
        auto s = db_->prepare("SELECT MAX(slot) FROM bookings WHERE centre_id = ?1 AND day = ?2");
        s.bind(1, c.id).bind(2, day);
        if (int rc = s.step(); rc != SQLITE_ROW) {
            return {from_sqlite(rc)};
        }
        slot = s.is_null(0) ? 0 : s.int64(0) + 1;
    }
    if (slot >= u.value.capacity) {
        slot = 0;
        auto s = db_->prepare("SELECT slot FROM bookings WHERE centre_id = ?1 AND day = ?2 ORDER BY slot");
        s.bind(1, c.id).bind(2, day);
        int rc = 0;
        while ((rc = s.step()) == SQLITE_ROW && s.int64(0) == slot) {
            ++slot;
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            return {from_sqlite(rc)};
        }
    }
    if (slot >= u.value.capacity) {
        return {store_error::no_capacity};
    }
    booking_record b{0,  registration_id, c.id, day, slot, appointment_minute(c.hours, u.value.capacity, slot),
                     ch, first_booking};
    auto s = db_->prepare(
        "INSERT INTO bookings(registration_id, centre_id, day, slot, minute, channel, agent_id, created_at, "
        "first_booking) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    s.bind(1, registration_id).bind(2, c.id).bind(3, day).bind(4, slot).bind(5, b.minute);
    s.bind(6, static_cast<std::int64_t>(ch)).bind(8, now);
    if (agent_id != 0) {
        s.bind(7, agent_id);
    }
    if (first_booking != 0) {
        s.bind(9, first_booking);
    }
    if (auto e = done(s.step()); e != store_error::ok) {
        return {e};
    }
    b.id = sqlite3_last_insert_rowid(db_->get());
    return {store_error::ok, b};
}

result<booking_record> store::book(std::int64_t registration_id, std::int64_t centre_id, day_number day,
                                   unix_seconds now) {
    return book_tx(registration_id, centre_id, day, channel::online, 0, now, 0);
}

result<booking_record> store::rebook(std::int64_t registration_id, std::int64_t booking_id, std::int64_t centre_id,
                                     day_number day, unix_seconds now) {
    return book_tx(registration_id, centre_id, day, channel::online, 0, now, booking_id);
}

result<void> store::cancel(std::int64_t registration_id, std::int64_t booking_id, unix_seconds now) {
    // Deleting the rows returns the appointments to the pool in the same statement; cancelling
    // either appointment of a pair cancels both.
    sql::transaction tx(*db_);
    if (tx.begin_rc() != SQLITE_OK) {
        return {from_sqlite(tx.begin_rc())};
    }
    const day_number today = day_of(now);
    std::int64_t first = booking_id;
    {
        auto s = db_->prepare(
            "SELECT COALESCE(first_booking, id), day FROM bookings WHERE id = ?1 AND registration_id = ?2");
        s.bind(1, booking_id).bind(2, registration_id);
        if (auto e = one_row(s.step()); e != store_error::ok) {
            return {e};
        }
        first = s.int64(0);
        if (s.int64(1) < today) {
            return {store_error::day_past};
        }
    }
    // A first dose already given stays on record when its second appointment is cancelled.
    auto s = db_->prepare(
        "DELETE FROM bookings WHERE (id = ?1 OR first_booking = ?1) AND registration_id = ?2 AND day >= ?3");
    s.bind(1, first).bind(2, registration_id).bind(3, today);
    if (auto e = detail::change_one(s, db_->get()); e != store_error::ok) {
        return {e};
    }
    return {from_sqlite(tx.commit())};
}

result<std::vector<booking_record>> store::bookings_of(std::int64_t registration_id) {
    auto s = db_->prepare(
        "SELECT id, centre_id, day, slot, minute, channel, COALESCE(first_booking, 0) FROM bookings "
        "WHERE registration_id = ?1 ORDER BY day, id");
    s.bind(1, registration_id);
    std::vector<booking_record> out;
    int rc = 0;
    while ((rc = s.step()) == SQLITE_ROW) {
        out.push_back({s.int64(0), registration_id, s.int64(1), static_cast<day_number>(s.int64(2)), s.int64(3),
                       static_cast<int>(s.int64(4)), s.int64(5) == 1 ? channel::hotline : channel::online,
                       s.int64(6)});
    }
    return {done(rc), std::move(out)};
}

result<std::int64_t> store::registration_id_by_code(std::string_view booking_code) {
    auto s = db_->prepare("SELECT id FROM registrations WHERE code = ?1");
    s.bind(1, normalise_booking_code(booking_code));
    if (auto e = one_row(s.step()); e != store_error::ok) {
        return {e};
    }
    return {store_error::ok, s.int64(0)};
}

result<registration_view> store::registration(std::int64_t registration_id) {
    auto s = db_->prepare(
        "SELECT id, code, name, contact, postal_address, birth_date, priority_group FROM registrations WHERE id = ?1");
    s.bind(1, registration_id);
    if (auto e = one_row(s.step()); e != store_error::ok) {
        return {e};
    }
    return {store_error::ok,
            {s.int64(0), s.text(1), s.text(2), s.text(3), s.text(4), static_cast<day_number>(s.int64(5)), s.int64(6)}};
}

result<std::int64_t> store::create_agent(std::string_view name, std::string_view password, unix_seconds now) {
    if (name.empty() || password.size() < 8) {
        return {store_error::invalid_input};
    }
    const secret_hash h = hash_secret(password, options_.pin_iterations);
    if (h.hash.empty()) {
        return {store_error::io};
    }
    sql::transaction tx(*db_);
    if (tx.begin_rc() != SQLITE_OK) {
        return {from_sqlite(tx.begin_rc())};
    }
    auto s = db_->prepare(
        "INSERT INTO agents(name, pw_salt, pw_hash, pw_iterations, created_at) VALUES (?1, ?2, ?3, ?4, ?5)");
    s.bind(1, name).bind(2, std::span<const std::uint8_t>(h.salt)).bind(3, std::span<const std::uint8_t>(h.hash));
    s.bind(4, h.iterations).bind(5, now);
    if (auto e = done(s.step()); e != store_error::ok) {
        return {e};
    }
    const std::int64_t id = sqlite3_last_insert_rowid(db_->get());
    return {from_sqlite(tx.commit()), id};
}

result<std::int64_t> store::agent_login(std::string_view name, std::string_view password) {
    auto s = db_->prepare("SELECT id, pw_salt, pw_hash, pw_iterations FROM agents WHERE name = ?1");
    s.bind(1, name);
    return detail::check_login(s, password, options_.pin_iterations);
}

result<registration_view> store::agent_read_registration(std::int64_t agent_id, std::string_view booking_code,
                                                         unix_seconds now) {
    sql::transaction tx(*db_);
    if (tx.begin_rc() != SQLITE_OK) {
        return {from_sqlite(tx.begin_rc())};
    }
    registration_view v;
    {
        auto s = db_->prepare(
            "SELECT id, code, name, contact, postal_address, birth_date, priority_group FROM registrations "
            "WHERE code = ?1");
        s.bind(1, normalise_booking_code(booking_code));
        if (auto e = one_row(s.step()); e != store_error::ok) {
            return {e};
        }
        v = {s.int64(0), s.text(1), s.text(2), s.text(3), s.text(4), static_cast<day_number>(s.int64(5)), s.int64(6)};
    }
    // The read is only returned when its audit row is committed with it.
    if (auto e = audit(*db_, now, agent_actor(agent_id), "read_registration", v.id); e != store_error::ok) {
        return {e};
    }
    if (auto e = from_sqlite(tx.commit()); e != store_error::ok) {
        return {e};
    }
    return {store_error::ok, std::move(v)};
}

result<booking_record> store::hotline_book(std::int64_t agent_id, std::int64_t registration_id, std::int64_t centre_id,
                                           day_number day, unix_seconds now) {
    if (agent_id <= 0) {
        return {store_error::invalid_input};
    }
    return book_tx(registration_id, centre_id, day, channel::hotline, agent_id, now, 0);
}

result<std::vector<letter>> store::pending_letters() {
    auto s = db_->prepare(
        "SELECT l.id, b.id, r.name, r.postal_address, b.centre_id, b.day, b.minute FROM letters l "
        "JOIN bookings b ON b.id = l.booking_id JOIN registrations r ON r.id = b.registration_id "
        "WHERE l.printed_at IS NULL ORDER BY l.id");
    std::vector<letter> out;
    int rc = 0;
    while ((rc = s.step()) == SQLITE_ROW) {
        out.push_back({s.int64(0), s.int64(1), s.text(2), s.text(3), s.int64(4), static_cast<day_number>(s.int64(5)),
                       static_cast<int>(s.int64(6))});
    }
    return {done(rc), std::move(out)};
}

result<letter> store::letter_for_print(std::int64_t letter_id, std::string_view actor, unix_seconds now) {
    sql::transaction tx(*db_);
    if (tx.begin_rc() != SQLITE_OK) {
        return {from_sqlite(tx.begin_rc())};
    }
    letter out;
    std::int64_t registration_id = 0;
    {
        auto s = db_->prepare(
            "SELECT l.id, b.id, r.name, r.postal_address, b.centre_id, b.day, b.minute, r.id FROM letters l "
            "JOIN bookings b ON b.id = l.booking_id JOIN registrations r ON r.id = b.registration_id "
            "WHERE l.id = ?1");
        s.bind(1, letter_id);
        if (auto e = one_row(s.step()); e != store_error::ok) {
            return {e};
        }
        out = {s.int64(0), s.int64(1), s.text(2), s.text(3), s.int64(4), static_cast<day_number>(s.int64(5)),
               static_cast<int>(s.int64(6))};
        registration_id = s.int64(7);
    }
    if (auto e = audit(*db_, now, std::string(actor), "print_letter", registration_id); e != store_error::ok) {
        return {e};
    }
    if (auto e = from_sqlite(tx.commit()); e != store_error::ok) {
        return {e};
    }
    return {store_error::ok, std::move(out)};
}

result<void> store::mark_letter_printed(std::int64_t letter_id, unix_seconds now) {
    sql::transaction tx(*db_);
    if (tx.begin_rc() != SQLITE_OK) {
        return {from_sqlite(tx.begin_rc())};
    }
    {
        auto q = db_->prepare("SELECT printed_at IS NOT NULL FROM letters WHERE id = ?1");
        q.bind(1, letter_id);
        if (auto e = one_row(q.step()); e != store_error::ok) {
            return {e};
        }
        if (q.int64(0) != 0) {
            return {};  // printed already: marking again changes nothing
        }
    }
    auto s = db_->prepare("UPDATE letters SET printed_at = ?2 WHERE id = ?1 AND printed_at IS NULL");
    s.bind(1, letter_id).bind(2, now);
    if (auto e = detail::change_one(s, db_->get()); e != store_error::ok) {
        return {e};
    }
    return {from_sqlite(tx.commit())};
}

result<std::int64_t> store::audit_count(std::int64_t registration_id) {
    auto s = db_->prepare("SELECT COUNT(*) FROM audit WHERE registration_id = ?1");
    s.bind(1, registration_id);
    const int rc = s.step();
    return {rc == SQLITE_ROW ? store_error::ok : from_sqlite(rc), rc == SQLITE_ROW ? s.int64(0) : 0};
}

result<std::int64_t> store::registration_count() {
    auto s = db_->prepare("SELECT COUNT(*) FROM registrations");
    const int rc = s.step();
    return {rc == SQLITE_ROW ? store_error::ok : from_sqlite(rc), rc == SQLITE_ROW ? s.int64(0) : 0};
}

result<retention_counts> store::run_retention(unix_seconds now) {
    sql::transaction tx(*db_);
    if (tx.begin_rc() != SQLITE_OK) {
        return {from_sqlite(tx.begin_rc())};
    }
    const day_number today = day_of(now);
    std::vector<std::pair<std::int64_t, retention_verdict>> doomed;
    {
        auto s = db_->prepare(
            "SELECT r.id, r.created_at, r.vaccination_complete, "
            "       EXISTS (SELECT 1 FROM bookings b WHERE b.registration_id = r.id) FROM registrations r");
        int rc = 0;
        while ((rc = s.step()) == SQLITE_ROW) {
            registration_facts f{day_of(s.int64(1)), s.int64(3) != 0, std::nullopt};
            if (!s.is_null(2)) {
                f.vaccination_complete = static_cast<day_number>(s.int64(2));
            }
            if (auto v = retention_check(options_.retention, f, today); v != retention_verdict::keep) {
                doomed.emplace_back(s.int64(0), v);
            }
        }
        if (rc != SQLITE_DONE) {
            return {from_sqlite(rc)};
        }
    }
    retention_counts counts;
    {
        auto s = db_->prepare("DELETE FROM sessions WHERE expires_at <= ?1");
        s.bind(1, now);
        if (auto e = done(s.step()); e != store_error::ok) {
            return {e};
        }
        counts.sessions_expired = sqlite3_changes(db_->get());
    }
    for (const auto& [id, verdict] : doomed) {
        // Bookings keep their (anonymous) row so past days still count what they used.
        auto s = db_->prepare("DELETE FROM registrations WHERE id = ?1");
        s.bind(1, id);
        if (auto e = done(s.step()); e != store_error::ok) {
            return {e};
        }
        auto logout = db_->prepare("DELETE FROM sessions WHERE kind = 0 AND subject = ?1");
        logout.bind(1, id);
        if (auto e = done(logout.step()); e != store_error::ok) {
            return {e};
        }
        ++(verdict == retention_verdict::delete_unbooked ? counts.unbooked_deleted : counts.vaccinated_deleted);
    }
    if (auto e = from_sqlite(tx.commit()); e != store_error::ok) {
        return {e};
    }
    return {store_error::ok, counts};
}

}  // namespace anteroom::booking
