// ClientHello framing and parsing, and JA4 (bot_detect/client_hello.hpp).
//
// Where the expected values come from:
// - tests/bot_detect/tls_vectors/<client>.hex are ClientHellos captured on Debian 12 with
//   capture.py (curl 7.88.1, openssl s_client 3.0, Python 3.11 ssl, wget 1.21 (GnuTLS),
//   node 18, headless Chromium 156). expected.txt holds their JA4 as computed by
//   ja4_reference.py: an independent Python implementation of the spec fed with the fields
//   tshark 4.0's TLS dissector reports for each capture (tshark 4.0 has no JA4 field itself).
// - The spec example (FoxIO-LLC/ja4, technical_details/JA4.md: t13d1516h2_8daaf6152771_e5627efa2ab1,
//   and 6d807ffa2a79 without signature algorithms) and its ALPN examples, by hand.

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bot_detect/client_hello.hpp"

namespace anteroom::bot_detect {
namespace {

using bytes = std::vector<std::uint8_t>;

#ifdef ANTEROOM_SOURCE_DIR
const std::string vector_dir = ANTEROOM_SOURCE_DIR "/tests/bot_detect/tls_vectors/";
#else
const std::string vector_dir = "tests/bot_detect/tls_vectors/";
#endif

bytes from_hex(std::string_view hex) {
    bytes out;
    int nibble = -1;
    for (const char c : hex) {
        int v = -1;
        if (c >= '0' && c <= '9') {
            v = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v = c - 'a' + 10;
        }
        if (v < 0) {
            continue;  // line breaks
        }
        if (nibble < 0) {
            nibble = v;
        } else {
            out.push_back(static_cast<std::uint8_t>(nibble << 4 | v));
            nibble = -1;
        }
    }
    return out;
}

bytes load_vector(const std::string& client) {
    std::ifstream in(vector_dir + client + ".hex");
    EXPECT_TRUE(in) << vector_dir + client + ".hex";
    std::stringstream text;
    text << in.rdbuf();
    return from_hex(text.str());
}

// client → JA4, from expected.txt.
std::map<std::string, std::string> expected_ja4() {
    std::map<std::string, std::string> out;
    std::ifstream in(vector_dir + "expected.txt");
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') {
            continue;
        }
        std::istringstream fields(line);
        std::string client;
        std::string fp;
        fields >> client >> fp;
        out[client] = fp;
    }
    return out;
}

// The handshake message of a capture that arrived as one record.
bytes handshake_message(const bytes& capture) {
    EXPECT_GE(capture.size(), 5u);
    EXPECT_EQ(capture.size(), 5u + (capture[3] << 8 | capture[4])) << "one record expected";
    return {capture.begin() + 5, capture.end()};
}

// `message` framed as handshake records of at most `chunk` bytes each.
bytes as_records(const bytes& message, std::size_t chunk, std::uint8_t version_minor = 0x01) {
    bytes out;
    for (std::size_t pos = 0; pos < message.size(); pos += chunk) {
        const std::size_t n = std::min(chunk, message.size() - pos);
        out.insert(out.end(), {0x16, 0x03, version_minor, static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
        out.insert(out.end(), message.begin() + static_cast<std::ptrdiff_t>(pos),
                   message.begin() + static_cast<std::ptrdiff_t>(pos + n));
    }
    return out;
}

bytes prefix(const bytes& b, std::size_t n) { return {b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n)}; }

std::string ja4_of(const bytes& b) {
    const auto h = parse_client_hello(b);
    return h ? ja4(*h) : "(no ClientHello)";
}

// The example of the spec (JA4.md): ciphers, extensions and signature algorithms as listed there.
client_hello spec_example() {
    client_hello h;
    h.legacy_version = 0x0303;
    h.ciphers = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9,
                 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035};
    h.extensions = {0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d,
                    0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015};
    h.signature_algorithms = {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601};
    h.supported_versions = {0x0304, 0x0303};
    h.alpn = {"h2", "http/1.1"};
    h.sni = "example.com";
    h.has_sni = true;
    return h;
}

TEST(Ja4Vectors, CapturedClientsMatchTheTsharkReference) {
    const auto expected = expected_ja4();
    for (const char* required : {"curl", "openssl_s_client", "python_ssl", "chromium"}) {
        EXPECT_TRUE(expected.contains(required)) << required;
    }
    for (const auto& [client, fp] : expected) {
        const bytes capture = load_vector(client);
        EXPECT_EQ(scan_client_hello(capture), hello_status::complete) << client;
        EXPECT_EQ(ja4_of(capture), fp) << client;
    }
}

