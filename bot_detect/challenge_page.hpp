#pragma once
// The proof-of-work page a challenged browser gets (web/challenge.html, compiled in): German by
// default, English by Accept-Language; solves the challenge with WebCrypto (pure-JS SHA-256
// where WebCrypto is missing, e.g. plain HTTP), shows progress and posts the solution; without
// JavaScript a meta refresh follows the proof-of-waiting link. Pure: rendering takes the values
// and returns text. The protocol is in docs/bot-detection.md.

#include <string>
#include <string_view>

#include "common/http_fields.hpp"

namespace anteroom::bot_detect {

struct challenge_page_ctx {
    ui_language lang = ui_language::de;
    std::string_view token;        // signed challenge (base64url)
    unsigned difficulty = 0;       // leading zero bits
    std::string_view return_path;  // validated relative path the visitor asked for
    std::string_view nojs_url;     // "/_anteroom/challenge?wait=…&return=…"
    unsigned nojs_seconds = 0;     // meta refresh delay of the no-JavaScript path
    bool retry = false;            // a previous solution was refused: say so
};

std::string render_challenge_page(const challenge_page_ctx& ctx);

}  // namespace anteroom::bot_detect
