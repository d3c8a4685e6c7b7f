// The Redis client against a real redis-server (Debian's, started here on a unix socket in a
// temporary directory: no fixed port): pipelined commands answered in order, Lua scripts by
// EVALSHA with the reload after NOSCRIPT, AUTH, a server that stops answering (SIGSTOP) failing
// pending commands with `timeout` and the client coming back when it answers again, a server
// restart, and stop() with commands in flight. The io_context runs on the test's thread.

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <thread>

#include "redis/client.hpp"
#include "redis/lease.hpp"
#include "tests/support/harness.hpp"
#include "tests/support/redis_server.hpp"

namespace anteroom::test {
namespace {

namespace fs = std::filesystem;
class redis_client_it : public ::testing::Test {
protected:
    void SetUp() override {
        if (!fs::exists(redis_server)) {
            GTEST_SKIP() << "redis-server is not installed (scripts/install-deps.sh --test installs it)";
        }
        dir_ = make_temp_dir("anteroom-redis");
    }
    void TearDown() override {
        if (client_) {
            client_->stop();
        }
        client_.reset();
        server_.reset();
        if (!dir_.empty()) {
            std::error_code ec;
            fs::remove_all(dir_, ec);
        }
    }

    void start_server(const std::string& flag = "", const std::string& value = "") {
        server_ = std::make_unique<redis_server_process>(dir_, flag, value);
        ASSERT_TRUE(server_->ready()) << server_->proc().out();
    }
    void start_client(redis::options o = {}) {
        o.address = "unix:" + redis_server_process::socket_path(dir_);
        o.reconnect_min = std::chrono::milliseconds(20);
        o.reconnect_max = std::chrono::milliseconds(200);
        client_ = redis::client::create(io_, o);
        client_->start([this](bool up) { states_.push_back(up); });
    }
    // Runs the io_context until `pred` holds (true) or the time is up (false).
    bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!pred()) {
            if (std::chrono::steady_clock::now() >= deadline) {
                return false;
            }
            io_.restart();
            io_.run_for(std::chrono::milliseconds(10));
        }
        return true;
    }
    redis::result call(std::vector<std::string> argv) {
        std::optional<redis::result> r;
        client_->command(std::move(argv), [&](redis::result x) { r = std::move(x); });
        EXPECT_TRUE(run_until([&] { return r.has_value(); }));
        return r.value_or(redis::result{redis::errc::timeout, {}});
    }

    std::string dir_;
    net::io_context io_;
    std::unique_ptr<redis_server_process> server_;
    std::shared_ptr<redis::client> client_;
    std::vector<bool> states_;
};

TEST_F(redis_client_it, pipelined_commands_are_answered_in_order) {
    start_server();
    start_client();
    ASSERT_TRUE(run_until([&] { return client_->connected(); }));
    std::vector<std::int64_t> got;
    for (int i = 0; i < 100; ++i) {
        client_->command({"INCR", "room:seq"}, [&](redis::result r) {
            ASSERT_TRUE(r.ok());
            got.push_back(r.reply.integer);
        });
    }
    ASSERT_TRUE(run_until([&] { return got.size() == 100; }));
    for (std::size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i], static_cast<std::int64_t>(i + 1));
    }
    EXPECT_EQ(call({"SET", "k", std::string("a\0b", 3)}).reply.str, "OK");
    const auto v = call({"GET", "k"});
    EXPECT_EQ(v.reply.type, redis::value::kind::string);
    EXPECT_EQ(v.reply.str, std::string("a\0b", 3));  // binary safe
    EXPECT_EQ(call({"GET", "missing"}).reply.type, redis::value::kind::nil);
    const auto bad = call({"INCR", "k"});
    EXPECT_EQ(bad.error, redis::errc::server);
    EXPECT_NE(bad.reply.str.find("not an integer"), std::string::npos);
    EXPECT_EQ(states_, std::vector<bool>{true});
}

