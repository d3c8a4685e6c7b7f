// booking/openapi.yaml stays true to the server: every route the JSON API registers
// (api_routes()) is in the spec's `paths` with its method, the spec has no path or method the
// server does not register, and every error code the spec names is one the server can produce
// (and the spec's ErrorCode enum names them all). There is no YAML library in the build; the
// spec is read line by line: path keys are the two-space keys under `paths:`, methods the
// four-space keys under a path.

#include "booking/store.hpp"
#include "booking/web.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace anteroom::booking {
namespace {

#ifdef ANTEROOM_SOURCE_DIR
const char* const spec_path = ANTEROOM_SOURCE_DIR "/booking/openapi.yaml";
#else
const char* const spec_path = nullptr;
#endif

struct yaml_line {
    int number = 0;     // 1-based, for messages
    std::size_t indent = 0;
    std::string text;   // without indentation, comment-only lines dropped
};

std::vector<yaml_line> read_lines(const std::string& content) {
    std::vector<yaml_line> out;
    std::istringstream in(content);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        const auto first = line.find_first_not_of(' ');
        if (first == std::string::npos || line[first] == '#') {
            continue;
        }
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) {
            line.pop_back();
        }
        out.push_back({number, first, line.substr(first)});
    }
    return out;
}

std::string unquote(std::string s) {
    if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) {
        return s.substr(1, s.size() - 2);
    }
    return s;
}

// "key: value" → key (unquoted); "" when the line is not a mapping key.
std::string key_of(const std::string& text) {
    if (text.empty() || text.front() == '-') {
        return {};
    }
    std::size_t colon = std::string::npos;
    if (text.front() == '"' || text.front() == '\'') {
        const auto close = text.find(text.front(), 1);
        if (close != std::string::npos && close + 1 < text.size() && text[close + 1] == ':') {
            colon = close + 1;
        }
    } else {
        colon = text.find(':');
    }
    if (colon == std::string::npos || (colon + 1 < text.size() && text[colon + 1] != ' ')) {
        return {};
    }
    return unquote(text.substr(0, colon));
}

struct spec_paths {
    std::set<std::pair<std::string, std::string>> operations;  // (path, lower-case method)
    std::size_t path_count = 0;
    std::vector<std::string> problems;
};

bool is_method(const std::string& k) {
    static const std::set<std::string> methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};
    return methods.contains(k);
}

// The Path Item fields that are not operations (OpenAPI 3.1 §4.8.9); `$ref` is refused: the
// test could not see the operations behind it.
bool is_path_item_field(const std::string& k) {
    return k == "summary" || k == "description" || k == "servers" || k == "parameters";
}

