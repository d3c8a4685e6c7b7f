#pragma once
// Strict, error-collecting access to a parsed TOML document, used only by the config loader.
// Every lookup through table_reader registers the key as allowed, so the "allowed keys" list
// printed for a typo cannot drift from the keys the loader actually reads. Nothing here throws
// on bad input: each problem becomes one config_error and reading carries on.

// toml++ 3.3.0 asserts instead of reporting a parse_error for table headers that start with a
// non-key character ("[.x]", "[[[1]]]"; fixed upstream in marzer/tomlplusplus#301). Release
// builds compile the assert out and report the error normally; this makes header-only debug
// builds behave the same, so a typo in a config file cannot abort the process. (The CMake build
// links the packaged shared library, whose parser is built without asserts.)
#ifndef TOML_ASSERT
#define TOML_ASSERT(expr) static_cast<void>(0)
#endif
#include <toml++/toml.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config.hpp"

namespace anteroom::config_detail {

class error_sink {
public:
    explicit error_sink(std::string file) : file_(std::move(file)) {}

    void add(std::uint32_t line, std::string key, std::string message);
    void add(const toml::node& at, std::string key, std::string message);
    bool empty() const { return errors_.empty(); }
    // Sorted by line (stable), so the report reads top to bottom like the file.
    std::vector<config_error> take();

private:
    std::string file_;
    std::vector<config_error> errors_;
};

// "\"text\"", with control characters escaped so a message never garbles a terminal.
std::string quoted(std::string_view text);
// "a string", "an integer", ... for "expected X, got Y".
std::string_view type_name(toml::node_type type);

// Each returns the value when `n` has the right type (and range); otherwise records an error
// for `key` at n's line and returns nullopt / nullptr.
const toml::table* get_table(error_sink& sink, const toml::node& n, const std::string& key);
const toml::array* get_array(error_sink& sink, const toml::node& n, const std::string& key);
std::optional<std::string> get_string(error_sink& sink, const toml::node& n, const std::string& key);
std::optional<bool> get_bool(error_sink& sink, const toml::node& n, const std::string& key);
std::optional<std::int64_t> get_integer(error_sink& sink, const toml::node& n, const std::string& key,
                                        std::int64_t min, std::int64_t max);
// A float or an integer (1 for 1.0); NaN and the infinities are out of any range.
std::optional<double> get_float(error_sink& sink, const toml::node& n, const std::string& key, double min,
                                double max);
// An integer number of bytes or a string accepted by parse_size().
std::optional<std::uint64_t> get_size(error_sink& sink, const toml::node& n, const std::string& key,
                                      std::uint64_t min, std::uint64_t max);
// A string accepted by parse_duration().
std::optional<duration_ms> get_duration(error_sink& sink, const toml::node& n, const std::string& key,
                                        duration_ms min, duration_ms max);
enum class port_zero { allowed, rejected };
// A string accepted by parse_address(). Port 0 ("any free port") makes sense for a listener,
// never for a server to connect to.
std::optional<listen_address> get_address(error_sink& sink, const toml::node& n, const std::string& key,
                                          port_zero zero);

template <class Enum>
using enum_names = std::span<const std::pair<std::string_view, Enum>>;

// One of a fixed set of strings.
template <class Enum>
std::optional<Enum> get_enum(error_sink& sink, const toml::node& n, const std::string& key,
                             enum_names<Enum> names) {
    const auto text = get_string(sink, n, key);
    if (!text) {
        return std::nullopt;
    }
    std::string allowed;
    for (const auto& [name, value] : names) {
        if (name == *text) {
            return value;
        }
        allowed += (allowed.empty() ? "" : ", ") + quoted(name);
    }
    sink.add(n, key, "must be one of " + allowed + "; got " + quoted(*text));
    return std::nullopt;
}

class table_reader {
public:
    // `path` is the dotted key of `table` itself ("" for the document root).
    table_reader(error_sink& sink, const toml::table& table, std::string path)
        : sink_(sink), table_(table), path_(std::move(path)) {}

    error_sink& sink() { return sink_; }
    std::uint32_t line() const;
    std::string key(std::string_view name) const;

    // Registers `name` as an allowed key; returns its node when present.
    const toml::node* optional(std::string_view name);
    // Same, and records "required key is missing" at the table's line when absent.
    const toml::node* required(std::string_view name);
    // Records an error for every key of the table that was not registered. Call it after
    // all optional()/required() calls.
    void finish();

    // Convenience readers: leave `out` untouched when the key is absent or invalid.
    void read(std::string_view name, bool& out);
    void read(std::string_view name, std::string& out);
    // A path to a file that must be usable now (a key or token file): `check(path, err)` runs
    // when the value is not empty, and its error is reported at the key's line — so a missing
    // or malformed secret stops check-config, a start and a reload, never a running node.
    void read_file(std::string_view name, std::string& out,
                   const std::function<bool(const std::string& path, std::string& err)>& check);
    void read(std::string_view name, duration_ms& out, duration_ms min, duration_ms max);
    void read_float(std::string_view name, double& out, double min, double max);
    template <class Int>
    void read_integer(std::string_view name, Int& out, std::int64_t min, std::int64_t max) {
        if (const auto* n = optional(name)) {
            if (const auto v = get_integer(sink_, *n, key(name), min, max)) {
                out = static_cast<Int>(*v);
            }
        }
    }
    template <class Int>
    void read_size(std::string_view name, Int& out, std::uint64_t min, std::uint64_t max) {
        if (const auto* n = optional(name)) {
            if (const auto v = get_size(sink_, *n, key(name), min, max)) {
                out = static_cast<Int>(*v);
            }
        }
    }
    template <class Enum>
    void read_enum(std::string_view name, Enum& out, enum_names<Enum> names) {
        if (const auto* n = optional(name)) {
            if (const auto v = get_enum(sink_, *n, key(name), names)) {
                out = *v;
            }
        }
    }

private:
    error_sink& sink_;
    const toml::table& table_;
    std::string path_;
    std::vector<std::string> allowed_;
};

}  // namespace anteroom::config_detail
