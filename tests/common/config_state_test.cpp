// [state]: the queue store backend and how to reach Redis; what the shared store refuses.

#include <fstream>

#include "tests/common/config_test_support.hpp"

namespace anteroom::config_test {
namespace {

const std::string room = "[[room]]\nid = \"book\"\npaths = [\"/book\"]\n";

TEST(config_state, defaults_to_the_embedded_store) {
    const auto r = parse("");
    expect_valid(r);
    EXPECT_EQ(r.cfg->state.backend, state_backend::embedded);
    EXPECT_EQ(r.cfg->state.address, "127.0.0.1:6379");
    EXPECT_EQ(r.cfg->state.key_prefix, "anteroom");
    EXPECT_EQ(r.cfg->state.lease_ttl.count(), 3000);
}

TEST(config_state, redis_with_a_unix_socket_and_every_key) {
    const auto r = parse("[state]\nbackend = \"redis\"\naddress = \"unix:/run/redis/redis.sock\"\nkey_prefix = \"ar\"\n"
                         "node_name = \"node-a\"\nconnect_timeout = \"2s\"\ncommand_timeout = \"200ms\"\n"
                         "lease_ttl = \"5s\"\nfail_mode = \"local\"\n" + room);
    expect_valid(r);
    const auto& s = r.cfg->state;
    EXPECT_EQ(s.backend, state_backend::redis);
    EXPECT_EQ(s.address, "unix:/run/redis/redis.sock");
    EXPECT_EQ(s.key_prefix, "ar");
    EXPECT_EQ(s.node_name, "node-a");
    EXPECT_EQ(s.connect_timeout.count(), 2000);
    EXPECT_EQ(s.command_timeout.count(), 200);
    EXPECT_EQ(s.lease_ttl.count(), 5000);
    EXPECT_EQ(s.fail_mode, state_fail_mode::local);
}

TEST(config_state, a_tcp_address_is_normalised_and_checked) {
    auto r = parse("[state]\naddress = \"[::1]:6380\"\n");
    expect_valid(r);
    EXPECT_EQ(r.cfg->state.address, "[::1]:6380");
    auto e = only_error(parse("[state]\naddress = \"redis.local:6379\"\n"));
    EXPECT_EQ(e.line, 2u);
    EXPECT_EQ(e.key, "state.address");
    e = only_error(parse("[state]\naddress = \"127.0.0.1:0\"\n"));
    EXPECT_NE(e.message.find("port must be between 1 and 65535"), std::string::npos) << e.message;
    e = only_error(parse("[state]\naddress = \"unix:relative.sock\"\n"));
    EXPECT_NE(e.message.find("absolute path"), std::string::npos) << e.message;
}

TEST(config_state, bad_values_name_file_line_and_what_is_allowed) {
    auto e = only_error(parse("[state]\nbackend = \"etcd\"\n"));
    EXPECT_EQ(e.text(), "test.toml:2: state.backend: must be one of \"embedded\", \"redis\"; got \"etcd\"");
    e = only_error(parse("[state]\nfail_mode = \"open\"\n"));
    EXPECT_EQ(e.key, "state.fail_mode");
    EXPECT_NE(e.message.find("\"closed\", \"local\""), std::string::npos) << e.message;
    e = only_error(parse("[state]\nkey_prefix = \"a{b}\"\n"));
    EXPECT_EQ(e.key, "state.key_prefix");
    e = only_error(parse("[state]\nlease_ttl = \"100ms\"\n"));
    EXPECT_EQ(e.key, "state.lease_ttl");
    e = only_error(parse("[state]\npassword_file = \"/nonexistent/redis.password\"\n"));
    EXPECT_EQ(e.key, "state.password_file");
    e = only_error(parse("[state]\nredis = true\n"));
    EXPECT_NE(e.message.find("unknown key"), std::string::npos) << e.message;
}

TEST(config_state, the_shared_store_refuses_random_mode_and_prequeue_events_at_their_lines) {
    auto e = only_error(parse("[state]\nbackend = \"redis\"\n\n[[room]]\nid = \"book\"\npaths = [\"/book\"]\n"
                              "mode = \"random\"\n"));
    EXPECT_EQ(e.line, 7u);
    EXPECT_EQ(e.key, "room[0].mode");
    EXPECT_NE(e.message.find("not available with [state] backend = \"redis\""), std::string::npos) << e.message;
    e = only_error(parse("[state]\nbackend = \"redis\"\n\n[[room]]\nid = \"book\"\npaths = [\"/book\"]\n"
                         "event = { starts = \"2026-12-07T14:00:00Z\" }\n"));
    EXPECT_EQ(e.line, 7u);
    EXPECT_EQ(e.key, "room[0].event");
    // The embedded store takes both.
    expect_valid(parse("[[room]]\nid = \"book\"\npaths = [\"/book\"]\nmode = \"random\"\n"
                       "event = { starts = \"2026-12-07T14:00:00Z\" }\n"));
}

}  // namespace
}  // namespace anteroom::config_test
