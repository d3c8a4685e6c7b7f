#include "proxy/server.hpp"

#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/endpoint.hpp"
#include "common/keyfile.hpp"
#include "common/metrics.hpp"
#include "proxy/admin.hpp"
#include "proxy/admission.hpp"
#include "proxy/bot_filter.hpp"
#include "booking/service.hpp"
#include "proxy/builtin_upstream.hpp"
#include "proxy/session.hpp"
#include "proxy/tls.hpp"
#include "common/simple_server.hpp"
#include "proxy/worker.hpp"

namespace anteroom::proxy {

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable_t<io_executor>{});

bool open_acceptor(tcp_acceptor& a, const tcp::endpoint& ep, bool reuse_port, std::string& err) {
    beast::error_code ec;
    a.open(ep.protocol(), ec);
    if (!ec) {
        a.set_option(net::socket_base::reuse_address(true), ec);
    }
    if (!ec && reuse_port) {
        const int one = 1;
        if (::setsockopt(a.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
            ec.assign(errno, boost::system::system_category());
        }
    }
    if (!ec) {
        a.bind(ep, ec);
    }
    if (!ec) {
        a.listen(net::socket_base::max_listen_connections, ec);
    }
    if (!ec) {
        enable_input_hint(a.native_handle());  // inherited by every accepted connection
    }
    if (ec) {
        err = ep.address().to_string() + ":" + std::to_string(ep.port()) + ": " + ec.message();
        return false;
    }
    return true;
}

}  // namespace

struct server::impl {
    struct listener {
        listener_config configured;
        tcp::endpoint bound;
        // One acceptor per worker with SO_REUSEPORT, or one (on worker 0) that distributes.
        std::vector<std::pair<worker*, std::shared_ptr<tcp_acceptor>>> acceptors;
    };

    explicit impl(server_options o) : opts(std::move(o)) {}

    server_options opts;
    metrics_registry& metrics = metrics_registry::global();
    shared_state shared;
    access_log access;
    server_state_registry states;
    std::vector<std::unique_ptr<worker>> workers;
    net::io_context control{1};
    std::thread control_thread;
    std::unique_ptr<net::signal_set> signals;  // on `control`; destroyed before it
    std::unique_ptr<simple_server> admin;
    std::shared_ptr<admin_console> console;  // its sampling timer lives on `control`
    std::unique_ptr<simple_server> builtin;
    std::unique_ptr<booking::service> booking;  // the "builtin" upstream when [booking] embedded
    std::unique_ptr<admission_service> admission;
    std::unique_ptr<bot_service> bots;
    std::optional<listen_address> builtin_address;
    std::shared_ptr<const token_list> admin_tokens;
    std::shared_ptr<ticket_keys> tickets = std::make_shared<ticket_keys>();  // outlive reloads

    mutable std::mutex mu;  // guards cfg, rt, listeners, stopped
    std::shared_ptr<const config> cfg;
    std::shared_ptr<const runtime> rt;
    std::vector<listener> listeners;
    std::atomic<std::uint64_t> distribute_rr{0};
    bool stopped = false;
    std::condition_variable stopped_cv;
    counter* reload_ok = nullptr;
    counter* reload_failed = nullptr;