TEST_F(redis_client_it, scripts_run_by_sha_and_are_loaded_again_after_a_flush) {
    start_server();
    const redis::script add("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    EXPECT_EQ(add.sha1.size(), 40u);
    start_client();
    client_->register_script(add);
    ASSERT_TRUE(run_until([&] { return client_->connected(); }));
    // Loaded on connect: the server knows it by its SHA-1.
    const auto exists = call({"SCRIPT", "EXISTS", add.sha1});
    ASSERT_EQ(exists.reply.elements.size(), 1u);
    EXPECT_EQ(exists.reply.elements[0].integer, 1);
    std::optional<redis::result> r;
    client_->eval(add, {"counter"}, {"5"}, [&](redis::result x) { r = std::move(x); });
    ASSERT_TRUE(run_until([&] { return r.has_value(); }));
    EXPECT_EQ(r->reply.integer, 5);

    EXPECT_TRUE(call({"SCRIPT", "FLUSH"}).ok());
    r.reset();
    client_->eval(add, {"counter"}, {"2"}, [&](redis::result x) { r = std::move(x); });
    ASSERT_TRUE(run_until([&] { return r.has_value(); }));
    ASSERT_TRUE(r->ok()) << r->reply.str;
    EXPECT_EQ(r->reply.integer, 7);
}

TEST_F(redis_client_it, auth_with_the_password_and_never_ready_with_a_wrong_one) {
    start_server("--requirepass", "s3cret-password-0123");
    redis::options o;
    o.password = "s3cret-password-0123";
    start_client(o);
    ASSERT_TRUE(run_until([&] { return client_->connected(); }));
    EXPECT_EQ(call({"PING"}).reply.str, "PONG");
    client_->stop();

    o.password = "wrong-password-0123456";
    start_client(o);
    ASSERT_TRUE(run_until([&] { return client_->connects() >= 3; }));  // it keeps trying, with backoff
    EXPECT_FALSE(client_->connected());
    EXPECT_EQ(call({"PING"}).error, redis::errc::not_connected);
}

TEST_F(redis_client_it, a_server_that_stops_answering_times_out_and_the_client_comes_back) {
    start_server();
    redis::options o;
    o.command_timeout = std::chrono::milliseconds(200);
    start_client(o);
    ASSERT_TRUE(run_until([&] { return client_->connected(); }));
    server_->proc().send_signal(SIGSTOP);
    const auto before = std::chrono::steady_clock::now();
    const auto r = call({"PING"});
    EXPECT_EQ(r.error, redis::errc::timeout);
    EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(2));
    EXPECT_FALSE(client_->connected());
    EXPECT_EQ(call({"PING"}).error, redis::errc::not_connected);  // fails at once while it is away
    server_->proc().send_signal(SIGCONT);
    ASSERT_TRUE(run_until([&] { return client_->connected(); }));
    EXPECT_EQ(call({"PING"}).reply.str, "PONG");
    EXPECT_EQ(states_, (std::vector<bool>{true, false, true}));
}

TEST_F(redis_client_it, a_restarted_server_is_found_again_and_stop_fails_what_is_in_flight) {
    start_server();
    start_client();
    ASSERT_TRUE(run_until([&] { return client_->connected(); }));
    server_.reset();  // SIGKILL
    ASSERT_TRUE(run_until([&] { return !client_->connected(); }));
    start_server();
    ASSERT_TRUE(run_until([&] { return client_->connected(); }));
    EXPECT_EQ(call({"SET", "a", "1"}).reply.str, "OK");

    // Commands in flight when the client stops get `disconnected`; nothing after that.
    std::vector<redis::errc> errors;
    for (int i = 0; i < 10; ++i) {
        client_->command({"GET", "a"}, [&](redis::result r) { errors.push_back(r.error); });
    }
    client_->stop();
    EXPECT_EQ(errors, std::vector<redis::errc>(10, redis::errc::disconnected));
    EXPECT_EQ(states_, (std::vector<bool>{true, false, true}));
    io_.restart();
    io_.poll();  // whatever the stop left to run
    EXPECT_EQ(states_.size(), 3u);
    EXPECT_EQ(client_->pending(), 0u);
}

