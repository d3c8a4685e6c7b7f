#pragma once
// Console sessions: after a browser signs in with an admin token, it holds a cookie
//   base64url(expires be64 | sha256(token)[0..8] | name) "." base64url(HMAC-SHA256)
// signed with a key made at process start (a restart signs everybody out). A cookie is good
// while it has not expired and its token name is still configured with the same token, so
// removing or changing a token in the file (and reloading) ends that token's sessions.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto.hpp"
#include "common/keyfile.hpp"

namespace anteroom::console {

class session_signer {
public:
    // A random key (throws std::runtime_error when the system has no randomness: startup only).
    session_signer();
    explicit session_signer(std::span<const std::uint8_t> key);

    std::string issue(const named_token& t, std::int64_t expires_ms) const;
    // The token name, or nullopt for a forged, expired, malformed or revoked cookie.
    std::optional<std::string> verify(std::string_view cookie, const std::vector<named_token>& tokens,
                                      std::int64_t now_ms) const;

private:
    crypto::hmac_key key_;
};

// Which configured token a presented secret is (constant time per token); nullopt if none.
const named_token* find_token(std::string_view presented, const std::vector<named_token>& tokens);

}  // namespace anteroom::console
