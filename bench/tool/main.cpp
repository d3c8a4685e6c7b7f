// anteroom-bench: the load generator. `raw` is wrk-like HTTP load; `surge` plays a launch day
// with bots from a scenario file. Exit codes: 0 done, 1 run failed, 2 bad command line or
// scenario. Ctrl-C during a run prints the report of what ran so far; a second one ends at once.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/tool/interrupt.hpp"
#include "bench/tool/raw_options.hpp"
#include "bench/tool/raw_run.hpp"
#include "bench/tool/report.hpp"
#include "bench/tool/surge_run.hpp"

namespace {

constexpr const char* usage =
    "usage: anteroom-bench raw [options] http[s]://IP:PORT/path\n"
    "       anteroom-bench raw --help\n"
    "       anteroom-bench surge --scenario FILE.toml [--json FILE] [--report FILE.html] [--scale F]\n"
    "       anteroom-bench surge --help\n"
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

// Opens an output file before the run, so a bad path fails in a second, not after an hour.
bool open_output(const std::string& path, const char* option, std::ofstream& out) {
    if (path.empty()) {
        return true;
    }
    out.open(path, std::ios::trunc);
    if (!out) {
        std::cerr << "anteroom-bench: cannot write " << option << " file '" << path << "'\n";
        return false;
    }
    return true;
}

bool finish_output(std::ofstream& out, const std::string& path, const std::string& text) {
    if (!out.is_open()) {
        return true;
    }
    out << text;
    out.close();
    if (!out) {
        std::cerr << "anteroom-bench: writing '" << path << "' failed\n";
        return false;
    }
    return true;
}

int run_surge_command(const std::vector<std::string>& args) {
    using namespace anteroom::bench;
    CLI::App app{"anteroom-bench surge: a launch day with humans and bots, from a scenario file", "anteroom-bench surge"};
    std::string scenario_file;
    std::string json_file;
    std::string html_file;
    std::string csv_file;
    std::string target_url;
    double scale = 1.0;
    unsigned threads = 0;
    unsigned connections = 0;
    std::string stop_after;
    double tolerance_s = 10;
    bool quiet = false;
    app.add_option("--scenario", scenario_file, "scenario file (bench/scenarios/*.toml)")->required();
    app.add_option("--json", json_file, "write every figure as JSON to this file");
    app.add_option("--report", html_file, "write a self-contained HTML page with charts to this file");
    app.add_option("--visitors", csv_file, "write one CSV line per visitor (its record) to this file");
    app.add_option("--target", target_url, "override the scenario's [target] url (http://IP:PORT/path)");
    app.add_option("--scale", scale, "multiply every cohort's size (0.01 = a quick try)")->check(CLI::Range(1e-6, 100.0));
    app.add_option("--threads", threads, "override [run] threads")->check(CLI::Range(1u, max_threads));
    app.add_option("--connections", connections, "override [run] connections (per thread)")
        ->check(CLI::Range(1u, max_connections));
    app.add_option("--stop-after", stop_after, "override [run] stop_after (e.g. 90s)");
    app.add_option("--fairness-tolerance", tolerance_s, "seconds of admission-time slack in the fairness figure")
        ->check(CLI::Range(0.0, 3600.0));
    app.add_flag("--quiet", quiet, "no progress line on stderr");
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    try {
        app.parse(reversed);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) {
            std::cout << app.help();
            return 0;
        }
        std::cerr << "anteroom-bench surge: " << e.what() << "\n";
        return 2;
    }
    auto loaded = load_scenario(scenario_file);
    if (!loaded.sc) {
        for (const auto& e : loaded.errors) {
            std::cerr << e << "\n";
        }
        return 2;
    }
    scenario sc = std::move(*loaded.sc);
    if (!target_url.empty()) {
        raw_options o;
        std::string path;
        if (auto err = parse_target_url(target_url, o, path); !err.empty() || o.tls.enabled) {
            std::cerr << "anteroom-bench surge: --target: " << (err.empty() ? "the surge speaks plain HTTP only" : err)
                      << "\n";
            return 2;
        }
        sc.target.endpoints = {{o.target_ip, o.target_port, o.host_header, path}};
    }
    if (!stop_after.empty()) {
        const auto d = parse_duration(stop_after);
        if (!d) {
            std::cerr << "anteroom-bench surge: --stop-after: expected a duration like 90s\n";
            return 2;
        }
        sc.run.stop_after = std::chrono::duration_cast<millis>(*d);
    }
    if (scale != 1.0) {
        scale_scenario(sc, scale);
    }
    sc.run.threads = threads != 0 ? threads : sc.run.threads;
    sc.run.connections = connections != 0 ? connections : sc.run.connections;
    std::ofstream json_out;
    std::ofstream html_out;
    std::ofstream csv_out;
    if (!open_output(json_file, "--json", json_out) || !open_output(html_file, "--report", html_out) ||
        !open_output(csv_file, "--visitors", csv_out)) {
        return 2;
    }
    surge_options opts;
    opts.progress = !quiet;
    opts.fairness_tolerance_ms = static_cast<std::uint32_t>(tolerance_s * 1000);
    const auto report = run_surge(sc, opts);
    std::cout << format_text(report) << std::flush;
    if (csv_out.is_open()) {
        write_visitors_csv(csv_out, report);  // streamed: a million lines
    }
    const bool ok = finish_output(json_out, json_file, to_json(report).dump(2) + "\n") &&
                    finish_output(html_out, html_file, to_html(report)) && finish_output(csv_out, csv_file, "");
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    anteroom::bench::install_interrupt_handler();  // before anything slow: a Ctrl-C always gets a report
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
        try {
            return run_surge_command({args.begin() + 1, args.end()});
        } catch (const std::exception& e) {  // startup only (allocation, the address): never the data plane
            std::cerr << "anteroom-bench: " << e.what() << "\n";
            return 1;
        }
    }
    std::cerr << "anteroom-bench: unknown command '" << args[0] << "'\n" << usage;
    return 2;
}
