// The waiting room over real sockets: tickets, the waiting page and status JSON, admission to
// the upstream, forged/expired/other-room tokens treated as absent, path normalisation, session
// end, bypass, modes and the admin API. Time-dependent decisions are unit-tested with a fake
// clock (tests/admission/*_test.cpp); here rooms are steered through their mode and settings.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "admission/token.hpp"
#include "common/crypto.hpp"
#include "common/keyfile.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/harness.hpp"

namespace anteroom::test {
namespace {

namespace fs = std::filesystem;
using response = http::response<http::string_body>;

const std::string admin_token = "test-admin-token-0123456789";
const std::string agent_token = "test-agent-token-0123456789";

admission::unix_ms now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string set_cookie_line(const response& r, const std::string& name) {
    for (const auto& f : r) {
        if (beast::iequals(f.name_string(), "Set-Cookie") && f.value().starts_with(name + "=")) {
            return std::string(f.value());
        }
    }
    return {};
}

nlohmann::json json_of(const response& r) {
    return nlohmann::json::parse(r.body(), nullptr, false);
}

class admission_it : public ::testing::Test {
protected:
    admission_it() : dir_(make_temp_dir("anteroom-admission")) {
        std::string err;
        EXPECT_TRUE(write_new_keyfile(file("keys.toml"), false, err)) << err;
        keys_ = load_keyfile(file("keys.toml"), err);
        EXPECT_TRUE(keys_) << err;
        write(file("admin.token"), admin_token + "\n");
        write(file("agent.token"), agent_token + "\n");
    }
    ~admission_it() override {
        px_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    std::string file(const std::string& name) const { return (fs::path(dir_) / name).string(); }
    static void write(const std::string& path, const std::string& text) {
        std::ofstream f(path, std::ios::trunc);
        f << text;
    }

    // Starts the proxy with rooms (TOML [[room]] tables) in front of the fake upstream.
    void start(const std::string& rooms, const std::string& admission_extra = "") {
        const std::string toml = "state_dir = \"" + file("state") + "\"\n" +
                                 upstream_block("[\"" + up_.address() + "\"]") +
                                 "\n[admission]\nkey_file = \"" + file("keys.toml") +
                                 "\"\nagent_token_file = \"" + file("agent.token") + "\"\n" + admission_extra +
                                 "\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"" + file("admin.token") +
                                 "\"\n\n" + rooms;
        px_ = std::make_unique<proxy_under_test>(toml);
    }

    std::uint16_t port() const { return px_->port(); }

    std::optional<response> visit(const std::string& target, const std::string& headers = "") {
        return get(port(), target, headers);
    }
    std::optional<response> visit_json(const std::string& target, const std::string& headers = "") {
        return get(port(), target, "Accept: application/json\r\n" + headers);
    }

    std::optional<response> admin(const std::string& method, const std::string& target, const std::string& body = "") {
        raw_client c(px_->admin_port());
        c.send(method + " " + target + " HTTP/1.1\r\nHost: admin\r\nAuthorization: Bearer " + admin_token +
               "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\nConnection: close\r\n\r\n" + body);
        return c.read_response();
    }

    double metric(const std::string& series) {
        return metric_value(scrape_metrics(px_->admin_port()), series).value_or(-1);
    }

    std::string ticket_cookie(const std::string& room, const admission::ticket& t) const {
        return "Cookie: anteroom_ticket_" + room + "=" + admission::encode(t, *keys_) + "\r\n";
    }

    fake_upstream up_;
    std::string dir_;
    std::shared_ptr<const key_ring> keys_;
    std::unique_ptr<proxy_under_test> px_;
};

const std::string paused_room = "[[room]]\nid = \"book\"\npaths = [\"/book\"]\nexclude = [\"/book/static/\"]\n"
                                "mode = \"paused\"\nnew_users_per_minute = 60\nmax_active_users = 100\n";

TEST_F(admission_it, newcomers_get_a_ticket_and_their_place_while_the_room_is_paused) {
    start(paused_room, "bind_ip = false\n");
    const auto first = visit_json("/book/slot");
    ASSERT_TRUE(first);
    EXPECT_EQ(first->result_int(), 200);
    EXPECT_EQ(first->at(http::field::cache_control), "no-store");
    const auto line = set_cookie_line(*first, "anteroom_ticket_book");
    EXPECT_NE(line.find("HttpOnly"), std::string::npos) << line;
    EXPECT_NE(line.find("SameSite=Lax"), std::string::npos) << line;
    EXPECT_EQ(line.find("Secure"), std::string::npos) << line;  // plain HTTP
    auto j = json_of(*first);
    EXPECT_EQ(j["state"], "paused");
    EXPECT_EQ(j["position"], 1);

    const auto second = visit_json("/book/slot");
    ASSERT_TRUE(second);
    EXPECT_EQ(json_of(*second)["position"], 2);
    EXPECT_EQ(json_of(*second)["ahead"], 1);

    // The first visitor polls again with the ticket: same place, no new ticket.
    const auto ticket = set_cookie_value(*first, "anteroom_ticket_book").value();
    const auto again = visit_json("/_anteroom/status?room=book", "Cookie: anteroom_ticket_book=" + ticket + "\r\n");
    ASSERT_TRUE(again);
    EXPECT_EQ(again->result_int(), 200);
    j = json_of(*again);
    EXPECT_EQ(j["state"], "paused");
    EXPECT_EQ(j["position"], 1);
    for (const char* key : {"room", "state", "position", "ahead", "eta_low_seconds", "eta_high_seconds",
                            "refresh_after_seconds", "updated_at"}) {
        EXPECT_TRUE(j.contains(key)) << key << " missing in " << j.dump();
    }
    EXPECT_FALSE(set_cookie_value(*again, "anteroom_ticket_book"));
    EXPECT_EQ(up_.request_count(), 0u);
    EXPECT_EQ(metric("anteroom_room_waiting{room=\"book\"}"), 2);
    EXPECT_EQ(metric("anteroom_room_tickets_issued_total{room=\"book\"}"), 2);
}

TEST_F(admission_it, the_waiting_page_is_html_in_german_or_english) {
    start(paused_room);
    const auto de = visit("/book");
    ASSERT_TRUE(de);
    EXPECT_EQ(de->result_int(), 200);
    EXPECT_TRUE(de->at(http::field::content_type).starts_with("text/html"));
    EXPECT_NE(de->body().find("lang=\"de\""), std::string::npos);
    EXPECT_NE(de->body().find("/_anteroom/status?room=book"), std::string::npos);
    EXPECT_LT(de->body().size(), 20u * 1024);
    const auto en = visit("/book", "Accept-Language: en-GB,en;q=0.9\r\n");
    ASSERT_TRUE(en);
    EXPECT_NE(en->body().find("lang=\"en\""), std::string::npos);
    EXPECT_EQ(up_.request_count(), 0u);
}

TEST_F(admission_it, resumed_room_admits_in_order_and_the_pass_reaches_the_upstream) {
    start(paused_room, "bind_ip = false\n");
    const auto a = visit_json("/book/a");
    const auto b = visit_json("/book/b");
    ASSERT_TRUE(a && b);
    const auto ta = set_cookie_value(*a, "anteroom_ticket_book").value();
    const auto tb = set_cookie_value(*b, "anteroom_ticket_book").value();

    auto r = admin("POST", "/admin/rooms/book", R"({"mode":"fifo","new_users_per_minute":600000})");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->result_int(), 200) << r->body();
    EXPECT_EQ(json_of(*r)["mode"], "fifo");

