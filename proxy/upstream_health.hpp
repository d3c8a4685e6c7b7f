#pragma once
// Passive health and server choice for an upstream group. Pure logic over atomics and a time
// point passed in, so tests drive it with a fake clock and no sockets. Shared by all workers.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common/config.hpp"

namespace anteroom::proxy {

using steady_time = std::chrono::steady_clock::time_point;

// One upstream server's shared state: health and outstanding requests.
class server_state {
public:
    explicit server_state(listen_address addr) : addr_(std::move(addr)), text_(addr_.text()) {}

    const listen_address& address() const { return addr_; }
    // "host:port" ("[v6]:port"), formatted once: every request logs it.
    const std::string& text() const { return text_; }

    // Available unless ejected and the ejection has not yet run out.
    bool available(steady_time now) const;
    void on_success();
    // Returns true when this failure ejected the server.
    bool on_failure(steady_time now, std::uint32_t max_fails, std::chrono::milliseconds backoff);

    std::uint32_t consecutive_failures() const { return fails_.load(std::memory_order_relaxed); }
    bool ejected(steady_time now) const { return !available(now); }
    std::uint32_t outstanding() const { return outstanding_.load(std::memory_order_relaxed); }

    // RAII count of requests in flight to this server (least-outstanding balancing).
    class in_flight {
    public:
        in_flight() = default;
        explicit in_flight(server_state* s) : s_(s) { s_->outstanding_.fetch_add(1, std::memory_order_relaxed); }
        in_flight(in_flight&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
        in_flight& operator=(in_flight&& o) noexcept {
            release();
            s_ = std::exchange(o.s_, nullptr);
            return *this;
        }
        ~in_flight() { release(); }
        void release() {
            if (s_ != nullptr) {
                s_->outstanding_.fetch_sub(1, std::memory_order_relaxed);
                s_ = nullptr;
            }
        }

    private:
        server_state* s_ = nullptr;
    };

private:
    listen_address addr_;
    std::string text_;
    std::atomic<std::uint32_t> fails_{0};
    std::atomic<std::uint32_t> ejections_in_row_{0};  // backoff doubles per ejection, capped at 8x
    std::atomic<std::int64_t> ejected_until_ns_{0};   // steady clock ns; 0 = not ejected
    std::atomic<std::uint32_t> outstanding_{0};
};

// Choose a server. `exclude` (a retry) is skipped when another choice exists. When every server
// is ejected, returns nullopt (the caller answers 503). `rr` is the group's round-robin cursor.
std::optional<std::size_t> choose_server(std::span<const std::shared_ptr<server_state>> servers,
                                         balance_policy policy, std::atomic<std::uint64_t>& rr,
                                         steady_time now, std::optional<std::size_t> exclude = std::nullopt);

}  // namespace anteroom::proxy
