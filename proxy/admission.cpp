#include "proxy/admission.hpp"

#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "admission/room_match.hpp"
#include "admission/token.hpp"
#include "admission/waiting_page.hpp"
#include "bot_detect/detector.hpp"
#include "common/endpoint.hpp"
#include "common/keyfile.hpp"
#include "common/log.hpp"
#include "common/timefmt.hpp"
#include "proxy/headers.hpp"
#include "redis/shared_store.hpp"

namespace anteroom::proxy {

using namespace admission;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::string_view endpoint_prefix = "/_anteroom/";
constexpr auto tick_interval = std::chrono::milliseconds(100);
constexpr std::size_t max_capacity_body = 64 * 1024;

unix_ms now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Waiting times are minutes to hours: the registry's request-latency buckets do not fit.
struct wait_histogram {
    static constexpr std::array<std::int64_t, 13> bounds_s{5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800};
    std::array<std::atomic<std::uint64_t>, bounds_s.size() + 1> buckets{};
    std::atomic<std::uint64_t> sum_ms{0};

    void observe(unix_ms waited) {
        waited = std::max<unix_ms>(waited, 0);
        std::size_t i = 0;
        while (i < bounds_s.size() && waited > bounds_s[i] * 1000) {
            ++i;
        }
        buckets[i].fetch_add(1, std::memory_order_relaxed);
        sum_ms.fetch_add(static_cast<std::uint64_t>(waited), std::memory_order_relaxed);
    }
};

enum class token_type : std::size_t { ticket, pass, invitation, count };
constexpr std::array<std::string_view, 3> token_type_names{"ticket", "pass", "invitation"};

// Per room id; created on first sight and kept for the process lifetime, so counters survive
// reloads and a request holding an old filter never touches freed memory.
struct room_metrics {
    counter* tickets = nullptr;
    counter* passes = nullptr;
    counter* bypass = nullptr;
    counter* bypass_refused = nullptr;
    counter* session_end = nullptr;
    std::array<std::array<counter*, reject_reason_count>, static_cast<std::size_t>(token_type::count)> rejected{};
    wait_histogram wait;
};

struct room_entry {
    const room_config* cfg = nullptr;
    std::shared_ptr<const page_template> page;
    room_metrics* metrics = nullptr;
    std::string ticket_cookie;
    std::string pass_cookie;
    std::string landing;
};

std::string_view log_tag_for(room_state s) {
    switch (s) {
    case room_state::prequeue: return "admission:prequeue";
    case room_state::queued: return "admission:queued";
    case room_state::admitted: return "admission:admitted";
    case room_state::paused: return "admission:paused";
    case room_state::sold_out: return "admission:sold_out";
    case room_state::closed: return "admission:closed";
    }
    return "admission";
}

struct capacity_target {
    tcp::endpoint ep;
    std::string host;
    std::string target;
};

// "http://<ip>:<port>/path", or "builtin:/path" for the built-in upstream (the embedded booking
// backend, whose port the kernel picks at start).
std::optional<capacity_target> parse_capacity_url(std::string_view url, const std::optional<listen_address>& builtin) {
    constexpr std::string_view builtin_scheme = "builtin:";
    if (url.starts_with(builtin_scheme)) {
        if (!builtin) {
            return std::nullopt;
        }
        return capacity_target{to_endpoint(*builtin), builtin->text(), std::string(url.substr(builtin_scheme.size()))};
    }
    constexpr std::string_view scheme = "http://";
    if (!url.starts_with(scheme)) {
        return std::nullopt;
    }
    url.remove_prefix(scheme.size());
    const auto slash = url.find('/');
    const std::string_view authority = url.substr(0, slash);
    auto addr = parse_address(authority);
    if (!addr || addr->port == 0) {
        return std::nullopt;
    }
    return capacity_target{to_endpoint(*addr), std::string(authority),
                           slash == std::string_view::npos ? std::string("/") : std::string(url.substr(slash))};
}

}  // namespace

struct admission_service::impl : std::enable_shared_from_this<admission_service::impl> {
    explicit impl(metrics_registry& m) : metrics(m) {}

    metrics_registry& metrics;
    std::unique_ptr<queue_store> store;
    std::string state_dir;
    std::string state_desc;  // the [state] the store was opened with

    mutable std::mutex mu;  // guards cfg, room_stats
    std::shared_ptr<const config> cfg;
    std::map<std::string, std::unique_ptr<room_metrics>, std::less<>> room_stats;

    std::mutex snapshot_mu;
    unix_ms last_snapshot = 0;
    bool snapshot_failing = false;  // guarded by snapshot_mu, like snapshot_ok_at
    unix_ms snapshot_ok_at = 0;
    counter& snapshot_failures = metrics.get_counter(
        "anteroom_snapshot_failures_total", "Queue state snapshots that could not be written to state_dir");
    gauge& snapshot_last_ok = metrics.get_gauge(
        "anteroom_snapshot_last_success_timestamp_seconds", "Unix time of the last queue state snapshot written");
    std::atomic<bool> stopping{false};
    std::optional<listen_address> builtin;  // set before start(); target of "builtin:" capacity URLs
    std::map<std::string, unix_ms, std::less<>> capacity_due;    // control thread only
    std::map<std::string, unsigned, std::less<>> capacity_fails;  // control thread only