    std::optional<response> sa;
    ASSERT_TRUE(eventually([&] {
        sa = visit_json("/_anteroom/status?room=book&return=%2Fbook%2Fa%3Fx%3D1",
                        "Cookie: anteroom_ticket_book=" + ta + "\r\n");
        return sa && json_of(*sa)["state"] == "admitted";
    }));
    EXPECT_EQ(json_of(*sa)["url"], "/book/a?x=1");
    const auto pass = set_cookie_value(*sa, "anteroom_pass_book");
    ASSERT_TRUE(pass && !pass->empty());
    EXPECT_EQ(set_cookie_value(*sa, "anteroom_ticket_book"), "");  // the ticket is cleared

    const auto through = visit("/book/echo", "Cookie: anteroom_pass_book=" + *pass + "\r\n");
    ASSERT_TRUE(through);
    EXPECT_EQ(through->result_int(), 200);
    ASSERT_EQ(up_.request_count(), 1u);
    EXPECT_EQ(up_.requests()[0].target, "/book/echo");

    // b was behind a and comes next; visiting the room URL with the ticket goes straight through.
    ASSERT_TRUE(eventually([&] {
        const auto rb = visit("/book/echo/b", "Cookie: anteroom_ticket_book=" + tb + "\r\n");
        return rb && rb->result_int() == 200 && set_cookie_value(*rb, "anteroom_pass_book").has_value();
    }));
    EXPECT_EQ(up_.requests().back().target, "/book/echo/b");
    EXPECT_GE(metric("anteroom_room_admitted_total{room=\"book\"}"), 2);
    EXPECT_EQ(metric("anteroom_room_passes_issued_total{room=\"book\"}"), 2);
    EXPECT_EQ(metric("anteroom_room_wait_seconds_count{room=\"book\"}"), 2);
}

TEST_F(admission_it, forged_tampered_expired_and_other_room_tickets_are_treated_as_absent) {
    start(paused_room + "\n[[room]]\nid = \"reg\"\npaths = [\"/register\"]\nmode = \"paused\"\n", "bind_ip = false\n");
    const auto real = visit_json("/book");
    ASSERT_TRUE(real);
    const auto ticket = set_cookie_value(*real, "anteroom_ticket_book").value();

    const auto expect_new_ticket = [&](const std::string& cookie, const std::string& reason) {
        const std::string series =
            "anteroom_room_token_rejected_total{room=\"book\",token=\"ticket\",reason=\"" + reason + "\"}";
        const double before = metric(series);
        const auto r = visit_json("/book", "Cookie: anteroom_ticket_book=" + cookie + "\r\n");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->result_int(), 200);
        EXPECT_TRUE(set_cookie_value(*r, "anteroom_ticket_book").has_value()) << reason;
        EXPECT_GT(json_of(*r)["position"].get<int>(), 1) << reason;  // a new place at the back
        EXPECT_EQ(metric(series), before + 1) << series;
    };
    expect_new_ticket("garbage!!", "malformed");
    std::string tampered = ticket;
    tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
    expect_new_ticket(tampered, "bad_signature");

