#pragma once
// What one request reveals about its sender, before any state is consulted: the browser family
// its User-Agent claims, which of that browser's companion headers are present, and the order
// they came in. Pure and allocation-free: the proxy hands over the header fields in arrival
// order as string views.

#include <cstdint>
#include <span>
#include <string_view>

namespace anteroom::bot_detect {

struct header_ref {
    std::string_view name;
    std::string_view value;
};

enum class ua_family : std::uint8_t {
    none,        // no User-Agent field (or an empty one)
    automation,  // a known tool, library, crawler or headless browser
    chromium,    // Chrome, Edge, Opera, Brave, ... (sends Sec-CH-UA to secure origins)
    firefox,
    safari,
    other_browser,  // "Mozilla/..." that is none of the above
    unknown,        // anything else (an app or script with its own name)
};
std::string_view to_string(ua_family f);

// The User-Agent's family. Automation markers win over browser tokens ("HeadlessChrome").
ua_family classify_user_agent(std::string_view ua);

// Presence bits of the headers browsers send with every navigation or fetch.
namespace has {
inline constexpr std::uint16_t sec_fetch_site = 1u << 0;
inline constexpr std::uint16_t sec_fetch_mode = 1u << 1;
inline constexpr std::uint16_t sec_fetch_dest = 1u << 2;
inline constexpr std::uint16_t sec_ch_ua = 1u << 3;
inline constexpr std::uint16_t accept_language = 1u << 4;
inline constexpr std::uint16_t accept_encoding = 1u << 5;
inline constexpr std::uint16_t gzip = 1u << 6;  // Accept-Encoding lists gzip
inline constexpr std::uint16_t br = 1u << 7;    // Accept-Encoding lists br
inline constexpr std::uint16_t accept = 1u << 8;
inline constexpr std::uint16_t cookie = 1u << 9;
inline constexpr std::uint16_t fetch_all = sec_fetch_site | sec_fetch_mode | sec_fetch_dest;
}  // namespace has

struct request_facts {
    ua_family family = ua_family::none;
    std::uint16_t present = 0;  // has:: bits
    // Our header-order signature: the letters U (User-Agent), A (Accept), L (Accept-Language),
    // E (Accept-Encoding), F (first Sec-Fetch-*) in order of first appearance, at most 5.
    char order[6] = {};
    std::uint32_t header_signature = 0;  // hash of the field names' lengths and first/last letters, in order
    std::uint32_t ua_hash = 0;           // hash of the User-Agent (never the text itself)
    std::string_view user_agent;         // view into the request, for rules; not kept
};

request_facts extract_facts(std::span<const header_ref> headers);

// The order a family sends those headers in (same letters), "" when unknown.
std::string_view expected_order(ua_family f);
// True when the letters present in `order` appear in the family's expected order.
bool order_matches(ua_family f, std::string_view order);

// 32-bit FNV-1a, for hashes that only need to spread (table keys, signatures), never for secrets.
std::uint32_t fnv1a32(std::string_view s, std::uint32_t h = 2166136261u);
std::uint64_t fnv1a64(std::string_view s, std::uint64_t h = 14695981039346656037ull);

}  // namespace anteroom::bot_detect