    task<void> accept_loop(worker& w, std::shared_ptr<tcp_acceptor> acc, bool distribute,
                                     listener_kind kind) {
        for (;;) {
            auto [ec, sock] = co_await acc->async_accept(use_tuple);
            if (!acc->is_open() || ec == net::error::operation_aborted) {
                co_return;
            }
            if (ec) {
                // EMFILE and friends: back off briefly instead of spinning on the error.
                ANTEROOM_LOG(log_level::warn, "listener", "accept failed: " + ec.message());
                io_timer t(w.ioc(), std::chrono::milliseconds(10));
                co_await t.async_wait(use_tuple);
                continue;
            }
            const std::uint32_t max = current_max_connections();
            if (shared.connections.load(std::memory_order_relaxed) >= max ||
                shared.draining.load(std::memory_order_relaxed)) {
                shared.refused->inc();
                beast::error_code cec;
                sock.close(cec);
                continue;
            }
            shared.accepted->inc();
            if (distribute && workers.size() > 1) {
                worker& target = *workers[distribute_rr.fetch_add(1, std::memory_order_relaxed) % workers.size()];
                if (&target != &w) {
                    beast::error_code rec;
                    const auto protocol = sock.local_endpoint(rec).protocol();
                    const int fd = sock.release(rec);
                    net::post(target.ioc(), [this, &target, protocol, fd, kind] {
                        beast::error_code aec;
                        tcp_socket s(target.ioc());
                        s.assign(protocol, fd, aec);
                        start_session(target, std::move(s), kind);
                    });
                    continue;
                }
            }
            start_session(w, std::move(sock), kind);
        }
    }

    void start_session(worker& w, tcp_socket sock, listener_kind kind) {
        beast::error_code ec;
        const auto ep = sock.remote_endpoint(ec);
        if (ec) {
            return;
        }
        sock.set_option(tcp::no_delay(true), ec);
        session::start(w, std::move(sock), to_ip(ep.address()), kind);
    }

    // Bot detection first (it may answer or mark the request), then admission (it decides
    // whether a request goes anywhere), bot detection's tail, then filters from options.
    filter_chain filters_for(const config& c, std::shared_ptr<const request_filter> admission_filter,
                             bot_service::filters bot = {}) {
        filter_chain out;
        if (bot.head) {
            out.push_back(std::move(bot.head));
        }
        if (admission_filter) {
            out.push_back(std::move(admission_filter));
        }
        if (bot.tail) {
            out.push_back(std::move(bot.tail));
        }
        if (opts.make_filters) {
            for (auto& f : opts.make_filters(c)) {
                out.push_back(std::move(f));
            }
        }
        return out;
    }

    // Bot detection signs its challenges with the waiting room's key ring. Errors leave `err` set.
    bot_service::filters prepare_bots(const std::shared_ptr<const config>& next, std::string& err) {
        if (!next->bot_detect.enabled) {
            return bots->prepare(next, nullptr);
        }
        auto keys = admission_service::load_keys(*next, err);
        if (!keys) {
            err = "bot_detect: " + err;
            return {};
        }
        return bots->prepare(next, std::move(keys));
    }

    std::uint32_t current_max_connections() {
        // Read per accept; the config pointer is swapped under mu on reload.
        std::lock_guard lock(mu);
        return cfg->server.max_connections;
    }

    bool open_listener(const listener_config& addr, listener& out, std::string& err) {
        out.configured = addr;
        tcp::endpoint ep = to_endpoint(addr.address);
        const bool reuse_port = cfg->server.reuse_port;
        const std::size_t count = reuse_port ? workers.size() : 1;
        for (std::size_t i = 0; i < count; ++i) {
            auto acc = std::make_shared<tcp_acceptor>(workers[i]->ioc());
            if (!open_acceptor(*acc, ep, reuse_port, err)) {
                close_listener(out);
                return false;
            }
            if (i == 0) {
                out.bound = acc->local_endpoint();
                ep = out.bound;  // port 0: the other workers join the port the kernel chose
            }
            out.acceptors.emplace_back(workers[i].get(), acc);
        }
        for (auto& [w, acc] : out.acceptors) {
            net::co_spawn(w->ioc(), accept_loop(*w, acc, !reuse_port, addr.kind), net::detached);
        }
        return true;
    }