    admission::ticket old{"book", 1, now_ms() - 3LL * 24 * 3600 * 1000, 0, 0, 0};
    expect_new_ticket(admission::encode(old, *keys_), "expired");

    const auto reg = visit_json("/register");
    ASSERT_TRUE(reg);
    expect_new_ticket(set_cookie_value(*reg, "anteroom_ticket_reg").value(), "wrong_room");

    // A ticket signed with a key the proxy does not know.
    const auto other_keys = make_ephemeral_key_ring();
    admission::ticket t{"book", 1, now_ms(), 0, 0, 0};
    expect_new_ticket(admission::encode(t, *other_keys), "unknown_key");
    EXPECT_EQ(up_.request_count(), 0u);
}

TEST_F(admission_it, a_forged_pass_does_not_open_the_room) {
    start(paused_room, "bind_ip = false\n");
    admission::pass forged{"book", 42, now_ms(), now_ms() + 3600'000, 0, 1};
    // Signed with the right key but never issued: the store does not know the pass.
    const auto unknown = visit_json("/book/echo", "Cookie: anteroom_pass_book=" + admission::encode(forged, *keys_) + "\r\n");
    ASSERT_TRUE(unknown);
    EXPECT_EQ(json_of(*unknown)["state"], "paused");
    const auto garbage = visit_json("/book/echo", "Cookie: anteroom_pass_book=AAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n");
    ASSERT_TRUE(garbage);
    EXPECT_EQ(json_of(*garbage)["state"], "paused");
    EXPECT_EQ(up_.request_count(), 0u);
    EXPECT_EQ(metric("anteroom_room_token_rejected_total{room=\"book\",token=\"pass\",reason=\"revoked\"}"), 1);
    EXPECT_EQ(metric("anteroom_room_token_rejected_total{room=\"book\",token=\"pass\",reason=\"malformed\"}"), 1);
}

TEST_F(admission_it, tickets_are_bound_to_the_client_address_prefix) {
    start(paused_room, "bind_ip = true\n");  // the default; peers here are 127.0.0.1
    admission::ticket elsewhere{"book", 1, now_ms(), 12345, 0, 0};  // binding of some other client
    const auto r = visit_json("/book", ticket_cookie("book", elsewhere));
    ASSERT_TRUE(r);
    EXPECT_TRUE(set_cookie_value(*r, "anteroom_ticket_book").has_value());
    EXPECT_EQ(metric("anteroom_room_token_rejected_total{room=\"book\",token=\"ticket\",reason=\"wrong_binding\"}"), 1);
}

TEST_F(admission_it, normalised_paths_cannot_walk_around_the_room) {
    start(paused_room);
    for (const std::string target : {"/book", "/BOOK/x", "/./book/x", "//book", "/%62ook", "/x/../book", "/Book/"}) {
        const auto r = visit_json(target);
        ASSERT_TRUE(r) << target;
        EXPECT_EQ(r->result_int(), 200) << target;
        EXPECT_EQ(json_of(*r)["state"], "paused") << target;
    }
    EXPECT_EQ(up_.request_count(), 0u);
    const auto bad = visit("/book%zz");
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->result_int(), 400);
    // Excluded and unrelated paths go straight to the upstream.
    for (const std::string target : {"/book/static/app.css", "/booking", "/other"}) {
        const auto r = visit(target);
        ASSERT_TRUE(r) << target;
        EXPECT_EQ(r->result_int(), 200) << target;
    }
    EXPECT_EQ(up_.request_count(), 3u);
}

TEST_F(admission_it, agent_token_admits_at_once_and_session_end_frees_the_place) {
    start(paused_room, "bind_ip = false\n");
    const auto refused = visit("/book/echo", "Anteroom-Agent: wrong-token-0123456789\r\n");
    ASSERT_TRUE(refused);
    EXPECT_EQ(up_.request_count(), 0u);

    const auto agent = visit("/book/echo", "Anteroom-Agent: " + agent_token + "\r\n");
    ASSERT_TRUE(agent);
    EXPECT_EQ(agent->result_int(), 200);
    ASSERT_EQ(up_.request_count(), 1u);
    const auto pass = set_cookie_value(*agent, "anteroom_pass_book").value();
    const std::string cookie = "Cookie: anteroom_pass_book=" + pass + "\r\n";
    EXPECT_EQ(metric("anteroom_room_active{room=\"book\"}"), 1);

    const auto end = visit("/book/done/session-end", cookie);
    ASSERT_TRUE(end);
    EXPECT_EQ(end->result_int(), 200);
    EXPECT_EQ(end->count("Anteroom-Session"), 0u);  // stripped before it reaches the visitor
    EXPECT_EQ(up_.request_count(), 2u);
    EXPECT_EQ(metric("anteroom_room_active{room=\"book\"}"), 0);
    EXPECT_EQ(metric("anteroom_room_session_end_total{room=\"book\"}"), 1);

    // The pass is spent: the next request waits in line like everyone else.
    const auto after = visit_json("/book/echo", cookie);
    ASSERT_TRUE(after);
    EXPECT_EQ(json_of(*after)["state"], "paused");
    EXPECT_EQ(up_.request_count(), 2u);
}

TEST_F(admission_it, invitation_code_admits_at_once) {
    start(paused_room, "bind_ip = false\n");
    admission::invitation inv{"book", 7, now_ms() + 3600'000};
    const auto code = admission::encode(inv, *keys_);
    const auto r = visit("/book/echo?anteroom_invite=" + code);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 200);
    EXPECT_TRUE(set_cookie_value(*r, "anteroom_pass_book").has_value());
    EXPECT_EQ(up_.request_count(), 1u);

    admission::invitation expired{"book", 8, now_ms() - 1000};
    const auto late = visit_json("/book/echo?anteroom_invite=" + admission::encode(expired, *keys_));
    ASSERT_TRUE(late);
    EXPECT_EQ(json_of(*late)["state"], "paused");
    EXPECT_EQ(up_.request_count(), 1u);
}

TEST_F(admission_it, status_without_a_ticket_and_unknown_endpoints_answer_json_errors) {
    start(paused_room);
    auto r = visit("/_anteroom/status?room=book");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 404);
    EXPECT_TRUE(json_of(*r).contains("error"));
    r = visit("/_anteroom/status?room=nope");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 404);
    r = visit("/_anteroom/other?room=book");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 404);
    EXPECT_EQ(up_.request_count(), 0u);
}

