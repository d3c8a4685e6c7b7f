#include "admission/snapshot.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/crypto.hpp"

namespace anteroom::admission {
namespace {

constexpr std::string_view magic = "ANTRSNAP";
constexpr std::uint64_t min_lease = 1024;
constexpr std::uint64_t max_lease = std::uint64_t{1} << 22;  // 32 MiB of ghost places at most

std::string errno_text(const std::string& what, const std::string& path) {
    return what + " " + path + ": " + std::strerror(errno);
}

}  // namespace

// ---- byte_writer / byte_reader ---------------------------------------------------------------

template <class T>
void byte_writer::le(T v) {
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        out_.push_back(static_cast<char>(v >> (8 * i)));
    }
}

void byte_writer::u32(std::uint32_t v) { le(v); }
void byte_writer::u64(std::uint64_t v) { le(v); }

void byte_writer::str(std::string_view v) {
    u32(static_cast<std::uint32_t>(v.size()));
    out_.append(v);
}

void byte_writer::opt_i64(const std::optional<std::int64_t>& v) {
    u8(v ? 1 : 0);
    i64(v.value_or(0));
}

bool byte_reader::take(std::size_t n, const char*& p) {
    if (!ok_ || in_.size() < n) {
        ok_ = false;
        return false;
    }
    p = in_.data();
    in_.remove_prefix(n);
    return true;
}

template <class T>
bool byte_reader::le(T& v) {
    const char* p = nullptr;
    if (!take(sizeof(T), p)) {
        return false;
    }
    v = 0;
    for (std::size_t i = sizeof(T); i-- > 0;) {
        v = static_cast<T>((v << 8) | static_cast<std::uint8_t>(p[i]));
    }
    return true;
}

bool byte_reader::u8(std::uint8_t& v) { return le(v); }
bool byte_reader::u32(std::uint32_t& v) { return le(v); }
bool byte_reader::u64(std::uint64_t& v) { return le(v); }

bool byte_reader::i64(std::int64_t& v) {
    std::uint64_t u = 0;
    const bool r = u64(u);
    v = static_cast<std::int64_t>(u);
    return r;
}

bool byte_reader::bytes(std::span<std::uint8_t> v) {
    const char* p = nullptr;
    if (!take(v.size(), p)) {
        return false;
    }
    std::memcpy(v.data(), p, v.size());
    return true;
}

bool byte_reader::str(std::string& v, std::size_t max_len) {
    std::uint32_t n = 0;
    const char* p = nullptr;
    if (!u32(n) || n > max_len || !take(n, p)) {
        ok_ = false;
        return false;
    }
    v.assign(p, n);
    return true;
}

bool byte_reader::opt_i64(std::optional<std::int64_t>& v) {
    std::uint8_t has = 0;
    std::int64_t value = 0;
    if (!u8(has) || !i64(value) || has > 1) {
        ok_ = false;
        return false;
    }
    v = has ? std::optional<std::int64_t>(value) : std::nullopt;
    return true;
}

bool byte_reader::count(std::uint64_t& n, std::size_t record_size) {
    if (!u64(n) || (record_size > 0 && n > in_.size() / record_size)) {
        ok_ = false;
        return false;
    }
    return true;
}

// ---- room records ----------------------------------------------------------------------------

struct room_codec {
    static void put_settings(byte_writer& w, const room_settings& s) {
        w.u8(static_cast<std::uint8_t>(s.mode));
        w.u32(s.new_users_per_minute);
        w.u32(s.max_active_users);
    }
    static bool get_settings(byte_reader& r, room_settings& s) {
        std::uint8_t mode = 0;
        r.u8(mode);
        r.u32(s.new_users_per_minute);
        r.u32(s.max_active_users);
        s.mode = static_cast<room_mode>(mode);
        return r.ok() && mode <= static_cast<std::uint8_t>(room_mode::paused) && s.new_users_per_minute > 0 &&
               s.max_active_users > 0;
    }

    template <class IO>
    static void pass_fields(IO& io, std::uint64_t& id, room_controller::pass_entry& e) {
        io.u64(id);
        io.i64(e.admitted_at);
        io.i64(e.expires_at);
        io.i64(e.last_seen);
        io.u64(e.binding);
        io.u64(e.seq);
    }

