#pragma once
// The raw load generator: one io_context per thread, each running its share of the connections
// as coroutines, then the threads' counts merged into one report.

#include "bench/tool/raw_options.hpp"
#include "bench/tool/report.hpp"

namespace anteroom::bench {

raw_report run_raw(const raw_options& o);

}  // namespace anteroom::bench
