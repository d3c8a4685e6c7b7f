#pragma once
// A Redis client on Asio: hiredis's asynchronous API with its socket watched by the io_context
// the client lives on, so no call ever blocks the thread. Commands are pipelined on one
// connection and answered in order; each has a deadline (a server that stops answering fails
// every pending command with `timeout` and the connection is dropped and made again). While
// disconnected, commands fail at once with `not_connected` — the caller decides what that
// means (fail open on local state, or closed). Reconnects with a doubling backoff. Lua scripts
// are sent as EVALSHA with the SHA-1 computed here, loaded with SCRIPT LOAD on every connect
// and once more when the server answers NOSCRIPT.
//
// One thread: create, start, stop and every call happen on the io_context's thread (post to it
// from elsewhere); callbacks run there too.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.hpp"
#include "common/net.hpp"

namespace anteroom::redis {

struct value {
    enum class kind : std::uint8_t { nil, integer, string, status, error, array };
    kind type = kind::nil;
    std::int64_t integer = 0;
    std::string str;  // string, status or error text
    std::vector<value> elements;
};

enum class errc : std::uint8_t {
    ok,
    not_connected,  // no connection now (starting, reconnecting, stopped)
    timeout,        // no answer within command_timeout; the connection was dropped
    disconnected,   // the connection broke before the answer came
    overloaded,     // more than max_pending commands waiting for answers
    server,         // the server answered with an error (value.str has it)
};
std::string_view to_string(errc e);

struct result {
    errc error = errc::ok;
    value reply;
    bool ok() const { return error == errc::ok; }
};
using callback = std::function<void(result)>;

struct options {
    std::string address = "127.0.0.1:6379";  // host:port, [v6]:port, or unix:/path/to/socket
    std::string password;                    // "" = no AUTH
    std::chrono::milliseconds connect_timeout{1000};
    std::chrono::milliseconds command_timeout{500};
    std::chrono::milliseconds reconnect_min{100};
    std::chrono::milliseconds reconnect_max{5000};
    std::size_t max_pending = 65536;
};

// A Lua script and its SHA-1 (hex), as EVALSHA names it.
struct script {
    explicit script(std::string source);
    std::string source;
    std::string sha1;
};

class client : public std::enable_shared_from_this<client> {
public:
    static std::shared_ptr<client> create(net::io_context& io, options o);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    // Connects (and keeps reconnecting) until stop(). `on_state(true|false)` is called when the
    // connection is ready (after AUTH and the scripts) and when it is lost.
    void start(std::function<void(bool connected)> on_state = {});
    // Drops the connection; pending commands fail with `disconnected`. No callback after it.
    void stop();
    bool connected() const;

    // Loaded on every connect before on_state(true); eval() of an unregistered script loads it
    // on NOSCRIPT all the same.
    void register_script(const script& s);

    void command(std::vector<std::string> argv, callback cb);
    void eval(const script& s, const std::vector<std::string>& keys, const std::vector<std::string>& args,
              callback cb);

    // Figures for metrics and tests.
    std::uint64_t connects() const { return connects_; }
    std::size_t pending() const;

    struct conn;  // one hiredis context and its socket watch (client.cpp)

private:
    client(net::io_context& io, options o);
    void connect();
    void ready(bool ok);
    void lost();
    void schedule_reconnect();
    void sweep();
    void send(std::vector<std::string> argv, callback cb);
    // Logs a problem when it differs from the last one logged (a server that stays away is
    // reported once, not on every retry); "" after a good connect.
    void report(log_level level, const std::string& text);

    net::io_context& io_;
    options opts_;
    std::shared_ptr<conn> conn_;
    bool ready_ = false;      // commands may go out
    bool announced_ = false;  // on_state(true) was said and not yet taken back
    bool stopped_ = true;
    std::chrono::milliseconds backoff_;
    std::uint64_t connects_ = 0;
    std::vector<script> scripts_;
    std::function<void(bool)> on_state_;
    std::string last_reported_;
    net::steady_timer reconnect_timer_;
    net::steady_timer sweep_timer_;
};

// The reply of a hiredis call as a value (exposed for tests of the conversion).
value from_hiredis(const void* redis_reply);

}  // namespace anteroom::redis
