// Fuzz target: the config loader (common/config*.cpp: toml++ and the schema, validation) from
// text through parse_config(), the same path load_config() takes after reading the file. Bad
// input must come back as errors, never as a crash, an exception or an abort.
//
// Properties: a result has a config or errors, never both or neither; every error has a
// message. The value helpers the loader uses (sizes, durations, addresses) round-trip through
// their formatters: format_size(parse_size(x)) parses to the same number, and so on.
//
// The loader reads (never writes) files a config names: TLS certificates, CA files and the
// waiting page template are opened to check them.

#include <cstdlib>
#include <string>
#include <string_view>

#include "common/config.hpp"
#include "tests/fuzz/fuzz_target.hpp"

namespace {

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

// The helpers on the input's first line, as a value of a key would reach them.
void value_helpers(std::string_view text) {
    const auto line = text.substr(0, text.find('\n'));
    if (const auto bytes = anteroom::parse_size(line)) {
        const auto again = anteroom::parse_size(anteroom::format_size(*bytes));
        check(again && *again == *bytes);
    }
    if (const auto d = anteroom::parse_duration(line)) {
        const auto again = anteroom::parse_duration(anteroom::format_duration(*d));
        check(again && *again == *d);
    }
    if (const auto a = anteroom::parse_address(line)) {
        const auto again = anteroom::parse_address(a->text());
        check(again && again->text() == a->text());
    }
}

}  // namespace

ANTEROOM_FUZZ_TARGET(config) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto result = anteroom::parse_config(text, "fuzz.toml");
    check((result.cfg == nullptr) != result.errors.empty());
    for (const auto& e : result.errors) {
        check(!e.message.empty() && !e.text().empty());
    }
    value_helpers(text);
    return 0;
}
