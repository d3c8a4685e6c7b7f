// Header hygiene as pure functions: which address is the client, which fields reach the
// upstream, what the forwarding headers say, request ids and idempotency.

#include "proxy/headers.hpp"

#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace anteroom::proxy {
namespace {

ip_address ip(std::string_view text) {
    auto a = parse_ip(text);
    EXPECT_TRUE(a) << text;
    return a.value_or(ip_address{});
}

std::vector<cidr> cidrs(std::initializer_list<std::string_view> list) {
    std::vector<cidr> out;
    for (auto t : list) {
        auto c = parse_cidr(t);
        EXPECT_TRUE(c) << t;
        if (c) {
            out.push_back(*c);
        }
    }
    return out;
}

// Every value of a field, in order (Beast keeps duplicates together).
std::vector<std::string> values(const http::fields& f, std::string_view name) {
    std::vector<std::string> out;
    for (const auto& e : f) {
        if (beast::iequals(e.name_string(), name)) {
            out.emplace_back(e.value());
        }
    }
    return out;
}

// ---- client_address ----------------------------------------------------------------------------

class client_address_test : public ::testing::Test {
protected:
    std::vector<cidr> trusted = cidrs({"10.0.0.0/8", "fd00::/8"});
    ip_address lb = ip("10.0.0.1");  // a trusted load balancer as TCP peer
};

TEST_F(client_address_test, untrusted_peer_is_the_client_whatever_it_claims) {
    const auto peer = ip("203.0.113.9");
    EXPECT_EQ(client_address(peer, "1.2.3.4", trusted), peer);
    EXPECT_EQ(client_address(peer, "", trusted), peer);
    EXPECT_EQ(client_address(peer, "1.2.3.4", {}), peer);
}

TEST_F(client_address_test, trusted_peer_without_header_is_the_client) {
    EXPECT_EQ(client_address(lb, "", trusted), lb);
    EXPECT_EQ(client_address(lb, " , ,", trusted), lb);
}

TEST_F(client_address_test, rightmost_untrusted_entry_wins) {
    // The client can write anything on the left; only what trusted hops appended counts.
    EXPECT_EQ(client_address(lb, "6.6.6.6, 198.51.100.7, 10.1.2.3", trusted), ip("198.51.100.7"));
    EXPECT_EQ(client_address(lb, "198.51.100.7", trusted), ip("198.51.100.7"));
    EXPECT_EQ(client_address(lb, " 198.51.100.7 ,\t10.9.9.9 ", trusted), ip("198.51.100.7"));
}

TEST_F(client_address_test, all_trusted_gives_the_leftmost) {
    EXPECT_EQ(client_address(lb, "10.0.0.5, 10.0.0.6", trusted), ip("10.0.0.5"));
}

TEST_F(client_address_test, garbage_stops_the_walk_at_the_last_vouched_address) {
    EXPECT_EQ(client_address(lb, "unknown", trusted), lb);
    EXPECT_EQ(client_address(lb, "6.6.6.6, not-an-ip", trusted), lb);
    // Left of the garbage nothing is believed, not even a plausible address.
    EXPECT_EQ(client_address(lb, "198.51.100.7, junk, 10.0.0.7", trusted), ip("10.0.0.7"));
    EXPECT_EQ(client_address(lb, "1.2.3.4:http", trusted), lb);
    EXPECT_EQ(client_address(lb, "1.2.3.4:", trusted), lb);
    EXPECT_EQ(client_address(lb, "[::1]junk", trusted), lb);
    EXPECT_EQ(client_address(lb, "[1.2.3.4]", trusted), lb);
    EXPECT_EQ(client_address(lb, "[::1", trusted), lb);
    EXPECT_EQ(client_address(lb, "999.1.1.1", trusted), lb);
}

TEST_F(client_address_test, entries_with_ports_are_accepted) {
    EXPECT_EQ(client_address(lb, "198.51.100.7:51234", trusted), ip("198.51.100.7"));
    EXPECT_EQ(client_address(lb, "[2001:db8::7]:443", trusted), ip("2001:db8::7"));
    EXPECT_EQ(client_address(lb, "[2001:db8::7]", trusted), ip("2001:db8::7"));
}

TEST_F(client_address_test, ipv6_hops_and_peer) {
    const auto peer6 = ip("fd00::1");
    EXPECT_EQ(client_address(peer6, "2001:db8::42, fd00::2", trusted), ip("2001:db8::42"));
    EXPECT_EQ(client_address(peer6, "2001:db8::42, 10.0.0.3", trusted), ip("2001:db8::42"));
    // A v4-mapped IPv6 element is the IPv4 client.
    EXPECT_EQ(client_address(peer6, "::ffff:198.51.100.7", trusted), ip("198.51.100.7"));
    EXPECT_TRUE(client_address(peer6, "::ffff:198.51.100.7", trusted).is_v4());
}

TEST(headers, is_trusted_matches_any_listed_prefix) {
    const auto t = cidrs({"10.0.0.0/8", "192.168.1.7", "::1"});
    EXPECT_TRUE(is_trusted(ip("10.200.0.1"), t));
    EXPECT_TRUE(is_trusted(ip("192.168.1.7"), t));
    EXPECT_FALSE(is_trusted(ip("192.168.1.8"), t));
    EXPECT_TRUE(is_trusted(ip("::1"), t));
    EXPECT_FALSE(is_trusted(ip("127.0.0.1"), t));
    EXPECT_FALSE(is_trusted(ip("10.0.0.1"), {}));
}

// ---- remove_hop_by_hop -------------------------------------------------------------------------

TEST(headers, removes_the_standard_hop_by_hop_fields) {
    http::fields f;
    f.set(http::field::connection, "keep-alive");
    f.set(http::field::keep_alive, "timeout=5");
    f.set("Proxy-Connection", "keep-alive");
    f.set(http::field::te, "trailers");
    f.set(http::field::trailer, "X-Checksum");
    f.set(http::field::transfer_encoding, "chunked");
    f.set(http::field::upgrade, "websocket");
    f.set(http::field::proxy_authorization, "Basic eA==");
    f.set("Proxy-Authenticate", "Basic");
    f.set(http::field::host, "example.com");
    f.set(http::field::cookie, "a=b");
    f.set("X-End-To-End", "yes");
    remove_hop_by_hop(f);
    std::set<std::string> left;
    for (const auto& e : f) {
        left.emplace(e.name_string());
    }
    EXPECT_EQ(left, (std::set<std::string>{"Host", "Cookie", "X-End-To-End"}));
}

TEST(headers, removes_fields_named_in_connection_case_insensitively) {
    http::fields f;
    f.insert(http::field::connection, "close, X-Hop-One");
    f.insert(http::field::connection, " x-hop-two ,,");
    f.insert("X-Hop-One", "1");
    f.insert("X-HOP-TWO", "2");
    f.insert("X-Hop-Two", "again");
    f.insert("X-Stays", "3");
    remove_hop_by_hop(f);
    EXPECT_TRUE(values(f, "X-Hop-One").empty());
    EXPECT_TRUE(values(f, "X-Hop-Two").empty());
    EXPECT_TRUE(values(f, "Connection").empty());
    EXPECT_EQ(values(f, "X-Stays"), std::vector<std::string>{"3"});
}

TEST(headers, connection_cannot_strip_message_framing_or_host) {
    // "Connection: Content-Length" would leave the upstream reading the body as a new request.
    http::fields f;
    f.insert(http::field::connection, "Content-Length, host, X-Gone");
    f.insert(http::field::host, "example.com");
    f.insert(http::field::content_length, "5");
    f.insert("X-Gone", "1");
    remove_hop_by_hop(f);
    EXPECT_EQ(values(f, "Content-Length"), std::vector<std::string>{"5"});
    EXPECT_EQ(values(f, "Host"), std::vector<std::string>{"example.com"});
    EXPECT_TRUE(values(f, "X-Gone").empty());
}

// ---- add_forwarding_headers --------------------------------------------------------------------

// add_forwarding_headers, with the lines it writes for this hop put into the fields after the
// client's (as insert_lines does for a streamed head), so each check reads one field set.
void forward(http::fields& f, const forward_info& info) {
    std::string lines;
    add_forwarding_headers(f, info, lines);
    insert_lines(f, lines);
}

forward_info info_for(std::string_view peer, bool trusted, std::string_view host = "shop.example") {
    forward_info i;
    i.peer = ip(peer);
    i.peer_trusted = trusted;
    i.host = host;
    i.via_name = "anteroom";
    return i;
}

TEST(forwarding, from_an_untrusted_peer_client_values_are_replaced) {
    http::fields f;
    f.insert("X-Forwarded-For", "6.6.6.6");
    f.insert("X-Forwarded-Proto", "https");
    f.insert("X-Forwarded-Host", "evil.example");
    f.insert(http::field::forwarded, "for=6.6.6.6");
    forward(f, info_for("203.0.113.9", false));
    EXPECT_EQ(values(f, "X-Forwarded-For"), std::vector<std::string>{"203.0.113.9"});
    EXPECT_EQ(values(f, "X-Forwarded-Proto"), std::vector<std::string>{"http"});
    EXPECT_EQ(values(f, "X-Forwarded-Host"), std::vector<std::string>{"shop.example"});
    EXPECT_EQ(values(f, "Forwarded"),
              std::vector<std::string>{"for=203.0.113.9;proto=http;host=\"shop.example\""});
    EXPECT_EQ(values(f, "Via"), std::vector<std::string>{"1.1 anteroom"});
}

TEST(forwarding, from_a_trusted_peer_the_chain_is_extended) {
    http::fields f;
    f.insert("X-Forwarded-For", "198.51.100.7");
    f.insert("X-Forwarded-For", "10.0.0.9");
    f.insert("X-Forwarded-Proto", "https");
    f.insert("X-Forwarded-Host", "www.example");
    f.insert(http::field::forwarded, "for=198.51.100.7;proto=https");
    f.insert(http::field::via, "1.1 edge");
    forward(f, info_for("10.0.0.1", true));
    EXPECT_EQ(values(f, "X-Forwarded-For"), std::vector<std::string>{"198.51.100.7, 10.0.0.9, 10.0.0.1"});
    EXPECT_EQ(values(f, "X-Forwarded-Proto"), std::vector<std::string>{"https"});
    EXPECT_EQ(values(f, "X-Forwarded-Host"), std::vector<std::string>{"www.example"});
    EXPECT_EQ(values(f, "Forwarded"), std::vector<std::string>{
                                          "for=198.51.100.7;proto=https, for=10.0.0.1;proto=http;host=\"shop.example\""});
    EXPECT_EQ(values(f, "Via"), std::vector<std::string>{"1.1 edge, 1.1 anteroom"});
}

TEST(forwarding, trusted_peer_without_headers_gets_fresh_ones) {
    http::fields f;
    forward(f, info_for("10.0.0.1", true));
    EXPECT_EQ(values(f, "X-Forwarded-For"), std::vector<std::string>{"10.0.0.1"});
    EXPECT_EQ(values(f, "X-Forwarded-Proto"), std::vector<std::string>{"http"});
    EXPECT_EQ(values(f, "X-Forwarded-Host"), std::vector<std::string>{"shop.example"});
}

TEST(forwarding, every_via_line_is_kept) {
    http::fields f;
    f.insert(http::field::via, "1.0 fred");
    f.insert(http::field::via, "1.1 p.example.net");
    forward(f, info_for("203.0.113.9", false));
    EXPECT_EQ(values(f, "Via"), std::vector<std::string>{"1.0 fred, 1.1 p.example.net, 1.1 anteroom"});
}

TEST(forwarding, ipv6_peer_is_quoted_and_bracketed_in_forwarded) {
    http::fields f;
    forward(f, info_for("2001:db8::7", false, "[2001:db8::1]:8080"));
    EXPECT_EQ(values(f, "X-Forwarded-For"), std::vector<std::string>{"2001:db8::7"});
    EXPECT_EQ(values(f, "Forwarded"),
              std::vector<std::string>{"for=\"[2001:db8::7]\";proto=http;host=\"[2001:db8::1]:8080\""});
}

TEST(forwarding, tls_no_host_and_http10) {
    http::fields f;
    f.insert("X-Forwarded-Host", "spoofed");
    auto i = info_for("203.0.113.9", false, "");
    i.tls = true;
    i.http_version = 10;
    forward(f, i);
    EXPECT_EQ(values(f, "X-Forwarded-Proto"), std::vector<std::string>{"https"});
    EXPECT_TRUE(values(f, "X-Forwarded-Host").empty());
    EXPECT_EQ(values(f, "Forwarded"), std::vector<std::string>{"for=203.0.113.9;proto=https"});
    EXPECT_EQ(values(f, "Via"), std::vector<std::string>{"1.0 anteroom"});
}

TEST(forwarding, host_with_quote_or_backslash_is_escaped_in_forwarded) {
    http::fields f;
    forward(f, info_for("203.0.113.9", false, "a\"b\\c"));
    EXPECT_EQ(values(f, "Forwarded"), std::vector<std::string>{"for=203.0.113.9;proto=http;host=\"a\\\"b\\\\c\""});
}

TEST(forwarding, names_match_in_any_case_and_other_fields_keep_their_order) {
    http::fields f;
    f.insert("Accept", "*/*");
    f.insert("x-forwarded-for", "6.6.6.6");
    f.insert("X-Custom", "1");
    f.insert("x-FORWARDED-proto", "https");
    f.insert("VIA", "1.1 spoof");
    f.insert("Cookie", "a=b");
    forward(f, info_for("203.0.113.9", false));
    std::vector<std::string> names;
    for (const auto& field : f) {
        names.emplace_back(field.name_string());
    }
    EXPECT_EQ(names, (std::vector<std::string>{"Accept", "X-Custom", "Cookie", "X-Forwarded-For", "X-Forwarded-Proto",
                                               "X-Forwarded-Host", "Forwarded", "Via"}));
    EXPECT_EQ(values(f, "X-Forwarded-For"), std::vector<std::string>{"203.0.113.9"});
    EXPECT_EQ(values(f, "X-Forwarded-Proto"), std::vector<std::string>{"http"});
    EXPECT_EQ(values(f, "Via"), std::vector<std::string>{"1.1 spoof, 1.1 anteroom"});
}

TEST(forwarding, the_clients_request_id_gives_way_to_this_requests) {
    http::fields f;
    f.insert("x-request-id", "from-the-client");
    f.insert("Accept", "*/*");
    auto i = info_for("203.0.113.9", false);
    i.request_id = "0123abcd";
    std::string lines;
    add_forwarding_headers(f, i, lines);
    EXPECT_TRUE(values(f, "X-Request-Id").empty());
    EXPECT_EQ(values(f, "Accept"), std::vector<std::string>{"*/*"});
    EXPECT_EQ(lines,
              "X-Forwarded-For: 203.0.113.9\r\n"
              "X-Forwarded-Proto: http\r\n"
              "X-Forwarded-Host: shop.example\r\n"
              "Forwarded: for=203.0.113.9;proto=http;host=\"shop.example\"\r\n"
              "Via: 1.1 anteroom\r\n"
              "X-Request-Id: 0123abcd\r\n");
}

// ---- lookups by walking the fields ---------------------------------------------------------------

TEST(field_lookup, finds_the_first_line_by_code_or_by_name_in_any_case) {
    http::fields f;
    f.insert("X-Custom", "one");
    f.insert(http::field::content_length, "5");
    f.insert("x-custom", "two");
    f.insert("Host", "shop.example");
    EXPECT_EQ(field_value(f, http::field::content_length), "5");
    EXPECT_EQ(field_value(f, "CONTENT-LENGTH"), "5");  // a known name by its text
    EXPECT_EQ(field_value(f, "X-CUSTOM"), "one");
    EXPECT_EQ(field_value(f, http::field::host), "shop.example");
    EXPECT_EQ(field_value(f, http::field::expect), "");
    EXPECT_EQ(field_value(f, "X-Missing"), "");
    EXPECT_EQ(find_field(f, "X-Missing"), f.end());
    EXPECT_EQ(find_field(f, http::field::expect), f.end());
    // The same answers as Beast's own search of its field set.
    EXPECT_EQ(find_field(f, "x-custom"), f.find("x-custom"));
    EXPECT_EQ(find_field(f, http::field::host), f.find(http::field::host));
}

TEST(field_lookup, erase_field_removes_every_line_of_the_field_and_nothing_else) {
    http::fields f;
    f.insert(http::field::expect, "100-continue");
    f.insert("Accept", "*/*");
    f.insert("EXPECT", "other");
    erase_field(f, http::field::expect);
    EXPECT_TRUE(values(f, "Expect").empty());
    EXPECT_EQ(values(f, "Accept"), std::vector<std::string>{"*/*"});
    erase_field(f, http::field::expect);  // absent: nothing happens
    EXPECT_EQ(std::distance(f.begin(), f.end()), 1);
}

TEST(field_lookup, insert_lines_adds_each_added_line_in_order) {
    http::fields f;
    f.insert("Accept", "*/*");
    std::string lines;
    add_line(lines, "Set-Cookie", "a=1; Path=/");
    add_line(lines, "X-Empty", "");
    add_line(lines, "Set-Cookie", "b=2: colon");
    EXPECT_EQ(lines, "Set-Cookie: a=1; Path=/\r\nX-Empty: \r\nSet-Cookie: b=2: colon\r\n");
    insert_lines(f, lines);
    EXPECT_EQ(values(f, "Set-Cookie"), (std::vector<std::string>{"a=1; Path=/", "b=2: colon"}));
    EXPECT_EQ(values(f, "X-Empty"), std::vector<std::string>{""});
    EXPECT_EQ(values(f, "Accept"), std::vector<std::string>{"*/*"});
}

// ---- message heads as written to the wire -------------------------------------------------------

// What Beast's own serializer writes for the head (the reference append_head must match).
template <bool isRequest>
std::string beast_head(const http::header<isRequest, http::fields>& h) {
    http::message<isRequest, http::empty_body> m(h);
    std::ostringstream out;
    out << m;
    return out.str();
}

TEST(append_head, request_heads_match_beasts_serializer) {
    http::request<http::empty_body> get{http::verb::get, "/a/b?c=d", 11};
    get.set(http::field::host, "shop.example");
    get.insert("X-Custom", "one");
    get.insert("x-custom", "two");
    get.insert(http::field::cookie, "");
    http::request<http::empty_body> options{http::verb::options, "*", 10};
    http::request<http::empty_body> unknown;
    unknown.method_string("FROB");
    unknown.target("/x");
    unknown.version(11);
    unknown.set(http::field::content_length, "0");
    for (const auto* m : {&get, &options, &unknown}) {
        std::string head = "kept|";
        append_head(head, m->base());
        EXPECT_EQ(head, "kept|" + beast_head(m->base()));
    }
    std::string head;
    append_head(head, get.base());
    EXPECT_EQ(head,
              "GET /a/b?c=d HTTP/1.1\r\nHost: shop.example\r\nX-Custom: one\r\nx-custom: two\r\nCookie: \r\n\r\n");
}

TEST(append_head, response_heads_match_beasts_serializer) {
    http::response<http::empty_body> ok{http::status::ok, 11};
    ok.set(http::field::content_length, "3");
    ok.set(http::field::server, "nginx");
    http::response<http::empty_body> custom_reason{http::status::not_found, 10};
    custom_reason.reason("Nicht gefunden");
    http::response<http::empty_body> unknown_code;
    unknown_code.result(599);
    unknown_code.version(11);
    http::response<http::empty_body> no_content{http::status::no_content, 11};
    for (const auto* m : {&ok, &custom_reason, &unknown_code, &no_content}) {
        std::string head;
        append_head(head, m->base());
        EXPECT_EQ(head, beast_head(m->base()));
    }
    std::string head;
    append_head(head, custom_reason.base());
    EXPECT_EQ(head, "HTTP/1.0 404 Nicht gefunden\r\n\r\n");
}

TEST(append_head, added_lines_follow_the_fields_as_if_inserted_last) {
    http::response<http::empty_body> ok{http::status::ok, 11};
    ok.set(http::field::content_length, "3");
    ok.insert(http::field::set_cookie, "up=1");
    std::string lines;
    add_line(lines, "Set-Cookie", "room=2");
    add_line(lines, "Connection", "close");
    std::string head;
    append_head(head, ok.base(), lines);
    EXPECT_EQ(head, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nSet-Cookie: up=1\r\nSet-Cookie: room=2\r\n"
                    "Connection: close\r\n\r\n");
    insert_lines(ok, lines);  // the streamed-body path: Beast's serializer writes the same head
    EXPECT_EQ(head, beast_head(ok.base()));
}

// ---- request ids and methods -------------------------------------------------------------------

TEST(request_id, validity) {
    EXPECT_TRUE(is_valid_request_id("abc-123"));
    EXPECT_TRUE(is_valid_request_id("A.b_C-9"));
    EXPECT_TRUE(is_valid_request_id(std::string(64, 'x')));
    EXPECT_FALSE(is_valid_request_id(std::string(65, 'x')));
    EXPECT_FALSE(is_valid_request_id(""));
    EXPECT_FALSE(is_valid_request_id("has space"));
    EXPECT_FALSE(is_valid_request_id("quote\""));
    EXPECT_FALSE(is_valid_request_id("new\nline"));
    EXPECT_FALSE(is_valid_request_id("ümlaut"));
    EXPECT_FALSE(is_valid_request_id("a/b"));
}

TEST(request_id, new_ids_are_valid_32_hex_and_distinct) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        const auto id = new_request_id();
        ASSERT_EQ(id.size(), 32u);
        ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
        ASSERT_TRUE(is_valid_request_id(id));
        seen.insert(id);
    }
    EXPECT_EQ(seen.size(), 1000u);
}