spec_paths read_paths(const std::vector<yaml_line>& lines) {
    spec_paths out;
    bool in_paths = false;
    bool seen_paths = false;
    std::string path;
    std::set<std::string> paths_seen;
    for (const auto& l : lines) {
        const std::string where = "line " + std::to_string(l.number) + ": ";
        if (l.indent == 0) {
            in_paths = key_of(l.text) == "paths" && l.text == "paths:";
            if (key_of(l.text) == "paths") {
                if (seen_paths) {
                    out.problems.push_back(where + "a second `paths:`");
                }
                if (!in_paths) {
                    out.problems.push_back(where + "`paths:` must be a block mapping");
                }
                seen_paths = true;
            }
            path.clear();
            continue;
        }
        if (!in_paths) {
            continue;
        }
        if (l.indent == 2) {
            const std::string k = key_of(l.text);
            if (k.empty() || k.front() != '/' || l.text.back() != ':') {
                out.problems.push_back(where + "expected a path key like `/api/x:`, got `" + l.text + "`");
                path.clear();
                continue;
            }
            if (!paths_seen.insert(k).second) {
                out.problems.push_back(where + "path `" + k + "` appears twice");
            }
            path = k;
            ++out.path_count;
        } else if (l.indent == 4) {
            const std::string k = key_of(l.text);
            if (path.empty()) {
                continue;  // under a bad path key, reported already
            }
            if (is_method(k)) {
                if (!out.operations.insert({path, k}).second) {
                    out.problems.push_back(where + k + " " + path + " appears twice");
                }
            } else if (!is_path_item_field(k)) {
                out.problems.push_back(where + "`" + l.text + "` under " + path +
                                       " is neither an HTTP method nor a path item field");
            }
        } else if (l.indent < 6) {
            out.problems.push_back(where + "odd indentation " + std::to_string(l.indent) + " under paths");
        }
    }
    if (!seen_paths) {
        out.problems.push_back("no top-level `paths:`");
    }
    return out;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

class OpenApi : public ::testing::Test {
protected:
    void SetUp() override {
        if (spec_path == nullptr) {
            GTEST_SKIP() << "ANTEROOM_SOURCE_DIR not defined";
        }
        std::ifstream f(spec_path, std::ios::binary);
        ASSERT_TRUE(f) << "cannot read " << spec_path;
        std::ostringstream s;
        s << f.rdbuf();
        content_ = s.str();
        ASSERT_FALSE(content_.empty());
        ASSERT_EQ(content_.find('\t'), std::string::npos) << "tabs in " << spec_path << " (YAML indents with spaces)";
        lines_ = read_lines(content_);
    }

    std::string content_;
    std::vector<yaml_line> lines_;
};

TEST_F(OpenApi, SpecIsOpenApi31) {
    ASSERT_FALSE(lines_.empty());
    EXPECT_EQ(lines_.front().text, "openapi: 3.1.0");
}

TEST_F(OpenApi, EveryServerRouteIsInTheSpecAndNothingElse) {
    const spec_paths spec = read_paths(lines_);
    for (const auto& p : spec.problems) {
        ADD_FAILURE() << spec_path << " " << p;
    }
    ASSERT_FALSE(spec.operations.empty()) << "no operations found under paths:";

    std::set<std::pair<std::string, std::string>> server;
    for (const auto& r : api_routes()) {
        server.insert({std::string(r.pattern), lower(http::to_string(r.method))});
    }
    ASSERT_FALSE(server.empty());

    for (const auto& [path, method] : server) {
        EXPECT_TRUE(spec.operations.contains({path, method}))
            << "the server registers " << method << " " << path << " but booking/openapi.yaml does not describe it";
    }
    for (const auto& [path, method] : spec.operations) {
        EXPECT_TRUE(server.contains({path, method}))
            << "booking/openapi.yaml describes " << method << " " << path << " but the server has no such route";
    }
    // A path key without any method is dead weight (or a method indented wrongly).
    std::set<std::string> paths_with_methods;
    for (const auto& op : spec.operations) {
        paths_with_methods.insert(op.first);
    }
    EXPECT_EQ(paths_with_methods.size(), spec.path_count) << "a path in the spec has no method under it";
}

// The reader itself: it must see paths and methods where they are and refuse what it cannot read,
// so the coverage test above cannot pass by reading nothing.
TEST(OpenApiReader, FindsPathsAndMethodsAndFlagsOddKeys) {
    const std::string yaml =
        "openapi: 3.1.0\n"
        "paths:\n"
        "  # comment\n"
        "  /api/a:\n"
        "    parameters:\n"
        "      - name: x\n"
        "    get:\n"
        "      responses: {}\n"
        "    delete:\n"
        "      responses: {}\n"
        "  \"/api/b/{id}\":\r\n"
        "    put:\n"
        "      summary: 'paths:'\n"
        "components:\n"
        "  schemas:\n"
        "    get:\n"
        "      type: string\n";
    const spec_paths s = read_paths(read_lines(yaml));
    EXPECT_TRUE(s.problems.empty()) << (s.problems.empty() ? "" : s.problems.front());
    const std::set<std::pair<std::string, std::string>> want = {
        {"/api/a", "get"}, {"/api/a", "delete"}, {"/api/b/{id}", "put"}};
    EXPECT_EQ(s.operations, want);
    EXPECT_EQ(s.path_count, 2u);

    const spec_paths typo = read_paths(read_lines("paths:\n  /api/a:\n    gett:\n      x: 1\n"));
    EXPECT_EQ(typo.problems.size(), 1u);
    const spec_paths twice = read_paths(read_lines("paths:\n  /api/a:\n    get:\n  /api/a:\n    post:\n"));
    EXPECT_EQ(twice.problems.size(), 1u);
    const spec_paths none = read_paths(read_lines("openapi: 3.1.0\n"));
    EXPECT_EQ(none.problems.size(), 1u);
    const spec_paths flow = read_paths(read_lines("paths: {}\n"));
    EXPECT_EQ(flow.problems.size(), 1u);
}

// Error codes the server can put in {"code": …}: the store's codes and the API's own.
std::set<std::string> server_error_codes() {
    std::set<std::string> codes = {"invalid_json", "unauthenticated", "cross_site", "not_found", "method_not_allowed",
                                   "busy", "malformed_request", "too_large"};
    for (int i = 1; i < 256; ++i) {
        const std::string_view s = to_string(static_cast<store_error>(i));
        if (s == "unknown") {
            break;  // codes are appended only, so the first gap is the end
        }
        codes.insert(std::string(s));
    }
    return codes;
}

// Every value of a `code:` key in the spec (error examples), wherever it stands.
std::set<std::string> spec_code_values(const std::vector<yaml_line>& lines) {
    std::set<std::string> out;
    for (const auto& l : lines) {
        std::string_view t = l.text;
        if (t.starts_with("- ")) {
            t.remove_prefix(2);
        }
        if (!t.starts_with("code:")) {
            continue;
        }
        t.remove_prefix(5);
        while (t.starts_with(' ')) {
            t.remove_prefix(1);
        }
        // An empty value opens a nested mapping (the Error schema's `code:` property).
        const std::string value = unquote(std::string(t));
        if (!value.empty()) {
            out.insert(value);
        }
    }
    return out;
}

// The items of the `enum:` of components.schemas.ErrorCode.
std::vector<std::string> spec_error_enum(const std::vector<yaml_line>& lines) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < lines.size() && !(lines[i].indent == 4 && lines[i].text == "ErrorCode:")) {
        ++i;
    }
    if (i == lines.size()) {
        return out;
    }
    const std::size_t base = lines[i].indent;
    bool in_enum = false;
    std::size_t enum_indent = 0;
    for (++i; i < lines.size() && lines[i].indent > base; ++i) {
        const auto& l = lines[i];
        if (l.text == "enum:") {
            in_enum = true;
            enum_indent = l.indent;
        } else if (in_enum && l.indent >= enum_indent && l.text.starts_with("- ")) {
            out.push_back(unquote(l.text.substr(2)));
        } else if (in_enum && l.indent <= enum_indent) {
            in_enum = false;
        }
    }
    return out;
}

