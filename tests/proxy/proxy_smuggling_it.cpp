// Request smuggling over real sockets. Every ambiguous or malformed request gets 400 and a
// closed connection, and the upstream never sees it — nor anything hidden in it. Then the
// requests that look like smuggling but are well-formed: their embedded "requests" must reach
// the upstream as body bytes, never as requests of their own.

#include <gtest/gtest.h>

#include "tests/support/fake_upstream.hpp"
#include "tests/support/harness.hpp"

namespace anteroom::test {
namespace {

using namespace std::chrono_literals;

struct smuggling_case {
    const char* name;
    std::string bytes;  // everything the client sends, at once
};

std::ostream& operator<<(std::ostream& os, const smuggling_case& c) { return os << c.name; }

// A request hidden behind the first one: if the upstream ever sees /smuggled, the proxy and
// the upstream disagreed about where a request ends.
const std::string hidden = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

std::string post(const std::string& headers, const std::string& body) {
    return "POST /echo HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n" + body;
}

std::string with_nul(std::string s, char marker = '@') {
    for (auto& ch : s) {
        if (ch == marker) {
            ch = '\0';
        }
    }
    return s;
}

const smuggling_case rejected_cases[] = {
    // Content-Length and Transfer-Encoding together (CL.TE / TE.CL), in both orders.
    {"cl_then_te", post("Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n" + hidden)},
    {"te_then_cl", post("Transfer-Encoding: chunked\r\nContent-Length: 40\r\n", "0\r\n\r\n" + hidden)},
    {"cl_zero_and_te", post("Content-Length: 0\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n")},
    // Content-Length that two parsers could read differently.
    {"differing_duplicate_cl", post("Content-Length: 5\r\nContent-Length: 41\r\n", "hello" + hidden)},
    {"differing_cl_list", post("Content-Length: 5, 41\r\n", "hello" + hidden)},
    {"cl_with_plus_sign", post("Content-Length: +5\r\n", "hello")},
    {"cl_negative", post("Content-Length: -1\r\n", "")},
    {"cl_hex", post("Content-Length: 0x5\r\n", "hello")},
    {"cl_two_numbers", post("Content-Length: 5 5\r\n", "hello")},
    {"cl_empty", post("Content-Length: \r\n", "")},
    {"cl_trailing_letter", post("Content-Length: 5a\r\n", "hello")},
    {"cl_overflow", post("Content-Length: 184467440737095516160\r\n", "")},
    // Transfer-Encoding other than a final chunked.
    {"te_chunked_then_identity", post("Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n" + hidden)},
    {"te_identity", post("Transfer-Encoding: identity\r\n", "0\r\n\r\n" + hidden)},
    {"te_gzip", post("Transfer-Encoding: gzip\r\n", "0\r\n\r\n" + hidden)},
    {"te_chunked_twice", post("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n")},
    {"te_second_line_not_chunked", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", "0\r\n\r\n")},
    {"te_on_http10", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden},
    // Obfuscated Transfer-Encoding.
    {"te_space_before_colon", post("Transfer-Encoding : chunked\r\n", "0\r\n\r\n" + hidden)},
    {"te_tab_before_colon", post("Transfer-Encoding\t: chunked\r\n", "0\r\n\r\n" + hidden)},
    {"te_xchunked", post("Transfer-Encoding: xchunked\r\n", "0\r\n\r\n" + hidden)},
    {"te_chunked_suffix", post("Transfer-Encoding: chunkedx\r\n", "0\r\n\r\n" + hidden)},
    {"te_quoted", post("Transfer-Encoding: \"chunked\"\r\n", "0\r\n\r\n" + hidden)},
    {"te_vertical_tab", post("Transfer-Encoding:\x0b" "chunked\r\n", "0\r\n\r\n" + hidden)},
    {"te_trailing_vertical_tab", post("Transfer-Encoding: chunked\x0b\r\n", "0\r\n\r\n" + hidden)},
    {"te_form_feed", post("Transfer-Encoding: \x0c" "chunked\r\n", "0\r\n\r\n" + hidden)},
    {"te_leading_tab_line", "POST /echo HTTP/1.1\r\n\tTransfer-Encoding: chunked\r\nHost: x\r\n\r\n0\r\n\r\n"},
    {"te_folded_onto_previous", post("X-A: a\r\n\tTransfer-Encoding: chunked\r\n", "0\r\n\r\n" + hidden)},
    {"te_with_parameter", post("Transfer-Encoding: chunked;q=1\r\n", "0\r\n\r\n" + hidden)},
    {"te_empty_element", post("Transfer-Encoding: ,chunked\r\n", "0\r\n\r\n")},
    // Chunk sizes.
    {"chunk_size_not_hex", post("Transfer-Encoding: chunked\r\n", "zz\r\nhello\r\n0\r\n\r\n")},
    {"chunk_size_overflow", post("Transfer-Encoding: chunked\r\n", "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n")},
    {"chunk_size_negative", post("Transfer-Encoding: chunked\r\n", "-1\r\nhello\r\n0\r\n\r\n")},
    {"chunk_size_0x_prefix", post("Transfer-Encoding: chunked\r\n", "0x5\r\nhello\r\n0\r\n\r\n")},
    {"chunk_size_leading_space", post("Transfer-Encoding: chunked\r\n", " 5\r\nhello\r\n0\r\n\r\n")},
    {"chunk_size_trailing_space", post("Transfer-Encoding: chunked\r\n", "5 \r\nhello\r\n0\r\n\r\n")},
    {"chunk_size_empty", post("Transfer-Encoding: chunked\r\n", "\r\nhello\r\n0\r\n\r\n")},
    {"chunk_size_bare_lf", post("Transfer-Encoding: chunked\r\n", "5\nhello\r\n0\r\n\r\n")},
    {"chunk_data_longer_than_size", post("Transfer-Encoding: chunked\r\n", "3\r\nhello\r\n0\r\n\r\n")},
    {"chunk_data_shorter_than_size",
     post("Transfer-Encoding: chunked\r\n", "a\r\nhello\r\n0\r\n\r\n" + hidden)},
    // Line folding and line endings.
    {"obs_fold", post("X-A: a\r\n b\r\n", "")},
    {"obs_fold_tab", post("X-A: a\r\n\tb\r\n", "")},
    {"bare_cr_in_value", post("X-A: a\rX-B: b\r\n", "")},
    {"bare_cr_line_end", "GET /echo HTTP/1.1\rHost: x\r\n\r\n"},
    {"bare_lf_line_ends", "GET /echo HTTP/1.1\nHost: x\n\n"},
    {"bare_lf_one_header", "GET /echo HTTP/1.1\r\nHost: x\nX-A: a\r\n\r\n"},
    {"bare_lf_before_cl", "POST /echo HTTP/1.1\r\nHost: x\nContent-Length: 41\r\n\r\nhello" + hidden},
    // Field names and values.
    {"nul_in_value", with_nul(post("X-A: a@b\r\n", ""))},
    {"nul_in_name", with_nul(post("X-@A: b\r\n", ""))},
    {"del_in_value", post("X-A: a\x7f" "b\r\n", "")},
    {"escape_in_value", post("X-A: a\x1b" "b\r\n", "")},
    {"space_before_colon", "GET /echo HTTP/1.1\r\nHost : x\r\n\r\n"},
    {"space_in_name", post("X A: b\r\n", "")},
    {"non_token_name", post("X(A): b\r\n", "")},
    {"empty_name", post(": b\r\n", "")},
    {"line_without_colon", post("X-A b\r\n", "")},
    // Request line and Host.
    {"double_space_in_request_line", "GET  /echo HTTP/1.1\r\nHost: x\r\n\r\n"},
    {"lowercase_version", "GET /echo http/1.1\r\nHost: x\r\n\r\n"},
    {"unknown_version", "GET /echo HTTP/1.2\r\nHost: x\r\n\r\n"},
    {"http2_version", "GET /echo HTTP/2.0\r\nHost: x\r\n\r\n"},
    {"missing_host", "GET /echo HTTP/1.1\r\nX-A: a\r\n\r\n"},
    {"duplicate_host", "GET /echo HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"},
    {"nul_in_target", with_nul("GET /echo@/x HTTP/1.1\r\nHost: x\r\n\r\n")},
};

class proxy_smuggling_rejected : public ::testing::TestWithParam<smuggling_case> {
protected:
    fake_upstream up;
    proxy_under_test px{upstream_block("[\"" + up.address() + "\"]")};
};

TEST_P(proxy_smuggling_rejected, gets_400_closes_and_nothing_reaches_the_upstream) {
    const auto& c = GetParam();
    raw_client client(px.port(), 3s);
    client.send(c.bytes);
    auto res = client.read_response();
    ASSERT_TRUE(res) << client.ec().message();
    EXPECT_EQ(res->result_int(), 400);
    EXPECT_FALSE(res->keep_alive());
    // Nothing after the 400: the rest of the bytes (a hidden request) is never answered.
    EXPECT_TRUE(client.closed_by_peer());
    EXPECT_EQ(client.buffer().size(), 0u);

    // A well-formed request afterwards is the first and only one the upstream ever sees, so
    // nothing of the rejected bytes was forwarded (on any pooled connection) ahead of it.
    auto sentinel = get(px.port(), "/echo/sentinel");
    ASSERT_TRUE(sentinel);
    EXPECT_EQ(sentinel->result_int(), 200);
    const auto seen = up.requests();
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.size(), 1u) << "first: " << seen.front().method << " " << seen.front().target;
    EXPECT_EQ(seen.front().target, "/echo/sentinel");
}

INSTANTIATE_TEST_SUITE_P(cases, proxy_smuggling_rejected, ::testing::ValuesIn(rejected_cases),
                         [](const ::testing::TestParamInfo<smuggling_case>& info) { return info.param.name; });

// ---- well-formed requests carrying something that looks like a request ----------------------

class proxy_smuggling_desync : public ::testing::Test {
protected:
    fake_upstream up;
    proxy_under_test px{upstream_block("[\"" + up.address() + "\"]")};

