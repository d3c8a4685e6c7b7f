#include "tests/support/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace anteroom::test {

namespace {

void close_fd(int& fd) {
    if (fd >= 0) {
        ::close(fd);
        fd = -1;
    }
}

std::runtime_error sys_error(const std::string& what, int err) {
    return std::runtime_error(what + ": " + std::strerror(err));
}

}  // namespace

subprocess::subprocess(std::vector<std::string> argv) {
    if (argv.empty()) {
        throw std::runtime_error("subprocess: empty argv");
    }
    int out_pipe[2];
    int err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
        throw sys_error("pipe2", errno);
    }
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
        const int e = errno;
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
        throw sys_error("pipe2", e);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
    // Test-process sockets (fake upstreams, clients) must not live on in the child: a listener
    // kept open there would queue connections the test expects to be refused.
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);

    std::vector<char*> args;
    for (auto& a : argv) {
        args.push_back(a.data());
    }
    args.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    out_fd_ = out_pipe[0];
    err_fd_ = err_pipe[0];
    if (rc != 0) {
        close_fd(out_fd_);
        close_fd(err_fd_);
        throw sys_error("posix_spawn " + argv[0], rc);
    }
    ::fcntl(out_fd_, F_SETFL, O_NONBLOCK);
    ::fcntl(err_fd_, F_SETFL, O_NONBLOCK);
    // The syscall directly: glibc 2.36's <sys/pidfd.h> lacks C linkage for C++ callers.
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd_ < 0) {
        const int e = errno;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        close_fd(out_fd_);
        close_fd(err_fd_);
        throw sys_error("pidfd_open", e);
    }
}

subprocess::~subprocess() {
    if (!status_) {
        ::kill(pid_, SIGKILL);
        int st = 0;
        ::waitpid(pid_, &st, 0);
    }
    close_fd(pidfd_);
    close_fd(out_fd_);
    close_fd(err_fd_);
}

void subprocess::send_signal(int sig) {
    if (!status_) {
        ::kill(pid_, sig);
    }
}

void subprocess::reap_if_exited() {
    if (status_) {
        return;
    }
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
    }
}

bool subprocess::pump(std::chrono::steady_clock::time_point deadline) {
    std::array<pollfd, 3> fds{};
    nfds_t n = 0;
    std::array<std::string*, 3> sinks{};
    std::array<int*, 3> owners{};
    for (auto [fd, sink] : {std::pair{&out_fd_, &out_}, std::pair{&err_fd_, &err_}}) {
        if (*fd >= 0) {
            fds[n] = pollfd{*fd, POLLIN, 0};
            sinks[n] = sink;
            owners[n] = fd;
            ++n;
        }
    }
    const bool watch_exit = !status_;
    if (watch_exit) {
        fds[n++] = pollfd{pidfd_, POLLIN, 0};
    }
    if (n == 0) {
        return false;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const int r = ::poll(fds.data(), n, static_cast<int>(std::max<std::int64_t>(0, left.count())));
    if (r <= 0) {
        return false;
    }
    for (nfds_t i = 0; i < n; ++i) {
        if (fds[i].revents == 0) {
            continue;
        }
        if (sinks[i] == nullptr) {
            reap_if_exited();
            continue;
        }
        char buf[8192];
        for (;;) {
            const auto got = ::read(fds[i].fd, buf, sizeof buf);
            if (got > 0) {
                sinks[i]->append(buf, static_cast<std::size_t>(got));
                continue;
            }
            if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
                close_fd(*owners[i]);  // EOF: the child (and anything it spawned) closed it
            }
            break;
        }
    }
    return true;
}

bool subprocess::wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        if (!pump(deadline) && out_fd_ < 0 && err_fd_ < 0 && status_) {
            return done();  // nothing more can ever arrive
        }
    }
    return true;
}

bool subprocess::wait_for_stderr(const std::function<bool(std::string_view)>& pred,
                                 std::chrono::milliseconds timeout) {
    return wait_until([&] { return pred(err_) || (status_ && err_fd_ < 0); }, timeout) && pred(err_);
}

bool subprocess::wait_for_stdout(const std::function<bool(std::string_view)>& pred,
                                 std::chrono::milliseconds timeout) {
    return wait_until([&] { return pred(out_) || (status_ && out_fd_ < 0); }, timeout) && pred(out_);
}

bool subprocess::wait_for_stderr_text(std::string_view needle, std::chrono::milliseconds timeout, std::size_t from) {
    return wait_for_stderr(
        [&](std::string_view e) { return e.size() >= from && e.substr(from).find(needle) != std::string_view::npos; },
        timeout);
}

std::optional<int> subprocess::wait_exit(std::chrono::milliseconds timeout) {
    if (!wait_until([&] { return status_ && out_fd_ < 0 && err_fd_ < 0; }, timeout)) {
        return std::nullopt;
    }
    return status_;
}

run_result run_process(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
    subprocess p(std::move(argv));
    run_result r;
    if (auto code = p.wait_exit(timeout)) {
        r.code = *code;
    }
    r.out = p.out();
    r.err = p.err();
    return r;
}

}  // namespace anteroom::test
