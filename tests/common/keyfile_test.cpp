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

// ---- load_keyfile ----

// Two well-formed keys (32 bytes each, ids of 6 bytes).
constexpr const char* key_a_id = "AAAAAAAA";
constexpr const char* key_a_secret = "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE";  // 32 × 'a'
constexpr const char* key_b_id = "QkJCQkJC";
constexpr const char* key_b_secret = "YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI";  // 32 × 'b'

std::string key_table(const std::string& id, const std::string& secret) {
    return "[[key]]\nid = \"" + id + "\"\nsecret = \"" + secret + "\"\ncreated = \"2026-11-29T08:00:00Z\"\n";
}

class keyfile_load : public keyfile {
protected:
    std::shared_ptr<const key_ring> load_text(const std::string& text, unsigned mode = 0600) {
        { std::ofstream(path) << text; }
        EXPECT_EQ(::chmod(path.c_str(), mode), 0);
        err.clear();
        warning = "stale";
        return load_keyfile(path, err, &warning);
    }
    // Loading must fail with exactly "path:line: ..." containing `what`.
    void expect_error(const std::string& text, unsigned line, const std::string& what) {
        const auto ring = load_text(text);
        EXPECT_EQ(ring, nullptr);
        EXPECT_TRUE(err.starts_with(path + ":" + std::to_string(line) + ": ")) << err;
        EXPECT_NE(err.find(what), std::string::npos) << err;
    }
    std::string err;
    std::string warning;
};

TEST_F(keyfile_load, loads_what_keygen_wrote) {
    ASSERT_TRUE(write_new_keyfile(path, false, err)) << err;
    const auto ring = load_keyfile(path, err, &warning);
    ASSERT_NE(ring, nullptr) << err;
    EXPECT_TRUE(warning.empty()) << warning;
    ASSERT_EQ(ring->keys.size(), 1u);
    EXPECT_EQ(ring->active, 0u);
    const auto written = toml::parse_file(path);
    EXPECT_EQ(ring->signer().id_text, written["active"].value<std::string>());
    EXPECT_EQ(ring->find(ring->signer().id), &ring->signer());
}

TEST_F(keyfile_load, several_keys_sign_with_the_active_one_and_find_any) {
    const auto ring = load_text(std::string("active = \"") + key_b_id + "\"\n\n" + key_table(key_a_id, key_a_secret) +
                                "\n" + key_table(key_b_id, key_b_secret));
    ASSERT_NE(ring, nullptr) << err;
    ASSERT_EQ(ring->keys.size(), 2u);
    EXPECT_EQ(ring->active, 1u);
    EXPECT_EQ(ring->signer().id_text, key_b_id);
    EXPECT_EQ(ring->signer().id, (key_id{'B', 'B', 'B', 'B', 'B', 'B'}));  // "QkJCQkJC"
    EXPECT_EQ(ring->keys[0].id, (key_id{}));                                // "AAAAAAAA"
    EXPECT_EQ(ring->find(key_id{}), &ring->keys[0]);
    EXPECT_EQ(ring->find(key_id{1, 2, 3, 4, 5, 6}), nullptr);

    // The secret is the decoded bytes: HMAC under 32 × 'b'.
    const std::vector<std::uint8_t> msg{'x'};
    const crypto::hmac_key expected(std::vector<std::uint8_t>(32, 'b'));
    EXPECT_EQ(ring->signer().mac.sign(msg), expected.sign(msg));
}

TEST_F(keyfile_load, warns_when_group_or_others_may_read_it) {
    const std::string text = std::string("active = \"") + key_a_id + "\"\n" + key_table(key_a_id, key_a_secret);
    EXPECT_NE(load_text(text, 0600), nullptr) << err;
    EXPECT_EQ(warning, "");
    EXPECT_NE(load_text(text, 0640), nullptr) << err;
    EXPECT_NE(warning.find("readable by group"), std::string::npos) << warning;
    EXPECT_NE(warning.find("0640"), std::string::npos) << warning;
    EXPECT_NE(load_text(text, 0604), nullptr) << err;
    EXPECT_NE(warning.find("readable by others"), std::string::npos) << warning;
    EXPECT_TRUE(warning.starts_with(path + ": ")) << warning;
}

TEST_F(keyfile_load, missing_file_names_the_path) {
    const auto ring = load_keyfile((dir / "absent.toml").string(), err);
    EXPECT_EQ(ring, nullptr);
    EXPECT_TRUE(err.starts_with((dir / "absent.toml").string() + ": ")) << err;
}

