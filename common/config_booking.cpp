// [booking] and [[booking.centre]]: keys, ranges and defaults of the embedded booking backend.
// docs/configuration.md documents every key read here; keep the two in step.

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "common/config_room.hpp"
#include "common/keyfile.hpp"

namespace anteroom::config_detail {

namespace {

using namespace std::chrono_literals;

constexpr std::string_view day_names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

// "HH:MM" (00:00 … 24:00) → minutes after midnight.
std::optional<int> read_clock(error_sink& sink, const toml::node& n, const std::string& key) {
    const auto text = get_string(sink, n, key);
    if (!text) {
        return std::nullopt;
    }
    unsigned h = 0;
    unsigned m = 0;
    char tail = 0;
    if (text->size() != 5 || std::sscanf(text->c_str(), "%2u:%2u%c", &h, &m, &tail) != 2 || m > 59 ||
        h * 60 + m > 24 * 60) {
        sink.add(n, key, "must be a time \"HH:MM\" from \"00:00\" to \"24:00\", got " + quoted(*text));
        return std::nullopt;
    }
    return static_cast<int>(h * 60 + m);
}

void read_centre(table_reader& r, booking_centre_config& c) {
    r.required("name");
    r.read("name", c.name);
    if (const auto* n = r.optional("name"); n != nullptr && (c.name.empty() || c.name.size() > 200)) {
        r.sink().add(*n, r.key("name"), "must be 1 to 200 characters");
    }
    if (const auto* n = r.optional("opens")) {
        c.opens_minute = read_clock(r.sink(), *n, r.key("opens")).value_or(c.opens_minute);
    }
    if (const auto* n = r.optional("closes")) {
        c.closes_minute = read_clock(r.sink(), *n, r.key("closes")).value_or(c.closes_minute);
    }
    r.read_integer("slot_minutes", c.slot_minutes, 1, 240);
    if (c.opens_minute >= c.closes_minute) {
        r.sink().add(r.line(), r.key("closes"), "must be later than opens");
    }
    if (const auto* n = r.optional("days")) {
        if (const auto* arr = get_array(r.sink(), *n, r.key("days"))) {
            std::uint8_t mask = 0;
            for (std::size_t i = 0; i < arr->size(); ++i) {
                const auto key = r.key("days") + "[" + std::to_string(i) + "]";
                const auto d = get_string(r.sink(), (*arr)[i], key);
                if (!d) {
                    continue;
                }
                const auto* it = std::find(std::begin(day_names), std::end(day_names), *d);
                if (it == std::end(day_names)) {
                    r.sink().add((*arr)[i], key, "must be one of \"mon\" … \"sun\", got " + quoted(*d));
                    continue;
                }
                mask |= static_cast<std::uint8_t>(1u << (it - std::begin(day_names)));
            }
            if (mask == 0) {
                r.sink().add(*n, r.key("days"), "must name at least one weekday");
            } else {
                c.open_days = mask;
            }
        }
    }
    r.finish();
}

void read_contingent(table_reader& r, booking_config& b) {
    const auto* n = r.optional("hotline_contingent");
    if (n == nullptr) {
        return;
    }
    const auto key = r.key("hotline_contingent");
    if (n->is_integer()) {
        if (const auto v = get_integer(r.sink(), *n, key, 0, 1'000'000)) {
            b.hotline_percent = false;
            b.hotline_contingent = *v;
        }
        return;
    }
    const auto text = get_string(r.sink(), *n, key);
    if (!text) {
        return;
    }
    unsigned pct = 0;
    char sign = 0;
    char tail = 0;
    if (std::sscanf(text->c_str(), "%3u%c%c", &pct, &sign, &tail) != 2 || sign != '%' || pct > 100) {
        r.sink().add(*n, key, "must be an integer (appointments) or a percentage \"0%\" … \"100%\", got " + quoted(*text));
        return;
    }
    b.hotline_percent = true;
    b.hotline_contingent = pct;
}

}  // namespace

void read_booking(table_reader& r, booking_config& b) {
    r.read("embedded", b.embedded);
    if (const auto* n = r.optional("listen")) {
        if (const auto a = get_address(r.sink(), *n, r.key("listen"), port_zero::allowed)) {
            b.listen = *a;
        }
    }
    r.read("database", b.database);
    if (const auto* n = r.optional("database"); n != nullptr && b.database.empty()) {
        r.sink().add(*n, r.key("database"), "must not be empty");
    }
    r.read_integer("threads", b.threads, 1, 64);
    r.read_integer("max_queue", b.max_queue, 1, 1'000'000);
    r.read_integer("write_batch", b.write_batch, 1, 4096);
    r.read_integer("max_connections", b.max_connections, 1, 1'000'000);
    r.read_integer("doses_per_vial", b.doses_per_vial, 1, 100);
    read_contingent(r, b);
    r.read("hotline_release_before", b.hotline_release_before, 0ms, duration_ms(30LL * 24 * 3600'000));
    r.read_integer("second_appointment_days", b.second_appointment_days, 0, 365);
    r.read_integer("retention_unbooked_months", b.retention_unbooked_months, 1, 120);
    r.read_integer("retention_after_vaccination_days", b.retention_after_vaccination_days, 0, 3650);
    r.read("retention_interval", b.retention_interval, 1s, duration_ms(7LL * 24 * 3600'000));
    r.read("session_ttl", b.session_ttl, 1min, duration_ms(24LL * 3600'000));
    r.read_integer("pin_iterations", b.pin_iterations, 1'000, 10'000'000);
    r.read("fsync_each_commit", b.fsync_each_commit);
    r.read_file("admin_token_file", b.admin_token_file, token_file_check("booking.admin_token_file"));
    r.read_integer("demo_vials_per_day", b.demo_vials_per_day, 0, 100'000);
    r.read("cookie_secure", b.cookie_secure);
    if (const auto* n = r.optional("open_groups")) {
        if (const auto* arr = get_array(r.sink(), *n, r.key("open_groups"))) {
            for (std::size_t i = 0; i < arr->size(); ++i) {
                const auto key = r.key("open_groups") + "[" + std::to_string(i) + "]";
                if (const auto g = get_integer(r.sink(), (*arr)[i], key, 0, 1000)) {
                    b.open_groups.push_back(*g);
                }
            }
        }
    }
    if (const auto* n = r.optional("centre")) {
        const auto key = r.key("centre");
        const auto* arr = n->as_array();
        if (arr == nullptr || arr->empty()) {
            r.sink().add(*n, key, "expected one or more [[booking.centre]] tables");
        } else {
            for (std::size_t i = 0; i < arr->size(); ++i) {
                const auto ckey = key + "[" + std::to_string(i) + "]";
                if (const auto* t = get_table(r.sink(), (*arr)[i], ckey)) {
                    table_reader cr(r.sink(), *t, ckey);
                    booking_centre_config c;
                    read_centre(cr, c);
                    const bool dup = std::any_of(b.centres.begin(), b.centres.end(),
                                                 [&](const booking_centre_config& o) { return o.name == c.name; });
                    if (dup) {
                        r.sink().add(*t, ckey + ".name", "duplicate centre name " + quoted(c.name));
                    }
                    b.centres.push_back(std::move(c));
                }
            }
        }
    }
    r.finish();
}

}  // namespace anteroom::config_detail
