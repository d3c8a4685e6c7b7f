#pragma once
// The TLS ClientHello as the client sent it, and its JA4 fingerprint. Pure: the proxy reads the
// first bytes of a connection (before OpenSSL consumes them), asks scan_client_hello() whether
// the whole ClientHello has arrived, and parses it once it has. Nothing here throws or reads
// past its input; every length field is checked against the bytes that are really there.
//
// JA4 follows FoxIO's specification (github.com/FoxIO-LLC/ja4, technical_details/JA4.md):
//   a: transport, version, SNI flag, cipher and extension counts, first ALPN value
//   b: SHA-256 (first 12 hex digits) of the sorted cipher suites
//   c: SHA-256 (first 12 hex digits) of the sorted extensions without SNI and ALPN, "_", and
//      the signature algorithms in the order sent
// GREASE values (RFC 8701) are ignored everywhere.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace anteroom::bot_detect {

enum class hello_status {
    need_more,  // a prefix of a ClientHello: read more bytes
    complete,   // the first records hold a whole ClientHello (later bytes are not looked at)
    not_tls,    // the first byte is not a TLS handshake record (0x16), e.g. "GET / HTTP/1.1"
    invalid,    // malformed, or its records (headers included) exceed max_client_hello
};

// The bytes a connection may send before its ClientHello is complete: the proxy never has to
// buffer more than this. Post-quantum key shares make ~2 KiB hellos common; 64 KiB leaves room.
inline constexpr std::size_t max_client_hello = 64 * 1024;

// `bytes`: everything read so far from a new connection. The ClientHello may span several TLS
// records, and the records several reads.
hello_status scan_client_hello(std::span<const std::uint8_t> bytes);

// Values as sent, in the order sent, GREASE included (ja4() drops it).
struct client_hello {
    std::uint16_t legacy_version = 0;                  // ClientHello.legacy_version (0x0303 for TLS 1.3)
    std::vector<std::uint16_t> ciphers;
    std::vector<std::uint16_t> extensions;             // extension types
    std::vector<std::uint16_t> supported_versions;     // extension 0x002b
    std::vector<std::uint16_t> signature_algorithms;   // extension 0x000d
    std::vector<std::string> alpn;                     // extension 0x0010, protocol names as bytes
    std::string sni;                                   // first host_name of extension 0x0000, unvalidated bytes
    bool has_sni = false;                              // extension 0x0000 present (JA4 "d")
};

// The ClientHello of `bytes`, reassembled across records; nullopt unless scan_client_hello()
// says complete and every field is well-formed.
std::optional<client_hello> parse_client_hello(std::span<const std::uint8_t> bytes);

// "t13d1516h2_8daaf6152771_e5627efa2ab1". `transport`: 't' TLS over TCP, 'q' QUIC, 'd' DTLS.
std::string ja4(const client_hello& h, char transport = 't');

// RFC 8701 GREASE: 0x0A0A, 0x1A1A, ..., 0xFAFA.
constexpr bool is_grease(std::uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }

}  // namespace anteroom::bot_detect

// The TLS session code calls these as anteroom::bot::…
namespace anteroom {
namespace bot = bot_detect;
}
