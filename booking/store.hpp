#pragma once
// The booking repository on SQLite: one store is one connection (use one per thread; SQLite in
// WAL mode lets them read at once and serialises writers). Every change is one transaction; a
// booking begins IMMEDIATE and re-checks the day's remaining capacity inside it, so no appointment
// is given twice and no day is booked beyond its stock, however many connections race.
// No exceptions cross this API: every call returns a result with a stable error code.

#include "booking/domain.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace anteroom::booking {

namespace sql {
class connection;
}

// Stable codes: the HTTP layer maps them to statuses and JSON `code` strings. Append only.
enum class store_error : std::uint8_t {
    ok = 0,
    invalid_input,      // empty name, negative vials, unknown channel, …
    not_found,          // no such centre, registration, booking, agent, reservation
    wrong_credentials,  // booking code/PIN or agent name/password do not match
    group_closed,       // the registration's priority group may not book yet
    already_booked,     // the registration holds an appointment from today on already
    no_capacity,        // the day has no appointment left for this channel
    day_past,           // the day is before today
    address_required,   // hotline bookings need a postal address (the letter goes there)
    conflict,           // a unique name is taken, a reservation was released already
    busy,               // the database stayed locked past the busy timeout
    io,                 // SQLite failed otherwise (disk, corruption)
    schema_too_new,     // the file was written by a newer anteroom
    day_closed,         // the centre does not open on that weekday
};
std::string_view to_string(store_error e);

template <class T>
struct result {
    store_error error = store_error::ok;
    T value{};
    bool ok() const { return error == store_error::ok; }
};
template <>
struct result<void> {
    store_error error = store_error::ok;
    bool ok() const { return error == store_error::ok; }
};

struct store_options {
    capacity_rules capacity;
    retention_rules retention;
    int busy_timeout_ms = 5000;
    bool fsync_each_commit = false;  // synchronous=FULL: survive power loss, not only a process crash
    int pin_iterations = 210'000;  // PBKDF2-HMAC-SHA256 (OWASP 2023); kept per row, so it may change
    // > 0: every online or hotline booking takes a second appointment this many days later (moved
    // to the next opening day) in the same transaction; cancel and rebook act on the pair.
    int second_appointment_days = 0;
    // Shared by the stores of one process (one per worker thread): write transactions queue on it.
    std::shared_ptr<std::mutex> writer;
};

// Weekdays as a bit set: bit 0 = Monday … bit 6 = Sunday.
constexpr std::uint8_t every_day = 0x7f;
constexpr int weekday_of(day_number d) { return static_cast<int>(((d % 7) + 7 + 3) % 7); }  // 1970-01-01: Thursday

struct centre {
    std::int64_t id = 0;
    std::string name;
    opening_hours hours;
    std::uint8_t open_days = every_day;
    bool opens_on(day_number d) const { return (open_days >> weekday_of(d) & 1) != 0; }
};

struct new_registration {
    std::string name;
    day_number birth_date = 0;
    std::string contact;         // email, phone or postal address
    std::string postal_address;  // optional online; required for hotline bookings
    std::int64_t priority_group = 0;
};

// Shown once to the person; the PIN is stored only as a salted slow hash.
struct login_data {
    std::int64_t registration_id = 0;
    std::string booking_code;  // 12 characters of an alphabet without 0/O, 1/I
    std::string pin;           // 6 digits
};

struct registration_view {
    std::int64_t id = 0;
    std::string booking_code, name, contact, postal_address;
    day_number birth_date = 0;
    std::int64_t priority_group = 0;
};

struct booking_record {
    std::int64_t id = 0;
    std::int64_t registration_id = 0;
    std::int64_t centre_id = 0;
    day_number day = 0;
    std::int64_t slot = 0;  // the appointment's number within the day, unique per centre and day
    int minute = 0;         // start, minutes after midnight
    channel via = channel::online;
    std::int64_t first_booking = 0;  // for a second appointment: the booking it belongs to
};

struct day_availability {
    day_number day = 0;
    std::int64_t capacity = 0;
    std::int64_t booked = 0;
    std::int64_t free_online = 0;
    std::int64_t free_hotline = 0;
};

struct letter {
    std::int64_t id = 0;
    std::int64_t booking_id = 0;
    std::string name, postal_address;
    std::int64_t centre_id = 0;
    day_number day = 0;
    int minute = 0;
};

struct retention_counts {
    std::int64_t unbooked_deleted = 0;
    std::int64_t vaccinated_deleted = 0;
    std::int64_t sessions_expired = 0;
};

enum class session_kind : std::uint8_t { person = 0, agent = 1, admin = 2 };

struct session {
    session_kind kind = session_kind::person;
    std::int64_t subject = 0;  // registration or agent id; 0 for admin
    unix_seconds expires_at = 0;
};

// What the waiting room's capacity poller and the admin page read: appointments online booking
// can still take from today on.
struct capacity_summary {
    struct per_centre {
        std::int64_t id = 0;
        std::string name;
        std::int64_t available = 0;
    };
    std::int64_t available = 0;
    std::vector<per_centre> centres;
    std::optional<day_number> next_delivery;          // first delivery day after today
    std::optional<unix_seconds> next_release_at;      // next hotline contingent that turns online
};

