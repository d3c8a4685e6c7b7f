#pragma once
// The admin listener's endpoints: /metrics, /healthz, /readyz without a token; everything
// under /admin/ behind "Authorization: Bearer <token>" from the token file.

#include <functional>
#include <memory>
#include <string>

#include "proxy/runtime.hpp"
#include "proxy/simple_server.hpp"

namespace anteroom::proxy {

struct admin_hooks {
    std::function<std::string()> render_metrics;
    std::function<bool()> ready;
    std::function<std::string()> token;  // "" = admin API disabled
    std::function<bool(std::string& err)> reload;
    std::function<std::shared_ptr<const runtime>()> current_runtime;
};

simple_handler make_admin_handler(admin_hooks hooks);

// Constant-time comparison of a presented bearer token with the configured one.
bool token_matches(std::string_view presented_header, std::string_view token);

}  // namespace anteroom::proxy
