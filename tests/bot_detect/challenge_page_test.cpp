#include "bot_detect/challenge_page.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "common/crypto.hpp"

namespace anteroom::bot_detect {
namespace {

constexpr std::size_t page_limit = 20 * 1024;
constexpr std::string_view token = "Zm9vYmFyLWNoYWxsZW5nZS10b2tlbg_-";
constexpr std::string_view nojs = "/_anteroom/challenge?wait=V2FpdA&return=%2Fbook%3Fx%3D1";

challenge_page_ctx ctx(ui_language lang = ui_language::de, std::string_view ret = "/book?x=1") {
    challenge_page_ctx c;
    c.lang = lang;
    c.token = token;
    c.difficulty = 16;
    c.return_path = ret;
    c.nojs_url = nojs;
    c.nojs_seconds = 20;
    return c;
}

std::string script_of(const std::string& page) {
    const auto open = page.find("<script>");
    const auto close = page.find("</script>");
    return open == std::string::npos || close == std::string::npos ? "" : page.substr(open, close - open);
}

TEST(ChallengePage, CarriesTheFormOfTheProtocol) {
    const auto page = render_challenge_page(ctx());
    const std::string t(token);
    EXPECT_NE(page.find("<form id=\"anteroom-challenge\" method=\"get\" action=\"/_anteroom/challenge\" data-token=\"" +
                        t + "\" data-difficulty=\"16\""),
              std::string::npos);
    EXPECT_NE(page.find("<input type=\"hidden\" name=\"token\" value=\"" + t + "\">"), std::string::npos);
    EXPECT_NE(page.find("<input type=\"hidden\" name=\"solution\" value=\"\">"), std::string::npos);
    EXPECT_NE(page.find("<input type=\"hidden\" name=\"return\" value=\"/book?x=1\">"), std::string::npos);
    EXPECT_NE(page.find("type=\"submit\""), std::string::npos);
    // The no-JavaScript path: a meta refresh in <head> (its '&' escaped as in any attribute),
    // and the text that speaks of the script's work hidden without JavaScript.
    const auto head_end = page.find("</head>");
    const auto refresh = page.find(
        "<noscript><meta http-equiv=\"refresh\" content=\"20;url=/_anteroom/challenge?wait=V2FpdA&amp;return=%2Fbook%3Fx%3D1\">"
        "<style>.js{display:none}</style></noscript>");
    ASSERT_NE(refresh, std::string::npos);
    EXPECT_LT(refresh, head_end);
    EXPECT_NE(page.find("role=\"progressbar\""), std::string::npos);
    EXPECT_NE(page.find("aria-valuenow=\"0\""), std::string::npos);
    EXPECT_NE(page.find("65.536"), std::string::npos);  // 2^16 tries expected
    EXPECT_EQ(page.find("{{"), std::string::npos);
}

TEST(ChallengePage, ScriptTakesNoPlaceholdersAndLoadsNothing) {
    const auto page = render_challenge_page(ctx());
    const auto script = script_of(page);
    ASSERT_FALSE(script.empty());
    EXPECT_NE(script.find("crypto.subtle"), std::string::npos);
    EXPECT_NE(script.find("dataset"), std::string::npos);
    EXPECT_EQ(script.find(std::string(token)), std::string::npos);  // read from the form, not written in
    EXPECT_EQ(page.find("src="), std::string::npos);
    EXPECT_EQ(page.find("href="), std::string::npos);
    EXPECT_EQ(page.find("https://"), std::string::npos);
}

TEST(ChallengePage, EscapesAHostileReturnPath) {
    const auto page = render_challenge_page(ctx(ui_language::de, "/book\"><script>alert(1)</script>&'"));
    EXPECT_EQ(page.find("<script>alert"), std::string::npos);
    EXPECT_NE(page.find("value=\"/book&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;&#39;\""), std::string::npos);
}

TEST(ChallengePage, SpeaksGermanAndEnglish) {
    const auto de = render_challenge_page(ctx(ui_language::de));
    const auto en = render_challenge_page(ctx(ui_language::en));
    EXPECT_NE(de.find("<html lang=\"de\">"), std::string::npos);
    EXPECT_NE(de.find("nach 20 Sekunden"), std::string::npos);
    EXPECT_NE(de.find("keine Maschine"), std::string::npos);
    EXPECT_NE(en.find("<html lang=\"en\">"), std::string::npos);
    EXPECT_NE(en.find("let in after 20 seconds"), std::string::npos);
    EXPECT_NE(en.find("not a machine"), std::string::npos);
    EXPECT_NE(en.find("65,536"), std::string::npos);
}

TEST(ChallengePage, RetrySaysSoOnlyWhenAsked) {
    auto c = ctx(ui_language::en);
    EXPECT_EQ(render_challenge_page(c).find("That did not work"), std::string::npos);
    c.retry = true;
    EXPECT_NE(render_challenge_page(c).find("That did not work. We are trying again."), std::string::npos);
    c.lang = ui_language::de;
    EXPECT_NE(render_challenge_page(c).find("Das hat nicht geklappt"), std::string::npos);
}

TEST(ChallengePage, StaysSmall) {
    std::string long_path = "/book?q=";
    long_path.append(2000, 'x');
    auto c = ctx(ui_language::de, long_path);
    c.retry = true;
    EXPECT_LT(render_challenge_page(c).size(), page_limit);
    c.lang = ui_language::en;
    EXPECT_LT(render_challenge_page(c).size(), page_limit);
}

// The protocol the page's script implements (docs/bot-detection.md): SHA-256(token + ":" + c),
// c in plain decimal, with at least N leading zero bits, the MSB of byte 0 first.
unsigned leading_zero_bits(const crypto::digest& d) {
    unsigned n = 0;
    for (const auto byte : d) {
        if (byte != 0) {
            for (unsigned mask = 0x80; (byte & mask) == 0; mask >>= 1) {
                ++n;
            }
            return n;
        }
        n += 8;
    }
    return n;
}

TEST(ChallengePage, SolutionDefinitionMatchesTheProtocol) {
    constexpr unsigned difficulty = 12;
    std::uint64_t c = 0;
    while (leading_zero_bits(crypto::sha256(std::string(token) + ":" + std::to_string(c))) < difficulty) {
        ASSERT_LT(c, std::uint64_t{1} << 24) << "no solution within 2^24 tries";
        ++c;
    }
    const auto d = crypto::sha256(std::string(token) + ":" + std::to_string(c));
    EXPECT_EQ(d[0], 0);
    EXPECT_LT(d[1], 0x10);  // 12 bits: byte 0 and the high nibble of byte 1
    // Known vector: the bit order is the digest's byte order, MSB first.
    EXPECT_EQ(crypto::to_hex(crypto::sha256("abc")).substr(0, 8), "ba7816bf");
    EXPECT_EQ(leading_zero_bits(crypto::sha256("abc")), 0u);
    crypto::digest z{};
    z[2] = 0x10;
    EXPECT_EQ(leading_zero_bits(z), 19u);
}


// The page's own script under Node (when installed): its pure-JS SHA-256 against Node's, and
// both solving paths (WebCrypto and the fallback) submitting a counter with enough zero bits.
// A minimal stand-in for the DOM; no browser needed.
constexpr std::string_view node_harness = R"JS(
const fs = require("fs"), nc = require("crypto");
const html = fs.readFileSync(process.argv[2], "utf8");
const script = html.slice(html.indexOf("<script>") + 8, html.indexOf("</script>"));
const attr = (name) => html.match(new RegExp(name + '="([^"]*)"'))[1];
const token = attr("data-token"), bits = +attr("data-difficulty");
function zeros(c) {
  const h = nc.createHash("sha256").update(token + ":" + c).digest();
  let z = 0;
  for (const b of h) { if (b === 0) { z += 8; continue; } z += Math.clz32(b) - 24; break; }
  return z;
}
function run(subtle) {
  return new Promise((resolve, reject) => {
    const el = () => ({ dataset: {}, hidden: true, setAttribute() {}, style: {}, firstChild: { style: {} } });
    const form = el();
    form.dataset = { token, difficulty: String(bits), nojs: "/x", wait: "5" };
    form.elements = { solution: {} };
    form.submit = () => {
      const c = form.elements.solution.value;
      if (!/^(0|[1-9][0-9]*)$/.test(c) || zeros(c) < bits) { reject(new Error("bad solution " + c)); }
      resolve();
    };
    const els = { "anteroom-challenge": form, "ac-tries": el(), "ac-bar": el(), "ac-go": el(), "ac-work": el() };
    globalThis.document = { getElementById: (id) => els[id], documentElement: { lang: "en" } };
    globalThis.window = { crypto: subtle ? { subtle: nc.webcrypto.subtle } : {}, isSecureContext: true, Int32Array };
    globalThis.location = { replace() { reject(new Error("gave up")); } };
    (0, eval)(script);
    for (const s of ["", "abc", "a".repeat(55), "a".repeat(56), "a".repeat(64), "x".repeat(300)]) {
      const h = window.anteroomSha256(new Uint8Array(Buffer.from(s)));
      const hex = Array.from(h, (w) => (w >>> 0).toString(16).padStart(8, "0")).join("");
      if (hex !== nc.createHash("sha256").update(s).digest("hex")) { reject(new Error("sha256 of length " + s.length)); }
    }
  });
}
run(true).then(() => run(false)).then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); });
setTimeout(() => { console.error("timeout"); process.exit(2); }, 20000);
)JS";

TEST(ChallengePage, ScriptSolvesUnderNode) {
    if (std::system("node --version > /dev/null 2>&1") != 0) {
        GTEST_SKIP() << "node is not installed";
    }
    auto c = ctx(ui_language::en);
    c.difficulty = 10;
    const std::string dir = ::testing::TempDir();
    const std::string page_file = dir + "anteroom_challenge_page.html";
    const std::string js_file = dir + "anteroom_challenge_harness.js";
    std::ofstream(page_file) << render_challenge_page(c);
    std::ofstream(js_file) << node_harness;
    EXPECT_EQ(std::system(("node " + js_file + " " + page_file).c_str()), 0);
    std::remove(page_file.c_str());
    std::remove(js_file.c_str());
}

}  // namespace
}  // namespace anteroom::bot_detect
