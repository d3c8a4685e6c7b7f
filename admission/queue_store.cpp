// The embedded queue_store: a map of rooms, each a room_controller behind its own mutex. The
// request path takes the map's shared lock only to find the room, then the room's mutex for
// O(1) work. configure() is the only writer of the map.

#include "admission/queue_store.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <shared_mutex>

#include "admission/room_controller.hpp"
#include "admission/snapshot.hpp"
#include "common/timefmt.hpp"

namespace anteroom::admission {

std::string_view to_string(room_state s) {
    switch (s) {
        case room_state::prequeue:
            return "prequeue";
        case room_state::queued:
            return "queued";
        case room_state::admitted:
            return "admitted";
        case room_state::paused:
            return "paused";
        case room_state::sold_out:
            return "sold_out";
        case room_state::closed:
            return "closed";
    }
    return "closed";
}

namespace {

class embedded_store final : public queue_store {
public:
    embedded_store(std::string path, std::string previous) : path_(std::move(path)), previous_(std::move(previous)) {}

    void restore(std::vector<std::unique_ptr<room_controller>> rooms) {
        std::unique_lock lock(map_mu_);
        for (auto& r : rooms) {
            auto slot = std::make_shared<room_slot>();
            const std::string id = r->id();
            slot->ctl = std::move(r);
            rooms_[id] = std::move(slot);
        }
    }

    void configure(const std::vector<room_config>& rooms, unix_ms now) override {
        std::unique_lock lock(map_mu_);
        std::map<std::string, std::shared_ptr<room_slot>, std::less<>> next;
        for (const auto& cfg : rooms) {
            const auto it = rooms_.find(cfg.id);
            if (it != rooms_.end()) {
                std::lock_guard room_lock(it->second->mu);
                room_controller& ctl = *it->second->ctl;
                if (ctl.needs_resume()) {
                    ctl.resume(now);
                }
                ctl.reconfigure(cfg, now);
                next[cfg.id] = it->second;
                continue;
            }
            auto slot = std::make_shared<room_slot>();
            slot->ctl = std::make_unique<room_controller>(cfg, fresh_identity(cfg.id, now), now);
            next[cfg.id] = std::move(slot);
        }
        for (const auto& [id, slot] : rooms_) {
            if (!next.contains(id)) {
                std::lock_guard room_lock(slot->mu);
                last_epoch_[id] = slot->ctl->epoch();
            }
        }
        rooms_ = std::move(next);
    }

    std::optional<ticket> issue_ticket(std::string_view room, std::uint64_t binding, unix_ms now) override {
        return with_room(room, [&](room_controller& c) { return c.issue(binding, now); })
            .value_or(std::nullopt);
    }

    wait_info poll(std::string_view room, const ticket& t, unix_ms now) override {
        auto w = with_room(room, [&](room_controller& c) { return c.poll(t, now); });
        if (w) {
            return *w;
        }
        wait_info gone;
        gone.state = room_state::closed;
        gone.revoked = true;
        gone.updated_at = now;
        return gone;
    }

    void mark_absent(std::string_view room, const ticket& t, unix_ms now) override {
        with_room(room, [&](room_controller& c) {
            c.mark_absent(t, now);
            return true;
        });
    }

    pass_status touch_pass(std::string_view room, const pass& p, unix_ms now) override {
        return with_room(room, [&](room_controller& c) { return c.touch(p, now); })
            .value_or(pass_status::unknown_room);
    }

    void end_pass(std::string_view room, std::uint64_t pass_id, unix_ms now) override {
        with_room(room, [&](room_controller& c) {
            c.end(pass_id, now);
            return true;
        });
    }

    bypass_result admit_bypass(std::string_view room, std::uint64_t binding, unix_ms now) override {
        return bypass_result{with_room(room, [&](room_controller& c) { return c.bypass(binding, now); })
                                 .value_or(std::nullopt)};
    }

    void tick(unix_ms now) override {
        for (const auto& slot : slots()) {
            std::lock_guard lock(slot->mu);
            slot->ctl->tick(now);
        }
    }

    void set_capacity(std::string_view room, std::optional<std::int64_t> available, std::optional<unix_ms> next_at,
                      unix_ms now) override {
        with_room(room, [&](room_controller& c) {
            c.set_capacity(available, next_at, now);
            return true;
        });
    }

    std::optional<room_settings> settings(std::string_view room) const override {
        return with_room(room, [](room_controller& c) { return c.settings(); });
    }

    bool update_settings(std::string_view room, const settings_patch& patch, unix_ms now) override {
        return with_room(room, [&](room_controller& c) {
                   c.update(patch, now);
                   return true;
               })
            .value_or(false);
    }

    std::vector<room_figures> figures(unix_ms now) const override {
        std::vector<room_figures> out;
        for (const auto& slot : slots()) {
            std::lock_guard lock(slot->mu);
            out.push_back(slot->ctl->figures(now));
        }
        return out;
    }

    std::optional<fairness_info> fairness(std::string_view room, unix_ms now) const override {
        return with_room(room, [&](room_controller& c) { return c.fairness(now); });
    }

