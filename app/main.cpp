// anteroom: the waiting room and admission proxy. main() only parses the command line and
// hands over to the libraries.

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <csignal>
#include <ctime>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "admission/token.hpp"
#include "booking/service.hpp"
#include "admission/waiting_page.hpp"
#include "common/config.hpp"
#include "common/crypto.hpp"
#include "common/net.hpp"
#include "common/keyfile.hpp"
#include "common/log.hpp"
#include "common/timefmt.hpp"
#include "proxy/server.hpp"

#ifdef ANTEROOM_JEMALLOC
// jemalloc returns freed pages to the kernel only while something allocates, unless its
// background thread does it: an idle proxy (thousands of parked keep-alive connections that
// gave their read buffers back) would otherwise keep them resident. MALLOC_CONF still overrides.
extern "C" const char* malloc_conf;
const char* malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:1000";
#endif

namespace {

int print_errors(const anteroom::config_result& r) {
    for (const auto& e : r.errors) {
        std::cerr << e.text() << "\n";
    }
    return 1;
}

int cmd_check_config(const std::string& path) {
    const auto r = anteroom::load_config(path);
    if (!r.errors.empty()) {
        return print_errors(r);
    }
    // Waiting page templates: the same check the proxy makes at start and on reload, reported
    // with the template's own file:line.
    bool templates_ok = true;
    for (const auto& room : r.cfg->rooms) {
        std::string err;
        if (!room.waiting_template.empty() && !anteroom::admission::page_template::load(room.waiting_template, err)) {
            std::cerr << err << "\n";
            templates_ok = false;
        }
    }
    if (!templates_ok) {
        return 1;
    }
    std::cout << path << ": ok\n";
    return 0;
}

int cmd_serve(const std::string& path) {
    const auto r = anteroom::load_config(path);
    if (!r.errors.empty()) {
        return print_errors(r);
    }
    anteroom::proxy::server_options opts;
    opts.cfg = r.cfg;
    opts.config_path = path;
    opts.handle_signals = true;
    anteroom::proxy::server srv(opts);
    std::string err;
    if (!srv.start(err)) {
        std::cerr << "anteroom: cannot start: " << err << "\n";
        return 1;
    }
    srv.wait();
    ANTEROOM_LOG(anteroom::log_level::info, "server", "stopped");
    return 0;
}

// The booking backend alone (for a separate host); stops on SIGINT/SIGTERM.
int cmd_booking(const std::string& path) {
    const auto r = anteroom::load_config(path);
    if (!r.errors.empty()) {
        return print_errors(r);
    }
    std::string err;
    auto svc = anteroom::booking::service::start({r.cfg, nullptr}, err);
    if (!svc) {
        std::cerr << "anteroom booking: cannot start: " << err << "\n";
        return 1;
    }
    ANTEROOM_LOG(anteroom::log_level::info, "booking",
                 "booking backend listening on " + svc->local_endpoint().address().to_string() + ":" +
                     std::to_string(svc->local_endpoint().port()));
    net::io_context ioc;
    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { svc->stop(); });
    ioc.run();
    ANTEROOM_LOG(anteroom::log_level::info, "booking", "stopped");
    return 0;
}

// Creates a hotline agent account; the password is read from stdin (one line), never argv.
int cmd_booking_agent(const std::string& path, const std::string& name) {
    const auto r = anteroom::load_config(path);
    if (!r.errors.empty()) {
        return print_errors(r);
    }
    std::string password;
    if (!std::getline(std::cin, password) || password.size() < 12) {
        std::cerr << "anteroom booking-agent: give the password (at least 12 characters) on stdin\n";
        return 1;
    }
    std::string err;
    auto db = anteroom::booking::open_configured(*r.cfg, err);
    if (!db.ok()) {
        std::cerr << "anteroom booking-agent: " << err << "\n";
        return 1;
    }
    const auto id = db.value->create_agent(name, password, std::time(nullptr));
    if (!id.ok()) {
        std::cerr << "anteroom booking-agent: cannot create \"" << name << "\": "
                  << (id.error == anteroom::booking::store_error::conflict ? "the name is taken"
                                                                           : anteroom::booking::to_string(id.error))
                  << "\n";
        return 1;
    }
    std::cout << "created hotline agent \"" << name << "\" (id " << id.value << ")\n";
    return 0;
}

// The retention job once (it also runs periodically inside the service). Counts only.
int cmd_retention(const std::string& path) {
    const auto r = anteroom::load_config(path);
    if (!r.errors.empty()) {
        return print_errors(r);
    }
    std::string err;
    auto db = anteroom::booking::open_configured(*r.cfg, err);
    if (!db.ok()) {
        std::cerr << "anteroom retention: " << err << "\n";
        return 1;
    }
    const auto c = db.value->run_retention(std::time(nullptr));
    if (!c.ok()) {
        std::cerr << "anteroom retention: " << anteroom::booking::to_string(c.error) << "\n";
        return 1;
    }
    std::cout << "deleted " << c.value.unbooked_deleted << " registrations without appointment, "
              << c.value.vaccinated_deleted << " after vaccination; " << c.value.sessions_expired
              << " expired sessions\n";
    return 0;
}

int cmd_keygen(const std::string& out, bool force) {
    std::string err;
    if (!anteroom::write_new_keyfile(out, force, err)) {
        std::cerr << "anteroom keygen: " << err << "\n";
        return 1;
    }
    std::cout << "wrote " << out << " (mode 0600)\n";
    return 0;
}

