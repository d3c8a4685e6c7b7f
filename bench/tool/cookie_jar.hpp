#pragma once
// Cookies of many visitors, kept compactly: one slot per visitor that holds any, in size
// classes of 64 to 1024 bytes (the Cookie header text ready to send, plus a little "extra" text
// the booking walk keeps: booking code, PIN, chosen centre and date). A visitor without cookies
// costs nothing here; a finished one gives its slot back.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace anteroom::bench {

class cookie_jar {
public:
    static constexpr std::uint32_t none = 0xffffffffu;
    static constexpr std::size_t max_bytes = 1024 - 4;  // cookies + extra per visitor

    std::string_view cookies(std::uint32_t slot) const;
    std::string_view extra(std::uint32_t slot) const;
    // Stores both texts; returns the (possibly moved) slot, `none` when both are empty. Too long
    // for the largest class: the old slot is kept unchanged and `overflow` is set.
    std::uint32_t store(std::uint32_t slot, std::string_view cookies, std::string_view extra, bool& overflow);
    void release(std::uint32_t slot);
    std::size_t slots_in_use() const { return in_use_; }
    std::size_t bytes_reserved() const;

private:
    static constexpr std::size_t class_count = 5;  // 64, 128, 256, 512, 1024
    static constexpr std::uint32_t per_block = 4096;
    struct size_class {
        std::vector<std::unique_ptr<char[]>> blocks;
        std::vector<std::uint32_t> free;
        std::uint32_t used = 0;  // slots ever handed out
    };
    static std::size_t class_bytes(std::size_t c) { return std::size_t{64} << c; }
    char* at(std::uint32_t slot) const;
    std::size_t in_use_ = 0;
    size_class classes_[class_count];
};

// Applies one Set-Cookie value ("name=value; Path=/; Max-Age=0 ...") to a Cookie header text
// ("a=1; b=2"): replaces or adds the pair, or removes it when the server deletes it (empty
// value, Max-Age <= 0 or an Expires in 1970). Returns the cookie name ("" when malformed).
std::string_view apply_set_cookie(std::string& header, std::string_view set_cookie);

// The value of cookie `name` in a Cookie header text, or "" when absent.
std::string_view cookie_value(std::string_view header, std::string_view name);

}  // namespace anteroom::bench
