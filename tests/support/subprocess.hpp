#pragma once
// A child process for tests that run the real `anteroom` binary: posix_spawn with stdout and
// stderr captured through pipes, and every wait bounded by a deadline. Waiting is event driven
// (poll on the pipes and a pidfd), never a sleep.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace anteroom::test {

class subprocess {
public:
    // Starts argv[0] (an absolute path) with argv; stdin is /dev/null, no other descriptor of
    // the test process leaks into the child. Throws std::runtime_error when it cannot start.
    explicit subprocess(std::vector<std::string> argv);
    ~subprocess();  // SIGKILL and reap when still running
    subprocess(const subprocess&) = delete;
    subprocess& operator=(const subprocess&) = delete;

    pid_t pid() const { return pid_; }
    void send_signal(int sig);

    // Collects output until `pred(stderr so far)` holds, the child exits, or `timeout` passes.
    // True when the predicate held.
    bool wait_for_stderr(const std::function<bool(std::string_view)>& pred, std::chrono::milliseconds timeout);
    bool wait_for_stdout(const std::function<bool(std::string_view)>& pred, std::chrono::milliseconds timeout);
    // Shorthand: until stderr contains `needle` at or after byte `from`.
    bool wait_for_stderr_text(std::string_view needle, std::chrono::milliseconds timeout, std::size_t from = 0);

    // Waits for the exit and the end of its output. The exit code, 128 + signal number for a
    // child killed by a signal, or nullopt on timeout (the child keeps running).
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);
    bool exited() const { return status_.has_value(); }

    const std::string& out() const { return out_; }
    const std::string& err() const { return err_; }

private:
    // One round of poll + read; false when the deadline passed without any event.
    bool pump(std::chrono::steady_clock::time_point deadline);
    bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout);
    void reap_if_exited();

    pid_t pid_ = -1;
    int pidfd_ = -1;
    int out_fd_ = -1;
    int err_fd_ = -1;
    std::string out_;
    std::string err_;
    std::optional<int> status_;
};

struct run_result {
    int code = -1;  // -1: did not finish in time (the child was killed)
    std::string out;
    std::string err;
};

// Runs argv to completion (bounded by `timeout`).
run_result run_process(std::vector<std::string> argv, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace anteroom::test
