#pragma once
// The admin listener's endpoints: /metrics, /healthz, /readyz without a token; everything
// under /admin/ behind "Authorization: Bearer <token>" from the token file.

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "proxy/runtime.hpp"
#include "common/simple_server.hpp"

namespace anteroom::proxy {

struct admin_hooks {
    std::function<std::string()> render_metrics;
    std::function<bool()> ready;
    std::function<std::string()> token;  // "" = admin API disabled
    std::function<bool(std::string& err)> reload;
    std::function<std::shared_ptr<const runtime>()> current_runtime;
    // Rooms: live figures, and a settings change (false + err; not_found for an unknown room).
    std::function<nlohmann::json()> rooms;
    std::function<bool(std::string_view id, const nlohmann::json& patch, std::string& err, bool& not_found)> update_room;
};

simple_handler make_admin_handler(admin_hooks hooks);

// Constant-time comparison of a presented bearer token with the configured one.
bool token_matches(std::string_view presented_header, std::string_view token);

}  // namespace anteroom::proxy
