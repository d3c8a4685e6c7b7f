#include "proxy/http_rules.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace anteroom::proxy {
namespace {

using namespace std::string_literals;

// A GET with one Host plus `fields` (each ending in CRLF), terminated by the empty line.
std::string with_fields(const std::string& fields) {
    return "GET / HTTP/1.1\r\nHost: a.example\r\n" + fields + "\r\n";
}

// `request_line` (without CRLF) followed by a Host field and the empty line.
std::string with_line(const std::string& request_line) {
    return request_line + "\r\nHost: a.example\r\n\r\n";
}

// The bytes in a heap block of exactly their size, so ASan catches any read past the end
// (a std::string would hide it behind its NUL terminator and spare capacity).
struct exact_buffer {
    explicit exact_buffer(std::string_view s) : data(new char[s.size() + (s.empty() ? 1 : 0)]) {
        std::copy(s.begin(), s.end(), data.get());
        size = s.size();
    }
    std::string_view view() const { return {data.get(), size}; }
    std::unique_ptr<char[]> data;
    std::size_t size = 0;
};

struct head_case {
    const char* name;
    std::string head;
    head_defect expected;
};

void PrintTo(const head_case& c, std::ostream* os) {
    *os << c.name;
}

using hd = head_defect;

const std::vector<head_case> cases = {
    // ---- valid controls -----------------------------------------------------------------
    {"valid_get", "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n", hd::none},
    {"valid_http10_without_host", "GET / HTTP/1.0\r\n\r\n", hd::none},
    {"valid_http10_with_host", "GET / HTTP/1.0\r\nHost: a\r\n\r\n", hd::none},
    {"valid_lowercase_method_is_a_token", with_line("get / HTTP/1.1"), hd::none},
    {"valid_extension_method", with_line("PURGE /x HTTP/1.1"), hd::none},
    {"valid_origin_form_with_query", with_line("GET /a/b?c=d&e HTTP/1.1"), hd::none},
    {"valid_absolute_form_http", with_line("GET http://a.example/x?y HTTP/1.1"), hd::none},
    {"valid_absolute_form_https_upper_scheme", with_line("GET HTTPS://a.example HTTP/1.1"),
     hd::none},
    {"valid_options_asterisk", with_line("OPTIONS * HTTP/1.1"), hd::none},
    {"valid_connect_authority", with_line("CONNECT a.example:443 HTTP/1.1"), hd::none},
    {"valid_connect_ipv6_authority", with_line("CONNECT [::1]:8443 HTTP/1.1"), hd::none},
    {"valid_lowercase_field_names", "GET / HTTP/1.1\r\nhost: a\r\ncontent-length: 3\r\n\r\n",
     hd::none},
    {"valid_host_upper_case", "GET / HTTP/1.1\r\nHOST: a\r\n\r\n", hd::none},
    {"valid_empty_value", with_fields("X-Empty:\r\nX-Blank:  \t \r\n"), hd::none},
    {"valid_htab_inside_value", with_fields("X-A: a\tb\r\n"), hd::none},
    {"valid_obs_text_value", with_fields("X-Name: caf\xc3\xa9\r\n"), hd::none},
    {"valid_content_length", with_fields("Content-Length: 5\r\n"), hd::none},
    {"valid_content_length_zero", with_fields("Content-Length: 0\r\n"), hd::none},
    {"valid_content_length_uint64_max", with_fields("Content-Length: 18446744073709551615\r\n"),
     hd::none},
    {"valid_content_length_identical_list", with_fields("Content-Length: 5, 5\r\n"), hd::none},
    {"valid_content_length_identical_lines",
     with_fields("Content-Length: 5\r\ncontent-length: 5\r\n"), hd::none},
    {"valid_chunked", with_fields("Transfer-Encoding: chunked\r\n"), hd::none},
    {"valid_chunked_after_htab_ows", with_fields("Transfer-Encoding:\tchunked\r\n"), hd::none},
    {"valid_chunked_trailing_ows", with_fields("Transfer-Encoding: chunked \t\r\n"), hd::none},
    {"valid_chunked_upper_case", with_fields("transfer-encoding: CHUNKED\r\n"), hd::none},
    {"valid_gzip_then_chunked", with_fields("Transfer-Encoding: gzip ,\tchunked\r\n"), hd::none},
    {"valid_codings_across_lines",
     with_fields("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"), hd::none},
    {"valid_bytes_after_head_are_not_examined",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhe\nl\0"s, hd::none},

    // ---- request line -------------------------------------------------------------------
    {"http2_version", with_line("GET / HTTP/2.0"), hd::bad_request_line},
    {"http12_version", with_line("GET / HTTP/1.2"), hd::bad_request_line},
    {"lowercase_version", with_line("GET / http/1.1"), hd::bad_request_line},
    {"http09_no_version", with_line("GET /"), hd::bad_request_line},
    {"two_spaces_before_target", with_line("GET  / HTTP/1.1"), hd::bad_request_line},
    {"two_spaces_before_version", with_line("GET /  HTTP/1.1"), hd::bad_request_line},
    {"trailing_space_after_version", with_line("GET / HTTP/1.1 "), hd::bad_request_line},
    {"htab_as_separator", with_line("GET\t/ HTTP/1.1"), hd::bad_request_line},
    {"leading_space", with_line(" GET / HTTP/1.1"), hd::bad_request_line},
    {"method_not_a_token", with_line("GE(T / HTTP/1.1"), hd::bad_request_line},
    {"empty_request_line", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", hd::bad_request_line},
    {"ctl_in_target", with_line("GET /a\x01z HTTP/1.1"), hd::bad_request_line},
    {"del_in_target", with_line("GET /a\x7f HTTP/1.1"), hd::bad_request_line},
    {"nul_in_target", with_line("GET /a\0b HTTP/1.1"s), hd::bad_request_line},
    {"relative_target", with_line("GET a/b HTTP/1.1"), hd::bad_request_line},
    {"asterisk_with_get", with_line("GET * HTTP/1.1"), hd::bad_request_line},
    {"asterisk_with_path", with_line("OPTIONS *x HTTP/1.1"), hd::bad_request_line},
    {"absolute_form_other_scheme", with_line("GET ftp://a.example/ HTTP/1.1"),
     hd::bad_request_line},
    {"absolute_form_empty_authority", with_line("GET http:///x HTTP/1.1"), hd::bad_request_line},
    {"authority_form_without_connect", with_line("GET a.example:443 HTTP/1.1"),
     hd::bad_request_line},
    {"connect_with_origin_form", with_line("CONNECT / HTTP/1.1"), hd::bad_request_line},
    {"connect_without_port", with_line("CONNECT a.example HTTP/1.1"), hd::bad_request_line},
    {"connect_with_userinfo", with_line("CONNECT u@a.example:443 HTTP/1.1"),
     hd::bad_request_line},

    // ---- line endings -------------------------------------------------------------------
    {"bare_lf_everywhere", "GET / HTTP/1.1\nHost: a\n\n", hd::bare_cr_or_lf},
    {"bare_lf_after_request_line", "GET / HTTP/1.1\nHost: a\r\n\r\n", hd::bare_cr_or_lf},
    {"bare_lf_between_fields", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", hd::bare_cr_or_lf},
    {"bare_lf_as_empty_line", "GET / HTTP/1.1\r\nHost: a\r\n\n", hd::bare_cr_or_lf},
    {"lf_cr_lf_end", "GET / HTTP/1.1\r\nHost: a\n\r\n", hd::bare_cr_or_lf},
    {"bare_cr_in_value", with_fields("X-A: a\rb\r\n"), hd::bare_cr_or_lf},
    {"bare_cr_smuggling_te", with_fields("X-A: a\rTransfer-Encoding: chunked\r\n"),
     hd::bare_cr_or_lf},
    {"bare_cr_in_name", with_fields("X-A\r: b\r\n"), hd::bare_cr_or_lf},
    {"bare_cr_end_of_request_line", with_line("GET / HTTP/1.1\r"), hd::bare_cr_or_lf},
    {"bare_cr_in_target", with_line("GET /a\rb HTTP/1.1"), hd::bare_cr_or_lf},
    {"bare_cr_before_empty_line", "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", hd::bare_cr_or_lf},
    {"no_empty_line", "GET / HTTP/1.1\r\nHost: a\r\n", hd::bare_cr_or_lf},
    {"cut_in_field_line", "GET / HTTP/1.1\r\nHost: a", hd::bare_cr_or_lf},
    {"cut_in_request_line", "GET / HTTP/1.1", hd::bare_cr_or_lf},

    // ---- obs-fold -----------------------------------------------------------------------
    {"obs_fold_sp", with_fields("X-A: a\r\n b\r\n"), hd::obs_fold},
    {"obs_fold_htab", with_fields("X-A: a\r\n\tb\r\n"), hd::obs_fold},
    {"obs_fold_hides_te", with_fields(" Transfer-Encoding: chunked\r\n"), hd::obs_fold},
    {"whitespace_before_first_field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", hd::obs_fold},

    // ---- field names --------------------------------------------------------------------
    {"space_before_colon_te", with_fields("Transfer-Encoding : chunked\r\n"),
     hd::bad_header_name},
    {"htab_before_colon", with_fields("X-A\t: b\r\n"), hd::bad_header_name},
    {"empty_name", with_fields(": b\r\n"), hd::bad_header_name},
    {"name_not_a_token", with_fields("X(A): b\r\n"), hd::bad_header_name},
    {"name_with_nul", with_fields("X\0A: b\r\n"s), hd::bad_header_name},
    {"name_non_ascii", with_fields("Caf\xc3\xa9: b\r\n"), hd::bad_header_name},
    {"line_without_colon", with_fields("X-A\r\n"), hd::bad_header_name},

    // ---- field values -------------------------------------------------------------------
    {"nul_in_value", with_fields("X-A: a\0b\r\n"s), hd::bad_header_value},
    {"ctl_in_value", with_fields("X-A: a\x01\r\n"), hd::bad_header_value},
    {"vt_in_value", with_fields("X-A: a\x0b\r\n"), hd::bad_header_value},
    {"esc_in_value", with_fields("X-A: \x1b[2J\r\n"), hd::bad_header_value},
    {"del_in_value", with_fields("X-A: a\x7f\r\n"), hd::bad_header_value},
    {"nul_in_host", "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n"s, hd::bad_header_value},

    // ---- Content-Length -----------------------------------------------------------------
    {"cl_plus_sign", with_fields("Content-Length: +5\r\n"), hd::bad_content_length},
    {"cl_negative", with_fields("Content-Length: -1\r\n"), hd::bad_content_length},
    {"cl_two_numbers_with_space", with_fields("Content-Length: 5 5\r\n"),
     hd::bad_content_length},
    {"cl_differing_lines", with_fields("Content-Length: 5\r\nContent-Length: 6\r\n"),
     hd::bad_content_length},
    {"cl_differing_list", with_fields("Content-Length: 5, 6\r\n"), hd::bad_content_length},
    {"cl_overflow", with_fields("Content-Length: 99999999999999999999999\r\n"),
     hd::bad_content_length},
    {"cl_uint64_max_plus_one", with_fields("Content-Length: 18446744073709551616\r\n"),
     hd::bad_content_length},
    {"cl_empty", with_fields("Content-Length: \r\n"), hd::bad_content_length},
    {"cl_trailing_comma", with_fields("Content-Length: 5,\r\n"), hd::bad_content_length},
    {"cl_empty_element", with_fields("Content-Length: 5,,5\r\n"), hd::bad_content_length},
    {"cl_hex", with_fields("Content-Length: 0x5\r\n"), hd::bad_content_length},
    {"cl_decimal_point", with_fields("Content-Length: 5.0\r\n"), hd::bad_content_length},
    {"cl_vertical_tab", with_fields("Content-Length: 5\x0b\r\n"), hd::bad_content_length},
    {"cl_name_case_insensitive", with_fields("cOnTeNt-LeNgTh: abc\r\n"),
     hd::bad_content_length},

    // ---- Transfer-Encoding --------------------------------------------------------------
    {"te_xchunked", with_fields("Transfer-Encoding: xchunked\r\n"), hd::bad_transfer_encoding},
    {"te_chunked_then_identity", with_fields("Transfer-Encoding: chunked, identity\r\n"),
     hd::bad_transfer_encoding},
    {"te_second_line_not_chunked",
     with_fields("Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n"),
     hd::bad_transfer_encoding},
    {"te_chunked_vertical_tab", with_fields("Transfer-Encoding: chunked\x0b\r\n"),
     hd::bad_transfer_encoding},
    {"te_chunked_nbsp", with_fields("Transfer-Encoding: \xa0" "chunked\r\n"),
     hd::bad_transfer_encoding},
    {"te_quoted", with_fields("Transfer-Encoding: \"chunked\"\r\n"), hd::bad_transfer_encoding},
    {"te_leading_empty_element", with_fields("Transfer-Encoding: , chunked\r\n"),
     hd::bad_transfer_encoding},
    {"te_trailing_empty_element", with_fields("Transfer-Encoding: chunked,\r\n"),
     hd::bad_transfer_encoding},
    {"te_inner_empty_element", with_fields("Transfer-Encoding: gzip,,chunked\r\n"),
     hd::bad_transfer_encoding},
    {"te_empty_value", with_fields("Transfer-Encoding:\r\n"), hd::bad_transfer_encoding},
    {"te_chunked_twice", with_fields("Transfer-Encoding: chunked, chunked\r\n"),
     hd::bad_transfer_encoding},
    {"te_chunked_twice_across_lines",
     with_fields("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
     hd::bad_transfer_encoding},
    {"te_with_parameter", with_fields("Transfer-Encoding: chunked;q=1\r\n"),
     hd::bad_transfer_encoding},
    {"te_identity_only", with_fields("Transfer-Encoding: identity\r\n"),
     hd::bad_transfer_encoding},
    {"te_space_separated", with_fields("Transfer-Encoding: gzip chunked\r\n"),
     hd::bad_transfer_encoding},
    {"te_on_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
     hd::bad_transfer_encoding},

    // ---- CL.TE / TE.CL ------------------------------------------------------------------
    {"cl_then_te", with_fields("Content-Length: 6\r\nTransfer-Encoding: chunked\r\n"),
     hd::cl_and_te},
    {"te_then_cl", with_fields("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n"),
     hd::cl_and_te},
    {"cl_with_obfuscated_te", with_fields("Content-Length: 6\r\nTransfer-Encoding: xchunked\r\n"),
     hd::cl_and_te},

    // ---- Host ---------------------------------------------------------------------------
    {"http11_without_host", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", hd::missing_host},
    {"two_hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", hd::missing_host},
    {"two_hosts_same_value", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", hd::missing_host},
    {"two_hosts_http10", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", hd::missing_host},
};

class head_rules : public ::testing::TestWithParam<head_case> {};

TEST_P(head_rules, verdict) {
    const head_case& c = GetParam();
    const exact_buffer buf(c.head);
    const head_check r = check_request_head(buf.view());
    EXPECT_EQ(to_string(r.defect), to_string(c.expected));
    EXPECT_EQ(r.ok(), c.expected == hd::none);
    EXPECT_EQ(r.detail.empty(), r.ok()) << "every defect explains itself, success does not";
}

INSTANTIATE_TEST_SUITE_P(rfc9112, head_rules, ::testing::ValuesIn(cases),
                         [](const ::testing::TestParamInfo<head_case>& info) {
                             return std::string(info.param.name);
                         });

TEST(head_rules_limits, field_count_at_limit_passes_one_more_fails) {
    std::string fields;
    for (int i = 0; i < 9; ++i) {
        fields += "X-" + std::to_string(i) + ": v\r\n";
    }
    const std::string ten = with_fields(fields);  // Host + 9
    EXPECT_TRUE(check_request_head(ten, 10).ok());
    EXPECT_EQ(check_request_head(ten, 9).defect, hd::too_many_headers);
    EXPECT_EQ(check_request_head(with_fields(fields + "X-last: v\r\n"), 10).defect,
              hd::too_many_headers);
}

TEST(head_rules_limits, default_limit_is_one_hundred_field_lines) {
    std::string fields;
    for (int i = 0; i < 99; ++i) {
        fields += "X-" + std::to_string(i) + ": v\r\n";
    }
    EXPECT_TRUE(check_request_head(with_fields(fields)).ok());
    EXPECT_EQ(check_request_head(with_fields(fields + "X-100: v\r\n")).defect,
              hd::too_many_headers);
}

TEST(head_rules_detail, names_the_rule_not_the_request_bytes) {
    const head_check r = check_request_head(with_fields("X-Secret: token\x01zz\r\n"));
    ASSERT_EQ(r.defect, hd::bad_header_value);
    EXPECT_EQ(r.detail.find("token"), std::string_view::npos);
    EXPECT_EQ(check_request_head("GET / HTTP/1.1\r\n\r\n").detail, "missing or duplicate Host");
}

TEST(head_rules_detail, every_defect_has_a_distinct_name) {
    std::set<std::string_view> names;
    for (int d = static_cast<int>(hd::none); d <= static_cast<int>(hd::too_many_headers); ++d) {
        names.insert(to_string(static_cast<head_defect>(d)));
    }
    EXPECT_EQ(names.size(), 11u);
    EXPECT_EQ(to_string(hd::cl_and_te), "cl_and_te");
}

TEST(head_rules_robustness, every_prefix_of_a_valid_head_is_rejected_without_overread) {
    const std::string head =
        "POST http://a.example/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
    ASSERT_TRUE(check_request_head(head).ok());
    for (std::size_t n = 0; n < head.size(); ++n) {
        const exact_buffer buf(std::string_view(head).substr(0, n));
        EXPECT_FALSE(check_request_head(buf.view()).ok()) << n;
        EXPECT_EQ(find_head_end(buf.view()), 0u) << n;
    }
}

TEST(head_rules_robustness, mutated_heads_never_crash_and_agree_with_find_head_end) {
    const std::string base =
        "POST /a?b HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nX-A: b, c\r\n\r\n";
    const std::string alphabet = "\r\n \t:,;\"\x00\x0b\x7f\x80" "aZ09/*-"s;
    std::mt19937 rng(20240601);  // fixed seed: reproducible
    for (int round = 0; round < 20000; ++round) {
        std::string s = base;
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits && !s.empty(); ++e) {
            const std::size_t at = rng() % s.size();
            const char c = alphabet[rng() % alphabet.size()];
            switch (rng() % 3) {
            case 0:
                s[at] = c;
                break;
            case 1:
                s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), c);
                break;
            default:
                s.erase(at, 1);
                break;
            }
        }
        const exact_buffer buf(s);
        const std::size_t end = find_head_end(buf.view());
        const head_check r = check_request_head(buf.view().substr(0, end));
        if (r.ok()) {
            // Anything that passes has the strict shape: CRLF lines ending in CRLF CRLF.
            const std::string_view head = buf.view().substr(0, end);
            EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n") << s;
        }
    }
}

// ---- find_head_end ---------------------------------------------------------------------------

TEST(find_head_end, complete_head) {
    const std::string head = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    EXPECT_EQ(find_head_end(head), head.size());
}

TEST(find_head_end, points_at_the_body) {
    const std::string bytes = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody";
    EXPECT_EQ(find_head_end(bytes), bytes.size() - 4);
}

TEST(find_head_end, first_head_of_a_pipeline) {
    const std::string one = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
    EXPECT_EQ(find_head_end(one + "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n"), one.size());
}

TEST(find_head_end, incomplete_heads_wait) {
    EXPECT_EQ(find_head_end(""), 0u);
    EXPECT_EQ(find_head_end("GET / HTTP/1.1"), 0u);
    EXPECT_EQ(find_head_end("GET / HTTP/1.1\r\n"), 0u);
    EXPECT_EQ(find_head_end("GET / HTTP/1.1\r\nHost: a\r\n"), 0u);
    EXPECT_EQ(find_head_end("GET / HTTP/1.1\r\nHost: a\r\n\r"), 0u);
    EXPECT_EQ(find_head_end("GET / HTTP/1.1\r\nHost: a\n"), 0u);
    EXPECT_EQ(find_head_end("GET / HTTP/1.1\r\nHost: a\n\r"), 0u);
    EXPECT_EQ(find_head_end("GET / HTTP/1.1\r\nHost: a\r\r\r\r"), 0u);
}

TEST(find_head_end, bare_lf_terminators_end_the_head_so_they_get_rejected) {
    const std::string lflf = "GET / HTTP/1.1\nHost: a\n\n";
    EXPECT_EQ(find_head_end(lflf), lflf.size());
    const std::string crlf_lf = "GET / HTTP/1.1\r\nHost: a\r\n\n";
    EXPECT_EQ(find_head_end(crlf_lf + "x"), crlf_lf.size());
    const std::string lf_crlf = "GET / HTTP/1.1\r\nHost: a\n\r\n";
    EXPECT_EQ(find_head_end(lf_crlf + "x"), lf_crlf.size());
    for (const std::string& head : {lflf, crlf_lf, lf_crlf}) {
        EXPECT_EQ(check_request_head(head.substr(0, find_head_end(head))).defect,
                  hd::bare_cr_or_lf);
    }
}

TEST(find_head_end, lone_lf_at_start) {
    EXPECT_EQ(find_head_end("\n\nGET"), 2u);
    EXPECT_EQ(find_head_end("\r\n\r\nGET"), 4u);
}

}  // namespace
}  // namespace anteroom::proxy
