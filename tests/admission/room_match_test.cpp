#include "admission/room_match.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace anteroom::admission {
namespace {

// ---- normalize_path ------------------------------------------------------------------------

struct norm_case {
    const char* in;
    std::optional<std::string> out;  // nullopt: refused
};

TEST(normalize_path, table) {
    const std::vector<norm_case> cases{
        {"/", "/"},
        {"/book", "/book"},
        {"/book/", "/book/"},
        {"/BOOK", "/BOOK"},  // case is folded per room at match time, not here
        // dot segments, also spelled as escapes
        {"/./book", "/book"},
        {"/book/.", "/book/"},
        {"/book/..", "/"},
        {"/book/../admin", "/admin"},
        {"/a/b/../../book", "/book"},
        {"/..", "/"},
        {"/../../book", "/book"},
        {"/%2e%2e/book", "/book"},
        {"/%2E%2E/book", "/book"},
        {"/.%2e/book", "/book"},
        {"/%2e/book", "/book"},
        {"/book/%2e%2e/admin", "/admin"},
        {"/book/..x", "/book/..x"},  // not a dot segment
        {"/book/...", "/book/..."},
        // duplicate slashes
        {"//book", "/book"},
        {"///book//x", "/book/x"},
        {"/book//", "/book/"},
        {"/a//../book", "/book"},  // slashes merged first, as nginx does
        // unreserved characters are decoded, in either hex case
        {"/%62ook", "/book"},
        {"/%62%6F%6f%6B", "/book"},
        {"/%7euser", "/~user"},
        {"/a%2Db%5Fc", "/a-b_c"},
        // other escapes stay, with upper-case hex
        {"/book%2fx", "/book%2Fx"},
        {"/book%2Fx", "/book%2Fx"},
        {"/a%3fb", "/a%3Fb"},
        {"/a%20b", "/a%20b"},
        {"/a%c3%bc", "/a%C3%BC"},
        // bytes that may not stand raw are escaped, so each path has one spelling
        {"/a\xc3\xbc", "/a%C3%BC"},
        {"/a\"b", "/a%22b"},
        {"/a|b", "/a%7Cb"},
        {"/a{b}", "/a%7Bb%7D"},
        // sub-delimiters, ':' and '@' stay raw
        {"/a;b=c,d!$&'()*+:@", "/a;b=c,d!$&'()*+:@"},
        // the query string is kept verbatim
        {"/book?x=/../a", "/book?x=/../a"},
        {"/./book/?a=%2e", "/book/?a=%2e"},
        {"/%62ook?q", "/book?q"},
        // refused
        {"", std::nullopt},
        {"book", std::nullopt},
        {"*", std::nullopt},
        {"http://x/book", std::nullopt},
        {"/book%", std::nullopt},
        {"/book%2", std::nullopt},
        {"/book%zz", std::nullopt},
        {"/book%g0", std::nullopt},
        {"/book%00", std::nullopt},
        {"/book%%32", std::nullopt},
        {"/bo ok", std::nullopt},
        {"/book\t", std::nullopt},
        {"/book\x7f", std::nullopt},
        {"/book#x", std::nullopt},
        {"/book\\..\\admin", std::nullopt},
        {"/x%2F..%2Fbook", std::nullopt},
        {"/x/..%2Fbook", std::nullopt},
        {"/book%2F.", std::nullopt},
        {"/%2e%2e%2fbook", std::nullopt},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(normalize_path(c.in), c.out) << '"' << c.in << '"';
    }
    EXPECT_EQ(normalize_path(std::string_view("/a\0b", 4)), std::nullopt);
}

TEST(normalize_path, is_idempotent) {
    for (const char* p : {"/./book", "//BOOK/%62/", "/a%c3%bc/../x%2fy", "/a|b/%7e?x", "/book/..", "/"}) {
        const auto once = normalize_path(p);
        ASSERT_TRUE(once) << p;
        EXPECT_EQ(normalize_path(*once), once) << p;
    }
}

// ---- path_has_prefix -------------------------------------------------------------------------

struct prefix_case {
    const char* path;
    const char* prefix;
    bool case_insensitive;
    bool match;
};

TEST(path_has_prefix, segment_boundaries) {
    const std::vector<prefix_case> cases{
        {"/book", "/book", false, true},
        {"/book/", "/book", false, true},
        {"/book/x", "/book", false, true},
        {"/book?x=1", "/book", false, true},
        {"/book%2Fx", "/book", false, true},  // a backend may decode the slash
        {"/book%2fx", "/book", false, true},
        {"/booking", "/book", false, false},
        {"/boo", "/book", false, false},
        {"/book%2Ex", "/book", false, false},
        {"/", "/", false, true},
        {"/anything", "/", false, true},
        {"/static/app.js", "/static/", false, true},
        {"/static/", "/static/", false, true},
        {"/static", "/static/", false, false},
        {"/staticx", "/static/", false, false},
        {"/BOOK", "/book", false, false},
        {"/BOOK", "/book", true, true},
        {"/Book/X", "/book", true, true},
        {"/BOOKING", "/book", true, false},
        {"/book", "", false, false},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(path_has_prefix(c.path, c.prefix, c.case_insensitive), c.match)
            << c.path << " vs " << c.prefix << (c.case_insensitive ? " (ci)" : "");
    }
}

// ---- room_matcher ----------------------------------------------------------------------------

room_config room(std::string id, std::vector<std::string> paths, std::vector<std::string> exclude = {},
                 bool case_insensitive = true) {
    room_config r;
    r.id = std::move(id);
    r.paths = std::move(paths);
    r.exclude = std::move(exclude);
    r.case_insensitive = case_insensitive;
    return r;
}

struct match_case {
    const char* raw_path;  // as the visitor sent it; normalised first, like the proxy does
    const char* room;      // "" = no room
};

void expect_matches(const room_matcher& m, const std::vector<match_case>& cases) {
    for (const auto& c : cases) {
        const auto norm = normalize_path(c.raw_path);
        ASSERT_TRUE(norm) << c.raw_path;
        const room_config* r = m.match(*norm);
        EXPECT_EQ(r == nullptr ? std::string() : r->id, c.room) << c.raw_path << " -> " << *norm;
    }
}

TEST(room_matcher, cannot_be_walked_around) {
    const std::vector<room_config> rooms{room("book", {"/book"}, {"/book/static/"}), room("reg", {"/register/"})};
    const room_matcher m(rooms);
    expect_matches(m, {
                          {"/book", "book"},
                          {"/book/", "book"},
                          {"/book/slot/7?x=1", "book"},
                          {"/BOOK", "book"},
                          {"/Book/Slot", "book"},
                          {"/./book", "book"},
                          {"//book", "book"},
                          {"/%62ook", "book"},
                          {"/%42OOK", "book"},
                          {"/x/../book", "book"},
                          {"/%2e%2e/book", "book"},
                          {"/static/../book/x", "book"},
                          {"/book%2fx", "book"},
                          {"/booking", ""},
                          {"/book/../admin", ""},
                          {"/book/static/app.js", ""},
                          {"/BOOK/STATIC/app.js", ""},
                          {"/book/static", "book"},  // the exclude ends in '/': only what is below it
                          {"/book/./static/x.css", ""},
                          {"/register/", "reg"},
                          {"/register/form", "reg"},
                          {"/register", ""},
                          {"/", ""},
                      });
}

TEST(room_matcher, longest_prefix_across_rooms_wins_and_its_exclude_decides) {
    const std::vector<room_config> rooms{room("portal", {"/"}, {"/favicon.ico", "/static/"}),
                                         room("book", {"/book", "/termine"}, {"/book/static/"}),
                                         room("vip", {"/book/vip"})};
    const room_matcher m(rooms);
    expect_matches(m, {
                          {"/", "portal"},
                          {"/news", "portal"},
                          {"/favicon.ico", ""},
                          {"/static/x.css", ""},
                          {"/booking", "portal"},
                          {"/book", "book"},
                          {"/termine/3", "book"},
                          {"/book/vip", "vip"},
                          {"/book/vip/x", "vip"},
                          {"/book/vipx", "book"},
                          // excluded by "book": no room at all, not the shorter "/" of portal
                          {"/book/static/app.js", ""},
                      });
}

TEST(room_matcher, case_sensitive_room) {
    const std::vector<room_config> rooms{room("exact", {"/Book"}, {"/Book/img/"}, false)};
    const room_matcher m(rooms);
    expect_matches(m, {{"/Book", "exact"}, {"/Book/x", "exact"}, {"/book", ""}, {"/BOOK", ""},
                       {"/Book/img/a.png", ""}, {"/Book/IMG/a.png", "exact"}});
}

TEST(room_matcher, empty_matches_nothing) {
    const room_matcher none;
    EXPECT_EQ(none.match("/"), nullptr);
    const std::vector<room_config> rooms;
    EXPECT_EQ(room_matcher(rooms).match("/book"), nullptr);
}

}  // namespace
}  // namespace anteroom::admission
