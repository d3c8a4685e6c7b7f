#pragma once
// The admin listener's endpoints: /metrics, /healthz, /readyz without a token; everything
// under /admin/ behind "Authorization: Bearer <token>" (one of the named tokens of the token
// file) or the operations console's session cookie, except the console's sign-in form and its
// static assets. Control changes are written to the console's audit log with the token name.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/keyfile.hpp"
#include "common/simple_server.hpp"
#include "proxy/admin_console.hpp"
#include "proxy/bot_filter.hpp"
#include "proxy/runtime.hpp"

namespace anteroom::proxy {

using token_list = std::vector<named_token>;

struct admin_hooks {
    std::function<std::string()> render_metrics;  // all but the upstream health series
    std::function<bool()> ready;
    std::function<std::shared_ptr<const token_list>()> tokens;  // null or empty = admin API disabled
    std::function<bool(std::string& err)> reload;
    std::function<std::shared_ptr<const runtime>()> current_runtime;
    // Rooms: live figures, and a settings change (false + err; not_found for an unknown room).
    std::function<nlohmann::json()> rooms;
    std::function<bool(std::string_view id, const nlohmann::json& patch, std::string& err, bool& not_found)> update_room;
    std::function<bot_service::dry_run_state()> bot_dry_run;
    std::function<void(bool)> set_bot_dry_run;
};

// Everything /metrics shows (the console's sampler reads the same text).
std::string render_admin_metrics(const admin_hooks& h);

simple_handler make_admin_handler(admin_hooks hooks, std::shared_ptr<admin_console> console);

// Constant-time comparison of a presented bearer token with the configured ones: the token's
// name, or nullopt.
std::optional<std::string> bearer_token_name(std::string_view authorization, const token_list& tokens);

}  // namespace anteroom::proxy
