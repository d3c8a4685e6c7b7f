#pragma once
// The booking backend as a running service: an HTTP listener (common/simple_server on its own
// I/O thread), a pool of SQLite workers (one store each; the listener never touches SQLite),
// and the retention job on a timer. `anteroom serve` starts it embedded on loopback as the
// "builtin" upstream; `anteroom booking` runs it alone.

#include <functional>
#include <memory>
#include <string>

#include "booking/store.hpp"
#include "common/config.hpp"
#include "common/metrics.hpp"
#include "common/net.hpp"

namespace anteroom::booking {

// The store options a config asks for (capacity, retention, hashing, durability).
store_options options_from(const booking_config& b);
// <state_dir>/<database> unless database is absolute.
std::string database_path(const config& c);

// Opens (creating and migrating) the database, then applies config: centres by name, and on a
// new database the open groups and demo stock. Used by the service and the CLI subcommands.
result<std::unique_ptr<store>> open_configured(const config& c, std::string& err,
                                               std::shared_ptr<std::mutex> writer = nullptr);

class service {
public:
    struct options {
        std::shared_ptr<const config> cfg;
        std::function<unix_seconds()> clock;  // default: system clock
        // Where the anteroom_booking_* series go (the proxy's /metrics when embedded); null:
        // a registry of the service's own.
        metrics_registry* metrics = nullptr;
    };

    // Opens the database, starts the workers and listens on cfg.booking.listen. nullptr with
    // `err` set when any of that fails.
    static std::unique_ptr<service> start(const options& o, std::string& err);
    ~service();
    service(const service&) = delete;
    service& operator=(const service&) = delete;

    tcp::endpoint local_endpoint() const;
    // Stops accepting, lets the workers finish what is queued, joins every thread. Idempotent.
    void stop();

private:
    service() = default;
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace anteroom::booking
