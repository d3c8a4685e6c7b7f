// conn_stream's plain reads over real loopback sockets: when the kernel says nothing is left to
// read (TCP_INQ, proxy/drained_read.hpp), the next read waits for the socket's next epoll edge
// instead of trying a recv that can only say EAGAIN; no byte and no end of stream that arrives
// in between is missed.
#include <gtest/gtest.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <string>

#include "proxy/stream_impl.hpp"

namespace anteroom::proxy {
namespace {

using namespace std::chrono_literals;

// A connected pair on 127.0.0.1 (port 0): `ours` read through a conn_stream on `ioc`, `peer`
// a plain blocking socket the test writes with. One read at a time; its outcome in `done`,
// `ec`, `data`.
struct socket_pair {
    net::io_context ioc;
    tcp::socket peer{ioc};
    std::optional<conn_stream> ours;
    std::string buffer;
    bool done = false;
    beast::error_code ec;
    std::string data;

    explicit socket_pair(bool hint = true) {
        tcp_acceptor acceptor(ioc.get_executor(), tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
        if (hint) {
            EXPECT_TRUE(enable_input_hint(acceptor.native_handle()));  // as the server's listeners
        }
        peer.connect(acceptor.local_endpoint());
        ours.emplace(acceptor.accept());
    }
    void send(std::string_view s) { net::write(peer, net::buffer(s)); }

    // Starts one read of up to `size` bytes.
    void start(std::size_t size = 64) {
        done = false;
        ec = {};
        data.clear();
        buffer.assign(size, '\0');
        ours->async_read_some(net::buffer(buffer), [this](beast::error_code e, std::size_t n) {
            done = true;
            ec = e;
            data = buffer.substr(0, n);
        });
    }
    // Runs what is ready now; true when the read is still waiting.
    bool waiting() {
        ioc.restart();
        ioc.poll();
        return !done;
    }
    // Runs the loop until the read finished; false after 10 s (a lost wake-up).
    bool finish() {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!done && std::chrono::steady_clock::now() < deadline) {
            ioc.restart();
            ioc.run_one_for(100ms);
        }
        return done;
    }
    bool read(std::size_t size = 64) {
        start(size);
        return finish();
    }
};

TEST(conn_stream, a_read_after_a_short_read_waits_for_the_next_bytes) {
    socket_pair p;
    p.send("abc");
    ASSERT_TRUE(p.read());
    EXPECT_EQ(p.data, "abc");

    p.start();
    EXPECT_TRUE(p.waiting());  // nothing was sent: the read waits
    p.send("de");
    ASSERT_TRUE(p.finish());
    EXPECT_FALSE(p.ec);
    EXPECT_EQ(p.data, "de");
}

TEST(conn_stream, bytes_that_arrive_between_two_reads_are_not_missed) {
    socket_pair p;
    p.send("abc");
    ASSERT_TRUE(p.read());

    // The bytes arrive while no read is pending, and the loop sees their edge before the next
    // read starts.
    p.send("de");
    p.ioc.restart();
    p.ioc.poll();
    ASSERT_TRUE(p.read());
    EXPECT_EQ(p.data, "de");

    // The bytes arrive while no read is pending, and the next read starts before the loop
    // looked at the socket again.
    p.send("fgh");
    ASSERT_TRUE(p.read());
    EXPECT_EQ(p.data, "fgh");
}

// The peer's FIN came with the last data (an upstream that answers and closes, a client that
// sends a request and shuts down its side): the read that takes the data must not leave the
// socket waiting for an edge that already came.
TEST(conn_stream, an_end_of_stream_that_arrived_with_the_data_is_reported_by_the_next_read) {
    for (const bool hint : {true, false}) {
        socket_pair p(hint);
        p.send("abc");
        p.peer.shutdown(tcp::socket::shutdown_send);
        ASSERT_TRUE(p.read());
        EXPECT_EQ(p.data, "abc");
        ASSERT_TRUE(p.read()) << "hint " << hint;
        EXPECT_EQ(p.ec, net::error::eof);
    }
}

TEST(conn_stream, a_read_that_fills_its_buffer_leaves_the_rest_for_the_next_read) {
    socket_pair p;
    p.send(std::string(16, 'x') + "rest");
    ASSERT_TRUE(p.read(16));
    EXPECT_EQ(p.data, std::string(16, 'x'));
    ASSERT_TRUE(p.read());
    EXPECT_EQ(p.data, "rest");
}

TEST(conn_stream, end_of_stream_and_cancel_end_a_drained_socket_s_read) {
    socket_pair p;
    p.send("abc");
    ASSERT_TRUE(p.read());

    p.start();
    ASSERT_TRUE(p.waiting());
    beast::error_code ec;
    p.ours->socket().cancel(ec);
    ASSERT_TRUE(p.finish());
    EXPECT_EQ(p.ec, net::error::operation_aborted);

    p.start();
    ASSERT_TRUE(p.waiting());
    p.peer.shutdown(tcp::socket::shutdown_send);
    ASSERT_TRUE(p.finish());
    EXPECT_EQ(p.ec, net::error::eof);
}

// Counts this thread's receive system calls (the kernel's syscalls:sys_enter_recvfrom and
// sys_enter_recvmsg tracepoints, read through perf_event_open). Not available where tracing is
// not.
class recv_counter {
public:
    recv_counter() {
        for (const char* dir : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}) {
            fds_[0] = open_tracepoint(dir, "sys_enter_recvfrom");
            fds_[1] = open_tracepoint(dir, "sys_enter_recvmsg");
            if (available()) {
                break;
            }
            close_all();
        }
    }
    ~recv_counter() { close_all(); }
    recv_counter(const recv_counter&) = delete;
    recv_counter& operator=(const recv_counter&) = delete;

