#pragma once
// The booking rules as pure functions on plain values: how many appointments a centre's day has
// (vaccine stock × doses per vial, minus care-home reservations), how many of them online and
// the hotline may still take (hotline contingent, released at a cut-off before the day), which
// priority groups may book, and what the retention rules delete. Time and dates are passed in;
// nothing here touches SQLite, a clock or a socket.

#include <cstdint>
#include <optional>
#include <span>

namespace anteroom::booking {

// Calendar days as days since 1970-01-01 (UTC); time points as Unix seconds.
using day_number = std::int32_t;
using unix_seconds = std::int64_t;

constexpr std::int64_t seconds_per_day = 86'400;

constexpr day_number day_of(unix_seconds t) {
    return static_cast<day_number>(t >= 0 ? t / seconds_per_day : (t - seconds_per_day + 1) / seconds_per_day);
}
constexpr unix_seconds start_of(day_number d) { return static_cast<unix_seconds>(d) * seconds_per_day; }

// The day n calendar months after d; the day of month is clamped to the target month's last day
// (31 Aug + 6 months = 28/29 Feb).
day_number add_months(day_number d, int months);
// Civil date ↔ day number (proleptic Gregorian).
day_number make_day(int year, unsigned month, unsigned day);

enum class channel : std::uint8_t { online = 0, hotline = 1 };

// The stock of one centre on one day, as the store aggregates it.
struct day_stock {
    std::int64_t vials = 0;                // sum of deliveries for the day
    std::int64_t care_home_reserved = 0;   // doses held for care-home visits, not yet released
    std::int64_t care_home_used = 0;       // doses a released reservation really used
};

struct hotline_contingent {
    enum class kind : std::uint8_t { absolute, percent };
    kind type = kind::percent;
    std::int64_t value = 0;                  // appointments, or percent (0..100) of the day's capacity
    std::int64_t release_before_s = 86'400;  // released to online this long before the day starts
};

struct capacity_rules {
    std::int64_t doses_per_vial = 6;  // raised from 5 to 6; applies to every day not yet past
    hotline_contingent hotline;
};

// Appointments of a day: every delivered dose, less what care homes hold or used. A day already
// past keeps what it had; the store only asks for days from today on, so a changed
// doses_per_vial recomputes exactly the days not yet used.
std::int64_t day_capacity(const day_stock& stock, std::int64_t doses_per_vial);

// The part of capacity that online booking cannot take until the cut-off.
std::int64_t contingent_size(const hotline_contingent& h, std::int64_t capacity);
bool contingent_released(const hotline_contingent& h, day_number day, unix_seconds now);

struct day_usage {
    std::int64_t capacity = 0;
    std::int64_t booked_online = 0;
    std::int64_t booked_hotline = 0;
};

// Appointments a channel may still book on the day. The hotline may use the whole day (its
// contingent and the online pool); online may use what is left after the unused contingent, or
// everything left once the contingent is released. Never negative, also when a lowered
// doses_per_vial left a day booked beyond its new capacity.
std::int64_t remaining(const capacity_rules& rules, const day_usage& usage, channel ch, day_number day,
                       unix_seconds now);

// Doses a released care-home reservation returns to the pool (clamped to 0..reserved).
std::int64_t care_home_returned(std::int64_t reserved, std::int64_t used);

// Only registrations of an open priority group may book.
bool group_may_book(std::int64_t group, std::span<const std::int64_t> open_groups);

// The appointment's start in minutes after midnight: capacity is spread over the opening hours
// in slots of slot_minutes, several appointments per slot when the day has more doses than slots.
struct opening_hours {
    int opens_minute = 8 * 60;
    int closes_minute = 20 * 60;
    int slot_minutes = 10;
};
int appointment_minute(const opening_hours& hours, std::int64_t capacity, std::int64_t slot);

struct retention_rules {
    int unbooked_months = 6;        // was 14 days before
    int after_vaccination_days = 0;
};

struct registration_facts {
    day_number registered = 0;
    bool has_booking = false;                       // any appointment, past or future
    std::optional<day_number> vaccination_complete; // the day the last dose was recorded
};

enum class retention_verdict : std::uint8_t { keep, delete_unbooked, delete_after_vaccination };

retention_verdict retention_check(const retention_rules& rules, const registration_facts& r, day_number today);

}  // namespace anteroom::booking