    // Sends `bytes`, expects `responses` answers, all 200, and returns the upstream's requests.
    std::vector<seen_request> exchange(const std::string& bytes, std::size_t responses) {
        raw_client c(px.port(), 3s);
        c.send(bytes);
        for (std::size_t i = 0; i < responses; ++i) {
            auto res = c.read_response();
            EXPECT_TRUE(res) << i << ": " << c.ec().message();
            if (!res) {
                break;
            }
            EXPECT_EQ(res->result_int(), 200) << i;
            EXPECT_EQ(res->body().find("/smuggled"), std::string::npos) << res->body();
        }
        // No extra response for a hidden request, however long we wait for one.
        raw_client probe(px.port());
        probe.send("GET /echo/sentinel HTTP/1.1\r\nHost: x\r\n\r\n");
        EXPECT_TRUE(probe.read_response());
        auto seen = up.requests();
        EXPECT_FALSE(seen.empty());
        if (!seen.empty()) {
            EXPECT_EQ(seen.back().target, "/echo/sentinel");
            seen.pop_back();
        }
        for (const auto& r : seen) {
            EXPECT_NE(r.target, "/smuggled");
        }
        return seen;
    }
};

TEST_F(proxy_smuggling_desync, request_inside_a_content_length_body_stays_body) {
    const auto seen = exchange(post("Content-Length: " + std::to_string(hidden.size()) + "\r\n", hidden), 1);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "POST");
    EXPECT_EQ(seen[0].body_bytes, hidden.size());
}

TEST_F(proxy_smuggling_desync, request_inside_a_get_body_stays_body) {
    const auto seen = exchange("GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(hidden.size()) +
                                   "\r\n\r\n" + hidden,
                               1);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "GET");
    EXPECT_EQ(seen[0].body_bytes, hidden.size());
}

