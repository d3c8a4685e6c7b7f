#include "admission/waiting_page.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace anteroom::admission {
namespace {

constexpr unix_ms now = 1'795'953'600'000;  // 2026-11-29T12:00:00Z: the same date in every time zone
constexpr std::size_t page_limit = 20 * 1024;

room_config book_room() {
    room_config r;
    r.id = "book";
    r.paths = {"/book", "/termine/"};
    r.exclude = {"/book/static/"};
    return r;
}

wait_info queued(std::uint64_t position, std::int64_t eta_low = 300, std::int64_t eta_high = 600) {
    wait_info w;
    w.state = room_state::queued;
    w.position = position;
    w.ahead = position == 0 ? 0 : position - 1;
    w.eta_low_seconds = eta_low;
    w.eta_high_seconds = eta_high;
    w.refresh_after_seconds = 30;
    w.updated_at = now;
    return w;
}

std::string render(const wait_info& info, language lang = language::de,
                   std::string_view status_url = "/_anteroom/status?room=book&return=%2Fbook") {
    const room_config room = book_room();
    const page_context ctx{&room, &info, lang, "/book", status_url, now};
    return page_template::builtin()->render(ctx);
}

bool has(const std::string& page, std::string_view text) {
    return page.find(text) != std::string::npos;
}

// ---- the built-in page ---------------------------------------------------------------------

TEST(waiting_page, queued_page_in_german_shows_the_figures) {
    const auto page = render(queued(12'345, 300, 600));
    EXPECT_TRUE(has(page, "<html lang=\"de\">"));
    EXPECT_TRUE(has(page, "Sie sind in der Warteschlange"));
    EXPECT_TRUE(has(page, "<body class=\"v-queued\">"));
    EXPECT_TRUE(has(page, ">12.345</dd>"));
    EXPECT_TRUE(has(page, ">12.344</dd>"));
    EXPECT_TRUE(has(page, ">5\xe2\x80\x93" "10 Minuten</dd>"));
    EXPECT_TRUE(has(page, "datetime=\"2026-11-29T"));
    // plain words: the page updates itself, the place is kept, one tab is enough
    EXPECT_TRUE(has(page, "aktualisiert sich von selbst, etwa alle 30 Sekunden"));
    EXPECT_TRUE(has(page, "neu laden ist nicht n\xc3\xb6tig"));
    EXPECT_TRUE(has(page, "Ihr Platz bleibt erhalten"));
    EXPECT_TRUE(has(page, "noch 5 Minuten"));  // abandon_after
    EXPECT_TRUE(has(page, "nicht in mehreren Tabs"));
}

TEST(waiting_page, english_by_accept_language) {
    const auto page = render(queued(1'234'567), language::en);
    EXPECT_TRUE(has(page, "<html lang=\"en\">"));
    EXPECT_TRUE(has(page, "You are in line"));
    EXPECT_TRUE(has(page, ">1,234,567</dd>"));
    EXPECT_TRUE(has(page, "updates itself about every 30 seconds"));
    EXPECT_TRUE(has(page, "You keep your place"));
    EXPECT_FALSE(has(page, "Warteschlange"));
}

TEST(waiting_page, works_without_javascript_and_polls_with_it) {
    const auto page = render(queued(3));
    EXPECT_TRUE(has(page, "<noscript><meta http-equiv=\"refresh\" content=\"30\"></noscript>"));
    EXPECT_TRUE(has(page, "data-status=\"/_anteroom/status?room=book&amp;return=%2Fbook\""));
    EXPECT_TRUE(has(page, "data-refresh=\"30\""));
    EXPECT_TRUE(has(page, "aria-live=\"polite\""));
    EXPECT_TRUE(has(page, "location.replace(j.url)"));
}

TEST(waiting_page, accessible_and_self_contained) {
    const auto page = render(queued(3));
    EXPECT_TRUE(has(page, "prefers-reduced-motion"));
    EXPECT_TRUE(has(page, "font-variant-numeric:tabular-nums"));  // figures do not jiggle
    EXPECT_TRUE(has(page, "min-height"));                          // space reserved for figures
    EXPECT_TRUE(has(page, "<meta name=\"viewport\""));
    // no external resources: everything inline
    for (const char* external : {"<link", " src=", "href=", "@import", "url(", "http://", "https://"}) {
        EXPECT_FALSE(has(page, external)) << external;
    }
}

TEST(waiting_page, refresh_interval_is_clamped) {
    auto info = queued(3);
    info.refresh_after_seconds = 0;
    EXPECT_TRUE(has(render(info), "content=\"1\""));
    info.refresh_after_seconds = 100'000;
    EXPECT_TRUE(has(render(info), "content=\"300\""));
}

struct eta_case {
    std::int64_t low, high;
    const char* de;
    const char* en;
};

TEST(waiting_page, eta_wording) {
    const std::vector<eta_case> cases{
        {-1, -1, "unbekannt", "unknown"},
        {0, 30, "weniger als eine Minute", "less than a minute"},
        {0, 59, "weniger als eine Minute", "less than a minute"},
        {30, 60, "0\xe2\x80\x93" "1 Minuten", "0\xe2\x80\x93" "1 minutes"},
        {60, 60, "etwa 1 Minute", "about 1 minute"},
        {600, 600, "etwa 10 Minuten", "about 10 minutes"},
        {299, 601, "4\xe2\x80\x93" "11 Minuten", "4\xe2\x80\x93" "11 minutes"},
        {3600, 7200, "60\xe2\x80\x93" "120 Minuten", "60\xe2\x80\x93" "120 minutes"},
        {7200, 10800, "2\xe2\x80\x93" "3 Stunden", "2\xe2\x80\x93" "3 hours"},
        {3600, 7201, "1\xe2\x80\x93" "3 Stunden", "1\xe2\x80\x93" "3 hours"},
        {10800, 10800, "etwa 3 Stunden", "about 3 hours"},
    };
    for (const auto& c : cases) {
        const auto info = queued(10, c.low, c.high);
        EXPECT_TRUE(has(render(info), std::string("id=\"ar-eta\">") + c.de + "</dd>")) << c.low << ".." << c.high;
        EXPECT_TRUE(has(render(info, language::en), std::string("id=\"ar-eta\">") + c.en + "</dd>"))
            << c.low << ".." << c.high;
    }
}

TEST(waiting_page, unknown_position_is_a_dash) {
    const auto page = render(queued(0, -1, -1));
    EXPECT_TRUE(has(page, "id=\"ar-pos\">\xe2\x80\x93</dd>"));
    EXPECT_TRUE(has(page, "id=\"ar-ahead\">\xe2\x80\x93</dd>"));
}

TEST(waiting_page, paused_says_why_there_is_no_eta) {
    auto info = queued(42, -1, -1);
    info.state = room_state::paused;
    const auto de = render(info);
    EXPECT_TRUE(has(de, "v-paused"));
    EXPECT_TRUE(has(de, "Der Einlass ist angehalten"));
    EXPECT_TRUE(has(de, "Solange der Einlass ruht"));
    EXPECT_TRUE(has(de, ">42</dd>"));
    EXPECT_TRUE(has(render(info, language::en), "While entry is paused nobody can say how long"));
}

TEST(waiting_page, eta_note_explains_a_longer_wait) {
    auto info = queued(42, 600, 900);
    info.eta_note = "slowed";
    EXPECT_TRUE(has(render(info), "Der Einlass wurde verlangsamt"));
    EXPECT_TRUE(has(render(info), "data-note=\"slowed\""));
    info.eta_note = "paused";
    EXPECT_TRUE(has(render(info, language::en), "Entry was paused for a while"));
}

TEST(waiting_page, sold_out_says_so_and_when_new_appointments_come) {
    wait_info info;
    info.state = room_state::sold_out;
    info.updated_at = now;
    const auto unknown = render(info);
    EXPECT_TRUE(has(unknown, "Alle Termine sind vergeben"));
    EXPECT_TRUE(has(unknown, "steht noch nicht fest"));
    info.next_capacity_at = now + 86'400'000;
    const auto known = render(info);
    EXPECT_TRUE(has(known, "Neue Termine werden voraussichtlich am 30.11.2026 um"));
    EXPECT_TRUE(has(known, "data-next=\"2026-11-30T"));
    EXPECT_TRUE(has(render(info, language::en), "New appointments are expected on 30 November 2026 at"));
}

TEST(waiting_page, prequeue_counts_down_to_the_start) {
    wait_info info;
    info.state = room_state::prequeue;
    info.starts_at = now + 3'600'000 + 61'000;
    info.updated_at = now;
    const auto page = render(info);
    EXPECT_TRUE(has(page, "v-prequeue"));
    EXPECT_TRUE(has(page, "Gleich geht es los"));
    EXPECT_TRUE(has(page, "ausgelost"));
    EXPECT_TRUE(has(page, "id=\"ar-cd\">01:01:01</b>"));
    EXPECT_TRUE(has(page, "data-starts=\"2026-11-29T"));
    info.starts_at = now + 2 * 86'400'000 + 5'000;
    EXPECT_TRUE(has(render(info), "id=\"ar-cd\">2 Tage 00:00:05</b>"));
    EXPECT_TRUE(has(render(info, language::en), "id=\"ar-cd\">2 days 00:00:05</b>"));
}

TEST(waiting_page, prequeue_falls_back_to_the_configured_start) {
    room_config room = book_room();
    room.event.starts = now + 10'000;
    wait_info info;
    info.state = room_state::prequeue;
    const page_context ctx{&room, &info, language::de, "/book", "", now};
    EXPECT_TRUE(has(page_template::builtin()->render(ctx), "id=\"ar-cd\">00:00:10</b>"));
}

TEST(waiting_page, every_state_stays_under_20_kib_even_with_huge_urls) {
    const std::string huge_status = "/_anteroom/status?room=book&return=" + std::string(16 * 1024, 'x');
    for (const auto state : {room_state::prequeue, room_state::queued, room_state::admitted, room_state::paused,
                             room_state::sold_out, room_state::closed}) {
        auto info = queued(9'999'999'999);
        info.state = state;
        info.starts_at = now + 1000 * 86'400'000LL;
        info.next_capacity_at = now;
        info.eta_note = "slowed";
        for (const auto lang : {language::de, language::en}) {
            const auto page = render(info, lang, huge_status);
            EXPECT_LT(page.size(), page_limit) << to_string(state);
            EXPECT_FALSE(has(page, "xxxxxxxx")) << "an overlong status URL is dropped";
            EXPECT_TRUE(has(page, "data-state=\"" + std::string(to_string(state)) + "\""));
        }
    }
}

TEST(waiting_page, values_are_escaped) {
    // Only values we produce reach the page, but none of them is trusted to be markup-free.
    const auto page = render(queued(3), language::de, "/_anteroom/status?room=book&return=\"><script>alert(1)</script>");
    EXPECT_FALSE(has(page, "\"><script>alert"));
    EXPECT_TRUE(has(page, "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
}

TEST(waiting_page, status_url_must_be_local) {
    for (const char* bad : {"//evil.example/x", "/\\evil.example", "https://evil.example/", "javascript:alert(1)"}) {
        EXPECT_TRUE(has(render(queued(3), language::de, bad), "data-status=\"\"")) << bad;
    }
}

// ---- closed ------------------------------------------------------------------------------------

TEST(closed_page, no_access_or_opening_time) {
    room_config room = book_room();
    const auto closed = closed_page(room, language::de);
    EXPECT_TRUE(has(closed, "<html lang=\"de\">"));
    EXPECT_TRUE(has(closed, "kein Zugang"));
    EXPECT_TRUE(has(closed, "v-closed"));
    EXPECT_TRUE(has(closed, "data-status=\"\""));
    EXPECT_TRUE(has(closed, "content=\"60\""));
    EXPECT_LT(closed.size(), page_limit);
    EXPECT_TRUE(has(closed_page(room, language::en), "There is no access at the moment"));

    room.event.prequeue_opens = now + 90'000;
    EXPECT_TRUE(has(closed_page(room, language::de), "kein Zugang"));  // no time given: no claim
    const auto opens = closed_page(room, language::de, now);
    EXPECT_TRUE(has(opens, "v-opens"));
    EXPECT_TRUE(has(opens, "Der Warteraum \xc3\xb6" "ffnet am 29.11.2026"));
    EXPECT_TRUE(has(opens, "id=\"ar-cd\">00:01:30</b>"));
    EXPECT_TRUE(has(closed_page(room, language::en, now), "The waiting room opens on 29 November 2026"));
    EXPECT_TRUE(has(closed_page(room, language::de, now + 90'000), "kein Zugang"));  // opening time passed
}

TEST(closed_page, render_of_a_closed_state_uses_the_opening_time) {
    room_config room = book_room();
    room.event.prequeue_opens = now + 60'000;
    wait_info info;
    info.state = room_state::closed;
    const page_context ctx{&room, &info, language::de, "/book", "", now};
    EXPECT_TRUE(has(page_template::builtin()->render(ctx), "v-opens"));
}

// ---- templates ---------------------------------------------------------------------------------

class template_file : public ::testing::Test {
protected:
    std::string path_ = ::testing::TempDir() + "anteroom-waiting-template-test.html";
    void write(const std::string& text) {
        std::ofstream(path_, std::ios::trunc) << text;
    }
    void TearDown() override { std::remove(path_.c_str()); }
};

TEST_F(template_file, custom_template_renders_escaped_values) {
    write("<p lang=\"{{ lang }}\">{{position}} / {{ahead}} {{status_url}}</p>");
    std::string err;
    const auto t = page_template::load(path_, err);
    ASSERT_TRUE(t) << err;
    const room_config room = book_room();
    const auto info = queued(7);
    const page_context ctx{&room, &info, language::en, "/book", "/_anteroom/status?room=book&return=%2F", now};
    EXPECT_EQ(t->render(ctx), "<p lang=\"en\">7 / 6 /_anteroom/status?room=book&amp;return=%2F</p>");
}

TEST_F(template_file, unknown_placeholder_names_file_and_line) {
    write("<html>\n<p>\n{{position}} {{positon}}\n");
    std::string err;
    EXPECT_EQ(page_template::load(path_, err), nullptr);
    EXPECT_EQ(err.rfind(path_ + ":3: unknown placeholder {{positon}}; known placeholders: lang, ", 0), 0u) << err;
}

TEST_F(template_file, unclosed_placeholder) {
    write("<p>{{position</p>\n");
    std::string err;
    EXPECT_EQ(page_template::load(path_, err), nullptr);
    EXPECT_EQ(err, path_ + ":1: \"{{\" without a closing \"}}\"");
}

TEST_F(template_file, missing_or_huge_file) {
    std::string err;
    EXPECT_EQ(page_template::load(path_ + ".missing", err), nullptr);
    EXPECT_EQ(err, path_ + ".missing: cannot read file: No such file or directory");
    write(std::string(256 * 1024 + 1, 'x'));
    EXPECT_EQ(page_template::load(path_, err), nullptr);
    EXPECT_EQ(err, path_ + ": larger than 256KiB");
}

#ifdef ANTEROOM_SOURCE_DIR
TEST(waiting_page_template, builtin_is_web_waiting_html) {
    std::string err;
    const auto from_file = page_template::load(ANTEROOM_SOURCE_DIR "/web/waiting.html", err);
    ASSERT_TRUE(from_file) << err;
    const room_config room = book_room();
    const auto info = queued(5);
    const page_context ctx{&room, &info, language::de, "/book", "/_anteroom/status?room=book", now};
    EXPECT_EQ(from_file->render(ctx), page_template::builtin()->render(ctx));
}
#endif

// ---- status JSON -------------------------------------------------------------------------------

TEST(status_json, queued_with_all_figures) {
    auto info = queued(1234, 540, 780);
    info.updated_at = 1'796'134'992'000;  // 2026-12-01T14:23:12Z
    const auto j = nlohmann::json::parse(status_json("portal", info, std::nullopt));
    EXPECT_EQ(j, nlohmann::json::parse(R"({"room":"portal","state":"queued","position":1234,"ahead":1233,
        "eta_low_seconds":540,"eta_high_seconds":780,"refresh_after_seconds":30,
        "updated_at":"2026-12-01T14:23:12Z"})"));
}

TEST(status_json, unknowns_are_null_and_extras_appear_when_set) {
    wait_info info;
    info.state = room_state::prequeue;
    info.position = 0;
    info.updated_at = 0;
    info.starts_at = 1'796'134'992'000;
    info.next_capacity_at = 1'796'134'993'000;
    info.eta_note = "paused";
    const auto j = nlohmann::json::parse(status_json("book", info, "/book/x?y=1"));
    EXPECT_EQ(j["state"], "prequeue");
    EXPECT_TRUE(j["position"].is_null());
    EXPECT_TRUE(j["ahead"].is_null());
    EXPECT_TRUE(j["eta_low_seconds"].is_null());
    EXPECT_TRUE(j["eta_high_seconds"].is_null());
    EXPECT_EQ(j["updated_at"], "1970-01-01T00:00:00Z");
    EXPECT_EQ(j["starts_at"], "2026-12-01T14:23:12Z");
    EXPECT_EQ(j["next_capacity_at"], "2026-12-01T14:23:13Z");
    EXPECT_EQ(j["eta_note"], "paused");
    EXPECT_EQ(j["url"], "/book/x?y=1");

    const auto plain = nlohmann::json::parse(status_json("book", queued(1, 0, 10), std::nullopt));
    EXPECT_EQ(plain["ahead"], 0);  // at the front: nobody ahead, which is known
    for (const char* key : {"starts_at", "next_capacity_at", "eta_note", "url"}) {
        EXPECT_FALSE(plain.contains(key)) << key;
    }
}

TEST(status_json, invalid_utf8_does_not_throw) {
    const auto text = status_json("book", queued(1), std::string_view("/book/\xff\xfe"));
    EXPECT_NO_THROW(nlohmann::json::parse(text));
}

// ---- safe_return_path --------------------------------------------------------------------------

TEST(safe_return_path, only_local_paths_inside_the_room) {
    const room_config room = book_room();
    for (const char* ok : {"/book", "/book/slot?id=3&x=%2F", "/BOOK/x", "/termine/3", "/book#top", "/%62ook/x"}) {
        EXPECT_EQ(safe_return_path(ok, room), std::optional<std::string>(ok)) << ok;
    }
    const std::string long_path = "/book/" + std::string(2048, 'a');
    for (const std::string& bad : std::vector<std::string>{"", "book", "//evil.example/book", "/\\evil.example/book", "https://evil.example/book",
          "javascript:alert(1)", "http:/book", "/book\r\nSet-Cookie: x=1", std::string("/book\0x", 7), "/book\t",
          "/\t/evil.example", "/book\\..\\admin", "/booking", "/book/../admin", "/termine", "/other", "/book%zz",
          "/book%00", " /book", long_path}) {
        EXPECT_EQ(safe_return_path(bad, room), std::nullopt) << bad;
    }
}

// ---- pick_language -----------------------------------------------------------------------------

struct language_case {
    const char* header;
    language lang;
};

TEST(pick_language, german_unless_english_is_preferred) {
    const std::vector<language_case> cases{
        {"", language::de},
        {"de", language::de},
        {"en", language::en},
        {"EN-gb", language::en},
        {"en-US,en;q=0.9", language::en},
        {"en-US,en;q=0.9,de;q=0.8", language::en},
        {"de-DE,de;q=0.9,en;q=0.8", language::de},
        {"en;q=0.5, de;q=0.5", language::de},  // de wins ties
        {"de;q=0.5, en;q=0.5", language::de},
        {"fr, en;q=0.3", language::en},
        {"fr", language::de},
        {"*", language::de},
        {"en, *", language::en},
        {"en;q=0", language::de},
        {"en;q=abc", language::de},  // a weight we cannot read is no preference
        {"en;q=1.5", language::de},
        {"en;level=1;q=0.7, de;q=0.6", language::en},
        {"eng", language::de},
        {"english", language::de},
        {" en ; q=0.9 ", language::en},
        {",,,;;;", language::de},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(pick_language(c.header), c.lang) << '"' << c.header << '"';
    }
}

}  // namespace
}  // namespace anteroom::admission
