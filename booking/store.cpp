#include "booking/store.hpp"

#include "booking/secret.hpp"
#include "booking/sqlite.hpp"
#include "booking/store_errors.hpp"

#include <algorithm>
#include <array>

namespace anteroom::booking {

using detail::done;
using detail::from_sqlite;
using detail::one_row;

namespace {

// Ordered migrations: entry i takes user_version i to i + 1. Never edit a shipped entry; append.
constexpr std::array<const char*, 4> migrations = {
    R"sql(
CREATE TABLE centres(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
  opens_minute INTEGER NOT NULL, closes_minute INTEGER NOT NULL, slot_minutes INTEGER NOT NULL);
CREATE TABLE deliveries(
  id INTEGER PRIMARY KEY, centre_id INTEGER NOT NULL REFERENCES centres(id),
  day INTEGER NOT NULL, vials INTEGER NOT NULL CHECK (vials > 0), recorded_at INTEGER NOT NULL);
CREATE TABLE care_home_reservations(
  id INTEGER PRIMARY KEY, centre_id INTEGER NOT NULL REFERENCES centres(id), day INTEGER NOT NULL,
  doses INTEGER NOT NULL CHECK (doses > 0), used INTEGER, created_at INTEGER NOT NULL, released_at INTEGER);
CREATE TABLE priority_groups(id INTEGER PRIMARY KEY, open INTEGER NOT NULL DEFAULT 0);
CREATE TABLE registrations(
  id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE,
  pin_salt BLOB NOT NULL, pin_hash BLOB NOT NULL, pin_iterations INTEGER NOT NULL,
  name TEXT NOT NULL, birth_date INTEGER NOT NULL, contact TEXT NOT NULL, postal_address TEXT NOT NULL,
  priority_group INTEGER NOT NULL, created_at INTEGER NOT NULL, vaccination_complete INTEGER);
CREATE TABLE agents(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
  pw_salt BLOB NOT NULL, pw_hash BLOB NOT NULL, pw_iterations INTEGER NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE bookings(
  id INTEGER PRIMARY KEY,
  registration_id INTEGER REFERENCES registrations(id) ON DELETE SET NULL,
  centre_id INTEGER NOT NULL REFERENCES centres(id), day INTEGER NOT NULL, slot INTEGER NOT NULL,
  minute INTEGER NOT NULL, channel INTEGER NOT NULL, agent_id INTEGER REFERENCES agents(id), created_at INTEGER NOT NULL,
  UNIQUE (centre_id, day, slot));
CREATE TABLE letters(
  id INTEGER PRIMARY KEY, booking_id INTEGER NOT NULL REFERENCES bookings(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL, printed_at INTEGER);
CREATE TABLE audit(
  id INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  registration_id INTEGER);
)sql",
    R"sql(
CREATE INDEX deliveries_by_day ON deliveries(centre_id, day);
CREATE INDEX care_home_by_day ON care_home_reservations(centre_id, day);
CREATE INDEX bookings_by_registration ON bookings(registration_id);
CREATE INDEX letters_pending ON letters(printed_at);
)sql",
    R"sql(
ALTER TABLE centres ADD COLUMN open_days INTEGER NOT NULL DEFAULT 127;
ALTER TABLE bookings ADD COLUMN first_booking INTEGER REFERENCES bookings(id) ON DELETE CASCADE;
CREATE INDEX bookings_by_first ON bookings(first_booking);
CREATE INDEX bookings_by_day ON bookings(day);
CREATE TABLE sessions(
  token_hash BLOB PRIMARY KEY, kind INTEGER NOT NULL, subject INTEGER NOT NULL, expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_expiry ON sessions(expires_at);
)sql",
    // Bookings per centre, day and channel, kept by triggers: a booking reads one row instead of
    // counting the day's bookings.
    R"sql(
CREATE TABLE day_bookings(
  centre_id INTEGER NOT NULL, day INTEGER NOT NULL, channel INTEGER NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY (centre_id, day, channel)) WITHOUT ROWID;
INSERT INTO day_bookings SELECT centre_id, day, channel, COUNT(*) FROM bookings GROUP BY centre_id, day, channel;
CREATE TRIGGER day_bookings_insert AFTER INSERT ON bookings BEGIN
  INSERT INTO day_bookings(centre_id, day, channel, n) VALUES (NEW.centre_id, NEW.day, NEW.channel, 1)
    ON CONFLICT(centre_id, day, channel) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER day_bookings_delete AFTER DELETE ON bookings BEGIN
  UPDATE day_bookings SET n = n - 1 WHERE centre_id = OLD.centre_id AND day = OLD.day AND channel = OLD.channel;
END;
)sql",
};

}  // namespace