TEST(Ja4Vectors, FieldsOfTheChromiumHello) {
    const auto h = parse_client_hello(load_vector("chromium"));
    ASSERT_TRUE(h);
    EXPECT_EQ(h->legacy_version, 0x0303);
    EXPECT_TRUE(h->has_sni);
    EXPECT_EQ(h->sni, "localhost");
    EXPECT_EQ(h->alpn, (std::vector<std::string>{"h2", "http/1.1"}));
    // Chromium greases the cipher list, the extensions (twice), supported_versions and, since
    // ~2025, signature_algorithms: all of it must leave the fingerprint untouched.
    EXPECT_TRUE(is_grease(h->ciphers.front()));
    EXPECT_EQ(std::count_if(h->extensions.begin(), h->extensions.end(), is_grease), 2);
    EXPECT_TRUE(is_grease(h->supported_versions.front()));
    EXPECT_TRUE(is_grease(h->signature_algorithms.front()));
    EXPECT_EQ(h->ciphers.size(), 16u);
}

TEST(Ja4Vectors, NoSniAndNoAlpn) {
    const auto curl = parse_client_hello(load_vector("curl"));  // https://127.0.0.1: no SNI for an address
    ASSERT_TRUE(curl);
    EXPECT_FALSE(curl->has_sni);
    EXPECT_EQ(std::find(curl->extensions.begin(), curl->extensions.end(), 0x0000), curl->extensions.end());
    EXPECT_EQ(ja4(*curl).substr(0, 10), "t13i3111h2");
    const auto python = parse_client_hello(load_vector("python_ssl"));  // no ALPN unless asked for
    ASSERT_TRUE(python);
    EXPECT_TRUE(python->alpn.empty());
    EXPECT_EQ(ja4(*python).substr(0, 10), "t13d311100");
}

// Chromium's hello carries an X25519MLKEM768 key share (group 0x11ec, 1216-byte key): more
// than one Ethernet segment, so the proxy must read on until scan says complete.
TEST(Ja4Vectors, PostQuantumChromiumHelloSpansSegments) {
    const bytes capture = load_vector("chromium");
    EXPECT_GT(capture.size(), 1500u);
    const bytes mlkem_share = {0x11, 0xec, 0x04, 0xc0};
    EXPECT_NE(std::search(capture.begin(), capture.end(), mlkem_share.begin(), mlkem_share.end()), capture.end());
    // Every shorter read is a prefix that needs more, never a verdict.
    for (std::size_t n = 0; n < capture.size(); ++n) {
        ASSERT_EQ(scan_client_hello(prefix(capture, n)), hello_status::need_more) << n;
        ASSERT_FALSE(parse_client_hello(prefix(capture, n))) << n;
    }
}

TEST(Ja4Reassembly, HelloSplitAcrossRecords) {
    const bytes capture = load_vector("chromium");
    const std::string fp = ja4_of(capture);
    const bytes message = handshake_message(capture);
    // Two records (the first ends inside the key share), then ever smaller ones; 3 = the
    // handshake header itself split across records.
    for (const std::size_t chunk : {message.size() / 2 + 1, std::size_t{1000}, std::size_t{100}, std::size_t{3},
                                    std::size_t{1}}) {
        const bytes framed = as_records(message, chunk);
        EXPECT_EQ(scan_client_hello(framed), hello_status::complete) << chunk;
        EXPECT_EQ(ja4_of(framed), fp) << chunk;
    }
    // Segments cut anywhere, also inside a record header.
    const bytes framed = as_records(message, 700);
    for (std::size_t n = 0; n < framed.size(); n += 7) {
        ASSERT_EQ(scan_client_hello(prefix(framed, n)), hello_status::need_more) << n;
    }
    EXPECT_EQ(scan_client_hello(framed), hello_status::complete);
}

TEST(Ja4Reassembly, BytesAfterTheHelloAreIgnored) {
    bytes capture = load_vector("curl");
    const std::string fp = ja4_of(capture);
    capture.insert(capture.end(), {0x17, 0x03, 0x03, 0x00, 0x01, 0x00});
    EXPECT_EQ(scan_client_hello(capture), hello_status::complete);
    EXPECT_EQ(ja4_of(capture), fp);
}

