#include "bot_detect/detector.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "bot_detect/tls_family.hpp"

namespace anteroom::bot_detect {

namespace {

std::uint64_t hash_bytes(const ip_address& a, std::uint64_t salt) {
    const std::string_view bytes(reinterpret_cast<const char*>(a.bytes.data()), a.bytes.size());
    return mix64(fnv1a64(bytes, 14695981039346656037ull ^ salt));
}

constexpr std::uint64_t address_salt = 0x61646472;  // "addr"
constexpr std::uint64_t prefix_salt = 0x70726678;   // "prfx"

// Decays the stored score to now, then keeps the larger of it and the current signals.
partial_score keep_max(key_entry& e, const partial_score& now_signals, std::uint32_t now_s, duration_ms half_life) {
    e.score = decayed(e.score, now_s - e.last_s, half_life);
    if (e.score <= 0) {
        e.reasons = 0;
    }
    e.last_s = now_s;
    if (static_cast<float>(now_signals.points) >= e.score && now_signals.points > 0) {
        e.score = static_cast<float>(now_signals.points);
        e.reasons = now_signals.reasons;
    }
    return partial_score{static_cast<int>(std::lround(e.score)), e.reasons};
}

std::uint32_t window10(unix_ms now) { return static_cast<std::uint32_t>(now / 10'000); }
std::uint32_t window60(unix_ms now) { return static_cast<std::uint32_t>(now / 60'000); }
double fraction(unix_ms now, unix_ms len) { return static_cast<double>(now % len) / static_cast<double>(len); }

}  // namespace

std::string_view to_string(band b) {
    switch (b) {
        case band::allow: return "allow";
        case band::challenge: return "challenge";
        case band::deprioritise: return "deprioritise";
        case band::deny: return "deny";
    }
    return "allow";
}

std::uint64_t visitor_key(std::string_view token) {
    const auto k = mix64(fnv1a64(token));
    return k == 0 ? 1 : k;
}

bool rule_matches(const bot_rule& r, std::string_view path, std::string_view user_agent, const ip_address& client) {
    if (!r.path_prefix.empty() && !path.starts_with(r.path_prefix)) {
        return false;
    }
    if (!r.user_agent.empty()) {
        bool found = false;
        const auto& needle = r.user_agent;
        for (std::size_t i = 0; !found && i + needle.size() <= user_agent.size(); ++i) {
            std::size_t k = 0;
            while (k < needle.size() &&
                   std::tolower(static_cast<unsigned char>(user_agent[i + k])) ==
                       std::tolower(static_cast<unsigned char>(needle[k]))) {
                ++k;
            }
            found = k == needle.size();
        }
        if (!found) {
            return false;
        }
    }
    if (!r.cidrs.empty() &&
        std::none_of(r.cidrs.begin(), r.cidrs.end(), [&](const cidr& c) { return c.contains(client); })) {
        return false;
    }
    return true;
}

void surge_detector::bump(counter (&slots)[16], std::uint32_t key) {
    counter* min = &slots[0];
    for (auto& s : slots) {
        if (s.count != 0 && s.key == key) {
            ++s.count;
            return;
        }
        if (s.count < min->count) {
            min = &s;
        }
    }
    // Space-saving: the new key takes the smallest counter and inherits its count.
    min->key = key;
    ++min->count;
}

void surge_detector::close_window(const bot_detect_config& c, unix_ms now) {
    if (total_ >= c.surge_min_tickets && total_ > 0) {
        std::uint32_t sorted[16];
        for (int i = 0; i < 16; ++i) {
            sorted[i] = prefixes_[i].count;
        }
        std::sort(std::begin(sorted), std::end(sorted), std::greater<>());
        std::uint64_t top = 0;
        for (int i = 0; i < 8; ++i) {
            top += sorted[i];
        }
        std::uint32_t top_sig = 0;
        for (const auto& s : signatures_) {
            top_sig = std::max(top_sig, s.count);
        }
        const double t = total_;
        if (static_cast<double>(top) / t > c.surge_prefix_share || top_sig / t > c.surge_signature_share) {
            until_ = std::max(until_, now + c.surge_hold.count());
        }
    }
    total_ = 0;
    std::fill(std::begin(prefixes_), std::end(prefixes_), counter{});
    std::fill(std::begin(signatures_), std::end(signatures_), counter{});
}

void surge_detector::add(const bot_detect_config& c, std::uint32_t prefix_hash, std::uint32_t signature, unix_ms now) {
    const std::int64_t w = now / std::max<std::int64_t>(c.surge_window.count(), 1);
    std::lock_guard lock(mu_);
    if (w != window_) {
        if (window_ >= 0) {
            close_window(c, now);
        }
        window_ = w;
    }
    ++total_;
    bump(prefixes_, prefix_hash);
    bump(signatures_, signature);
}

bool surge_detector::active(unix_ms now) const {
    std::lock_guard lock(mu_);
    return now < until_;
}

unix_ms surge_detector::until() const {
    std::lock_guard lock(mu_);
    return until_;
}

detector::detector(const bot_detect_config& c)
    : max_tracked_(c.max_tracked),
      max_replay_(c.max_replay),
      addresses_(c.max_tracked),
      prefixes_(c.max_tracked),
      visitors_(c.max_tracked),
      replay_(c.max_replay) {}

std::size_t detector::memory_bytes() const {
    return addresses_.memory_bytes() + prefixes_.memory_bytes() + visitors_.memory_bytes() +
           replay_.capacity() * 16;
}

std::uint64_t detector::evictions() const {
    return addresses_.evictions() + prefixes_.evictions() + visitors_.evictions();
}

decision detector::evaluate(const bot_detect_config& c, const request_input& in) {
    decision d;
    d.facts = extract_facts(in.headers);
    for (const auto& r : c.allow) {
        if (rule_matches(r, in.path, d.facts.user_agent, in.client)) {
            d.reasons = reason::allow_rule;
            return d;
        }
    }
    for (const auto& r : c.deny) {
        if (rule_matches(r, in.path, d.facts.user_agent, in.client)) {
            d.action = band::deny;
            d.score = 100;
            d.reasons = reason::deny_rule;
            return d;
        }
    }

    const auto now_s = static_cast<std::uint32_t>(in.now / 1000);
    const auto w10 = window10(in.now);
    const auto w60 = window60(in.now);
    const double f10 = fraction(in.now, 10'000);
    const double f60 = fraction(in.now, 60'000);
    const auto hl = c.score_half_life;

    partial_score total = header_score(c, d.facts, in.secure_origin, tls_mismatch(c, d.facts.family, in.ja4));

    const ip_address prefix = truncate(in.client, 24, 64);
    const std::uint64_t pkey = hash_bytes(prefix, prefix_salt);
    partial_score place = addresses_.with(hash_bytes(in.client, address_salt), now_s, [&](key_entry& e, bool) {
        window_add(e.rate_window, e.rate_cur, e.rate_prev, w10);
        const double req = window_estimate(e.rate_window, e.rate_cur, e.rate_prev, w10, f10);
        const double tickets = window_estimate(e.ticket_window, e.tickets_cur, e.tickets_prev, w60, f60);
        return keep_max(e, address_score(c, e, req, tickets), now_s, hl);
    });
    const partial_score pfx = prefixes_.with(pkey, now_s, [&](key_entry& e, bool) {
        const double tickets = window_estimate(e.ticket_window, e.tickets_cur, e.tickets_prev, w60, f60);
        return keep_max(e, prefix_score(c, tickets), now_s, hl);
    });
    place.points += pfx.points;
    place.reasons |= pfx.reasons;
    // Never deny on the address alone: its share stays below the deny band.
    place.points = std::min(place.points, std::max(c.deny_at - 1, 0));

    if (in.visitor != 0) {
        const partial_score v = visitors_.with(in.visitor, now_s, [&](key_entry& e, bool) {
            window_add(e.rate_window, e.rate_cur, e.rate_prev, w10);
            const double req = window_estimate(e.rate_window, e.rate_cur, e.rate_prev, w10, f10);
            const bool too_fast = fast_form(c, e, in.unsafe_method, in.now);
            if (in.status_poll) {
                record_poll(c, e, in.now);
            }
            e.prefix_bits |= static_cast<std::uint16_t>(1u << (pkey % 16));
            if (d.facts.ua_hash != 0) {
                e.ua_bits |= static_cast<std::uint16_t>(1u << (mix64(d.facts.ua_hash) % 16));
            }
            partial_score vs = visitor_score(c, e, req);
            if (too_fast) {
                vs.add(c.weights.fast_form, reason::fast_form);
            }
            return keep_max(e, vs, now_s, hl);
        });
        total.points += v.points;
        total.reasons |= v.reasons;
    }
    total.points += place.points;
    total.reasons |= place.reasons;
    if (in.clearance_credit > 0) {
        total.points -= in.clearance_credit;
        total.reasons |= reason::cleared;
    }
    d.score = std::clamp(total.points, 0, 100);
    d.reasons = total.reasons;
    d.surge = surge_.active(in.now);
    if (d.score >= c.deny_at) {
        d.action = band::deny;
        d.infinite_queue = c.infinite_queue_at > 0 && d.score >= c.infinite_queue_at;
    } else if (d.score >= c.deprioritise_at) {
        d.action = band::deprioritise;
    } else if (d.score >= c.challenge_at) {
        d.action = band::challenge;
    }
    if (d.action != band::allow) {
        const int span = std::max(1, 100 - c.challenge_at);
        const int range = static_cast<int>(c.difficulty_max) - static_cast<int>(c.difficulty_min);
        int bits = static_cast<int>(c.difficulty_min) + (d.score - c.challenge_at) * range / span;
        if (d.surge) {
            bits += static_cast<int>(c.surge_extra_difficulty);
        }
        d.difficulty = static_cast<unsigned>(
            std::clamp(bits, static_cast<int>(c.difficulty_min), static_cast<int>(c.difficulty_max)));
    }
    return d;
}

void detector::observe(const bot_detect_config& c, const outcome_input& out) {
    const auto now_s = static_cast<std::uint32_t>(out.now / 1000);
    const auto w60 = window60(out.now);
    const ip_address prefix = truncate(out.client, 24, 64);
    const std::uint64_t pkey = hash_bytes(prefix, prefix_salt);
    if (out.from_upstream || out.ticket_issued) {
        addresses_.with(hash_bytes(out.client, address_salt), now_s, [&](key_entry& e, bool) {
            if (out.from_upstream) {
                ++e.answers;
                e.errors += out.status >= 400 && out.status < 500 ? 1 : 0;
                if (e.answers >= 256) {
                    e.answers /= 2;
                    e.errors /= 2;
                }
            }
            if (out.ticket_issued) {
                window_add(e.ticket_window, e.tickets_cur, e.tickets_prev, w60);
            }
        });
    }
    if (out.ticket_issued) {
        prefixes_.with(pkey, now_s, [&](key_entry& e, bool) {
            window_add(e.ticket_window, e.tickets_cur, e.tickets_prev, w60);
        });
        surge_.add(c, static_cast<std::uint32_t>(pkey), out.header_signature, out.now);
    }
    if (out.admitted_visitor != 0) {
        // The pass is the key the next requests carry; the ticket too, for a client that keeps
        // the cookie it was told to drop.
        for (const std::uint64_t key : {out.admitted_visitor, out.admitted_ticket}) {
            if (key != 0) {
                visitors_.with(key, now_s, [&](key_entry& e, bool) {
                    e.admitted = 1;
                    e.last_poll_ms = poll_stamp(out.now);
                });
            }
        }
        return;
    }
    if (out.visitor != 0 && (out.refresh_told_s > 0 || out.ticket_issued)) {
        visitors_.with(out.visitor, now_s, [&](key_entry& e, bool) {
            if (out.refresh_told_s > 0) {
                e.told_refresh_s = static_cast<std::uint16_t>(std::min(out.refresh_told_s, 65535u));
            }
            if (out.ticket_issued) {
                e.last_poll_ms = poll_stamp(out.now);  // the page that came with the ticket starts the poll rhythm
            }
        });
    }
}

}  // namespace anteroom::bot_detect
