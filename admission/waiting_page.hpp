#pragma once
// What a waiting visitor sees: the HTML waiting page (template from web/, replaceable per room
// by config; German by default, English by Accept-Language; works without JavaScript through a
// meta refresh, updates itself with JavaScript through the status endpoint; < 20 KB) and the
// status JSON. Pure: rendering takes a wait_info and returns text.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "admission/queue_store.hpp"
#include "common/config.hpp"
#include "common/http_fields.hpp"

namespace anteroom::admission {

using language = ui_language;  // common/http_fields.hpp
using anteroom::pick_language;

struct page_context {
    const room_config* room = nullptr;
    const wait_info* info = nullptr;
    language lang = language::de;
    std::string_view self_url;    // the URL the visitor asked for (reloaded by meta refresh)
    std::string_view status_url;  // "/_anteroom/status?room=<id>&return=<self_url>"
    unix_ms now = 0;
};

// A parsed template: HTML with {{placeholders}} (documented in docs/configuration.md).
// Placeholders are HTML-escaped on output, so they belong in text and quoted attributes, never
// inside <script>. Unknown or unclosed placeholders are a load error ("file:line: ...").
class page_template {
public:
    static std::shared_ptr<const page_template> builtin();  // web/waiting.html compiled in
    static std::shared_ptr<const page_template> load(const std::string& path, std::string& err);

    std::string render(const page_context& ctx) const;

private:
    struct part;
    std::shared_ptr<const void> impl_;
    friend struct page_template_access;
};

// `GET /_anteroom/status` body. `go_to` is set when the state is admitted (the URL to go to).
std::string status_json(std::string_view room, const wait_info& info, std::optional<std::string_view> go_to);

// The page for closed / reject-mode rooms (HTML in the chosen language, built-in template).
// With `now` before the room's prequeue_opens it says when the room opens and counts down to it
// (then reloads itself); otherwise it says that there is no access at the moment.
std::string closed_page(const room_config& room, language lang, std::optional<unix_ms> now = std::nullopt);

// Checks a `return` URL from a status poll: a path starting with a single '/', no scheme or
// authority, no control characters, ≤ 2048 bytes, inside the room's paths. nullopt otherwise.
std::optional<std::string> safe_return_path(std::string_view candidate, const room_config& room);

}  // namespace anteroom::admission
