#include "redis/settings_sync.hpp"

#include <charconv>

namespace anteroom::redis {

namespace {

// KEYS[1] the room's settings hash; ARGV mode, rate, cap, "1" to write only when the room has
// no settings yet, and the highest version the writer has seen: a new version is above it even
// when Redis lost the hash (restarted empty), so no node takes a new change for one it knows.
// Returns the version now in Redis (the new one when written).
const script& publish_script() {
    static const script s(R"lua(
if ARGV[4] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then
  return tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
end
redis.call('HSET', KEYS[1], 'mode', ARGV[1], 'new_users_per_minute', ARGV[2], 'max_active_users', ARGV[3])
local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
if v <= tonumber(ARGV[5]) then
  v = tonumber(ARGV[5]) + 1
  redis.call('HSET', KEYS[1], 'version', v)
end
return v
)lua");
    return s;
}

std::string settings_key(const std::string& prefix, const std::string& room) {
    return room_keys(prefix, room).settings;
}

template <class T>
bool to_number(const value& v, T& out) {
    if (v.type != value::kind::string) {
        return false;
    }
    const auto* end = v.str.data() + v.str.size();
    return std::from_chars(v.str.data(), end, out).ptr == end;
}

}  // namespace

std::shared_ptr<settings_sync> settings_sync::create(std::shared_ptr<client> c, net::io_context& io, std::string prefix,
                                                     std::vector<std::string> rooms, std::chrono::milliseconds interval) {
    return std::shared_ptr<settings_sync>(new settings_sync(std::move(c), io, std::move(prefix), std::move(rooms), interval));
}

settings_sync::settings_sync(std::shared_ptr<client> c, net::io_context& io, std::string prefix,
                             std::vector<std::string> rooms, std::chrono::milliseconds interval)
    : client_(std::move(c)), prefix_(std::move(prefix)), rooms_(std::move(rooms)), interval_(interval), timer_(io) {
    client_->register_script(publish_script());
}

settings_sync::~settings_sync() {
    stop();
}

void settings_sync::publish(const std::string& room, const shared_settings& s,
                            std::function<void(std::optional<std::int64_t>)> cb, bool only_if_absent) {
    client_->eval(publish_script(), {settings_key(prefix_, room)},
                  {s.mode, std::to_string(s.new_users_per_minute), std::to_string(s.max_active_users),
                   only_if_absent ? "1" : "0", std::to_string(seen_[room])},
                  [cb = std::move(cb)](result r) {
                      cb(r.ok() && r.reply.type == value::kind::integer ? std::optional<std::int64_t>(r.reply.integer)
                                                                        : std::nullopt);
                  });
}

void settings_sync::start(on_change_fn on_change) {
    on_change_ = std::move(on_change);
    running_ = true;
    poll();
}

void settings_sync::stop() {
    running_ = false;
    timer_.cancel();
}

void settings_sync::poll() {
    if (!running_) {
        return;
    }
    for (const auto& room : rooms_) {
        client_->command({"HMGET", settings_key(prefix_, room), "mode", "new_users_per_minute", "max_active_users",
                          "version"},
                         [w = weak_from_this(), room](result r) {
                             auto self = w.lock();
                             if (!self || !self->running_ || !r.ok() || r.reply.elements.size() != 4) {
                                 return;  // away or never written: keep what we have
                             }
                             const auto& e = r.reply.elements;
                             shared_settings s;
                             if (e[0].type != value::kind::string || !to_number(e[1], s.new_users_per_minute) ||
                                 !to_number(e[2], s.max_active_users) || !to_number(e[3], s.version)) {
                                 return;
                             }
                             s.mode = e[0].str;
                             auto& seen = self->seen_[room];
                             if (s.version != seen) {
                                 seen = s.version;
                                 if (self->on_change_) {
                                     self->on_change_(room, s);
                                 }
                             }
                         });
    }
    timer_.expires_after(interval_);
    timer_.async_wait([w = weak_from_this()](const beast::error_code& ec) {
        if (auto self = w.lock(); self && !ec) {
            self->poll();
        }
    });
}

}  // namespace anteroom::redis
