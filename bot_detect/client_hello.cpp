// ClientHello framing (RFC 8446 §5.1 records, §4 handshake messages), parsing (§4.1.2, with the
// extensions of RFC 6066 SNI, RFC 7301 ALPN, RFC 8446 supported_versions and
// signature_algorithms) and JA4 (FoxIO-LLC/ja4, technical_details/JA4.md).

#include "bot_detect/client_hello.hpp"

#include <algorithm>
#include <array>
#include <iterator>
#include <string_view>

#include "common/crypto.hpp"

namespace anteroom::bot_detect {

namespace {

constexpr std::uint8_t handshake_record = 0x16;
constexpr std::uint8_t client_hello_type = 0x01;
constexpr std::size_t record_header = 5;
constexpr std::size_t handshake_header = 4;
constexpr std::size_t max_record = 16384;  // TLSPlaintext.length, RFC 8446 §5.1
// legacy_version, random, session id length, one cipher suite with its length, one compression
// method with its length.
constexpr std::size_t min_hello_body = 2 + 32 + 1 + 2 + 2 + 1 + 1;

constexpr std::uint16_t ext_server_name = 0x0000;
constexpr std::uint16_t ext_signature_algorithms = 0x000d;
constexpr std::uint16_t ext_alpn = 0x0010;
constexpr std::uint16_t ext_supported_versions = 0x002b;

using bytes_view = std::span<const std::uint8_t>;

std::size_t be16(bytes_view b) { return static_cast<std::size_t>(b[0]) << 8 | b[1]; }
std::size_t be24(bytes_view b) { return static_cast<std::size_t>(b[0]) << 16 | be16(b.subspan(1)); }

// Walks the TLS records at the start of `bytes` and hands each complete record's payload to
// `fragment`, up to the record that completes the ClientHello. Rejects as early as the bytes
// allow: a wrong record type or version, a record over 2^14 bytes, a first handshake message
// that is no ClientHello or could not fit into max_client_hello.
template <class Fragment>
hello_status walk_records(bytes_view bytes, Fragment&& fragment) {
    if (bytes.empty()) {
        return hello_status::need_more;
    }
    if (bytes[0] != handshake_record) {
        return hello_status::not_tls;
    }
    std::array<std::uint8_t, handshake_header> head{};  // gathered across records
    std::size_t seen = 0;                               // handshake bytes of complete records
    std::size_t message = 0;                            // header + body, once the header is known
    std::size_t pos = 0;
    while (true) {
        const bytes_view rest = bytes.subspan(pos);
        if (rest.empty()) {
            return hello_status::need_more;
        }
        // A handshake message may span records, but no other record type may come in between.
        if (rest[0] != handshake_record || (rest.size() >= 2 && rest[1] != 0x03)) {
            return hello_status::invalid;
        }
        if (rest.size() < record_header) {
            return hello_status::need_more;
        }
        const std::size_t length = be16(rest.subspan(3));
        // Zero-length handshake fragments are forbidden (RFC 8446 §5.1).
        if (length == 0 || length > max_record || pos + record_header + length > max_client_hello) {
            return hello_status::invalid;
        }
        const bytes_view payload = rest.subspan(record_header, std::min(length, rest.size() - record_header));
        for (std::size_t i = 0; seen + i < handshake_header && i < payload.size(); ++i) {
            head[seen + i] = payload[i];
        }
        const std::size_t known = std::min(handshake_header, seen + payload.size());
        if (known >= 1 && head[0] != client_hello_type) {
            return hello_status::invalid;
        }
        if (known == handshake_header && message == 0) {
            message = handshake_header + be24(bytes_view(head).subspan(1));
            if (message < handshake_header + min_hello_body || message > max_client_hello) {
                return hello_status::invalid;
            }
        }
        if (payload.size() < length) {
            return hello_status::need_more;
        }
        fragment(payload);
        seen += length;
        pos += record_header + length;
        if (message != 0 && seen >= message) {
            return hello_status::complete;
        }
    }
}

// Bounds-checked big-endian reads. A read past the end yields zeros / an empty view and marks
// the reader failed; callers check ok() once after a group of reads.
class reader {
public:
    explicit reader(bytes_view b) : rest_(b) {}

    bool ok() const { return ok_; }
    bool done() const { return rest_.empty(); }
    std::size_t size() const { return rest_.size(); }

