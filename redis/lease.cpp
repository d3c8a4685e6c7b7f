#include "redis/lease.hpp"

#include "common/log.hpp"

namespace anteroom::redis {

namespace {

const script& renew_script() {
    static const script s("if redis.call('GET', KEYS[1]) == ARGV[1] then "
                          "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end");
    return s;
}

const script& release_script() {
    static const script s("if redis.call('GET', KEYS[1]) == ARGV[1] then "
                          "return redis.call('DEL', KEYS[1]) else return 0 end");
    return s;
}

}  // namespace

std::shared_ptr<lease> lease::create(std::shared_ptr<client> c, net::io_context& io, std::string key,
                                     std::string node_id, options o) {
    return std::shared_ptr<lease>(new lease(std::move(c), io, std::move(key), std::move(node_id), o));
}

lease::lease(std::shared_ptr<client> c, net::io_context& io, std::string key, std::string node_id, options o)
    : client_(std::move(c)), key_(std::move(key)), node_(std::move(node_id)), opts_(o), timer_(io) {
    client_->register_script(renew_script());
    client_->register_script(release_script());
}

lease::~lease() {
    running_ = false;
    timer_.cancel();
}

void lease::start(std::function<void(bool)> on_change) {
    on_change_ = std::move(on_change);
    running_ = true;
    round();
}

void lease::abandon() {
    running_ = false;
    timer_.cancel();
    if (held_) {
        held_ = false;
        if (on_change_) {
            on_change_(false);
        }
    }
}

void lease::stop() {
    const bool was_held = held();
    abandon();
    if (was_held) {
        client_->eval(release_script(), {key_}, {node_}, [](result) {});
    }
}

bool lease::held() const {
    return held_ && std::chrono::steady_clock::now() < valid_until_;
}

void lease::confirmed(std::chrono::steady_clock::time_point sent) {
    valid_until_ = sent + opts_.ttl - opts_.margin;
    if (!held_) {
        held_ = true;
        ANTEROOM_LOG(log_level::info, "redis", "lease " + key_ + " taken by " + node_);
        if (on_change_) {
            on_change_(true);
        }
    }
}

void lease::check_expiry() {
    if (held_ && std::chrono::steady_clock::now() >= valid_until_) {
        held_ = false;
        ANTEROOM_LOG(log_level::warn, "redis", "lease " + key_ + " lost by " + node_ + " (not renewed in time)");
        if (on_change_) {
            on_change_(false);
        }
    }
}

// One attempt: renew when held, else try to take it; then again in ttl/3.
void lease::round() {
    if (!running_) {
        return;
    }
    check_expiry();
    if (!in_flight_) {
        in_flight_ = true;
        const auto sent = std::chrono::steady_clock::now();
        const std::string ttl = std::to_string(opts_.ttl.count());
        auto done = [w = weak_from_this(), sent](result r) {
            auto self = w.lock();
            if (!self) {
                return;
            }
            self->in_flight_ = false;
            if (!self->running_) {
                return;
            }
            const bool ok = r.ok() && ((r.reply.type == value::kind::status && r.reply.str == "OK") ||
                                       (r.reply.type == value::kind::integer && r.reply.integer == 1));
            if (ok) {
                self->confirmed(sent);
            } else if (r.ok() && self->held_) {
                // Somebody else holds it now (ours expired in Redis): stop at once.
                self->valid_until_ = sent;
                self->check_expiry();
            }
        };
        if (held_) {
            client_->eval(renew_script(), {key_}, {node_, ttl}, std::move(done));
        } else {
            client_->command({"SET", key_, node_, "NX", "PX", ttl}, std::move(done));
        }
    }
    timer_.expires_after(opts_.ttl / 3);
    timer_.async_wait([w = weak_from_this()](const beast::error_code& ec) {
        if (auto self = w.lock(); self && !ec) {
            self->round();
        }
    });
}

}  // namespace anteroom::redis
