#include "proxy/worker.hpp"

#include <sys/socket.h>

#include "proxy/session.hpp"

namespace anteroom::proxy {

namespace {
// How often deadlines are checked. Timeouts are therefore accurate to this much; in exchange a
// connection needs no timer of its own (an idle keep-alive connection stays small).
constexpr std::chrono::milliseconds sweep_interval{100};
}  // namespace

worker::worker(unsigned index, shared_state& shared)
    : index_(index), shared_(shared), work_(net::make_work_guard(ioc_)), sweep_timer_(ioc_) {}

worker::~worker() {
    stop();
    join();
}

void worker::start() {
    start_sweeper();
    thread_ = std::thread([this] { ioc_.run(); });
}

void worker::stop() {
    work_.reset();
    ioc_.stop();
}

void worker::join() {
    if (thread_.joinable()) {
        thread_.join();
    }
}

void worker::add_session(session* s) {
    s->next_ = head_;
    s->prev_ = nullptr;
    if (head_ != nullptr) {
        head_->prev_ = s;
    }
    head_ = s;
    ++sessions_;
    shared_.connections.fetch_add(1, std::memory_order_relaxed);
    shared_.open_connections->add(1);
}

void worker::remove_session(session* s) {
    if (s->prev_ != nullptr) {
        s->prev_->next_ = s->next_;
    } else {
        head_ = s->next_;
    }
    if (s->next_ != nullptr) {
        s->next_->prev_ = s->prev_;
    }
    s->prev_ = s->next_ = nullptr;
    --sessions_;
    shared_.connections.fetch_sub(1, std::memory_order_relaxed);
    shared_.open_connections->add(-1);
}

void worker::begin_drain() {
    for (session* s = head_; s != nullptr;) {
        session* next = s->next_;  // close_if_idle only cancels; the session unlinks later
        s->close_if_idle();
        s = next;
    }
}

void worker::close_all() {
    for (session* s = head_; s != nullptr;) {
        session* next = s->next_;
        s->close_now();
        s = next;
    }
    shared_.pool_idle->add(-static_cast<std::int64_t>(idle_count()));
    idle_.clear();
}

void worker::start_sweeper() {
    sweep_timer_.expires_after(sweep_interval);
    sweep_timer_.async_wait([this](const beast::error_code& ec) {
        if (ec) {
            return;
        }
        sweep(std::chrono::steady_clock::now());
        start_sweeper();
    });
}

void worker::sweep(std::chrono::steady_clock::time_point now) {
    for (session* s = head_; s != nullptr;) {
        session* next = s->next_;
        s->check_deadline(now);
        s = next;
    }
    for (auto it = idle_.begin(); it != idle_.end();) {
        auto& conns = it->second.conns;
        const auto removed = std::erase_if(conns, [&](const idle_conn& c) { return c.expires <= now; });
        shared_.pool_idle->add(-static_cast<std::int64_t>(removed));
        if (conns.empty()) {
            it = idle_.erase(it);
        } else {
            ++it;
        }
    }
}

std::optional<conn_stream> worker::take_idle(const server_state* s, std::chrono::steady_clock::time_point now,
                                             bool must_verify, std::chrono::milliseconds trust_for) {
    auto it = idle_.find(s);
    if (it == idle_.end()) {
        return std::nullopt;
    }
    auto& conns = it->second.conns;
    while (!conns.empty()) {
        idle_conn c = std::move(conns.back());
        conns.pop_back();
        shared_.pool_idle->add(-1);
        if (c.expires <= now || c.conn.has_buffered_input()) {
            continue;
        }
        if (!must_verify && now - c.since < trust_for) {
            return std::optional<conn_stream>(std::move(c.conn));
        }
        // A peer that closed (or sent something unasked) while pooled is not reused.
        char probe;
        const auto r = ::recv(c.conn.socket().native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return std::optional<conn_stream>(std::move(c.conn));
        }
    }
    return std::nullopt;
}

void worker::put_idle(const std::shared_ptr<server_state>& s, conn_stream conn, std::size_t max_idle,
                      std::chrono::steady_clock::time_point expires) {
    if (max_idle == 0 || shared_.draining.load(std::memory_order_relaxed)) {
        return;
    }
    auto& bucket = idle_[s.get()];
    if (!bucket.owner) {
        bucket.owner = s;
    }
    if (bucket.conns.size() >= max_idle) {
        // Full: the oldest connection makes room (it is the most likely to be closed soon).
        bucket.conns.erase(bucket.conns.begin());
        shared_.pool_idle->add(-1);
    }
    bucket.conns.push_back(idle_conn{std::move(conn), std::chrono::steady_clock::now(), expires});
    shared_.pool_idle->add(1);
}

std::size_t worker::idle_count() const {
    std::size_t n = 0;
    for (const auto& [k, b] : idle_) {
        n += b.conns.size();
    }
    return n;
}

}  // namespace anteroom::proxy
