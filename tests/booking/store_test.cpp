// The SQLite repository on a temp dir: migrations, registration and login, book / cancel /
// rebook, deliveries and care-home releases, the hotline (address, letter, audit), retention
// (rows really gone), a race of 64 connections for the last appointments, and durability
// across close and reopen.

#include "booking/store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>
#include <vector>

namespace anteroom::booking {
namespace {

namespace fs = std::filesystem;

const day_number day = make_day(2027, 3, 15);
const unix_seconds now = start_of(day) - 10 * seconds_per_day;  // well before the cut-off

class booking_store : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "anteroom-booking-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        options_.pin_iterations = 1000;  // the real default is slow on purpose
        options_.capacity.hotline = {hotline_contingent::kind::absolute, 0, 86'400};
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string path() const { return dir_ + "/booking.sqlite"; }

    std::unique_ptr<store> open_store() {
        auto s = store::open(path(), options_);
        EXPECT_EQ(s.error, store_error::ok) << to_string(s.error);
        return std::move(s.value);
    }

    // A centre with vials delivered for `day`, group 1 open.
    std::int64_t centre_with(store& s, std::int64_t vials) {
        auto c = s.add_centre({0, "Messe " + std::to_string(++centres_), {}});
        EXPECT_TRUE(c.ok());
        EXPECT_TRUE(s.set_group_open(1, true).ok());
        if (vials > 0) {
            EXPECT_TRUE(s.record_delivery(c.value, day, vials, now).ok());
        }
        return c.value;
    }

    login_data person(store& s, std::string address = "", std::int64_t group = 1, unix_seconds at = now) {
        auto r = s.register_person({"Erika Mustermann", make_day(1950, 1, 2), "erika@example.org", address, group}, at);
        EXPECT_TRUE(r.ok()) << to_string(r.error);
        return r.value;
    }

    std::int64_t online_free(store& s, std::int64_t centre) {
        auto a = s.availability(centre, day, day, now);
        EXPECT_TRUE(a.ok());
        return a.value.empty() ? -1 : a.value[0].free_online;
    }

    std::string dir_;
    store_options options_;
    int centres_ = 0;
};

TEST_F(booking_store, migrates_from_empty_and_keeps_the_version) {
    {
        auto s = open_store();
        ASSERT_TRUE(s);
        EXPECT_EQ(s->schema_version(), store::latest_schema_version());
        EXPECT_GE(store::latest_schema_version(), 1);
    }
    auto s = open_store();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->schema_version(), store::latest_schema_version());
}

TEST_F(booking_store, refuses_a_newer_schema) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=999", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    EXPECT_EQ(store::open(path(), options_).error, store_error::schema_too_new);
}

