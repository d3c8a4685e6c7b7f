// Streaming with bounded memory: a large upload and a large download pass through the proxy
// while the process's resident set stays flat. The proxy, the fake upstream and this client
// all run in this process, and all three stream through fixed buffers, so any growth of the
// peak RSS during the transfer is a buffer that grows with the body.
//
// Size: ANTEROOM_STREAM_TEST_BYTES ("1GiB", "256MiB", or a byte count); default 1 GiB each
// way, as the issue asks. Measured in the debug-asan build on the 2-core machine while other
// builds ran: 5-8 s per direction. For a quicker local run:
//   ANTEROOM_STREAM_TEST_BYTES=128MiB build/debug/tests/anteroom_it --gtest_filter='proxy_streaming*'

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "common/config.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/harness.hpp"

namespace anteroom::test {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

constexpr std::uint64_t default_bytes = 1ull << 30;
constexpr std::int64_t max_growth_kib = 32 * 1024;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

std::uint64_t stream_bytes() {
    const char* env = std::getenv("ANTEROOM_STREAM_TEST_BYTES");
    if (env == nullptr || *env == '\0') {
        return default_bytes;
    }
    const auto n = parse_size(env);
    if (!n || *n == 0) {
        ADD_FAILURE() << "ANTEROOM_STREAM_TEST_BYTES=" << env << " is not a size";
        return default_bytes;
    }
    return *n;
}

std::int64_t status_kib(const std::string& key) {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.starts_with(key + ":")) {
            return std::strtoll(line.c_str() + key.size() + 1, nullptr, 10);
        }
    }
    return -1;
}

// Peak-RSS probe: resets the kernel's high-water mark, so peak_growth_kib() is the largest
// resident set since construction minus the resident set at construction.
class rss_probe {
public:
    rss_probe() {
        std::ofstream("/proc/self/clear_refs") << "5";  // resets VmHWM to VmRSS (Linux ≥ 4.0)
        base_ = status_kib("VmRSS");
    }
    std::int64_t peak_growth_kib() const { return status_kib("VmHWM") - base_; }

private:
    std::int64_t base_;
};

// The fake upstream's /upload checksum is sum = sum * 31 + byte over the body. The client
// sends one block over and over; its effect on the sum is affine (sum -> sum * 31^len + c), so
// the expected value costs O(1) per block rather than a pass over every byte.
struct block_checksum {
    std::string block;
    std::uint64_t mul = 1;  // 31^len mod 2^64
    std::uint64_t add = 0;  // the sum of the block from zero

    explicit block_checksum(std::size_t len) : block(len, '\0') {
        for (std::size_t i = 0; i < len; ++i) {
            block[i] = static_cast<char>('A' + (i * 7 + i / 251) % 53);
        }
        add = extend(0, len);
        for (std::size_t i = 0; i < len; ++i) {
            mul *= 31;
        }
    }
    std::uint64_t extend(std::uint64_t sum, std::size_t len) const {
        for (std::size_t i = 0; i < len; ++i) {
            sum = sum * 31 + static_cast<unsigned char>(block[i]);
        }
        return sum;
    }
};

// Runs one client coroutine to completion on a private io_context, for at most `limit`.
template <class F>
void run_client(F&& client, std::chrono::seconds limit) {
    net::io_context ioc;
    bool done = false;
    net::co_spawn(ioc, std::forward<F>(client), [&](std::exception_ptr e) {
        done = true;
        if (e) {
            std::rethrow_exception(e);
        }
    });
    ioc.run_for(limit);
    ASSERT_TRUE(done) << "client did not finish within " << limit.count() << " s";
}

class proxy_streaming : public ::testing::Test {
protected:
    fake_upstream up;
    proxy_under_test px{"[server]\nmax_body_size = \"1TiB\"\n" + upstream_block("[\"" + up.address() + "\"]")};
    const std::uint64_t total = stream_bytes();

