#pragma once
// The operations console on the admin listener: the dashboard page and its assets (web/console/,
// compiled in), console sessions, the 1 s sampling of /metrics for the charts (console/live)
// and the audit log of control changes (console/audit). The HTTP routes are in admin.cpp; this
// holds the state they share and the timer, on the control thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "common/metrics.hpp"
#include "common/net.hpp"
#include "common/simple_server.hpp"
#include "console/audit.hpp"
#include "console/live.hpp"
#include "console/session.hpp"

namespace anteroom::proxy {

inline constexpr std::string_view console_cookie = "anteroom_console";
inline constexpr std::int64_t console_session_ms = 12 * 3600 * 1000;

class admin_console {
public:
    explicit admin_console(metrics_registry& metrics);
    ~admin_console();
    admin_console(const admin_console&) = delete;
    admin_console& operator=(const admin_console&) = delete;

    // <state_dir>/admin-audit.log; on failure the log stays in memory and err says why.
    bool open_audit(const std::string& path, std::string& err);
    // Records a control change (and logs it to the error log at info); never fails the change.
    void audit(std::string who, std::string via, std::string what);

    void sample(std::int64_t now_ms, std::string_view metrics_text);
    // Every second on `io` (the control thread): sample(now, render()). stop() (from any
    // thread) ends it at the next tick.
    void start_sampling(net::io_context& io, std::function<std::string()> render);
    void stop();

    // {"step_ms", "window_s", "samples", "top_reasons"} of the live JSON (docs/api.md).
    nlohmann::json live(std::int64_t since) const;
    nlohmann::json audit_json(std::size_t limit) const;

    const console::session_signer& signer() const { return signer_; }

private:
    struct timer_state;
    mutable std::mutex mu_;  // recorder_
    console::live_recorder recorder_;
    console::audit_log audit_;
    console::session_signer signer_;
    std::array<counter*, 3> changes_{};
    std::shared_ptr<timer_state> timer_;
};

// The pages and assets, with the headers every console page carries (CSP, no caching, no
// framing). `lang` is "de" or "en".
simple_response console_dashboard(std::string_view lang);
simple_response console_login(std::string_view lang, http::status status, std::string_view message);
// /admin/static/<name>: console.css, console.js; nullopt for anything else.
std::optional<simple_response> console_asset(std::string_view name);

}  // namespace anteroom::proxy
