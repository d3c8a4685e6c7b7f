#include "proxy/bot_filter.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>

#include "bot_detect/challenge.hpp"
#include "bot_detect/challenge_page.hpp"
#include "bot_detect/detector.hpp"
#include "common/crypto.hpp"
#include "common/http_fields.hpp"
#include "common/log.hpp"

namespace anteroom::proxy {

namespace bd = anteroom::bot_detect;

namespace {

constexpr std::string_view challenge_path = "/_anteroom/challenge";
constexpr std::string_view status_path = "/_anteroom/status";
constexpr std::string_view clear_cookie = "anteroom_clear";
constexpr std::string_view hold_cookie = "anteroom_hold";
constexpr std::string_view ticket_prefix = "anteroom_ticket_";
constexpr std::string_view pass_prefix = "anteroom_pass_";
constexpr std::size_t max_scored_headers = 64;  // a head may have more; the first 64 are scored
constexpr std::size_t max_return = 2048;
constexpr bd::unix_ms hold_validity_ms = 30 * 60'000;

bd::unix_ms now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::uint64_t random_nonce() {
    std::array<std::uint8_t, 8> b{};
    if (!crypto::random_bytes(b)) {
        // No randomness: a time-derived nonce still differs per call; replay protection holds.
        static std::atomic<std::uint64_t> fallback{0};
        return bd::mix64(static_cast<std::uint64_t>(now_ms()) ^ fallback.fetch_add(1));
    }
    std::uint64_t v = 0;
    for (auto x : b) {
        v = (v << 8) | x;
    }
    return v;
}

// A relative path on this site: one leading '/', no scheme or authority, no backslash, no
// control characters. Anything else becomes "/".
std::string safe_return(std::string_view r) {
    if (r.empty() || r.size() > max_return || r.front() != '/' || (r.size() > 1 && (r[1] == '/' || r[1] == '\\')) ||
        r.starts_with(challenge_path)) {
        return "/";
    }
    for (char c : r) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\') {
            return "/";
        }
    }
    return std::string(r);
}

// The ticket (preferred) or pass cookie of any room, as the visitor key.
std::uint64_t visitor_of(const http::request_header<>& req) {
    std::uint64_t pass = 0;
    for (const auto& f : req) {
        if (f.name() != http::field::cookie) {
            continue;
        }
        std::string_view s = f.value();
        while (!s.empty()) {
            const auto semi = s.find(';');
            const std::string_view pair = trim_ows(s.substr(0, semi));
            s = semi == std::string_view::npos ? std::string_view{} : s.substr(semi + 1);
            const auto eq = pair.find('=');
            if (eq == std::string_view::npos) {
                continue;
            }
            const auto name = pair.substr(0, eq);
            const auto value = pair.substr(eq + 1);
            if (value.empty()) {
                continue;
            }
            if (name.starts_with(ticket_prefix)) {
                return bd::visitor_key(value);
            }
            if (pass == 0 && name.starts_with(pass_prefix)) {
                pass = bd::visitor_key(value);
            }
        }
    }
    return pass;
}

bool loopback_host(std::string_view host) {
    if (host.starts_with("[")) {
        return host.starts_with("[::1]");
    }
    host = host.substr(0, host.find(':'));
    return host == "localhost" || host.starts_with("127.");
}

}  // namespace

struct bot_service::impl {
    explicit impl(metrics_registry& m) : metrics(m) {
        for (std::size_t i = 0; i < bd::band_count; ++i) {
            actions[i] = &m.get_counter("anteroom_bot_decisions_total",
                                        "Requests scored by bot detection, by band (also counted in dry run)",
                                        "action=\"" + std::string(bd::to_string(static_cast<bd::band>(i))) + "\"");
        }
        for (std::uint32_t i = 0; i < bd::reason::count; ++i) {
            reasons[i] = &m.get_counter("anteroom_bot_reasons_total", "Scored requests by reason (a request counts once per reason)",
                                        "reason=\"" + std::string(bd::reason_names[i]) + "\"");
        }
        issued = &m.get_counter("anteroom_bot_challenges_issued_total", "Proof-of-work challenges sent");
        passed_work = &m.get_counter("anteroom_bot_challenges_passed_total", "Challenges passed", "proof=\"work\"");
        passed_wait = &m.get_counter("anteroom_bot_challenges_passed_total", "Challenges passed", "proof=\"wait\"");
        for (std::size_t i = 0; i < failed.size(); ++i) {
            failed[i] = &m.get_counter("anteroom_bot_challenges_failed_total", "Challenge answers refused, by reason",
                                       "error=\"" + std::string(bd::to_string(static_cast<bd::token_error>(i))) + "\"");
        }
        holds = &m.get_counter("anteroom_bot_holds_total", "Deprioritised visitors held back before a ticket");
        surge = &m.get_gauge("anteroom_bot_surge", "1 while the surge detector raises challenge difficulty");
        table_bytes = &m.get_gauge("anteroom_bot_table_bytes", "Memory reserved for bot detection's per-key tables and replay set");
        dry_run = &m.get_gauge("anteroom_bot_dry_run", "1 when bot detection decides but does not act");
    }

