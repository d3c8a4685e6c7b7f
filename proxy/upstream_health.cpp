#include "proxy/upstream_health.hpp"

#include <algorithm>
#include <limits>

namespace anteroom::proxy {

namespace {
std::int64_t to_ns(steady_time t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
}  // namespace

bool server_state::available(steady_time now) const {
    const auto until = ejected_until_ns_.load(std::memory_order_relaxed);
    return until == 0 || to_ns(now) >= until;
}

void server_state::on_success() {
    // Plain loads first: the common case (healthy server) writes nothing shared.
    if (fails_.load(std::memory_order_relaxed) != 0) {
        fails_.store(0, std::memory_order_relaxed);
    }
    if (ejections_in_row_.load(std::memory_order_relaxed) != 0) {
        ejections_in_row_.store(0, std::memory_order_relaxed);
    }
    if (ejected_until_ns_.load(std::memory_order_relaxed) != 0) {
        ejected_until_ns_.store(0, std::memory_order_relaxed);
    }
}

bool server_state::on_failure(steady_time now, std::uint32_t max_fails, std::chrono::milliseconds backoff) {
    if (!available(now)) {
        // Requests that were already in flight when the server was ejected report their
        // failures late; counting them would eject it again at once, for twice as long.
        return false;
    }
    auto fails = fails_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (fails < max_fails) {
        return false;
    }
    // Exactly one of several concurrent failures ejects: the one that resets the count it saw.
    if (!fails_.compare_exchange_strong(fails, 0, std::memory_order_relaxed)) {
        return false;
    }
    // Ejected: the failure count starts over. After the backoff the server gets traffic again;
    // a success clears everything, max_fails further failures eject it for twice as long.
    const auto in_row = std::min<std::uint32_t>(ejections_in_row_.fetch_add(1, std::memory_order_relaxed), 3);
    const auto length = backoff * (1u << in_row);
    ejected_until_ns_.store(to_ns(now + length), std::memory_order_relaxed);
    return true;
}

std::optional<std::size_t> choose_server(std::span<const std::shared_ptr<server_state>> servers,
                                         balance_policy policy, std::atomic<std::uint64_t>& rr,
                                         steady_time now, std::optional<std::size_t> exclude) {
    const std::size_t n = servers.size();
    if (n == 0) {
        return std::nullopt;
    }
    auto eligible = [&](std::size_t i) { return servers[i]->available(now) && (!exclude || *exclude != i); };
    // The k-th (0-based) server satisfying `ok`, in index order.
    auto nth = [&](std::size_t k, auto ok) -> std::optional<std::size_t> {
        std::optional<std::size_t> last;
        for (std::size_t i = 0; i < n; ++i) {
            if (ok(i)) {
                last = i;
                if (k-- == 0) {
                    break;
                }
            }
        }
        return last;  // the counts may have moved since they were taken: the last match will do
    };
    const auto start = rr.fetch_add(1, std::memory_order_relaxed);
    std::optional<std::size_t> pick;
    if (policy == balance_policy::round_robin) {
        if (eligible(start % n)) {
            pick = start % n;
        } else {
            // Spread the skipped server's turns over all the others; walking on to the next one
            // would hand that single neighbour twice its share for the whole ejection.
            std::size_t m = 0;
            for (std::size_t i = 0; i < n; ++i) {
                m += eligible(i) ? 1 : 0;
            }
            if (m != 0) {
                pick = nth(start % m, eligible);
            }
        }
    } else {
        // Least outstanding; ties rotate with the cursor so equal servers share the load evenly.
        std::uint32_t best = std::numeric_limits<std::uint32_t>::max();
        std::size_t ties = 0;
        for (std::size_t i = 0; i < n; ++i) {
            if (!eligible(i)) {
                continue;
            }
            const auto o = servers[i]->outstanding();
            if (o < best) {
                best = o;
                ties = 1;
            } else if (o == best) {
                ++ties;
            }
        }
        if (ties != 0) {
            pick = nth(start % ties, [&](std::size_t i) { return eligible(i) && servers[i]->outstanding() == best; });
            if (!pick) {
                pick = nth(start % ties, eligible);
            }
        }
    }
    if (!pick && exclude && servers[*exclude]->available(now)) {
        pick = exclude;  // the only server left: a retry on the same one beats a 503
    }
    return pick;
}

}  // namespace anteroom::proxy
