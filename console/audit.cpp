#include "console/audit.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

namespace anteroom::console {

nlohmann::json to_json(const audit_entry& e) {
    return {{"at", e.at}, {"who", e.who}, {"via", e.via}, {"what", e.what}};
}

audit_log::~audit_log() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

bool audit_log::open(const std::string& path, std::string& err) {
    std::lock_guard lock(mu_);
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
    path_ = path;
    if (path.empty()) {
        return true;
    }
    {
        // The tail of an earlier run: lines that do not parse (a torn last line) are skipped.
        std::ifstream in(path);
        std::string line;
        std::deque<audit_entry> back;
        while (std::getline(in, line)) {
            const auto j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_discarded() || !j.is_object() || !j.contains("at") || !j["at"].is_number_integer()) {
                continue;
            }
            back.push_back({j["at"].get<std::int64_t>(), j.value("who", ""), j.value("via", ""), j.value("what", "")});
            if (back.size() > keep_) {
                back.pop_front();
            }
        }
        recent_ = std::move(back);
    }
    fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) {
        err = path + ": " + std::strerror(errno);
        return false;
    }
    return true;
}

bool audit_log::record(audit_entry e, std::string& err) {
    const std::string line = to_json(e).dump() + "\n";
    std::lock_guard lock(mu_);
    recent_.push_back(std::move(e));
    while (recent_.size() > keep_) {
        recent_.pop_front();
    }
    if (fd_ < 0) {
        return path_.empty();
    }
    const ssize_t n = ::write(fd_, line.data(), line.size());
    if (n != static_cast<ssize_t>(line.size())) {
        err = path_ + ": audit entry not written: " + (n < 0 ? std::strerror(errno) : std::string("short write"));
        return false;
    }
    if (::fdatasync(fd_) != 0) {
        err = path_ + ": fdatasync: " + std::strerror(errno);
        return false;
    }
    return true;
}

nlohmann::json audit_log::recent_json(std::size_t limit) const {
    std::lock_guard lock(mu_);
    nlohmann::json out = nlohmann::json::array();
    for (auto it = recent_.rbegin(); it != recent_.rend() && out.size() < limit; ++it) {
        out.push_back(to_json(*it));
    }
    return out;
}

std::size_t audit_log::size() const {
    std::lock_guard lock(mu_);
    return recent_.size();
}

}  // namespace anteroom::console
