#pragma once
// SIGINT during a run: the first one asks the running engine to stop and report what ran so far;
// the handler then steps aside, so a second Ctrl-C ends the process at once.

namespace anteroom::bench {

void install_interrupt_handler();
bool interrupted();

}  // namespace anteroom::bench