class store {
public:
    static constexpr day_number max_availability_days = 366;

    // Opens (creating if missing) and migrates the database at path.
    static result<std::unique_ptr<store>> open(const std::string& path, const store_options& options);
    ~store();
    store(const store&) = delete;
    store& operator=(const store&) = delete;

    int schema_version() const;
    static int latest_schema_version();

    // Admin.
    result<std::int64_t> add_centre(const centre& c);
    // Config sync: the centre of that name gets these hours and days; a new name is added.
    result<std::int64_t> upsert_centre(const centre& c);
    result<void> update_centre(const centre& c);  // by id
    result<std::vector<centre>> centres();
    result<centre> centre_by_id(std::int64_t id);
    result<void> set_group_open(std::int64_t group, bool open);
    result<std::vector<std::pair<std::int64_t, bool>>> groups();
    result<std::int64_t> record_delivery(std::int64_t centre_id, day_number day, std::int64_t vials, unix_seconds now);
    result<std::int64_t> reserve_care_home(std::int64_t centre_id, day_number day, std::int64_t doses, unix_seconds now);
    result<void> release_care_home(std::int64_t reservation_id, std::int64_t doses_used, unix_seconds now);
    result<void> record_vaccination_complete(std::int64_t registration_id, day_number day);

    // People.
    result<login_data> register_person(const new_registration& r, unix_seconds now);
    result<std::int64_t> login(std::string_view booking_code, std::string_view pin);
    // Days from max(from, today) to to; more than max_availability_days is invalid_input.
    result<std::vector<day_availability>> availability(std::int64_t centre_id, day_number from, day_number to,
                                                       unix_seconds now);
    result<booking_record> book(std::int64_t registration_id, std::int64_t centre_id, day_number day, unix_seconds now);
    // Either appointment of a pair cancels the pair's appointments from today on; a past
    // appointment is history and cannot be cancelled (day_past).
    result<void> cancel(std::int64_t registration_id, std::int64_t booking_id, unix_seconds now);
    // Cancel and book in one transaction: on failure the old appointment is kept.
    result<booking_record> rebook(std::int64_t registration_id, std::int64_t booking_id, std::int64_t centre_id,
                                  day_number day, unix_seconds now);
    result<std::vector<booking_record>> bookings_of(std::int64_t registration_id);
    // The registration a booking code names (id only, no personal data, so not audited).
    result<std::int64_t> registration_id_by_code(std::string_view booking_code);
    // The person's own data (not audited: it is their own).
    result<registration_view> registration(std::int64_t registration_id);

    // Login sessions: a random token goes to the browser, only its SHA-256 is stored.
    result<std::string> create_session(session_kind kind, std::int64_t subject, unix_seconds expires_at);
    result<session> find_session(std::string_view token, unix_seconds now);
    result<void> delete_session(std::string_view token);

    // Online-bookable appointments from today over the next horizon_days.
    result<capacity_summary> capacity(unix_seconds now, day_number horizon_days = max_availability_days);

    // Hotline: agent accounts, reads that are audited, bookings that create a letter.
    result<std::int64_t> create_agent(std::string_view name, std::string_view password, unix_seconds now);
    result<std::int64_t> agent_login(std::string_view name, std::string_view password);
    result<registration_view> agent_read_registration(std::int64_t agent_id, std::string_view booking_code,
                                                      unix_seconds now);
    result<booking_record> hotline_book(std::int64_t agent_id, std::int64_t registration_id, std::int64_t centre_id,
                                        day_number day, unix_seconds now);
    result<std::vector<letter>> pending_letters();
    // One letter with its personal data, for printing; the read is audited under actor.
    result<letter> letter_for_print(std::int64_t letter_id, std::string_view actor, unix_seconds now);
    // Idempotent: a letter printed already stays as it was; an unknown one is not_found.
    result<void> mark_letter_printed(std::int64_t letter_id, unix_seconds now);
    result<std::int64_t> audit_count(std::int64_t registration_id);

    // Group commit, for the service's write batches: begin_batch takes the writer lock and opens
    // one transaction; every call until end_batch runs inside it, each still all or nothing on
    // its own (a savepoint), and none of them is durable before end_batch(true) returns ok.
    // batch_intact() turns false when SQLite rolled the whole batch back after an error.
    store_error begin_batch();
    bool batch_intact() const;
    store_error end_batch(bool commit);

    // Deletes what the retention rules say, really (secure_delete); returns counts only.
    result<retention_counts> run_retention(unix_seconds now);
    // Rows left in registrations (for the retention job's log and tests).
    result<std::int64_t> registration_count();

private:
    store(std::unique_ptr<sql::connection> db, store_options options);
    result<booking_record> book_tx(std::int64_t registration_id, std::int64_t centre_id, day_number day,
                                      channel ch, std::int64_t agent_id, unix_seconds now,
                                      std::int64_t replacing_booking);
    result<booking_record> insert_booking(std::int64_t registration_id, const centre& c, day_number day, channel ch,
                                          std::int64_t agent_id, unix_seconds now, std::int64_t first_booking);
    result<day_usage> usage_of(std::int64_t centre_id, day_number day);
    result<void> migrate();

    std::unique_ptr<sql::connection> db_;
    store_options options_;
};

}  // namespace anteroom::booking
