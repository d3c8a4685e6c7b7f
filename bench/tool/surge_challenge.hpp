#pragma once
// How a surge visitor that solves challenges answers one (docs/bot-detection.md): reading the
// challenge from the page or the JSON answer, finding the counter, the time a browser would
// take, and the form it posts. Pure, apart from any socket; the engine (surge_script.cpp) calls
// it and tests/bench/surge_challenge_test.cpp checks it. The form is submitted with GET: proxy
// filters never read request bodies.

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace anteroom::bench {

inline constexpr std::string_view challenge_submit_path = "/_anteroom/challenge";
inline constexpr unsigned max_challenge_solves = 3;  // per visitor; then it gives up as one that cannot
// Beyond this the bench does not try: 2^26 hashes are half a minute of CPU, a browser would
// need more than five minutes.
inline constexpr unsigned max_solvable_difficulty = 26;

struct challenge_info {
    std::string token;
    unsigned difficulty = 0;
    std::string return_path;  // decoded ("/book?x=1"); "" when absent
};

// From the challenge page: data-token and data-difficulty of form#anteroom-challenge and the
// value of the hidden input "return" (HTML character references decoded).
std::optional<challenge_info> parse_challenge_html(std::string_view html);
// From {"state":"challenge","token":…,"difficulty":N,"return":…}.
std::optional<challenge_info> parse_challenge_json(std::string_view json);
// Either, by the body's first character.
std::optional<challenge_info> parse_challenge(std::string_view body);

struct challenge_solution {
    std::uint64_t counter = 0;  // the first c with SHA-256(token ":" c) starting with `difficulty` zero bits
};
// nullopt when no counter below `max_tries` works, the difficulty is above 256, or `stop` turned
// true (checked every 65,536 tries). `hashes` counts the tries made either way.
std::optional<challenge_solution> solve_challenge(std::string_view token, unsigned difficulty, std::uint64_t max_tries,
                                                  std::uint64_t& hashes, const std::atomic<bool>* stop = nullptr);
// 16 times the expected tries: a miss has probability e^-16.
std::uint64_t challenge_max_tries(unsigned difficulty);
unsigned leading_zero_bits(const std::uint8_t (&digest)[32]);

// The simulated browser's time: expected hashes at 200,000 per second, at least 300 ms, times
// 0.7..1.3 by `unit` (0..1).
std::uint32_t browser_solve_ms(unsigned difficulty, double unit);

// What the page's form requests: /_anteroom/challenge?token=…&solution=…&return=… (each value
// percent-encoded, as application/x-www-form-urlencoded).
std::string challenge_submit_target(const challenge_info& ch, std::uint64_t counter);

}  // namespace anteroom::bench
