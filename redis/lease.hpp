#pragma once
// A lease in Redis: at most one node at a time holds `key` (e.g. the right to advance a room's
// serving position). Taken with SET key node NX PX ttl, renewed every ttl/3 by a script that
// extends it only while the value is still this node's, given back on stop() by one that
// deletes it only then. A holder counts itself as holding until the time it sent its last
// successful SET or renewal plus ttl minus `margin` — never longer than Redis keeps the key,
// whatever the network does in between — so two nodes never both believe they hold it (as
// long as their clocks run at the same rate within margin/ttl). A holder that dies or loses
// Redis stops renewing; another node takes over at most ttl + ttl/3 later.
//
// Runs on the client's io_context thread, like the client.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "redis/client.hpp"

namespace anteroom::redis {

class lease : public std::enable_shared_from_this<lease> {
public:
    struct options {
        std::chrono::milliseconds ttl{3000};
        std::chrono::milliseconds margin{300};
    };

    static std::shared_ptr<lease> create(std::shared_ptr<client> c, net::io_context& io, std::string key,
                                         std::string node_id, options o);
    static std::shared_ptr<lease> create(std::shared_ptr<client> c, net::io_context& io, std::string key,
                                         std::string node_id) {
        return create(std::move(c), io, std::move(key), std::move(node_id), options{});
    }
    ~lease();

    // Tries now and every ttl/3; `on_change(true|false)` when this node starts or stops holding.
    void start(std::function<void(bool held)> on_change = {});
    // Stops trying and gives the lease back when held.
    void stop();
    // Stops without giving it back (what a crash looks like to the others; for tests).
    void abandon();

    bool held() const;

private:
    lease(std::shared_ptr<client> c, net::io_context& io, std::string key, std::string node_id, options o);
    void round();
    void confirmed(std::chrono::steady_clock::time_point sent);
    void check_expiry();

    std::shared_ptr<client> client_;
    std::string key_;
    std::string node_;
    options opts_;
    net::steady_timer timer_;
    std::function<void(bool)> on_change_;
    std::chrono::steady_clock::time_point valid_until_{};
    bool held_ = false;
    bool running_ = false;
    bool in_flight_ = false;
};

}  // namespace anteroom::redis