store_error detail::from_sqlite(int rc) {
    switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE: return store_error::ok;
        case SQLITE_BUSY:
        case SQLITE_LOCKED: return store_error::busy;
        case SQLITE_CONSTRAINT: return store_error::conflict;
        default: return store_error::io;
    }
}

store_error detail::done(int rc) { return rc == SQLITE_DONE ? store_error::ok : from_sqlite(rc); }

store_error detail::change_one(sql::stmt& s, sqlite3* db) {
    const store_error e = done(s.step());
    return e == store_error::ok && sqlite3_changes(db) == 0 ? store_error::not_found : e;
}

store_error detail::one_row(int rc) {
    return rc == SQLITE_ROW ? store_error::ok : rc == SQLITE_DONE ? store_error::not_found : from_sqlite(rc);
}

namespace {

bool valid_hours(const opening_hours& h) {
    return h.opens_minute >= 0 && h.closes_minute <= 24 * 60 && h.opens_minute < h.closes_minute &&
           h.slot_minutes > 0;
}

}  // namespace

std::string_view to_string(store_error e) {
    switch (e) {
        case store_error::ok: return "ok";
        case store_error::invalid_input: return "invalid_input";
        case store_error::not_found: return "not_found";
        case store_error::wrong_credentials: return "wrong_credentials";
        case store_error::group_closed: return "group_closed";
        case store_error::already_booked: return "already_booked";
        case store_error::no_capacity: return "no_capacity";
        case store_error::day_past: return "day_past";
        case store_error::address_required: return "address_required";
        case store_error::conflict: return "conflict";
        case store_error::busy: return "busy";
        case store_error::io: return "io";
        case store_error::schema_too_new: return "schema_too_new";
        case store_error::day_closed: return "day_closed";
    }
    return "unknown";
}

store_error store::begin_batch() { return from_sqlite(db_->begin_batch()); }

bool store::batch_intact() const { return db_->batch_intact(); }

store_error store::end_batch(bool commit) { return from_sqlite(db_->end_batch(commit)); }

sql::connection::~connection() {
    for (auto& [sql_text, s] : cache_) {
        sqlite3_finalize(s);
    }
    sqlite3_close(db_);
}

sql::stmt sql::connection::prepare(const char* sql_text) {
    auto it = cache_.find(sql_text);
    if (it != cache_.end()) {
        return stmt(it->second);
    }
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql_text, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
        return stmt(nullptr);
    }
    cache_.emplace(sql_text, s);
    return stmt(s);
}

store::store(std::unique_ptr<sql::connection> db, store_options options)
    : db_(std::move(db)), options_(options) {}

store::~store() = default;

int store::latest_schema_version() { return static_cast<int>(migrations.size()); }

int store::schema_version() const {
    auto s = db_->prepare("PRAGMA user_version");
    return s.step() == SQLITE_ROW ? static_cast<int>(s.int64(0)) : -1;
}

