#include "proxy/headers.hpp"

#include <array>
#include <cassert>
#include <cstring>
#include <cstdint>
#include <random>
#include <vector>

namespace anteroom::proxy {

namespace {

constexpr std::string_view xff_name = "X-Forwarded-For";

char ascii_lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// ASCII only, as field names and tokens are (std::tolower would consult the locale per byte).
bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) {
            return false;
        }
    }
    return true;
}

// Call f(token) for each comma-separated, trimmed, non-empty element.
template <class F>
void for_each_list_item(std::string_view list, F&& f) {
    while (!list.empty()) {
        const auto comma = list.find(',');
        const auto item = trim_ows(list.substr(0, comma));
        if (!item.empty()) {
            f(item);
        }
        if (comma == std::string_view::npos) {
            break;
        }
        list.remove_prefix(comma + 1);
    }
}

// ":1234" after an address; anything else makes the element garbage.
bool is_port_suffix(std::string_view s) {
    if (s.size() < 2 || s.size() > 6 || s.front() != ':') {
        return false;
    }
    for (char c : s.substr(1)) {
        if (c < '0' || c > '9') {
            return false;
        }
    }
    return true;
}

// An X-Forwarded-For element may be "1.2.3.4", "1.2.3.4:5678", "[::1]", "[::1]:80" or "::1".
std::optional<ip_address> parse_xff_item(std::string_view item) {
    if (auto a = parse_ip(item)) {
        return a;
    }
    if (!item.empty() && item.front() == '[') {
        const auto close = item.find(']');
        if (close == std::string_view::npos) {
            return std::nullopt;
        }
        const auto rest = item.substr(close + 1);
        if (!rest.empty() && !is_port_suffix(rest)) {
            return std::nullopt;
        }
        auto a = parse_ip(item.substr(1, close - 1));
        if (a && a->is_v4()) {
            return std::nullopt;  // "[1.2.3.4]" is not an IPv6 literal
        }
        return a;
    }
    const auto colon = item.find(':');
    if (colon != std::string_view::npos && item.find(':', colon + 1) == std::string_view::npos &&
        is_port_suffix(item.substr(colon))) {
        return parse_ip(item.substr(0, colon));
    }
    return std::nullopt;
}

// Fields that frame or address the message end to end. A client naming them in Connection must
// not get them stripped: without Content-Length the upstream would read the body as the next
// request (smuggling), without Host it would route the request elsewhere.
bool is_protected_field(std::string_view name) {
    return iequals(name, "content-length") || iequals(name, "host");
}

}  // namespace

bool is_trusted(const ip_address& peer, std::span<const cidr> trusted) {
    for (const auto& c : trusted) {
        if (c.contains(peer)) {
            return true;
        }
    }
    return false;
}

ip_address client_address(const ip_address& peer, std::string_view x_forwarded_for, std::span<const cidr> trusted) {
    if (x_forwarded_for.empty() || !is_trusted(peer, trusted)) {
        return peer;
    }
    std::vector<std::string_view> items;
    for_each_list_item(x_forwarded_for, [&](std::string_view it) { items.push_back(it); });
    ip_address client = peer;
    for (auto it = items.rbegin(); it != items.rend(); ++it) {
        auto a = parse_xff_item(*it);
        if (!a) {
            break;  // unparseable hop: trust nothing further left
        }
        client = *a;
        if (!is_trusted(*a, trusted)) {
            break;
        }
    }
    return client;
}

void remove_hop_by_hop(http::fields& f) {
    // Fields named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
    std::vector<std::string> named;
    for (const auto& field : f) {
        if (field.name() != http::field::connection) {
            continue;
        }
        for_each_list_item(field.value(), [&](std::string_view tok) {
            if (!iequals(tok, "close") && !iequals(tok, "keep-alive") && !is_protected_field(tok)) {
                named.emplace_back(tok);
            }
        });
    }
    // One pass over the fields in order, comparing the parsed field codes (and names only for
    // fields Connection named): erasing each hop-by-hop name by lookup cost a search of the
    // field set per name, for every request and every response.
    for (auto it = f.begin(); it != f.end();) {
        bool hop = false;
        switch (it->name()) {
        case http::field::connection:
        case http::field::keep_alive:
        case http::field::proxy_connection:
        case http::field::te:
        case http::field::trailer:
        case http::field::transfer_encoding:
        case http::field::upgrade:
        case http::field::proxy_authorization:
        case http::field::proxy_authenticate:
            hop = true;
            break;
        default:
            for (const auto& n : named) {
                if (iequals(it->name_string(), n)) {
                    hop = true;
                    break;
                }
            }
        }
        it = hop ? f.erase(it) : std::next(it);
    }
}

http::fields::const_iterator find_field(const http::fields& f, http::field name) {
    auto it = f.begin();
    while (it != f.end() && it->name() != name) {
        ++it;
    }
    return it;
}