    metrics_registry& metrics;
    std::mutex mu;
    std::shared_ptr<bd::detector> det;
    std::array<counter*, bd::band_count> actions{};
    std::array<counter*, bd::reason::count> reasons{};
    counter* issued = nullptr;
    counter* passed_work = nullptr;
    counter* passed_wait = nullptr;
    std::array<counter*, 9> failed{};
    counter* holds = nullptr;
    gauge* surge = nullptr;
    gauge* table_bytes = nullptr;
    gauge* dry_run = nullptr;
    // The console's live override of [bot_detect] dry_run: -1 none, else 0/1. Kept across
    // reloads until the config's own dry_run changes (as rooms keep their live settings).
    std::atomic<int> live_dry_run{-1};
    bool enabled = false;        // guarded by mu
    std::optional<bool> config_dry_run;  // guarded by mu: the value of the config last prepared

    bool dry_run_now(const bot_detect_config& bc) const {
        const int v = live_dry_run.load(std::memory_order_relaxed);
        return v < 0 ? bc.dry_run : v == 1;
    }
};

namespace {

class bot_filter final : public request_filter, public ticket_gate {
public:
    std::shared_ptr<bot_service::impl> svc;
    std::shared_ptr<bd::detector> det;
    std::shared_ptr<const config> cfg;
    std::shared_ptr<const key_ring> keys;

    const bot_detect_config& bc() const { return cfg->bot_detect; }

    std::string_view name() const override { return "bot_detect"; }

    verdict on_request(request_ctx& ctx) const override {
        const bd::unix_ms now = now_ms();
        if (ctx.path == challenge_path) {
            return endpoint(ctx, now);
        }
        std::array<bd::header_ref, max_scored_headers> refs;
        std::size_t n = 0;
        for (const auto& f : ctx.request) {
            if (n == refs.size()) {
                break;
            }
            refs[n++] = {f.name_string(), f.value()};
        }
        bd::request_input in;
        in.headers = {refs.data(), n};
        in.path = ctx.path;
        in.client = ctx.client;
        in.visitor = visitor_of(ctx.request);
        in.status_poll = ctx.path == status_path;
        const http::verb m = ctx.request.method();
        in.unsafe_method = m == http::verb::post || m == http::verb::put || m == http::verb::patch ||
                           m == http::verb::delete_;
        in.secure_origin = secure_origin(ctx);
        in.ja4 = ctx.ja4;
        in.clearance_credit = clearance(ctx, now);
        in.now = now;
        const bd::decision d = det->evaluate(bc(), in);

        svc->actions[static_cast<std::size_t>(d.action)]->inc();
        for (std::uint32_t i = 0; i < bd::reason::count; ++i) {
            if ((d.reasons & (1u << i)) != 0) {
                svc->reasons[i]->inc();
            }
        }
        svc->surge->set(d.surge ? 1 : 0);
        ctx.bot.score = d.score;
        ctx.bot.reasons = d.reasons;
        ctx.bot.visitor = in.visitor;
        ctx.bot.header_signature = d.facts.header_signature;
        if (svc->dry_run_now(bc()) || d.action == bd::band::allow) {
            return verdict::next;
        }
        ctx.bot.action = static_cast<std::uint8_t>(d.action);
        if (bc().action_header) {
            ctx.response_headers.emplace_back("Anteroom-Action", std::string(bd::to_string(d.action)));
        }
        switch (d.action) {
            case bd::band::challenge:
                challenge(ctx, d.difficulty, now, false, http::status::too_many_requests);
                return block(ctx);
            case bd::band::deprioritise:
                ctx.bot.gate = this;
                if (in.status_poll) {
                    ctx.response_delay = bc().slow_status;
                }
                return verdict::next;
            case bd::band::deny:
                if (d.infinite_queue) {
                    ctx.bot.infinite_queue = true;  // admission shows a line that never moves
                    return verdict::next;
                }
                deny(ctx);
                return block(ctx);
            case bd::band::allow:
                break;
        }
        return verdict::next;
    }