result<std::unique_ptr<store>> store::open(const std::string& path, const store_options& options) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                   nullptr);
    auto conn = std::make_unique<sql::connection>(raw);  // closes raw also when opening failed
    if (rc != SQLITE_OK) {
        return {store_error::io, nullptr};
    }
    sqlite3_busy_timeout(raw, options.busy_timeout_ms);
    // WAL: readers never block the writer, and with synchronous=NORMAL a committed transaction is
    // in the WAL file before COMMIT returns, so it survives kill -9 of the process; FULL adds an
    // fsync per commit and so survives a power loss too, at the cost of bookings per second.
    // secure_delete overwrites deleted personal data instead of leaving it in free pages.
    const char* sync = options.fsync_each_commit ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
    if (conn->exec("PRAGMA journal_mode=WAL") != SQLITE_OK || conn->exec(sync) != SQLITE_OK ||
        conn->exec("PRAGMA secure_delete=ON") != SQLITE_OK || conn->exec("PRAGMA foreign_keys=ON") != SQLITE_OK) {
        return {from_sqlite(sqlite3_errcode(raw)) == store_error::busy ? store_error::busy : store_error::io, nullptr};
    }
    conn->set_writer(options.writer ? options.writer : std::make_shared<std::mutex>());
    std::unique_ptr<store> s(new store(std::move(conn), options));
    if (auto m = s->migrate(); !m.ok()) {
        return {m.error, nullptr};
    }
    return {store_error::ok, std::move(s)};
}

result<void> store::migrate() {
    sql::transaction tx(*db_);
    if (tx.begin_rc() != SQLITE_OK) {
        return {from_sqlite(tx.begin_rc())};
    }
    const int version = schema_version();
    if (version < 0) {
        return {store_error::io};
    }
    if (version > latest_schema_version()) {
        return {store_error::schema_too_new};
    }
    for (int v = version; v < latest_schema_version(); ++v) {
        if (int rc = db_->exec(migrations[static_cast<std::size_t>(v)]); rc != SQLITE_OK) {
            return {from_sqlite(rc)};
        }
        const std::string set = "PRAGMA user_version=" + std::to_string(v + 1);
        if (int rc = db_->exec(set.c_str()); rc != SQLITE_OK) {
            return {from_sqlite(rc)};
        }
    }
    return {from_sqlite(tx.commit())};
}

namespace {

centre centre_from_row(const sql::stmt& s) {
    centre c;
    c.id = s.int64(0);
    c.name = s.text(1);
    c.hours = {static_cast<int>(s.int64(2)), static_cast<int>(s.int64(3)), static_cast<int>(s.int64(4))};
    c.open_days = static_cast<std::uint8_t>(s.int64(5) & every_day);
    return c;
}

// ?1 name, ?2 opens, ?3 closes, ?4 slot minutes, ?5 open days.
void bind_centre(sql::stmt& s, const centre& c) {
    s.bind(1, std::string_view(c.name)).bind(2, c.hours.opens_minute).bind(3, c.hours.closes_minute);
    s.bind(4, c.hours.slot_minutes).bind(5, c.open_days & every_day);
}

bool valid_centre(const centre& c) {
    return !c.name.empty() && c.name.size() <= 200 && valid_hours(c.hours) && (c.open_days & every_day) != 0;
}

}  // namespace

result<std::int64_t> store::add_centre(const centre& c) {
    if (!valid_centre(c)) {
        return {store_error::invalid_input};
    }
    sql::transaction tx(*db_);
    if (tx.begin_rc() != SQLITE_OK) {
        return {from_sqlite(tx.begin_rc())};
    }
    auto s = db_->prepare(
        "INSERT INTO centres(name, opens_minute, closes_minute, slot_minutes, open_days) VALUES (?1, ?2, ?3, ?4, ?5)");
    bind_centre(s, c);
    if (auto e = done(s.step()); e != store_error::ok) {
        return {e};
    }
    const std::int64_t id = sqlite3_last_insert_rowid(db_->get());
    return {from_sqlite(tx.commit()), id};
}

