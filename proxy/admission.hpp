#pragma once
// The waiting room in the proxy: the admission filter (per request, any worker thread) and the
// admission service that owns what outlives a config reload — the queue store, the key ring,
// per-room metrics — and runs the control-thread jobs: the 100 ms tick that advances queues,
// snapshots to state_dir, and capacity polling. Decisions live in admission/ (pure); this file
// adapts them to HTTP: cookies, the waiting page, /_anteroom/status and /_anteroom/fairness.

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "admission/queue_store.hpp"
#include "common/config.hpp"
#include "common/keyfile.hpp"
#include "common/metrics.hpp"
#include "common/net.hpp"
#include "proxy/pipeline.hpp"

namespace anteroom::proxy {

class admission_service {
public:
    explicit admission_service(metrics_registry& metrics);
    ~admission_service();
    admission_service(const admission_service&) = delete;
    admission_service& operator=(const admission_service&) = delete;

    // At start: creates state_dir, opens the store (restoring its snapshot), loads keys and
    // templates for `cfg`. Errors are fatal at start.
    bool open(const std::shared_ptr<const config>& cfg, std::string& err);

    // A reload, in two steps so a failure changes nothing: prepare() loads keys, templates and
    // tokens for the new config and returns the new filter (null + err on failure); commit()
    // reconfigures the store's rooms and makes the config current for the control jobs.
    std::shared_ptr<const request_filter> prepare(const std::shared_ptr<const config>& cfg, std::string& err);
    void commit(const std::shared_ptr<const config>& cfg);

    // The key ring tickets, passes and bot detection's tokens are signed with: creates
    // <state_dir>/keys.toml on first use when no key_file is configured. Null + err on failure.
    static std::shared_ptr<const key_ring> load_keys(const config& c, std::string& err);

    // Tick, snapshot and capacity timers on the control context.
    void start(net::io_context& control);
    // Where "builtin:/path" capacity URLs go (the built-in upstream's loopback address).
    void set_builtin_address(std::optional<listen_address> a);
    // Stops the timers and writes a final snapshot. Call before the control context stops.
    void stop();

    // Prometheus text for the room figures and wait-time histograms.
    std::string render_metrics() const;
    // Admin API: GET /admin/rooms and PATCH/POST /admin/rooms/<id>.
    nlohmann::json rooms_json() const;
    // Applies {"mode": "...", "new_users_per_minute": N, "max_active_users": N}; false + err
    // (a message for the client) when the room does not exist or a value is invalid.
    bool update_room(std::string_view id, const nlohmann::json& patch, std::string& err, bool& not_found);

    admission::queue_store& store();

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace anteroom::proxy
