#include "common/keyfile.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <ctime>
#include <stdexcept>

#include "common/config_reader.hpp"
#include "common/timefmt.hpp"

namespace anteroom {

namespace {

using config_detail::error_sink;
using config_detail::table_reader;

// Secrets are wiped from memory once the keys are prepared.
struct wiped_bytes {
    std::vector<std::uint8_t> bytes;
    ~wiped_bytes() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};
struct wiped_text {
    std::string text;
    ~wiped_text() { OPENSSL_cleanse(text.data(), text.size()); }
};
// (toml++'s own copies of the strings are freed unwiped; only what this file owns is wiped.)

// Reads the whole file through one descriptor, so the mode checked is the mode of the file read.
bool read_secret_file(const std::string& path, wiped_text& out, mode_t& mode, std::string& err) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = path + ": " + std::strerror(errno);
        return false;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        err = path + ": not a regular file";
        ::close(fd);
        return false;
    }
    constexpr off_t max_size = 1 << 20;  // a key file is a few hundred bytes per key
    if (st.st_size > max_size) {
        err = path + ": larger than 1 MiB, not a key file";
        ::close(fd);
        return false;
    }
    mode = st.st_mode;
    out.text.resize(static_cast<std::size_t>(st.st_size));
    std::size_t done = 0;
    while (done < out.text.size()) {
        const auto n = ::read(fd, out.text.data() + done, out.text.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            err = path + ": read failed: " + (n < 0 ? std::strerror(errno) : "file shrank while reading");
            ::close(fd);
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return true;
}

std::string mode_text(mode_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

// One [[key]] table; nullopt after recording what is wrong.
struct parsed_key {
    key_id id{};
    std::string id_text;
    std::uint32_t line = 0;
    wiped_bytes secret;
};

bool read_key(error_sink& sink, const toml::table& t, std::size_t index, parsed_key& out) {
    table_reader r(sink, t, "key[" + std::to_string(index) + "]");
    out.line = std::max<std::uint32_t>(r.line(), 1);
    bool ok = true;
    if (const auto* n = r.required("id")) {
        const auto text = config_detail::get_string(sink, *n, r.key("id"));
        if (!text) {
            ok = false;
        } else if (text->size() != 8 || !crypto::base64url_decode(*text, out.id)) {
            sink.add(*n, r.key("id"),
                     "must be 8 base64url characters (6 bytes), got " + config_detail::quoted(*text));
            ok = false;
        } else {
            out.id_text = *text;
        }
    } else {
        ok = false;
    }
    if (const auto* n = r.required("secret")) {
        // The value is never echoed: an error message may end up in a log.
        const auto* text = n->as_string();
        auto decoded = text != nullptr ? crypto::base64url_decode(text->get()) : std::nullopt;
        if (text == nullptr) {
            config_detail::get_string(sink, *n, r.key("secret"));  // records "expected a string"
            ok = false;
        } else if (!decoded) {
            sink.add(*n, r.key("secret"), "is not unpadded base64url (A-Z a-z 0-9 - _)");
            ok = false;
        } else if (decoded->size() < 32) {
            sink.add(*n, r.key("secret"),
                     "is " + std::to_string(decoded->size()) + " bytes; at least 32 are needed (anteroom keygen)");
            ok = false;
        }
        if (decoded) {
            out.secret.bytes = std::move(*decoded);
        }
    } else {
        ok = false;
    }
    if (const auto* n = r.optional("created")) {
        const auto text = config_detail::get_string(sink, *n, r.key("created"));
        if (!text) {
            ok = false;
        } else if (!parse_rfc3339(*text)) {
            sink.add(*n, r.key("created"),
                     "must be an RFC 3339 time like \"2026-11-29T08:00:00Z\", got " + config_detail::quoted(*text));
            ok = false;
        }
    }
    r.finish();
    return ok;
}

std::string joined(std::vector<config_error> errors) {
    std::string out;
    for (const auto& e : errors) {
        out += (out.empty() ? "" : "\n") + e.text();
    }
    return out;
}

}  // namespace

const signing_key* key_ring::find(const key_id& id) const {
    for (const auto& k : keys) {
        if (k.id == id) {
            return &k;
        }
    }
    return nullptr;
}

std::shared_ptr<const key_ring> load_keyfile(const std::string& path, std::string& err, std::string* warning) {
    wiped_text text;
    mode_t mode = 0;
    if (!read_secret_file(path, text, mode, err)) {
        return nullptr;
    }
    if (warning != nullptr) {
        warning->clear();
        if ((mode & (S_IRGRP | S_IROTH)) != 0) {
            const bool group = (mode & S_IRGRP) != 0;
            const bool others = (mode & S_IROTH) != 0;
            *warning = path + ": key file is readable by " +
                       (group && others ? "group and others" : group ? "group" : "others") +
                       " (mode " + mode_text(mode) + "); run chmod 600 " + path;
        }
    }

    error_sink sink(path);
#if TOML_EXCEPTIONS
    toml::table doc;
    try {
        doc = toml::parse(text.text, std::string_view{path});
    } catch (const toml::parse_error& e) {
        err = config_error{path, e.source().begin.line, "", "invalid TOML: " + std::string(e.description())}.text();
        return nullptr;
    }
#else
    const toml::parse_result parsed = toml::parse(text.text, std::string_view{path});
    if (!parsed) {
        const auto& e = parsed.error();
        err = config_error{path, e.source().begin.line, "", "invalid TOML: " + std::string(e.description())}.text();
        return nullptr;
    }
    const toml::table& doc = parsed.table();
#endif

    table_reader root(sink, doc, "");
    std::vector<parsed_key> parsed_keys;
    bool all_keys_read = false;
    if (const auto* n = root.required("key")) {
        if (const auto* arr = config_detail::get_array(sink, *n, "key")) {
            if (arr->empty()) {
                sink.add(*n, "key", "no keys; run anteroom keygen");
            }
            for (std::size_t i = 0; i < arr->size(); ++i) {
                const auto& el = *arr->get(i);
                const auto* t = config_detail::get_table(sink, el, "key[" + std::to_string(i) + "]");
                parsed_key k;
                if (t != nullptr && read_key(sink, *t, i, k)) {
                    parsed_keys.push_back(std::move(k));
                }
            }
            all_keys_read = !arr->empty() && parsed_keys.size() == arr->size();
        }
    }
    for (std::size_t i = 0; i < parsed_keys.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j) {
            if (parsed_keys[i].id == parsed_keys[j].id) {
                sink.add(parsed_keys[i].line, "key[" + std::to_string(i) + "].id",
                         "duplicate key id " + config_detail::quoted(parsed_keys[i].id_text) + " (first on line " +
                             std::to_string(parsed_keys[j].line) + ")");
            }
        }
    }
    std::size_t active = 0;
    if (const auto* n = root.required("active")) {
        if (const auto v = config_detail::get_string(sink, *n, "active")) {
            const auto it = std::find_if(parsed_keys.begin(), parsed_keys.end(),
                                         [&](const parsed_key& k) { return k.id_text == *v; });
            if (it != parsed_keys.end()) {
                active = static_cast<std::size_t>(it - parsed_keys.begin());
            } else if (all_keys_read) {
                // Only when every key was read: an id with a typo would otherwise be reported twice.
                sink.add(*n, "active", "names no [[key]] in this file: " + config_detail::quoted(*v));
            }
        }
    }
    root.finish();
    if (!sink.empty()) {
        err = joined(sink.take());
        return nullptr;
    }

    auto ring = std::make_shared<key_ring>();
    ring->keys.reserve(parsed_keys.size());
    for (auto& k : parsed_keys) {
        ring->keys.push_back(signing_key{k.id, std::move(k.id_text), crypto::hmac_key(k.secret.bytes)});
    }
    ring->active = active;
    return ring;
}

std::shared_ptr<const key_ring> make_ephemeral_key_ring() {
    std::array<std::uint8_t, 32> secret{};
    key_id id{};
    if (!crypto::random_bytes(secret) || !crypto::random_bytes(id)) {
        throw std::runtime_error("no randomness available from OpenSSL");  // startup only
    }
    auto ring = std::make_shared<key_ring>();
    ring->keys.push_back(signing_key{id, crypto::base64url_encode(id), crypto::hmac_key(secret)});
    OPENSSL_cleanse(secret.data(), secret.size());
    return ring;
}

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

std::optional<std::string> read_token_file(const std::string& path, std::string_view what, std::string& err) {
    std::ifstream f(path);
    if (!f) {
        err = path + ": cannot read " + std::string(what) + " file";
        return std::nullopt;
    }
    std::string token;
    std::getline(f, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) {
        token.pop_back();
    }
    if (token.size() < 16) {
        err = path + ": " + std::string(what) + " must be at least 16 characters";
        return std::nullopt;
    }
    return token;
}

std::optional<std::vector<named_token>> read_named_tokens(const std::string& path, std::string_view what,
                                                          std::string& err) {
    std::ifstream f(path);
    if (!f) {
        err = path + ": cannot read " + std::string(what) + " file";
        return std::nullopt;
    }
    std::vector<named_token> out;
    std::string line;
    for (std::size_t n = 1; std::getline(f, line); ++n) {
        const auto at = [&](const std::string& what_is_wrong) {
            err = path + ":" + std::to_string(n) + ": " + what_is_wrong;
            return std::nullopt;
        };
        std::vector<std::string> fields;
        std::size_t i = 0;
        while (i < line.size()) {
            while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) {
                ++i;
            }
            const std::size_t start = i;
            while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
                ++i;
            }
            if (i > start) {
                fields.push_back(line.substr(start, i - start));
            }
        }
        if (fields.empty() || fields[0].front() == '#') {
            continue;
        }
        if (fields.size() > 2) {
            return at("expected `TOKEN` or `NAME TOKEN`, got " + std::to_string(fields.size()) + " fields");
        }
        named_token t;
        t.name = fields.size() == 2 ? fields[0] : "admin";
        t.token = fields.back();
        const bool name_ok = !t.name.empty() && t.name.size() <= 32 &&
                             std::all_of(t.name.begin(), t.name.end(), [](char c) {
                                 return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
                             });
        if (!name_ok) {
            return at("token name must be 1 to 32 characters from a-z 0-9 . _ -");
        }
        if (t.token.size() < 16) {
            return at(std::string(what) + " must be at least 16 characters");
        }
        for (const auto& o : out) {
            if (o.name == t.name) {
                return at("token name \"" + t.name + "\" appears twice");
            }
            if (o.token == t.token) {
                return at("the same token appears twice (names " + o.name + " and " + t.name + ")");
            }
        }
        if (out.size() == max_admin_tokens) {
            return at("more than " + std::to_string(max_admin_tokens) + " tokens");
        }
        out.push_back(std::move(t));
    }
    if (out.empty()) {
        err = path + ": " + std::string(what) + " file holds no token";
        return std::nullopt;
    }
    return out;
}

}  // namespace anteroom