    void on_complete(request_ctx& ctx, unsigned status) const override {
        if (ctx.bot.score < 0) {
            return;
        }
        det->observe(bc(), {.client = ctx.client,
                            .visitor = ctx.bot.issued_visitor != 0 ? ctx.bot.issued_visitor : ctx.bot.visitor,
                            .status = status,
                            .from_upstream = ctx.upstream_answered,
                            .ticket_issued = ctx.bot.ticket_issued,
                            .refresh_told_s = ctx.bot.refresh_told_s,
                            .admitted_visitor = ctx.bot.admitted_visitor,
                            .admitted_ticket = ctx.bot.admitted_ticket,
                            .header_signature = ctx.bot.header_signature,
                            .now = now_ms()});
    }

    std::optional<unsigned> hold(request_ctx& ctx, std::int64_t now) const override {
        const std::string_view ua = ctx.request[http::field::user_agent];
        if (const auto raw = cookie_value(ctx.request, hold_cookie)) {
            const auto r = bd::decode_token(*raw, *keys,
                                            {.want = bd::bot_token_kind::hold, .client = ctx.client, .user_agent = ua,
                                             .now = now, .check_not_before = false});
            if (r.token) {
                if (now >= r.token->not_before) {
                    ctx.response_headers.emplace_back("Set-Cookie", set_cookie_header(hold_cookie, "", 0, secure(ctx)));
                    return std::nullopt;
                }
                return static_cast<unsigned>((r.token->not_before - now + 999) / 1000);
            }
        }
        const bd::bot_token t{.kind = bd::bot_token_kind::hold,
                              .nonce = random_nonce(),
                              .not_before = now + bc().deprioritise_penalty.count(),
                              .expires_at = now + bc().deprioritise_penalty.count() + hold_validity_ms};
        ctx.response_headers.emplace_back(
            "Set-Cookie", set_cookie_header(hold_cookie, bd::encode_token(t, *keys, ctx.client, ua),
                                      (t.expires_at - now) / 1000, secure(ctx)));
        svc->holds->inc();
        return static_cast<unsigned>(std::max<std::int64_t>(bc().deprioritise_penalty.count() / 1000, 1));
    }

    // Used by the tail filter too.
    verdict deny(request_ctx& ctx) const {
        const bool forbidden = bc().deny_status == bot_deny_status::forbidden;
        const auto status = forbidden ? http::status::forbidden : http::status::too_many_requests;
        const bool en = pick_language(ctx.request[http::field::accept_language]) == ui_language::en;
        if (wants_json(ctx)) {
            respond(ctx, status, "application/json", R"({"code":"denied"})" "\n");
        } else {
            respond(ctx, status, "text/plain; charset=utf-8",
                    en ? "This request looks automated and was refused. If you are a person, please try again "
                         "later from a web browser.\n"
                       : "Diese Anfrage wirkt automatisiert und wurde abgelehnt. Wenn Sie ein Mensch sind, "
                         "versuchen Sie es bitte später mit einem Webbrowser erneut.\n");
        }
        if (!forbidden) {
            ctx.response->set(http::field::retry_after, "60");
        }
        ctx.log_tag = "bot:deny";
        return verdict::respond;
    }

private:
    // The answer is ready; admission still sees the request (to mark a ticket holder's place
    // absent, so a bot that never comes back does not use up the admission rate), then the tail
    // filter sends it.
    static verdict block(request_ctx& ctx) {
        ctx.bot.blocked = true;
        return verdict::next;
    }

    bool secure(const request_ctx& ctx) const { return ctx.tls || cfg->admission.cookie_secure; }

    bool secure_origin(const request_ctx& ctx) const {
        switch (bc().fetch_metadata) {
            case fetch_metadata_mode::always: return true;
            case fetch_metadata_mode::never: return false;
            case fetch_metadata_mode::automatic: break;
        }
        if (ctx.tls || loopback_host(ctx.request[http::field::host])) {
            return true;
        }
        // Behind a TLS-terminating proxy we trust (it set X-Forwarded-For, so client != peer).
        return !(ctx.client == ctx.peer) && beast::iequals(ctx.request["X-Forwarded-Proto"], "https");
    }