result<std::int64_t> store::upsert_centre(const centre& c) {
    if (!valid_centre(c)) {
        return {store_error::invalid_input};
    }
    sql::transaction tx(*db_);
    if (tx.begin_rc() != SQLITE_OK) {
        return {from_sqlite(tx.begin_rc())};
    }
    auto s = db_->prepare(
        "INSERT INTO centres(name, opens_minute, closes_minute, slot_minutes, open_days) VALUES (?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT(name) DO UPDATE SET opens_minute = excluded.opens_minute, closes_minute = "
        "excluded.closes_minute, slot_minutes = excluded.slot_minutes, open_days = excluded.open_days RETURNING id");
    bind_centre(s, c);
    if (auto e = one_row(s.step()); e != store_error::ok) {
        return {e};
    }
    const std::int64_t id = s.int64(0);
    if (auto e = done(s.step()); e != store_error::ok) {
        return {e};
    }
    return {from_sqlite(tx.commit()), id};
}

result<void> store::update_centre(const centre& c) {
    if (!valid_centre(c)) {
        return {store_error::invalid_input};
    }
    sql::transaction tx(*db_);
    if (tx.begin_rc() != SQLITE_OK) {
        return {from_sqlite(tx.begin_rc())};
    }
    auto s = db_->prepare(
        "UPDATE centres SET name = ?1, opens_minute = ?2, closes_minute = ?3, slot_minutes = ?4, open_days = ?5 "
        "WHERE id = ?6");
    bind_centre(s, c);
    s.bind(6, c.id);
    if (auto e = detail::change_one(s, db_->get()); e != store_error::ok) {
        return {e};
    }
    return {from_sqlite(tx.commit())};
}

result<std::vector<centre>> store::centres() {
    auto s = db_->prepare("SELECT id, name, opens_minute, closes_minute, slot_minutes, open_days FROM centres ORDER BY id");
    std::vector<centre> out;
    int rc = 0;
    while ((rc = s.step()) == SQLITE_ROW) {
        out.push_back(centre_from_row(s));
    }
    return {done(rc), std::move(out)};
}

result<centre> store::centre_by_id(std::int64_t id) {
    auto s = db_->prepare(
        "SELECT id, name, opens_minute, closes_minute, slot_minutes, open_days FROM centres WHERE id = ?1");
    s.bind(1, id);
    if (auto e = one_row(s.step()); e != store_error::ok) {
        return {e};
    }
    return {store_error::ok, centre_from_row(s)};
}

result<void> store::set_group_open(std::int64_t group, bool open) {
    if (group < 0) {
        return {store_error::invalid_input};
    }
    sql::transaction tx(*db_);
    if (tx.begin_rc() != SQLITE_OK) {
        return {from_sqlite(tx.begin_rc())};
    }
    auto s = db_->prepare(
        "INSERT INTO priority_groups(id, open) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET open = excluded.open");
    s.bind(1, group).bind(2, open ? 1 : 0);
    if (auto e = done(s.step()); e != store_error::ok) {
        return {e};
    }
    return {from_sqlite(tx.commit())};
}

result<std::vector<std::pair<std::int64_t, bool>>> store::groups() {
    auto s = db_->prepare("SELECT id, open FROM priority_groups ORDER BY id");
    std::vector<std::pair<std::int64_t, bool>> out;
    int rc = 0;
    while ((rc = s.step()) == SQLITE_ROW) {
        out.emplace_back(s.int64(0), s.int64(1) != 0);
    }
    return {done(rc), std::move(out)};
}

result<std::int64_t> store::record_delivery(std::int64_t centre_id, day_number day, std::int64_t vials,
                                            unix_seconds now) {
    if (vials <= 0) {
        return {store_error::invalid_input};
    }
    sql::transaction tx(*db_);
    if (tx.begin_rc() != SQLITE_OK) {
        return {from_sqlite(tx.begin_rc())};
    }
    // Stock for a day the centre is closed could never be booked.
    auto c = centre_by_id(centre_id);
    if (!c.ok()) {
        return {c.error};
    }
    if (!c.value.opens_on(day)) {
        return {store_error::day_closed};
    }
    auto s = db_->prepare(
        "INSERT INTO deliveries(centre_id, day, vials, recorded_at) "
        "SELECT id, ?2, ?3, ?4 FROM centres WHERE id = ?1");
    s.bind(1, centre_id).bind(2, day).bind(3, vials).bind(4, now);
    if (auto e = done(s.step()); e != store_error::ok) {
        return {e};
    }
    if (sqlite3_changes(db_->get()) == 0) {
        return {store_error::not_found};
    }
    const std::int64_t id = sqlite3_last_insert_rowid(db_->get());
    return {from_sqlite(tx.commit()), id};
}

