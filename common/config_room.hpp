#pragma once
// The [admission] and [[room]] part of the config schema (config_schema.cpp reads the rest).
// Room paths are checked with the waiting room's own normalisation and templates with its own
// parser (anteroom_admission), so check-config rejects exactly what the proxy would misread.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/config_reader.hpp"

namespace anteroom::config_detail {

void read_admission(table_reader& r, admission_config& a);
// [booking] and its [[booking.centre]] tables (config_booking.cpp).
void read_booking(table_reader& r, booking_config& b);
// [bot_detect] with its [bot_detect.signals], [bot_detect.limits] and [[bot_detect.allow]] /
// [[bot_detect.deny]] tables (config_bot.cpp).
void read_bot_detect(table_reader& r, bot_detect_config& b);

// Where the checks across rooms point.
struct room_source {
    struct origin {
        std::uint32_t line = 0;
        std::string key;  // "room[1].paths[0]"
    };
    std::string key;             // "room[1]"
    std::uint32_t id_line = 0;   // 0: the id is missing or invalid
    std::vector<origin> paths;   // parallel to room_config::paths
    std::uint32_t mode_line = 0;   // 0: not set
    std::uint32_t event_line = 0;  // 0: no [room.event]
};

room_source read_room(table_reader& r, room_config& room, std::string key);

// One path prefix in its normalised form (room paths, exclude, landing_path; bot_detect rule
// paths): no query, normalisable, no segment that normalisation would remove. Room paths may
// not claim anteroom's own endpoints (/_anteroom/...); a rule may well cover them.
enum class endpoint_paths { reserved, allowed };
std::optional<std::string> read_room_path(error_sink& sink, const toml::node& n, const std::string& key,
                                          endpoint_paths endpoints = endpoint_paths::reserved);

// [tls] with its [[tls.certificate]] tables; `file` names the config file in the origin of each
// certificate (config_tls.cpp). The TLS keys of one [[upstream]] table.
void read_tls(table_reader& r, tls_config& t, const std::string& file);
void read_upstream_tls(table_reader& r, upstream_config& u);

// [state] (config_state.cpp); returns the section's line (0 when absent).
std::uint32_t read_state(table_reader& r, state_config& s);
// What the chosen backend cannot do with these rooms (the shared store has no random mode and
// no pre-queue events yet).
void check_state(error_sink& sink, const config& cfg, std::uint32_t state_line, const std::vector<room_source>& src);

// Unique ids; no path claimed by two rooms.
void check_rooms(error_sink& sink, const std::vector<room_config>& rooms, const std::vector<room_source>& src);

}  // namespace anteroom::config_detail
