#include "common/log.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

namespace anteroom {

namespace {

std::atomic<int> g_level{static_cast<int>(log_level::info)};
std::mutex g_error_mu;
std::FILE* g_error_file = nullptr;  // guarded by g_error_mu; null = stderr

std::string_view level_name(log_level l) {
    switch (l) {
        case log_level::debug: return "debug";
        case log_level::info: return "info";
        case log_level::warn: return "warn";
        case log_level::error: return "error";
    }
    return "?";
}

std::string timestamp_utc() {
    const auto now = std::chrono::system_clock::now();
    const auto t = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    return buf;
}

}  // namespace

void error_log::set_level(log_level l) { g_level.store(static_cast<int>(l), std::memory_order_relaxed); }

bool error_log::enabled(log_level l) {
    return static_cast<int>(l) >= g_level.load(std::memory_order_relaxed);
}

bool error_log::open(const std::string& path) {
    std::FILE* f = nullptr;
    if (path != "-" && !path.empty()) {
        f = std::fopen(path.c_str(), "a");
        if (f == nullptr) {
            return false;
        }
    }
    std::lock_guard lock(g_error_mu);
    if (g_error_file != nullptr) {
        std::fclose(g_error_file);
    }
    g_error_file = f;
    return true;
}

void error_log::write(log_level l, std::string_view component, std::string_view message) {
    std::string line = timestamp_utc();
    line += ' ';
    line += level_name(l);
    line += ' ';
    line += component;
    line += ": ";
    line += message;
    line += '\n';
    std::lock_guard lock(g_error_mu);
    std::FILE* f = g_error_file != nullptr ? g_error_file : stderr;
    std::fwrite(line.data(), 1, line.size(), f);
    std::fflush(f);
}

void json_escape_append(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    for (std::size_t i = 0; i < n;) {
        const unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
            ++i;
        } else if (c < 0x20 || c == 0x7f) {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 0xf];
            ++i;
        } else if (c < 0x80) {
            out += static_cast<char>(c);
            ++i;
        } else {
            // Validate one UTF-8 sequence; copy it whole when valid, escape the byte otherwise.
            // The second byte's range excludes overlong forms, UTF-16 surrogates (ED A0..BF) and
            // code points above U+10FFFF (RFC 3629 §4), which strict JSON parsers reject.
            const std::size_t len = (c >= 0xf0 && c <= 0xf4) ? 4
                                    : (c >= 0xe0 && c <= 0xef) ? 3
                                    : (c >= 0xc2 && c <= 0xdf) ? 2
                                                                : 0;
            bool valid = len != 0 && i + len <= n;
            if (valid) {
                const unsigned char c1 = p[i + 1];
                const unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
                const unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
                valid = c1 >= lo && c1 <= hi;
            }
            for (std::size_t k = 2; valid && k < len; ++k) {
                valid = (p[i + k] & 0xc0) == 0x80;
            }
            if (valid) {
                out.append(s.data() + i, len);
                i += len;
            } else {
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 0xf];
                ++i;
            }
        }
    }
}

access_log::~access_log() { close(); }

bool access_log::open(const std::string& path, std::size_t max_queued_lines) {
    close();
    if (path.empty()) {
        return true;
    }
    if (path == "-") {
        file_ = stdout;
        owns_file_ = false;
    } else {
        file_ = std::fopen(path.c_str(), "a");
        if (file_ == nullptr) {
            return false;
        }
        owns_file_ = true;
    }
    {
        // Workers may be pushing already (a reload reopens the log under traffic).
        std::lock_guard lock(mu_);
        max_queued_ = max_queued_lines;
        stop_ = false;
    }
    enabled_.store(true, std::memory_order_relaxed);
    writer_ = std::thread([this] { run(); });
    return true;
}

void access_log::close() {
    if (!writer_.joinable()) {
        return;
    }
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_one();
    writer_.join();
    enabled_.store(false, std::memory_order_relaxed);
    if (owns_file_ && file_ != nullptr) {
        std::fclose(file_);
    }
    file_ = nullptr;
}

void access_log::push(std::string line) {
    {
        std::lock_guard lock(mu_);
        if (queue_.size() >= max_queued_) {
            dropped_.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        queue_.push_back(std::move(line));
        ++pushed_;
    }
    cv_.notify_one();
}

void access_log::flush() {
    std::unique_lock lock(mu_);
    const auto target = pushed_;
    flushed_cv_.wait(lock, [&] { return written_ >= target || !writer_.joinable(); });
}

void access_log::run() {
    std::vector<std::string> batch;
    std::string out;
    for (;;) {
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
            if (queue_.empty() && stop_) {
                return;
            }
            batch.swap(queue_);
        }
        out.clear();
        for (auto& l : batch) {
            out += l;
            out += '\n';
        }
        std::fwrite(out.data(), 1, out.size(), file_);
        std::fflush(file_);
        {
            std::lock_guard lock(mu_);
            written_ += batch.size();
        }
        flushed_cv_.notify_all();
        batch.clear();
    }
}

}  // namespace anteroom
