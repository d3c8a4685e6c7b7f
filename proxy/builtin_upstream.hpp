#pragma once
// The built-in upstream: what `make run` shows behind the proxy until a real portal (or the
// embedded booking backend) is configured. It answers over HTTP on loopback, so the proxy
// reaches it exactly as it would reach a real upstream.

#include "common/simple_server.hpp"

namespace anteroom::proxy {

simple_handler builtin_upstream_handler();

}  // namespace anteroom::proxy
