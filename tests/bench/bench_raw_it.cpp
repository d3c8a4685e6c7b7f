// anteroom-bench raw, the real binary, against the fake upstream: the JSON report must agree with
// what the server saw, and every attempt must end exactly once (a response or one error kind).

#include <gtest/gtest.h>

#include <stdlib.h>

#include <openssl/ssl.h>

#include <boost/asio/ssl.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/test_cert.hpp"

namespace anteroom::test {

namespace {

struct bench_run {
    run_result result;
    nlohmann::json report;
};

class BenchRaw : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (std::filesystem::temp_directory_path() / "bench-raw-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    bench_run bench(std::vector<std::string> args) {
        const auto json_path = dir_ + "/report.json";
        std::filesystem::remove(json_path);
        std::vector<std::string> argv{ANTEROOM_BENCH_BINARY, "raw", "--json", json_path};
        argv.insert(argv.end(), args.begin(), args.end());
        bench_run r;
        r.result = run_process(argv, std::chrono::seconds(30));
        std::ifstream in(json_path);
        if (in) {
            r.report = nlohmann::json::parse(in);
        }
        return r;
    }

    static void expect_every_attempt_ends_once(const nlohmann::json& j) {
        EXPECT_EQ(j["attempts"].get<std::uint64_t>(),
                  j["responses"].get<std::uint64_t>() + j["errors"]["total"].get<std::uint64_t>())
            << j.dump(2);
        std::uint64_t classes = 0;
        for (const char* c : {"1xx", "2xx", "3xx", "4xx", "5xx"}) {
            classes += j["status"][c].get<std::uint64_t>();
        }
        EXPECT_EQ(classes, j["responses"].get<std::uint64_t>());
        EXPECT_EQ(j["latency_us"]["count"], j["responses"]);
    }

    std::string dir_;
};

// An HTTPS server on 127.0.0.1:0 that answers every request "200 ok" (closing when asked) and
// records what happened at the TLS level: handshakes (resumed or not), SNI, ALPN, peers.
class tls_server {
public:
    explicit tls_server(const test_certificate& cert) {
        ctx_.use_certificate_chain(net::buffer(cert.cert_pem));
        ctx_.use_private_key(net::buffer(cert.key_pem), net::ssl::context::pem);
        SSL_CTX_set_alpn_select_cb(ctx_.native_handle(), select_http11, nullptr);
        acceptor_.open(tcp::v4());
        acceptor_.bind({net::ip::make_address("127.0.0.1"), 0});
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        net::co_spawn(ioc_, accept_loop(), net::detached);
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~tls_server() {
        ioc_.stop();
        thread_.join();
    }
    std::string url() const { return "https://127.0.0.1:" + std::to_string(port_) + "/"; }

    std::atomic<std::size_t> handshakes{0};
    std::atomic<std::size_t> resumed{0};
    std::atomic<std::size_t> requests{0};

    std::set<std::string> peers() const { return copy(peers_); }
    std::set<std::string> server_names() const { return copy(names_); }
    std::set<std::string> alpn() const { return copy(alpn_); }

private:
    static int select_http11(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                             unsigned inlen, void* /*arg*/) {
        static constexpr unsigned char ours[] = "\x08http/1.1";
        unsigned char* selected = nullptr;
        if (SSL_select_next_proto(&selected, outlen, ours, sizeof ours - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED) {
            return SSL_TLSEXT_ERR_NOACK;
        }
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
    }
    std::set<std::string> copy(const std::set<std::string>& s) const {
        std::lock_guard lock(mu_);
        return s;
    }

    net::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, sock] = co_await acceptor_.async_accept(net::as_tuple(net::use_awaitable));
            if (ec) {
                co_return;
            }
            net::co_spawn(ioc_, serve(std::move(sock)), net::detached);
        }
    }