    // Each acceptor is closed on its own worker thread. With `announce`, "stopped listening" is
    // logged once the last one is closed, so the line means the port really refuses now.
    void close_listener(listener& l, bool announce = false) {
        auto remaining = std::make_shared<std::atomic<std::size_t>>(l.acceptors.size());
        const std::string text = listen_url(l);
        for (auto& [w, acc] : l.acceptors) {
            // An init-capture: clang 14 (the fuzz build) cannot capture a structured binding.
            net::post(w->ioc(), [acc = acc, remaining, text, announce] {
                beast::error_code ec;
                acc->close(ec);
                if (remaining->fetch_sub(1) == 1 && announce) {
                    ANTEROOM_LOG(log_level::info, "server", "stopped listening on " + text);
                }
            });
        }
        l.acceptors.clear();
    }

    static std::string listen_url(const listener& l) {
        const auto text = to_listen_address(l.bound).text();
        switch (l.configured.kind) {
        case listener_kind::tls:
            return "https://" + text;
        case listener_kind::redirect:
            return "http://" + text + " (redirects to HTTPS)";
        case listener_kind::plain:
            break;
        }
        return "http://" + text;
    }

    // Redirect listeners send visitors to tls.redirect_port, else to the first TLS listener.
    void update_https_port(const config& c) {
        std::uint16_t port = c.tls.redirect_port;
        for (const auto& l : listeners) {
            if (port == 0 && l.configured.kind == listener_kind::tls) {
                port = l.bound.port();
            }
        }
        shared.https_port.store(port);
    }

    bool read_admin_tokens(const config& c, std::shared_ptr<const token_list>& tokens, std::string& err) {
        tokens.reset();
        if (c.admin.token_file.empty()) {
            return true;
        }
        auto t = read_named_tokens(c.admin.token_file, "admin token", err);
        if (t) {
            tokens = std::make_shared<const token_list>(std::move(*t));
        }
        return t.has_value();
    }

    void publish_runtime(std::shared_ptr<const runtime> r) {
        for (auto& w : workers) {
            net::post(w->ioc(), [wp = w.get(), r] { wp->set_runtime(r); });
        }
    }

    void finish_stop() {
        for (auto& w : workers) {
            w->stop();
        }
        if (booking) {
            booking->stop();  // after the workers: proxied requests in flight got their answers
        }
        if (admission) {
            admission->stop();  // final snapshot: every waiting place and pass survives the restart
        }
        if (console) {
            console->stop();
        }
        control.stop();
        std::lock_guard lock(mu);
        stopped = true;
        stopped_cv.notify_all();
    }

    // Polls the connection count during a drain; the process is going away, so a short poll
    // interval here costs nothing worth a notification mechanism.
    void drain_tick(std::shared_ptr<net::steady_timer> t, std::chrono::steady_clock::time_point hard_deadline,
                    bool forced) {
        if (shared.connections.load() == 0) {
            finish_stop();
            return;
        }
        const auto now = std::chrono::steady_clock::now();
        if (now >= hard_deadline && !forced) {
            ANTEROOM_LOG(log_level::warn, "server",
                         "drain time over, closing " + std::to_string(shared.connections.load()) + " connections");
            for (auto& w : workers) {
                net::post(w->ioc(), [wp = w.get()] { wp->close_all(); });
            }
            forced = true;
        }
        if (forced && now >= hard_deadline + std::chrono::seconds(2)) {
            finish_stop();
            return;
        }
        t->expires_after(std::chrono::milliseconds(20));
        t->async_wait([this, t, hard_deadline, forced](const beast::error_code& ec) {
            if (!ec) {
                drain_tick(t, hard_deadline, forced);
            }
        });
    }
};

server::server(server_options opts) : impl_(std::make_unique<impl>(std::move(opts))) {}

server::~server() {
    stop();
    wait();
}