    room_metrics& metrics_for(const std::string& id) {
        std::lock_guard lock(mu);
        auto& slot = room_stats[id];
        if (!slot) {
            slot = std::make_unique<room_metrics>();
            const std::string room = "room=\"" + label_value(id) + "\"";
            slot->tickets = &metrics.get_counter("anteroom_room_tickets_issued_total", "Queue tickets issued", room);
            slot->passes = &metrics.get_counter("anteroom_room_passes_issued_total",
                                                "Passes handed to visitors admitted from the queue", room);
            slot->bypass = &metrics.get_counter("anteroom_room_bypass_total",
                                                "Passes granted by invitation code or agent token", room);
            slot->bypass_refused = &metrics.get_counter(
                "anteroom_room_bypass_refused_total", "Bypass requests refused because max_active_users was reached", room);
            slot->session_end = &metrics.get_counter("anteroom_room_session_end_total",
                                                     "Passes ended by the upstream's Anteroom-Session: end", room);
            for (std::size_t t = 0; t < token_type_names.size(); ++t) {
                for (std::size_t r = 0; r < reject_reason_count; ++r) {
                    slot->rejected[t][r] = &metrics.get_counter(
                        "anteroom_room_token_rejected_total",
                        "Tickets, passes and invitations treated as absent, by reason",
                        room + ",token=\"" + std::string(token_type_names[t]) + "\",reason=\"" +
                            std::string(to_string(static_cast<reject_reason>(r))) + "\"");
                }
            }
        }
        return *slot;
    }

    void do_snapshot(bool final) {
        std::lock_guard lock(snapshot_mu);
        if (!store) {
            return;
        }
        std::string err;
        if (!store->snapshot(err)) {
            snapshot_failures.inc();
            // Logged when it starts failing and at shutdown, not every interval; the counter
            // and the age of the last good snapshot carry the alarm in between.
            if (!snapshot_failing || final) {
                ANTEROOM_LOG(log_level::error, "admission",
                             "snapshot failed, serving continues but a restart would lose the progress since " +
                                 (snapshot_ok_at == 0 ? std::string("start") : format_rfc3339(snapshot_ok_at)) +
                                 ": " + err);
            }
            snapshot_failing = true;
            return;
        }
        snapshot_ok_at = now_ms();
        snapshot_last_ok.set(snapshot_ok_at / 1000);
        if (snapshot_failing) {
            ANTEROOM_LOG(log_level::info, "admission", "snapshot written again");
        }
        snapshot_failing = false;
    }

    net::awaitable<void> tick_loop() {
        auto self = shared_from_this();
        net::steady_timer timer(co_await net::this_coro::executor);
        while (!stopping.load()) {
            timer.expires_after(tick_interval);
            co_await timer.async_wait(use_tuple);
            if (stopping.load()) {
                break;
            }
            const unix_ms now = now_ms();
            store->tick(now);
            std::shared_ptr<const config> c;
            {
                std::lock_guard lock(mu);
                c = cfg;
            }
            if (now - last_snapshot >= c->admission.snapshot_interval.count()) {
                last_snapshot = now;
                do_snapshot(false);
            }
            for (const auto& room : c->rooms) {
                if (room.capacity_url.empty()) {
                    continue;
                }
                auto [it, fresh] = capacity_due.try_emplace(room.id, 0);
                if (it->second <= now) {
                    it->second = now + room.capacity_poll_interval.count();
                    net::co_spawn(co_await net::this_coro::executor,
                                  fetch_capacity(room.id, room.capacity_url, room.capacity_poll_interval),
                                  net::detached);
                }
            }
        }
    }

    // GET capacity_url → {"available": N, "next_available_at": "RFC 3339"}. A failed poll keeps
    // the last known figure (logged once per failure streak).
    net::awaitable<void> fetch_capacity(std::string room, std::string url, duration_ms interval) {
        auto self = shared_from_this();
        std::string problem;
        std::optional<std::int64_t> available;
        std::optional<unix_ms> next_at;
        if (auto t = parse_capacity_url(url, builtin)) {
            beast::tcp_stream s(co_await net::this_coro::executor);
            s.expires_after(std::min<duration_ms>(interval, std::chrono::seconds(5)));
            auto [cec] = co_await s.async_connect(t->ep, use_tuple);
            http::request<http::empty_body> req{http::verb::get, t->target, 11};
            req.set(http::field::host, t->host);
            req.set(http::field::user_agent, "anteroom-capacity");
            req.set(http::field::accept, "application/json");
            req.keep_alive(false);
            beast::error_code ec = cec;
            if (!ec) {
                auto [wec, wn] = co_await http::async_write(s, req, use_tuple);
                (void)wn;
                ec = wec;
            }
            beast::flat_buffer buf;
            http::response_parser<http::string_body> p;
            p.body_limit(max_capacity_body);
            if (!ec) {
                auto [rec, rn] = co_await http::async_read(s, buf, p, use_tuple);
                (void)rn;
                ec = rec;
            }
            if (ec) {
                problem = ec.message();
            } else if (p.get().result_int() != 200) {
                problem = "status " + std::to_string(p.get().result_int());
            } else {
                const auto j = nlohmann::json::parse(p.get().body(), nullptr, false);
                if (j.is_object() && j.contains("available") && j["available"].is_number_integer()) {
                    available = j["available"].get<std::int64_t>();
                    if (auto n = j.find("next_available_at"); n != j.end() && n->is_string()) {
                        next_at = parse_rfc3339(n->get<std::string>());
                    }
                } else {
                    problem = "answer is not JSON with an integer \"available\"";
                }
            }
            beast::error_code ignored;
            s.socket().close(ignored);
        } else {
            problem = url.starts_with("builtin:") ? "no built-in upstream runs (servers = [\"builtin\"])"
                                                  : "unusable capacity_url";
        }
        if (stopping.load()) {
            co_return;
        }
        if (!problem.empty()) {
            if (capacity_fails[room]++ == 0) {
                ANTEROOM_LOG(log_level::warn, "admission",
                             "room " + room + ": capacity poll failed (" + problem + "); keeping the last figure");
            }
            co_return;
        }
        if (capacity_fails[room] != 0) {
            ANTEROOM_LOG(log_level::info, "admission", "room " + room + ": capacity poll works again");
        }
        capacity_fails[room] = 0;
        store->set_capacity(room, available, next_at, now_ms());
    }
};