    net::awaitable<void> serve(tcp::socket sock) {
        constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
        beast::error_code ignored;
        const auto peer = sock.remote_endpoint(ignored).address().to_string();
        net::ssl::stream<tcp::socket> s(std::move(sock), ctx_);
        auto [hec] = co_await s.async_handshake(net::ssl::stream_base::server, use_tuple);
        if (hec) {
            co_return;
        }
        SSL* ssl = s.native_handle();
        ++handshakes;
        resumed += SSL_session_reused(ssl) != 0 ? 1 : 0;
        const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        const unsigned char* alpn = nullptr;
        unsigned alpn_len = 0;
        SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
        {
            std::lock_guard lock(mu_);
            peers_.insert(peer);
            names_.insert(sni != nullptr ? sni : "");
            alpn_.insert(std::string(reinterpret_cast<const char*>(alpn), alpn_len));
        }
        beast::flat_buffer buf;
        for (;;) {
            http::request<http::string_body> req;
            auto [rec, rn] = co_await http::async_read(s, buf, req, use_tuple);
            if (rec) {
                co_return;
            }
            ++requests;
            http::response<http::string_body> res{http::status::ok, 11};
            res.body() = "ok\n";
            res.keep_alive(req.keep_alive());
            res.prepare_payload();
            auto [wec, wn] = co_await http::async_write(s, res, use_tuple);
            if (wec || !req.keep_alive()) {
                co_return;  // closes without close_notify, as servers often do after Connection: close
            }
        }
    }

    net::io_context ioc_{1};
    net::ssl::context ctx_{net::ssl::context::tls_server};
    tcp::acceptor acceptor_{ioc_};
    std::uint16_t port_ = 0;
    std::thread thread_;
    mutable std::mutex mu_;
    std::set<std::string> peers_;
    std::set<std::string> names_;
    std::set<std::string> alpn_;
};

std::string write_pem(const std::string& dir, const std::string& name, const std::string& pem) {
    const auto path = dir + "/" + name;
    std::ofstream(path) << pem;
    return path;
}

}  // namespace

TEST_F(BenchRaw, KeepAliveRunCountsWhatTheServerSawByStatusClass) {
    fake_upstream up;
    const auto url = "http://" + up.address() + "/";
    auto r = bench({"-c", "4", "-t", "2", "-d", "1s", "--path", "/echo", "--path", "/status/404", "--path",
                    "/status/503", url});
    ASSERT_EQ(r.result.code, 0) << r.result.err;
    const auto& j = r.report;
    ASSERT_FALSE(j.is_null());
    expect_every_attempt_ends_once(j);
    EXPECT_EQ(j["errors"]["total"], 0);
    const auto responses = j["responses"].get<std::uint64_t>();
    EXPECT_GT(responses, 30u);
    EXPECT_EQ(up.request_count(), responses);
    EXPECT_EQ(up.connections_accepted(), 4u);  // keep-alive: one connection each, never reopened
    EXPECT_EQ(j["connections_opened"], 4);
    // Round robin per thread: the three paths within one of each other on each of two threads.
    for (const char* c : {"2xx", "4xx", "5xx"}) {
        EXPECT_NEAR(static_cast<double>(j["status"][c].get<std::uint64_t>()), responses / 3.0, 2.0) << c;
    }
    EXPECT_GE(j["latency_us"]["p99"].get<std::uint64_t>(), j["latency_us"]["p50"].get<std::uint64_t>());
    EXPECT_GE(j["latency_us"]["max"].get<std::uint64_t>(), j["latency_us"]["p99.9"].get<std::uint64_t>());
    EXPECT_GT(j["requests_per_second"].get<double>(), 0.0);
    EXPECT_NE(r.result.out.find("requests/s"), std::string::npos) << r.result.out;
}

TEST_F(BenchRaw, ServerClosingConnectionsIsCountedAsClosedAndReconnected) {
    fake_upstream up;
    auto r = bench({"-c", "2", "-n", "200", "--path", "/echo", "--path", "/close", "http://" + up.address() + "/"});
    ASSERT_EQ(r.result.code, 0) << r.result.err;
    const auto& j = r.report;
    expect_every_attempt_ends_once(j);
    EXPECT_EQ(j["attempts"], 200);
    EXPECT_EQ(j["responses"], 100);
    EXPECT_EQ(j["status"]["2xx"], 100);
    EXPECT_EQ(j["errors"]["closed"], 100);
    EXPECT_EQ(up.request_count(), 200u);  // the server saw every request, answered or not
    EXPECT_EQ(j["connections_opened"].get<std::size_t>(), up.connections_accepted());
}