result<day_usage> store::usage_of(std::int64_t centre_id, day_number day) {
    day_stock stock;
    {
        auto s = db_->prepare("SELECT COALESCE(SUM(vials), 0) FROM deliveries WHERE centre_id = ?1 AND day = ?2");
        s.bind(1, centre_id).bind(2, day);
        if (int rc = s.step(); rc != SQLITE_ROW) {
            return {from_sqlite(rc)};
        }
        stock.vials = s.int64(0);
    }
    {
        auto s = db_->prepare(
            "SELECT COALESCE(SUM(CASE WHEN released_at IS NULL THEN doses END), 0), "
            "       COALESCE(SUM(CASE WHEN released_at IS NOT NULL THEN used END), 0) "
            "FROM care_home_reservations WHERE centre_id = ?1 AND day = ?2");
        s.bind(1, centre_id).bind(2, day);
        if (int rc = s.step(); rc != SQLITE_ROW) {
            return {from_sqlite(rc)};
        }
        stock.care_home_reserved = s.int64(0);
        stock.care_home_used = s.int64(1);
    }
    day_usage u;
    u.capacity = day_capacity(stock, options_.capacity.doses_per_vial);
    auto s = db_->prepare(
        "SELECT COALESCE(SUM(CASE WHEN channel = 0 THEN n END), 0), COALESCE(SUM(CASE WHEN channel = 1 THEN n END), 0) "
        "FROM day_bookings WHERE centre_id = ?1 AND day = ?2");
    s.bind(1, centre_id).bind(2, day);
    if (int rc = s.step(); rc != SQLITE_ROW) {
        return {from_sqlite(rc)};
    }
    u.booked_online = s.int64(0);
    u.booked_hotline = s.int64(1);
    return {store_error::ok, u};
}

result<std::int64_t> store::reserve_care_home(std::int64_t centre_id, day_number day, std::int64_t doses,
                                              unix_seconds now) {
    if (doses <= 0) {
        return {store_error::invalid_input};
    }
    sql::transaction tx(*db_);
    if (tx.begin_rc() != SQLITE_OK) {
        return {from_sqlite(tx.begin_rc())};
    }
    if (day < day_of(now)) {
        return {store_error::day_past};
    }
    auto c = centre_by_id(centre_id);
    if (!c.ok()) {
        return {c.error};
    }
    if (!c.value.opens_on(day)) {
        return {store_error::day_closed};
    }
    auto u = usage_of(centre_id, day);
    if (!u.ok()) {
        return {u.error};
    }
    // A reservation takes only doses nobody has booked: the hotline's view is the whole free day.
    if (remaining(options_.capacity, u.value, channel::hotline, day, now) < doses) {
        return {store_error::no_capacity};
    }
    auto s = db_->prepare(
        "INSERT INTO care_home_reservations(centre_id, day, doses, created_at) VALUES (?1, ?2, ?3, ?4)");
    s.bind(1, centre_id).bind(2, day).bind(3, doses).bind(4, now);
    if (auto e = done(s.step()); e != store_error::ok) {
        return {e};
    }
    const std::int64_t id = sqlite3_last_insert_rowid(db_->get());
    return {from_sqlite(tx.commit()), id};
}