    // The counters and clocks, read and written by the same code so the two cannot drift apart.
    template <class IO>
    static void live_fields(IO& io, room_controller& c) {
        for (std::uint64_t* v : {&c.next_, &c.front_, &c.waiting_, &c.pending_count_, &c.prequeue_count_,
                                 &c.admitted_total_, &c.bypass_total_, &c.skipped_total_, &c.unclaimed_total_,
                                 &c.ended_idle_, &c.ended_max_, &c.ended_session_end_, &c.bypass_counter_, &c.rng_}) {
            io.u64(*v);
        }
        for (std::int64_t* v : {&c.tokens_, &c.refilled_at_, &c.swept_at_, &c.measured_since_, &c.slowdown_at_,
                                &c.last_now_}) {
            io.i64(*v);
        }
        for (auto& b : c.outflow_) {
            io.i64(b.no);
            io.u32(b.admitted);
            io.u32(b.resolved);
            io.u32(b.busy_ms);
        }
        io.opt_i64(c.available_);
        io.opt_i64(c.next_capacity_at_);
        std::uint8_t paused = c.slowdown_paused_ ? 1 : 0;
        io.u8(paused);
        c.slowdown_paused_ = paused != 0;
    }

    static void encode(room_controller& c, byte_writer& w) {
        const room_config& cfg = c.cfg_;
        w.str(cfg.id);
        put_settings(w, {cfg.mode, cfg.new_users_per_minute, cfg.max_active_users});
        w.i64(cfg.session_idle_timeout.count());
        w.i64(cfg.session_max_duration.count());
        w.i64(cfg.abandon_after.count());
        w.i64(cfg.ticket_max_age.count());
        w.opt_i64(cfg.event.prequeue_opens);
        w.opt_i64(cfg.event.starts);
        put_settings(w, c.settings_);
        put_settings(w, c.baseline_);

        w.u32(c.ident_.epoch);
        w.bytes(c.ident_.seed);
        w.bytes(c.ident_.pass_secret);
        w.i64(c.ident_.created_at);

        // The lease: enough numbers for a few snapshot intervals at the recent issuing rate.
        const std::uint64_t recent = c.issued_ - std::min(c.issued_, c.saved_issued_);
        w.u64(c.issued_);
        w.u64(c.issued_ + std::clamp(4 * recent, min_lease, max_lease));
        c.saved_issued_ = c.issued_;

        w.u8(c.shuffled_ ? 1 : 0);
        w.u64(c.rank_of_.size());
        for (const std::uint32_t q : c.rank_of_) {
            w.u32(q);
        }
        w.u64(c.ring_.begin());
        w.u64(c.ring_.end() - c.ring_.begin());
        // Under the room's lock: a memory copy per block where the byte order allows it.
        c.ring_.for_each_run([&w](const place* run, std::uint64_t n) {
            if constexpr (std::endian::native == std::endian::little) {
                w.raw(run, n * sizeof(place));
            } else {
                for (std::uint64_t i = 0; i < n; ++i) {
                    w.u32(run[i].seen_state);
                    w.u32(run[i].promise);
                }
            }
        });
        w.u64(c.pending_.size());
        for (const auto& e : c.pending_) {
            w.u64(e.q);
            w.i64(e.deadline);
        }
        w.u64(c.passes_.size());
        for (const auto& [key, entry] : c.passes_) {
            std::uint64_t id = key;
            room_controller::pass_entry e = entry;
            pass_fields(w, id, e);
        }
        live_fields(w, c);
    }

    // The counters the controller keeps incrementally must agree with the places, or a later
    // decrement would wrap; every pending place must be in the claim list, or it never expires.
    static bool counts_match(const room_controller& c) {
        std::uint64_t waiting = 0, pending = 0, listed = 0;
        for (std::uint64_t q = c.front_; q < c.ring_.end(); ++q) {
            const place_state st = c.ring_.at(q).state();
            waiting += st == place_state::waiting ? 1 : 0;
            pending += st == place_state::pending ? 1 : 0;
        }
        for (const auto& e : c.pending_) {
            // Entries below the ring's start were claimed and their block freed (expire drops them).
            listed += e.q >= c.ring_.begin() && e.q < c.ring_.end() && c.ring_.at(e.q).state() == place_state::pending ? 1 : 0;
        }
        bool below_front_resolved = true;
        for (std::uint64_t q = c.ring_.begin(); q < c.front_; ++q) {
            below_front_resolved = below_front_resolved && !c.ring_.at(q).unresolved();
        }
        return waiting == c.waiting_ && pending == c.pending_count_ && listed == pending && below_front_resolved;
    }

    // Times and durations inside a range where the controller's arithmetic cannot overflow.
    static bool sane(std::int64_t t) { return t >= 0 && t < (std::int64_t{1} << 50); }
    static bool sane(const std::optional<std::int64_t>& t) { return !t || sane(*t); }
    static bool times_sane(const room_controller& c) {
        const room_config& g = c.cfg_;
        bool ok = sane(g.event.prequeue_opens) && sane(g.event.starts) && sane(c.next_capacity_at_);
        for (const std::int64_t t : {g.session_idle_timeout.count(), g.session_max_duration.count(),
                                     g.abandon_after.count(), g.ticket_max_age.count(), c.ident_.created_at,
                                     c.refilled_at_, c.swept_at_, c.measured_since_, c.slowdown_at_, c.last_now_}) {
            ok = ok && sane(t);
        }
        for (const auto& e : c.pending_) {
            ok = ok && sane(e.deadline);
        }
        for (const auto& [id, e] : c.passes_) {
            ok = ok && sane(e.admitted_at) && sane(e.expires_at) && sane(e.last_seen);
        }
        return ok;
    }

