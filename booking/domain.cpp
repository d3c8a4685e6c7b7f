#include "booking/domain.hpp"

#include <algorithm>
#include <chrono>

namespace anteroom::booking {

namespace chr = std::chrono;

day_number make_day(int year, unsigned month, unsigned day) {
    const chr::sys_days d{chr::year{year} / chr::month{month} / chr::day{day}};
    return static_cast<day_number>(d.time_since_epoch().count());
}

day_number add_months(day_number d, int months) {
    const chr::year_month_day ymd{chr::sys_days{chr::days{d}}};
    const chr::year_month target = chr::year_month{ymd.year(), ymd.month()} + chr::months{months};
    const chr::day last = chr::year_month_day_last{target.year(), chr::month_day_last{target.month()}}.day();
    const chr::sys_days out{target / std::min(ymd.day(), last)};
    return static_cast<day_number>(out.time_since_epoch().count());
}

std::int64_t day_capacity(const day_stock& stock, std::int64_t doses_per_vial) {
    const std::int64_t doses = std::max<std::int64_t>(stock.vials, 0) * std::max<std::int64_t>(doses_per_vial, 0);
    return std::max<std::int64_t>(doses - stock.care_home_reserved - stock.care_home_used, 0);
}

std::int64_t contingent_size(const hotline_contingent& h, std::int64_t capacity) {
    const std::int64_t v = std::max<std::int64_t>(h.value, 0);
    const std::int64_t n = h.type == hotline_contingent::kind::absolute ? v : capacity * std::min<std::int64_t>(v, 100) / 100;
    return std::clamp<std::int64_t>(n, 0, std::max<std::int64_t>(capacity, 0));
}

bool contingent_released(const hotline_contingent& h, day_number day, unix_seconds now) {
    return now >= start_of(day) - h.release_before_s;
}

std::int64_t remaining(const capacity_rules& rules, const day_usage& usage, channel ch, day_number day,
                       unix_seconds now) {
    const std::int64_t booked = usage.booked_online + usage.booked_hotline;
    std::int64_t free = usage.capacity - booked;
    if (ch == channel::online && !contingent_released(rules.hotline, day, now)) {
        const std::int64_t held = contingent_size(rules.hotline, usage.capacity) - usage.booked_hotline;
        free -= std::max<std::int64_t>(held, 0);
    }
    return std::max<std::int64_t>(free, 0);
}

std::int64_t care_home_returned(std::int64_t reserved, std::int64_t used) {
    return reserved - std::clamp<std::int64_t>(used, 0, std::max<std::int64_t>(reserved, 0));
}

bool group_may_book(std::int64_t group, std::span<const std::int64_t> open_groups) {
    return std::find(open_groups.begin(), open_groups.end(), group) != open_groups.end();
}

int appointment_minute(const opening_hours& hours, std::int64_t capacity, std::int64_t slot) {
    const int length = std::max(hours.slot_minutes, 1);
    const std::int64_t slots = std::max((hours.closes_minute - hours.opens_minute) / length, 1);
    const std::int64_t per_slot = std::max<std::int64_t>((capacity + slots - 1) / slots, 1);
    return hours.opens_minute + static_cast<int>(slot / per_slot) * length;
}

retention_verdict retention_check(const retention_rules& rules, const registration_facts& r, day_number today) {
    if (r.vaccination_complete && today >= *r.vaccination_complete + rules.after_vaccination_days) {
        return retention_verdict::delete_after_vaccination;
    }
    if (!r.has_booking && today >= add_months(r.registered, rules.unbooked_months)) {
        return retention_verdict::delete_unbooked;
    }
    return retention_verdict::keep;
}

}  // namespace anteroom::booking