namespace {

class admission_filter final : public request_filter {
public:
    std::shared_ptr<admission_service::impl> svc;
    std::shared_ptr<const config> cfg;
    std::shared_ptr<const key_ring> keys;
    room_matcher matcher;
    std::vector<room_entry> rooms;  // parallel to cfg->rooms
    binding_policy policy;
    std::string agent_token;

    std::string_view name() const override { return "admission"; }

    verdict on_request(request_ctx& ctx) const override {
        if (ctx.bot.blocked) {
            forget_place(ctx);
            return verdict::next;  // bot detection's tail sends its answer
        }
        if (ctx.path.starts_with(endpoint_prefix)) {
            return endpoint(ctx);
        }
        const auto norm = normalize_path(ctx.path);
        if (!norm) {
            // An undecodable path could mean anything to the upstream: never let it around a room.
            respond(ctx, http::status::bad_request, "text/plain; charset=utf-8", "bad request path\n");
            ctx.log_tag = "admission:bad_path";
            return verdict::respond;
        }
        const room_config* rc = matcher.match(*norm);
        if (rc == nullptr) {
            return verdict::next;
        }
        const room_entry& room = rooms[static_cast<std::size_t>(rc - cfg->rooms.data())];
        return in_room(ctx, room);
    }

    void on_response(request_ctx& ctx, http::response_header<>& res) const override {
        const auto it = res.find("Anteroom-Session");
        if (it == res.end()) {
            return;
        }
        const bool end = beast::iequals(beast::string_view(it->value()), "end");
        res.erase("Anteroom-Session");
        if (end && ctx.pass_id != 0) {
            svc->store->end_pass(ctx.room_id, ctx.pass_id, now_ms());
            if (const room_entry* r = find_room(ctx.room_id)) {
                r->metrics->session_end->inc();
            }
            ctx.log_tag = "admission:session_end";
        }
    }

private:
    // Bot detection refused this request: the ticket it carries (for the room of its path, or
    // of the status poll) no longer keeps a place alive.
    void forget_place(request_ctx& ctx) const {
        const room_entry* room = nullptr;
        if (ctx.path == "/_anteroom/status") {
            if (const auto id = query_param(ctx.request.target(), "room")) {
                room = find_room(*id);
            }
        } else if (const auto norm = normalize_path(ctx.path)) {
            if (const room_config* rc = matcher.match(*norm)) {
                room = &rooms[static_cast<std::size_t>(rc - cfg->rooms.data())];
            }
        }
        if (room == nullptr) {
            return;
        }
        const unix_ms now = now_ms();
        if (auto t = decode_cookie<ticket>(ctx, *room, token_type::ticket, room->ticket_cookie, now)) {
            svc->store->mark_absent(room->cfg->id, *t, now);
        }
    }

    const room_entry* find_room(std::string_view id) const {
        for (const auto& r : rooms) {
            if (r.cfg->id == id) {
                return &r;
            }
        }
        return nullptr;
    }

    std::uint64_t binding_of(const request_ctx& ctx) const {
        return client_binding(*keys, policy, ctx.client, ctx.request[http::field::user_agent]);
    }

    bool secure(const request_ctx& ctx) const { return ctx.tls || cfg->admission.cookie_secure; }

    static void respond_json(request_ctx& ctx, http::status status, const nlohmann::json& j) {
        respond(ctx, status, "application/json", j.dump() + "\n");
    }

    void count_reject(const room_entry& room, token_type t, reject_reason r) const {
        room.metrics->rejected[static_cast<std::size_t>(t)][static_cast<std::size_t>(r)]->inc();
    }

    template <class T>
    std::optional<T> decode_cookie(const request_ctx& ctx, const room_entry& room, token_type type,
                                   const std::string& cookie_name, unix_ms now) const {
        const auto raw = cookie_value(ctx.request, cookie_name);
        if (!raw) {
            return std::nullopt;
        }
        const verify_context vc{.room = room.cfg->id,
                                .binding = policy,
                                .client = ctx.client,
                                .user_agent = ctx.request[http::field::user_agent],
                                .now = now,
                                .max_age_ms = room.cfg->ticket_max_age.count()};
        decoded<T> d = [&] {
            if constexpr (std::is_same_v<T, ticket>) {
                return decode_ticket(*raw, *keys, vc);
            } else {
                return decode_pass(*raw, *keys, vc);
            }
        }();
        if (auto* r = std::get_if<reject_reason>(&d)) {
            count_reject(room, type, *r);
            return std::nullopt;
        }
        return std::get<T>(std::move(d));
    }

    // A valid, still active pass for this room.
    std::optional<pass> active_pass(request_ctx& ctx, const room_entry& room, unix_ms now) const {
        auto p = decode_cookie<pass>(ctx, room, token_type::pass, room.pass_cookie, now);
        if (!p) {
            return std::nullopt;
        }
        if (svc->store->touch_pass(room.cfg->id, *p, now) != pass_status::active) {
            count_reject(room, token_type::pass, reject_reason::revoked);
            return std::nullopt;
        }
        return p;
    }

