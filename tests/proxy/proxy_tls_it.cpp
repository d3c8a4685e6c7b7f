// TLS termination over real sockets: the handshake (SNI selection, ALPN), session resumption
// with tickets and the TLS 1.2 session cache, plain HTTP on a TLS port, the redirect listener,
// HSTS, certificate reload with a connection kept open (and a bad certificate that keeps the old
// one), upstream TLS with verification, Secure cookies and the JA4 in the access log.
// Certificates are made at test time (tests/support/test_cert).

#include <gtest/gtest.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <netinet/tcp.h>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/harness.hpp"
#include "tests/support/test_cert.hpp"

namespace anteroom::test {
namespace {

using namespace std::chrono_literals;
namespace ssl = net::ssl;

// A temp directory with the certificate files a config points to.
class cert_dir {
public:
    cert_dir() : path_(make_temp_dir("anteroom-tls")) {}
    ~cert_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    // Writes <name>.pem / <name>.key and returns the [[tls.certificate]] table for them.
    std::string add(const std::string& name, const test_certificate& c, const std::string& extra = "") {
        write_test_certificate(c, file(name + ".pem"), file(name + ".key"));
        return "[[tls.certificate]]\ncert = \"" + file(name + ".pem") + "\"\nkey = \"" + file(name + ".key") + "\"\n" +
               extra + "\n";
    }
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

std::string tls_listen(const std::string& extra_listeners = "") {
    return "[server]\nlisten = [{ address = \"127.0.0.1:0\", tls = true }" + extra_listeners + "]\n";
}

// A TLS client on its own io_context; every step is bounded by a timeout so a broken server
// fails the test instead of hanging it.
class tls_client {
public:
    struct options {
        std::string sni = "localhost";
        std::string ca_pem{};               // trust this certificate (verification on when set)
        SSL_SESSION* resume = nullptr;      // offer this session
        int max_version = 0;                // e.g. TLS1_2_VERSION
        bool tickets = true;
        std::vector<std::string> alpn{"http/1.1"};
        std::string ciphers{};              // TLS 1.2 cipher list ("" = OpenSSL's default)
    };

    tls_client(std::uint16_t port, options o) : ctx_(ssl::context::tls_client) {
        SSL_CTX* h = ctx_.native_handle();
        if (o.max_version != 0) {
            SSL_CTX_set_max_proto_version(h, o.max_version);
        }
        if (!o.tickets) {
            SSL_CTX_set_options(h, SSL_OP_NO_TICKET);
        }
        if (!o.ciphers.empty()) {
            SSL_CTX_set_cipher_list(h, o.ciphers.c_str());
        }
        if (!o.ca_pem.empty()) {
            ctx_.add_certificate_authority(net::buffer(o.ca_pem));
            ctx_.set_verify_mode(ssl::verify_peer);
        }
        if (!o.alpn.empty()) {
            std::string wire;
            for (const auto& p : o.alpn) {
                wire += static_cast<char>(p.size());
                wire += p;
            }
            SSL_CTX_set_alpn_protos(h, reinterpret_cast<const unsigned char*>(wire.data()),
                                    static_cast<unsigned>(wire.size()));
        }
        stream_ = std::make_unique<beast::ssl_stream<tcp::socket>>(ioc_, ctx_);
        if (!o.sni.empty()) {
            SSL_set_tlsext_host_name(stream_->native_handle(), o.sni.c_str());
        }
        if (o.resume != nullptr) {
            SSL_set_session(stream_->native_handle(), o.resume);
        }
        const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
        stream_->next_layer().async_connect(ep, [this](beast::error_code e) { ec_ = e; });
        if (!run() || ec_) {
            return;
        }
        stream_->async_handshake(ssl::stream_base::client, [this](beast::error_code e) { ec_ = e; });
        handshaken_ = run() && !ec_;
    }
    ~tls_client() {
        if (session_ != nullptr) {
            SSL_SESSION_free(session_);
        }
    }