TEST_F(BenchRaw, NewConnectionPerRequestFromASourceRangeAtAFixedRate) {
    fake_upstream up;
    // 200 req/s for 1 s: exactly 200 slots (k / 200 s < 1 s), whatever the machine's speed.
    auto r = bench({"-c", "4", "-R", "200", "-d", "1s", "--no-keepalive", "--source", "127.0.0.2-127.0.0.9",
                    "--path", "/echo", "http://" + up.address() + "/"});
    ASSERT_EQ(r.result.code, 0) << r.result.err;
    const auto& j = r.report;
    expect_every_attempt_ends_once(j);
    EXPECT_EQ(j["attempts"], 200);
    EXPECT_EQ(j["errors"]["total"], 0) << j.dump(2);
    EXPECT_EQ(j["connections_opened"], j["responses"]);
    EXPECT_EQ(up.connections_accepted(), 200u);
    const auto seen = up.requests();
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.front().header("Connection"), "close");
    EXPECT_GT(j["elapsed_seconds"].get<double>(), 0.9);
}

TEST_F(BenchRaw, ConnectFailuresAndTimeoutsAreErrorsByKind) {
    auto refused = bench({"-c", "2", "-n", "20", "http://127.0.0.1:" + std::to_string(closed_port()) + "/"});
    ASSERT_EQ(refused.result.code, 0) << refused.result.err;
    expect_every_attempt_ends_once(refused.report);
    EXPECT_EQ(refused.report["errors"]["connect"], 20);
    EXPECT_EQ(refused.report["responses"], 0);

    fake_upstream up;
    auto slow = bench({"-c", "2", "-n", "2", "--timeout", "200ms", "--path", "/delay/3000", "http://" + up.address() + "/"});
    ASSERT_EQ(slow.result.code, 0) << slow.result.err;
    expect_every_attempt_ends_once(slow.report);
    EXPECT_EQ(slow.report["errors"]["timeout"], 2);
    EXPECT_LT(slow.report["elapsed_seconds"].get<double>(), 2.0);
}

TEST_F(BenchRaw, TlsKeepAliveShakesHandsOncePerConnectionAndVerifiesWhenAsked) {
    const auto ca = make_test_ca("bench test CA");
    tls_server server(make_test_certificate_signed_by(ca, "shop.test", {"shop.test"}));
    auto r = bench({"-c", "2", "-t", "2", "-n", "100", "--cacert", write_pem(dir_, "ca.pem", ca.cert_pem), "--sni",
                    "shop.test", server.url()});
    ASSERT_EQ(r.result.code, 0) << r.result.err;
    const auto& j = r.report;
    expect_every_attempt_ends_once(j);
    EXPECT_EQ(j["responses"], 100);
    EXPECT_EQ(j["errors"]["total"], 0) << j.dump(2);
    EXPECT_EQ(j["connections_opened"], 2);
    EXPECT_EQ(j["target"], server.url().substr(0, server.url().size() - 1));
    const auto& t = j["tls"];
    EXPECT_EQ(t["full_handshakes"], 2);
    EXPECT_EQ(t["resumed_handshakes"], 0);
    EXPECT_EQ(t["verified"], true);
    EXPECT_EQ(t["protocol"], "TLSv1.3");
    EXPECT_EQ(t["alpn"], "http/1.1");
    EXPECT_EQ(server.handshakes.load(), 2u);
    EXPECT_EQ(server.requests.load(), 100u);
    EXPECT_EQ(server.server_names(), std::set<std::string>{"shop.test"});
    EXPECT_EQ(server.alpn(), std::set<std::string>{"http/1.1"});
    EXPECT_NE(r.result.out.find("handshakes: 2 full, 0 resumed"), std::string::npos) << r.result.out;
}

