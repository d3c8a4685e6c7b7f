#pragma once
// What a surge visitor sends and how the bench reads the answer, apart from any socket: the
// request bytes per cohort kind (browser-like headers for humans, tells for the bots), the
// server's action on a response, and the few fields read from pages and JSON.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "bench/tool/scenario.hpp"

namespace anteroom::bench {

enum class request_kind : std::uint8_t {
    page,          // a navigation: the entry path or the landing page
    status,        // the waiting page's poll of /_anteroom/status
    api_get,       // fetch() of a booking API resource
    api_post,      // fetch() POST with a JSON body
    form_submit,   // the challenge page's script submitting its GET form (a navigation)
};

struct request_spec {
    request_kind kind = request_kind::page;
    std::string_view path;     // origin-form target
    std::string_view cookies;  // Cookie header value ("" = none)
    std::string_view body;     // api_post only
    std::uint64_t variant = 0;  // picks a browser and language (stable per visitor)
};

// Appends the request bytes to `out`.
void build_request(std::string& out, cohort_kind kind, const target_endpoint& to, const request_spec& r);

// The action a response means (action:: bits, 0 = allowed): `Anteroom-Action` (challenge,
// deprioritise, deny) when present, else 403 = denied, 429 = challenged unless the room queues
// with 429 and this is a waiting-room answer.
std::uint8_t classify_action(unsigned status, std::string_view action_header, bool waiting_room_answer,
                             unsigned queued_status_code);

// data-refresh="N" of the waiting page (seconds), or nullopt.
std::optional<unsigned> page_refresh_seconds(std::string_view html);

// Exception-free reads of a parsed JSON object (missing or mistyped → nullopt).
std::optional<std::string> json_string(const nlohmann::json& j, const char* key);
std::optional<std::int64_t> json_int(const nlohmann::json& j, const char* key);

}  // namespace anteroom::bench