    bool ok() const { return handshaken_; }
    beast::error_code ec() const { return ec_; }
    SSL* ssl() { return stream_->native_handle(); }
    bool reused() { return SSL_session_reused(ssl()) != 0; }
    std::string alpn() {
        const unsigned char* p = nullptr;
        unsigned n = 0;
        SSL_get0_alpn_selected(ssl(), &p, &n);
        return std::string(reinterpret_cast<const char*>(p), n);
    }
    std::string peer_cn() {
        X509* x = SSL_get1_peer_certificate(ssl());
        if (x == nullptr) {
            return "";
        }
        char cn[256] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
        X509_free(x);
        return cn;
    }
    // The session to resume later (TLS 1.3 tickets arrive after the handshake, so call this
    // after a response was read).
    SSL_SESSION* session() {
        if (session_ == nullptr) {
            session_ = SSL_get1_session(ssl());
        }
        return session_;
    }

    std::optional<http::response<http::string_body>> request(const std::string& raw) {
        net::async_write(*stream_, net::buffer(raw), [this](beast::error_code e, std::size_t) { ec_ = e; });
        if (!run() || ec_) {
            return std::nullopt;
        }
        http::response<http::string_body> res;
        http::async_read(*stream_, buf_, res, [this](beast::error_code e, std::size_t) { ec_ = e; });
        if (!run() || ec_) {
            return std::nullopt;
        }
        return res;
    }
    std::optional<http::response<http::string_body>> get(const std::string& target, const std::string& host = "localhost",
                                                         const std::string& extra = "") {
        return request("GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + extra + "\r\n");
    }

    // Writes `raw` and reads one response of any size (the parser's body limit lifted); a
    // reader that starts only after the whole request went out, so a large answer fills the
    // socket buffers and the proxy has to wait for the socket to become writable.
    std::optional<http::response<http::string_body>> exchange_large(const std::string& raw) {
        net::async_write(*stream_, net::buffer(raw), [this](beast::error_code e, std::size_t) { ec_ = e; });
        if (!run() || ec_) {
            return std::nullopt;
        }
        http::response_parser<http::string_body> p;
        p.body_limit(boost::none);
        http::async_read(*stream_, buf_, p, [this](beast::error_code e, std::size_t) { ec_ = e; });
        if (!run() || ec_) {
            return std::nullopt;
        }
        return p.release();
    }
    // Bytes read past the last response (none, unless the proxy sent more than it framed).
    std::string buffered() const { return beast::buffers_to_string(buf_.data()); }
    // After an upgrade: bytes both ways on the TLS stream.
    bool write_raw(const std::string& bytes) {
        net::async_write(*stream_, net::buffer(bytes), [this](beast::error_code e, std::size_t) { ec_ = e; });
        return run() && !ec_;
    }
    std::string read_exactly(std::size_t n) {
        std::string out(n, '\0');
        const std::size_t have = std::min(n, buf_.size());
        net::buffer_copy(net::buffer(out), buf_.data(), have);
        buf_.consume(have);
        if (have < n) {
            net::async_read(*stream_, net::buffer(out.data() + have, n - have),
                            [this](beast::error_code e, std::size_t) { ec_ = e; });
            if (!run() || ec_) {
                return {};
            }
        }
        return out;
    }

private:
    bool run() {
        ioc_.restart();
        ioc_.run_for(10s);
        if (!ioc_.stopped()) {
            beast::error_code e;
            stream_->next_layer().close(e);
            ioc_.restart();
            ioc_.run_for(1s);
            ec_ = net::error::timed_out;
            return false;
        }
        return true;
    }

    net::io_context ioc_;
    ssl::context ctx_;
    std::unique_ptr<beast::ssl_stream<tcp::socket>> stream_;
    beast::flat_buffer buf_;
    beast::error_code ec_;
    bool handshaken_ = false;
    SSL_SESSION* session_ = nullptr;
};

double metric(std::uint16_t admin_port, const std::string& series) {
    return metric_value(scrape_metrics(admin_port), series).value_or(0);
}

// ---- handshake ---------------------------------------------------------------------------

TEST(proxy_tls, proxies_over_https_with_alpn_and_forwards_the_scheme) {
    cert_dir dir;
    const auto cert = make_test_certificate("localhost", {"localhost"});
    fake_upstream up;
    proxy_under_test px{tls_listen() + dir.add("site", cert) + upstream_block("[\"" + up.address() + "\"]")};
    const auto full_before = metric(px.admin_port(), "anteroom_tls_handshakes_total{result=\"full\"}");

    tls_client c(px.port(), {.ca_pem = cert.cert_pem});
    ASSERT_TRUE(c.ok()) << c.ec().message();
    EXPECT_EQ(c.alpn(), "http/1.1");
    for (int i = 0; i < 2; ++i) {  // keep-alive over TLS
        auto res = c.get("/hello");
        ASSERT_TRUE(res) << c.ec().message();
        EXPECT_EQ(res->result_int(), 200u);
    }
    ASSERT_EQ(up.request_count(), 2u);
    EXPECT_EQ(up.requests()[0].header("X-Forwarded-Proto"), "https");
    EXPECT_EQ(metric(px.admin_port(), "anteroom_tls_handshakes_total{result=\"full\"}"), full_before + 1);
}

// Many records each way, socket buffers filling up (the proxy waits for writability), bodies
// the proxy streams rather than holds, a re-chunked body gathered into records, and a tunnel
// with reads and writes on the TLS stream at the same time.
TEST(proxy_tls, large_bodies_chunked_bodies_and_a_tunnel_cross_tls_intact) {
    cert_dir dir;
    const auto cert = make_test_certificate("localhost", {"localhost"});
    fake_upstream up;
    proxy_under_test px{tls_listen() + "max_body_size = \"64MiB\"\n" + dir.add("site", cert) +
                        upstream_block("[\"" + up.address() + "\"]")};
    tls_client c(px.port(), {.ca_pem = cert.cert_pem});
    ASSERT_TRUE(c.ok()) << c.ec().message();

    constexpr std::size_t big = 24u << 20;  // larger than loopback's socket buffers
    auto down = c.exchange_large("GET /download/" + std::to_string(big) + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
    ASSERT_TRUE(down) << c.ec().message();
    ASSERT_EQ(down->result_int(), 200u);
    ASSERT_EQ(down->body().size(), big);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < big; ++i) {
        wrong += down->body()[i] != static_cast<char>('a' + i % 26) ? 1 : 0;
    }
    EXPECT_EQ(wrong, 0u);

    std::string body(big, '\0');
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < big; ++i) {
        body[i] = static_cast<char>(i * 7 % 251);
        sum = sum * 31 + static_cast<unsigned char>(body[i]);
    }
    auto upload = c.exchange_large("POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: " +
                                   std::to_string(big) + "\r\n\r\n" + body);
    ASSERT_TRUE(upload) << c.ec().message();
    EXPECT_EQ(upload->body(), "bytes=" + std::to_string(big) + " sum=" + std::to_string(sum) + "\n");

