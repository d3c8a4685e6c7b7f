#pragma once
// Helpers shared by the config tests (config_test.cpp, config_room_test.cpp).

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"

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

}  // namespace anteroom::config_test
