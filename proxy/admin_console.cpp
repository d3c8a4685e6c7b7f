#include "proxy/admin_console.hpp"

#include <atomic>
#include <chrono>

#include <nlohmann/json.hpp>

#include "common/http_fields.hpp"
#include "common/log.hpp"

namespace anteroom::admission::embedded {
extern const char console_index_html[];
extern const std::size_t console_index_html_size;
extern const char console_login_html[];
extern const std::size_t console_login_html_size;
extern const char console_console_css[];
extern const std::size_t console_console_css_size;
extern const char console_console_js[];
extern const std::size_t console_console_js_size;
}  // namespace anteroom::admission::embedded

namespace anteroom::proxy {

namespace emb = anteroom::admission::embedded;

namespace {

constexpr std::array<std::string_view, 3> vias{"console", "api", "signal"};

// Scripts and styles only from the page's own origin: no inline code, no style attributes.
constexpr std::string_view csp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

std::string fill_template(std::string_view tmpl, std::string_view lang, std::string_view message) {
    std::string out;
    out.reserve(tmpl.size() + message.size());
    while (!tmpl.empty()) {
        const auto open = tmpl.find("{{");
        out.append(tmpl.substr(0, open));
        if (open == std::string_view::npos) {
            break;
        }
        tmpl.remove_prefix(open);
        if (tmpl.starts_with("{{lang}}")) {
            out.append(lang);
            tmpl.remove_prefix(8);
        } else if (tmpl.starts_with("{{message}}")) {
            append_html_escaped(out, message);
            tmpl.remove_prefix(11);
        } else {
            out.append("{{");
            tmpl.remove_prefix(2);
        }
    }
    return out;
}

simple_response page(http::status status, std::string body, std::string_view type) {
    simple_response r{status, 11};
    r.set(http::field::content_type, type);
    r.set(http::field::cache_control, "no-store");
    r.set("Content-Security-Policy", csp);
    r.set("X-Content-Type-Options", "nosniff");
    r.set("X-Frame-Options", "DENY");
    r.set("Referrer-Policy", "no-referrer");
    r.body() = std::move(body);
    return r;
}

}  // namespace

struct admin_console::timer_state {
    explicit timer_state(net::io_context& io) : timer(io) {}
    net::steady_timer timer;
    std::function<std::string()> render;
    std::atomic<bool> stopped{false};  // set from any thread; the timer itself is only touched on its own
};

admin_console::admin_console(metrics_registry& metrics) {
    for (std::size_t i = 0; i < vias.size(); ++i) {
        changes_[i] = &metrics.get_counter("anteroom_admin_changes_total",
                                           "Control changes recorded in the audit log, by where they came from",
                                           "via=\"" + std::string(vias[i]) + "\"");
    }
}

admin_console::~admin_console() = default;

bool admin_console::open_audit(const std::string& path, std::string& err) { return audit_.open(path, err); }

void admin_console::audit(std::string who, std::string via, std::string what) {
    for (std::size_t i = 0; i < vias.size(); ++i) {
        if (via == vias[i]) {
            changes_[i]->inc();
        }
    }
    ANTEROOM_LOG(log_level::info, "admin", who + " (" + via + "): " + what);
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    std::string err;
    if (!audit_.record({now, std::move(who), std::move(via), std::move(what)}, err)) {
        ANTEROOM_LOG(log_level::error, "admin", err);
    }
}

void admin_console::sample(std::int64_t now_ms, std::string_view metrics_text) {
    std::lock_guard lock(mu_);
    recorder_.record(now_ms, metrics_text);
}

void admin_console::start_sampling(net::io_context& io, std::function<std::string()> render) {
    timer_ = std::make_shared<timer_state>(io);
    timer_->render = std::move(render);
    // The wait handler holds the state weakly; stop() cancels and the state goes with the console.
    struct tick {
        admin_console* self;
        std::weak_ptr<timer_state> ts;
        void operator()(const beast::error_code& ec) const {
            auto t = ts.lock();
            if (ec || !t || t->stopped) {
                return;
            }
            const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count();
            self->sample(now, t->render());
            t->timer.expires_after(std::chrono::seconds(1));
            t->timer.async_wait(*this);
        }
    };
    timer_->timer.expires_after(std::chrono::milliseconds(0));
    timer_->timer.async_wait(tick{this, timer_});
}

// May run on another thread than the timer's (server::stop from the main thread): it only sets
// the flag; the next tick sees it and does not re-arm, and the io_context stopping ends the wait.
void admin_console::stop() {
    if (timer_) {
        timer_->stopped = true;
    }
}

nlohmann::json admin_console::live(std::int64_t since) const {
    std::lock_guard lock(mu_);
    nlohmann::json reasons = nlohmann::json::array();
    for (const auto& r : recorder_.top_reasons()) {
        reasons.push_back({{"reason", r.reason}, {"per_minute", r.per_minute}});
    }
    return {{"step_ms", 1000},
            {"window_s", recorder_.window_ms() / 1000},
            {"samples", recorder_.samples_json(since)},
            {"top_reasons", std::move(reasons)}};
}

nlohmann::json admin_console::audit_json(std::size_t limit) const { return audit_.recent_json(limit); }

simple_response console_dashboard(std::string_view lang) {
    return page(http::status::ok,
                fill_template({emb::console_index_html, emb::console_index_html_size}, lang, ""), "text/html; charset=utf-8");
}

simple_response console_login(std::string_view lang, http::status status, std::string_view message) {
    return page(status, fill_template({emb::console_login_html, emb::console_login_html_size}, lang, message),
                "text/html; charset=utf-8");
}

std::optional<simple_response> console_asset(std::string_view name) {
    if (name == "console.css") {
        return page(http::status::ok, std::string(emb::console_console_css, emb::console_console_css_size),
                    "text/css; charset=utf-8");
    }
    if (name == "console.js") {
        return page(http::status::ok, std::string(emb::console_console_js, emb::console_console_js_size),
                    "text/javascript; charset=utf-8");
    }
    return std::nullopt;
}

}  // namespace anteroom::proxy