    auto chunked = c.exchange_large("GET /chunked/300000 HTTP/1.1\r\nHost: localhost\r\n\r\n");
    ASSERT_TRUE(chunked) << c.ec().message();
    EXPECT_TRUE(chunked->chunked());
    EXPECT_EQ(chunked->body().size(), 300000u);
    EXPECT_EQ(c.buffered().substr(0, 64), "");

    auto up101 = c.request("GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    ASSERT_TRUE(up101) << c.ec().message();
    ASSERT_EQ(up101->result_int(), 101u);
    const std::string ping(200000, 'p');  // more than one record, echoed while still being sent
    ASSERT_TRUE(c.write_raw(ping)) << c.ec().message();
    EXPECT_EQ(c.read_exactly(ping.size()), ping);
    ASSERT_TRUE(c.write_raw("last")) << c.ec().message();
    EXPECT_EQ(c.read_exactly(4), "last");
}

TEST(proxy_tls, a_client_offering_only_h2_gets_no_alpn_and_is_still_served) {
    cert_dir dir;
    const auto cert = make_test_certificate("localhost", {"localhost"});
    fake_upstream up;
    proxy_under_test px{tls_listen() + dir.add("site", cert) + upstream_block("[\"" + up.address() + "\"]")};
    tls_client c(px.port(), {.ca_pem = cert.cert_pem, .alpn = {"h2"}});
    ASSERT_TRUE(c.ok()) << c.ec().message();
    EXPECT_EQ(c.alpn(), "");
    auto res = c.get("/");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 200u);
}

TEST(proxy_tls, sni_selects_exact_then_wildcard_then_the_default_certificate) {
    cert_dir dir;
    const auto a = make_test_certificate("a.test", {"a.test"});
    const auto wild = make_test_certificate("wild.b.test", {"*.b.test"});
    const auto fallback = make_test_certificate("fallback", {"fallback.test"});
    const auto exact_b = make_test_certificate("exact.b.test", {"exact.b.test"});
    fake_upstream up;
    proxy_under_test px{tls_listen() + dir.add("a", a) + dir.add("wild", wild) +
                        dir.add("fallback", fallback, "default = true") + dir.add("exact", exact_b) +
                        upstream_block("[\"" + up.address() + "\"]")};
    const auto cn_for = [&](const std::string& sni) {
        tls_client c(px.port(), {.sni = sni});
        EXPECT_TRUE(c.ok()) << sni << ": " << c.ec().message();
        return c.peer_cn();
    };
    EXPECT_EQ(cn_for("a.test"), "a.test");
    EXPECT_EQ(cn_for("A.TEST"), "a.test");  // names compare without case
    EXPECT_EQ(cn_for("x.b.test"), "wild.b.test");
    EXPECT_EQ(cn_for("exact.b.test"), "exact.b.test");  // an exact name wins over the wildcard
    EXPECT_EQ(cn_for("deep.x.b.test"), "fallback");     // a wildcard covers one label only
    EXPECT_EQ(cn_for("unknown.test"), "fallback");
    EXPECT_EQ(cn_for(""), "fallback");  // no SNI at all
}

TEST(proxy_tls, ecdsa_and_rsa_certificates_for_one_name_serve_clients_of_either) {
    cert_dir dir;
    const auto ec = make_test_certificate("localhost", {"localhost"});
    const auto rsa = make_test_certificate_rsa("localhost", {"localhost"});
    fake_upstream up;
    proxy_under_test px{tls_listen() + dir.add("ec", ec) + dir.add("rsa", rsa) +
                        upstream_block("[\"" + up.address() + "\"]")};
    // A TLS 1.2 client that offers only an RSA cipher suite gets the RSA certificate.
    tls_client rsa_only(px.port(), {.ca_pem = rsa.cert_pem,
                                    .max_version = TLS1_2_VERSION,
                                    .ciphers = "ECDHE-RSA-AES128-GCM-SHA256"});
    ASSERT_TRUE(rsa_only.ok()) << rsa_only.ec().message();
    tls_client any(px.port(), {.ca_pem = ec.cert_pem});
    ASSERT_TRUE(any.ok()) << any.ec().message();  // verified against the ECDSA certificate
}

// ---- resumption --------------------------------------------------------------------------

void expect_resumes(std::uint16_t port, std::uint16_t admin_port, const test_certificate& cert, int max_version,
                    bool tickets) {
    const auto resumed_before = metric(admin_port, "anteroom_tls_handshakes_total{result=\"resumed\"}");
    tls_client first(port, {.ca_pem = cert.cert_pem, .max_version = max_version, .tickets = tickets});
    ASSERT_TRUE(first.ok()) << first.ec().message();
    ASSERT_TRUE(first.get("/"));  // TLS 1.3 tickets come after the handshake, with the first reads
    ASSERT_NE(first.session(), nullptr);
    tls_client second(port, {.ca_pem = cert.cert_pem, .resume = first.session(), .max_version = max_version,
                             .tickets = tickets});
    ASSERT_TRUE(second.ok()) << second.ec().message();
    EXPECT_TRUE(second.reused());
    auto res = second.get("/");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 200u);
    EXPECT_EQ(metric(admin_port, "anteroom_tls_handshakes_total{result=\"resumed\"}"), resumed_before + 1);
}

TEST(proxy_tls, sessions_resume_with_tickets_and_with_the_tls12_cache) {
    cert_dir dir;
    const auto cert = make_test_certificate("localhost", {"localhost"});
    fake_upstream up;
    // Two worker threads: the ticket keys are shared, so any thread resumes any session.
    proxy_under_test px{tls_listen() + dir.add("site", cert) + upstream_block("[\"" + up.address() + "\"]"), {}, 2};
    expect_resumes(px.port(), px.admin_port(), cert, 0, true);               // TLS 1.3 ticket
    expect_resumes(px.port(), px.admin_port(), cert, TLS1_2_VERSION, true);   // TLS 1.2 ticket
    expect_resumes(px.port(), px.admin_port(), cert, TLS1_2_VERSION, false);  // TLS 1.2 session id
}

// The ticket a session carries (empty without one).
std::string ticket_of(SSL_SESSION* s) {
    const unsigned char* t = nullptr;
    std::size_t n = 0;
    SSL_SESSION_get0_ticket(s, &t, &n);
    return std::string(reinterpret_cast<const char*>(t), n);
}

TEST(proxy_tls, a_resumed_tls13_session_gets_a_new_ticket_for_the_next_connection) {
    cert_dir dir;
    const auto cert = make_test_certificate("localhost", {"localhost"});
    fake_upstream up;
    proxy_under_test px{tls_listen() + dir.add("site", cert) + upstream_block("[\"" + up.address() + "\"]")};
    tls_client first(px.port(), {.ca_pem = cert.cert_pem});
    ASSERT_TRUE(first.ok()) << first.ec().message();
    ASSERT_TRUE(first.get("/one"));  // the tickets arrive after the handshake
    SSL_SESSION* s1 = first.session();
    ASSERT_NE(s1, nullptr);
    const std::string t1 = ticket_of(s1);
    ASSERT_FALSE(t1.empty());
    // A chain of connections, each resuming the session the one before it ended with: every
    // resumption must bring a fresh ticket (TLS 1.3 tickets are for one use, RFC 8446 §C.4).
    std::string previous = t1;
    SSL_SESSION* offer = s1;
    std::vector<std::unique_ptr<tls_client>> chain;
    for (int i = 0; i < 3; ++i) {
        chain.push_back(std::make_unique<tls_client>(px.port(), tls_client::options{.ca_pem = cert.cert_pem, .resume = offer}));
        auto& c = *chain.back();
        ASSERT_TRUE(c.ok()) << c.ec().message();
        ASSERT_TRUE(c.get("/again"));
        EXPECT_TRUE(c.reused()) << "connection " << i;
        EXPECT_EQ(SSL_version(c.ssl()), TLS1_3_VERSION);
        offer = c.session();
        const std::string t = ticket_of(offer);
        EXPECT_FALSE(t.empty()) << "connection " << i;
        EXPECT_NE(t, previous) << "connection " << i << " was resumed without a new ticket";
        previous = t;
    }
}

TEST(proxy_tls, tickets_off_means_no_ticket_resumption) {
    cert_dir dir;
    const auto cert = make_test_certificate("localhost", {"localhost"});
    fake_upstream up;
    proxy_under_test px{tls_listen() + "[tls]\nsession_tickets = false\nsession_cache_size = 0\n" +
                        dir.add("site", cert) + upstream_block("[\"" + up.address() + "\"]")};
    tls_client first(px.port(), {.ca_pem = cert.cert_pem, .max_version = TLS1_2_VERSION});
    ASSERT_TRUE(first.ok());
    ASSERT_TRUE(first.get("/"));
    tls_client second(px.port(), {.ca_pem = cert.cert_pem, .resume = first.session(), .max_version = TLS1_2_VERSION});
    ASSERT_TRUE(second.ok());
    EXPECT_FALSE(second.reused());
}

// ---- plain HTTP, redirect, HSTS ----------------------------------------------------------

TEST(proxy_tls, plain_http_on_the_tls_port_gets_400_and_is_closed) {
    cert_dir dir;
    fake_upstream up;
    proxy_under_test px{tls_listen() + dir.add("site", make_test_certificate("localhost", {"localhost"})) +
                        upstream_block("[\"" + up.address() + "\"]")};
    const auto before = metric(px.admin_port(), "anteroom_tls_handshakes_total{result=\"plain_http\"}");
    raw_client c(px.port(), 5s);
    c.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const auto all = c.read_until_close();
    EXPECT_TRUE(all.starts_with("HTTP/1.1 400 ")) << all;
    EXPECT_NE(all.find("https://"), std::string::npos);
    EXPECT_EQ(up.request_count(), 0u);
    EXPECT_EQ(metric(px.admin_port(), "anteroom_tls_handshakes_total{result=\"plain_http\"}"), before + 1);
}

TEST(proxy_tls, garbage_and_silence_instead_of_a_client_hello_are_cut_off) {
    cert_dir dir;
    fake_upstream up;
    proxy_under_test px{tls_listen() + "[tls]\nhandshake_timeout = \"300ms\"\n" +
                        dir.add("site", make_test_certificate("localhost", {"localhost"})) +
                        upstream_block("[\"" + up.address() + "\"]")};
    raw_client bad(px.port(), 5s);
    bad.send(std::string("\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00", 10));  // a record holding no ClientHello
    EXPECT_TRUE(bad.closed_by_peer());
    raw_client silent(px.port(), 5s);
    EXPECT_TRUE(silent.closed_by_peer());  // handshake_timeout
    EXPECT_TRUE(eventually([&] { return px.server().open_connections() == 0; }));
}

TEST(proxy_tls, redirect_listener_sends_every_request_to_https_on_the_tls_port) {
    cert_dir dir;
    fake_upstream up;
    proxy_under_test px{tls_listen(", { address = \"127.0.0.1:0\", redirect_https = true }") +
                        dir.add("site", make_test_certificate("localhost", {"localhost"})) +
                        upstream_block("[\"" + up.address() + "\"]")};
    const auto eps = px.server().listen_endpoints();
    ASSERT_EQ(eps.size(), 2u);
    const auto tls_port = eps[0].port();
    raw_client c(eps[1].port(), 5s);
    c.send("POST /book/slot?day=3 HTTP/1.1\r\nHost: impfen.example:8080\r\nContent-Length: 2\r\n\r\nab");
    auto res = c.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 308u);
    EXPECT_EQ((*res)[http::field::location],
              "https://impfen.example:" + std::to_string(tls_port) + "/book/slot?day=3");
    // The request body was never read, so that connection closed; a new one without a Host.
    raw_client c2(eps[1].port(), 5s);
    c2.send("GET / HTTP/1.0\r\n\r\n");
    res = c2.read_response();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 400u);
    EXPECT_EQ(up.request_count(), 0u);  // nothing reaches the upstream over plain HTTP
}

