// anteroom: the waiting room and admission proxy. main() only parses the command line and
// hands over to the libraries.

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "common/config.hpp"
#include "common/keyfile.hpp"
#include "common/log.hpp"
#include "proxy/server.hpp"

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

int cmd_keygen(const std::string& out, bool force) {
    std::string err;
    if (!anteroom::write_new_keyfile(out, force, err)) {
        std::cerr << "anteroom keygen: " << err << "\n";
        return 1;
    }
    std::cout << "wrote " << out << " (mode 0600)\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
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

    CLI11_PARSE(app, argc, argv);

    if (*check) {
        return cmd_check_config(config_path);
    }
    if (*keygen) {
        return cmd_keygen(key_out, force);
    }
    return cmd_serve(config_path);
}
