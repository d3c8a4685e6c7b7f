#include "common/keyfile.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

namespace anteroom {

bool write_new_keyfile(const std::string& path, bool force, std::string& err) {
    std::array<std::uint8_t, 32> key{};
    key_id id_bytes{};
    if (!crypto::random_bytes(key) || !crypto::random_bytes(id_bytes)) {
        err = "no randomness available from OpenSSL";
        return false;
    }
    const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    char created[32];
    std::strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const std::string text = "# anteroom HMAC keys — keep this file secret (mode 0600).\n"
                             "# Tickets and passes are signed with `active`; every key listed verifies.\n"
                             "# Rotate: add a new [[key]], make it active, remove the old one after the\n"
                             "# longest pass lifetime has passed.\n"
                             "active = \"" + crypto::base64url_encode(id_bytes) + "\"\n\n"
                             "[[key]]\n"
                             "id = \"" + crypto::base64url_encode(id_bytes) + "\"\n"
                             "secret = \"" + crypto::base64url_encode(key) + "\"\n"
                             "created = \"" + created + "\"\n";
    // Without force: O_EXCL, so an existing file is never touched. With force: a temporary file
    // renamed over the old one, so a failed write (disk full) cannot destroy the keys in use.
    std::string tmp = force ? path + ".tmp-XXXXXX" : path;
    const int fd = force ? ::mkstemp(tmp.data()) : ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        err = path + ": " + std::strerror(errno);
        return false;
    }
    bool ok = ::fchmod(fd, 0600) == 0;
    for (std::size_t done = 0; ok && done < text.size();) {
        const auto n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        ok = n > 0;
        done += ok ? static_cast<std::size_t>(n) : 0;
    }
    ok = ok && ::fsync(fd) == 0;
    const int write_errno = errno;
    ok = ::close(fd) == 0 && ok;
    if (ok && force && ::rename(tmp.c_str(), path.c_str()) != 0) {
        err = path + ": " + std::strerror(errno);
        ::unlink(tmp.c_str());
        return false;
    }
    if (!ok) {
        err = path + ": write failed: " + std::strerror(write_errno);
        ::unlink(tmp.c_str());  // no half-written key file left behind
        return false;
    }
    return true;
}

}  // namespace anteroom