TEST(proxy_tls, hsts_is_sent_over_tls_only) {
    cert_dir dir;
    const auto cert = make_test_certificate("localhost", {"localhost"});
    fake_upstream up;
    proxy_under_test px{tls_listen(", \"127.0.0.1:0\"") + "[tls]\nhsts_max_age = \"8760h\"\nhsts_include_subdomains = true\n" +
                        dir.add("site", cert) + upstream_block("[\"" + up.address() + "\"]")};
    tls_client c(px.port(), {.ca_pem = cert.cert_pem});
    ASSERT_TRUE(c.ok());
    auto res = c.get("/");
    ASSERT_TRUE(res);
    EXPECT_EQ((*res)[http::field::strict_transport_security], "max-age=31536000; includeSubDomains");
    auto plain = get(px.server().listen_endpoints()[1].port(), "/");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->count(http::field::strict_transport_security), 0u);
}

// ---- reload ------------------------------------------------------------------------------

TEST(proxy_tls, sighup_reload_serves_the_new_certificate_and_keeps_open_connections) {
    cert_dir dir;
    const auto first = make_test_certificate("first", {"localhost"});
    fake_upstream up;
    // The reload reads the config file again: a server of its own that knows the path.
    const std::string conf_path = dir.file("anteroom.toml");
    {
        std::ofstream f(conf_path);
        f << "state_dir = \"" << dir.path() << "/state\"\n" << tls_listen() << "threads = 1\n"
          << dir.add("site", first) << upstream_block("[\"" + up.address() + "\"]")
          << "[log]\naccess_log = \"\"\nlevel = \"error\"\n[admin]\nenabled = false\n";
    }
    const auto loaded = load_config(conf_path);
    ASSERT_TRUE(loaded.errors.empty()) << loaded.errors.front().text();
    proxy::server_options opts;
    opts.cfg = loaded.cfg;
    opts.config_path = conf_path;
    proxy::server srv(opts);
    std::string err;
    ASSERT_TRUE(srv.start(err)) << err;
    const auto port = srv.listen_endpoints().at(0).port();

    tls_client kept(port, {.ca_pem = first.cert_pem});
    ASSERT_TRUE(kept.ok()) << kept.ec().message();
    ASSERT_TRUE(kept.get("/"));
    EXPECT_EQ(kept.peer_cn(), "first");

    const auto second = make_test_certificate("second", {"localhost"});
    write_test_certificate(second, dir.file("site.pem"), dir.file("site.key"));
    ASSERT_TRUE(srv.reload(err)) << err;
    tls_client fresh(port, {.ca_pem = second.cert_pem});
    ASSERT_TRUE(fresh.ok()) << fresh.ec().message();
    EXPECT_EQ(fresh.peer_cn(), "second");
    auto again = kept.get("/");  // the connection opened before the reload still works
    ASSERT_TRUE(again) << kept.ec().message();
    EXPECT_EQ(again->result_int(), 200u);

    // A broken certificate file: the reload is refused, the running certificate stays.
    { std::ofstream(dir.file("site.pem")) << "-----BEGIN CERTIFICATE-----\nnot base64\n"; }
    EXPECT_FALSE(srv.reload(err));
    EXPECT_NE(err.find("site.pem"), std::string::npos) << err;
    EXPECT_NE(err.find("tls.certificate[0].cert"), std::string::npos) << err;
    tls_client after(port, {.ca_pem = second.cert_pem});
    ASSERT_TRUE(after.ok()) << after.ec().message();
    EXPECT_EQ(after.peer_cn(), "second");
    srv.stop();
    srv.wait();
}

