#include "console/prom_text.hpp"

#include <cmath>
#include <cstdlib>

namespace anteroom::console {

namespace {

bool name_char(char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && c >= '0' && c <= '9');
}

// Ends at the closing brace of a label set, skipping quoted values (which may hold '}').
std::size_t label_end(std::string_view s, std::size_t from) {
    bool quoted = false;
    for (std::size_t i = from; i < s.size(); ++i) {
        if (quoted && s[i] == '\\') {
            ++i;
        } else if (s[i] == '"') {
            quoted = !quoted;
        } else if (!quoted && s[i] == '}') {
            return i;
        }
    }
    return std::string_view::npos;
}

std::optional<double> parse_value(std::string_view v) {
    if (v == "+Inf") {
        return HUGE_VAL;
    }
    if (v == "-Inf") {
        return -HUGE_VAL;
    }
    if (v == "NaN") {
        return std::nan("");
    }
    const std::string copy(v);  // strtod needs a terminated string
    char* end = nullptr;
    const double d = std::strtod(copy.c_str(), &end);
    if (end != copy.c_str() + copy.size() || copy.empty()) {
        return std::nullopt;
    }
    return d;
}

}  // namespace

std::vector<prom_sample> parse_prom_text(std::string_view text, std::size_t max_samples) {
    std::vector<prom_sample> out;
    while (!text.empty() && out.size() < max_samples) {
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (line.empty() || line.front() == '#') {
            continue;
        }
        std::size_t i = 0;
        while (i < line.size() && name_char(line[i], i == 0)) {
            ++i;
        }
        if (i == 0) {
            continue;
        }
        prom_sample s;
        s.name = line.substr(0, i);
        if (i < line.size() && line[i] == '{') {
            const auto close = label_end(line, i + 1);
            if (close == std::string_view::npos) {
                continue;
            }
            s.labels = line.substr(i + 1, close - i - 1);
            i = close + 1;
        }
        while (i < line.size() && line[i] == ' ') {
            ++i;
        }
        std::string_view rest = line.substr(i);
        rest = rest.substr(0, rest.find(' '));  // an optional timestamp follows
        const auto v = parse_value(rest);
        if (!v) {
            continue;
        }
        s.value = *v;
        out.push_back(std::move(s));
    }
    return out;
}

std::optional<std::string> label_of(std::string_view labels, std::string_view name) {
    std::size_t i = 0;
    while (i < labels.size()) {
        const auto eq = labels.find('=', i);
        if (eq == std::string_view::npos || eq + 1 >= labels.size() || labels[eq + 1] != '"') {
            return std::nullopt;
        }
        const std::string_view key = labels.substr(i, eq - i);
        std::string value;
        std::size_t j = eq + 2;
        for (; j < labels.size() && labels[j] != '"'; ++j) {
            if (labels[j] == '\\' && j + 1 < labels.size()) {
                ++j;
                value += labels[j] == 'n' ? '\n' : labels[j];
            } else {
                value += labels[j];
            }
        }
        if (j >= labels.size()) {
            return std::nullopt;
        }
        if (key == name) {
            return value;
        }
        i = j + 1;
        if (i < labels.size() && labels[i] == ',') {
            ++i;
        }
    }
    return std::nullopt;
}

}  // namespace anteroom::console