    bytes_view take(std::size_t n) {
        if (!ok_ || n > rest_.size()) {
            ok_ = false;
            return {};
        }
        const bytes_view out = rest_.first(n);
        rest_ = rest_.subspan(n);
        return out;
    }
    std::uint8_t u8() {
        const bytes_view b = take(1);
        return b.empty() ? 0 : b[0];
    }
    std::uint16_t u16() {
        const bytes_view b = take(2);
        return b.empty() ? 0 : static_cast<std::uint16_t>(be16(b));
    }
    // The contents of a vector with a one- or two-byte length prefix (RFC 8446 §3.4). Whether
    // the prefix fit is this reader's ok(), not the returned one's.
    bytes_view bytes8() { return take(u8()); }
    bytes_view bytes16() { return take(u16()); }

private:
    bytes_view rest_;
    bool ok_ = true;
};

// The whole of `data` is one vector of 16-bit values with a `prefix`-byte length, at least
// `min_count` of them.
bool read_u16_list(bytes_view data, int prefix, std::size_t min_count, std::vector<std::uint16_t>& out) {
    reader r(data);
    reader list(prefix == 1 ? r.bytes8() : r.bytes16());
    if (!r.ok() || !r.done() || list.size() % 2 != 0 || list.size() / 2 < min_count) {
        return false;
    }
    out.reserve(list.size() / 2);
    while (!list.done()) {
        out.push_back(list.u16());
    }
    return true;
}

std::string as_string(bytes_view b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// server_name_list (RFC 6066 §3), not empty: the first host_name entry.
bool read_server_name(bytes_view data, client_hello& h) {
    reader r(data);
    reader list(r.bytes16());
    if (!r.ok() || !r.done() || list.done()) {
        return false;
    }
    bool found = false;
    while (!list.done()) {
        const std::uint8_t type = list.u8();
        const bytes_view name = list.bytes16();
        if (!list.ok()) {
            return false;
        }
        if (type == 0 && !found) {
            h.sni = as_string(name);
            found = true;
        }
    }
    return true;
}

// protocol_name_list (RFC 7301 §3.1), not empty. Empty names are kept: JA4 defines them ("00").
bool read_alpn(bytes_view data, client_hello& h) {
    reader r(data);
    reader list(r.bytes16());
    if (!r.ok() || !r.done() || list.done()) {
        return false;
    }
    while (!list.done()) {
        const bytes_view name = list.bytes8();
        if (!list.ok()) {
            return false;
        }
        h.alpn.push_back(as_string(name));
    }
    return true;
}

// The first occurrence of an extension is parsed; repeats (which a TLS library rejects) are
// only counted.
bool read_extension(std::uint16_t type, bytes_view data, bool first, client_hello& h) {
    if (!first) {
        return true;
    }
    switch (type) {
        case ext_server_name:
            h.has_sni = true;
            return read_server_name(data, h);
        case ext_alpn:
            return read_alpn(data, h);
        case ext_supported_versions:
            return read_u16_list(data, 1, 1, h.supported_versions);
        case ext_signature_algorithms:
            return read_u16_list(data, 2, 1, h.signature_algorithms);
        default:
            return true;
    }
}

// ClientHello body (RFC 8446 §4.1.2; TLS 1.0-1.2 hellos have the same layout, extensions optional).
std::optional<client_hello> parse_body(bytes_view body) {
    client_hello h;
    reader r(body);
    h.legacy_version = r.u16();
    r.take(32);  // random
    const bytes_view session_id = r.bytes8();
    reader ciphers(r.bytes16());
    const bytes_view compression = r.bytes8();
    if (!r.ok() || session_id.size() > 32 || ciphers.done() || ciphers.size() % 2 != 0 || compression.empty()) {
        return std::nullopt;
    }
    h.ciphers.reserve(ciphers.size() / 2);
    while (!ciphers.done()) {
        h.ciphers.push_back(ciphers.u16());
    }
    if (r.done()) {
        return h;  // no extensions block
    }
    reader extensions(r.bytes16());
    if (!r.ok() || !r.done()) {
        return std::nullopt;
    }
    // Which of the four parsed extensions were seen, so a repeat is not parsed again.
    std::uint8_t parsed = 0;
    const auto bit = [](std::uint16_t type) -> std::uint8_t {
        switch (type) {
            case ext_server_name: return 1;
            case ext_alpn: return 2;
            case ext_supported_versions: return 4;
            case ext_signature_algorithms: return 8;
            default: return 0;
        }
    };
    while (!extensions.done()) {
        const std::uint16_t type = extensions.u16();
        const bytes_view data = extensions.bytes16();
        if (!extensions.ok()) {
            return std::nullopt;
        }
        h.extensions.push_back(type);
        if (!read_extension(type, data, (parsed & bit(type)) == 0, h)) {
            return std::nullopt;
        }
        parsed |= bit(type);
    }
    return h;
}

constexpr std::string_view zero_hash = "000000000000";

// "0403,0804,..." (4 lower-case hex digits each), appended to `out`.
void append_hex_list(std::string& out, const std::vector<std::uint16_t>& values) {
    static constexpr char digits[] = "0123456789abcdef";
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i != 0) {
            out += ',';
        }
        const std::uint16_t v = values[i];
        out += digits[v >> 12];
        out += digits[(v >> 8) & 15];
        out += digits[(v >> 4) & 15];
        out += digits[v & 15];
    }
}

std::string truncated_sha256(std::string_view text) {
    const crypto::digest d = crypto::sha256(text);
    return crypto::to_hex(std::span(d).first(6));
}

std::vector<std::uint16_t> without_grease(const std::vector<std::uint16_t>& values) {
    std::vector<std::uint16_t> out;
    out.reserve(values.size());
    std::copy_if(values.begin(), values.end(), std::back_inserter(out), [](std::uint16_t v) { return !is_grease(v); });
    return out;
}

// The highest supported_versions entry, else legacy_version (the record's version is ignored).
std::string_view version_code(const client_hello& h) {
    std::uint16_t version = h.legacy_version;
    const auto listed = without_grease(h.supported_versions);
    if (!listed.empty()) {
        version = *std::max_element(listed.begin(), listed.end());
    }
    switch (version) {
        case 0x0304: return "13";
        case 0x0303: return "12";
        case 0x0302: return "11";
        case 0x0301: return "10";
        case 0x0300: return "s3";
        case 0x0002: return "s2";
        case 0xfeff: return "d1";
        case 0xfefd: return "d2";
        case 0xfefc: return "d3";
        default: return "00";
    }
}

bool alphanumeric(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// First and last character of the first ALPN value; "00" without one; when either is not
// alphanumeric, the first and last digit of the value in hex.
void append_alpn(std::string& out, const client_hello& h) {
    if (h.alpn.empty() || h.alpn.front().empty()) {
        out += "00";
        return;
    }
    const std::string& v = h.alpn.front();
    const char first = v.front();
    const char last = v.back();
    if (alphanumeric(first) && alphanumeric(last)) {
        out += first;
        out += last;
        return;
    }
    static constexpr char digits[] = "0123456789abcdef";
    out += digits[static_cast<unsigned char>(first) >> 4];
    out += digits[static_cast<unsigned char>(last) & 15];
}

void append_count(std::string& out, std::size_t n) {
    n = std::min<std::size_t>(n, 99);
    out += static_cast<char>('0' + n / 10);
    out += static_cast<char>('0' + n % 10);
}

}  // namespace

hello_status scan_client_hello(std::span<const std::uint8_t> bytes) {
    return walk_records(bytes, [](bytes_view) {});
}

std::optional<client_hello> parse_client_hello(std::span<const std::uint8_t> bytes) {
    // Most ClientHellos fit into one record and are parsed in place; the others are joined.
    bytes_view first;
    std::vector<std::uint8_t> joined;
    std::size_t fragments = 0;
    const hello_status status = walk_records(bytes, [&](bytes_view payload) {
        if (fragments++ == 0) {
            first = payload;
            return;
        }
        if (joined.empty()) {
            joined.assign(first.begin(), first.end());
        }
        joined.insert(joined.end(), payload.begin(), payload.end());
    });
    if (status != hello_status::complete) {
        return std::nullopt;
    }
    const bytes_view message = fragments == 1 ? first : bytes_view(joined);
    // walk_records checked the header and that the message is complete.
    return parse_body(message.subspan(handshake_header, be24(message.subspan(1))));
}

std::string ja4(const client_hello& h, char transport) {
    std::vector<std::uint16_t> ciphers = without_grease(h.ciphers);
    std::sort(ciphers.begin(), ciphers.end());
    const std::vector<std::uint16_t> extensions = without_grease(h.extensions);
    std::vector<std::uint16_t> hashed;  // sorted, without SNI and ALPN (part a has them)
    hashed.reserve(extensions.size());
    std::copy_if(extensions.begin(), extensions.end(), std::back_inserter(hashed),
                 [](std::uint16_t e) { return e != ext_server_name && e != ext_alpn; });
    std::sort(hashed.begin(), hashed.end());

    std::string out;
    out.reserve(36);
    out += transport;
    out += version_code(h);
    out += h.has_sni ? 'd' : 'i';
    append_count(out, ciphers.size());
    append_count(out, extensions.size());
    append_alpn(out, h);

    std::string text;
    text.reserve(5 * (ciphers.size() + hashed.size() + h.signature_algorithms.size()) + 1);
    out += '_';
    if (ciphers.empty()) {
        out += zero_hash;
    } else {
        append_hex_list(text, ciphers);
        out += truncated_sha256(text);
    }
    out += '_';
    if (hashed.empty()) {
        out += zero_hash;
    } else {
        text.clear();
        append_hex_list(text, hashed);
        const std::vector<std::uint16_t> signatures = without_grease(h.signature_algorithms);
        if (!signatures.empty()) {
            text += '_';
            append_hex_list(text, signatures);
        }
        out += truncated_sha256(text);
    }
    return out;
}

}  // namespace anteroom::bot_detect
