#include "proxy/error_page.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace anteroom::proxy {
namespace {

using ek = error_kind;
using es = error_source;

const std::vector<ek> all_kinds = {
    ek::bad_request,      ek::header_too_large,    ek::body_too_large, ek::request_timeout,
    ek::not_found,        ek::method_not_allowed,  ek::upstream_connect, ek::upstream_reset,
    ek::upstream_timeout, ek::no_healthy_upstream, ek::overloaded,     ek::internal,
};

es source_of(ek k) {
    switch (k) {
    case ek::bad_request:
    case ek::header_too_large:
    case ek::body_too_large:
    case ek::request_timeout:
    case ek::not_found:
    case ek::method_not_allowed:
        return es::downstream;
    case ek::upstream_connect:
    case ek::upstream_reset:
    case ek::upstream_timeout:
    case ek::no_healthy_upstream:
        return es::upstream;
    default:
        return es::internal;
    }
}

error_response respond(ek k, page_language lang = page_language::de,
                       page_format fmt = page_format::html, std::string_view id = "req-1") {
    return make_error_response(proxy_error{source_of(k), k, false}, lang, fmt, id);
}

// ---- error.hpp ------------------------------------------------------------------------------

TEST(error_kind, status_codes_in_enum_order) {
    const std::vector<unsigned> expected = {400, 431, 413, 408, 404, 405,
                                            502, 502, 504, 503, 503, 500};
    ASSERT_EQ(all_kinds.size(), expected.size());
    for (std::size_t i = 0; i < all_kinds.size(); ++i) {
        EXPECT_EQ(status_for(all_kinds[i]), expected[i]) << to_string(all_kinds[i]);
    }
}

TEST(error_kind, names) {
    EXPECT_EQ(to_string(ek::bad_request), "bad_request");
    EXPECT_EQ(to_string(ek::no_healthy_upstream), "no_healthy_upstream");
    EXPECT_EQ(to_string(ek::internal), "internal");
    EXPECT_EQ(to_string(es::downstream), "downstream");
    EXPECT_EQ(to_string(es::upstream), "upstream");
    EXPECT_EQ(to_string(es::internal), "internal");
}

// ---- choose_language ------------------------------------------------------------------------

struct language_case {
    const char* header;
    page_language expected;
};

class language_choice : public ::testing::TestWithParam<language_case> {};

TEST_P(language_choice, picks) {
    EXPECT_EQ(choose_language(GetParam().header), GetParam().expected) << GetParam().header;
}

INSTANTIATE_TEST_SUITE_P(
    accept_language, language_choice,
    ::testing::Values(language_case{"", page_language::de},
                      language_case{"en-US,en;q=0.9,de;q=0.8", page_language::en},
                      language_case{"de-DE", page_language::de},
                      language_case{"fr", page_language::de},
                      language_case{"fr-FR, fr;q=0.9, en;q=0.5", page_language::en},
                      language_case{"en;q=0.1, de;q=0.5", page_language::de},
                      language_case{"de;q=0.5, en;q=0.5", page_language::de},
                      language_case{"en;q=0.5, de;q=0.5", page_language::en},
                      language_case{"EN-gb", page_language::en},
                      language_case{"en;q=0", page_language::de},
                      language_case{"en;q=abc", page_language::de},
                      language_case{"en;q=1.5, de;q=0.2", page_language::de},
                      language_case{"en;q=0.0001", page_language::de},
                      language_case{"en ; q=0.7 , de;q=0.6", page_language::en},
                      language_case{"en;Q=0.9, de;q=0.8", page_language::en},
                      language_case{"eng, de;q=0.1", page_language::de},
                      language_case{"*, en;q=0.5", page_language::en},
                      language_case{",,, en ,", page_language::en}));

// ---- choose_format --------------------------------------------------------------------------

struct format_case {
    const char* header;
    page_format expected;
};

class format_choice : public ::testing::TestWithParam<format_case> {};

TEST_P(format_choice, picks) {
    EXPECT_EQ(choose_format(GetParam().header), GetParam().expected) << GetParam().header;
}

INSTANTIATE_TEST_SUITE_P(
    accept, format_choice,
    ::testing::Values(
        format_case{"", page_format::html},
        format_case{"*/*", page_format::html},
        format_case{"application/json", page_format::json},
        format_case{"application/problem+json", page_format::json},
        format_case{"Application/JSON; charset=utf-8", page_format::json},
        format_case{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                    page_format::html},
        format_case{"application/json, text/html", page_format::html},  // tie -> html
        format_case{"application/json, text/html;q=0.9", page_format::json},
        format_case{"application/json;q=0.5, text/html;q=0.9", page_format::html},
        format_case{"application/json, */*;q=0.1", page_format::json},
        format_case{"application/json;q=0.5, */*", page_format::html},
        format_case{"application/json, text/*;q=0.5", page_format::json},
        format_case{"text/html;q=0.2, */*;q=1, application/json;q=0.5", page_format::json},
        format_case{"application/json;q=0", page_format::html},
        format_case{"application/json;q=bogus, text/html;q=0.1", page_format::html},
        format_case{"text/html;q=0, application/json", page_format::json},
        format_case{"text/html;x=\"a,b\";q=0.1, application/json;q=0.5", page_format::json},
        format_case{"application/xml", page_format::html},
        format_case{"application/*", page_format::html}));

// ---- make_error_response --------------------------------------------------------------------

TEST(error_response, status_and_flags_for_every_kind) {
    for (const ek k : all_kinds) {
        for (const page_format fmt : {page_format::html, page_format::json}) {
            const error_response r = respond(k, page_language::en, fmt);
            EXPECT_EQ(r.status, status_for(k)) << to_string(k);
            const bool framing = k == ek::bad_request || k == ek::header_too_large ||
                                 k == ek::body_too_large || k == ek::request_timeout;
            EXPECT_EQ(r.close_connection, framing) << to_string(k);
            const bool busy = k == ek::overloaded || k == ek::no_healthy_upstream;
            EXPECT_EQ(r.retry_after_seconds, busy ? 5u : 0u) << to_string(k);
        }
    }
}

TEST(error_response, html_page_in_both_languages_for_every_kind) {
    for (const ek k : all_kinds) {
        const error_response de = respond(k, page_language::de);
        const error_response en = respond(k, page_language::en);
        for (const error_response* r : {&de, &en}) {
            EXPECT_EQ(r->content_type, "text/html; charset=utf-8");
            EXPECT_EQ(r->body.rfind("<!DOCTYPE html>", 0), 0u);
            EXPECT_NE(r->body.find("<title>" + std::to_string(r->status)), std::string::npos);
            EXPECT_NE(r->body.find("<h1>"), std::string::npos);
            EXPECT_NE(r->body.find("<style>"), std::string::npos);
            // Self-contained: nothing fetched from elsewhere.
            EXPECT_EQ(r->body.find("http"), std::string::npos) << r->body;
            EXPECT_EQ(r->body.find("<script"), std::string::npos);
            EXPECT_EQ(r->body.find("<link"), std::string::npos);
        }
        EXPECT_NE(de.body.find("<html lang=\"de\">"), std::string::npos);
        EXPECT_NE(de.body.find("Anfrage-ID: req-1"), std::string::npos);
        EXPECT_NE(en.body.find("<html lang=\"en\">"), std::string::npos);
        EXPECT_NE(en.body.find("Request ID: req-1"), std::string::npos);
        EXPECT_NE(de.body, en.body) << to_string(k);
    }
}

TEST(error_response, upstream_faults_do_not_blame_the_user) {
    for (const ek k : {ek::upstream_connect, ek::upstream_reset, ek::upstream_timeout,
                       ek::no_healthy_upstream, ek::overloaded, ek::internal}) {
        const std::string de = respond(k, page_language::de).body;
        const std::string en = respond(k, page_language::en).body;
        EXPECT_NE(de.find("Bitte versuchen Sie es in einer Minute erneut."), std::string::npos);
        EXPECT_NE(en.find("Please try again in a minute."), std::string::npos);
        EXPECT_EQ(en.find("Your browser"), std::string::npos);
        EXPECT_EQ(de.find("Ihr Browser"), std::string::npos);
    }
    const std::string overloaded = respond(ek::overloaded).body;
    EXPECT_NE(overloaded.find("Der Dienst ist gerade überlastet. "
                              "Bitte versuchen Sie es in einer Minute erneut."),
              std::string::npos);
}

TEST(error_response, request_id_is_html_escaped) {
    const error_response r =
        respond(ek::internal, page_language::en, page_format::html, "<script>\"x'&y\x01</script>");
    EXPECT_EQ(r.body.find("<script>"), std::string::npos);
    EXPECT_NE(r.body.find("Request ID: &lt;script&gt;&quot;x&#39;&amp;y?&lt;/script&gt;"),
              std::string::npos)
        << r.body;
}

TEST(error_response, empty_request_id_leaves_out_the_line) {
    const error_response r = respond(ek::internal, page_language::de, page_format::html, "");
    EXPECT_EQ(r.body.find("Anfrage-ID"), std::string::npos);
}

TEST(error_response, long_request_id_is_cut) {
    const std::string id(1000, 'a');
    const error_response html = respond(ek::internal, page_language::en, page_format::html, id);
    EXPECT_NE(html.body.find(std::string(128, 'a')), std::string::npos);
    EXPECT_EQ(html.body.find(std::string(129, 'a')), std::string::npos);
    const auto j = nlohmann::json::parse(
        respond(ek::internal, page_language::en, page_format::json, id).body);
    EXPECT_EQ(j["request_id"].get<std::string>().size(), 128u);
}

TEST(error_response, json_body_for_every_kind_parses_back) {
    for (const ek k : all_kinds) {
        for (const page_language lang : {page_language::de, page_language::en}) {
            const error_response r = respond(k, lang, page_format::json, "id-7");
            EXPECT_EQ(r.content_type, "application/json");
            const auto j = nlohmann::json::parse(r.body);
            ASSERT_TRUE(j.is_object());
            EXPECT_EQ(j.size(), 4u);
            EXPECT_EQ(j["error"], std::string(to_string(k)));
            EXPECT_EQ(j["status"], status_for(k));
            EXPECT_FALSE(j["message"].get<std::string>().empty());
            EXPECT_EQ(j["request_id"], "id-7");
        }
    }
    EXPECT_EQ(nlohmann::json::parse(respond(ek::overloaded, page_language::en,
                                            page_format::json).body)["message"],
              "The service is overloaded right now. Please try again in a minute.");
}

TEST(error_response, json_escapes_the_request_id) {
    const std::string id = "a\"b\\c\nd</x>";
    const error_response r = respond(ek::bad_request, page_language::en, page_format::json, id);
    EXPECT_EQ(nlohmann::json::parse(r.body)["request_id"], id);
}

TEST(error_response, invalid_utf8_request_id_does_not_throw) {
    error_response r;
    EXPECT_NO_THROW(
        r = respond(ek::bad_request, page_language::de, page_format::json, "ab\xff\xfe" "cd"));
    const auto j = nlohmann::json::parse(r.body);
    EXPECT_EQ(j["request_id"], "ab\xef\xbf\xbd\xef\xbf\xbd" "cd");  // U+FFFD each
}

TEST(error_response, json_message_follows_language) {
    const auto de = nlohmann::json::parse(
        respond(ek::upstream_timeout, page_language::de, page_format::json).body);
    EXPECT_NE(de["message"].get<std::string>().find("Bitte"), std::string::npos);
    const auto en = nlohmann::json::parse(
        respond(ek::upstream_timeout, page_language::en, page_format::json).body);
    EXPECT_NE(en["message"].get<std::string>().find("Please"), std::string::npos);
}

}  // namespace
}  // namespace anteroom::proxy
