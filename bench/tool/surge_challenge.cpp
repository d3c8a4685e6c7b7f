#include "bench/tool/surge_challenge.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/http_fields.hpp"

// SHA256_CTX is a plain struct: the state after "token:" is copied for every try (a memcpy),
// which EVP cannot do without allocating. As in common/crypto.cpp, the warning is silenced here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace anteroom::bench {

namespace {

// The value of attribute `name` (name="…") in the tag that starts at `tag`, raw.
std::optional<std::string_view> attribute(std::string_view html, std::size_t tag, std::string_view name) {
    const auto end = html.find('>', tag);
    if (end == std::string_view::npos) {
        return std::nullopt;
    }
    const auto t = html.substr(tag, end - tag);
    const std::string key = " " + std::string(name) + "=\"";
    const auto at = t.find(key);
    if (at == std::string_view::npos) {
        return std::nullopt;
    }
    const auto from = at + key.size();
    const auto to = t.find('"', from);
    return to == std::string_view::npos ? std::nullopt : std::optional(t.substr(from, to - from));
}

// The references the server's escaping writes (&amp; &lt; &gt; &quot; &#39;) and numeric ones.
std::string decode_references(std::string_view s) {
    static constexpr std::pair<std::string_view, char> named[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}, {"&apos;", '\''}};
    std::string out;
    out.reserve(s.size());
    for (std::size_t k = 0; k < s.size();) {
        const auto hit = std::find_if(std::begin(named), std::end(named),
                                      [&](const auto& n) { return s.substr(k).starts_with(n.first); });
        if (hit != std::end(named)) {
            out += hit->second;
            k += hit->first.size();
        } else {
            out += s[k++];
        }
    }
    return out;
}

bool token_ok(std::string_view t) {
    return !t.empty() && t.size() <= 4096 && std::all_of(t.begin(), t.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    });
}

}  // namespace

std::optional<challenge_info> parse_challenge_html(std::string_view html) {
    const auto form = html.find("<form id=\"anteroom-challenge\"");
    if (form == std::string_view::npos) {
        return std::nullopt;
    }
    const auto token = attribute(html, form, "data-token");
    const auto difficulty = attribute(html, form, "data-difficulty");
    if (!token || !difficulty) {
        return std::nullopt;
    }
    challenge_info ch;
    ch.token = decode_references(*token);
    const auto [end, ec] = std::from_chars(difficulty->data(), difficulty->data() + difficulty->size(), ch.difficulty);
    if (ec != std::errc{} || end != difficulty->data() + difficulty->size() || !token_ok(ch.token)) {
        return std::nullopt;
    }
    const auto form_end = html.find("</form>", form);
    for (auto at = html.find("<input", form); at < form_end; at = html.find("<input", at + 1)) {
        if (attribute(html, at, "name") == "return") {
            ch.return_path = decode_references(attribute(html, at, "value").value_or(""));
            break;
        }
    }
    return ch;
}

std::optional<challenge_info> parse_challenge_json(std::string_view json) {
    const auto j = nlohmann::json::parse(json, nullptr, false);
    if (!j.is_object()) {
        return std::nullopt;
    }
    const auto token = j.find("token");
    const auto difficulty = j.find("difficulty");
    if (token == j.end() || !token->is_string() || difficulty == j.end() || !difficulty->is_number_unsigned()) {
        return std::nullopt;
    }
    challenge_info ch;
    ch.token = token->get<std::string>();
    ch.difficulty = static_cast<unsigned>(std::min<std::uint64_t>(difficulty->get<std::uint64_t>(), 1000));
    if (const auto ret = j.find("return"); ret != j.end() && ret->is_string()) {
        ch.return_path = ret->get<std::string>();
    }
    return token_ok(ch.token) ? std::optional(ch) : std::nullopt;
}

std::optional<challenge_info> parse_challenge(std::string_view body) {
    const auto first = body.find_first_not_of(" \t\r\n");
    return first != std::string_view::npos && body[first] == '{' ? parse_challenge_json(body) : parse_challenge_html(body);
}

unsigned leading_zero_bits(const std::uint8_t (&digest)[32]) {
    unsigned n = 0;
    for (const auto byte : digest) {
        if (byte != 0) {
            return n + static_cast<unsigned>(std::countl_zero(byte));
        }
        n += 8;
    }
    return n;
}

std::optional<challenge_solution> solve_challenge(std::string_view token, unsigned difficulty, std::uint64_t max_tries,
                                                  std::uint64_t& hashes, const std::atomic<bool>* stop) {
    hashes = 0;
    if (difficulty > 256) {
        return std::nullopt;
    }
    SHA256_CTX prefix;
    SHA256_Init(&prefix);
    SHA256_Update(&prefix, token.data(), token.size());
    SHA256_Update(&prefix, ":", 1);
    char digits[24];
    std::uint8_t d[32];
    for (std::uint64_t c = 0; c < max_tries; ++c) {
        if ((c & 0xffff) == 0xffff && stop != nullptr && stop->load(std::memory_order_relaxed)) {
            hashes = c;
            return std::nullopt;
        }
        const char* end = std::to_chars(digits, digits + sizeof digits, c).ptr;
        SHA256_CTX ctx = prefix;
        SHA256_Update(&ctx, digits, static_cast<std::size_t>(end - digits));
        SHA256_Final(d, &ctx);
        if (leading_zero_bits(d) >= difficulty) {
            hashes = c + 1;
            return challenge_solution{c};
        }
    }
    hashes = max_tries;
    return std::nullopt;
}

std::uint64_t challenge_max_tries(unsigned difficulty) {
    return std::uint64_t{16} << std::min(difficulty, 40u);
}

std::uint32_t browser_solve_ms(unsigned difficulty, double unit) {
    const double expected_ms = std::ldexp(1.0, static_cast<int>(std::min(difficulty, 40u))) / 200'000.0 * 1000.0;
    const double ms = std::max(300.0, expected_ms) * (0.7 + 0.6 * std::clamp(unit, 0.0, 1.0));
    return static_cast<std::uint32_t>(std::min(ms, 3'600'000.0));
}

std::string challenge_submit_target(const challenge_info& ch, std::uint64_t counter) {
    return std::string(challenge_submit_path) + "?token=" + url_encode_component(ch.token) + "&solution=" + std::to_string(counter) +
           "&return=" + url_encode_component(ch.return_path);
}

}  // namespace anteroom::bench

#pragma GCC diagnostic pop
