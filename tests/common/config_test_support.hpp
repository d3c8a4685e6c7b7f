#pragma once
// Helpers shared by the config tests (config_test.cpp, config_room_test.cpp).

#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"
#include "common/keyfile.hpp"

namespace anteroom::config_test {

inline config_result parse(std::string_view text) {
    return parse_config(text, "test.toml");
}

inline std::vector<std::string> texts(const config_result& r) {
    std::vector<std::string> out;
    for (const auto& e : r.errors) {
        out.push_back(e.text());
    }
    return out;
}

// The one error a snippet must produce; fails the test (with every message) otherwise.
inline config_error only_error(const config_result& r) {
    EXPECT_EQ(r.cfg, nullptr);
    EXPECT_EQ(r.errors.size(), 1u) << ::testing::PrintToString(texts(r));
    return r.errors.empty() ? config_error{} : r.errors.front();
}

inline void expect_valid(const config_result& r) {
    ASSERT_TRUE(r.errors.empty()) << ::testing::PrintToString(texts(r));
    ASSERT_NE(r.cfg, nullptr);
}

// Real key and token files in a temporary directory: the loader opens them at load time, so a
// test that sets key_file or a token file needs files that exist. `in(text)` points every
// "/etc/anteroom/" of a snippet at them (keys.toml, admin.token, agent.token,
// booking-admin.token).
class secret_files {
public:
    secret_files() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "anteroom-secrets-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) != nullptr) {
            dir_ = tmpl;
        }
        std::string err;
        EXPECT_TRUE(write_new_keyfile(path("keys.toml"), false, err)) << err;
        for (const char* token : {"admin.token", "agent.token", "booking-admin.token"}) {
            std::ofstream(path(token)) << "token-for-the-config-tests-0123456789\n";
        }
    }
    ~secret_files() {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    secret_files(const secret_files&) = delete;
    secret_files& operator=(const secret_files&) = delete;

    std::string path(std::string_view name) const { return dir_ + "/" + std::string(name); }
    std::string in(std::string text) const {
        static constexpr std::string_view from = "/etc/anteroom/";
        for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
            text.replace(at, from.size(), dir_ + "/");
            at += dir_.size() + 1;
        }
        return text;
    }

private:
    std::string dir_;
};

}  // namespace anteroom::config_test