    int clearance(const request_ctx& ctx, bd::unix_ms now) const {
        const auto raw = cookie_value(ctx.request, clear_cookie);
        if (!raw) {
            return 0;
        }
        const auto r = bd::decode_token(*raw, *keys,
                                        {.want = bd::bot_token_kind::clearance, .client = ctx.client,
                                         .user_agent = ctx.request[http::field::user_agent], .now = now});
        return r.token ? r.token->difficulty : 0;
    }

    verdict challenge(request_ctx& ctx, unsigned difficulty, bd::unix_ms now, bool retry, http::status status) const {
        const std::string_view ua = ctx.request[http::field::user_agent];
        const auto ttl = bc().challenge_ttl.count();
        const bd::bot_token work{.kind = bd::bot_token_kind::challenge,
                                 .difficulty = static_cast<std::uint8_t>(difficulty),
                                 .nonce = random_nonce(),
                                 .expires_at = now + ttl};
        const std::string token = bd::encode_token(work, *keys, ctx.client, ua);
        std::string ret = safe_return(ctx.path == challenge_path
                                          ? query_param(ctx.request.target(), "return").value_or("/")
                                          : std::string(ctx.request.target()));
        svc->issued->inc();
        ctx.log_tag = "bot:challenge";
        if (wants_json(ctx)) {
            const nlohmann::json j{{"state", "challenge"},
                                   {"token", token},
                                   {"difficulty", difficulty},
                                   {"submit", challenge_path},
                                   {"return", ret}};
            respond(ctx, status, "application/json", j.dump() + "\n");
            return verdict::respond;
        }
        const bd::bot_token wait{.kind = bd::bot_token_kind::wait,
                                 .nonce = random_nonce(),
                                 .not_before = now + bc().nojs_delay.count(),
                                 .expires_at = now + bc().nojs_delay.count() + ttl};
        const std::string nojs = std::string(challenge_path) + "?wait=" + bd::encode_token(wait, *keys, ctx.client, ua) +
                                 "&return=" + url_encode_component(ret);
        const bd::challenge_page_ctx pc{.lang = pick_language(ctx.request[http::field::accept_language]),
                                        .token = token,
                                        .difficulty = difficulty,
                                        .return_path = ret,
                                        .nojs_url = nojs,
                                        .nojs_seconds = static_cast<unsigned>(bc().nojs_delay.count() / 1000),
                                        .retry = retry};
        respond(ctx, status, "text/html; charset=utf-8", bd::render_challenge_page(pc));
        return verdict::respond;
    }