    // A repeated poll of an admitted ticket returns the same pass (its admission time fixed at
    // the claim): count the admission and its wait only on the claiming poll.
    static void count_admission(const room_entry& room, const pass& p, const ticket& t, unix_ms now) {
        if (p.admitted_at == now) {
            room.metrics->passes->inc();
            room.metrics->wait.observe(now - t.issued_at);
        }
    }

    enum class pass_for { ticket_holder, new_ticket_holder, bypass };

    // A ticket holder's pass replaces the ticket cookie (a ticket just issued never was set).
    void give_pass(request_ctx& ctx, const room_entry& room, const pass& p, unix_ms now, pass_for to) const {
        std::string text = encode(p, *keys);
        if (to != pass_for::bypass) {
            ctx.bot.admitted_visitor = bot_detect::visitor_key(text);  // fast_form measures from now
        }
        if (to == pass_for::ticket_holder) {
            if (const auto raw = cookie_value(ctx.request, room.ticket_cookie)) {
                ctx.bot.admitted_ticket = bot_detect::visitor_key(*raw);
            }
        }
        ctx.response_headers.emplace_back(
            "Set-Cookie", set_cookie_header(room.pass_cookie, text, (p.expires_at - now) / 1000, secure(ctx)));
        if (to == pass_for::ticket_holder) {
            ctx.response_headers.emplace_back("Set-Cookie", set_cookie_header(room.ticket_cookie, "", 0, secure(ctx)));
        }
        ctx.room_id = room.cfg->id;
        ctx.pass_id = p.pass_id;
    }

    // Invitation code (?anteroom_invite=) or agent header: a pass at once.
    std::optional<verdict> bypass(request_ctx& ctx, const room_entry& room, unix_ms now) const {
        bool entitled = false;
        if (!agent_token.empty()) {
            const std::string_view presented = ctx.request[cfg->admission.agent_header];
            entitled = presented.size() == agent_token.size() &&
                       crypto::equal_ct({reinterpret_cast<const std::uint8_t*>(presented.data()), presented.size()},
                                        {reinterpret_cast<const std::uint8_t*>(agent_token.data()), agent_token.size()});
        }
        if (!entitled) {
            const auto code = query_param(ctx.request.target(), "anteroom_invite");
            if (!code) {
                return std::nullopt;
            }
            const verify_context vc{.room = room.cfg->id,
                                    .binding = binding_policy{.ip_prefix = false, .user_agent = false},
                                    .client = ctx.client,
                                    .user_agent = {},
                                    .now = now};
            auto d = decode_invitation(*code, *keys, vc);
            if (auto* r = std::get_if<reject_reason>(&d)) {
                count_reject(room, token_type::invitation, *r);
                return std::nullopt;
            }
        }
        const auto granted = svc->store->admit_bypass(room.cfg->id, binding_of(ctx), now).granted;
        if (!granted) {
            room.metrics->bypass_refused->inc();
            respond(ctx, http::status::service_unavailable, "text/plain; charset=utf-8",
                    "All places are taken right now; please try again in a minute.\n");
            ctx.response->set(http::field::retry_after, "30");
            ctx.log_tag = "admission:bypass_full";
            return verdict::respond;
        }
        room.metrics->bypass->inc();
        give_pass(ctx, room, *granted, now, pass_for::bypass);
        ctx.log_tag = "admission:bypass";
        return verdict::next;
    }

    verdict in_room(request_ctx& ctx, const room_entry& room) const {
        const auto settings = svc->store->settings(room.cfg->id);
        if (!settings || settings->mode == room_mode::passthrough) {
            return verdict::next;
        }
        const unix_ms now = now_ms();
        if (settings->mode == room_mode::reject) {
            return closed(ctx, room, now);
        }
        if (ctx.bot.infinite_queue) {
            waiting(ctx, room, endless_line(ctx, now), now);
            ctx.log_tag = "bot:infinite_queue";
            return verdict::respond;
        }
        if (auto p = active_pass(ctx, room, now)) {
            ctx.room_id = room.cfg->id;
            ctx.pass_id = p->pass_id;
            return verdict::next;
        }
        if (auto v = bypass(ctx, room, now)) {
            return *v;
        }
        bool fresh = false;
        auto t = decode_cookie<ticket>(ctx, room, token_type::ticket, room.ticket_cookie, now);
        wait_info info;
        if (t) {
            info = svc->store->poll(room.cfg->id, *t, now);
            if (info.revoked) {
                count_reject(room, token_type::ticket, reject_reason::revoked);
                t.reset();
            }
        }
        if (!t && ctx.bot.gate != nullptr) {
            // Deprioritised by bot detection: no place in line before the penalty has passed.
            if (const auto hold = ctx.bot.gate->hold(ctx, now)) {
                wait_info held;
                held.state = room_state::queued;
                held.updated_at = now;
                held.refresh_after_seconds = std::clamp(*hold, 5u, 60u);
                waiting(ctx, room, held, now);
                ctx.log_tag = "admission:held";
                return verdict::respond;
            }
        }
        if (!t) {
            t = svc->store->issue_ticket(room.cfg->id, binding_of(ctx), now);
            if (!t) {
                return closed(ctx, room, now);
            }
            fresh = true;
            room.metrics->tickets->inc();
            info = svc->store->poll(room.cfg->id, *t, now);
        }
        if (info.state == room_state::closed) {
            return closed(ctx, room, now);
        }
        if (info.state == room_state::admitted && info.admitted_pass) {
            count_admission(room, *info.admitted_pass, *t, now);
            give_pass(ctx, room, *info.admitted_pass, now,
                      fresh ? pass_for::new_ticket_holder : pass_for::ticket_holder);
            ctx.log_tag = "admission:admitted";
            return verdict::next;
        }
        if (fresh) {
            std::string text = encode(*t, *keys);
            ctx.bot.ticket_issued = true;
            ctx.bot.issued_visitor = bot_detect::visitor_key(text);
            ctx.response_headers.emplace_back(
                "Set-Cookie",
                set_cookie_header(room.ticket_cookie, text, room.cfg->ticket_max_age.count() / 1000, secure(ctx)));
        }
        waiting(ctx, room, info, now);
        return verdict::respond;
    }

