#pragma once
// A redis-server (Debian's) for tests: started on a unix socket in a directory of the test's
// (no TCP port at all), nothing saved to disk; ready() once it accepts connections. Killed
// (SIGKILL) when destroyed.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/subprocess.hpp"

namespace anteroom::test {

inline constexpr const char* redis_server = "/usr/bin/redis-server";

class redis_server_process {
public:
    redis_server_process(const std::string& dir, const std::string& extra_flag = "", const std::string& extra_value = "") {
        std::vector<std::string> argv{redis_server, "--port", "0", "--unixsocket", socket_path(dir), "--unixsocketperm",
                                      "700", "--save", "", "--appendonly", "no", "--dir", dir};
        if (!extra_flag.empty()) {
            argv.push_back(extra_flag);
            argv.push_back(extra_value);
        }
        proc_ = std::make_unique<subprocess>(argv);
        ready_ = proc_->wait_for_stdout(
            [](std::string_view out) { return out.find("ready to accept connections") != std::string_view::npos; },
            std::chrono::seconds(10));
    }
    static std::string socket_path(const std::string& dir) { return dir + "/redis.sock"; }
    bool ready() const { return ready_; }
    subprocess& proc() { return *proc_; }

private:
    std::unique_ptr<subprocess> proc_;
    bool ready_ = false;
};

}  // namespace anteroom::test
