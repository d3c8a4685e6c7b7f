#pragma once
// Bot detection in the proxy: the filter in front of admission (score every request, act by
// band), its challenge endpoint (/_anteroom/challenge: proof of work and proof of waiting), the
// penalty box admission consults before issuing tickets to deprioritised visitors, and the
// service that owns what outlives a reload (the detector's bounded tables, metrics). Decisions
// live in bot_detect/ (pure); this file adapts them to HTTP.

#include <memory>
#include <string>

#include "common/config.hpp"
#include "common/keyfile.hpp"
#include "common/metrics.hpp"
#include "proxy/pipeline.hpp"

namespace anteroom::proxy {

class bot_service {
public:
    explicit bot_service(metrics_registry& metrics);
    ~bot_service();
    bot_service(const bot_service&) = delete;
    bot_service& operator=(const bot_service&) = delete;

    struct filters {
        std::shared_ptr<const request_filter> head;  // before admission: scores and acts
        std::shared_ptr<const request_filter> tail;  // after admission: denies what it left
    };
    // Filters for `cfg` signing with `keys` (the waiting room's key ring); both null when
    // [bot_detect] is off. The detector's tables are kept across reloads unless their bounds change.
    filters prepare(const std::shared_ptr<const config>& cfg, std::shared_ptr<const key_ring> keys);

    // The console's switch: decide-but-do-not-act on (true) or off, at once on every worker.
    // Holds across reloads until the config's own `dry_run` changes.
    void set_dry_run(bool on);
    struct dry_run_state {
        bool enabled = false;  // [bot_detect] enabled (and keys to sign with)
        bool effective = false;
        bool config = false;   // what the config says
    };
    dry_run_state dry_run() const;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace anteroom::proxy