    verdict closed(request_ctx& ctx, const room_entry& room, unix_ms now) const {
        if (wants_json(ctx)) {
            wait_info info;
            info.state = room_state::closed;
            info.updated_at = now;
            respond(ctx, http::status::service_unavailable, "application/json",
                    status_json(room.cfg->id, info, std::nullopt));
        } else {
            respond(ctx, http::status::service_unavailable, "text/html; charset=utf-8",
                    closed_page(*room.cfg, pick_language(ctx.request[http::field::accept_language]), now));
        }
        ctx.response->set(http::field::retry_after, "60");
        ctx.log_tag = "admission:closed";
        return verdict::respond;
    }

    // What a high-confidence bot sees (bot_detect infinite_queue): a place far back that never
    // comes closer, with no ticket behind it. Stable per client, so reloads look consistent.
    static wait_info endless_line(const request_ctx& ctx, unix_ms now) {
        wait_info info;
        info.state = room_state::queued;
        std::uint64_t h = 0;
        for (auto b : ctx.client.bytes) {
            h = h * 131 + b;
        }
        info.position = 4000 + h % 9000;
        info.ahead = info.position - 1;
        info.refresh_after_seconds = 30;
        info.updated_at = now;
        return info;
    }

    void waiting(request_ctx& ctx, const room_entry& room, const wait_info& info, unix_ms now) const {
        ctx.bot.refresh_told_s = info.refresh_after_seconds;
        const auto status = static_cast<http::status>(room.cfg->queued_status_code);
        if (wants_json(ctx)) {
            respond(ctx, status, "application/json", status_json(room.cfg->id, info, std::nullopt));
        } else {
            const std::string_view self = ctx.request.target();
            const std::string status_url =
                "/_anteroom/status?room=" + room.cfg->id + "&return=" + url_encode_component(self);
            const page_context pc{room.cfg, &info, pick_language(ctx.request[http::field::accept_language]), self,
                                  status_url, now};
            respond(ctx, status, "text/html; charset=utf-8", room.page->render(pc));
        }
        if (status == http::status::too_many_requests) {
            ctx.response->set(http::field::retry_after, std::to_string(info.refresh_after_seconds));
        }
        ctx.log_tag = log_tag_for(info.state);
    }

    // /_anteroom/status and /_anteroom/fairness.
    verdict endpoint(request_ctx& ctx) const {
        ctx.log_tag = "admission:endpoint";
        const auto method = ctx.request.method();
        if (method != http::verb::get && method != http::verb::head) {
            respond_json(ctx, http::status::method_not_allowed, {{"error", "use GET"}});
            ctx.response->set(http::field::allow, "GET, HEAD");
            return verdict::respond;
        }
        const std::string_view what = ctx.path.substr(endpoint_prefix.size());
        if (what != "status" && what != "fairness") {
            respond_json(ctx, http::status::not_found, {{"error", "no such endpoint"}});
            return verdict::respond;
        }
        const auto id = query_param(ctx.request.target(), "room");
        const room_entry* room = id ? find_room(*id) : nullptr;
        if (room == nullptr) {
            respond_json(ctx, http::status::not_found, {{"error", "no such room"}});
            return verdict::respond;
        }
        const unix_ms now = now_ms();
        return what == "status" ? status(ctx, *room, now) : fairness(ctx, *room, now);
    }

    verdict status(request_ctx& ctx, const room_entry& room, unix_ms now) const {
        std::string go_to = room.landing;
        if (auto ret = query_param(ctx.request.target(), "return")) {
            if (auto safe = safe_return_path(*ret, *room.cfg)) {
                go_to = std::move(*safe);
            }
        }
        const auto settings = svc->store->settings(room.cfg->id);
        wait_info info;
        info.updated_at = now;
        if (ctx.bot.infinite_queue) {
            info = endless_line(ctx, now);
        } else if (!settings || settings->mode == room_mode::passthrough) {
            info.state = room_state::admitted;
        } else if (settings->mode == room_mode::reject) {
            info.state = room_state::closed;
        } else if (active_pass(ctx, room, now)) {
            info.state = room_state::admitted;
        } else if (auto t = decode_cookie<ticket>(ctx, room, token_type::ticket, room.ticket_cookie, now)) {
            info = svc->store->poll(room.cfg->id, *t, now);
            if (info.revoked) {
                count_reject(room, token_type::ticket, reject_reason::revoked);
                respond_json(ctx, http::status::not_found,
                             {{"error", "this place in line has lapsed: open the room's page to get a new one"}});
                return verdict::respond;
            }
            if (info.state == room_state::admitted && info.admitted_pass) {
                count_admission(room, *info.admitted_pass, *t, now);
                give_pass(ctx, room, *info.admitted_pass, now, pass_for::ticket_holder);
            }
        } else {
            respond_json(ctx, http::status::not_found,
                         {{"error", "no valid ticket: open the room's page to get a place in line"}});
            return verdict::respond;
        }
        const bool admitted = info.state == room_state::admitted;
        ctx.bot.refresh_told_s = info.refresh_after_seconds;
        respond(ctx, http::status::ok, "application/json",
                status_json(room.cfg->id, info, admitted ? std::optional<std::string_view>(go_to) : std::nullopt));
        ctx.log_tag = admitted ? "admission:status_admitted" : "admission:status";
        return verdict::respond;
    }

