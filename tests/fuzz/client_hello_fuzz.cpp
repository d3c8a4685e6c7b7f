// libFuzzer target for the ClientHello scanner and parser (bot_detect/client_hello.hpp): the
// first bytes of every TLS connection reach them before any authentication. Checks that they
// agree with each other and never read out of bounds (run with AddressSanitizer).
// The seed corpus holds the ClientHellos of tests/bot_detect/tls_vectors as binary files.
// `make fuzz` runs it as fuzz_client_hello (-max_len=70000: the scanner's 64 KiB bound and a bit).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "bot_detect/client_hello.hpp"
#include "tests/fuzz/fuzz_target.hpp"

ANTEROOM_FUZZ_TARGET(client_hello) {
    namespace bd = anteroom::bot_detect;
    const std::span<const std::uint8_t> bytes(data, size);
    const bd::hello_status status = bd::scan_client_hello(bytes);
    const auto hello = bd::parse_client_hello(bytes);
    // A parsed hello implies a complete one. The scan is monotonic: one byte less of a
    // complete input is complete or needs more, never invalid (the proxy reads byte ranges).
    if (hello && status != bd::hello_status::complete) {
        std::abort();
    }
    if (status == bd::hello_status::complete) {
        const auto shorter = bd::scan_client_hello(bytes.first(size - 1));
        if (shorter != bd::hello_status::complete && shorter != bd::hello_status::need_more) {
            std::abort();
        }
    }
    if (hello) {
        const auto fp = bd::ja4(*hello);
        if (fp.size() != 36 || fp[10] != '_' || fp[23] != '_') {
            std::abort();
        }
    }
    return 0;
}
