#include "common/keyfile.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

namespace anteroom {

namespace {

std::string base64url(const unsigned char* p, std::size_t n) {
    static constexpr char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < n; i += 3) {
        const unsigned v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
        out += tbl[(v >> 18) & 63];
        out += tbl[(v >> 12) & 63];
        out += tbl[(v >> 6) & 63];
        out += tbl[v & 63];
    }
    if (i + 1 == n) {
        const unsigned v = p[i] << 16;
        out += tbl[(v >> 18) & 63];
        out += tbl[(v >> 12) & 63];
    } else if (i + 2 == n) {
        const unsigned v = (p[i] << 16) | (p[i + 1] << 8);
        out += tbl[(v >> 18) & 63];
        out += tbl[(v >> 12) & 63];
        out += tbl[(v >> 6) & 63];
    }
    return out;
}

}  // namespace

bool write_new_keyfile(const std::string& path, bool force, std::string& err) {
    unsigned char key[32];
    unsigned char id_bytes[6];
    if (RAND_bytes(key, sizeof key) != 1 || RAND_bytes(id_bytes, sizeof id_bytes) != 1) {
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
                             "active = \"" + base64url(id_bytes, sizeof id_bytes) + "\"\n\n"
                             "[[key]]\n"
                             "id = \"" + base64url(id_bytes, sizeof id_bytes) + "\"\n"
                             "secret = \"" + base64url(key, sizeof key) + "\"\n"
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