    bool available() const { return fds_[0] >= 0 && fds_[1] >= 0; }
    void start() {
        for (int fd : fds_) {
            ::ioctl(fd, PERF_EVENT_IOC_RESET, 0);
            ::ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
        }
    }
    long long stop() {
        long long total = 0;
        for (int fd : fds_) {
            ::ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
            long long n = 0;
            if (::read(fd, &n, sizeof n) != sizeof n) {
                return -1;
            }
            total += n;
        }
        return total;
    }

private:
    static int open_tracepoint(const std::string& dir, const std::string& event) {
        std::ifstream f(dir + "/events/syscalls/" + event + "/id");
        unsigned long long id = 0;
        if (!(f >> id)) {
            return -1;
        }
        perf_event_attr attr{};
        attr.type = PERF_TYPE_TRACEPOINT;
        attr.size = sizeof attr;
        attr.config = id;
        attr.disabled = 1;
        return static_cast<int>(::syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));  // this thread
    }
    void close_all() {
        for (int& fd : fds_) {
            if (fd >= 0) {
                ::close(fd);
            }
            fd = -1;
        }
    }

    int fds_[2] = {-1, -1};
};

// The point of the drained read: a request-answer exchange costs one recv per message, not
// two (Asio's own read tries the socket at once after every successful read, and on a socket
// whose peer has not answered yet that recv can only return EAGAIN).
TEST(conn_stream, an_exchange_of_messages_costs_one_recv_per_message) {
    recv_counter counter;
    if (!counter.available()) {
        GTEST_SKIP() << "the syscalls:sys_enter_recv* tracepoints are not available here";
    }
    socket_pair p;
    p.send("hello");
    ASSERT_TRUE(p.read());

    constexpr int messages = 50;
    counter.start();
    for (int i = 0; i < messages; ++i) {
        p.start();  // as the proxy does right after sending an answer
        ASSERT_TRUE(p.waiting());
        p.send("ping");
        ASSERT_TRUE(p.finish());
        ASSERT_EQ(p.data, "ping");
    }
    const long long recvs = counter.stop();
    EXPECT_EQ(recvs, messages);
}

}  // namespace
}  // namespace anteroom::proxy
