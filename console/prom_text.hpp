#pragma once
// Reads the Prometheus text exposition format (version 0.0.4) as anteroom writes it: one sample
// per line, `name{labels} value`, comments and blank lines skipped. The console samples its own
// /metrics this way, so the dashboard shows exactly the figures a scrape would.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace anteroom::console {

struct prom_sample {
    std::string name;
    std::string labels;  // as written between the braces: a="x",b="y" (may be empty)
    double value = 0;
};

// Lines that do not parse are skipped (a scrape is never refused for one odd line); at most
// `max_samples` are kept.
std::vector<prom_sample> parse_prom_text(std::string_view text, std::size_t max_samples = 1u << 16);

// The value of one label in a label text, unescaped (\\, \", \n); nullopt when absent.
std::optional<std::string> label_of(std::string_view labels, std::string_view name);

}  // namespace anteroom::console
