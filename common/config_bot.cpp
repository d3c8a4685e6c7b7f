// [bot_detect] with [bot_detect.signals], [bot_detect.limits], the [[bot_detect.allow]] /
// [[bot_detect.deny]] rules and the [[bot_detect.tls_family]] table: keys, ranges, defaults and
// the checks between thresholds.
// docs/configuration.md documents every key read here; keep the two in step.

#include <algorithm>
#include <chrono>

#include "common/config_room.hpp"

namespace anteroom::config_detail {

namespace {

using namespace std::chrono_literals;

constexpr std::size_t max_rules = 1000;            // per list; each request is matched against all
constexpr std::size_t max_rule_cidrs = 10'000;     // per rule (cloud provider ranges run to thousands)
constexpr std::size_t max_user_agent = 200;
constexpr std::size_t max_tls_patterns = 1000;     // per family; each is matched per TLS request
constexpr std::size_t max_ja4_pattern = 64;
constexpr std::size_t ja4_length = 36;             // "t13d1516h2_8daaf6152771_e5627efa2ab1"

using tls_family_name = bot_detect_config::tls_family_name;
constexpr std::pair<std::string_view, tls_family_name> tls_family_names[] = {
    {"chromium", tls_family_name::chromium},
    {"firefox", tls_family_name::firefox},
    {"safari", tls_family_name::safari},
    {"tool", tls_family_name::tool},
};

constexpr std::pair<std::string_view, fetch_metadata_mode> fetch_metadata_names[] = {
    {"auto", fetch_metadata_mode::automatic},
    {"always", fetch_metadata_mode::always},
    {"never", fetch_metadata_mode::never},
};

struct weight_key {
    std::string_view name;
    int bot_signal_weights::*member;
};

constexpr weight_key weight_keys[] = {
    {"automation_ua", &bot_signal_weights::automation_ua},
    {"empty_ua", &bot_signal_weights::empty_ua},
    {"missing_fetch_metadata", &bot_signal_weights::missing_fetch_metadata},
    {"missing_client_hints", &bot_signal_weights::missing_client_hints},
    {"missing_accept_language", &bot_signal_weights::missing_accept_language},
    {"accept_encoding", &bot_signal_weights::accept_encoding},
    {"header_order", &bot_signal_weights::header_order},
    {"address_rate", &bot_signal_weights::address_rate},
    {"visitor_rate", &bot_signal_weights::visitor_rate},
    {"ticket_farming", &bot_signal_weights::ticket_farming},
    {"prefix_ticket_farming", &bot_signal_weights::prefix_ticket_farming},
    {"error_share", &bot_signal_weights::error_share},
    {"early_polls", &bot_signal_weights::early_polls},
    {"regular_polls", &bot_signal_weights::regular_polls},
    {"sharing", &bot_signal_weights::sharing},
    {"tls_mismatch", &bot_signal_weights::tls_mismatch},
    {"fast_form", &bot_signal_weights::fast_form},
};

// Each weight: 0..100, false (= 0, off) or true (= the built-in weight).
void read_signals(table_reader& r, bot_signal_weights& w) {
    for (const auto& [name, member] : weight_keys) {
        const auto* n = r.optional(name);
        if (n == nullptr) {
            continue;
        }
        if (const auto* b = n->as_boolean()) {
            if (!b->get()) {
                w.*member = 0;
            }
        } else if (n->is_integer()) {
            if (const auto v = get_integer(r.sink(), *n, r.key(name), 0, 100)) {
                w.*member = static_cast<int>(*v);
            }
        } else {
            r.sink().add(*n, r.key(name),
                         "expected a weight 0 to 100, false (off) or true (the default), got " +
                             std::string(type_name(n->type())));
        }
    }
    r.finish();
}

void read_limits(table_reader& r, bot_limits& l) {
    r.read_integer("address_requests_per_10s", l.address_requests_per_10s, 1, 1'000'000);
    r.read_integer("visitor_requests_per_10s", l.visitor_requests_per_10s, 1, 1'000'000);
    r.read_integer("address_tickets_per_minute", l.address_tickets_per_minute, 1, 1'000'000);
    r.read_integer("prefix_tickets_per_minute", l.prefix_tickets_per_minute, 1, 10'000'000);
    r.read_float("error_share", l.error_share, 0.0, 1.0);
    r.read_integer("min_responses", l.min_responses, 1, 1'000'000);
    r.read_integer("early_polls", l.early_polls, 1, 1'000);
    r.read_float("early_tolerance", l.early_tolerance, 0.0, 1.0);
    r.read_float("regular_cv", l.regular_cv, 0.0, 1.0);
    // A coefficient of variation needs at least two intervals.
    r.read_integer("regular_min_intervals", l.regular_min_intervals, 2, 1'000);
    r.read_integer("sharing_prefixes", l.sharing_prefixes, 1, 64);
    r.read_integer("sharing_user_agents", l.sharing_user_agents, 1, 64);
    r.read("min_form_time", l.min_form_time, 0ms, duration_ms(60'000));
    r.finish();
}

std::optional<std::string> read_rule_user_agent(error_sink& sink, const toml::node& n, const std::string& key) {
    auto text = get_string(sink, n, key);
    if (!text) {
        return std::nullopt;
    }
    const bool control = std::any_of(text->begin(), text->end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
    if (text->empty() || text->size() > max_user_agent || control) {
        sink.add(n, key,
                 "must be 1 to " + std::to_string(max_user_agent) +
                     " bytes without control characters (a substring of the User-Agent), got " + quoted(*text));
        return std::nullopt;
    }
    return text;
}

void read_rule_cidrs(table_reader& r, const toml::node& n, std::vector<cidr>& out) {
    const auto key = r.key("cidr");
    const auto* arr = get_array(r.sink(), n, key);
    if (arr == nullptr) {
        return;
    }
    if (arr->empty() || arr->size() > max_rule_cidrs) {
        r.sink().add(n, key, "must list 1 to " + std::to_string(max_rule_cidrs) + " CIDRs, e.g. [\"192.0.2.0/24\"]");
        return;
    }
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const auto& el = (*arr)[i];
        const auto element_key = key + "[" + std::to_string(i) + "]";
        const auto text = get_string(r.sink(), el, element_key);
        if (!text) {
            continue;
        }
        if (const auto c = parse_cidr(*text)) {
            out.push_back(*c);
        } else {
            r.sink().add(el, element_key,
                         "invalid CIDR " + quoted(*text) + "; expected e.g. \"10.0.0.0/8\", \"::1/128\" or \"192.0.2.7\"");
        }
    }
}

void read_rule(table_reader& r, bot_rule& rule, const std::string& key) {
    const auto* path = r.optional("path");
    if (path != nullptr) {
        rule.path_prefix = read_room_path(r.sink(), *path, r.key("path"), endpoint_paths::allowed).value_or("");
    }
    const auto* ua = r.optional("user_agent");
    if (ua != nullptr) {
        rule.user_agent = read_rule_user_agent(r.sink(), *ua, r.key("user_agent")).value_or("");
    }
    const auto* cidrs = r.optional("cidr");
    if (cidrs != nullptr) {
        read_rule_cidrs(r, *cidrs, rule.cidrs);
    }
    if (path == nullptr && ua == nullptr && cidrs == nullptr) {
        // A rule without conditions would match every request.
        r.sink().add(std::max<std::uint32_t>(r.line(), 1), key, "must set at least one of path, user_agent, cidr");
    }
    r.finish();
}

void read_rules(table_reader& r, std::string_view name, std::vector<bot_rule>& out) {
    const auto* n = r.optional(name);
    if (n == nullptr) {
        return;
    }
    const auto key = r.key(name);
    const auto* arr = n->as_array();
    if (arr == nullptr || arr->empty()) {
        r.sink().add(*n, key, "expected one or more [[" + key + "]] tables");
        return;
    }
    if (arr->size() > max_rules) {
        r.sink().add(*n, key, "must list at most " + std::to_string(max_rules) + " rules");
        return;
    }
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const auto rkey = key + "[" + std::to_string(i) + "]";
        if (const auto* t = get_table(r.sink(), (*arr)[i], rkey)) {
            table_reader rr(r.sink(), *t, rkey);
            read_rule(rr, out.emplace_back(), rkey);
        }
    }
}

// A JA4 as tools print it (lower case), or a pattern with '*' / '?'.
std::optional<std::string> read_ja4_pattern(error_sink& sink, const toml::node& n, const std::string& key) {
    auto text = get_string(sink, n, key);
    if (!text) {
        return std::nullopt;
    }
    const bool charset = std::all_of(text->begin(), text->end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '*' || c == '?';
    });
    const bool wildcard = text->find('*') != std::string::npos;
    if (text->empty() || text->size() > max_ja4_pattern || !charset || (!wildcard && text->size() != ja4_length)) {
        sink.add(n, key,
                 "must be a JA4 fingerprint (36 characters a-z, 0-9, _) or a pattern of at most " +
                     std::to_string(max_ja4_pattern) + " with * and ?, e.g. \"t13*_8daaf6152771_*\"; got " +
                     quoted(*text));
        return std::nullopt;
    }
    return text;
}

// One [[bot_detect.tls_family]]; false when its name is missing or invalid.
bool read_tls_family(table_reader& r, bot_detect_config::tls_family& f) {
    bool named = false;
    if (const auto* n = r.required("name")) {
        if (const auto v = get_enum(r.sink(), *n, r.key("name"), enum_names<tls_family_name>(tls_family_names))) {
            f.name = *v;
            named = true;
        }
    }
    if (const auto* n = r.required("ja4")) {
        const auto key = r.key("ja4");
        if (const auto* arr = get_array(r.sink(), *n, key)) {
            if (arr->size() > max_tls_patterns) {
                r.sink().add(*n, key, "must list at most " + std::to_string(max_tls_patterns) + " patterns");
            } else {
                for (std::size_t i = 0; i < arr->size(); ++i) {
                    if (auto p = read_ja4_pattern(r.sink(), (*arr)[i], key + "[" + std::to_string(i) + "]")) {
                        f.ja4.push_back(std::move(*p));
                    }
                }
            }
        }
    }
    r.finish();
    return named;
}

// Each family listed replaces the built-in one of its name (ja4 = [] turns it off); the
// others keep their defaults.
void read_tls_families(table_reader& r, std::vector<bot_detect_config::tls_family>& out) {
    const auto* n = r.optional("tls_family");
    if (n == nullptr) {
        return;
    }
    const auto key = r.key("tls_family");
    const auto* arr = n->as_array();
    if (arr == nullptr || arr->empty()) {
        r.sink().add(*n, key, "expected one or more [[" + key + "]] tables");
        return;
    }
    std::vector<std::pair<tls_family_name, std::string>> seen;  // name → key of the table
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const auto fkey = key + "[" + std::to_string(i) + "]";
        const auto* t = get_table(r.sink(), (*arr)[i], fkey);
        if (t == nullptr) {
            continue;
        }
        table_reader fr(r.sink(), *t, fkey);
        bot_detect_config::tls_family f;
        if (!read_tls_family(fr, f)) {
            continue;
        }
        const auto dup = std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == f.name; });
        if (dup != seen.end()) {
            r.sink().add(*t->get("name"), fkey + ".name", "family already listed in " + dup->second);
            continue;
        }
        seen.emplace_back(f.name, fkey);
        const auto same = std::find_if(out.begin(), out.end(), [&](const auto& o) { return o.name == f.name; });
        if (same != out.end()) {
            *same = std::move(f);
        } else {
            out.push_back(std::move(f));
        }
    }
}

// A key that takes part in a check between keys.
struct checked_key {
    std::string_view name;
    const toml::node* node = nullptr;  // null: not in the file (the default applies)
    bool ok = true;                    // false: in the file but invalid, and already reported
};

// Read like table_reader's readers, and tell the checks between keys whether to run: they must
// not report a consequence of an error already reported.
template <class Int>
checked_key read_integer_checked(table_reader& r, std::string_view name, Int& out, std::int64_t min,
                                 std::int64_t max) {
    checked_key k{name, r.optional(name)};
    if (k.node != nullptr) {
        const auto v = get_integer(r.sink(), *k.node, r.key(name), min, max);
        out = v ? static_cast<Int>(*v) : out;
        k.ok = v.has_value();
    }
    return k;
}

checked_key read_duration_checked(table_reader& r, std::string_view name, duration_ms& out, duration_ms min,
                                  duration_ms max) {
    checked_key k{name, r.optional(name)};
    if (k.node != nullptr) {
        const auto v = get_duration(r.sink(), *k.node, r.key(name), min, max);
        out = v.value_or(out);
        k.ok = v.has_value();
    }
    return k;
}

// A failed check between keys, reported at `second` when the file sets it, else at `first`
// (else at the table): the key to change is most likely the one written.
void report(table_reader& r, const checked_key& first, const checked_key& second, std::string message) {
    const auto& at = second.node != nullptr ? second : first;
    const auto line = at.node != nullptr ? at.node->source().begin.line : std::max<std::uint32_t>(r.line(), 1);
    r.sink().add(line, r.key(at.name), std::move(message));
}

// challenge_at < deprioritise_at < deny_at <= 100; infinite_queue_at 0 or in [deny_at, 100].
void read_bands(table_reader& r, bot_detect_config& b) {
    const auto challenge = read_integer_checked(r, "challenge_at", b.challenge_at, 1, 100);
    const auto deprioritise = read_integer_checked(r, "deprioritise_at", b.deprioritise_at, 1, 100);
    const auto deny = read_integer_checked(r, "deny_at", b.deny_at, 1, 100);
    const auto infinite = read_integer_checked(r, "infinite_queue_at", b.infinite_queue_at, 0, 100);
    if (!challenge.ok || !deprioritise.ok || !deny.ok || !infinite.ok) {
        return;
    }
    if (b.challenge_at >= b.deprioritise_at) {
        report(r, challenge, deprioritise,
               "challenge_at (" + std::to_string(b.challenge_at) + ") must be less than deprioritise_at (" +
                   std::to_string(b.deprioritise_at) + ")");
    }
    if (b.deprioritise_at >= b.deny_at) {
        report(r, deprioritise, deny,
               "deprioritise_at (" + std::to_string(b.deprioritise_at) + ") must be less than deny_at (" +
                   std::to_string(b.deny_at) + ")");
    }
    if (b.infinite_queue_at != 0 && b.infinite_queue_at < b.deny_at) {
        report(r, deny, infinite,
               "infinite_queue_at (" + std::to_string(b.infinite_queue_at) + ") must be 0 (off) or from deny_at (" +
                   std::to_string(b.deny_at) + ") to 100");
    }
}

void read_deny_status(table_reader& r, bot_deny_status& out) {
    const auto* n = r.optional("deny_status");
    if (n == nullptr) {
        return;
    }
    const auto v = get_integer(r.sink(), *n, r.key("deny_status"), 100, 599);
    if (!v) {
        return;
    }
    if (*v == 403) {
        out = bot_deny_status::forbidden;
    } else if (*v == 429) {
        out = bot_deny_status::too_many_requests;
    } else {
        r.sink().add(*n, r.key("deny_status"), "must be 403 or 429, got " + std::to_string(*v));
    }
}

// difficulty_min <= difficulty_max, difficulty_max + surge_extra_difficulty <= 32,
// nojs_delay < challenge_ttl.
void read_challenge(table_reader& r, bot_detect_config& b) {
    const auto dmin = read_integer_checked(r, "difficulty_min", b.difficulty_min, 1, 32);
    const auto dmax = read_integer_checked(r, "difficulty_max", b.difficulty_max, 1, 32);
    const auto extra = read_integer_checked(r, "surge_extra_difficulty", b.surge_extra_difficulty, 0, 16);
    if (dmin.ok && dmax.ok && b.difficulty_min > b.difficulty_max) {
        report(r, dmin, dmax,
               "difficulty_min (" + std::to_string(b.difficulty_min) + ") must not exceed difficulty_max (" +
                   std::to_string(b.difficulty_max) + ")");
    } else if (dmax.ok && extra.ok && b.difficulty_max + b.surge_extra_difficulty > 32) {
        // Each bit doubles the expected work; 32 bits already take a browser many minutes.
        report(r, dmax, extra,
               "difficulty_max + surge_extra_difficulty must be at most 32, got " +
                   std::to_string(b.difficulty_max + b.surge_extra_difficulty));
    }
    const auto ttl = read_duration_checked(r, "challenge_ttl", b.challenge_ttl, 10s, 1h);
    const auto delay = read_duration_checked(r, "nojs_delay", b.nojs_delay, 0ms, 10min);
    if (ttl.ok && delay.ok && b.nojs_delay >= b.challenge_ttl) {
        // A browser without JavaScript answers after nojs_delay; the challenge must still be valid then.
        report(r, ttl, delay,
               "nojs_delay (" + format_duration(b.nojs_delay) + ") must be shorter than challenge_ttl (" +
                   format_duration(b.challenge_ttl) + ")");
    }
}

template <class Read>
void with_subtable(table_reader& r, std::string_view name, Read&& read) {
    if (const auto* n = r.optional(name)) {
        if (const auto* t = get_table(r.sink(), *n, r.key(name))) {
            table_reader sub(r.sink(), *t, r.key(name));
            read(sub);
        }
    }
}

}  // namespace

