#pragma once
// Per-key state of the detector (one table for client addresses, one for address prefixes, one
// for visitors = tickets/passes), bounded: a fixed number of 64-byte entries allocated once,
// 8-way set associative, the least recently seen entry of a set evicted when a new key needs
// room. A flood of a million distinct addresses therefore recycles entries instead of growing.
// Sharded: each shard has its own mutex, so worker threads rarely meet.
//
// Times: seconds and milliseconds of the caller's clock, kept as 32-bit values and compared with
// serial arithmetic (an entry idle for more than 24 days reads as new).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

namespace anteroom::bot_detect {

struct key_entry {
    std::uint64_t key;            // 0 = free slot
    std::uint32_t last_s;         // last request (eviction, decay)
    std::uint32_t reasons;        // reason bits behind `score`
    float score;                  // behavioural score at last_s (decays with the half-life)
    // Requests: sliding window of two 10 s windows.
    std::uint32_t rate_window;
    std::uint16_t rate_cur;
    std::uint16_t rate_prev;
    // New tickets: sliding window of two 60 s windows.
    std::uint32_t ticket_window;
    std::uint16_t tickets_cur;
    std::uint16_t tickets_prev;
    // Answers and how many were 4xx; both halved when answers reach 256.
    std::uint16_t answers;
    std::uint16_t errors;
    // Status polls.
    std::uint32_t last_poll_ms;   // 0 = none yet
    std::uint16_t told_refresh_s; // refresh_after_seconds of the last status answer
    std::uint8_t early_polls;
    std::uint8_t intervals;       // poll intervals seen (saturating)
    std::uint8_t exact_run;       // consecutive intervals at the refresh told (−0.1 %/+0.4 %)
    std::uint8_t admitted;        // 1: let in from a room at last_poll_ms, not polled since (fast_form)
    float interval_mean;          // Welford over interval / told refresh
    float interval_m2;
    // Sharing: 16-bit sketches of the prefixes and User-Agents seen with this key.
    std::uint16_t prefix_bits;
    std::uint16_t ua_bits;
};
static_assert(sizeof(key_entry) <= 64, "per-key state must stay within 64 bytes");

class key_table {
public:
    static constexpr std::size_t ways = 8;
    static constexpr std::size_t shard_count = 64;

    // `capacity` entries in all (rounded up to whole sets per shard, at least one set each).
    explicit key_table(std::size_t capacity);
    ~key_table();
    key_table(const key_table&) = delete;
    key_table& operator=(const key_table&) = delete;

    // Calls f(key_entry&, bool fresh) under the shard's lock; a missing key takes a free slot or
    // evicts the set's least recently seen entry (fresh = true: the entry is zeroed, key set,
    // last_s = now_s). `key` 0 is remapped, so every key is storable.
    template <class F>
    auto with(std::uint64_t key, std::uint32_t now_s, F&& f) {
        key = key == 0 ? 1 : key;
        auto& sh = shards_[shard_of(key)];
        std::lock_guard lock(sh.mu);
        bool fresh = false;
        key_entry& e = find_or_claim(sh, key, now_s, fresh);
        return f(e, fresh);
    }

    std::size_t capacity() const { return shard_count * sets_per_shard_ * ways; }
    std::size_t memory_bytes() const { return capacity() * sizeof(key_entry); }
    std::uint64_t evictions() const;
    std::size_t size() const;  // keys held (walks the table: tests and metrics only)

private:
    struct shard {
        std::mutex mu;
        key_entry* sets = nullptr;  // sets_per_shard_ × ways
        std::uint64_t evictions = 0;
    };
    static std::size_t shard_of(std::uint64_t key) { return (key >> 58) & (shard_count - 1); }
    key_entry& find_or_claim(shard& sh, std::uint64_t key, std::uint32_t now_s, bool& fresh);

    std::size_t sets_per_shard_ = 1;  // power of two
    struct free_deleter {
        void operator()(key_entry* p) const;
    };
    std::unique_ptr<key_entry, free_deleter> storage_;
    std::unique_ptr<shard[]> shards_;
};

// 64-bit mix (splitmix64 finaliser): spreads hashed keys over shards and sets.
constexpr std::uint64_t mix64(std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

}  // namespace anteroom::bot_detect