// "7d" (days, for invitations) or anything parse_duration() takes ("12h", "30m").
std::optional<anteroom::duration_ms> parse_validity(std::string_view text) {
    if (text.ends_with('d')) {
        unsigned days = 0;
        const auto digits = text.substr(0, text.size() - 1);
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), days);
        if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || days > 3650) {
            return std::nullopt;
        }
        return std::chrono::duration_cast<anteroom::duration_ms>(std::chrono::days(days));
    }
    return anteroom::parse_duration(text);
}

// Prints an invitation code on stdout (nothing else, so scripts can capture it); what it is
// good for goes to stderr.
int cmd_invite(const std::string& keys_path, const std::string& room, const std::string& valid,
               std::optional<std::uint64_t> id) {
    const auto validity = parse_validity(valid);
    if (!validity || validity->count() <= 0) {
        std::cerr << "anteroom invite: --valid: expected a duration like \"7d\", \"12h\" or \"30m\", got \"" << valid
                  << "\"\n";
        return 1;
    }
    if (room.empty() || room.size() > 64) {
        std::cerr << "anteroom invite: --room: a room id of 1 to 64 bytes is needed\n";
        return 1;
    }
    std::string err;
    std::string warning;
    const auto keys = anteroom::load_keyfile(keys_path, err, &warning);
    if (!keys) {
        std::cerr << err << "\n";
        return 1;
    }
    if (!warning.empty()) {
        std::cerr << "warning: " << warning << "\n";
    }
    anteroom::admission::invitation inv;
    inv.room = room;
    if (id) {
        inv.code_id = *id;
    } else {
        std::array<std::uint8_t, 8> r{};
        if (!anteroom::crypto::random_bytes(r)) {
            std::cerr << "anteroom invite: no randomness available from OpenSSL\n";
            return 1;
        }
        for (const auto b : r) {
            inv.code_id = (inv.code_id << 8) | b;
        }
    }
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    inv.not_after = now + validity->count();
    const auto code = anteroom::admission::encode(inv, *keys);
    std::cout << code << "\n";
    std::cerr << "invitation " << inv.code_id << " for room \"" << room << "\", valid until "
              << anteroom::format_rfc3339(inv.not_after) << ", signed with key " << keys->signer().id_text
              << "\nuse it as ?anteroom_invite=" << code << " on a room URL\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // A peer that went away must fail a write with EPIPE, not end the process (Asio's sockets
    // send with MSG_NOSIGNAL; hiredis and anything else writing with write(2) do not).
    std::signal(SIGPIPE, SIG_IGN);
    CLI::App app{"anteroom — virtual waiting room and admission proxy"};
    app.set_version_flag("--version", std::string("anteroom ") + ANTEROOM_VERSION);
    std::string config_path = "conf/anteroom.toml";
    app.add_option("-c,--config", config_path, "config file (TOML)")->capture_default_str();
    app.require_subcommand(0, 1);

    auto* serve = app.add_subcommand("serve", "run the proxy (default)");
    serve->add_option("-c,--config", config_path, "config file (TOML)")->capture_default_str();
    auto* check = app.add_subcommand("check-config", "validate a config file: file:line: problem, exit 0/1");
    check->add_option("-c,--config", config_path, "config file (TOML)")->capture_default_str();
    std::string key_out = "conf/keys.toml";
    bool force = false;
    auto* keygen = app.add_subcommand("keygen", "create an HMAC key file for ticket and pass signing");
    keygen->add_option("-o,--out", key_out, "where to write the key file")->capture_default_str();
    keygen->add_flag("-f,--force", force, "overwrite an existing file");
    std::string invite_keys = "conf/keys.toml";
    std::string invite_room;
    std::string invite_valid = "7d";
    std::uint64_t invite_id = 0;
    auto* invite = app.add_subcommand("invite", "print a signed invitation code that admits to a room at once");
    invite->add_option("-k,--keys", invite_keys, "key file made by keygen")->capture_default_str();
    invite->add_option("-r,--room", invite_room, "room id")->required();
    invite->add_option("--valid", invite_valid, "how long the code admits (e.g. 7d, 12h, 30m)")->capture_default_str();
    auto* invite_id_opt = invite->add_option("--id", invite_id, "code id for audit and revocation (default: random)");

    auto* booking = app.add_subcommand("booking", "run the booking backend alone ([booking] listen)");
    booking->add_option("-c,--config", config_path, "config file (TOML)")->capture_default_str();
    std::string agent_name;
    auto* booking_agent =
        app.add_subcommand("booking-agent", "create a hotline agent account (password on stdin)");
    booking_agent->add_option("-c,--config", config_path, "config file (TOML)")->capture_default_str();
    booking_agent->add_option("-n,--name", agent_name, "agent login name")->required();
    auto* retention = app.add_subcommand("retention", "delete personal data the retention rules say (counts only)");
    retention->add_option("-c,--config", config_path, "config file (TOML)")->capture_default_str();

    CLI11_PARSE(app, argc, argv);

    if (*booking) {
        return cmd_booking(config_path);
    }
    if (*booking_agent) {
        return cmd_booking_agent(config_path, agent_name);
    }
    if (*retention) {
        return cmd_retention(config_path);
    }

    if (*check) {
        return cmd_check_config(config_path);
    }
    if (*keygen) {
        return cmd_keygen(key_out, force);
    }
    if (*invite) {
        return cmd_invite(invite_keys, invite_room, invite_valid,
                          invite_id_opt->count() > 0 ? std::optional(invite_id) : std::nullopt);
    }
    return cmd_serve(config_path);
}
