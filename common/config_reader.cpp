#include "common/config_reader.hpp"

#include <algorithm>
#include <charconv>
#include <system_error>

namespace anteroom::config_detail {

namespace {

std::string expected_got(std::string_view expected, const toml::node& n) {
    return "expected " + std::string(expected) + ", got " + std::string(type_name(n.type()));
}

// Shortest round-trip spelling: 0.25 -> "0.25", 1 -> "1", NaN -> "nan".
std::string format_number(double v) {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc{} ? std::string(buf, end) : std::string("?");
}

}  // namespace

void error_sink::add(std::uint32_t line, std::string key, std::string message) {
    errors_.push_back(config_error{file_, line, std::move(key), std::move(message)});
}

void error_sink::add(const toml::node& at, std::string key, std::string message) {
    add(at.source().begin.line, std::move(key), std::move(message));
}

std::vector<config_error> error_sink::take() {
    std::stable_sort(errors_.begin(), errors_.end(),
                     [](const config_error& a, const config_error& b) { return a.line < b.line; });
    return std::move(errors_);
}

std::string quoted(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 0xf];
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

std::string_view type_name(toml::node_type type) {
    switch (type) {
        case toml::node_type::none: return "nothing";
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a float";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::date: return "a date";
        case toml::node_type::time: return "a time";
        case toml::node_type::date_time: return "a date-time";
    }
    return "an unknown type";
}

const toml::table* get_table(error_sink& sink, const toml::node& n, const std::string& key) {
    const auto* t = n.as_table();
    if (t == nullptr) {
        sink.add(n, key, expected_got("a table", n));
    }
    return t;
}

const toml::array* get_array(error_sink& sink, const toml::node& n, const std::string& key) {
    const auto* a = n.as_array();
    if (a == nullptr) {
        sink.add(n, key, expected_got("an array", n));
    }
    return a;
}

std::optional<std::string> get_string(error_sink& sink, const toml::node& n, const std::string& key) {
    if (const auto* s = n.as_string()) {
        return s->get();
    }
    sink.add(n, key, expected_got("a string", n));
    return std::nullopt;
}

std::optional<bool> get_bool(error_sink& sink, const toml::node& n, const std::string& key) {
    if (const auto* b = n.as_boolean()) {
        return b->get();
    }
    sink.add(n, key, expected_got("a boolean (true or false)", n));
    return std::nullopt;
}

std::optional<std::int64_t> get_integer(error_sink& sink, const toml::node& n, const std::string& key,
                                        std::int64_t min, std::int64_t max) {
    const auto* i = n.as_integer();
    if (i == nullptr) {
        sink.add(n, key, expected_got("an integer", n));
        return std::nullopt;
    }
    const std::int64_t v = i->get();
    if (v < min || v > max) {
        sink.add(n, key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                             ", got " + std::to_string(v));
        return std::nullopt;
    }
    return v;
}

std::optional<double> get_float(error_sink& sink, const toml::node& n, const std::string& key, double min,
                                double max) {
    double v = 0;
    if (const auto* f = n.as_floating_point()) {
        v = f->get();
    } else if (const auto* i = n.as_integer()) {
        v = static_cast<double>(i->get());
    } else {
        sink.add(n, key, expected_got("a number", n));
        return std::nullopt;
    }
    if (!(v >= min && v <= max)) {  // also false for NaN
        sink.add(n, key, "must be between " + format_number(min) + " and " + format_number(max) + ", got " +
                             format_number(v));
        return std::nullopt;
    }
    return v;
}

std::optional<std::uint64_t> get_size(error_sink& sink, const toml::node& n, const std::string& key,
                                      std::uint64_t min, std::uint64_t max) {
    std::string got;
    std::optional<std::uint64_t> v;
    if (const auto* i = n.as_integer()) {
        got = std::to_string(i->get());
        if (i->get() >= 0) {
            v = static_cast<std::uint64_t>(i->get());
        }
    } else if (const auto* s = n.as_string()) {
        v = parse_size(s->get());
        if (!v) {
            sink.add(n, key,
                     "invalid size " + quoted(s->get()) +
                         "; expected a number of bytes, optionally followed by one of B, KiB, MiB, "
                         "GiB, TiB (e.g. \"512\", \"16KiB\", \"10MiB\")");
            return std::nullopt;
        }
        got = format_size(*v);
    } else {
        sink.add(n, key, expected_got("a size (an integer number of bytes or a string like \"16KiB\")", n));
        return std::nullopt;
    }
    if (!v || *v < min || *v > max) {
        sink.add(n, key, "must be between " + format_size(min) + " and " + format_size(max) + ", got " + got);
        return std::nullopt;
    }
    return v;
}

std::optional<duration_ms> get_duration(error_sink& sink, const toml::node& n, const std::string& key,
                                        duration_ms min, duration_ms max) {
    static constexpr std::string_view syntax =
        "a number followed by one of ms, s, m, h (e.g. \"250ms\", \"10s\", \"5m\", \"1h\")";
    const auto* s = n.as_string();
    if (s == nullptr) {
        sink.add(n, key, expected_got("a duration string: " + std::string(syntax), n));
        return std::nullopt;
    }
    const auto v = parse_duration(s->get());
    if (!v) {
        sink.add(n, key, "invalid duration " + quoted(s->get()) + "; expected " + std::string(syntax));
        return std::nullopt;
    }
    if (*v < min || *v > max) {
        sink.add(n, key, "must be between " + format_duration(min) + " and " + format_duration(max) +
                             ", got " + format_duration(*v));
        return std::nullopt;
    }
    return v;
}

std::optional<listen_address> get_address(error_sink& sink, const toml::node& n, const std::string& key,
                                          port_zero zero) {
    const auto text = get_string(sink, n, key);
    if (!text) {
        return std::nullopt;
    }
    const auto a = parse_address(*text);
    if (!a) {
        sink.add(n, key,
                 "invalid address " + quoted(*text) +
                     "; expected a literal IP and a port, e.g. \"127.0.0.1:8080\" or \"[::1]:8080\" "
                     "(host names are not resolved)");
        return std::nullopt;
    }
    if (a->port == 0 && zero == port_zero::rejected) {
        sink.add(n, key, "port must be between 1 and 65535, got 0");
        return std::nullopt;
    }
    return a;
}

std::uint32_t table_reader::line() const {
    return table_.source().begin.line;
}

std::string table_reader::key(std::string_view name) const {
    if (path_.empty()) {
        return std::string(name);
    }
    return path_ + "." + std::string(name);
}

const toml::node* table_reader::optional(std::string_view name) {
    // A key may be looked up more than once (read, then checked); list it once.
    if (std::find(allowed_.begin(), allowed_.end(), name) == allowed_.end()) {
        allowed_.emplace_back(name);
    }
    return table_.get(name);
}

const toml::node* table_reader::required(std::string_view name) {
    const auto* n = optional(name);
    if (n == nullptr) {
        // The key has no line of its own; point at the table that should hold it.
        sink_.add(std::max<std::uint32_t>(line(), 1), key(name), "required key is missing");
    }
    return n;
}

void table_reader::finish() {
    std::string allowed;
    for (const auto& a : allowed_) {
        allowed += (allowed.empty() ? "" : ", ") + a;
    }
    for (const auto& [k, v] : table_) {
        if (std::find(allowed_.begin(), allowed_.end(), k.str()) == allowed_.end()) {
            sink_.add(k.source().begin.line, key(k.str()), "unknown key; allowed keys: " + allowed);
        }
    }
}

void table_reader::read(std::string_view name, bool& out) {
    if (const auto* n = optional(name)) {
        if (const auto v = get_bool(sink_, *n, key(name))) {
            out = *v;
        }
    }
}

void table_reader::read(std::string_view name, std::string& out) {
    if (const auto* n = optional(name)) {
        if (auto v = get_string(sink_, *n, key(name))) {
            out = std::move(*v);
        }
    }
}

void table_reader::read_file(std::string_view name, std::string& out,
                             const std::function<bool(const std::string& path, std::string& err)>& check) {
    const auto* n = optional(name);
    if (n == nullptr) {
        return;
    }
    read(name, out);
    std::string err;
    if (!out.empty() && !check(out, err)) {
        sink_.add(*n, key(name), err);
    }
}

void table_reader::read_float(std::string_view name, double& out, double min, double max) {
    if (const auto* n = optional(name)) {
        if (const auto v = get_float(sink_, *n, key(name), min, max)) {
            out = *v;
        }
    }
}

void table_reader::read(std::string_view name, duration_ms& out, duration_ms min, duration_ms max) {
    if (const auto* n = optional(name)) {
        if (const auto v = get_duration(sink_, *n, key(name), min, max)) {
            out = *v;
        }
    }
}

}  // namespace anteroom::config_detail