    // GET /_anteroom/challenge?token=…&solution=…&return=… (proof of work) or ?wait=…&return=…
    // (proof of waiting).
    verdict endpoint(request_ctx& ctx, bd::unix_ms now) const {
        const auto method = ctx.request.method();
        if (method != http::verb::get && method != http::verb::head) {
            respond(ctx, http::status::method_not_allowed, "application/json", R"({"code":"use_get"})" "\n");
            ctx.response->set(http::field::allow, "GET, HEAD");
            return verdict::respond;
        }
        const std::string_view target = ctx.request.target();
        const std::string_view ua = ctx.request[http::field::user_agent];
        const std::string ret = safe_return(query_param(target, "return").value_or("/"));
        bd::token_check check{.client = ctx.client, .user_agent = ua, .now = now};
        bd::token_result r;
        std::string_view proof = "work";
        if (const auto wait = query_param(target, "wait")) {
            check.want = bd::bot_token_kind::wait;
            r = bd::decode_token(*wait, *keys, check);
            proof = "wait";
        } else {
            const auto token = query_param(target, "token");
            const auto solution = query_param(target, "solution");
            check.want = bd::bot_token_kind::challenge;
            r = token ? bd::decode_token(*token, *keys, check) : bd::token_result{};
            if (r.token) {
                const auto bits = solution ? bd::pow_zero_bits(*token, *solution) : std::nullopt;
                if (!bits || *bits < r.token->difficulty) {
                    r.error = bd::token_error::bad_solution;
                    r.token.reset();
                }
            }
        }
        if (r.token) {
            bool busy = false;
            if (!det->replays().insert(r.token->nonce, r.token->expires_at, now, busy)) {
                r.error = busy ? bd::token_error::busy : bd::token_error::replayed;
                r.token.reset();
            }
        }
        if (!r.token) {
            svc->failed[static_cast<std::size_t>(r.error)]->inc();
            ctx.log_tag = "bot:challenge_failed";
            if (wants_json(ctx)) {
                respond(ctx, http::status::forbidden, "application/json",
                        nlohmann::json{{"code", bd::to_string(r.error)}}.dump() + "\n");
                return verdict::respond;
            }
            // A person whose browser failed (or who waited too little) gets a fresh challenge.
            return challenge(ctx, bc().difficulty_min, now, r.error != bd::token_error::too_early,
                             r.error == bd::token_error::too_early ? http::status::too_many_requests
                                                                  : http::status::forbidden);
        }
        (proof == "work" ? svc->passed_work : svc->passed_wait)->inc();
        const bd::bot_token clear{.kind = bd::bot_token_kind::clearance,
                                  .difficulty = static_cast<std::uint8_t>(std::clamp(bc().clearance_credit, 0, 100)),
                                  .nonce = random_nonce(),
                                  .expires_at = now + bc().clearance_ttl.count()};
        ctx.response_headers.emplace_back(
            "Set-Cookie", set_cookie_header(clear_cookie, bd::encode_token(clear, *keys, ctx.client, ua),
                                      bc().clearance_ttl.count() / 1000, secure(ctx)));
        ctx.log_tag = "bot:challenge_passed";
        if (wants_json(ctx)) {
            respond(ctx, http::status::ok, "application/json",
                    nlohmann::json{{"ok", true}, {"return", ret}}.dump() + "\n");
            return verdict::respond;
        }
        respond(ctx, http::status::see_other, "text/plain; charset=utf-8", "See " + ret + "\n");
        ctx.response->set(http::field::location, ret);
        return verdict::respond;
    }
};

class bot_tail final : public request_filter {
public:
    std::shared_ptr<const bot_filter> head;
    std::string_view name() const override { return "bot_detect_tail"; }
    verdict on_request(request_ctx& ctx) const override {
        if (ctx.bot.blocked && ctx.response) {
            return verdict::respond;
        }
        // A high-confidence bot outside any room: nothing to queue it in, so it is denied.
        return ctx.bot.infinite_queue ? head->deny(ctx) : verdict::next;
    }
};

}  // namespace

bot_service::bot_service(metrics_registry& metrics) : impl_(std::make_shared<impl>(metrics)) {}

bot_service::~bot_service() = default;

bot_service::filters bot_service::prepare(const std::shared_ptr<const config>& cfg, std::shared_ptr<const key_ring> keys) {
    const auto& bc = cfg->bot_detect;
    auto& d = *impl_;
    std::lock_guard lock(d.mu);
    d.enabled = bc.enabled && keys;
    if (d.config_dry_run != bc.dry_run) {
        if (d.config_dry_run && d.live_dry_run.load() >= 0) {
            ANTEROOM_LOG(log_level::info, "bot_detect", "dry_run changed in the config: the live override ends");
        }
        d.live_dry_run.store(-1);
        d.config_dry_run = bc.dry_run;
    }
    d.dry_run->set(d.dry_run_now(bc) ? 1 : 0);
    if (!d.enabled) {
        return {};
    }
    if (!d.det || d.det->max_tracked() != bc.max_tracked || d.det->max_replay() != bc.max_replay) {
        if (d.det) {
            ANTEROOM_LOG(log_level::info, "bot_detect", "table bounds changed: per-key state starts afresh");
        }
        d.det = std::make_shared<bd::detector>(bc);
    }
    d.table_bytes->set(static_cast<std::int64_t>(d.det->memory_bytes()));
    auto head = std::make_shared<bot_filter>();
    head->svc = impl_;
    head->det = d.det;
    head->cfg = cfg;
    head->keys = std::move(keys);
    auto tail = std::make_shared<bot_tail>();
    tail->head = head;
    return {head, tail};
}

void bot_service::set_dry_run(bool on) {
    auto& d = *impl_;
    std::lock_guard lock(d.mu);
    d.live_dry_run.store(on ? 1 : 0);
    d.dry_run->set(on ? 1 : 0);
}

bot_service::dry_run_state bot_service::dry_run() const {
    auto& d = *impl_;
    std::lock_guard lock(d.mu);
    const int v = d.live_dry_run.load();
    const bool config = d.config_dry_run.value_or(false);
    return {d.enabled, v < 0 ? config : v == 1, config};
}

}  // namespace anteroom::proxy