TEST_F(keyfile_load, invalid_toml_reports_its_line) {
    expect_error("active = \"AAAAAAAA\"\n[[key]\n", 2, "invalid TOML");
}

TEST_F(keyfile_load, missing_active_is_an_error) {
    expect_error(key_table(key_a_id, key_a_secret), 1, "active: required key is missing");
}

TEST_F(keyfile_load, active_must_name_a_listed_key) {
    expect_error(std::string("\nactive = \"") + key_b_id + "\"\n" + key_table(key_a_id, key_a_secret), 2,
                 "names no [[key]]");
}

TEST_F(keyfile_load, no_keys_is_an_error) {
    expect_error("active = \"AAAAAAAA\"\n", 1, "key: required key is missing");
    expect_error("active = \"AAAAAAAA\"\nkey = []\n", 2, "no keys");
}

TEST_F(keyfile_load, key_ids_must_be_6_bytes_of_base64url) {
    expect_error(std::string("active = \"AAAA\"\n") + key_table("AAAA", key_a_secret), 3, "key[0].id: must be 8");
    expect_error(std::string("active = \"AAAAAA+A\"\n") + key_table("AAAAAA+A", key_a_secret), 3, "key[0].id");
    expect_error(std::string("active = \"AAAAAAAA\"\n") + "[[key]]\nid = 7\nsecret = \"" + key_a_secret + "\"\n", 3,
                 "key[0].id: expected a string");
}

TEST_F(keyfile_load, duplicate_ids_are_an_error_at_the_second) {
    expect_error(std::string("active = \"") + key_a_id + "\"\n" + key_table(key_a_id, key_a_secret) +
                     key_table(key_a_id, key_b_secret),
                 6, "duplicate key id");
}

TEST_F(keyfile_load, secrets_must_be_base64url_of_at_least_32_bytes_and_are_never_echoed) {
    const std::string short_secret = "c2hvcnQtc2VjcmV0";  // "short-secret", 12 bytes
    expect_error(std::string("active = \"") + key_a_id + "\"\n" + key_table(key_a_id, short_secret), 4,
                 "12 bytes; at least 32");
    EXPECT_EQ(err.find(short_secret), std::string::npos) << err;
    const std::string padded = std::string(key_a_secret) + "=";
    expect_error(std::string("active = \"") + key_a_id + "\"\n" + key_table(key_a_id, padded), 4,
                 "key[0].secret: is not unpadded base64url");
    EXPECT_EQ(err.find(key_a_secret), std::string::npos) << err;
    expect_error(std::string("active = \"") + key_a_id + "\"\n[[key]]\nid = \"" + key_a_id + "\"\n", 2,
                 "key[0].secret: required key is missing");
}

TEST_F(keyfile_load, unknown_keys_and_bad_created_times_are_errors) {
    expect_error(std::string("active = \"") + key_a_id + "\"\nactiv = 1\n" + key_table(key_a_id, key_a_secret), 2,
                 "activ: unknown key");
    expect_error(std::string("active = \"") + key_a_id + "\"\n" + key_table(key_a_id, key_a_secret) + "note = \"x\"\n",
                 6, "key[0].note: unknown key");
    expect_error(std::string("active = \"") + key_a_id + "\"\n[[key]]\nid = \"" + key_a_id + "\"\nsecret = \"" +
                     key_a_secret + "\"\ncreated = \"yesterday\"\n",
                 5, "key[0].created: must be an RFC 3339 time");
}

TEST_F(keyfile_load, reports_every_problem_sorted_by_line) {
    const auto ring = load_text(std::string("active = \"") + key_a_id + "\"\n" + key_table("short", key_a_secret) +
                                key_table(key_b_id, "c2hvcnQ"));
    EXPECT_EQ(ring, nullptr);
    const auto first = err.find(path + ":3: key[0].id");
    const auto second = err.find(path + ":8: key[1].secret");
    EXPECT_NE(first, std::string::npos) << err;
    EXPECT_NE(second, std::string::npos) << err;
    EXPECT_LT(first, second);
}

TEST(keyfile_ephemeral, every_ring_has_one_fresh_active_key) {
    const auto a = make_ephemeral_key_ring();
    const auto b = make_ephemeral_key_ring();
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    ASSERT_EQ(a->keys.size(), 1u);
    EXPECT_EQ(a->active, 0u);
    EXPECT_EQ(a->signer().id_text, crypto::base64url_encode(a->signer().id));
    EXPECT_NE(a->signer().id, b->signer().id);
    const std::vector<std::uint8_t> msg{'x'};
    EXPECT_NE(a->signer().mac.sign(msg), b->signer().mac.sign(msg));
}

}  // namespace
}  // namespace anteroom