// ---- upstream TLS ------------------------------------------------------------------------

// An HTTPS upstream on its own thread that answers every request with 200 "tls upstream".
class tls_upstream {
public:
    explicit tls_upstream(const test_certificate& cert) : ctx_(ssl::context::tls_server) {
        ctx_.use_certificate_chain(net::buffer(cert.cert_pem));
        ctx_.use_private_key(net::buffer(cert.key_pem), ssl::context::pem);
        acceptor_.open(tcp::v4());
        acceptor_.bind(tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        net::co_spawn(ioc_, accept_loop(), net::detached);
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~tls_upstream() {
        ioc_.stop();
        thread_.join();
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    std::string sni() const {
        std::lock_guard lock(mu_);
        return sni_;
    }
    std::size_t connections() const { return connections_.load(); }

private:
    net::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, sock] = co_await acceptor_.async_accept(net::as_tuple(net::use_awaitable));
            if (ec) {
                co_return;
            }
            ++connections_;
            net::co_spawn(ioc_, serve(std::move(sock)), net::detached);
        }
    }
    net::awaitable<void> serve(tcp::socket sock) {
        beast::ssl_stream<tcp::socket> s(std::move(sock), ctx_);
        auto [hec] = co_await s.async_handshake(ssl::stream_base::server, net::as_tuple(net::use_awaitable));
        if (hec) {
            co_return;
        }
        if (const char* n = SSL_get_servername(s.native_handle(), TLSEXT_NAMETYPE_host_name)) {
            std::lock_guard lock(mu_);
            sni_ = n;
        }
        beast::flat_buffer buf;
        for (;;) {
            http::request<http::string_body> req;
            auto [rec, rn] = co_await http::async_read(s, buf, req, net::as_tuple(net::use_awaitable));
            if (rec) {
                co_return;
            }
            http::response<http::string_body> res{http::status::ok, 11};
            res.body() = "tls upstream";
            res.prepare_payload();
            res.keep_alive(req.keep_alive());
            // /two-records: the answer, then in a TLS record of its own an answer nobody asked
            // for, both released to the network at once (TCP_CORK), so that the proxy's
            // read-ahead takes the second record off the socket with the first.
            const bool two = req.target() == "/two-records";
            const int fd = s.next_layer().native_handle();
            int on = two ? 1 : 0;
            if (two) {
                ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
            }
            auto [wec, wn] = co_await http::async_write(s, res, net::as_tuple(net::use_awaitable));
            if (two && !wec) {
                static constexpr std::string_view stale = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale";
                co_await net::async_write(s, net::buffer(stale), net::as_tuple(net::use_awaitable));
                on = 0;
                ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
            }
            if (wec || !req.keep_alive()) {
                co_return;
            }
        }
    }

