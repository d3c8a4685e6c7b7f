#pragma once
// RFC 3339 timestamps <-> Unix milliseconds (UTC). Used by the config ([room.event]), the
// status JSON and the capacity endpoint.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace anteroom {

// "2026-11-30T14:00:00Z", "2026-11-30T15:00:00+01:00", optional fraction ".123". nullopt for
// anything else (including out-of-range fields and a missing offset).
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

// "2026-11-30T14:00:00Z" (seconds precision, UTC).
std::string format_rfc3339(std::int64_t unix_ms);

}  // namespace anteroom
