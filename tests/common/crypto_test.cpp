// common/crypto: known-answer vectors (FIPS 180-2 SHA-256, RFC 4231 HMAC-SHA256, RFC 4648
// base64 in the url alphabet) and the strictness of the decoder.

#include "common/crypto.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace anteroom::crypto {
namespace {

std::vector<std::uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::vector<std::uint8_t> repeat(std::uint8_t b, std::size_t n) { return std::vector<std::uint8_t>(n, b); }

std::vector<std::uint8_t> from_hex(std::string_view hex) {
    std::vector<std::uint8_t> out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(static_cast<std::uint8_t>(std::stoul(std::string(hex.substr(i, 2)), nullptr, 16)));
    }
    return out;
}

TEST(crypto_sha256, fips_180_2_vectors) {
    EXPECT_EQ(to_hex(sha256(std::string_view(""))),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(to_hex(sha256(std::string_view("abc"))),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(to_hex(sha256(std::string_view("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const auto a = bytes("abc");
    EXPECT_EQ(sha256(std::span<const std::uint8_t>(a)), sha256(std::string_view("abc")));
}

struct rfc4231_case {
    const char* name;
    std::vector<std::uint8_t> key;
    std::vector<std::uint8_t> data;
    const char* mac_hex;  // full or, for case 5, truncated to 128 bits
};

std::vector<rfc4231_case> rfc4231_cases() {
    std::vector<std::uint8_t> key4;
    for (std::uint8_t i = 1; i <= 25; ++i) {
        key4.push_back(i);
    }
    return {
        {"1", repeat(0x0b, 20), bytes("Hi There"),
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {"2", bytes("Jefe"), bytes("what do ya want for nothing?"),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {"3", repeat(0xaa, 20), repeat(0xdd, 50), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {"4", key4, repeat(0xcd, 50), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        {"5", repeat(0x0c, 20), bytes("Test With Truncation"), "a3b6167473100ee06e0c796c2955552b"},
        {"6", repeat(0xaa, 131), bytes("Test Using Larger Than Block-Size Key - Hash Key First"),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {"7", repeat(0xaa, 131),
         bytes("This is a test using a larger than block-size key and a larger than block-size data. The key "
               "needs to be hashed before being used by the HMAC algorithm."),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
}

TEST(crypto_hmac, rfc_4231_vectors) {
    for (const auto& c : rfc4231_cases()) {
        SCOPED_TRACE(std::string("test case ") + c.name);
        const hmac_key key(c.key);
        const std::string expected = c.mac_hex;
        EXPECT_EQ(to_hex(key.sign(c.data)).substr(0, expected.size()), expected);
        const auto mac = from_hex(expected);
        EXPECT_TRUE(key.verify(c.data, mac));
    }
}

TEST(crypto_hmac, a_key_signs_the_same_message_the_same_way_every_time) {
    // The prepared pad states must be copied per call, never consumed.
    const hmac_key key(bytes("Jefe"));
    const auto msg = bytes("what do ya want for nothing?");
    const auto first = key.sign(msg);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(key.sign(msg), first);
    }
}

TEST(crypto_hmac, verify_rejects_any_changed_byte_of_message_or_mac) {
    const hmac_key key(repeat(0x0b, 20));
    auto msg = bytes("Hi There");
    const auto full = key.sign(msg);
    std::vector<std::uint8_t> mac(full.begin(), full.begin() + 16);
    ASSERT_TRUE(key.verify(msg, mac));
    for (std::size_t i = 0; i < mac.size(); ++i) {
        auto bad = mac;
        bad[i] ^= 0x01;
        EXPECT_FALSE(key.verify(msg, bad)) << "mac byte " << i;
    }
    for (std::size_t i = 0; i < msg.size(); ++i) {
        auto bad = msg;
        bad[i] ^= 0x80;
        EXPECT_FALSE(key.verify(bad, mac)) << "message byte " << i;
    }
    const hmac_key other(repeat(0x0c, 20));
    EXPECT_FALSE(other.verify(msg, mac));
}

TEST(crypto_hmac, verify_accepts_8_to_32_mac_bytes_only) {
    const hmac_key key(bytes("k"));
    const auto msg = bytes("m");
    const auto full = key.sign(msg);
    for (std::size_t n = 0; n <= 32; ++n) {
        const std::span<const std::uint8_t> mac(full.data(), n);
        EXPECT_EQ(key.verify(msg, mac), n >= 8) << n;
    }
    std::vector<std::uint8_t> longer(full.begin(), full.end());
    longer.push_back(0);
    EXPECT_FALSE(key.verify(msg, longer));
}

TEST(crypto_hmac, moved_key_signs_as_before_and_threads_can_share_one) {
    hmac_key a(bytes("Jefe"));
    const auto msg = bytes("what do ya want for nothing?");
    const auto expected = a.sign(msg);
    hmac_key b(std::move(a));
    EXPECT_EQ(b.sign(msg), expected);
    hmac_key c(bytes("other"));
    c = std::move(b);
    EXPECT_EQ(c.sign(msg), expected);

    std::vector<std::thread> threads;
    std::vector<int> ok(4, 0);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 1000; ++i) {
                ok[t] += c.sign(msg) == expected ? 1 : 0;
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(ok, std::vector<int>(4, 1000));
}

std::string encode(std::string_view s) { return base64url_encode(bytes(s)); }

std::optional<std::string> decode(std::string_view s) {
    const auto d = base64url_decode(s);
    if (!d) {
        return std::nullopt;
    }
    return std::string(d->begin(), d->end());
}

TEST(crypto_base64url, rfc_4648_vectors_without_padding) {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},           {"f", "Zg"},           {"fo", "Zm8"},          {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, coded] : vectors) {
        EXPECT_EQ(encode(plain), coded) << plain;
        EXPECT_EQ(decode(coded), plain) << coded;
    }
}

TEST(crypto_base64url, uses_the_url_alphabet) {
    // Standard base64 of fb ff bf is "+/+/"; of fb ff it is "+/8=".
    EXPECT_EQ(base64url_encode(std::vector<std::uint8_t>{0xfb, 0xff, 0xbf}), "-_-_");
    EXPECT_EQ(base64url_encode(std::vector<std::uint8_t>{0xfb, 0xff}), "-_8");
    EXPECT_EQ(base64url_decode("-_-_"), (std::vector<std::uint8_t>{0xfb, 0xff, 0xbf}));
    EXPECT_EQ(base64url_decode("-_8"), (std::vector<std::uint8_t>{0xfb, 0xff}));
    EXPECT_FALSE(base64url_decode("+/+/"));
}

TEST(crypto_base64url, every_byte_value_round_trips_at_every_length_remainder) {
    std::vector<std::uint8_t> all;
    for (int i = 0; i < 256; ++i) {
        all.push_back(static_cast<std::uint8_t>(i));
    }
    for (std::size_t n = 0; n <= all.size(); n += 1) {
        const std::span<const std::uint8_t> part(all.data(), n);
        const auto text = base64url_encode(part);
        EXPECT_EQ(text.size(), (n * 4 + 2) / 3) << n;
        const auto back = base64url_decode(text);
        ASSERT_TRUE(back) << n;
        EXPECT_TRUE(std::equal(back->begin(), back->end(), part.begin(), part.end())) << n;
    }
}

TEST(crypto_base64url, decode_rejects_padding_whitespace_foreign_characters_and_impossible_lengths) {
    for (const char* bad : {"Zg==", "Zm8=", "Zm9v\n", " Zm9v", "Zm 9v", "Zm9v+", "Zm9/", "Z", "Zm9vY", "Zm9v!A"}) {
        EXPECT_FALSE(base64url_decode(bad)) << bad;
    }
    EXPECT_FALSE(base64url_decode(std::string_view("Zm\0v", 4)));
}

TEST(crypto_base64url, decode_rejects_non_canonical_trailing_bits) {
    // "Zg" is 'f'; "Zh".."Zv" carry the same byte with non-zero bits in the unused tail.
    EXPECT_EQ(decode("Zg"), "f");
    EXPECT_FALSE(base64url_decode("Zh"));
    EXPECT_FALSE(base64url_decode("Zv"));
    EXPECT_EQ(decode("Zm8"), "fo");
    EXPECT_FALSE(base64url_decode("Zm9"));
}

TEST(crypto_base64url, decodes_into_a_caller_buffer_without_overflowing_it) {
    std::array<std::uint8_t, 6> buf{};
    EXPECT_EQ(base64url_decode("Zm9vYmFy", buf), 6u);
    EXPECT_EQ(std::string(buf.begin(), buf.end()), "foobar");
    EXPECT_EQ(base64url_decode("Zm9v", buf), 3u);
    EXPECT_FALSE(base64url_decode("Zm9vYmFyYg", buf));  // 7 bytes do not fit
    EXPECT_FALSE(base64url_decode("Zm9v!", buf));
    EXPECT_EQ(base64url_decoded_size(10), 7u);
    EXPECT_FALSE(base64url_decoded_size(5));
    EXPECT_EQ(base64url_encoded_size(7), 10u);
}

TEST(crypto_equal_ct, compares_contents_and_lengths) {
    const auto a = bytes("secret-value");
    auto b = a;
    EXPECT_TRUE(equal_ct(a, b));
    b.back() ^= 1;
    EXPECT_FALSE(equal_ct(a, b));
    b.pop_back();
    EXPECT_FALSE(equal_ct(a, b));
    EXPECT_TRUE(equal_ct({}, {}));
}

TEST(crypto_random_bytes, fills_the_buffer_with_different_bytes_each_call) {
    std::array<std::uint8_t, 32> a{};
    std::array<std::uint8_t, 32> b{};
    ASSERT_TRUE(random_bytes(a));
    ASSERT_TRUE(random_bytes(b));
    EXPECT_NE(a, b);
    EXPECT_NE(a, (std::array<std::uint8_t, 32>{}));
    EXPECT_TRUE(random_bytes({}));
}

TEST(crypto_to_hex, lowercase_two_digits_per_byte) {
    EXPECT_EQ(to_hex(std::vector<std::uint8_t>{0x00, 0x0f, 0xa5, 0xff}), "000fa5ff");
    EXPECT_EQ(to_hex({}), "");
}

}  // namespace
}  // namespace anteroom::crypto
