// anteroom_fuzz_replay <target> <files-or-dirs...>: runs every input once through one fuzz
// target (tests/fuzz/fuzz_target.hpp), so the seed corpora and the regression inputs of crashes
// found by libFuzzer are checked in the ordinary sanitizer build, without clang. Directories
// are read one level deep, in name order. Exit status: 0 all inputs ran, 1 a read failed or no
// input was found, 2 usage. A crashing input aborts the process (the sanitizer report names
// it: the driver prints each file name before running it when ANTEROOM_FUZZ_VERBOSE is set).

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_target.hpp"

namespace anteroom::fuzz {

namespace {
std::map<std::string, target_fn>& targets() {
    static std::map<std::string, target_fn> m;
    return m;
}
}  // namespace

bool register_target(const char* name, target_fn fn) {
    targets().emplace(name, fn);
    return true;
}

}  // namespace anteroom::fuzz

namespace {

namespace fs = std::filesystem;

int usage() {
    std::fprintf(stderr, "usage: anteroom_fuzz_replay <target> <files-or-dirs...>\ntargets:");
    for (const auto& [name, fn] : anteroom::fuzz::targets()) {
        std::fprintf(stderr, " %s", name.c_str());
    }
    std::fprintf(stderr, "\n");
    return 2;
}

bool read_file(const fs::path& p, std::vector<std::uint8_t>& out) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
        return false;
    }
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return !in.bad();
}

}  // namespace

int main(int argc, char** argv) try {
    if (argc < 3) {
        return usage();
    }
    const auto it = anteroom::fuzz::targets().find(argv[1]);
    if (it == anteroom::fuzz::targets().end()) {
        std::fprintf(stderr, "unknown target: %s\n", argv[1]);
        return usage();
    }
    std::vector<fs::path> inputs;
    for (int i = 2; i < argc; ++i) {
        const fs::path p(argv[i]);
        std::error_code ec;
        if (fs::is_directory(p, ec)) {
            std::vector<fs::path> files;
            for (const auto& e : fs::directory_iterator(p, ec)) {
                if (e.is_regular_file()) {
                    files.push_back(e.path());
                }
            }
            std::sort(files.begin(), files.end());
            inputs.insert(inputs.end(), files.begin(), files.end());
        } else {
            inputs.push_back(p);
        }
    }
    const bool verbose = std::getenv("ANTEROOM_FUZZ_VERBOSE") != nullptr;
    std::vector<std::uint8_t> bytes;
    for (const auto& p : inputs) {
        if (!read_file(p, bytes)) {
            std::fprintf(stderr, "cannot read %s\n", p.c_str());
            return 1;
        }
        if (verbose) {
            std::fprintf(stderr, "%s (%zu bytes)\n", p.c_str(), bytes.size());
        }
        // libFuzzer hands over a buffer of exactly the input's size; so does this (no slack a
        // read past the end could hit unnoticed).
        std::vector<std::uint8_t> exact(bytes.begin(), bytes.end());
        it->second(exact.data(), exact.size());
    }
    if (inputs.empty()) {
        std::fprintf(stderr, "%s: no inputs\n", argv[1]);
        return 1;
    }
    std::printf("%s: %zu inputs ran\n", argv[1], inputs.size());
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "anteroom_fuzz_replay: uncaught exception: %s\n", e.what());
    std::abort();
}
