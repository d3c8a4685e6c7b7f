// anteroom-bench: the load generator. `raw` is wrk-like HTTP load; `surge` (a launch day with
// bots) arrives with a later issue. Exit codes: 0 done, 1 run failed, 2 bad command line.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "bench/tool/raw_options.hpp"
#include "bench/tool/raw_run.hpp"
#include "bench/tool/report.hpp"

namespace {

constexpr const char* usage =
    "usage: anteroom-bench raw [options] http://IP:PORT/path\n"
    "       anteroom-bench raw --help\n"
    "       anteroom-bench --version\n";

int run_raw_command(const std::vector<std::string>& args) {
    using namespace anteroom::bench;
    auto parsed = parse_raw_options(args);
    if (!parsed.options) {
        (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.message << "\n";
        return parsed.exit_code;
    }
    const auto& o = *parsed.options;
    std::ofstream json_out;
    if (!o.json_file.empty()) {
        json_out.open(o.json_file, std::ios::trunc);
        if (!json_out) {
            std::cerr << "anteroom-bench: cannot write --json file '" << o.json_file << "'\n";
            return 2;
        }
    }
    const auto report = run_raw(o);
    std::cout << format_text(report) << std::flush;
    if (json_out.is_open()) {
        json_out << to_json(report).dump(2) << "\n";
        json_out.close();
        if (!json_out) {
            std::cerr << "anteroom-bench: writing '" << o.json_file << "' failed\n";
            return 1;
        }
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        std::cerr << usage;
        return 2;
    }
    if (args[0] == "--version") {
        std::cout << "anteroom-bench " << ANTEROOM_VERSION << "\n";
        return 0;
    }
    if (args[0] == "--help" || args[0] == "-h") {
        std::cout << usage;
        return 0;
    }
    if (args[0] == "raw") {
        try {
            return run_raw_command({args.begin() + 1, args.end()});
        } catch (const std::exception& e) {  // startup only (e.g. the address): never the data plane
            std::cerr << "anteroom-bench: " << e.what() << "\n";
            return 1;
        }
    }
    if (args[0] == "surge") {
        std::cerr << "anteroom-bench: 'surge' is not implemented yet\n";
        return 2;
    }
    std::cerr << "anteroom-bench: unknown command '" << args[0] << "'\n" << usage;
    return 2;
}