    net::io_context ioc_{1};
    ssl::context ctx_;
    tcp::acceptor acceptor_{ioc_};
    std::uint16_t port_ = 0;
    std::thread thread_;
    mutable std::mutex mu_;
    std::string sni_;  // written on the upstream's thread, read by the test
    std::atomic<std::size_t> connections_{0};
};

// An [[upstream]] block for a TLS upstream: its name, address, the name its certificate must
// carry and the CA file it is verified against.
std::string tls_upstream_block(const std::string& name, const std::string& address, const std::string& server_name,
                               const std::string& ca_file) {
    return "[[upstream]]\nname = \"" + name + "\"\nservers = [\"" + address +
           "\"]\ntls = true\ntls_server_name = \"" + server_name + "\"\ntls_ca_file = \"" + ca_file + "\"\n";
}

TEST(proxy_tls, upstream_tls_is_verified_against_the_configured_ca) {
    cert_dir dir;
    const auto ca = make_test_ca("Upstream CA");
    const auto other_ca = make_test_ca("Some other CA");
    tls_upstream up(make_test_certificate_signed_by(ca, "portal.internal", {"portal.internal"}));
    { std::ofstream(dir.file("ca.pem")) << ca.cert_pem; }
    { std::ofstream(dir.file("other.pem")) << other_ca.cert_pem; }
    const auto block = [&](const std::string& name, const std::string& ca_file) {
        return tls_upstream_block(name, up.address(), "portal.internal", ca_file);
    };
    proxy_under_test px{block("good", dir.file("ca.pem")) + block("wrong", dir.file("other.pem")) +
                        "[[route]]\nprefix = \"/\"\nupstream = \"good\"\n[[route]]\nprefix = \"/wrong\"\nupstream = \"wrong\"\n"};
    for (int i = 0; i < 2; ++i) {  // the second request reuses the pooled TLS connection
        auto res = get(px.port(), "/ok");
        ASSERT_TRUE(res);
        EXPECT_EQ(res->result_int(), 200u);
        EXPECT_EQ(res->body(), "tls upstream");
    }
    EXPECT_EQ(up.sni(), "portal.internal");
    EXPECT_EQ(up.connections(), 1u);
    auto wrong = get(px.port(), "/wrong");
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->result_int(), 502u);  // verification failed: never an unverified request
}

