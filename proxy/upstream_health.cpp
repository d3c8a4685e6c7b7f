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
    const auto fails = fails_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (fails < max_fails) {
        return false;
    }
    // Ejected: the failure count starts over, so after the backoff one probe request decides —
    // a success clears everything, max_fails further failures eject again for twice as long.
    fails_.store(0, std::memory_order_relaxed);
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
    std::optional<std::size_t> pick;
    if (policy == balance_policy::round_robin) {
        const auto start = rr.fetch_add(1, std::memory_order_relaxed);
        for (std::size_t k = 0; k < n; ++k) {
            const std::size_t i = (start + k) % n;
            if (eligible(i)) {
                pick = i;
                break;
            }
        }
    } else {
        // Least outstanding; ties broken by the round-robin cursor so equal servers share load.
        const auto start = rr.fetch_add(1, std::memory_order_relaxed);
        std::uint32_t best = std::numeric_limits<std::uint32_t>::max();
        for (std::size_t k = 0; k < n; ++k) {
            const std::size_t i = (start + k) % n;
            if (eligible(i) && servers[i]->outstanding() < best) {
                best = servers[i]->outstanding();
                pick = i;
            }
        }
    }
    if (!pick && exclude && servers[*exclude]->available(now)) {
        pick = exclude;  // the only server left: a retry on the same one beats a 503
    }
    return pick;
}

}  // namespace anteroom::proxy
