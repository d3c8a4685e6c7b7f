#pragma once
// The HMAC key file made by `anteroom keygen`: several keys for rotation, each with an id.
// Secrets live here, never in the main config.

#include <string>

namespace anteroom {

// Writes a new key file with one fresh 256-bit key (RAND_bytes) as mode 0600. Refuses to
// overwrite unless `force`.
bool write_new_keyfile(const std::string& path, bool force, std::string& err);

}  // namespace anteroom