http::fields::const_iterator find_field(const http::fields& f, std::string_view name) {
    const auto code = http::string_to_field(name);
    if (code != http::field::unknown) {
        return find_field(f, code);
    }
    auto it = f.begin();
    while (it != f.end() && !(it->name() == http::field::unknown && iequals(it->name_string(), name))) {
        ++it;
    }
    return it;
}

std::string_view field_value(const http::fields& f, http::field name) {
    const auto it = find_field(f, name);
    return it == f.end() ? std::string_view() : std::string_view(it->value());
}

std::string_view field_value(const http::fields& f, std::string_view name) {
    const auto it = find_field(f, name);
    return it == f.end() ? std::string_view() : std::string_view(it->value());
}

void erase_field(http::fields& f, http::field name) {
    for (auto it = f.begin(); it != f.end();) {
        it = it->name() == name ? f.erase(it) : std::next(it);
    }
}

void add_line(std::string& lines, std::string_view name, std::string_view value) {
    const std::size_t at = lines.size();
    lines.resize(at + name.size() + value.size() + 4);  // one capacity check, not four
    char* p = lines.data() + at;
    std::char_traits<char>::copy(p, name.data(), name.size());
    p += name.size();
    *p++ = ':';
    *p++ = ' ';
    std::char_traits<char>::copy(p, value.data(), value.size());
    p += value.size();
    *p++ = '\r';
    *p = '\n';
}

void insert_lines(http::fields& f, std::string_view lines) {
    while (!lines.empty()) {
        const auto colon = lines.find(": ");
        const auto end = lines.find("\r\n", colon);
        assert(colon != std::string_view::npos && end != std::string_view::npos);
        f.insert(lines.substr(0, colon), lines.substr(colon + 2, end - colon - 2));
        lines.remove_prefix(end + 2);
    }
}

template <bool isRequest>
void append_head(std::string& out, const http::header<isRequest, http::fields>& h, std::string_view lines) {
    // Measured first, then copied into place: one allocation and no capacity checks.
    std::size_t size = 8 + 2 + 2 + lines.size();  // "HTTP/x.y", two separators, CRLF; the blank line
    for (const auto& field : h) {
        size += field.name_string().size() + field.value().size() + 4;
    }
    std::string_view first;
    std::string_view second;
    if constexpr (isRequest) {
        first = h.method_string();
        second = h.target();
    } else {
        second = h.reason();
        size += 3;
    }
    size += first.size() + second.size() + 2;
    const std::size_t at = out.size();
    out.resize(at + size);
    char* p = out.data() + at;
    const auto put = [&p](std::string_view v) {
        std::memcpy(p, v.data(), v.size());
        p += v.size();
    };
    const char version[] = {'H', 'T', 'T', 'P', '/', static_cast<char>('0' + h.version() / 10), '.',
                            static_cast<char>('0' + h.version() % 10)};
    if constexpr (isRequest) {
        put(first);
        *p++ = ' ';
        put(second);
        *p++ = ' ';
        put({version, sizeof version});
    } else {
        const unsigned code = h.result_int();
        put({version, sizeof version});
        *p++ = ' ';
        *p++ = static_cast<char>('0' + code / 100 % 10);
        *p++ = static_cast<char>('0' + code / 10 % 10);
        *p++ = static_cast<char>('0' + code % 10);
        *p++ = ' ';
        put(second);
    }
    put("\r\n");
    for (const auto& field : h) {
        put(field.name_string());
        put(": ");
        put(field.value());
        put("\r\n");
    }
    if (!lines.empty()) {
        put(lines);  // (an empty view may hold no pointer at all, and memcpy wants one)
    }
    put("\r\n");
    assert(p == out.data() + out.size());
}

template void append_head(std::string&, const http::header<true, http::fields>&, std::string_view);
template void append_head(std::string&, const http::header<false, http::fields>&, std::string_view);