// A server that stops reading (shutdown(SHUT_RD) on its side of a unix socket) makes the
// client's next write fail with EPIPE — and raise SIGPIPE, which ends this test binary (gtest
// does not ignore it) unless the client keeps it off its writes. The "server" here answers the
// client's handshake PING, then stops reading and keeps the socket open (no EOF for the client).
TEST_F(redis_client_it, a_server_that_stops_reading_fails_the_command_and_the_process_lives_on) {
    const std::string path = redis_server_process::socket_path(dir_);
    const int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(listener, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    ASSERT_LT(path.size(), sizeof addr.sun_path);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(::bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(listener, 4), 0);
    std::promise<void> done;
    std::thread server([listener, finished = done.get_future()]() mutable {
        const int fd = ::accept(listener, nullptr, nullptr);
        if (fd < 0) {
            return;
        }
        std::string got;
        char buf[256];
        while (got.find("PING") == std::string::npos) {
            const ssize_t n = ::read(fd, buf, sizeof buf);
            if (n <= 0) {
                ::close(fd);
                return;
            }
            got.append(buf, static_cast<std::size_t>(n));
        }
        const char pong[] = "+PONG\r\n";
        (void)!::write(fd, pong, sizeof pong - 1);
        ::shutdown(fd, SHUT_RD);
        finished.wait();
        ::close(fd);
    });
    start_client();
    ASSERT_TRUE(run_until([&] { return client_->connected(); }));
    const auto r = call({"PING"});
    EXPECT_FALSE(r.ok()) << "a write to a server that does not read any more went through";
    EXPECT_FALSE(client_->connected());
    done.set_value();
    server.join();
    ::close(listener);
}

// ---- leases: one holder at a time, takeover after the holder dies -------------------------

class redis_lease_it : public redis_client_it {
protected:
    std::shared_ptr<redis::client> make_client() {
        redis::options o;
        o.address = "unix:" + redis_server_process::socket_path(dir_);
        o.reconnect_min = std::chrono::milliseconds(20);
        o.reconnect_max = std::chrono::milliseconds(200);
        auto c = redis::client::create(io_, o);
        c->start();
        clients_.push_back(c);
        return c;
    }
    std::shared_ptr<redis::lease> make_lease(const std::string& node) {
        auto l = redis::lease::create(make_client(), io_, "anteroom:test:lease", node, opts_);
        leases_.push_back(l);
        return l;
    }
    void TearDown() override {
        for (auto& l : leases_) {
            l->abandon();
        }
        for (auto& c : clients_) {
            c->stop();
        }
        redis_client_it::TearDown();
    }
    redis::lease::options opts_{std::chrono::milliseconds(600), std::chrono::milliseconds(100)};
    std::vector<std::shared_ptr<redis::client>> clients_;
    std::vector<std::shared_ptr<redis::lease>> leases_;
};

TEST_F(redis_lease_it, one_holder_at_a_time_and_a_takeover_after_the_holder_dies) {
    start_server();
    auto a = make_lease("node-a");
    auto b = make_lease("node-b");
    std::vector<std::string> changes;
    a->start([&](bool held) { changes.push_back(std::string("a:") + (held ? "up" : "down")); });
    ASSERT_TRUE(run_until([&] { return a->held(); }));
    b->start([&](bool held) { changes.push_back(std::string("b:") + (held ? "up" : "down")); });
    // For three lease lifetimes a keeps renewing and b never holds it.
    const auto watch_until = std::chrono::steady_clock::now() + 3 * opts_.ttl;
    bool both = false;
    run_until([&] {
        both = both || (a->held() && b->held());
        return std::chrono::steady_clock::now() >= watch_until;
    }, 4 * opts_.ttl);
    EXPECT_FALSE(both);
    EXPECT_TRUE(a->held());
    EXPECT_FALSE(b->held());

    // a dies (stops renewing, gives nothing back): b takes over within ttl + one round.
    const auto died = std::chrono::steady_clock::now();
    a->abandon();
    ASSERT_TRUE(run_until([&] { return b->held(); }, std::chrono::seconds(3)));
    EXPECT_LE(std::chrono::steady_clock::now() - died, opts_.ttl + opts_.ttl / 3 + std::chrono::milliseconds(300));
    EXPECT_EQ(changes, (std::vector<std::string>{"a:up", "a:down", "b:up"}));
}

TEST_F(redis_lease_it, stop_gives_the_lease_back_at_once) {
    start_server();
    auto a = make_lease("node-a");
    auto b = make_lease("node-b");
    a->start();
    ASSERT_TRUE(run_until([&] { return a->held(); }));
    b->start();
    const auto stopped = std::chrono::steady_clock::now();
    a->stop();
    ASSERT_TRUE(run_until([&] { return b->held(); }, std::chrono::seconds(3)));
    EXPECT_LT(std::chrono::steady_clock::now() - stopped, opts_.ttl);  // no need to wait for expiry
}

TEST_F(redis_lease_it, a_holder_cut_off_from_redis_stops_holding_within_the_ttl) {
    start_server();
    auto a = make_lease("node-a");
    bool down = false;
    a->start([&](bool held) { down = !held; });
    ASSERT_TRUE(run_until([&] { return a->held(); }));
    const auto cut = std::chrono::steady_clock::now();
    server_->proc().send_signal(SIGSTOP);
    ASSERT_TRUE(run_until([&] { return !a->held(); }, std::chrono::seconds(3)));
    EXPECT_LE(std::chrono::steady_clock::now() - cut, opts_.ttl);
    ASSERT_TRUE(run_until([&] { return down; }, std::chrono::seconds(2)));
    server_->proc().send_signal(SIGCONT);
    ASSERT_TRUE(run_until([&] { return a->held(); }, std::chrono::seconds(5)));  // and takes it again
}

}  // namespace
}  // namespace anteroom::test
