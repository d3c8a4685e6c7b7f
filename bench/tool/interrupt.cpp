#include "bench/tool/interrupt.hpp"

#include <csignal>

#include <atomic>

namespace anteroom::bench {

namespace {

std::atomic<bool> stop_requested{false};

extern "C" void on_sigint(int /*sig*/) {
    stop_requested.store(true, std::memory_order_relaxed);
    std::signal(SIGINT, SIG_DFL);  // async-signal-safe; the next Ctrl-C is the default one
}

}  // namespace

void install_interrupt_handler() {
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(SIGINT, &sa, nullptr);
}

bool interrupted() { return stop_requested.load(std::memory_order_relaxed); }

}  // namespace anteroom::bench
