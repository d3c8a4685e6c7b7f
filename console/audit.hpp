#pragma once
// The audit log of control changes (room settings, pause/resume, bot detection's dry run,
// reloads): who (the admin token's name), through what (the console page or the API), what,
// when. Appended to a file as JSON lines — one write(2) and fdatasync per entry, so an entry
// that was answered as done is on disk — and the last `keep` entries held in memory for the
// console. No personal data: token names and settings only.

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace anteroom::console {

struct audit_entry {
    std::int64_t at = 0;  // unix ms
    std::string who;      // token name
    std::string via;      // "console" | "api" | "signal"
    std::string what;
};

class audit_log {
public:
    static constexpr std::size_t default_keep = 200;

    explicit audit_log(std::size_t keep = default_keep) : keep_(keep) {}
    ~audit_log();
    audit_log(const audit_log&) = delete;
    audit_log& operator=(const audit_log&) = delete;

    // Opens (creating, mode 0600) the file to append to and reads the last entries back from it
    // so the console shows changes made before a restart. "" = memory only. False + err when
    // the file cannot be opened; the log then keeps entries in memory only.
    bool open(const std::string& path, std::string& err);

    // Appends; false + err when the file write failed (the entry is kept in memory all the same).
    bool record(audit_entry e, std::string& err);

    // Newest first, at most `limit`.
    nlohmann::json recent_json(std::size_t limit) const;
    std::size_t size() const;

private:
    std::size_t keep_;
    mutable std::mutex mu_;
    std::deque<audit_entry> recent_;  // oldest first
    int fd_ = -1;
    std::string path_;
};

nlohmann::json to_json(const audit_entry& e);

}  // namespace anteroom::console