    verdict fairness(request_ctx& ctx, const room_entry& room, unix_ms now) const {
        const auto f = svc->store->fairness(room.cfg->id, now);
        if (!f || !f->has_event) {
            respond_json(ctx, http::status::not_found, {{"error", "this room has no pre-queue event"}});
            return verdict::respond;
        }
        nlohmann::json j{{"room", room.cfg->id},
                         {"commitment_sha256", f->commitment_hex},
                         {"seed", f->seed_hex ? nlohmann::json(*f->seed_hex) : nlohmann::json(nullptr)},
                         {"prequeue_count", f->prequeue_count},
                         {"starts_at", f->starts_at ? nlohmann::json(format_rfc3339(*f->starts_at)) : nlohmann::json(nullptr)},
                         {"algorithm", "position of pre-queue ticket s (1-based) = rank of HMAC-SHA256(key=seed, "
                                       "message=s as 8-byte big-endian) among s = 1..prequeue_count, ascending "
                                       "bytewise; ties by s"}};
        if (auto t = decode_cookie<ticket>(ctx, room, token_type::ticket, room.ticket_cookie, now)) {
            j["your_sequence"] = t->seq;
            j["your_ticket_prequeue"] = (t->flags & ticket_flag_prequeue) != 0;
        }
        respond_json(ctx, http::status::ok, j);
        return verdict::respond;
    }
};

// What [state] the store was opened with (a reload cannot switch stores).
std::string describe_state(const state_config& s) {
    if (s.backend == state_backend::embedded) {
        return "embedded";
    }
    return "redis " + s.address + " " + s.password_file + " " + s.key_prefix + " " + s.node_name + " " +
           std::to_string(s.connect_timeout.count()) + " " + std::to_string(s.command_timeout.count()) + " " +
           std::to_string(s.lease_ttl.count());
}

std::string key_file_path(const config& c) {
    return c.admission.key_file.empty() ? (std::filesystem::path(c.state_dir) / "keys.toml").string()
                                        : c.admission.key_file;
}

}  // namespace

admission_service::admission_service(metrics_registry& metrics) : impl_(std::make_shared<impl>(metrics)) {}

admission_service::~admission_service() {
    impl_->stopping.store(true);
}

bool admission_service::open(const std::shared_ptr<const config>& cfg, std::string& err) {
    auto& d = *impl_;
    std::error_code ec;
    std::filesystem::create_directories(cfg->state_dir, ec);
    if (ec) {
        err = "state_dir " + cfg->state_dir + ": " + ec.message();
        return false;
    }
    d.state_dir = cfg->state_dir;
    d.state_desc = describe_state(cfg->state);
    if (cfg->state.backend == state_backend::redis) {
        redis::shared_store_options o;
        o.connection.address = cfg->state.address;
        o.connection.connect_timeout = cfg->state.connect_timeout;
        o.connection.command_timeout = cfg->state.command_timeout;
        if (!cfg->state.password_file.empty()) {
            auto password = read_token_file(cfg->state.password_file, "Redis password", err);
            if (!password) {
                return false;
            }
            o.connection.password = std::move(*password);
        }
        o.prefix = cfg->state.key_prefix;
        o.node_id = cfg->state.node_name;
        o.lease_ttl = cfg->state.lease_ttl;
        o.stale_after = std::max<std::chrono::milliseconds>(std::chrono::milliseconds(1000), 2 * cfg->state.command_timeout);
        o.fail_local = cfg->state.fail_mode == state_fail_mode::local;
        const bool fail_local = o.fail_local;
        d.store = redis::make_shared_store(std::move(o));
        ANTEROOM_LOG(log_level::info, "admission",
                     "room state is shared through Redis at " + cfg->state.address + " (fail mode " +
                         (fail_local ? "local" : "closed") + ")");
        return true;
    }
    std::string store_err;
    d.store = make_embedded_store(cfg->state_dir, store_err);
    if (!d.store) {
        err = "admission state: " + store_err;
        return false;
    }
    if (!store_err.empty()) {
        ANTEROOM_LOG(log_level::error, "admission", store_err);
    }
    return true;
}

std::shared_ptr<const key_ring> admission_service::load_keys(const config& c, std::string& err) {
    const std::string key_path = key_file_path(c);
    if (c.admission.key_file.empty() && !std::filesystem::exists(key_path)) {
        std::error_code ec;
        std::filesystem::create_directories(c.state_dir, ec);
        if (!write_new_keyfile(key_path, false, err)) {
            err = "admission keys: " + err;
            return nullptr;
        }
        ANTEROOM_LOG(log_level::info, "admission",
                     "created " + key_path + " (ticket and pass signing keys); several nodes must share one key file");
    }
    std::string warning;
    auto keys = load_keyfile(key_path, err, &warning);
    if (keys && !warning.empty()) {
        ANTEROOM_LOG(log_level::warn, "admission", warning);
    }
    return keys;
}

