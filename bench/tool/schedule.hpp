#pragma once
// Which request is next and when it is due. One per bench thread, used only on its thread.
//
// Fixed-rate mode: request k is due at start + k / rate, whatever happened before it. A free
// connection takes the next slot and waits for its due time; latency is measured from that
// intended time, so a stall that holds up later requests shows in their latencies instead of
// quietly lowering the send rate (coordinated omission). Without a rate every slot is due at
// once (closed loop, like wrk).

#include <chrono>
#include <cstdint>
#include <optional>

namespace anteroom::bench {

class schedule {
public:
    using clock = std::chrono::steady_clock;

    // rate <= 0: as fast as possible. limit: at most this many slots (request-count mode).
    // end: no slot due at or after it (duration mode).
    schedule(clock::time_point start, double rate, std::optional<std::uint64_t> limit, clock::time_point end);

    // The due time of the next slot, or nullopt when the run is over for this thread.
    // `now` is used in closed-loop mode (a slot is due when it is taken).
    std::optional<clock::time_point> next(clock::time_point now);
    std::uint64_t taken() const { return taken_; }
    void stop() { stopped_ = true; }

private:
    clock::time_point start_;
    clock::time_point end_;
    double interval_ns_ = 0;
    std::optional<std::uint64_t> limit_;
    std::uint64_t taken_ = 0;
    bool stopped_ = false;
};

}  // namespace anteroom::bench
