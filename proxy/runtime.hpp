#pragma once
// Everything a request needs that is derived from one config: upstream groups with their
// shared server state, the route table, the filter chain and metric handles. Built off the I/O
// threads and published whole as shared_ptr<const runtime>; a reload builds a new one.

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/metrics.hpp"
#include "proxy/pipeline.hpp"
#include "proxy/upstream_health.hpp"

namespace boost::asio::ssl {
class context;
}

namespace anteroom::proxy {

class tls_server;
class ticket_keys;

struct upstream_metrics {
    histogram* latency = nullptr;       // request sent -> response head received
    counter* failures = nullptr;        // connect errors, resets, timeouts
    counter* retries = nullptr;
    counter* ejections = nullptr;
};

struct upstream_group {
    const upstream_config* cfg = nullptr;  // points into runtime::cfg
    std::vector<std::shared_ptr<server_state>> servers;
    mutable std::atomic<std::uint64_t> rr{0};
    upstream_metrics metrics;
    std::shared_ptr<boost::asio::ssl::context> tls;  // set when the upstream speaks TLS
};

struct route_entry {
    const route_config* cfg = nullptr;
    const upstream_group* upstream = nullptr;
    std::uint64_t max_body_size = 0;  // resolved (never 0)
    std::array<counter*, 5> requests_by_class{};  // 1xx..5xx
};

struct runtime {
    std::shared_ptr<const config> cfg;
    std::vector<std::unique_ptr<upstream_group>> upstreams;
    std::vector<route_entry> routes;  // longest prefix first
    filter_chain filters;
    std::shared_ptr<const tls_server> tls;  // null without [[tls.certificate]]
    std::string hsts;                       // Strict-Transport-Security value over TLS ("" = none)

    // The route for a path (longest prefix), or null.
    const route_entry* route_for(std::string_view path) const;
};

// Keeps server_state objects alive by address across reloads so health and outstanding
// counts survive a SIGHUP.
class server_state_registry {
public:
    // `scope` separates servers that share an address but not how they are reached (an upstream
    // with TLS settings of its own): "" for plain upstreams.
    std::shared_ptr<server_state> get(const listen_address& addr, const std::string& scope = "");

private:
    std::mutex mu_;
    std::map<std::string, std::weak_ptr<server_state>> states_;
};

// `builtin_address` replaces "builtin" upstream servers (the embedded upstream's loopback port).
// TLS contexts are built here (from the certificate files as they are now), so this can fail:
// null with `err`, and nothing else changed.
std::shared_ptr<const runtime> build_runtime(std::shared_ptr<const config> cfg, filter_chain filters,
                                             server_state_registry& states, metrics_registry& metrics,
                                             const std::optional<listen_address>& builtin_address,
                                             const std::shared_ptr<ticket_keys>& keys, std::string& err);

}  // namespace anteroom::proxy
