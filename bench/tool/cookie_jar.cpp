#include "bench/tool/cookie_jar.hpp"

#include <charconv>
#include <cstring>

namespace anteroom::bench {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if ((s[i] | 0x20) != (prefix[i] | 0x20)) {
            return false;
        }
    }
    return true;
}

// Removes "name=..." from a "; "-separated header text.
void erase_pair(std::string& header, std::string_view name) {
    std::size_t pos = 0;
    while (pos < header.size()) {
        const auto end = header.find(';', pos);
        const auto stop = end == std::string::npos ? header.size() : end;
        const auto pair = trim(std::string_view(header).substr(pos, stop - pos));
        if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
            // Remove this pair and one separator next to it.
            std::size_t from = pos;
            std::size_t to = end == std::string::npos ? header.size() : end + 1;
            if (end == std::string::npos && from > 0) {
                from = header.rfind(';', from - 1);
                from = from == std::string::npos ? 0 : from;
            }
            header.erase(from, to - from);
            while (!header.empty() && header.front() == ' ') {
                header.erase(0, 1);
            }
            return;
        }
        pos = stop + 1;
    }
}

}  // namespace

char* cookie_jar::at(std::uint32_t slot) const {
    const std::uint32_t c = slot >> 28;
    const std::uint32_t i = slot & 0x0fffffffu;
    return classes_[c].blocks[i / per_block].get() + std::size_t{i % per_block} * class_bytes(c);
}

std::string_view cookie_jar::cookies(std::uint32_t slot) const {
    if (slot == none) {
        return {};
    }
    const char* p = at(slot);
    std::uint16_t n = 0;
    std::memcpy(&n, p, 2);
    return {p + 4, n};
}

std::string_view cookie_jar::extra(std::uint32_t slot) const {
    if (slot == none) {
        return {};
    }
    const char* p = at(slot);
    std::uint16_t a = 0;
    std::uint16_t b = 0;
    std::memcpy(&a, p, 2);
    std::memcpy(&b, p + 2, 2);
    return {p + 4 + a, b};
}

std::uint32_t cookie_jar::store(std::uint32_t slot, std::string_view cookies, std::string_view extra, bool& overflow) {
    overflow = false;
    const std::size_t need = cookies.size() + extra.size();
    if (need == 0) {
        release(slot);
        return none;
    }
    if (need > max_bytes) {
        overflow = true;
        return slot;
    }
    std::size_t c = 0;
    while (class_bytes(c) - 4 < need) {
        ++c;
    }
    // Copy first: the texts may point into the old slot.
    std::string copy;
    copy.reserve(need);
    copy.append(cookies).append(extra);
    if (slot != none && (slot >> 28) != c) {
        release(slot);
        slot = none;
    }
    if (slot == none) {
        auto& sc = classes_[c];
        std::uint32_t i = 0;
        if (!sc.free.empty()) {
            i = sc.free.back();
            sc.free.pop_back();
        } else {
            i = sc.used++;
            if (i / per_block >= sc.blocks.size()) {
                sc.blocks.push_back(std::make_unique<char[]>(per_block * class_bytes(c)));
            }
        }
        slot = (static_cast<std::uint32_t>(c) << 28) | i;
        ++in_use_;
    }
    char* p = at(slot);
    const auto a = static_cast<std::uint16_t>(cookies.size());
    const auto b = static_cast<std::uint16_t>(extra.size());
    std::memcpy(p, &a, 2);
    std::memcpy(p + 2, &b, 2);
    std::memcpy(p + 4, copy.data(), copy.size());
    return slot;
}

void cookie_jar::release(std::uint32_t slot) {
    if (slot == none) {
        return;
    }
    classes_[slot >> 28].free.push_back(slot & 0x0fffffffu);
    --in_use_;
}

std::size_t cookie_jar::bytes_reserved() const {
    std::size_t n = 0;
    for (std::size_t c = 0; c < class_count; ++c) {
        n += classes_[c].blocks.size() * per_block * class_bytes(c);
    }
    return n;
}

std::string_view apply_set_cookie(std::string& header, std::string_view set_cookie) {
    const auto semi = set_cookie.find(';');
    const auto pair = trim(set_cookie.substr(0, semi));
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) {
        return {};
    }
    const auto name = trim(pair.substr(0, eq));
    const auto value = trim(pair.substr(eq + 1));
    bool deleted = value.empty();
    std::string_view attrs = semi == std::string_view::npos ? std::string_view{} : set_cookie.substr(semi + 1);
    while (!attrs.empty()) {
        const auto next = attrs.find(';');
        const auto attr = trim(attrs.substr(0, next));
        if (iequals_prefix(attr, "max-age=")) {
            long long age = 1;
            const auto v = attr.substr(8);
            std::from_chars(v.data(), v.data() + v.size(), age);
            deleted = deleted || age <= 0;
        } else if (iequals_prefix(attr, "expires=") && attr.find("1970") != std::string_view::npos) {
            deleted = true;
        }
        if (next == std::string_view::npos) {
            break;
        }
        attrs.remove_prefix(next + 1);
    }
    erase_pair(header, name);
    if (!deleted) {
        if (!header.empty()) {
            header += "; ";
        }
        header.append(name).append("=").append(value);
    }
    // The name now lives at a known place only when added; callers compare it right away.
    return name;
}

std::string_view cookie_value(std::string_view header, std::string_view name) {
    std::size_t pos = 0;
    while (pos < header.size()) {
        const auto end = header.find(';', pos);
        const auto stop = end == std::string_view::npos ? header.size() : end;
        const auto pair = trim(header.substr(pos, stop - pos));
        if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
            return pair.substr(name.size() + 1);
        }
        pos = stop + 1;
    }
    return {};
}

}  // namespace anteroom::bench