std::shared_ptr<const request_filter> admission_service::prepare(const std::shared_ptr<const config>& cfg,
                                                                 std::string& err) {
    auto& d = *impl_;
    if (cfg->rooms.empty()) {
        return nullptr;
    }
    auto f = std::make_shared<admission_filter>();
    f->svc = impl_;
    f->cfg = cfg;
    const config& c = *cfg;
    if (c.state_dir != d.state_dir) {
        ANTEROOM_LOG(log_level::warn, "config", "state_dir changes take effect at the next start");
    }
    if (describe_state(c.state) != d.state_desc) {
        ANTEROOM_LOG(log_level::warn, "config", "[state] changes take effect at the next start");
    }
    f->keys = load_keys(c, err);
    if (!f->keys) {
        return nullptr;
    }
    if (!c.admission.agent_token_file.empty()) {
        auto token = read_token_file(c.admission.agent_token_file, "agent token", err);
        if (!token) {
            return nullptr;
        }
        f->agent_token = std::move(*token);
    }
    f->policy = binding_policy{c.admission.bind_ip, c.admission.bind_v4_prefix, c.admission.bind_v6_prefix,
                               c.admission.bind_user_agent};
    f->matcher = room_matcher(c.rooms);
    for (const auto& r : c.rooms) {
        room_entry e;
        e.cfg = &r;
        if (r.waiting_template.empty()) {
            e.page = page_template::builtin();
        } else {
            e.page = page_template::load(r.waiting_template, err);
            if (!e.page) {
                return nullptr;
            }
        }
        e.metrics = &d.metrics_for(r.id);
        e.ticket_cookie = "anteroom_ticket_" + r.id;
        e.pass_cookie = "anteroom_pass_" + r.id;
        e.landing = !r.landing_path.empty() ? r.landing_path : (r.paths.empty() ? "/" : r.paths.front());
        f->rooms.push_back(std::move(e));
    }
    return f;
}

void admission_service::commit(const std::shared_ptr<const config>& cfg) {
    auto& d = *impl_;
    d.store->configure(cfg->rooms, now_ms());
    std::lock_guard lock(d.mu);
    d.cfg = cfg;
}

void admission_service::set_builtin_address(std::optional<listen_address> a) { impl_->builtin = std::move(a); }

void admission_service::start(net::io_context& control) {
    impl_->last_snapshot = now_ms();
    net::co_spawn(control, impl_->tick_loop(), net::detached);
}

void admission_service::stop() {
    if (impl_->stopping.exchange(true)) {
        return;
    }
    impl_->do_snapshot(true);
}

queue_store& admission_service::store() {
    return *impl_->store;
}

std::string admission_service::render_metrics() const {
    auto& d = *impl_;
    const auto figs = d.store->figures(now_ms());
    std::string out;
    const auto family = [&](std::string_view name, std::string_view type, std::string_view help, auto value) {
        out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name).append(" ")
            .append(type).append("\n");
        for (const auto& f : figs) {
            out.append(name).append("{room=\"").append(label_value(f.id)).append("\"} ").append(value(f)).append("\n");
        }
    };
    const auto num = [](auto v) { return std::to_string(v); };
    family("anteroom_room_waiting", "gauge", "Visitors waiting in line (places not yet reached)",
           [&](const room_figures& f) { return num(f.waiting); });
    family("anteroom_room_active", "gauge", "Active passes plus admitted places not yet claimed",
           [&](const room_figures& f) { return num(f.active); });
    family("anteroom_room_admitted_total", "counter", "Visitors admitted (queue and bypass)",
           [&](const room_figures& f) { return num(f.admitted_total); });
    family("anteroom_room_eta_kept_total", "counter",
           "Visitors admitted no later than the latest admission time (ETA high bound) they were shown",
           [&](const room_figures& f) { return num(f.eta_kept_total); });
    family("anteroom_room_eta_missed_total", "counter", "Visitors admitted after the ETA high bound they were shown",
           [&](const room_figures& f) { return num(f.eta_missed_total); });
    family("anteroom_room_skipped_total", "counter", "Places skipped because their visitor left",
           [&](const room_figures& f) { return num(f.skipped_total); });
    family("anteroom_room_admissions_returned_total", "counter",
           "Admissions given back to the rate: bot detection refused the visitor before it claimed its place",
           [&](const room_figures& f) { return num(f.returned_total); });
    family("anteroom_room_outflow_per_minute", "gauge", "Measured admissions per minute",
           [&](const room_figures& f) {
               char buf[32];
               std::snprintf(buf, sizeof buf, "%.3f", f.outflow_per_minute);
               return std::string(buf);
           });
    family("anteroom_room_new_users_per_minute", "gauge", "Configured admission rate (live setting)",
           [&](const room_figures& f) { return num(f.settings.new_users_per_minute); });
    family("anteroom_room_max_active_users", "gauge", "Configured active-user cap (live setting)",
           [&](const room_figures& f) { return num(f.settings.max_active_users); });
    family("anteroom_room_sold_out", "gauge", "1 when the room's capacity endpoint reports no appointments left",
           [&](const room_figures& f) { return std::string(f.sold_out ? "1" : "0"); });
    family("anteroom_room_available", "gauge", "Appointments left per the capacity endpoint (-1 = unknown)",
           [&](const room_figures& f) { return num(f.available.value_or(-1)); });
    if (const auto h = d.store->health(); h.shared) {
        const auto one = [&](std::string_view name, std::string_view type, std::string_view help, const std::string& v) {
            out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name).append(" ");
            out.append(type).append("\n").append(name).append(" ").append(v).append("\n");
        };
        one("anteroom_state_redis_connected", "gauge", "1 when the last sync with Redis was good and recent",
            h.connected ? "1" : "0");
        one("anteroom_state_rooms_led", "gauge", "Rooms whose queue this node advances (holds the lease of)",
            num(h.rooms_led));
        one("anteroom_state_sync_failures_total", "counter", "Syncs with Redis that failed", num(h.sync_failures));
        one("anteroom_state_tickets_refused_total", "counter",
            "New visitors asked to come back (Redis away, no numbers yet)", num(h.tickets_refused));
        one("anteroom_state_nodes", "gauge",
            "Nodes serving this node's rooms at its last view of Redis (the most of any room)", num(h.nodes));
        one("anteroom_state_rooms_alone", "gauge", "Rooms this node runs alone while Redis is away (fail mode local)",
            num(h.rooms_alone));
        one("anteroom_state_admitted_alone_total", "counter", "Visitors this node admitted alone while Redis was away",
            num(h.admitted_alone));
    }
    out.append("# HELP anteroom_room_passes_ended_total Passes ended, by reason\n"
               "# TYPE anteroom_room_passes_ended_total counter\n");
    for (const auto& f : figs) {
        const std::string room = "room=\"" + label_value(f.id) + "\"";
        out += "anteroom_room_passes_ended_total{" + room + ",reason=\"idle\"} " + num(f.ended_idle) + "\n";
        out += "anteroom_room_passes_ended_total{" + room + ",reason=\"max_duration\"} " + num(f.ended_max) + "\n";
        out += "anteroom_room_passes_ended_total{" + room + ",reason=\"session_end\"} " + num(f.ended_session_end) + "\n";
    }
    out.append("# HELP anteroom_room_wait_seconds Time from ticket to pass\n"
               "# TYPE anteroom_room_wait_seconds histogram\n");
    std::lock_guard lock(d.mu);
    for (const auto& [id, m] : d.room_stats) {
        const std::string room = "room=\"" + label_value(id) + "\"";
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < wait_histogram::bounds_s.size(); ++i) {
            cumulative += m->wait.buckets[i].load(std::memory_order_relaxed);
            out += "anteroom_room_wait_seconds_bucket{" + room + ",le=\"" + num(wait_histogram::bounds_s[i]) + "\"} " +
                   num(cumulative) + "\n";
        }
        cumulative += m->wait.buckets.back().load(std::memory_order_relaxed);
        out += "anteroom_room_wait_seconds_bucket{" + room + ",le=\"+Inf\"} " + num(cumulative) + "\n";
        char sum[32];
        std::snprintf(sum, sizeof sum, "%.3f", static_cast<double>(m->wait.sum_ms.load()) / 1000.0);
        out += "anteroom_room_wait_seconds_sum{" + room + "} " + sum + "\n";
        out += "anteroom_room_wait_seconds_count{" + room + "} " + num(cumulative) + "\n";
    }
    return out;
}