TEST_F(booking_store, journal_mode_is_wal) {
    auto s = open_store();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

TEST_F(booking_store, register_and_login) {
    auto s = open_store();
    const login_data l = person(*s);
    ASSERT_EQ(l.booking_code.size(), 12u);
    for (char c : l.booking_code) {
        EXPECT_EQ(std::string_view("0O1I").find(c), std::string_view::npos) << l.booking_code;
    }
    ASSERT_EQ(l.pin.size(), 6u);
    EXPECT_EQ(s->login(l.booking_code, l.pin).value, l.registration_id);
    std::string lower = l.booking_code.substr(0, 4) + "-" + l.booking_code.substr(4);
    for (char& c : lower) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    EXPECT_EQ(s->login(lower, l.pin).value, l.registration_id);
    std::string wrong = l.pin;
    wrong[0] = wrong[0] == '9' ? '0' : static_cast<char>(wrong[0] + 1);
    EXPECT_EQ(s->login(l.booking_code, wrong).error, store_error::wrong_credentials);
    EXPECT_EQ(s->login("ZZZZZZZZZZZZ", l.pin).error, store_error::wrong_credentials);
    EXPECT_EQ(s->register_person({"", 0, "x", "", 1}, now).error, store_error::invalid_input);
}

TEST_F(booking_store, pin_is_stored_only_as_a_salted_hash) {
    auto s = open_store();
    const login_data a = person(*s);
    const login_data b = person(*s);
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT pin_salt, length(pin_hash) FROM registrations ORDER BY id", -1, &st, nullptr),
              SQLITE_OK);
    std::set<std::string> salts;
    while (sqlite3_step(st) == SQLITE_ROW) {
        salts.emplace(static_cast<const char*>(sqlite3_column_blob(st, 0)), sqlite3_column_bytes(st, 0));
        EXPECT_EQ(sqlite3_column_int(st, 1), 32);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    EXPECT_EQ(salts.size(), 2u);
    EXPECT_NE(a.booking_code, b.booking_code);
}

TEST_F(booking_store, book_cancel_rebook) {
    auto s = open_store();
    const std::int64_t c = centre_with(*s, 1);  // 6 appointments
    const login_data l = person(*s);
    const login_data closed = person(*s, "", 2);
    EXPECT_EQ(s->book(closed.registration_id, c, day, now).error, store_error::group_closed);
    EXPECT_EQ(s->book(l.registration_id, c, day - 20, now).error, store_error::day_past);
    EXPECT_EQ(s->book(l.registration_id, c, day + 1, now).error, store_error::no_capacity);
    EXPECT_EQ(s->book(l.registration_id, 999, day, now).error, store_error::not_found);

    auto b = s->book(l.registration_id, c, day, now);
    ASSERT_TRUE(b.ok()) << to_string(b.error);
    EXPECT_EQ(b.value.slot, 0);
    EXPECT_EQ(b.value.minute, 8 * 60);
    EXPECT_EQ(online_free(*s, c), 5);
    EXPECT_EQ(s->book(l.registration_id, c, day, now).error, store_error::already_booked);

    EXPECT_EQ(s->cancel(closed.registration_id, b.value.id, now).error, store_error::not_found);  // not theirs
    ASSERT_TRUE(s->cancel(l.registration_id, b.value.id, now).ok());
    EXPECT_EQ(online_free(*s, c), 6);  // back at once

    b = s->book(l.registration_id, c, day, now);
    ASSERT_TRUE(b.ok());
    // Rebooking to a day without stock fails and keeps the appointment.
    EXPECT_EQ(s->rebook(l.registration_id, b.value.id, c, day + 1, now).error, store_error::no_capacity);
    ASSERT_EQ(s->bookings_of(l.registration_id).value.size(), 1u);
    ASSERT_TRUE(s->record_delivery(c, day + 1, 1, now).ok());
    auto moved = s->rebook(l.registration_id, b.value.id, c, day + 1, now);
    ASSERT_TRUE(moved.ok()) << to_string(moved.error);
    const auto mine = s->bookings_of(l.registration_id).value;
    ASSERT_EQ(mine.size(), 1u);
    EXPECT_EQ(mine[0].day, day + 1);
    EXPECT_EQ(online_free(*s, c), 6);
}

TEST_F(booking_store, availability_starts_today_and_is_bounded) {
    auto s = open_store();
    const std::int64_t c = centre_with(*s, 1);
    auto a = s->availability(c, day - 30, day, now);
    ASSERT_TRUE(a.ok());
    ASSERT_EQ(a.value.size(), 11u);  // today (= day - 10) to day
    EXPECT_EQ(a.value.front().day, day_of(now));
    EXPECT_EQ(a.value.back().capacity, 6);
    EXPECT_EQ(a.value.back().free_hotline, 6);
    EXPECT_TRUE(s->availability(c, day - 30, day - 20, now).value.empty());
    EXPECT_EQ(s->availability(c, day, day + store::max_availability_days, now).error, store_error::invalid_input);
}

TEST_F(booking_store, doses_per_vial_change_recomputes_capacity) {
    options_.capacity.doses_per_vial = 5;
    std::int64_t c = 0;
    {
        auto s = open_store();
        c = centre_with(*s, 10);
        EXPECT_EQ(online_free(*s, c), 50);
    }
    options_.capacity.doses_per_vial = 6;
    auto s = open_store();
    EXPECT_EQ(online_free(*s, c), 60);
    ASSERT_TRUE(s->record_delivery(c, day, 2, now).ok());  // a delivery is bookable at once
    EXPECT_EQ(online_free(*s, c), 72);
    EXPECT_EQ(s->record_delivery(c, day, 0, now).error, store_error::invalid_input);
    EXPECT_EQ(s->record_delivery(999, day, 1, now).error, store_error::not_found);
}

TEST_F(booking_store, care_home_doses_come_back_when_released) {
    auto s = open_store();
    const std::int64_t c = centre_with(*s, 2);  // 12
    auto r = s->reserve_care_home(c, day, 10, now);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(online_free(*s, c), 2);
    EXPECT_EQ(s->reserve_care_home(c, day, 3, now).error, store_error::no_capacity);
    ASSERT_TRUE(s->release_care_home(r.value, 4, now).ok());
    EXPECT_EQ(online_free(*s, c), 8);
    EXPECT_EQ(s->release_care_home(r.value, 4, now).error, store_error::conflict);
}

TEST_F(booking_store, hotline_contingent_until_the_cut_off) {
    options_.capacity.hotline = {hotline_contingent::kind::percent, 50, 86'400};
    auto s = open_store();
    const std::int64_t c = centre_with(*s, 1);  // 6, 3 held for the hotline
    EXPECT_EQ(online_free(*s, c), 3);
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(s->book(person(*s).registration_id, c, day, now).ok());
    }
    const login_data late = person(*s);
    EXPECT_EQ(s->book(late.registration_id, c, day, now).error, store_error::no_capacity);
    // At the cut-off the hotline's unused appointments are online's.
    EXPECT_TRUE(s->book(late.registration_id, c, day, start_of(day) - 86'400).ok());
}

TEST_F(booking_store, hotline_needs_an_address_writes_a_letter_and_audits) {
    auto s = open_store();
    const std::int64_t c = centre_with(*s, 1);
    auto agent = s->create_agent("agent-1", "correct horse", now);
    ASSERT_TRUE(agent.ok());
    EXPECT_EQ(s->create_agent("agent-1", "another pass", now).error, store_error::conflict);
    EXPECT_EQ(s->agent_login("agent-1", "wrong horse").error, store_error::wrong_credentials);
    EXPECT_EQ(s->agent_login("agent-1", "correct horse").value, agent.value);

    const login_data no_address = person(*s);
    EXPECT_EQ(s->hotline_book(agent.value, no_address.registration_id, c, day, now).error,
              store_error::address_required);
    const login_data caller = person(*s, "Hauptstr. 1, 12345 Musterstadt");
    auto read = s->agent_read_registration(agent.value, caller.booking_code, now);
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(read.value.name, "Erika Mustermann");
    auto b = s->hotline_book(agent.value, caller.registration_id, c, day, now);
    ASSERT_TRUE(b.ok()) << to_string(b.error);
    EXPECT_EQ(b.value.via, channel::hotline);
    EXPECT_EQ(s->audit_count(caller.registration_id).value, 2);

    auto letters = s->pending_letters();
    ASSERT_EQ(letters.value.size(), 1u);
    EXPECT_EQ(letters.value[0].postal_address, "Hauptstr. 1, 12345 Musterstadt");
    EXPECT_EQ(letters.value[0].booking_id, b.value.id);
    ASSERT_TRUE(s->mark_letter_printed(letters.value[0].id, now).ok());
    EXPECT_TRUE(s->pending_letters().value.empty());
    EXPECT_TRUE(s->mark_letter_printed(letters.value[0].id, now).ok());  // idempotent
    EXPECT_EQ(s->mark_letter_printed(letters.value[0].id + 100, now).error, store_error::not_found);
}

TEST_F(booking_store, retention_deletes_rows_for_real) {
    auto s = open_store();
    const std::int64_t c = centre_with(*s, 1);
    const unix_seconds registered = now - 200 * seconds_per_day;  // more than 6 months before `now`
    const login_data old_unbooked = person(*s, "", 1, registered);
    const login_data old_booked = person(*s, "", 1, registered);
    const login_data fresh = person(*s);
    const login_data vaccinated = person(*s);
    ASSERT_TRUE(s->book(old_booked.registration_id, c, day, now).ok());
    auto b = s->book(vaccinated.registration_id, c, day, now);
    ASSERT_TRUE(b.ok());

    auto none = s->run_retention(now);
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(none.value.unbooked_deleted, 1);
    EXPECT_EQ(none.value.vaccinated_deleted, 0);
    EXPECT_EQ(s->login(old_unbooked.booking_code, old_unbooked.pin).error, store_error::wrong_credentials);

    ASSERT_TRUE(s->record_vaccination_complete(vaccinated.registration_id, day).ok());
    auto after = s->run_retention(start_of(day) + 3600);
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(after.value.vaccinated_deleted, 1);
    EXPECT_EQ(s->registration_count().value, 2);  // old_booked and fresh
    EXPECT_TRUE(s->login(fresh.booking_code, fresh.pin).ok());
    EXPECT_EQ(s->login(vaccinated.booking_code, vaccinated.pin).error, store_error::wrong_credentials);
    // The appointment stays counted, without a person behind it.
    EXPECT_EQ(online_free(*s, c), 4);
}

TEST_F(booking_store, sixty_four_connections_race_for_the_last_appointments) {
    constexpr int clients = 64;
    options_.capacity.hotline = {hotline_contingent::kind::absolute, 4, 86'400};
    std::int64_t c = 0;
    std::int64_t agent = 0;
    std::vector<std::int64_t> people;
    {
        auto s = open_store();
        c = centre_with(*s, 2);  // 12 appointments, 4 held for the hotline
        agent = s->create_agent("agent", "password!", now).value;
        for (int i = 0; i < clients; ++i) {
            people.push_back(person(*s, "Weg " + std::to_string(i)).registration_id);
        }
    }
    std::atomic<int> online_ok{0}, hotline_ok{0}, other_errors{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i) {
        threads.emplace_back([&, i] {
            auto opened = store::open(path(), options_);
            if (!opened.ok()) {
                ++other_errors;
                return;
            }
            while (!go.load()) {
                std::this_thread::yield();
            }
            const bool hotline = i % 2 == 1;
            auto r = hotline ? opened.value->hotline_book(agent, people[static_cast<std::size_t>(i)], c, day, now)
                             : opened.value->book(people[static_cast<std::size_t>(i)], c, day, now);
            if (r.ok()) {
                ++(hotline ? hotline_ok : online_ok);
            } else if (r.error != store_error::no_capacity) {
                ++other_errors;
            }
        });
    }
    go = true;
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(other_errors.load(), 0);
    EXPECT_EQ(online_ok.load() + hotline_ok.load(), 12);
    EXPECT_LE(online_ok.load(), 8);
    EXPECT_GE(hotline_ok.load(), 4);

    auto s = open_store();
    std::set<std::int64_t> slots;
    int rows = 0;
    for (std::int64_t p : people) {
        for (const auto& b : s->bookings_of(p).value) {
            ++rows;
            EXPECT_TRUE(slots.insert(b.slot).second) << "slot " << b.slot << " given twice";
            EXPECT_LT(b.slot, 12);
        }
    }
    EXPECT_EQ(rows, 12);
    EXPECT_EQ(online_free(*s, c), 0);
}

TEST_F(booking_store, a_group_commit_keeps_each_booking_all_or_nothing_and_shows_them_only_after_commit) {
    auto s = open_store();
    auto reader = open_store();  // another connection: what the rest of the world sees
    const std::int64_t c = centre_with(*s, 1);  // 6 appointments
    const login_data a = person(*s);
    const login_data b = person(*s);
    const login_data closed = person(*s, "", 2);

    ASSERT_EQ(s->begin_batch(), store_error::ok);
    ASSERT_TRUE(s->book(a.registration_id, c, day, now).ok());
    EXPECT_EQ(s->book(a.registration_id, c, day, now).error, store_error::already_booked);
    EXPECT_EQ(s->book(closed.registration_id, c, day, now).error, store_error::group_closed);
    auto booked_b = s->book(b.registration_id, c, day, now);
    ASSERT_TRUE(booked_b.ok());
    // A failed rebook rolls back its own cancellation only: b keeps the appointment.
    EXPECT_EQ(s->rebook(b.registration_id, booked_b.value.id, c, day + 1, now).error, store_error::no_capacity);
    EXPECT_TRUE(s->batch_intact());
    EXPECT_EQ(online_free(*s, c), 4);        // reads inside the batch see its writes
    EXPECT_EQ(online_free(*reader, c), 6);   // nobody else does before the commit
    ASSERT_EQ(s->end_batch(true), store_error::ok);
    EXPECT_FALSE(s->batch_intact());
    EXPECT_EQ(online_free(*reader, c), 4);
    EXPECT_EQ(reader->bookings_of(a.registration_id).value.size(), 1u);
    ASSERT_EQ(reader->bookings_of(b.registration_id).value.size(), 1u);
    EXPECT_EQ(reader->bookings_of(b.registration_id).value[0].day, day);
    EXPECT_TRUE(reader->bookings_of(closed.registration_id).value.empty());

    // A batch that is not committed leaves nothing behind, and the writer lock is free again.
    const login_data d = person(*s);
    ASSERT_EQ(s->begin_batch(), store_error::ok);
    ASSERT_TRUE(s->book(d.registration_id, c, day, now).ok());
    ASSERT_TRUE(s->cancel(a.registration_id, reader->bookings_of(a.registration_id).value[0].id, now).ok());
    ASSERT_EQ(s->end_batch(false), store_error::ok);
    EXPECT_TRUE(s->bookings_of(d.registration_id).value.empty());
    EXPECT_EQ(s->bookings_of(a.registration_id).value.size(), 1u);
    EXPECT_EQ(online_free(*s, c), 4);
    EXPECT_TRUE(s->book(d.registration_id, c, day, now).ok());  // alone again: its own transaction
    EXPECT_EQ(online_free(*reader, c), 3);
}

TEST_F(booking_store, a_committed_booking_survives_reopening) {
    login_data l;
    std::int64_t booking_id = 0;
    {
        auto s = open_store();
        const std::int64_t c = centre_with(*s, 1);
        l = person(*s);
        auto b = s->book(l.registration_id, c, day, now);
        ASSERT_TRUE(b.ok());
        booking_id = b.value.id;
    }
    auto s = open_store();
    auto id = s->login(l.booking_code, l.pin);
    ASSERT_TRUE(id.ok());
    const auto mine = s->bookings_of(id.value).value;
    ASSERT_EQ(mine.size(), 1u);
    EXPECT_EQ(mine[0].id, booking_id);
}

}  // namespace
}  // namespace anteroom::booking