// Input that OpenSSL read ahead with an answer (here: an unasked second answer in its own
// record) stays inside OpenSSL, where the pool's probe of the socket cannot see it; such a
// connection must not carry the next request, which would get the stale answer.
TEST(proxy_tls, an_upstream_tls_connection_with_input_read_ahead_is_not_reused) {
    cert_dir dir;
    const auto ca = make_test_ca("Upstream CA");
    tls_upstream up(make_test_certificate_signed_by(ca, "portal.internal", {"portal.internal"}));
    { std::ofstream(dir.file("ca.pem")) << ca.cert_pem; }
    proxy_under_test px{tls_upstream_block("good", up.address(), "portal.internal", dir.file("ca.pem"))};
    auto first = get(px.port(), "/two-records");
    ASSERT_TRUE(first);
    EXPECT_EQ(first->body(), "tls upstream");
    auto next = get(px.port(), "/next");
    ASSERT_TRUE(next);
    EXPECT_EQ(next->result_int(), 200u);
    EXPECT_EQ(next->body(), "tls upstream");
    EXPECT_EQ(up.connections(), 2u);
}

TEST(proxy_tls, upstream_tls_checks_the_name_too) {
    cert_dir dir;
    const auto ca = make_test_ca("Upstream CA");
    tls_upstream up(make_test_certificate_signed_by(ca, "portal.internal", {"portal.internal"}));
    { std::ofstream(dir.file("ca.pem")) << ca.cert_pem; }
    proxy_under_test px{tls_upstream_block("misnamed", up.address(), "other.internal", dir.file("ca.pem"))};
    auto res = get(px.port(), "/");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 502u);
}