nlohmann::json admission_service::rooms_json() const {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& f : impl_->store->figures(now_ms())) {
        out.push_back({{"id", f.id},
                       {"mode", to_string(f.settings.mode)},
                       {"new_users_per_minute", f.settings.new_users_per_minute},
                       {"max_active_users", f.settings.max_active_users},
                       {"state", to_string(f.state)},
                       {"issued", f.issued},
                       {"waiting", f.waiting},
                       {"active", f.active},
                       {"admitted_total", f.admitted_total},
                       {"bypass_total", f.bypass_total},
                       {"skipped_total", f.skipped_total},
                       {"returned_total", f.returned_total},
                       {"eta_kept_total", f.eta_kept_total},
                       {"eta_missed_total", f.eta_missed_total},
                       {"passes_ended", {{"idle", f.ended_idle}, {"max_duration", f.ended_max},
                                         {"session_end", f.ended_session_end}}},
                       {"outflow_per_minute", f.outflow_per_minute},
                       {"available", f.available ? nlohmann::json(*f.available) : nlohmann::json(nullptr)},
                       {"sold_out", f.sold_out}});
    }
    return out;
}

bool admission_service::update_room(std::string_view id, const nlohmann::json& patch, std::string& err,
                                    bool& not_found) {
    not_found = false;
    if (!patch.is_object()) {
        err = "body must be a JSON object";
        return false;
    }
    settings_patch p;
    for (const auto& [key, value] : patch.items()) {
        if (key == "mode") {
            const auto m = value.is_string() ? parse_room_mode(value.get<std::string>()) : std::nullopt;
            if (!m) {
                err = "mode must be one of fifo, random, passthrough, reject, paused";
                return false;
            }
            if (*m == room_mode::random && impl_->store->health().shared) {
                err = "mode random is not available with [state] backend = \"redis\"";
                return false;
            }
            p.mode = *m;
        } else if (key == "resume" && value == true) {
            // Back to the configured mode (fifo when the config itself says paused).
            std::lock_guard lock(impl_->mu);
            p.mode = room_mode::fifo;
            for (const auto& r : impl_->cfg->rooms) {
                if (r.id == id && r.mode != room_mode::paused) {
                    p.mode = r.mode;
                }
            }
        } else if (key == "new_users_per_minute" || key == "max_active_users") {
            const std::uint64_t max = key == "new_users_per_minute" ? 1'000'000 : 10'000'000;
            if (!value.is_number_unsigned() || value.get<std::uint64_t>() < 1 || value.get<std::uint64_t>() > max) {
                err = key + " must be an integer in 1.." + std::to_string(max);
                return false;
            }
            (key == "new_users_per_minute" ? p.new_users_per_minute : p.max_active_users) =
                static_cast<std::uint32_t>(value.get<std::uint64_t>());
        } else {
            err = "unknown setting \"" + key + "\" (mode, new_users_per_minute, max_active_users)";
            return false;
        }
    }
    if (!impl_->store->update_settings(id, p, now_ms())) {
        not_found = true;
        err = "no such room";
        return false;
    }
    ANTEROOM_LOG(log_level::info, "admin", "room " + std::string(id) + " settings changed: " + patch.dump());
    return true;
}

}  // namespace anteroom::proxy
