#include "proxy/runtime.hpp"

#include <boost/asio/ssl/context.hpp>

#include "proxy/tls.hpp"

namespace anteroom::proxy {

const route_entry* runtime::route_for(std::string_view path) const {
    for (const auto& r : routes) {
        if (path.starts_with(r.cfg->prefix)) {
            return &r;
        }
    }
    return nullptr;
}

std::shared_ptr<server_state> server_state_registry::get(const listen_address& addr, const std::string& scope) {
    std::lock_guard lock(mu_);
    auto& weak = states_[scope.empty() ? addr.text() : addr.text() + "#" + scope];
    if (auto s = weak.lock()) {
        return s;
    }
    auto s = std::make_shared<server_state>(addr);
    weak = s;
    return s;
}

std::shared_ptr<const runtime> build_runtime(std::shared_ptr<const config> cfg, filter_chain filters,
                                             server_state_registry& states, metrics_registry& metrics,
                                             const std::optional<listen_address>& builtin_address,
                                             const std::shared_ptr<ticket_keys>& keys, std::string& err) {
    auto rt = std::make_shared<runtime>();
    rt->cfg = cfg;
    rt->filters = std::move(filters);
    if (!cfg->tls.certificates.empty()) {
        rt->tls = tls_server::build(cfg->tls, keys, err);
        if (!rt->tls) {
            return nullptr;
        }
    }
    if (cfg->tls.hsts_max_age.count() > 0) {
        rt->hsts = "max-age=" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(cfg->tls.hsts_max_age).count());
        if (cfg->tls.hsts_include_subdomains) {
            rt->hsts += "; includeSubDomains";
        }
    }
    for (const auto& u : cfg->upstreams) {
        auto g = std::make_unique<upstream_group>();
        g->cfg = &u;
        if (u.tls) {
            g->tls = make_upstream_tls(u, err);
            if (!g->tls) {
                return nullptr;
            }
        }
        if (u.builtin && builtin_address) {
            g->servers.push_back(states.get(*builtin_address));
        }
        // A TLS upstream's servers are its own: the idle pool is keyed by server state, and a
        // connection verified under one upstream's CA and name must not serve another's.
        const std::string scope = u.tls ? "tls:" + u.name : std::string();
        for (const auto& a : u.servers) {
            g->servers.push_back(states.get(a, scope));
        }
        const std::string label = "upstream=\"" + label_value(u.name) + "\"";
        g->metrics.latency = &metrics.get_histogram(
            "anteroom_upstream_response_seconds", "Time from request sent to upstream response head", label);
        g->metrics.failures = &metrics.get_counter("anteroom_upstream_failures_total",
                                                   "Upstream connect errors, resets and timeouts", label);
        g->metrics.retries = &metrics.get_counter("anteroom_upstream_retries_total",
                                                  "Idempotent requests retried on another server", label);
        g->metrics.ejections = &metrics.get_counter("anteroom_upstream_ejections_total",
                                                    "Servers ejected after consecutive failures", label);
        rt->upstreams.push_back(std::move(g));
    }
    static constexpr std::array<const char*, 5> classes{"1xx", "2xx", "3xx", "4xx", "5xx"};
    for (const auto& r : cfg->routes) {
        route_entry e;
        e.cfg = &r;
        for (const auto& g : rt->upstreams) {
            if (g->cfg->name == r.upstream) {
                e.upstream = g.get();
            }
        }
        e.max_body_size = r.max_body_size != 0 ? r.max_body_size : cfg->server.max_body_size;
        for (std::size_t i = 0; i < classes.size(); ++i) {
            e.requests_by_class[i] = &metrics.get_counter(
                "anteroom_requests_total", "Requests answered, by route and status class",
                "route=\"" + label_value(r.prefix) + "\",class=\"" + classes[i] + "\"");
        }
        rt->routes.push_back(e);
    }
    return rt;
}

}  // namespace anteroom::proxy