TEST(Ja4Reassembly, NotTlsAndGarbage) {
    const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    EXPECT_EQ(scan_client_hello(bytes(get.begin(), get.end())), hello_status::not_tls);
    EXPECT_EQ(scan_client_hello(bytes{'G'}), hello_status::not_tls);
    EXPECT_EQ(scan_client_hello(bytes{}), hello_status::need_more);
    EXPECT_EQ(scan_client_hello(bytes{0x16}), hello_status::need_more);
    EXPECT_EQ(scan_client_hello(bytes{0x16, 0x03, 0x01, 0x02}), hello_status::need_more);
    // Rejected as soon as the bytes show it: record version, record length, handshake type.
    EXPECT_EQ(scan_client_hello(bytes{0x16, 0x02}), hello_status::invalid);
    EXPECT_EQ(scan_client_hello(bytes{0x16, 0x03, 0x01, 0x00, 0x00}), hello_status::invalid);
    EXPECT_EQ(scan_client_hello(bytes{0x16, 0x03, 0x01, 0x40, 0x01}), hello_status::invalid);  // > 2^14
    EXPECT_EQ(scan_client_hello(bytes{0x16, 0x03, 0x01, 0x00, 0x40, 0x02}), hello_status::invalid);  // ServerHello
    // A handshake message larger than 64 KiB, or too short to be a ClientHello.
    EXPECT_EQ(scan_client_hello(bytes{0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x01, 0x00, 0x00}), hello_status::invalid);
    EXPECT_EQ(scan_client_hello(bytes{0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x10}), hello_status::invalid);
    // An alert (or any other record type) between the fragments of the hello.
    const bytes message = handshake_message(load_vector("curl"));
    bytes framed = as_records(prefix(message, 100), 100);
    framed.insert(framed.end(), {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28});
    EXPECT_EQ(scan_client_hello(framed), hello_status::invalid);
}

