// `anteroom keygen`'s file: mode 0600, TOML with one active key, no silent overwrite.

#include "common/keyfile.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>
#include <toml++/toml.h>

namespace anteroom {
namespace {

namespace fs = std::filesystem;

class keyfile : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "anteroom-keyfile-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir = tmpl;
        path = (dir / "keys.toml").string();
    }
    void TearDown() override { fs::remove_all(dir); }

    static unsigned mode_of(const std::string& p) {
        struct stat st {};
        EXPECT_EQ(::stat(p.c_str(), &st), 0);
        return st.st_mode & 07777;
    }
    static std::string read(const std::string& p) {
        std::ifstream f(p);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }

    fs::path dir;
    std::string path;
};

bool is_base64url(std::string_view s) {
    return !s.empty() && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
                             std::string_view::npos;
}

TEST_F(keyfile, writes_a_0600_toml_file_with_one_active_256_bit_key) {
    const auto old_mask = ::umask(0);  // even a permissive umask must not widen the mode
    std::string err;
    const bool ok = write_new_keyfile(path, false, err);
    ::umask(old_mask);
    ASSERT_TRUE(ok) << err;
    EXPECT_EQ(mode_of(path), 0600u);

    toml::table t;
    ASSERT_NO_THROW(t = toml::parse_file(path));
    const auto active = t["active"].value<std::string>();
    ASSERT_TRUE(active);
    auto* keys = t["key"].as_array();
    ASSERT_NE(keys, nullptr);
    ASSERT_EQ(keys->size(), 1u);
    const auto& k = *keys->get(0)->as_table();
    EXPECT_EQ(k["id"].value<std::string>(), active);
    EXPECT_TRUE(is_base64url(*active));
    EXPECT_EQ(active->size(), 8u);  // 6 random bytes
    const auto secret = k["secret"].value<std::string>().value_or("");
    EXPECT_TRUE(is_base64url(secret));
    EXPECT_EQ(secret.size(), 43u);  // 32 bytes, unpadded base64url
    const auto created = k["created"].value<std::string>().value_or("");
    EXPECT_EQ(created.size(), 20u) << created;  // 2026-01-01T00:00:00Z
    EXPECT_TRUE(created.ends_with("Z"));
}

TEST_F(keyfile, every_file_gets_fresh_keys) {
    std::string err;
    const auto other = (dir / "other.toml").string();
    ASSERT_TRUE(write_new_keyfile(path, false, err)) << err;
    ASSERT_TRUE(write_new_keyfile(other, false, err)) << err;
    const auto a = toml::parse_file(path);
    const auto b = toml::parse_file(other);
    EXPECT_NE(a["key"][0]["secret"].value<std::string>(), b["key"][0]["secret"].value<std::string>());
    EXPECT_NE(a["active"].value<std::string>(), b["active"].value<std::string>());
}

TEST_F(keyfile, refuses_to_overwrite_without_force) {
    { std::ofstream(path) << "precious\n"; }
    std::string err;
    EXPECT_FALSE(write_new_keyfile(path, false, err));
    EXPECT_NE(err.find(path), std::string::npos) << err;
    EXPECT_EQ(read(path), "precious\n");
}

TEST_F(keyfile, force_overwrites_and_tightens_the_mode) {
    { std::ofstream(path) << "old-content\n"; }
    ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
    std::string err;
    ASSERT_TRUE(write_new_keyfile(path, true, err)) << err;
    EXPECT_EQ(mode_of(path), 0600u);
    EXPECT_EQ(read(path).find("old-content"), std::string::npos);
    EXPECT_NO_THROW((void)toml::parse_file(path));
}

TEST_F(keyfile, force_replaces_the_file_whole_and_leaves_nothing_else) {
    std::string err;
    ASSERT_TRUE(write_new_keyfile(path, false, err)) << err;
    const auto before = read(path);
    ASSERT_TRUE(write_new_keyfile(path, true, err)) << err;
    EXPECT_NE(read(path), before);
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) {
        names.push_back(e.path().filename().string());
    }
    EXPECT_EQ(names, std::vector<std::string>{"keys.toml"});
}

TEST_F(keyfile, missing_directory_is_an_error_naming_the_path) {
    const auto p = (dir / "no" / "such" / "keys.toml").string();
    std::string err;
    EXPECT_FALSE(write_new_keyfile(p, false, err));
    EXPECT_NE(err.find(p), std::string::npos) << err;
}

}  // namespace
}  // namespace anteroom