TEST_F(BenchRaw, TlsNewConnectionPerRequestResumesSessionsOnlyWhenAsked) {
    tls_server server(make_test_certificate("bench.test", {"bench.test"}));
    // Fixed rate and a source range over TLS; each of the two slots resumes its own session.
    for (const std::string version : {"1.3", "1.2"}) {
        const auto before = server.handshakes.load();
        const auto resumed_before = server.resumed.load();
        auto r = bench({"-c", "2", "-n", "20", "-R", "400", "--no-keepalive", "--tls-resume", "--tls-version", version,
                        "--source", "127.0.0.2-127.0.0.5", server.url()});
        ASSERT_EQ(r.result.code, 0) << r.result.err;
        const auto& j = r.report;
        expect_every_attempt_ends_once(j);
        EXPECT_EQ(j["responses"], 20) << version;
        EXPECT_EQ(j["errors"]["total"], 0) << j.dump(2);
        EXPECT_EQ(j["connections_opened"], 20);
        EXPECT_EQ(j["tls"]["protocol"], "TLSv" + version);
        EXPECT_EQ(j["tls"]["full_handshakes"], 2) << version;
        EXPECT_EQ(j["tls"]["resumed_handshakes"], 18) << version;
        EXPECT_EQ(server.handshakes.load() - before, 20u);
        EXPECT_EQ(server.resumed.load() - resumed_before, 18u);
    }
    EXPECT_EQ(server.peers(), (std::set<std::string>{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}));
    EXPECT_EQ(server.server_names(), std::set<std::string>{""});  // an IP literal is not sent as SNI

    const auto resumed_before = server.resumed.load();
    auto full = bench({"-c", "2", "-n", "10", "--no-keepalive", server.url()});
    ASSERT_EQ(full.result.code, 0) << full.result.err;
    EXPECT_EQ(full.report["tls"]["full_handshakes"], 10);
    EXPECT_EQ(full.report["tls"]["resumed_handshakes"], 0);
    EXPECT_EQ(server.resumed.load(), resumed_before);
}

TEST_F(BenchRaw, TlsHandshakeFailuresAreTheirOwnErrorKind) {
    const auto ca = make_test_ca("the right CA");
    tls_server server(make_test_certificate_signed_by(ca, "shop.test", {"shop.test"}));
    const auto wrong_ca = write_pem(dir_, "wrong.pem", make_test_ca("some other CA").cert_pem);
    const auto right_ca = write_pem(dir_, "right.pem", ca.cert_pem);
    for (const auto& args : std::vector<std::vector<std::string>>{{"--cacert", wrong_ca, "--sni", "shop.test"},
                                                                  {"--cacert", right_ca, "--sni", "other.test"},
                                                                  {"--cacert", right_ca}}) {  // no SNI: checks the IP
        auto argv = args;
        argv.insert(argv.end(), {"-c", "2", "-n", "6", server.url()});
        auto r = bench(argv);
        ASSERT_EQ(r.result.code, 0) << r.result.err;
        expect_every_attempt_ends_once(r.report);
        EXPECT_EQ(r.report["errors"]["handshake"], 6) << r.report.dump(2);
        EXPECT_EQ(r.report["responses"], 0);
        EXPECT_EQ(r.report["tls"]["full_handshakes"], 0);
    }
    // A self-signed certificate for the IP address, trusted as itself: verified without SNI.
    test_certificate_spec spec;
    spec.common_name = "127.0.0.1";
    spec.ip_addresses = {"127.0.0.1"};
    spec.key = test_key_type::rsa_2048;
    const auto self = make_test_certificate(spec);
    tls_server by_ip(self);
    auto ok = bench({"-c", "1", "-n", "3", "--cacert", write_pem(dir_, "self.pem", self.cert_pem), by_ip.url()});
    ASSERT_EQ(ok.result.code, 0) << ok.result.err;
    EXPECT_EQ(ok.report["responses"], 3) << ok.report.dump(2);

    fake_upstream plain;  // speaks HTTP, not TLS: the ClientHello gets an HTTP 400
    auto r = bench({"-c", "1", "-n", "3", "https://" + plain.address() + "/"});
    ASSERT_EQ(r.result.code, 0) << r.result.err;
    expect_every_attempt_ends_once(r.report);
    EXPECT_EQ(r.report["errors"]["handshake"], 3) << r.report.dump(2);
}

TEST_F(BenchRaw, BadCommandLinesExitTwoWithAMessage) {
    auto tls = run_process({ANTEROOM_BENCH_BINARY, "raw", "--tls-resume", "http://127.0.0.1:8443/"});
    EXPECT_EQ(tls.code, 2);
    EXPECT_NE(tls.err.find("need an https:// URL"), std::string::npos) << tls.err;
    auto bogus = run_process({ANTEROOM_BENCH_BINARY, "raw", "-c", "0", "http://127.0.0.1:1/"});
    EXPECT_EQ(bogus.code, 2);
    EXPECT_NE(bogus.err.find("--connections"), std::string::npos) << bogus.err;
    EXPECT_EQ(run_process({ANTEROOM_BENCH_BINARY, "nonsense"}).code, 2);
}

}  // namespace anteroom::test