void read_bot_detect(table_reader& r, bot_detect_config& b) {
    r.read("enabled", b.enabled);
    r.read("dry_run", b.dry_run);
    r.read("action_header", b.action_header);
    r.read_enum("fetch_metadata", b.fetch_metadata, enum_names<fetch_metadata_mode>(fetch_metadata_names));
    read_bands(r, b);
    read_deny_status(r, b.deny_status);
    r.read("score_half_life", b.score_half_life, 1s, 24h);
    r.read("deprioritise_penalty", b.deprioritise_penalty, 0ms, 1h);
    r.read("slow_status", b.slow_status, 0ms, 10s);
    read_challenge(r, b);
    r.read("clearance_ttl", b.clearance_ttl, 1min, 24h);
    r.read_integer("clearance_credit", b.clearance_credit, 0, 100);
    r.read("surge_window", b.surge_window, 1s, 10min);
    r.read_integer("surge_min_tickets", b.surge_min_tickets, 1, 10'000'000);
    r.read_float("surge_prefix_share", b.surge_prefix_share, 0.0, 1.0);
    r.read_float("surge_signature_share", b.surge_signature_share, 0.0, 1.0);
    r.read("surge_hold", b.surge_hold, 1s, 24h);
    r.read_integer("max_tracked", b.max_tracked, 1024, 16 * 1024 * 1024);
    r.read_integer("max_replay", b.max_replay, 1024, 64 * 1024 * 1024);
    with_subtable(r, "signals", [&](table_reader& sub) { read_signals(sub, b.weights); });
    with_subtable(r, "limits", [&](table_reader& sub) { read_limits(sub, b.limits); });
    read_rules(r, "allow", b.allow);
    read_rules(r, "deny", b.deny);
    read_tls_families(r, b.tls_families);
    r.finish();
}

}  // namespace anteroom::config_detail