    void report(const char* what, steady::time_point start, const rss_probe& rss) const {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start).count();
        std::printf("[ stream   ] %s %llu MiB in %lld ms (%.0f MiB/s), peak RSS growth %lld KiB\n", what,
                    static_cast<unsigned long long>(total >> 20), static_cast<long long>(ms),
                    ms > 0 ? static_cast<double>(total >> 20) * 1000.0 / static_cast<double>(ms) : 0.0,
                    static_cast<long long>(rss.peak_growth_kib()));
    }
};

TEST_F(proxy_streaming, large_upload_passes_with_flat_memory) {
    // A block length coprime with every buffer size on the way, so chunks that were lost,
    // repeated or reordered anywhere change the checksum.
    const block_checksum cs(65521);
    std::uint64_t expected_sum = 0;
    std::string response;
    const rss_probe rss;
    const auto start = steady::now();
    run_client(
        [&]() -> net::awaitable<void> {
            auto ex = co_await net::this_coro::executor;
            tcp::socket sock(ex);
            co_await sock.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), px.port()),
                                        net::use_awaitable);
            const std::string head =
                "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(total) + "\r\n\r\n";
            co_await net::async_write(sock, net::buffer(head), net::use_awaitable);
            for (std::uint64_t sent = 0; sent < total;) {
                const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(cs.block.size(), total - sent));
                co_await net::async_write(sock, net::buffer(cs.block.data(), n), net::use_awaitable);
                expected_sum = n == cs.block.size() ? expected_sum * cs.mul + cs.add : cs.extend(expected_sum, n);
                sent += n;
            }
            beast::flat_buffer buf;
            http::response<http::string_body> res;
            co_await http::async_read(sock, buf, res, net::use_awaitable);
            response = std::to_string(res.result_int()) + " " + res.body();
        },
        120s);
    report("upload", start, rss);
    EXPECT_EQ(response, "200 bytes=" + std::to_string(total) + " sum=" + std::to_string(expected_sum) + "\n");
    EXPECT_LT(rss.peak_growth_kib(), max_growth_kib);
}

TEST_F(proxy_streaming, large_download_passes_with_flat_memory) {
    // The fake upstream's /download pattern: byte i is 'a' + i % 26.
    std::string pattern(65536 + 26, '\0');
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        pattern[i] = static_cast<char>('a' + i % 26);
    }
    std::uint64_t received = 0;
    std::uint64_t mismatched_at = UINT64_MAX;
    unsigned status = 0;
    bool complete = false;
    const rss_probe rss;
    const auto start = steady::now();
    run_client(
        [&]() -> net::awaitable<void> {
            auto ex = co_await net::this_coro::executor;
            tcp::socket sock(ex);
            co_await sock.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), px.port()),
                                        net::use_awaitable);
            const std::string req = "GET /download/" + std::to_string(total) + " HTTP/1.1\r\nHost: x\r\n\r\n";
            co_await net::async_write(sock, net::buffer(req), net::use_awaitable);
            beast::flat_buffer buf;
            buf.reserve(65536);  // Beast reads at most the free capacity: keep body reads large
            http::response_parser<http::buffer_body> p;
            p.body_limit(boost::none);
            co_await http::async_read_header(sock, buf, p, net::use_awaitable);
            status = p.get().result_int();
            auto chunk = std::make_unique<char[]>(65536);
            while (!p.is_done()) {
                p.get().body().data = chunk.get();
                p.get().body().size = 65536;
                auto [ec, n] = co_await http::async_read(sock, buf, p, use_tuple);
                if (ec && ec != http::error::need_buffer) {
                    co_return;
                }
                const std::size_t got = 65536 - p.get().body().size;
                if (mismatched_at == UINT64_MAX &&
                    std::memcmp(chunk.get(), pattern.data() + received % 26, got) != 0) {
                    mismatched_at = received;
                }
                received += got;
            }
            complete = true;
        },
        120s);
    report("download", start, rss);
    EXPECT_EQ(status, 200u);
    EXPECT_TRUE(complete);
    EXPECT_EQ(received, total);
    EXPECT_EQ(mismatched_at, UINT64_MAX) << "body differs from the pattern at byte " << mismatched_at;
    EXPECT_LT(rss.peak_growth_kib(), max_growth_kib);
}

}  // namespace
}  // namespace anteroom::test