result<void> store::release_care_home(std::int64_t reservation_id, std::int64_t doses_used, unix_seconds now) {
    sql::transaction tx(*db_);
    if (tx.begin_rc() != SQLITE_OK) {
        return {from_sqlite(tx.begin_rc())};
    }
    std::int64_t reserved = 0;
    {
        auto s = db_->prepare("SELECT doses, released_at IS NOT NULL FROM care_home_reservations WHERE id = ?1");
        s.bind(1, reservation_id);
        if (auto e = one_row(s.step()); e != store_error::ok) {
            return {e};
        }
        if (s.int64(1) != 0) {
            return {store_error::conflict};
        }
        reserved = s.int64(0);
    }
    if (doses_used < 0 || doses_used > reserved) {
        return {store_error::invalid_input};
    }
    auto s = db_->prepare("UPDATE care_home_reservations SET used = ?2, released_at = ?3 WHERE id = ?1");
    s.bind(1, reservation_id).bind(2, reserved - care_home_returned(reserved, doses_used)).bind(3, now);
    if (auto e = done(s.step()); e != store_error::ok) {
        return {e};
    }
    return {from_sqlite(tx.commit())};
}

result<void> store::record_vaccination_complete(std::int64_t registration_id, day_number day) {
    sql::transaction tx(*db_);
    if (tx.begin_rc() != SQLITE_OK) {
        return {from_sqlite(tx.begin_rc())};
    }
    auto s = db_->prepare("UPDATE registrations SET vaccination_complete = ?2 WHERE id = ?1");
    s.bind(1, registration_id).bind(2, day);
    if (auto e = detail::change_one(s, db_->get()); e != store_error::ok) {
        return {e};
    }
    return {from_sqlite(tx.commit())};
}

result<login_data> store::register_person(const new_registration& r, unix_seconds now) {
    if (r.name.empty() || r.contact.empty() || r.priority_group < 0) {
        return {store_error::invalid_input};
    }
    login_data out;
    out.pin = random_pin();
    const secret_hash h = hash_secret(out.pin, options_.pin_iterations);
    if (out.pin.empty() || h.hash.empty()) {
        return {store_error::io};
    }
    // The slow hash above ran outside the writer lock; only the insert takes it.
    sql::transaction tx(*db_);
    if (tx.begin_rc() != SQLITE_OK) {
        return {from_sqlite(tx.begin_rc())};
    }
    // A code collision (2^60 codes) is retried with a fresh code rather than reported.
    for (int attempt = 0; attempt < 4; ++attempt) {
        out.booking_code = random_booking_code();
        auto s = db_->prepare(
            "INSERT INTO registrations(code, pin_salt, pin_hash, pin_iterations, name, birth_date, contact, "
            "postal_address, priority_group, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
        s.bind(1, std::string_view(out.booking_code)).bind(2, std::span<const std::uint8_t>(h.salt));
        s.bind(3, std::span<const std::uint8_t>(h.hash)).bind(4, h.iterations).bind(5, std::string_view(r.name));
        s.bind(6, r.birth_date).bind(7, std::string_view(r.contact)).bind(8, std::string_view(r.postal_address));
        s.bind(9, r.priority_group).bind(10, now);
        const store_error e = done(s.step());
        if (e == store_error::ok) {
            out.registration_id = sqlite3_last_insert_rowid(db_->get());
            return {from_sqlite(tx.commit()), std::move(out)};
        }
        if (e != store_error::conflict) {
            return {e};
        }
    }
    return {store_error::conflict};
}

result<std::int64_t> detail::check_login(sql::stmt& s, std::string_view secret, int iterations_if_unknown) {
    const int rc = s.step();
    if (rc == SQLITE_DONE) {
        // Spend the same time as a real check, so timing does not tell which names exist.
        (void)hash_secret(secret, iterations_if_unknown);
        return {store_error::wrong_credentials};
    }
    if (rc != SQLITE_ROW) {
        return {from_sqlite(rc)};
    }
    if (!verify_secret(secret, {s.blob(1), s.blob(2), static_cast<int>(s.int64(3))})) {
        return {store_error::wrong_credentials};
    }
    return {store_error::ok, s.int64(0)};
}

result<std::int64_t> store::login(std::string_view booking_code, std::string_view pin) {
    auto s = db_->prepare("SELECT id, pin_salt, pin_hash, pin_iterations FROM registrations WHERE code = ?1");
    s.bind(1, normalise_booking_code(booking_code));
    return detail::check_login(s, pin, options_.pin_iterations);
}

}  // namespace anteroom::booking
