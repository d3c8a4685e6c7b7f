#include "redis/client.hpp"

#include <pthread.h>
#include <signal.h>

#include <cerrno>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <algorithm>

#include "common/config.hpp"
#include "common/log.hpp"

namespace anteroom::redis {

namespace {

// hiredis writes with write(2): a write to a Redis that went away raises SIGPIPE, which ends a
// process that does not ignore it (anteroom's main ignores it; a test binary or another program
// embedding this client may not). SIGPIPE from write(2) goes to the writing thread, so it is
// blocked around hiredis's writes and one it raised is taken off before the mask is restored.
class sigpipe_guard {
public:
    sigpipe_guard() {
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        sigset_t pending;
        sigemptyset(&pending);
        was_pending_ = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
        pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    }
    ~sigpipe_guard() {
        sigset_t pending;
        sigemptyset(&pending);
        if (!was_pending_ && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
            const timespec zero{0, 0};
            while (sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    sigpipe_guard(const sigpipe_guard&) = delete;
    sigpipe_guard& operator=(const sigpipe_guard&) = delete;

private:
    sigset_t pipe_{}, old_{};
    bool was_pending_ = false;
};

}  // namespace

std::string_view to_string(errc e) {
    switch (e) {
        case errc::ok: return "ok";
        case errc::not_connected: return "not connected";
        case errc::timeout: return "timeout";
        case errc::disconnected: return "disconnected";
        case errc::overloaded: return "overloaded";
        case errc::server: return "server error";
    }
    return "?";
}

script::script(std::string src) : source(std::move(src)) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(source.data(), source.size(), md, &n, EVP_sha1(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; ++i) {
        sha1 += hex[md[i] >> 4];
        sha1 += hex[md[i] & 15];
    }
}

value from_hiredis(const void* p) {
    value v;
    const auto* r = static_cast<const redisReply*>(p);
    if (r == nullptr) {
        return v;
    }
    switch (r->type) {
        case REDIS_REPLY_INTEGER:
            v.type = value::kind::integer;
            v.integer = r->integer;
            break;
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
        case REDIS_REPLY_ERROR:
            v.type = r->type == REDIS_REPLY_STRING   ? value::kind::string
                     : r->type == REDIS_REPLY_STATUS ? value::kind::status
                                                     : value::kind::error;
            v.str.assign(r->str, r->len);
            break;
        case REDIS_REPLY_ARRAY:
            v.type = value::kind::array;
            v.elements.reserve(r->elements);
            for (std::size_t i = 0; i < r->elements; ++i) {
                v.elements.push_back(from_hiredis(r->element[i]));
            }
            break;
        default:
            break;  // nil
    }
    return v;
}

// One hiredis context. Its socket is watched with a stream_descriptor that never owns the
// descriptor (hiredis closes it); hiredis's hooks arm and disarm the waits. The object keeps
// itself alive until hiredis has let go of it (the cleanup hook).
struct client::conn : std::enable_shared_from_this<client::conn> {
    explicit conn(net::io_context& io) : sd(io) {}

    redisAsyncContext* ac = nullptr;
    net::posix::stream_descriptor sd;
    std::weak_ptr<client> owner;
    std::shared_ptr<conn> self;  // released when hiredis cleans up
    bool reading = false, writing = false, read_armed = false, write_armed = false;
    bool dead = false;
    bool connected = false;  // the TCP/unix connect finished
    bool setup_failed = false;
    errc fail_reason = errc::disconnected;
    std::chrono::steady_clock::time_point connect_deadline;
    struct pending_cmd {
        std::chrono::steady_clock::time_point deadline;
        callback cb;
    };
    std::deque<pending_cmd> pending;  // in the order hiredis answers them

    // Waits for the socket to become readable (or writable) and lets hiredis read (write);
    // re-armed while hiredis still wants it. HandleRead/Write may free the context: cleanup then
    // marks us dead.
    void arm(bool read) {
        (read ? read_armed : write_armed) = true;
        const auto what = read ? net::posix::stream_descriptor::wait_read : net::posix::stream_descriptor::wait_write;
        sd.async_wait(what, [c = shared_from_this(), read](const beast::error_code& ec) {
            bool& armed = read ? c->read_armed : c->write_armed;
            const bool& wanted = read ? c->reading : c->writing;
            armed = false;
            if (ec || c->dead || !wanted) {
                return;
            }
            if (read) {
                redisAsyncHandleRead(c->ac);
            } else {
                const sigpipe_guard guard;
                redisAsyncHandleWrite(c->ac);
            }
            if (!c->dead && wanted && !armed) {
                c->arm(read);
            }
        });
    }

    static conn* of(void* privdata) { return static_cast<conn*>(privdata); }
    static void add_read(void* p) {
        auto* c = of(p);
        c->reading = true;
        if (!c->read_armed && !c->dead) {
            c->arm(true);
        }
    }
    static void del_read(void* p) { of(p)->reading = false; }
    static void add_write(void* p) {
        auto* c = of(p);
        c->writing = true;
        if (!c->write_armed && !c->dead) {
            c->arm(false);
        }
    }
    static void del_write(void* p) { of(p)->writing = false; }
    // hiredis is done with the context (it closes the descriptor itself right after).
    static void cleanup(void* p) {
        auto* c = of(p);
        c->dead = true;
        c->reading = c->writing = false;
        if (auto cl = c->owner.lock(); cl && cl->conn_.get() == c) {
            cl->ready_ = false;
        }
        beast::error_code ec;
        c->sd.cancel(ec);
        (void)c->sd.release();
        c->ac = nullptr;
        auto& io = static_cast<net::io_context&>(c->sd.get_executor().context());
        net::post(io, [keep = std::move(c->self), owner = c->owner]() {
            if (auto cl = owner.lock(); cl && cl->conn_ == keep) {
                cl->lost();
            }
        });
    }
    // hiredis: one reply (or null when the context goes away) for the oldest pending command.
    static void on_reply(redisAsyncContext* ac, void* reply, void*) {
        auto* c = of(ac->ev.data);
        if (c->pending.empty()) {
            return;
        }
        auto cmd = std::move(c->pending.front());
        c->pending.pop_front();
        result r;
        if (reply == nullptr) {
            // Only a context that is going away answers null: no more commands on it.
            if (auto cl = c->owner.lock(); cl && cl->conn_.get() == c) {
                cl->ready_ = false;
            }
            r.error = c->fail_reason;
        } else {
            r.reply = from_hiredis(reply);
            if (r.reply.type == value::kind::error) {
                r.error = errc::server;
            }
        }
        if (cmd.cb) {
            cmd.cb(std::move(r));
        }
    }
    static void on_connect(const redisAsyncContext* ac, int status) {
        auto* c = of(ac->ev.data);
        if (status != REDIS_OK) {
            return;  // hiredis frees the context after this; cleanup reports the loss
        }
        c->connected = true;
        if (auto cl = c->owner.lock()) {
            cl->ready(true);
        }
    }
};

std::shared_ptr<client> client::create(net::io_context& io, options o) {
    return std::shared_ptr<client>(new client(io, std::move(o)));
}

client::client(net::io_context& io, options o)
    : io_(io), opts_(std::move(o)), backoff_(opts_.reconnect_min), reconnect_timer_(io), sweep_timer_(io) {}

client::~client() {
    stop();
}

bool client::connected() const {
    return ready_;
}

std::size_t client::pending() const {
    return conn_ ? conn_->pending.size() : 0;
}

void client::register_script(const script& s) {
    if (std::none_of(scripts_.begin(), scripts_.end(), [&](const script& x) { return x.sha1 == s.sha1; })) {
        scripts_.push_back(s);
    }
}

void client::start(std::function<void(bool)> on_state) {
    on_state_ = std::move(on_state);
    stopped_ = false;
    backoff_ = opts_.reconnect_min;
    connect();
    sweep();
}

void client::stop() {
    if (stopped_) {
        return;
    }
    stopped_ = true;
    on_state_ = nullptr;
    reconnect_timer_.cancel();
    sweep_timer_.cancel();
    ready_ = false;
    announced_ = false;
    if (auto c = std::move(conn_)) {
        c->fail_reason = errc::disconnected;
        if (c->ac != nullptr) {
            redisAsyncFree(c->ac);
        }
    }
}

void client::connect() {
    if (stopped_) {
        return;
    }
    redisAsyncContext* ac = nullptr;
    constexpr std::string_view unix_prefix = "unix:";
    if (std::string_view(opts_.address).starts_with(unix_prefix)) {
        ac = redisAsyncConnectUnix(opts_.address.substr(unix_prefix.size()).c_str());
    } else if (auto a = parse_address(opts_.address)) {
        ac = redisAsyncConnect(a->host.c_str(), a->port);
    }
    if (ac == nullptr || ac->err != 0) {
        report(log_level::warn, "connect to " + opts_.address + " failed: " + (ac != nullptr ? ac->errstr : "bad address"));
        if (ac != nullptr) {
            redisAsyncFree(ac);
        }
        schedule_reconnect();
        return;
    }
    auto c = std::make_shared<conn>(io_);
    c->self = c;
    c->ac = ac;
    c->owner = weak_from_this();
    c->connect_deadline = std::chrono::steady_clock::now() + opts_.connect_timeout;
    beast::error_code ec;
    c->sd.assign(ac->c.fd, ec);
    ac->ev.data = c.get();
    ac->ev.addRead = conn::add_read;
    ac->ev.delRead = conn::del_read;
    ac->ev.addWrite = conn::add_write;
    ac->ev.delWrite = conn::del_write;
    ac->ev.cleanup = conn::cleanup;
    redisAsyncSetConnectCallback(ac, conn::on_connect);
    conn_ = c;
    ++connects_;
    // The connect is in progress: hiredis reports it when the socket becomes writable.
    conn::add_write(c.get());
}

// The socket is connected: AUTH and the scripts first, then a PING whose answer says whether
// all of that worked; only then do commands go out.
void client::ready(bool) {
    auto c = conn_;
    if (!c) {
        return;
    }
    const auto check = [this, w = std::weak_ptr<conn>(c)](result r) {
        if (auto cc = w.lock(); cc && !r.ok()) {
            if (!cc->setup_failed) {
                report(log_level::error, "connection setup failed: " + std::string(to_string(r.error)) +
                                             (r.reply.str.empty() ? "" : ": " + r.reply.str));
            }
            cc->setup_failed = true;
        }
    };
    if (!opts_.password.empty()) {
        send({"AUTH", opts_.password}, check);
    }
    for (const auto& s : scripts_) {
        send({"SCRIPT", "LOAD", s.source}, check);
    }
    send({"PING"}, [this, w = std::weak_ptr<conn>(c), check](result r) {
        check(r);
        auto cc = w.lock();
        if (!cc || cc != conn_ || stopped_) {
            return;
        }
        if (cc->setup_failed) {
            cc->fail_reason = errc::disconnected;
            // Not from inside hiredis's callback: free it on the next turn.
            net::post(io_, [cc] {
                if (cc->ac != nullptr) {
                    redisAsyncFree(cc->ac);
                }
            });
            return;
        }
        ready_ = true;
        announced_ = true;
        backoff_ = opts_.reconnect_min;
        last_reported_.clear();
        ANTEROOM_LOG(log_level::info, "redis", "connected to " + opts_.address);
        if (on_state_) {
            on_state_(true);
        }
    });
}

void client::lost() {
    const bool was_ready = announced_;
    ready_ = false;
    announced_ = false;
    conn_.reset();
    if (stopped_) {
        return;
    }
    if (was_ready) {
        ANTEROOM_LOG(log_level::warn, "redis", "connection to " + opts_.address + " lost");
        if (on_state_) {
            on_state_(false);
        }
    }
    schedule_reconnect();
}

void client::schedule_reconnect() {
    if (stopped_) {
        return;
    }
    reconnect_timer_.expires_after(backoff_);
    backoff_ = std::min(backoff_ * 2, opts_.reconnect_max);
    reconnect_timer_.async_wait([w = weak_from_this()](const beast::error_code& ec) {
        if (auto cl = w.lock(); cl && !ec && !cl->conn_) {
            cl->connect();
        }
    });
}

// Every 50 ms: a connect or an answer that is overdue drops the connection (hiredis 0.14 has no
// timeouts of its own in the asynchronous API).
void client::sweep() {
    if (stopped_) {
        return;
    }
    if (auto c = conn_; c && c->ac != nullptr) {
        const auto now = std::chrono::steady_clock::now();
        const bool connect_overdue = !c->connected && now > c->connect_deadline;
        const bool answer_overdue = !c->pending.empty() && now > c->pending.front().deadline;
        if (connect_overdue || answer_overdue) {
            report(log_level::warn,
                   std::string(connect_overdue ? "connect to " : "no answer from ") + opts_.address + " in time; reconnecting");
            c->fail_reason = errc::timeout;
            ready_ = false;
            redisAsyncFree(c->ac);
        }
    }
    sweep_timer_.expires_after(std::chrono::milliseconds(50));
    sweep_timer_.async_wait([w = weak_from_this()](const beast::error_code& ec) {
        if (auto cl = w.lock(); cl && !ec) {
            cl->sweep();
        }
    });
}

void client::report(log_level level, const std::string& text) {
    if (text != last_reported_) {
        ANTEROOM_LOG(level, "redis", text);
        last_reported_ = text;
    }
}

void client::send(std::vector<std::string> argv, callback cb) {
    auto& c = *conn_;
    std::vector<const char*> ptrs;
    std::vector<std::size_t> lens;
    ptrs.reserve(argv.size());
    lens.reserve(argv.size());
    for (const auto& a : argv) {
        ptrs.push_back(a.data());
        lens.push_back(a.size());
    }
    c.pending.push_back({std::chrono::steady_clock::now() + opts_.command_timeout, std::move(cb)});
    if (redisAsyncCommandArgv(c.ac, conn::on_reply, nullptr, static_cast<int>(argv.size()), ptrs.data(), lens.data()) !=
        REDIS_OK) {
        auto cmd = std::move(c.pending.back());
        c.pending.pop_back();
        if (cmd.cb) {
            cmd.cb(result{errc::disconnected, {}});
        }
    }
}

void client::command(std::vector<std::string> argv, callback cb) {
    if (!ready_ || !conn_ || conn_->ac == nullptr) {
        cb(result{errc::not_connected, {}});
        return;
    }
    if (conn_->pending.size() >= opts_.max_pending) {
        cb(result{errc::overloaded, {}});
        return;
    }
    send(std::move(argv), std::move(cb));
}

void client::eval(const script& s, const std::vector<std::string>& keys, const std::vector<std::string>& args,
                  callback cb) {
    std::vector<std::string> argv{"EVALSHA", s.sha1, std::to_string(keys.size())};
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.insert(argv.end(), args.begin(), args.end());
    auto retry = argv;
    command(std::move(argv), [this, w = weak_from_this(), source = s.source, retry = std::move(retry),
                              cb = std::move(cb)](result r) mutable {
        auto cl = w.lock();
        if (!cl || r.error != errc::server || !r.reply.str.starts_with("NOSCRIPT")) {
            cb(std::move(r));
            return;
        }
        // The server lost its scripts (restart, SCRIPT FLUSH): load it and run it once more.
        command({"SCRIPT", "LOAD", source}, [](result) {});
        command(std::move(retry), std::move(cb));
    });
}

}  // namespace anteroom::redis