    static std::unique_ptr<room_controller> decode(byte_reader& r, std::string& err) {
        room_config cfg;
        std::int64_t idle = 0, max_dur = 0, abandon = 0, max_age = 0;
        room_settings cfg_settings;
        r.str(cfg.id, 64);
        get_settings(r, cfg_settings);
        r.i64(idle);
        r.i64(max_dur);
        r.i64(abandon);
        r.i64(max_age);
        r.opt_i64(cfg.event.prequeue_opens);
        r.opt_i64(cfg.event.starts);
        room_settings settings, baseline;
        const bool settings_ok = get_settings(r, settings) && get_settings(r, baseline);
        cfg.mode = cfg_settings.mode;
        cfg.new_users_per_minute = cfg_settings.new_users_per_minute;
        cfg.max_active_users = cfg_settings.max_active_users;
        cfg.session_idle_timeout = duration_ms(idle);
        cfg.session_max_duration = duration_ms(max_dur);
        cfg.abandon_after = duration_ms(abandon);
        cfg.ticket_max_age = duration_ms(max_age);

        room_identity ident;
        r.u32(ident.epoch);
        r.bytes(ident.seed);
        r.bytes(ident.pass_secret);
        r.i64(ident.created_at);
        if (!r.ok() || !settings_ok || ident.epoch == 0) {
            err = "bad room header";
            return nullptr;
        }
        auto c = std::make_unique<room_controller>(cfg, ident, ident.created_at);
        c->settings_ = settings;
        c->baseline_ = baseline;

        std::uint64_t lease_end = 0, rank_count = 0, ring_begin = 0, ring_size = 0;
        std::uint8_t shuffled = 0;
        r.u64(c->issued_);
        r.u64(lease_end);
        r.u8(shuffled);
        c->shuffled_ = shuffled != 0;
        if (r.count(rank_count, 4)) {
            c->rank_of_.resize(rank_count);
            for (auto& q : c->rank_of_) {
                r.u32(q);
            }
        }
        r.u64(ring_begin);
        if (!r.count(ring_size, 8) || ring_begin == 0 || (ring_begin - 1) % place_ring::block_places != 0 ||
            ring_begin + ring_size != c->issued_ + 1 || lease_end < c->issued_ ||
            lease_end - c->issued_ > max_lease) {
            err = "bad place ring";
            return nullptr;
        }
        c->ring_.reset(ring_begin);
        for (std::uint64_t i = 0; i < ring_size; ++i) {
            place p{};
            r.u32(p.seen_state);
            r.u32(p.promise);
            if (static_cast<std::uint8_t>(p.state()) > static_cast<std::uint8_t>(place_state::skipped)) {
                err = "bad place state";
                return nullptr;
            }
            c->ring_.push_back(p);
        }
        std::uint64_t n = 0;
        if (r.count(n, 16)) {
            c->pending_.resize(n);
            for (auto& e : c->pending_) {
                r.u64(e.q);
                r.i64(e.deadline);
                if (e.q < ring_begin || e.q >= c->ring_.end()) {
                    err = "bad pending place";
                    return nullptr;
                }
            }
        }
        if (r.count(n, 48)) {
            c->passes_.reserve(n);
            for (std::uint64_t i = 0; i < n; ++i) {
                std::uint64_t id = 0;
                room_controller::pass_entry e;
                pass_fields(r, id, e);
                c->passes_.emplace(id, e);
            }
        }
        live_fields(r, *c);
        const bool consistent = c->front_ >= ring_begin && c->front_ <= c->ring_.end() && c->next_ >= 1 &&
                                c->next_ <= c->ring_.end() && c->prequeue_count_ <= c->issued_ &&
                                (c->rank_of_.empty() || c->rank_of_.size() == c->prequeue_count_) &&
                                std::all_of(c->rank_of_.begin(), c->rank_of_.end(), [&](std::uint32_t q) {
                                    return q >= 1 && q <= c->prequeue_count_;
                                });
        if (!r.ok() || !r.at_end() || !consistent || cfg.id.empty() || !counts_match(*c) ||
            !times_sane(*c)) {
            err = r.ok() && !r.at_end() ? "trailing bytes in room record" : "bad room record";
            return nullptr;
        }
        c->tokens_ = std::clamp<std::int64_t>(c->tokens_, 0, c->bucket_capacity());
        // Numbers handed out after this snapshot may exist: they become ghosts.
        place ghost{};
        ghost.set_state(place_state::ghost);
        ghost.set_seen(c->secs(c->last_now_));
        while (c->issued_ < lease_end) {
            c->ring_.push_back(ghost);
            ++c->issued_;
        }
        c->saved_issued_ = c->issued_;
        c->count_ghosts();
        c->restored_snapshot_at_ = std::max<unix_ms>(1, c->last_now_);
        c->needs_resume_ = true;
        return c;
    }
};

