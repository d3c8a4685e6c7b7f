// [state]: the queue store backend and, for "redis", how to reach Redis. The password file is
// read at load (check-config reports an unreadable or empty one with file:line). What the
// shared store cannot do yet is refused here, naming the room key that asks for it.
// docs/configuration.md documents every key read here; keep the two in step.

#include <chrono>

#include "common/config_room.hpp"
#include "common/keyfile.hpp"

namespace anteroom::config_detail {

namespace {

using namespace std::chrono_literals;

constexpr std::pair<std::string_view, state_backend> backend_names[] = {
    {"embedded", state_backend::embedded},
    {"redis", state_backend::redis},
};
constexpr std::pair<std::string_view, state_fail_mode> fail_mode_names[] = {
    {"closed", state_fail_mode::closed},
    {"local", state_fail_mode::local},
};

bool valid_prefix(std::string_view p) {
    return !p.empty() && p.size() <= 64 && p.find_first_of("{}: \t\r\n") == std::string_view::npos;
}

}  // namespace

std::uint32_t read_state(table_reader& r, state_config& s) {
    r.read_enum("backend", s.backend, enum_names<state_backend>(backend_names));
    if (const auto* n = r.optional("address")) {
        if (const auto* str = n->as_string(); str != nullptr && str->get().starts_with("unix:")) {
            const std::string& v = str->get();
            if (v.size() <= 5 || v[5] != '/' || v.size() > 5 + 107) {
                r.sink().add(*n, r.key("address"),
                             "a unix socket must be an absolute path of at most 107 bytes after \"unix:\", got " +
                                 quoted(v));
            } else {
                s.address = v;
            }
        } else if (const auto a = get_address(r.sink(), *n, r.key("address"), port_zero::rejected)) {
            s.address = a->text();
        }
    }
    r.read_file("password_file", s.password_file, token_file_check("Redis password"));
    if (const auto* n = r.optional("key_prefix")) {
        if (auto v = get_string(r.sink(), *n, r.key("key_prefix"))) {
            if (!valid_prefix(*v)) {
                r.sink().add(*n, r.key("key_prefix"),
                             "must be 1 to 64 characters without braces, colons or white space, got " + quoted(*v));
            } else {
                s.key_prefix = std::move(*v);
            }
        }
    }
    if (const auto* n = r.optional("node_name")) {
        if (auto v = get_string(r.sink(), *n, r.key("node_name"))) {
            if (v->size() > 128 || v->find_first_of(" \t\r\n") != std::string::npos) {
                r.sink().add(*n, r.key("node_name"), "must be at most 128 characters without white space, got " + quoted(*v));
            } else {
                s.node_name = std::move(*v);
            }
        }
    }
    r.read("connect_timeout", s.connect_timeout, 10ms, 1min);
    r.read("command_timeout", s.command_timeout, 10ms, 10s);
    r.read("lease_ttl", s.lease_ttl, 500ms, 1min);
    r.read_enum("fail_mode", s.fail_mode, enum_names<state_fail_mode>(fail_mode_names));
    r.finish();
    return r.line();
}

void check_state(error_sink& sink, const config& cfg, std::uint32_t state_line, const std::vector<room_source>& src) {
    if (cfg.state.backend != state_backend::redis) {
        return;
    }
    for (std::size_t i = 0; i < cfg.rooms.size() && i < src.size(); ++i) {
        const room_config& room = cfg.rooms[i];
        if (room.mode == room_mode::random) {
            sink.add(src[i].mode_line != 0 ? src[i].mode_line : state_line, src[i].key + ".mode",
                     "mode \"random\" is not available with [state] backend = \"redis\" yet (fifo, passthrough, "
                     "reject or paused)");
        }
        if (room.event.starts || room.event.prequeue_opens) {
            sink.add(src[i].event_line != 0 ? src[i].event_line : state_line, src[i].key + ".event",
                     "pre-queue events are not available with [state] backend = \"redis\" yet; use the embedded "
                     "store (one node) for an event with a pre-queue");
        }
    }
}

}  // namespace anteroom::config_detail