bool server::start(std::string& err) {
    auto& d = *impl_;
    d.cfg = d.opts.cfg;
    const config& c = *d.cfg;
    error_log::set_level(c.log.level);
    if (!error_log::open(c.log.error_log)) {
        err = c.log.error_log + ": cannot open error log";
        return false;
    }
    if (!d.access.open(c.log.access_log)) {
        err = c.log.access_log + ": cannot open access log";
        return false;
    }
    if (!d.read_admin_tokens(c, d.admin_tokens, err)) {
        return false;
    }
    auto& m = d.metrics;
    d.shared.access = &d.access;
    d.shared.open_connections = &m.get_gauge("anteroom_connections_open", "Client connections open now");
    d.shared.parked_connections = &m.get_gauge("anteroom_connections_parked",
                                               "Idle keep-alive connections parked (no buffer, no coroutine)");
    d.shared.accepted = &m.get_counter("anteroom_connections_accepted_total", "Client connections accepted");
    d.shared.refused = &m.get_counter("anteroom_connections_refused_total",
                                      "Client connections refused (max_connections or draining)");
    d.shared.timeouts = &m.get_counter("anteroom_timeouts_total", "Client connections timed out mid-request");
    d.shared.bad_requests = &m.get_counter("anteroom_bad_requests_total", "Requests rejected as malformed");
    d.shared.pool_idle = &m.get_gauge("anteroom_upstream_pool_idle", "Idle upstream keep-alive connections");
    const char* tls_help = "TLS handshakes by outcome (plain_http: an HTTP request on a TLS port)";
    d.shared.tls_full = &m.get_counter("anteroom_tls_handshakes_total", tls_help, "result=\"full\"");
    d.shared.tls_resumed = &m.get_counter("anteroom_tls_handshakes_total", tls_help, "result=\"resumed\"");
    d.shared.tls_failed = &m.get_counter("anteroom_tls_handshakes_total", tls_help, "result=\"failed\"");
    d.shared.tls_plain_http = &m.get_counter("anteroom_tls_handshakes_total", tls_help, "result=\"plain_http\"");
    d.reload_ok = &m.get_counter("anteroom_config_reloads_total", "Config reloads", "result=\"ok\"");
    d.reload_failed = &m.get_counter("anteroom_config_reloads_total", "Config reloads", "result=\"error\"");

    unsigned threads = c.server.threads != 0 ? c.server.threads : std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < threads; ++i) {
        d.workers.push_back(std::make_unique<worker>(i, d.shared));
    }

    // The built-in upstream: the embedded booking backend (its own I/O thread and SQLite
    // workers), or else a placeholder page on the control thread.
    const bool needs_builtin =
        std::any_of(c.upstreams.begin(), c.upstreams.end(), [](const upstream_config& u) { return u.builtin; });
    if (needs_builtin && c.booking.embedded) {
        d.booking = booking::service::start({d.cfg, nullptr, &m}, err);
        if (!d.booking) {
            return false;
        }
        d.builtin_address = to_listen_address(d.booking->local_endpoint());
        ANTEROOM_LOG(log_level::info, "booking", "embedded booking backend on " + d.builtin_address->text());
    } else if (needs_builtin) {
        d.builtin = std::make_unique<simple_server>(d.control, builtin_upstream_handler());
        if (!d.builtin->listen(tcp::endpoint(net::ip::make_address("127.0.0.1"), 0), err)) {
            err = "built-in upstream: " + err;
            return false;
        }
        d.builtin_address = to_listen_address(d.builtin->local_endpoint());
    }

    d.admission = std::make_unique<admission_service>(m);
    if (!d.admission->open(d.cfg, err)) {
        return false;
    }
    auto admission_filter = d.admission->prepare(d.cfg, err);
    if (!admission_filter && !err.empty()) {
        return false;
    }
    d.bots = std::make_unique<bot_service>(m);
    auto bot_filters = d.prepare_bots(d.cfg, err);
    if (!err.empty()) {
        return false;
    }
    d.admission->commit(d.cfg);
    d.admission->set_builtin_address(d.builtin_address);
    d.rt = build_runtime(d.cfg, d.filters_for(c, std::move(admission_filter), std::move(bot_filters)), d.states, m,
                         d.builtin_address, d.tickets, err);
    if (!d.rt) {
        return false;
    }
    for (auto& w : d.workers) {
        w->set_runtime(d.rt);
    }
    for (const auto& addr : c.server.listen) {
        impl::listener l;
        if (!d.open_listener(addr, l, err)) {
            return false;
        }
        d.listeners.push_back(std::move(l));
    }
    d.update_https_port(c);
    if (c.admin.enabled) {
        admin_hooks hooks{
            [this] { return impl_->metrics.render() + impl_->admission->render_metrics(); },
            [this] {
                std::lock_guard lock(impl_->mu);
                return !impl_->shared.draining.load() && !impl_->listeners.empty();
            },
            [this] {
                std::lock_guard lock(impl_->mu);
                return impl_->admin_tokens;
            },
            [this](std::string& e) { return reload(e); },
            [this] {
                std::lock_guard lock(impl_->mu);
                return impl_->rt;
            },
            [this] { return impl_->admission->rooms_json(); },
            [this](std::string_view id, const nlohmann::json& patch, std::string& e, bool& not_found) {
                return impl_->admission->update_room(id, patch, e, not_found);
            },
            [this] { return impl_->bots->dry_run(); },
            [this](bool on) { impl_->bots->set_dry_run(on); },
        };
        d.console = std::make_shared<admin_console>(m);
        const std::string audit_path = c.state_dir + "/admin-audit.log";
        if (std::string aerr; !d.console->open_audit(audit_path, aerr)) {
            ANTEROOM_LOG(log_level::error, "admin", "audit log: " + aerr + "; control changes are kept in memory only");
        }
        d.console->start_sampling(d.control, [hooks] { return render_admin_metrics(hooks); });
        d.admin = std::make_unique<simple_server>(d.control, make_admin_handler(hooks, d.console));
        if (!d.admin->listen(to_endpoint(c.admin.listen), err)) {
            err = "admin listener " + c.admin.listen.text() + ": " + err;
            return false;
        }
    }
    if (d.opts.handle_signals) {
        d.signals = std::make_unique<net::signal_set>(d.control, SIGHUP, SIGTERM, SIGINT);
        arm_signals();
    }
    for (auto& w : d.workers) {
        w->start();
    }
    d.admission->start(d.control);
    d.control_thread = std::thread([&d] {
        auto guard = net::make_work_guard(d.control);
        d.control.run();
    });
    for (const auto& l : d.listeners) {
        ANTEROOM_LOG(log_level::info, "server",
                     "listening on " + impl::listen_url(l) + " with " + std::to_string(d.workers.size()) +
                         " worker threads");
    }
    if (d.admin) {
        ANTEROOM_LOG(log_level::info, "server",
                     "admin listening on http://" + to_listen_address(d.admin->local_endpoint()).text());
    }
    return true;
}

