#pragma once
// Two logs: the error log (human-readable, levelled, synchronous — it is rare) and the access log
// (one JSON line per request, handed to a writer thread so I/O threads never block on a file).
// Neither ever receives personal data: callers pass truncated addresses and paths without queries.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/config.hpp"

namespace anteroom {

class error_log {
public:
    static void set_level(log_level l);
    static bool enabled(log_level l);
    // Opens `path` for appending ("-" = stderr). Returns false and keeps the old target on error.
    static bool open(const std::string& path);
    static void write(log_level l, std::string_view component, std::string_view message);
};

#define ANTEROOM_LOG(level, component, msg)                                          \
    do {                                                                             \
        if (::anteroom::error_log::enabled(level)) {                                 \
            ::anteroom::error_log::write(level, component, msg);                     \
        }                                                                            \
    } while (0)

// Append `s` to `out` as the inside of a JSON string (quotes, backslash, control bytes escaped;
// invalid UTF-8 bytes become \u00XX so the line stays valid JSON).
void json_escape_append(std::string& out, std::string_view s);

class access_log {
public:
    access_log() = default;
    ~access_log();
    access_log(const access_log&) = delete;
    access_log& operator=(const access_log&) = delete;

    // "-" = stdout, "" = off. Starts the writer thread. Returns false when the file cannot be opened.
    bool open(const std::string& path, std::size_t max_queued_lines = 65536);
    void close();
    bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
    // Queue one line (without the trailing newline). Never blocks on I/O; drops (and counts)
    // lines when the writer falls behind by more than max_queued_lines.
    void push(std::string line);
    std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
    // Block until everything queued so far is written (tests, shutdown).
    void flush();

private:
    void run();

    std::atomic<bool> enabled_{false};
    std::atomic<std::uint64_t> dropped_{0};
    std::mutex mu_;
    std::condition_variable cv_;
    std::condition_variable flushed_cv_;
    std::vector<std::string> queue_;
    std::size_t max_queued_ = 65536;
    std::uint64_t pushed_ = 0;
    std::uint64_t written_ = 0;
    bool stop_ = false;
    std::FILE* file_ = nullptr;
    bool owns_file_ = false;
    std::thread writer_;
};

}  // namespace anteroom