TEST_F(OpenApi, ErrorCodesAreOnesTheServerProduces) {
    const std::set<std::string> server = server_error_codes();
    ASSERT_TRUE(server.contains("no_capacity"));
    ASSERT_TRUE(server.contains("day_closed"));
    ASSERT_FALSE(server.contains("ok"));

    const std::set<std::string> examples = spec_code_values(lines_);
    EXPECT_GE(examples.size(), 10u) << "too few `code:` examples found; did the spec's layout change?";
    for (const auto& c : examples) {
        EXPECT_TRUE(server.contains(c)) << "booking/openapi.yaml shows error code \"" << c
                                        << "\", which the server never produces";
    }

    const std::vector<std::string> listed = spec_error_enum(lines_);
    ASSERT_FALSE(listed.empty()) << "components.schemas.ErrorCode has no enum";
    const std::set<std::string> listed_set(listed.begin(), listed.end());
    EXPECT_EQ(listed_set.size(), listed.size()) << "ErrorCode enum lists a code twice";
    for (const auto& c : listed) {
        EXPECT_TRUE(server.contains(c)) << "ErrorCode enum has \"" << c << "\", which the server never produces";
    }
    for (const auto& c : server) {
        EXPECT_TRUE(listed_set.contains(c)) << "the server can answer error code \"" << c
                                            << "\" but the ErrorCode enum in booking/openapi.yaml lacks it";
    }
    for (const auto& c : examples) {
        EXPECT_TRUE(listed_set.contains(c)) << "example code \"" << c << "\" is not in the ErrorCode enum";
    }
}

}  // namespace
}  // namespace anteroom::booking