    bool snapshot(std::string& err) override {
        std::lock_guard lock(snapshot_mu_);
        std::vector<std::string> records;
        unix_ms written_at = 0;
        for (const auto& slot : slots()) {
            std::lock_guard room_lock(slot->mu);
            records.push_back(encode_room(*slot->ctl));
            written_at = std::max(written_at, slot->ctl->last_now());
        }
        // The file is written without holding any room lock.
        return write_file_durably(path_, frame_snapshot(records, written_at), err, previous_);
    }

private:
    struct room_slot {
        std::mutex mu;
        std::unique_ptr<room_controller> ctl;
    };

    template <class F>
    auto with_room(std::string_view id, F&& f) const -> std::optional<decltype(f(std::declval<room_controller&>()))> {
        std::shared_ptr<room_slot> slot;
        {
            std::shared_lock lock(map_mu_);
            const auto it = rooms_.find(id);
            if (it == rooms_.end()) {
                return std::nullopt;
            }
            slot = it->second;
        }
        std::lock_guard lock(slot->mu);
        return f(*slot->ctl);
    }

    std::vector<std::shared_ptr<room_slot>> slots() const {
        std::shared_lock lock(map_mu_);
        std::vector<std::shared_ptr<room_slot>> out;
        out.reserve(rooms_.size());
        for (const auto& [id, slot] : rooms_) {
            out.push_back(slot);
        }
        return out;
    }

    // A room created fresh gets a new random identity; its epoch differs from the one the room
    // had before it was dropped, so old tickets are revoked.
    room_identity fresh_identity(const std::string& id, unix_ms now) {
        room_identity ident;
        const auto old = last_epoch_.find(id);
        do {
            if (!make_room_identity(now, ident)) {
                // No system randomness: still unique per process, but not secret.
                std::random_device rd;
                ident.epoch = rd() | 1;
                for (auto& b : ident.seed) {
                    b = static_cast<std::uint8_t>(rd());
                }
                for (auto& b : ident.pass_secret) {
                    b = static_cast<std::uint8_t>(rd());
                }
                ident.created_at = now;
            }
        } while (old != last_epoch_.end() && old->second == ident.epoch);
        return ident;
    }

    std::string path_;
    std::string previous_;  // the last good snapshot before path_, kept by every write
    mutable std::shared_mutex map_mu_;
    std::map<std::string, std::shared_ptr<room_slot>, std::less<>> rooms_;
    std::map<std::string, std::uint32_t, std::less<>> last_epoch_;  // of dropped rooms (configure only)
    std::mutex snapshot_mu_;
};

}  // namespace

std::string snapshot_file(const std::string& state_dir) {
    return state_dir + "/admission.snapshot";
}

std::string previous_snapshot_file(const std::string& state_dir) {
    return snapshot_file(state_dir) + ".prev";
}

namespace {

// One snapshot file read and decoded: absent, usable (rooms), or damaged (why).
struct loaded_snapshot {
    bool exists = false;
    bool usable = false;
    unix_ms written_at = 0;
    std::vector<std::unique_ptr<room_controller>> rooms;
    std::string why;
};

loaded_snapshot load_snapshot_file(const std::string& path) {
    loaded_snapshot out;
    std::string text;
    if (!read_whole_file(path, text, out.exists, out.why)) {
        out.exists = true;  // there, but unreadable: never taken for "no snapshot"
        return out;
    }
    if (!out.exists) {
        return out;
    }
    const auto parsed = parse_snapshot(text, out.why);
    if (!parsed) {
        return out;
    }
    for (const auto record : parsed->rooms) {
        auto room = decode_room(record, out.why);
        if (!room) {
            out.rooms.clear();
            return out;
        }
        out.rooms.push_back(std::move(room));
    }
    out.usable = true;
    out.written_at = parsed->written_at;
    return out;
}

}  // namespace

std::unique_ptr<queue_store> make_embedded_store(const std::string& state_dir, std::string& err) {
    const std::string path = snapshot_file(state_dir);
    const std::string previous = previous_snapshot_file(state_dir);
    auto store = std::make_unique<embedded_store>(path, previous);
    auto latest = load_snapshot_file(path);
    if (latest.usable) {
        store->restore(std::move(latest.rooms));
        return store;
    }
    auto older = load_snapshot_file(previous);
    if (!latest.exists && !older.exists) {
        return store;  // a first start
    }
    const std::string what = latest.exists ? path + ": damaged snapshot (" + latest.why + ")"
                                           : path + ": missing (a crash while it was being replaced?)";
    if (older.usable) {
        if (latest.exists) {
            const std::string aside = path + ".corrupt";
            if (std::rename(path.c_str(), aside.c_str()) != 0) {
                err = what + "; it cannot be moved aside to " + aside + ": " + std::strerror(errno);
                return nullptr;
            }
        }
        store->restore(std::move(older.rooms));
        err = what + (latest.exists ? ", kept as " + path + ".corrupt" : std::string()) +
              "; restored the previous snapshot " + previous + " of " + format_rfc3339(older.written_at) +
              " (visitors who came or moved on after it get their places back on their next poll)";
        return store;
    }
    // Starting with empty rooms would silently drop every waiting visitor's place: an operator
    // has to decide that.
    err = what + "; the previous snapshot " + previous + " is " +
          (older.exists ? "damaged too (" + older.why + ")" : std::string("missing")) +
          ". Refusing to start with empty rooms: every waiting visitor would lose their place. To start "
          "empty anyway, move " + path + " away.";
    return nullptr;
}

}  // namespace anteroom::admission