TEST_F(admission_it, passthrough_and_reject_modes_switch_live) {
    start(paused_room);
    auto r = admin("PATCH", "/admin/rooms/book", R"({"mode":"passthrough"})");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->result_int(), 200) << r->body();
    auto v = visit("/book/echo");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->result_int(), 200);
    EXPECT_EQ(up_.request_count(), 1u);
    EXPECT_FALSE(set_cookie_value(*v, "anteroom_ticket_book"));

    r = admin("PATCH", "/admin/rooms/book", R"({"mode":"reject"})");
    ASSERT_TRUE(r);
    v = visit("/book/echo");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->result_int(), 503);
    v = visit_json("/book/echo");
    ASSERT_TRUE(v);
    EXPECT_EQ(json_of(*v)["state"], "closed");
    EXPECT_EQ(up_.request_count(), 1u);
}

TEST_F(admission_it, admin_rooms_needs_the_token_and_validates_changes) {
    start(paused_room);
    raw_client c(px_->admin_port());
    c.send("GET /admin/rooms HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 401);

    ASSERT_TRUE(visit_json("/book"));
    r = admin("GET", "/admin/rooms");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->result_int(), 200);
    auto rooms = json_of(*r);
    ASSERT_EQ(rooms.size(), 1u);
    EXPECT_EQ(rooms[0]["id"], "book");
    EXPECT_EQ(rooms[0]["mode"], "paused");
    EXPECT_EQ(rooms[0]["waiting"], 1);
    EXPECT_EQ(rooms[0]["max_active_users"], 100);

    r = admin("PATCH", "/admin/rooms/book", R"({"max_active_users":0})");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 422);
    r = admin("PATCH", "/admin/rooms/book", R"({"mode":"sideways"})");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 422);
    r = admin("PATCH", "/admin/rooms/book", R"({"colour":"red"})");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 422);
    r = admin("PATCH", "/admin/rooms/nope", R"({"max_active_users":5})");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 404);
    r = admin("PATCH", "/admin/rooms/book", "{not json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 400);

    r = admin("PATCH", "/admin/rooms/book", R"({"max_active_users":5,"new_users_per_minute":120})");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->result_int(), 200);
    EXPECT_EQ(metric("anteroom_room_max_active_users{room=\"book\"}"), 5);
    EXPECT_EQ(metric("anteroom_room_new_users_per_minute{room=\"book\"}"), 120);
    r = admin("POST", "/admin/rooms/book/resume");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->result_int(), 200);
    EXPECT_EQ(json_of(*r)["mode"], "fifo");  // configured mode is paused: resume means fifo
    r = admin("POST", "/admin/rooms/book/pause");
    ASSERT_TRUE(r);
    EXPECT_EQ(json_of(*r)["mode"], "paused");
}

