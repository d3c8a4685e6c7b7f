// [tls], listener tables and upstream TLS keys: what the loader accepts and the file:line
// errors for what it does not. Certificate files are made at test time.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/common/config_test_support.hpp"
#include "tests/support/test_cert.hpp"

namespace anteroom::config_test {
namespace {

class tls_files : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() / ("anteroom-config-tls-" + std::to_string(::getpid()) + "-" +
                                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }
    // Writes a certificate and returns its [[tls.certificate]] table.
    std::string cert(const std::string& name, const test::test_certificate& c, const std::string& extra = "") {
        test::write_test_certificate(c, path(name + ".pem"), path(name + ".key"));
        return "[[tls.certificate]]\ncert = \"" + path(name + ".pem") + "\"\nkey = \"" + path(name + ".key") + "\"\n" +
               extra;
    }
    static constexpr const char* tls_listener = "[server]\nlisten = [{ address = \"127.0.0.1:8443\", tls = true }]\n";

private:
    std::filesystem::path dir_;
};

TEST_F(tls_files, listeners_are_addresses_or_tables_with_tls_or_redirect) {
    const auto r = parse(std::string("[server]\nlisten = [\"127.0.0.1:80\", { address = \"127.0.0.1:443\", tls = true },\n"
                                     "  { address = \"127.0.0.1:81\", redirect_https = true }]\n") +
                         cert("site", test::make_test_certificate("localhost", {"localhost", "www.example.test"})));
    expect_valid(r);
    const auto& l = r.cfg->server.listen;
    ASSERT_EQ(l.size(), 3u);
    EXPECT_EQ(l[0].kind, listener_kind::plain);
    EXPECT_EQ(l[1].kind, listener_kind::tls);
    EXPECT_EQ(l[1].address, (listen_address{"127.0.0.1", 443}));
    EXPECT_EQ(l[2].kind, listener_kind::redirect);
    ASSERT_EQ(r.cfg->tls.certificates.size(), 1u);
    // Names come from the certificate's subjectAltName when the file lists none.
    EXPECT_EQ(r.cfg->tls.certificates[0].names, (std::vector<std::string>{"localhost", "www.example.test"}));
    EXPECT_EQ(r.cfg->tls.certificates[0].origin, "test.toml:4: tls.certificate[0]");
}

TEST_F(tls_files, listener_tables_are_checked) {
    EXPECT_EQ(only_error(parse("[server]\nlisten = [{ address = \"127.0.0.1:1\", tls = true, redirect_https = true }]\n"))
                  .text(),
              "test.toml:2: server.listen[0]: a listener cannot both speak TLS and redirect to it (tls and redirect_https)");
    EXPECT_EQ(only_error(parse("[server]\nlisten = [{ tls = true }]\n")).text(),
              "test.toml:2: server.listen[0].address: required key is missing");
    EXPECT_EQ(only_error(parse("[server]\nlisten = [{ address = \"127.0.0.1:1\", tsl = true }]\n")).key,
              "server.listen[0].tsl");
    EXPECT_EQ(only_error(parse("[server]\nlisten = [443]\n")).text(),
              "test.toml:2: server.listen[0]: expected an address string or a table { address = \"...\", tls = true }, "
              "got an integer");
    EXPECT_EQ(only_error(parse("[server]\nlisten = [\"127.0.0.1:1\", { address = \"127.0.0.1:1\", tls = true }]\n")).text(),
              "test.toml:2: server.listen[1]: duplicate address 127.0.0.1:1");
}

TEST_F(tls_files, a_tls_listener_needs_a_certificate_and_a_redirect_needs_a_target) {
    EXPECT_EQ(only_error(parse(tls_listener)).text(),
              "test.toml:2: server.listen: a listener has tls = true but no [[tls.certificate]] is configured");
    EXPECT_EQ(only_error(parse("[server]\nlisten = [{ address = \"127.0.0.1:80\", redirect_https = true }]\n")).text(),
              "test.toml:2: server.listen: a listener redirects to HTTPS but no listener has tls = true; add one or set "
              "tls.redirect_port");
    expect_valid(parse("[server]\nlisten = [{ address = \"127.0.0.1:80\", redirect_https = true }]\n[tls]\n"
                       "redirect_port = 443\n"));
}

TEST_F(tls_files, certificate_files_are_opened_and_matched_at_load) {
    const auto a = test::make_test_certificate("a.test", {"a.test"});
    const auto b = test::make_test_certificate("b.test", {"b.test"});
    // Missing file.
    auto e = only_error(parse(std::string(tls_listener) + "[[tls.certificate]]\ncert = \"" + path("none.pem") +
                              "\"\nkey = \"" + path("none.key") + "\"\n"));
    EXPECT_EQ(e.line, 4u);
    EXPECT_EQ(e.key, "tls.certificate[0].cert");
    EXPECT_EQ(e.message, "cannot read " + path("none.pem") + ": No such file or directory");
    // A key that belongs to another certificate.
    test::write_test_certificate(a, path("a.pem"), path("a.key"));
    test::write_test_certificate(b, path("b.pem"), path("b.key"));
    e = only_error(parse(std::string(tls_listener) + "[[tls.certificate]]\ncert = \"" + path("a.pem") + "\"\nkey = \"" +
                         path("b.key") + "\"\n"));
    EXPECT_EQ(e.message, path("b.key") + " is not the key of the certificate in " + path("a.pem"));
    // Not PEM at all.
    { std::ofstream(path("junk.pem")) << "hello\n"; }
    e = only_error(parse(std::string(tls_listener) + "[[tls.certificate]]\ncert = \"" + path("junk.pem") +
                         "\"\nkey = \"" + path("a.key") + "\"\n"));
    EXPECT_TRUE(e.message.starts_with(path("junk.pem") + ": no PEM certificate")) << e.message;
    // Required keys.
    EXPECT_EQ(only_error(parse(std::string(tls_listener) + "[[tls.certificate]]\ncert = \"" + path("a.pem") + "\"\n"))
                  .key,
              "tls.certificate[0].key");
}

TEST_F(tls_files, names_defaults_and_policy_strings_are_checked) {
    const auto c = test::make_test_certificate("a.test", {"a.test"});
    EXPECT_EQ(only_error(parse(std::string(tls_listener) + cert("a", c, "names = [\"bad name\"]\n"))).text(),
              "test.toml:6: tls.certificate[0].names[0]: must be a DNS name, optionally starting with \"*.\", got "
              "\"bad name\"");
    const auto ok = parse(std::string(tls_listener) + cert("a", c, "names = [\"*.Example.TEST\"]\ndefault = true\n"));
    expect_valid(ok);
    EXPECT_EQ(ok.cfg->tls.certificates[0].names, (std::vector<std::string>{"*.example.test"}));
    EXPECT_TRUE(ok.cfg->tls.certificates[0].is_default);
    EXPECT_EQ(only_error(parse(std::string(tls_listener) + cert("a", c, "default = true\n") +
                               cert("b", c, "default = true\n")))
                  .message,
              "at most one certificate can be the default");
    EXPECT_EQ(only_error(parse(std::string(tls_listener) + "[tls]\nciphers = \"NO-SUCH-CIPHER\"\n" + cert("a", c)))
                  .text(),
              "test.toml:4: tls.ciphers: OpenSSL does not accept \"NO-SUCH-CIPHER\"");
    EXPECT_EQ(only_error(parse(std::string(tls_listener) + "[tls]\ngroups = \"X25519:nope\"\n" + cert("a", c))).key,
              "tls.groups");
    EXPECT_EQ(only_error(parse(std::string(tls_listener) + "[tls]\nmin_version = \"1.1\"\n" + cert("a", c))).message,
              "must be one of \"1.2\", \"1.3\"; got \"1.1\"");
    EXPECT_EQ(only_error(parse(std::string(tls_listener) + "[tls]\nticket_key_rotation = \"10s\"\n" + cert("a", c)))
                  .key,
              "tls.ticket_key_rotation");
}

TEST_F(tls_files, upstream_tls_keys_are_checked) {
    const auto ca = test::make_test_ca("CA");
    { std::ofstream(path("ca.pem")) << ca.cert_pem; }
    const auto up = [&](const std::string& extra) {
        return "[[upstream]]\nname = \"portal\"\nservers = [\"127.0.0.1:8443\"]\ntls = true\n" + extra;
    };
    const auto r = parse(up("tls_ca_file = \"" + path("ca.pem") + "\"\ntls_server_name = \"portal.internal\"\n"));
    expect_valid(r);
    EXPECT_TRUE(r.cfg->upstreams[0].tls);
    EXPECT_EQ(r.cfg->upstreams[0].tls_server_name, "portal.internal");
    EXPECT_EQ(only_error(parse(up("tls_ca_file = \"" + path("missing.pem") + "\"\n"))).text(),
              "test.toml:5: upstream[0].tls_ca_file: cannot read " + path("missing.pem") + ": No such file or directory");
    EXPECT_EQ(only_error(parse(up("tls_server_name = \"*.internal\"\n"))).key, "upstream[0].tls_server_name");
}

}  // namespace
}  // namespace anteroom::config_test
