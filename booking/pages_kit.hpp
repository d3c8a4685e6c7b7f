#pragma once
// What every booking page shares: the language (German, English by Accept-Language or a ?lang=
// link), the page shell (web/booking/layout.html, compiled in), accessible form fields (a label
// each, the error beside the field and linked by aria-describedby, a role="alert" summary),
// words for store errors, form readers, and sessions started and ended from a form.
// The render functions take plain values and escape every one of them; the handlers decide.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "booking/web.hpp"

namespace anteroom::booking::pages {

// Every text of the pages is written where it is used, German first.
constexpr std::string_view tr(ui_language l, std::string_view de, std::string_view en) {
    return l == ui_language::en ? en : de;
}

// ?lang=de|en, else the language a ?lang= link remembered in a cookie, else Accept-Language.
ui_language page_language(const request_ctx& ctx);

// ---- forms -------------------------------------------------------------------------------------

struct form_errors {
    struct entry {
        std::string field;  // the input's id; "" for the form as a whole
        std::string message;
    };
    std::vector<entry> list;

    void add(std::string field, std::string_view message) { list.push_back({std::move(field), std::string(message)}); }
    const std::string* of(std::string_view field) const;
    bool empty() const { return list.empty(); }
};

// The urlencoded body of a POST, to read fields and to show them again beside the errors.
class form_values {
public:
    form_values() = default;
    explicit form_values(std::string body) : body_(std::move(body)) {}
    bool has(std::string_view name) const;
    // Trimmed; fallback when the field was not posted.
    std::string get(std::string_view name, std::string_view fallback = {}) const;

private:
    std::string body_;
};

// Readers for posted text: nullopt when the text is not one.
std::optional<std::int64_t> read_int(std::string_view text, std::int64_t min, std::int64_t max);
std::optional<day_number> read_date(std::string_view text);  // "2027-03-15" or "15.3.2027"
std::optional<int> read_clock(std::string_view text);        // "08:30" → 510

struct field {
    std::string_view id{};  // also the name
    std::string_view label{};
    std::string value{};
    std::string_view type = "text";  // any input type, or "textarea"
    std::string_view hint{};
    std::string_view autocomplete{};
    bool optional = false;
    std::string_view attributes{};  // trusted extra attributes, e.g. `inputmode="numeric"`
};
// For whole numbers: a text input with the numeric keyboard (number inputs read badly aloud and
// change their value on scrolling).
inline constexpr std::string_view numeric_attributes = "inputmode=\"numeric\" class=\"short\"";

struct option {
    std::string value;
    std::string label;
};

std::string render_field(ui_language l, const field& f, const form_errors& errors);
std::string render_select(ui_language l, const field& f, const std::vector<option>& options, const form_errors& errors);
// A role="alert" box listing every error, each a link to its field.
std::string render_error_summary(ui_language l, const form_errors& errors);
std::string render_notice(std::string_view text);  // role="status"
std::string render_hidden(std::string_view name, std::string_view value);
// <form method="post"> with the given inner HTML and a submit button.
std::string render_post_form(std::string_view action, std::string_view inner, std::string_view button,
                             std::string_view css_class = {}, std::string_view button_class = {});

// ---- values shown ------------------------------------------------------------------------------

// "Mo., 15.03.2027" / "Mon 15 Mar 2027".
std::string display_date(ui_language l, day_number d);
std::string centre_name_of(const std::vector<centre>& centres, std::int64_t id);
std::vector<option> centre_options(const std::vector<centre>& centres);
// A store error in words for the person reading the page.
std::string_view explain(ui_language l, store_error e);

// One day of a centre as the week view shows it.
struct day_row {
    day_number day = 0;
    bool open = false;
    std::int64_t free = 0;
};

// The days of a week with their free appointments, and for each day with some free a button
// posting {hidden…, centre, date} to action (no buttons when action is empty).
struct week_view {
    std::string centre_name;
    std::int64_t centre_id = 0;
    std::vector<day_row> days;
    std::string_view action;
    std::vector<std::pair<std::string, std::string>> hidden;
    std::string_view button;          // "Buchen"
    std::string_view heading = "h2";  // the centre's name, at the level the page needs
};
std::string render_week(ui_language l, const week_view& w);

// The GET form choosing centre and first day, and the links to the weeks before and after.
struct week_picker {
    std::string_view path;                                  // "/appointments"
    std::vector<std::pair<std::string, std::string>> keep;  // query parameters carried along
    std::vector<option> centres;
    std::int64_t centre_id = 0;
    day_number from = 0;
    day_number today = 0;
};
std::string render_week_picker(ui_language l, const week_picker& p);

// The availability of a centre's days [from, from+days) for a channel.
result<std::vector<day_row>> load_week(request_ctx& ctx, std::int64_t centre_id, day_number from, int days, channel ch);

// ---- the page ----------------------------------------------------------------------------------

// Who the navigation is for: the person's pages, the hotline or the admin.
enum class area : std::uint8_t { visitor, person, agent, admin };

struct shell {
    ui_language lang = ui_language::de;
    std::string_view title;
    std::string body;
    area who = area::visitor;
    std::string switch_href;  // this page in the other language
    bool admin_link = false;
};
std::string render_shell(const shell& s);

// The whole page as a response: the shell around body, and the language cookie when ?lang= chose.
simple_response page(const request_ctx& ctx, http::status status, std::string_view title, std::string body,
                     area who = area::visitor);

// 403 for a cross-site form post (checked before anything else on every POST).
simple_response cross_site(const request_ctx& ctx);
// 404 as dispatch() answers it.
simple_response not_found();
// The stylesheet, for GET /static/booking.css.
simple_response stylesheet(request_ctx& ctx);

// ---- sessions ----------------------------------------------------------------------------------

// A new session of that kind; the Set-Cookie value, or the store error.
result<std::string> open_session(request_ctx& ctx, session_kind kind, std::int64_t subject, std::string_view cookie);
// For a POST: the session of that kind; without one, nullopt and `answer` is 403 for a
// cross-site post or else what login_page answers.
std::optional<session> session_for_post(request_ctx& ctx, session_kind kind,
                                        simple_response (*login_page)(request_ctx&), simple_response& answer);
// Deletes the session the cookie names, clears the cookie and answers 303 to location.
simple_response close_session(request_ctx& ctx, session_kind kind, std::string_view cookie, std::string_view location);

}  // namespace anteroom::booking::pages
