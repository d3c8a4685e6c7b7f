// The booking rules with fixed dates and a fake "now": capacity from stock (and the 5 → 6 doses
// per vial change), deliveries, the hotline contingent and its cut-off, care-home reservations,
// priority groups, appointment times and the retention rules.

#include "booking/domain.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace anteroom::booking {
namespace {

const day_number day = make_day(2027, 3, 15);

capacity_rules rules_with(hotline_contingent::kind k, std::int64_t value) {
    capacity_rules r;
    r.hotline = {k, value, 86'400};
    return r;
}

TEST(booking_domain, capacity_is_vials_times_doses_per_vial) {
    EXPECT_EQ(day_capacity({10, 0, 0}, 6), 60);
    EXPECT_EQ(day_capacity({10, 0, 0}, 5), 50);
    EXPECT_EQ(day_capacity({0, 0, 0}, 6), 0);
    EXPECT_EQ(day_capacity({-3, 0, 0}, 6), 0);
}

TEST(booking_domain, raising_doses_per_vial_from_5_to_6_adds_appointments_to_a_booked_day) {
    const capacity_rules r = rules_with(hotline_contingent::kind::absolute, 0);
    const unix_seconds now = start_of(day) - 10 * seconds_per_day;
    // Booked full at 5 doses per vial …
    day_usage u{day_capacity({10, 0, 0}, 5), 50, 0};
    EXPECT_EQ(remaining(r, u, channel::online, day, now), 0);
    // … and the same stock at 6 gives ten more.
    u.capacity = day_capacity({10, 0, 0}, 6);
    EXPECT_EQ(remaining(r, u, channel::online, day, now), 10);
    // Lowered again with 55 booked: nothing left, never negative.
    u = {day_capacity({10, 0, 0}, 5), 55, 0};
    EXPECT_EQ(remaining(r, u, channel::online, day, now), 0);
    EXPECT_EQ(remaining(r, u, channel::hotline, day, now), 0);
}

TEST(booking_domain, deliveries_add_up) {
    EXPECT_EQ(day_capacity({10 + 5, 0, 0}, 6), 90);
}

TEST(booking_domain, contingent_absolute_and_percent) {
    hotline_contingent h{hotline_contingent::kind::percent, 10, 0};
    EXPECT_EQ(contingent_size(h, 60), 6);
    EXPECT_EQ(contingent_size(h, 5), 0);  // rounded down
    h.value = 250;
    EXPECT_EQ(contingent_size(h, 60), 60);
    h = {hotline_contingent::kind::absolute, 8, 0};
    EXPECT_EQ(contingent_size(h, 60), 8);
    EXPECT_EQ(contingent_size(h, 5), 5);
    h.value = -1;
    EXPECT_EQ(contingent_size(h, 60), 0);
}

TEST(booking_domain, contingent_held_from_online_until_the_cut_off) {
    const capacity_rules r = rules_with(hotline_contingent::kind::percent, 10);
    const unix_seconds before = start_of(day) - seconds_per_day - 1;
    const unix_seconds at_cut_off = start_of(day) - seconds_per_day;
    EXPECT_FALSE(contingent_released(r.hotline, day, before));
    EXPECT_TRUE(contingent_released(r.hotline, day, at_cut_off));

    day_usage u{60, 0, 0};
    EXPECT_EQ(remaining(r, u, channel::online, day, before), 54);
    EXPECT_EQ(remaining(r, u, channel::hotline, day, before), 60);
    u.booked_online = 54;
    EXPECT_EQ(remaining(r, u, channel::online, day, before), 0);
    EXPECT_EQ(remaining(r, u, channel::hotline, day, before), 6);
    u.booked_hotline = 2;  // hotline bookings use up the contingent, not the online pool
    EXPECT_EQ(remaining(r, u, channel::online, day, before), 0);
    EXPECT_EQ(remaining(r, u, channel::hotline, day, before), 4);
    // At the cut-off the unused contingent is online's too.
    EXPECT_EQ(remaining(r, u, channel::online, day, at_cut_off), 4);
    // A hotline that used more than its contingent does not give online a negative hold.
    u = {60, 0, 20};
    EXPECT_EQ(remaining(r, u, channel::online, day, before), 40);
}

TEST(booking_domain, care_home_reservation_and_release) {
    // 10 vials, 12 doses reserved for a care home visit: 48 bookable.
    EXPECT_EQ(day_capacity({10, 12, 0}, 6), 48);
    // The team used 5: 7 come back, so the day has 55.
    EXPECT_EQ(care_home_returned(12, 5), 7);
    EXPECT_EQ(day_capacity({10, 0, 12 - care_home_returned(12, 5)}, 6), 55);
    EXPECT_EQ(care_home_returned(12, 40), 0);
    EXPECT_EQ(care_home_returned(12, -1), 12);
}

TEST(booking_domain, only_open_groups_book) {
    const std::vector<std::int64_t> open = {1, 2};
    EXPECT_TRUE(group_may_book(2, open));
    EXPECT_FALSE(group_may_book(3, open));
    EXPECT_FALSE(group_may_book(1, {}));
}

TEST(booking_domain, appointment_times_spread_over_opening_hours) {
    const opening_hours h{8 * 60, 12 * 60, 10};  // 24 slots
    EXPECT_EQ(appointment_minute(h, 24, 0), 480);
    EXPECT_EQ(appointment_minute(h, 24, 23), 480 + 230);
    EXPECT_EQ(appointment_minute(h, 48, 1), 480);  // two per slot
    EXPECT_EQ(appointment_minute(h, 48, 2), 490);
}

TEST(booking_domain, months_clamp_to_the_end_of_the_month) {
    EXPECT_EQ(add_months(make_day(2027, 8, 31), 6), make_day(2028, 2, 29));
    EXPECT_EQ(add_months(make_day(2026, 8, 31), 6), make_day(2027, 2, 28));
    EXPECT_EQ(add_months(make_day(2026, 11, 15), 6), make_day(2027, 5, 15));
    EXPECT_EQ(day_of(start_of(day) + seconds_per_day - 1), day);
    EXPECT_EQ(day_of(-1), -1);
}

TEST(booking_domain, retention_of_unbooked_registrations_after_six_months) {
    const retention_rules r;  // 6 months, 0 days
    const registration_facts unbooked{day, false, std::nullopt};
    EXPECT_EQ(retention_check(r, unbooked, add_months(day, 6) - 1), retention_verdict::keep);
    EXPECT_EQ(retention_check(r, unbooked, add_months(day, 6)), retention_verdict::delete_unbooked);
    const registration_facts booked{day, true, std::nullopt};
    EXPECT_EQ(retention_check(r, booked, add_months(day, 12)), retention_verdict::keep);
}

TEST(booking_domain, retention_after_completed_vaccination) {
    retention_rules r;
    const registration_facts done{day - 30, true, day};
    EXPECT_EQ(retention_check(r, done, day - 1), retention_verdict::keep);
    EXPECT_EQ(retention_check(r, done, day), retention_verdict::delete_after_vaccination);
    r.after_vaccination_days = 14;
    EXPECT_EQ(retention_check(r, done, day + 13), retention_verdict::keep);
    EXPECT_EQ(retention_check(r, done, day + 14), retention_verdict::delete_after_vaccination);
}

}  // namespace
}  // namespace anteroom::booking
