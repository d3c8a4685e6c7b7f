#pragma once
// The whole proxy process minus main(): worker threads, listeners, the admin listener, the
// built-in upstream, config reload and graceful drain. A control thread owns everything that
// is not data plane (signals, admin, reload, drain timing).

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "proxy/pipeline.hpp"

namespace anteroom::proxy {

struct server_options {
    std::shared_ptr<const config> cfg;
    std::string config_path;          // re-read on SIGHUP / POST /admin/reload
    bool handle_signals = false;      // SIGHUP reload, SIGTERM/SIGINT drain
    // Builds the filter chain for a config (admission, bot detection plug in here).
    std::function<filter_chain(const config&)> make_filters;
};

class server {
public:
    explicit server(server_options opts);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Binds every listener and starts the threads. On failure returns false with a message.
    bool start(std::string& err);
    // Blocks until the server has stopped (after a drain or stop()).
    void wait();

    // Thread-safe controls.
    // Re-reads options.config_path; an invalid file leaves the running config untouched.
    bool reload(std::string& err);
    bool apply(std::shared_ptr<const config> cfg, std::string& err);
    void drain();  // stop accepting, finish in-flight requests, then stop (bounded by drain_timeout)
    void stop();   // stop now

    std::vector<tcp::endpoint> listen_endpoints() const;
    tcp::endpoint admin_endpoint() const;
    tcp::endpoint builtin_endpoint() const;
    std::shared_ptr<const config> current_config() const;
    std::size_t open_connections() const;
    // Of those, idle keep-alive connections parked (see session::park).
    std::size_t parked_connections() const;

private:
    void arm_signals();

    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace anteroom::proxy