namespace anteroom {

// JA4 part b (the hash of the sorted cipher suites) names the TLS library and its cipher
// configuration; part c moves with every new extension a browser adds, so the defaults match on
// part b. Sources: FoxIO-LLC/ja4 ja4plus-mapping.csv (Chromium, Firefox, Safari, Python, Go) and
// the ClientHellos captured on Debian 12 in tests/bot_detect/tls_vectors (headless Chromium 156,
// curl/openssl s_client/Python ssl over OpenSSL 3.0, wget over GnuTLS, node 18).
std::vector<bot_detect_config::tls_family> bot_detect_config::default_tls_families() {
    return {
        // BoringSSL's list (Chrome, Edge, Opera, Brave, Samsung Internet): t13d1516h2_8daaf6152771_02713d6af862
        // (FoxIO), t13d1517h2_8daaf6152771_cb7bf5808d99 (Chromium 156, captured).
        {tls_family_name::chromium, {"t13*_8daaf6152771_*"}},
        // NSS: t13d1715h2_5b57614c22b0_7121afd63204 (FoxIO, Mozilla Firefox).
        {tls_family_name::firefox, {"t13*_5b57614c22b0_*"}},
        // Apple's stack (also Chrome and Firefox on iOS, whose User-Agents count as safari):
        // t13d2014h2_a09f3c656075_14788d8d241b (FoxIO, Safari).
        {tls_family_name::safari, {"t13*_a09f3c656075_*"}},
        // Not WinINET's t12d190800_d83cc789557e_… (FoxIO lists it for Go as well): browsers on
        // Windows may use that stack.
        {tls_family_name::tool,
         {
             "*_e8f1e7e78f70_*",  // OpenSSL 3 defaults: curl, openssl s_client, Python ssl (captured)
             "*_85036bcba153_*",  // Python (FoxIO t13d181000_85036bcba153_d41ae481755e)
             "*_c7886603b240_*",  // Python (FoxIO t13d4312h1_c7886603b240_b26ce05bbdd6)
             "*_9dc949149365_*",  // Go crypto/tls (FoxIO t13d190900_9dc949149365_97f8aa674fd9)
             "*_a33745022dd6_*",  // Node.js 18 https (captured)
             "*_723694b0fccc_*",  // GnuTLS 3.7: wget (captured)
         }},
    };
}

}  // namespace anteroom