TEST(Ja4Reassembly, RecordsBeyond64KiBAreInvalid) {
    // A legal 20,000-byte hello in 1-byte records needs 120,000 bytes: more than the proxy buffers.
    bytes message = handshake_message(load_vector("curl"));
    const bytes framed = as_records(message, 1);
    ASSERT_EQ(scan_client_hello(framed), hello_status::complete);  // 517 bytes × 6: fine
    bytes big(4 + 20'000, 0);
    big[0] = 0x01;
    big[2] = 20'000 >> 8;
    big[3] = 20'000 & 0xff;
    bytes tiny = as_records(big, 1);
    EXPECT_EQ(scan_client_hello(prefix(tiny, max_client_hello - 1)), hello_status::need_more);
    EXPECT_EQ(scan_client_hello(tiny), hello_status::invalid);
}

// Structurally broken bodies inside well-framed records: complete for the scanner, nothing
// for the parser. And no byte flipped anywhere may make it read out of bounds (ASan).
TEST(Ja4Parse, MalformedBodies) {
    const bytes message = handshake_message(load_vector("python_ssl"));
    const auto with = [&](std::size_t at, std::uint8_t value) {
        bytes m = message;
        m[at] = value;
        return as_records(m, 16384);
    };
    // Offsets in the handshake message: 4 type+length, 2 version, 32 random, then the session
    // id length at 38.
    EXPECT_FALSE(parse_client_hello(with(38, 33)));             // session id longer than 32
    EXPECT_FALSE(parse_client_hello(with(38, 0xff)));           // past the end
    const std::size_t ciphers_at = 39 + message[38];
    EXPECT_FALSE(parse_client_hello(with(ciphers_at + 1, static_cast<std::uint8_t>(message[ciphers_at + 1] | 1))));  // odd length
    // The extensions block must end exactly at the end of the message.
    bytes longer = message;
    longer.push_back(0);
    longer[3] = static_cast<std::uint8_t>(longer[3] + 1);
    EXPECT_EQ(scan_client_hello(as_records(longer, 16384)), hello_status::complete);
    EXPECT_FALSE(parse_client_hello(as_records(longer, 16384)));
    for (std::size_t i = 4; i < message.size(); ++i) {
        for (const std::uint8_t v : {std::uint8_t{0x00}, std::uint8_t{0xff}}) {
            const auto h = parse_client_hello(with(i, v));
            if (h) {
                EXPECT_EQ(ja4(*h).size(), 36u);
            }
        }
    }
}

TEST(Ja4Parse, HelloWithoutExtensions) {
    // TLS 1.2 style: legacy_version 0x0303, two ciphers, null compression, no extensions block.
    bytes body = {0x03, 0x03};
    body.resize(2 + 32, 0x42);
    body.insert(body.end(), {0x00, 0x00, 0x04, 0xc0, 0x2f, 0x00, 0xff, 0x01, 0x00});
    bytes message = {0x01, 0x00, 0x00, static_cast<std::uint8_t>(body.size())};
    message.insert(message.end(), body.begin(), body.end());
    const auto h = parse_client_hello(as_records(message, 16384));
    ASSERT_TRUE(h);
    EXPECT_TRUE(h->extensions.empty());
    // sha256("00ff,c02f") = b06afd972a5c…
    EXPECT_EQ(ja4(*h), "t12i020000_b06afd972a5c_000000000000");
}

TEST(Ja4Spec, WorkedExample) {
    client_hello h = spec_example();
    EXPECT_EQ(ja4(h), "t13d1516h2_8daaf6152771_e5627efa2ab1");
    h.signature_algorithms.clear();  // "the string ends without an underscore"
    EXPECT_EQ(ja4(h), "t13d1516h2_8daaf6152771_6d807ffa2a79");
    EXPECT_EQ(ja4(h, 'q').front(), 'q');
}

TEST(Ja4Spec, GreaseIsIgnoredEverywhere) {
    client_hello h = spec_example();
    const std::string fp = ja4(h);
    h.ciphers.insert(h.ciphers.begin(), 0x0a0a);
    h.extensions.insert(h.extensions.begin(), 0x3a3a);
    h.extensions.push_back(0xfafa);
    h.signature_algorithms.insert(h.signature_algorithms.begin() + 2, 0x5a5a);
    h.supported_versions.insert(h.supported_versions.begin(), 0xdada);  // above 0x0304, but GREASE
    EXPECT_EQ(ja4(h), fp);
    EXPECT_TRUE(is_grease(0x0a0a));
    EXPECT_TRUE(is_grease(0xfafa));
    EXPECT_FALSE(is_grease(0x0a1a));
    EXPECT_FALSE(is_grease(0x1301));
}

TEST(Ja4Spec, VersionSniAndCounts) {
    client_hello h = spec_example();
    h.supported_versions.clear();  // no supported_versions: legacy_version counts
    EXPECT_EQ(ja4(h).substr(0, 4), "t12d");
    h.supported_versions = {0x2a2a};  // only GREASE: the same
    EXPECT_EQ(ja4(h).substr(0, 4), "t12d");
    h.legacy_version = 0x0300;
    EXPECT_EQ(ja4(h).substr(1, 2), "s3");
    h.legacy_version = 0x1234;
    EXPECT_EQ(ja4(h).substr(1, 2), "00");
    h.has_sni = false;
    EXPECT_EQ(ja4(h)[3], 'i');
    h.ciphers.assign(120, 0x0035);
    EXPECT_EQ(ja4(h).substr(4, 2), "99");
    h.ciphers.clear();
    EXPECT_EQ(ja4(h).substr(4, 2), "00");
    EXPECT_EQ(ja4(h).substr(11, 12), "000000000000");
    h.extensions = {0x0000, 0x0010};  // only SNI and ALPN: nothing left to hash
    EXPECT_EQ(ja4(h).substr(6, 4), "02h2");  // counted in part a all the same
    EXPECT_EQ(ja4(h).substr(24), "000000000000");
}

TEST(Ja4Spec, AlpnCharacters) {
    client_hello h = spec_example();
    const auto alpn_of = [&](std::vector<std::string> values) {
        h.alpn = std::move(values);
        return ja4(h).substr(8, 2);
    };
    EXPECT_EQ(alpn_of({}), "00");
    EXPECT_EQ(alpn_of({""}), "00");
    EXPECT_EQ(alpn_of({"http/1.1", "h2"}), "h1");
    EXPECT_EQ(alpn_of({"h3"}), "h3");
    EXPECT_EQ(alpn_of({"x"}), "xx");
    // The spec's examples for values starting or ending with a non-alphanumeric byte.
    EXPECT_EQ(alpn_of({"\xab"}), "ab");
    EXPECT_EQ(alpn_of({"\xab\xcd"}), "ad");
    EXPECT_EQ(alpn_of({"\x30\xab"}), "3b");
    EXPECT_EQ(alpn_of({"\x30\x31\xab\xcd"}), "3d");
    EXPECT_EQ(alpn_of({"\x30\xab\xcd\x31"}), "01");
}

}  // namespace
}  // namespace anteroom::bot_detect