TEST_F(admission_it, fairness_commits_to_the_seed_before_the_start_and_reveals_it_after) {
    start("[[room]]\nid = \"later\"\npaths = [\"/later\"]\n[room.event]\nprequeue_opens = \"2020-01-01T00:00:00Z\"\n"
          "starts = \"2999-01-01T00:00:00Z\"\n"
          "\n[[room]]\nid = \"past\"\npaths = [\"/past\"]\n[room.event]\nprequeue_opens = \"2020-01-01T00:00:00Z\"\n"
          "starts = \"2020-06-01T00:00:00Z\"\n");
    auto r = visit("/_anteroom/fairness?room=later");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->result_int(), 200) << r->body();
    auto j = json_of(*r);
    EXPECT_EQ(j["commitment_sha256"].get<std::string>().size(), 64u);
    EXPECT_TRUE(j["seed"].is_null());

    // Pre-queue: a countdown, not a position.
    const auto pre = visit_json("/later");
    ASSERT_TRUE(pre);
    EXPECT_EQ(json_of(*pre)["state"], "prequeue");
    EXPECT_TRUE(json_of(*pre).contains("starts_at"));

    r = visit("/_anteroom/fairness?room=past");
    ASSERT_TRUE(r);
    j = json_of(*r);
    ASSERT_TRUE(j["seed"].is_string()) << j.dump();
    const auto seed = j["seed"].get<std::string>();
    std::vector<std::uint8_t> bytes;
    for (std::size_t i = 0; i + 1 < seed.size(); i += 2) {
        bytes.push_back(static_cast<std::uint8_t>(std::stoi(seed.substr(i, 2), nullptr, 16)));
    }
    EXPECT_EQ(crypto::to_hex(crypto::sha256(bytes)), j["commitment_sha256"]);
}

