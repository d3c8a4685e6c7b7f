#include "common/config.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string_view>

namespace anteroom {

namespace {

struct unit {
    std::string_view suffix;
    std::uint64_t factor;
};

// Largest first: the formatters pick the first unit that divides the value exactly.
constexpr std::array<unit, 5> size_units{{
    {"TiB", 1ull << 40}, {"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10}, {"B", 1}}};
constexpr std::array<unit, 4> duration_units{{
    {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}}};

// "<digits><suffix>" scaled by the suffix's factor; nullopt unless the digits fit a uint64, the
// suffix is one of `units` (or absent, when `bare_number_ok`) and the product does not overflow.
template <std::size_t N>
std::optional<std::uint64_t> parse_scaled(std::string_view text, const std::array<unit, N>& units,
                                          bool bare_number_ok) {
    const auto digits_end = text.find_first_not_of("0123456789");
    const auto digits = text.substr(0, digits_end);
    const auto suffix = digits_end == std::string_view::npos ? std::string_view{} : text.substr(digits_end);
    if (digits.empty()) {
        return std::nullopt;
    }
    std::uint64_t number = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (ec != std::errc{} || end != digits.data() + digits.size()) {
        return std::nullopt;
    }
    std::uint64_t factor = 0;
    if (suffix.empty()) {
        if (!bare_number_ok) {
            return std::nullopt;
        }
        factor = 1;
    }
    for (const auto& u : units) {
        if (u.suffix == suffix) {
            factor = u.factor;
        }
    }
    if (factor == 0 || number > std::numeric_limits<std::uint64_t>::max() / factor) {
        return std::nullopt;
    }
    return number * factor;
}

template <std::size_t N>
std::string format_scaled(std::uint64_t value, const std::array<unit, N>& units) {
    for (const auto& u : units) {
        if (value != 0 && value % u.factor == 0) {
            return std::to_string(value / u.factor) + std::string(u.suffix);
        }
    }
    return std::to_string(value) + std::string(units.back().suffix);
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string_view::npos) {
        return std::nullopt;
    }
    unsigned port = 0;
    std::from_chars(text.data(), text.data() + text.size(), port);
    if (port > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(port);
}

// Reads at most `limit` bytes; a config file larger than that is a mistake, not a config.
std::optional<std::string> read_file(const std::string& path, std::string& contents) {
    constexpr std::size_t limit = 4 * 1024 * 1024;
    errno = 0;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f) {
        return "cannot read file: " + std::string(std::strerror(errno));
    }
    char buf[16 * 1024];
    while (true) {
        const std::size_t n = std::fread(buf, 1, sizeof buf, f.get());
        contents.append(buf, n);
        if (contents.size() > limit) {
            return "cannot read file: larger than " + format_size(limit);
        }
        if (n < sizeof buf) {
            break;
        }
    }
    if (std::ferror(f.get()) != 0) {
        return "cannot read file: " + std::string(std::strerror(errno != 0 ? errno : EIO));
    }
    return std::nullopt;
}

}  // namespace

std::string format_size(std::uint64_t bytes) {
    return bytes == 0 ? "0" : format_scaled(bytes, size_units);
}

std::string format_duration(duration_ms d) {
    if (d.count() <= 0) {
        return std::to_string(d.count()) + "ms";
    }
    return format_scaled(static_cast<std::uint64_t>(d.count()), duration_units);
}

std::optional<duration_ms> parse_duration(std::string_view text) {
    const auto ms = parse_scaled(text, duration_units, false);
    if (!ms || *ms > static_cast<std::uint64_t>(std::numeric_limits<duration_ms::rep>::max())) {
        return std::nullopt;
    }
    return duration_ms{static_cast<duration_ms::rep>(*ms)};
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    return parse_scaled(text, size_units, true);
}

std::optional<listen_address> parse_address(std::string_view text) {
    std::string_view host;
    std::string_view port;
    if (text.starts_with('[')) {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return std::nullopt;
        }
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
        // Brackets are for IPv6 only; "[1.2.3.4]:80" is a typo, not an address.
        if (host.find(':') == std::string_view::npos) {
            return std::nullopt;
        }
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            return std::nullopt;
        }
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        // A bare IPv6 address makes the port ambiguous ("::1:80").
        if (host.find(':') != std::string_view::npos) {
            return std::nullopt;
        }
    }
    const auto ip = parse_ip(host);
    const auto port_number = parse_port(port);
    if (!ip || !port_number) {
        return std::nullopt;
    }
    // Canonical text, so that equal addresses compare equal across reloads.
    return listen_address{ip->text(), *port_number};
}

std::string listen_address::text() const {
    const auto port_text = std::to_string(port);
    if (host.find(':') != std::string::npos) {
        return "[" + host + "]:" + port_text;
    }
    return host + ":" + port_text;
}

namespace {

constexpr std::array<std::string_view, 5> room_mode_names{"fifo", "random", "passthrough", "reject", "paused"};

}  // namespace

std::string_view to_string(room_mode m) {
    return room_mode_names.at(static_cast<std::size_t>(m));
}

std::optional<room_mode> parse_room_mode(std::string_view text) {
    const auto it = std::find(room_mode_names.begin(), room_mode_names.end(), text);
    if (it == room_mode_names.end()) {
        return std::nullopt;
    }
    return static_cast<room_mode>(it - room_mode_names.begin());
}

const upstream_config* config::find_upstream(const std::string& name) const {
    for (const auto& u : upstreams) {
        if (u.name == name) {
            return &u;
        }
    }
    return nullptr;
}

std::string config_error::text() const {
    std::string out = file;
    if (line != 0) {
        out += ":" + std::to_string(line);
    }
    out += ": ";
    if (!key.empty()) {
        out += key + ": ";
    }
    out += message;
    return out;
}

config_result load_config(const std::string& path) {
    try {
        std::string contents;
        if (auto problem = read_file(path, contents)) {
            return {nullptr, {config_error{path, 0, "", std::move(*problem)}}};
        }
        return parse_config(contents, path);
    } catch (const std::exception& e) {
        return {nullptr, {config_error{path, 0, "", std::string("internal error: ") + e.what()}}};
    }
}

}  // namespace anteroom
