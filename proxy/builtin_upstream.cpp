#include "proxy/builtin_upstream.hpp"

namespace anteroom::proxy {

namespace {

constexpr std::string_view page = R"(<!doctype html>
<html lang="de">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>anteroom</title>
<style>
body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#1d2b36}
h1{font-size:1.6rem}code{background:#eef2f5;padding:.1rem .3rem;border-radius:.2rem}
.en{color:#4a5a66;border-top:1px solid #d8e0e6;margin-top:2rem;padding-top:1rem}
</style>
</head>
<body>
<h1>anteroom läuft</h1>
<p>Diese Seite kommt vom eingebauten Upstream. anteroom nimmt Anfragen entgegen und leitet sie
weiter. Tragen Sie Ihr Portal in <code>conf/anteroom.toml</code> unter <code>[[upstream]]</code>
ein, um es hinter anteroom zu stellen.</p>
<div class="en" lang="en">
<p><strong>anteroom is running.</strong> This page comes from the built-in upstream. Point
<code>[[upstream]] servers</code> in <code>conf/anteroom.toml</code> at your portal to put it
behind anteroom. Metrics: <code>http://127.0.0.1:9090/metrics</code>.</p>
</div>
</body>
</html>
)";

}  // namespace

simple_handler builtin_upstream_handler() {
    return [](const simple_request& req, const tcp::endpoint&) {
        simple_response res{http::status::ok, 11};
        if (req.method() != http::verb::get && req.method() != http::verb::head) {
            res.result(http::status::method_not_allowed);
            res.set(http::field::allow, "GET, HEAD");
            res.set(http::field::content_type, "text/plain; charset=utf-8");
            res.body() = "method not allowed\n";
            return res;
        }
        res.set(http::field::content_type, "text/html; charset=utf-8");
        res.set(http::field::cache_control, "no-cache");
        res.body() = std::string(page);
        return res;
    };
}

}  // namespace anteroom::proxy