void add_forwarding_headers(http::fields& f, const forward_info& info, std::string& lines) {
    const std::string client = info.peer.text();
    // One pass over the fields: the earlier hops' X-Forwarded-For, Forwarded (from a trusted
    // proxy only) and Via values are collected in order and their lines removed, to be written
    // extended; X-Forwarded-Proto/-Host stay only when a trusted proxy set them; the client's
    // X-Request-Id goes (this request's id, which may be the same value, is written instead).
    // Setting each name instead cost a search of the field set per name for every request.
    std::string xff;
    std::string fwd;
    std::string via;
    bool keep_proto = false;
    bool keep_host = false;
    const auto append = [](std::string& list, std::string_view value) {
        if (!list.empty()) {
            list += ", ";
        }
        list += value;
    };
    for (auto it = f.begin(); it != f.end();) {
        bool drop = false;
        switch (it->name()) {
        case http::field::forwarded:
            if (info.peer_trusted) {
                append(fwd, it->value());
            }
            drop = true;
            break;
        case http::field::via:
            append(via, it->value());
            drop = true;
            break;
        case http::field::unknown: {
            const auto name = it->name_string();
            if (iequals(name, xff_name)) {
                if (info.peer_trusted) {
                    append(xff, it->value());
                }
                drop = true;
            } else if (iequals(name, "X-Forwarded-Proto")) {
                keep_proto = info.peer_trusted;
                drop = !info.peer_trusted;
            } else if (iequals(name, "X-Forwarded-Host")) {
                keep_host = info.peer_trusted;
                drop = !info.peer_trusted;
            } else if (iequals(name, "X-Request-Id")) {
                drop = true;
            }
            break;
        }
        default:
            break;
        }
        it = drop ? f.erase(it) : std::next(it);
    }
    // Written straight into `lines` (the values of earlier hops first, when there were any).
    lines.reserve(lines.size() + 160 + xff.size() + fwd.size() + via.size() + 2 * info.host.size());
    const auto earlier = [&lines](std::string_view list) {
        if (!list.empty()) {
            lines.append(list).append(", ");
        }
    };
    lines.append(xff_name).append(": ");
    earlier(xff);
    lines.append(client).append("\r\n");

    const std::string_view proto = info.tls ? "https" : "http";
    if (!keep_proto) {
        add_line(lines, "X-Forwarded-Proto", proto);
    }
    if (!keep_host && !info.host.empty()) {
        add_line(lines, "X-Forwarded-Host", info.host);
    }

    lines.append("Forwarded: ");
    earlier(fwd);
    lines.append("for=");
    if (info.peer.is_v4()) {
        lines.append(client);
    } else {
        lines.append("\"[").append(client).append("]\"");
    }
    lines.append(";proto=").append(proto);
    if (!info.host.empty()) {
        lines.append(";host=\"");
        for (char c : info.host) {
            if (c == '"' || c == '\\') {
                lines += '\\';
            }
            lines += c;
        }
        lines += '"';
    }
    lines.append("\r\n");

    // Earlier hops may have sent several Via lines; all of them stay, in order (RFC 9110 §7.6.3).
    lines.append("Via: ");
    earlier(via);
    lines.append(info.http_version == 10 ? "1.0 " : "1.1 ").append(info.via_name).append("\r\n");
    if (!info.request_id.empty()) {
        add_line(lines, "X-Request-Id", info.request_id);
    }
}

bool is_valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > 64) {
        return false;
    }
    for (char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_' || c == '.';
        if (!ok) {
            return false;
        }
    }
    return true;
}

std::string new_request_id() {
    // splitmix64 over a per-thread random seed: unique enough for correlation, cheap per request.
    thread_local std::uint64_t state = [] {
        std::random_device rd;
        return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    }();
    auto next = [] {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    };
    static constexpr char hex[] = "0123456789abcdef";
    std::string out(32, '0');
    for (int half = 0; half < 2; ++half) {
        auto v = next();
        for (int i = 0; i < 16; ++i) {
            out[static_cast<std::size_t>(half * 16 + i)] = hex[v & 0xf];
            v >>= 4;
        }
    }
    return out;
}

bool is_idempotent(http::verb m) {
    switch (m) {
        case http::verb::get:
        case http::verb::head:
        case http::verb::options:
        case http::verb::put:
        case http::verb::delete_:
        case http::verb::trace:
            return true;
        default:
            return false;
    }
}

std::string_view path_of(std::string_view target) {
    // absolute-form: drop scheme and authority (RFC 9112 §3.2.2)
    if (target.starts_with("http://") || target.starts_with("https://")) {
        const auto after_scheme = target.find("//") + 2;
        const auto slash = target.find('/', after_scheme);
        target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
    const auto q = target.find_first_of("?#");
    return q == std::string_view::npos ? target : target.substr(0, q);
}

bool wants_upgrade(const http::request_header<>& req) {
    if (req.find(http::field::upgrade) == req.end()) {
        return false;
    }
    const auto conn = req[http::field::connection];
    return http::token_list{conn}.exists("upgrade");
}

std::string inner_codings(const http::fields& f) {
    std::string out;
    for (const auto& field : f) {
        if (field.name() != http::field::transfer_encoding) {
            continue;
        }
        for (const auto coding : http::token_list{field.value()}) {
            if (!beast::iequals(coding, "chunked")) {
                out += out.empty() ? "" : ", ";
                out += coding;
            }
        }
    }
    return out;
}

void set_chunked(http::fields& f, const std::string& inner) {
    f.set(http::field::transfer_encoding, inner.empty() ? std::string("chunked") : inner + ", chunked");
}

}  // namespace anteroom::proxy