// ---- what the request pipeline sees ------------------------------------------------------

TEST(proxy_tls, cookies_are_secure_and_the_access_log_has_the_ja4) {
    cert_dir dir;
    const auto cert = make_test_certificate("localhost", {"localhost"});
    fake_upstream up;
    const std::string log = dir.file("access.log");
    proxy_under_test px{tls_listen() + dir.add("site", cert) + upstream_block("[\"" + up.address() + "\"]") +
                        "[[room]]\nid = \"book\"\npaths = [\"/book\"]\nnew_users_per_minute = 1\nmax_active_users = 1\n"
                        "[log]\naccess_log = \"" + log + "\"\nlevel = \"warn\"\n"};
    tls_client c(px.port(), {.ca_pem = cert.cert_pem});
    ASSERT_TRUE(c.ok());
    auto res = c.get("/book", "localhost", "Accept: text/html\r\n");
    ASSERT_TRUE(res);
    bool any_cookie = false;
    for (const auto& f : res->base()) {
        if (f.name() == http::field::set_cookie) {
            any_cookie = true;
            EXPECT_NE(f.value().find("Secure"), std::string_view::npos) << f.value();
        }
    }
    EXPECT_TRUE(any_cookie);
    std::string text;
    EXPECT_TRUE(eventually([&] {
        std::ifstream f(log);
        text.assign(std::istreambuf_iterator<char>(f), {});
        return text.find("\"ja4\":\"t1") != std::string::npos;
    })) << text;
}

}  // namespace
}  // namespace anteroom::test
