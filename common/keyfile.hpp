#pragma once
// The HMAC key file made by `anteroom keygen`: several keys for rotation, each with an id.
// Secrets live here, never in the main config.
//
//   active = "<id>"
//   [[key]]
//   id = "<8 base64url chars = 6 bytes>"
//   secret = "<43 base64url chars = 32 bytes>"
//   created = "2026-11-29T08:00:00Z"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto.hpp"

namespace anteroom {

// Writes a new key file with one fresh 256-bit key (RAND_bytes) as mode 0600. Refuses to
// overwrite unless `force`.
bool write_new_keyfile(const std::string& path, bool force, std::string& err);

using key_id = std::array<std::uint8_t, 6>;

struct signing_key {
    key_id id{};
    std::string id_text;  // base64url form as written in the file
    crypto::hmac_key mac;
};

// All keys of one key file: sign with the active one, verify with any. Immutable once loaded;
// shared as std::shared_ptr<const key_ring> and replaced whole on reload.
struct key_ring {
    std::vector<signing_key> keys;
    std::size_t active = 0;  // index into keys

    const signing_key& signer() const { return keys[active]; }
    const signing_key* find(const key_id& id) const;  // null when unknown
};

// Loads and checks a key file: at least one key, ids unique and 6 bytes, secrets ≥ 32 bytes,
// `active` names one of them, file not readable by group/other (a warning text is returned in
// `warning` then, not an error). Errors read "path:line: what is wrong".
std::shared_ptr<const key_ring> load_keyfile(const std::string& path, std::string& err,
                                             std::string* warning = nullptr);

// A bearer token from a file of its own (admin API, hotline agents): the first line, trailing
// whitespace removed, at least 16 characters. nullopt with "path: ..." in err otherwise;
// `what` names the token in messages ("admin token").
std::optional<std::string> read_token_file(const std::string& path, std::string_view what, std::string& err);
// The admin token file: one token per line, either `TOKEN` (named "admin") or `NAME TOKEN`;
// names 1-32 characters from a-z 0-9 . _ -, unique; tokens at least 16 characters, unique;
// blank lines and lines starting with '#' skipped; at most 64 tokens. The name is what the
// audit log records as "who". nullopt with "path:line: ..." in err otherwise.
struct named_token {
    std::string name;
    std::string token;
};
inline constexpr std::size_t max_admin_tokens = 64;
std::optional<std::vector<named_token>> read_named_tokens(const std::string& path, std::string_view what,
                                                          std::string& err);
inline auto named_token_file_check(std::string_view what) {
    return [what](const std::string& path, std::string& err) { return read_named_tokens(path, what, err).has_value(); };
}

// For the config loader (table_reader::read_file): the file is a usable token file now.
inline auto token_file_check(std::string_view what) {
    return [what](const std::string& path, std::string& err) { return read_token_file(path, what, err).has_value(); };
}

// A fresh ring with one random key, for tests and for `make run` before keygen was called.
// Throws std::runtime_error when OpenSSL has no randomness (startup only).
std::shared_ptr<const key_ring> make_ephemeral_key_ring();

}  // namespace anteroom