TEST(methods, idempotent_per_rfc_9110) {
    for (auto m : {http::verb::get, http::verb::head, http::verb::options, http::verb::put, http::verb::delete_,
                   http::verb::trace}) {
        EXPECT_TRUE(is_idempotent(m)) << http::to_string(m);
    }
    for (auto m : {http::verb::post, http::verb::patch, http::verb::connect, http::verb::unknown}) {
        EXPECT_FALSE(is_idempotent(m)) << http::to_string(m);
    }
}

TEST(cookies, finds_a_cookie_across_fields_and_pairs) {
    http::fields f;
    f.insert(http::field::cookie, "a=1; anteroom_ticket_book=T1;b=2");
    f.insert(http::field::cookie, "anteroom_pass_book=\"P1\"");
    EXPECT_EQ(cookie_value(f, "anteroom_ticket_book"), "T1");
    EXPECT_EQ(cookie_value(f, "anteroom_pass_book"), "P1");  // quotes removed
    EXPECT_EQ(cookie_value(f, "b"), "2");
    EXPECT_FALSE(cookie_value(f, "anteroom_ticket"));       // no prefix matches
    EXPECT_FALSE(cookie_value(f, "c"));
    http::fields dup;
    dup.insert(http::field::cookie, "x=first; x=second; empty=");
    EXPECT_EQ(cookie_value(dup, "x"), "first");
    EXPECT_EQ(cookie_value(dup, "empty"), "");
    EXPECT_FALSE(cookie_value(http::fields{}, "x"));
}

