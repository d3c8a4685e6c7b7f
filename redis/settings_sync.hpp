#pragma once
// A room's live settings (mode, new_users_per_minute, max_active_users — what the admin API
// changes) shared by every node: written to the room's `settings` hash with a version number
// by one script, and read by every node every `interval` (one pipelined HMGET per room); a
// node hears of a change made on any other node within one interval (the issue asks for 1 s).
// Part of the shared room state (docs/shared-state.md); runs on the client's thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "redis/client.hpp"
#include "redis/room_scripts.hpp"

namespace anteroom::redis {

struct shared_settings {
    std::string mode;  // fifo, random, passthrough, reject, paused
    std::uint32_t new_users_per_minute = 0;
    std::uint32_t max_active_users = 0;
    std::int64_t version = 0;  // 0: never written
    friend bool operator==(const shared_settings&, const shared_settings&) = default;
};

class settings_sync : public std::enable_shared_from_this<settings_sync> {
public:
    using on_change_fn = std::function<void(const std::string& room, const shared_settings&)>;

    static std::shared_ptr<settings_sync> create(std::shared_ptr<client> c, net::io_context& io, std::string prefix,
                                                 std::vector<std::string> rooms, std::chrono::milliseconds interval);
    ~settings_sync();

    // Writes the settings of `room` (a new version); cb(version) or nullopt when Redis refused
    // or was away. With only_if_absent, a room that has settings keeps them (cb gets their
    // version): a node starting does not undo a change made through another node.
    void publish(const std::string& room, const shared_settings& s, std::function<void(std::optional<std::int64_t>)> cb,
                 bool only_if_absent = false);
    // Reads every `interval`; on_change for each room whose version differs from the last read
    // (also the first time a written version is seen).
    void start(on_change_fn on_change);
    void stop();

private:
    settings_sync(std::shared_ptr<client> c, net::io_context& io, std::string prefix, std::vector<std::string> rooms,
                  std::chrono::milliseconds interval);
    void poll();

    std::shared_ptr<client> client_;
    std::string prefix_;
    std::vector<std::string> rooms_;
    std::chrono::milliseconds interval_;
    net::steady_timer timer_;
    on_change_fn on_change_;
    std::map<std::string, std::int64_t> seen_;  // room -> last version reported
    bool running_ = false;
};

}  // namespace anteroom::redis