std::string encode_room(room_controller& room) {
    byte_writer w;
    room_codec::encode(room, w);
    return std::move(w.buffer());
}

std::unique_ptr<room_controller> decode_room(std::string_view record, std::string& err) {
    byte_reader r(record);
    return room_codec::decode(r, err);
}

// ---- the file --------------------------------------------------------------------------------

std::string frame_snapshot(const std::vector<std::string>& room_records, unix_ms written_at) {
    byte_writer w;
    w.bytes(std::span(reinterpret_cast<const std::uint8_t*>(magic.data()), magic.size()));
    w.u32(snapshot_version);
    w.i64(written_at);
    w.u32(static_cast<std::uint32_t>(room_records.size()));
    for (const auto& rec : room_records) {
        w.u64(rec.size());
        w.buffer().append(rec);
    }
    const std::string& body = w.buffer();
    const auto sum = crypto::sha256(std::string_view(body));
    w.bytes(sum);
    return std::move(w.buffer());
}

std::optional<parsed_snapshot> parse_snapshot(std::string_view file, std::string& err) {
    constexpr std::size_t sum_size = 32;
    if (file.size() < magic.size() + 16 + sum_size || !file.starts_with(magic)) {
        err = "not a snapshot file";
        return std::nullopt;
    }
    const std::string_view body = file.substr(0, file.size() - sum_size);
    const auto sum = crypto::sha256(body);
    const std::string_view stored = file.substr(file.size() - sum_size);
    if (std::memcmp(sum.data(), stored.data(), sum_size) != 0) {
        err = "checksum mismatch";
        return std::nullopt;
    }
    byte_reader r(body.substr(magic.size()));
    std::uint32_t version = 0, rooms = 0;
    parsed_snapshot out;
    r.u32(version);
    r.i64(out.written_at);
    r.u32(rooms);
    if (!r.ok() || version == 0 || version > snapshot_version) {
        err = "unsupported snapshot version " + std::to_string(version);
        return std::nullopt;
    }
    std::size_t offset = magic.size() + 16;
    for (std::uint32_t i = 0; i < rooms; ++i) {
        std::uint64_t len = 0;
        if (!r.count(len, 1)) {
            err = "truncated room record";
            return std::nullopt;
        }
        offset += 8;
        out.rooms.push_back(body.substr(offset, len));
        offset += len;
        r = byte_reader(body.substr(offset));
    }
    if (offset != body.size()) {
        err = "trailing bytes";
        return std::nullopt;
    }
    return out;
}

bool write_file_durably(const std::string& path, std::string_view data, std::string& err,
                        const std::string& keep_previous) {
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        err = errno_text("cannot create", tmp);
        return false;
    }
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            err = errno_text("cannot write", tmp);
            ::close(fd);
            ::unlink(tmp.c_str());
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        err = errno_text("cannot fsync", tmp);
        ::close(fd);
        ::unlink(tmp.c_str());
        return false;
    }
    ::close(fd);
    if (!keep_previous.empty() && ::rename(path.c_str(), keep_previous.c_str()) != 0 && errno != ENOENT) {
        err = errno_text("cannot keep the previous version as", keep_previous);
        ::unlink(tmp.c_str());
        return false;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        err = errno_text("cannot rename to", path);
        ::unlink(tmp.c_str());
        return false;
    }
    const std::string dir = std::filesystem::path(path).parent_path().string();
    const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || ::fsync(dfd) != 0) {
        err = errno_text("cannot fsync directory of", path);
        if (dfd >= 0) {
            ::close(dfd);
        }
        return false;
    }
    ::close(dfd);
    return true;
}

bool read_whole_file(const std::string& path, std::string& out, bool& exists, std::string& err) {
    exists = false;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return true;
        }
        err = errno_text("cannot open", path);
        return false;
    }
    exists = true;
    out.clear();
    char buf[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            err = errno_text("cannot read", path);
            ::close(fd);
            return false;
        }
        if (n == 0) {
            break;
        }
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return true;
}

}  // namespace anteroom::admission
