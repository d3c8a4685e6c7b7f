#pragma once
// Header hygiene between client and upstream (RFC 9110 §7.6.1 hop-by-hop fields, RFC 7239
// Forwarded, X-Forwarded-*, Via, X-Request-Id), and which address is "the client".

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/cidr.hpp"
#include "common/http_fields.hpp"
#include "common/net.hpp"

namespace anteroom::proxy {

// The client address every later filter uses: the peer, unless the peer is a trusted proxy,
// in which case X-Forwarded-For is walked right to left past trusted hops; the first untrusted
// (or the leftmost valid) entry wins. Garbage in X-Forwarded-For stops the walk: the client is
// then the last address that could still be vouched for (the rightmost trusted hop, or the peer).
// Elements may carry a port ("1.2.3.4:80", "[::1]:80"); anything else is garbage.
ip_address client_address(const ip_address& peer, std::string_view x_forwarded_for,
                          std::span<const cidr> trusted);

bool is_trusted(const ip_address& peer, std::span<const cidr> trusted);

// Remove hop-by-hop fields and every field named in Connection, except Content-Length and Host
// (naming those would otherwise let a client strip the body framing). An Upgrade handshake is
// re-added by the caller after this (the tunnel needs Upgrade and "Connection: upgrade").
void remove_hop_by_hop(http::fields& f);

// Lookups by walking the fields in order, comparing parsed field codes (names only for fields
// Beast has no code for). Beast's find/count/operator[] search its field set by name with a
// case-insensitive compare at every step; for the handful of fields a head carries, the walk
// costs a fraction of that, and the proxy looks up several fields in every request and response.
http::fields::const_iterator find_field(const http::fields& f, http::field name);
http::fields::const_iterator find_field(const http::fields& f, std::string_view name);
// The first value of the field, or "" when it is absent.
std::string_view field_value(const http::fields& f, http::field name);
std::string_view field_value(const http::fields& f, std::string_view name);
// Removes every line of the field.
void erase_field(http::fields& f, http::field name);

// Appends "name: value\r\n". Lines the proxy adds to a message on its way out are collected
// like this and written by append_head after the message's own fields: inserting them into the
// field set instead cost an allocation and a tree insertion per line, on every request. Values
// must not contain CR or LF (they come from the parser, validated config, or the proxy itself).
void add_line(std::string& lines, std::string_view name, std::string_view value);

// Moves collected lines into the fields (at the end, in order), for a head that Beast's
// serializer writes (a streamed body) rather than append_head.
void insert_lines(http::fields& f, std::string_view lines);

// Appends the message head as Beast's serializer writes it: the start line (a response without a
// reason phrase gets the standard one), every field in order, then `lines` (see add_line), the
// blank line. The proxy writes heads, and small bodies behind them, as one contiguous buffer
// instead of walking Beast's serializer's buffer sequences, which cost more than any other part
// of a forwarded request.
template <bool isRequest>
void append_head(std::string& out, const http::header<isRequest, http::fields>& h, std::string_view lines = {});

struct forward_info {
    ip_address peer;          // the TCP peer
    bool peer_trusted = false;
    bool tls = false;
    std::string_view host;     // Host of the original request ("" if none)
    std::string_view via_name; // e.g. "anteroom"
    unsigned http_version = 11;
    std::string_view request_id; // this request's X-Request-Id
};

// Rewrite X-Forwarded-For/-Proto/-Host, Forwarded, Via and X-Request-Id for the upstream
// request, in one pass over the fields: the client's lines leave `f`, and the lines for this hop
// are appended to `lines` (for append_head). From an untrusted peer, client-supplied values are
// replaced; from a trusted proxy they are extended (X-Forwarded-Proto/-Host kept as they are).
void add_forwarding_headers(http::fields& f, const forward_info& info, std::string& lines);

// A request id safe to echo: 1..64 chars of [A-Za-z0-9._-]. Anything else is replaced.
bool is_valid_request_id(std::string_view id);
// 32 lowercase hex chars from a fast per-thread generator (unique, not a secret).
std::string new_request_id();

bool is_idempotent(http::verb method);

// The path of a request target (absolute-form loses scheme and authority, RFC 9112 §3.2.2),
// without query or fragment.
std::string_view path_of(std::string_view target);

// Upgrade present and "upgrade" among the Connection tokens.
bool wants_upgrade(const http::request_header<>& req);

// The transfer codings other than chunked, in order: "gzip" for "gzip, chunked". The proxy
// redoes only the chunked framing; the inner codings stay applied to the body bytes it
// relays, so their names must travel on too (remove_hop_by_hop drops Transfer-Encoding).
std::string inner_codings(const http::fields& f);

// One Transfer-Encoding line: the inner codings, then chunked.
void set_chunked(http::fields& f, const std::string& inner);

// Shared with the booking backend (common/http_fields.hpp).
using anteroom::cookie_value;
using anteroom::query_param;
using anteroom::url_encode_component;

}  // namespace anteroom::proxy