// Runs on the control thread. The handler re-arms through this member function rather than a
// self-referencing closure: a closure that owns itself is never freed (LeakSanitizer failed the
// exit of every drained process).
void server::arm_signals() {
    impl_->signals->async_wait([this](const beast::error_code& ec, int sig) {
        if (ec) {
            return;
        }
        if (sig == SIGHUP) {
            std::string e;
            if (reload(e) && impl_->console) {
                impl_->console->audit("-", "signal", "configuration reloaded (SIGHUP)");
            }
        } else if (!impl_->shared.draining.load()) {
            ANTEROOM_LOG(log_level::info, "server",
                         std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT") + " received, draining");
            drain();
        } else {
            // An operator who asks twice does not want to wait for the drain time.
            ANTEROOM_LOG(log_level::warn, "server", "second stop signal, stopping now");
            stop();
            return;
        }
        arm_signals();
    });
}

void server::wait() {
    auto& d = *impl_;
    {
        std::unique_lock lock(d.mu);
        d.stopped_cv.wait(lock, [&] { return d.stopped || d.workers.empty(); });
    }
    if (d.control_thread.joinable()) {
        d.control_thread.join();
    }
    for (auto& w : d.workers) {
        w->join();
    }
    d.access.close();
}

bool server::reload(std::string& err) {
    auto& d = *impl_;
    if (d.opts.config_path.empty()) {
        err = "no config file to reload from";
        return false;
    }
    if (d.shared.draining.load()) {
        // Shutting down: a new config (possibly with new listeners) would only be torn down again.
        err = "draining, reload ignored";
        ANTEROOM_LOG(log_level::warn, "config", err);
        return false;
    }
    auto result = load_config(d.opts.config_path);
    if (!result.errors.empty()) {
        // Counted before it is logged: whoever sees the log line finds the counter up to date.
        d.reload_failed->inc();
        err.clear();
        for (const auto& e : result.errors) {
            err += e.text() + "\n";
            ANTEROOM_LOG(log_level::error, "config", "reload rejected: " + e.text());
        }
        return false;
    }
    return apply(result.cfg, err);
}

bool server::apply(std::shared_ptr<const config> next, std::string& err) {
    auto& d = *impl_;
    std::lock_guard lock(d.mu);
    const config& c = *next;
    if (std::any_of(c.upstreams.begin(), c.upstreams.end(), [](const upstream_config& u) { return u.builtin; }) &&
        !d.builtin_address) {
        err = "the built-in upstream can only be enabled at start";
        d.reload_failed->inc();
        ANTEROOM_LOG(log_level::error, "config", "reload rejected: " + err);
        return false;
    }
    std::shared_ptr<const token_list> tokens;
    if (!d.read_admin_tokens(c, tokens, err)) {
        d.reload_failed->inc();
        ANTEROOM_LOG(log_level::error, "config", "reload rejected: " + err);
        return false;
    }
    auto admission_filter = d.admission->prepare(next, err);
    if (!admission_filter && !err.empty()) {
        d.reload_failed->inc();
        ANTEROOM_LOG(log_level::error, "config", "reload rejected: " + err);
        return false;
    }
    auto bot_filters = d.prepare_bots(next, err);
    if (!err.empty()) {
        d.reload_failed->inc();
        ANTEROOM_LOG(log_level::error, "config", "reload rejected: " + err);
        return false;
    }
    // The certificates are read again from their files: a renewed certificate takes effect
    // here; one that fails to load keeps the running ones.
    auto next_rt = build_runtime(next, d.filters_for(c, std::move(admission_filter), std::move(bot_filters)),
                                 d.states, d.metrics, d.builtin_address, d.tickets, err);
    if (!next_rt) {
        d.reload_failed->inc();
        ANTEROOM_LOG(log_level::error, "config", "reload rejected: " + err);
        return false;
    }
    // Listeners: keep the ones that stay (their sockets and connections are untouched), open
    // the new ones first so a failed bind leaves everything as it was.
    std::vector<impl::listener> kept;
    std::vector<impl::listener> opened;
    for (const auto& addr : c.server.listen) {
        auto it = std::find_if(d.listeners.begin(), d.listeners.end(),
                               [&](const impl::listener& l) { return l.configured == addr; });
        if (it != d.listeners.end()) {
            continue;
        }
        impl::listener l;
        if (!d.open_listener(addr, l, err)) {
            for (auto& o : opened) {
                d.close_listener(o);
            }
            d.reload_failed->inc();
            ANTEROOM_LOG(log_level::error, "config", "reload rejected: " + err);
            return false;
        }
        opened.push_back(std::move(l));
    }
    for (auto& l : d.listeners) {
        const bool stays = std::find(c.server.listen.begin(), c.server.listen.end(), l.configured) !=
                           c.server.listen.end();
        if (stays) {
            kept.push_back(std::move(l));
        } else {
            d.close_listener(l, true);
        }
    }
    for (auto& l : opened) {
        // Same wording as at start: with port 0 this line is the only way to learn the port.
        ANTEROOM_LOG(log_level::info, "server",
                     "listening on " + impl::listen_url(l) + " with " + std::to_string(d.workers.size()) +
                         " worker threads");
        kept.push_back(std::move(l));
    }
    d.listeners = std::move(kept);
    d.update_https_port(c);
    if (c.server.threads != d.cfg->server.threads) {
        ANTEROOM_LOG(log_level::warn, "config", "server.threads changes take effect at the next start");
    }
    if (!(c.admin.listen == d.cfg->admin.listen) || c.admin.enabled != d.cfg->admin.enabled) {
        ANTEROOM_LOG(log_level::warn, "config", "admin listener changes take effect at the next start");
    }
    if (c.log.access_log != d.cfg->log.access_log && !d.access.open(c.log.access_log)) {
        ANTEROOM_LOG(log_level::error, "config", c.log.access_log + ": cannot open access log; access log is off");
    }
    if (c.log.error_log != d.cfg->log.error_log && !error_log::open(c.log.error_log)) {
        ANTEROOM_LOG(log_level::error, "config", c.log.error_log + ": cannot open error log; keeping the old one");
    }
    error_log::set_level(c.log.level);
    d.admin_tokens = std::move(tokens);
    d.cfg = next;
    d.admission->commit(next);
    d.rt = std::move(next_rt);
    d.publish_runtime(d.rt);
    d.reload_ok->inc();
    ANTEROOM_LOG(log_level::info, "config", "reloaded " + (c.source_path.empty() ? std::string("config") : c.source_path));
    return true;
}

void server::drain() {
    auto& d = *impl_;
    net::post(d.control, [&d] {
        if (d.shared.draining.exchange(true)) {
            return;
        }
        std::chrono::milliseconds drain_time;
        {
            std::lock_guard lock(d.mu);
            for (auto& l : d.listeners) {
                d.close_listener(l);
            }
            drain_time = d.cfg->server.drain_timeout;
        }
        ANTEROOM_LOG(log_level::info, "server",
                     "draining: stopped accepting, " + std::to_string(d.shared.connections.load()) +
                         " connections open, waiting up to " + format_duration(drain_time));
        for (auto& w : d.workers) {
            net::post(w->ioc(), [wp = w.get()] { wp->begin_drain(); });
        }
        auto t = std::make_shared<net::steady_timer>(d.control);
        d.drain_tick(t, std::chrono::steady_clock::now() + drain_time, false);
    });
}

void server::stop() {
    auto& d = *impl_;
    {
        std::lock_guard lock(d.mu);
        if (d.stopped) {
            return;
        }
    }
    if (d.workers.empty()) {
        std::lock_guard lock(d.mu);
        d.stopped = true;
        d.stopped_cv.notify_all();
        return;
    }
    d.shared.draining.store(true);
    d.finish_stop();
}

std::vector<tcp::endpoint> server::listen_endpoints() const {
    std::lock_guard lock(impl_->mu);
    std::vector<tcp::endpoint> out;
    for (const auto& l : impl_->listeners) {
        out.push_back(l.bound);
    }
    return out;
}

tcp::endpoint server::admin_endpoint() const {
    return impl_->admin ? impl_->admin->local_endpoint() : tcp::endpoint{};
}

tcp::endpoint server::builtin_endpoint() const {
    return impl_->builtin ? impl_->builtin->local_endpoint() : tcp::endpoint{};
}

std::shared_ptr<const config> server::current_config() const {
    std::lock_guard lock(impl_->mu);
    return impl_->cfg;
}

std::size_t server::open_connections() const {
    return impl_->shared.connections.load();
}

std::size_t server::parked_connections() const {
    return impl_->shared.parked.load();
}

}  // namespace anteroom::proxy