TEST_F(proxy_smuggling_desync, request_inside_a_chunk_stays_body) {
    char size[16];
    std::snprintf(size, sizeof size, "%zx", hidden.size());
    const auto seen =
        exchange(post("Transfer-Encoding: chunked\r\n", std::string(size) + "\r\n" + hidden + "\r\n0\r\n\r\n"), 1);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].body_bytes, hidden.size());
}

TEST_F(proxy_smuggling_desync, pipelined_request_after_a_body_is_served_in_order) {
    // The proxy's idea of where the body ends is the client's: what follows is the next request.
    const auto seen = exchange(post("Content-Length: 5\r\n", "hello") + "GET /echo/next HTTP/1.1\r\nHost: x\r\n\r\n", 2);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].body_bytes, 5u);
    EXPECT_EQ(seen[1].target, "/echo/next");
}

TEST_F(proxy_smuggling_desync, equal_duplicate_content_length_is_one_length) {
    const auto seen = exchange(post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"), 1);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].body_bytes, 5u);
    EXPECT_EQ(seen[0].count("Content-Length"), 1u);  // forwarded once, not as a list
}

TEST_F(proxy_smuggling_desync, equal_content_length_list_is_one_length) {
    const auto seen = exchange(post("Content-Length: 5, 5\r\n", "hello"), 1);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].header("Content-Length"), "5");
}

TEST_F(proxy_smuggling_desync, transfer_encoding_lines_are_forwarded_as_one) {
    const auto seen =
        exchange(post("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"), 1);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].count("Transfer-Encoding"), 1u);
    EXPECT_EQ(seen[0].header("Transfer-Encoding"), "gzip, chunked");
    EXPECT_EQ(seen[0].body_bytes, 5u);
}

TEST_F(proxy_smuggling_desync, upstream_gets_canonical_chunked_framing) {
    // Chunk extensions and odd-but-valid chunk sizes are re-encoded, not passed through.
    const auto seen =
        exchange(post("Transfer-Encoding: chunked\r\n", "005;ext=\"x\"\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"), 1);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].body_bytes, 5u);
    EXPECT_EQ(seen[0].header("Transfer-Encoding"), "chunked");
    EXPECT_EQ(seen[0].count("Content-Length"), 0u);
}

}  // namespace
}  // namespace anteroom::test