TEST(query, decodes_parameters_and_refuses_bad_escapes) {
    EXPECT_EQ(query_param("/_anteroom/status?room=book&return=%2Fbook%3Fx%3D1", "return"), "/book?x=1");
    EXPECT_EQ(query_param("/s?room=book", "room"), "book");
    EXPECT_EQ(query_param("/s?a=1+2&room=", "a"), "1 2");
    EXPECT_EQ(query_param("/s?room=", "room"), "");
    EXPECT_EQ(query_param("/s?room", "room"), "");
    EXPECT_EQ(query_param("/s?rooms=x&room=y#frag", "room"), "y");
    EXPECT_FALSE(query_param("/s?x=1", "room"));
    EXPECT_FALSE(query_param("/s", "room"));
    EXPECT_FALSE(query_param("/s?room=%2", "room"));
    EXPECT_FALSE(query_param("/s?room=%zz", "room"));
}

TEST(query, url_encoding_round_trips_through_query_param) {
    for (const std::string v : {"/book/a?x=1&y=2", "ä ö/#%+", ""}) {
        EXPECT_EQ(query_param("/s?v=" + url_encode_component(v), "v"), v);
    }
    EXPECT_EQ(url_encode_component("a-b_c.d~e/f"), "a-b_c.d~e%2Ff");
}

}  // namespace
}  // namespace anteroom::proxy
