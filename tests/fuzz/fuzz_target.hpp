#pragma once
// One fuzz target source, two builds:
//
//   - libFuzzer (ANTEROOM_LIBFUZZER, set by the ANTEROOM_FUZZ=ON CMake build with clang): the
//     target becomes LLVMFuzzerTestOneInput of its own executable fuzz_<name>.
//   - replay (every other build, e.g. the debug-asan preset that `make test` uses): the target
//     registers itself by name, and all targets link into one executable,
//     anteroom_fuzz_replay <name> <files-or-dirs...>, which runs each input once (ctest replays
//     tests/fuzz/corpus/<name>/ that way).
//
//   ANTEROOM_FUZZ_TARGET(request_head) {
//       // data, size: the input; return 0. Signal a broken property with std::abort().
//   }
//
// A target must not throw: libFuzzer reports an escaped exception as a crash, and so does the
// replay driver.

#include <cstddef>
#include <cstdint>

#ifdef ANTEROOM_LIBFUZZER

#define ANTEROOM_FUZZ_TARGET(name)                                                                   \
    static int anteroom_fuzz_one_##name(const std::uint8_t* data, std::size_t size);                 \
    extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {              \
        return anteroom_fuzz_one_##name(data, size);                                                 \
    }                                                                                                \
    static int anteroom_fuzz_one_##name(const std::uint8_t* data, std::size_t size)

#else

namespace anteroom::fuzz {
using target_fn = int (*)(const std::uint8_t* data, std::size_t size);
// Called by the macro below before main(); the replay driver looks targets up by name.
bool register_target(const char* name, target_fn fn);
}  // namespace anteroom::fuzz

#define ANTEROOM_FUZZ_TARGET(name)                                                                   \
    static int anteroom_fuzz_one_##name(const std::uint8_t* data, std::size_t size);                 \
    [[maybe_unused]] static const bool anteroom_fuzz_registered_##name =                             \
        ::anteroom::fuzz::register_target(#name, &anteroom_fuzz_one_##name);                         \
    static int anteroom_fuzz_one_##name(const std::uint8_t* data, std::size_t size)

#endif