TEST_F(admission_it, inventory_from_the_capacity_endpoint_limits_admission_and_says_sold_out) {
    const std::string capacity = "http://" + up_.address() + "/capacity/";
    start("[[room]]\nid = \"none\"\npaths = [\"/none\"]\nnew_users_per_minute = 600000\ncapacity_url = \"" +
              capacity + "0\"\ncapacity_poll_interval = \"1s\"\n"
              "\n[[room]]\nid = \"two\"\npaths = [\"/two\"]\nnew_users_per_minute = 600000\ncapacity_url = \"" +
              capacity + "2\"\ncapacity_poll_interval = \"1s\"\n",
          "bind_ip = false\n");
    ASSERT_TRUE(eventually([&] { return metric("anteroom_room_available{room=\"two\"}") == 2; }));
    ASSERT_TRUE(eventually([&] { return metric("anteroom_room_sold_out{room=\"none\"}") == 1; }));

    const auto sold = visit_json("/none/slot");
    ASSERT_TRUE(sold);
    const auto j = json_of(*sold);
    EXPECT_EQ(j["state"], "sold_out");
    EXPECT_EQ(j["next_capacity_at"], "2030-01-01T08:00:00Z");

    // Two appointments left: two visitors get in, the third waits although the rate is high.
    std::vector<std::string> tickets;
    int admitted = 0;
    for (int i = 0; i < 3; ++i) {
        const auto r = visit_json("/two/echo");
        ASSERT_TRUE(r);
        if (set_cookie_value(*r, "anteroom_pass_two")) {
            ++admitted;
        } else {
            tickets.push_back(set_cookie_value(*r, "anteroom_ticket_two").value());
        }
    }
    ASSERT_TRUE(eventually([&] { return metric("anteroom_room_admitted_total{room=\"two\"}") == 2; }));
    for (const auto& t : tickets) {
        const auto r = visit_json("/_anteroom/status?room=two", "Cookie: anteroom_ticket_two=" + t + "\r\n");
        ASSERT_TRUE(r);
        admitted += json_of(*r)["state"] == "admitted" ? 1 : 0;
    }
    EXPECT_EQ(admitted, 2);
    EXPECT_EQ(metric("anteroom_room_active{room=\"two\"}"), 2);
}

}  // namespace
}  // namespace anteroom::test
