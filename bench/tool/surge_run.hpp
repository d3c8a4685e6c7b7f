#pragma once
// The surge engine: the scenario's visitors split over `run.threads` threads, each with its own
// io_context, one timer-driven scheduler and a bounded pool of keep-alive connections reused per
// source address. Visitors are 40-byte records (surge_model.hpp) moved along their cohort's
// script by the responses; nothing per visitor lives on a socket between requests.

#include "bench/tool/surge_analysis.hpp"

namespace anteroom::bench {

struct surge_options {
    bool progress = true;  // the live line on stderr
    std::uint32_t fairness_tolerance_ms = 10'000;
};

// Runs the scenario to its end (every visitor done, stop_after, or SIGINT) and analyses it.
surge_report run_surge(const scenario& sc, const surge_options& o);

}  // namespace anteroom::bench
