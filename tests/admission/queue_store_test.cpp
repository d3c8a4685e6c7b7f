// The embedded queue_store: rooms by id, configure() across reloads, the snapshot file
// (round trip, corruption, the sequence lease after a crash) and concurrent use.

#include "admission/queue_store.hpp"

#include "admission/snapshot.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

namespace anteroom::admission {
namespace {

namespace fs = std::filesystem;

constexpr unix_ms t0 = 1'800'000'000'000;

class queue_store_test : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "anteroom-qs-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::unique_ptr<queue_store> open_store() {
        std::string err;
        auto s = make_embedded_store(dir_, err);
        EXPECT_EQ(err, "");
        return s;
    }
    std::string snapshot_path() const { return dir_ + "/admission.snapshot"; }
    static void snap(queue_store& s) {
        std::string err;
        ASSERT_TRUE(s.snapshot(err)) << err;
    }

    std::string dir_;
};

room_config room(const std::string& id, std::uint32_t npm = 600, std::uint32_t max_active = 100) {
    room_config c;
    c.id = id;
    c.paths = {"/" + id};
    c.new_users_per_minute = npm;
    c.max_active_users = max_active;
    return c;
}

void run(queue_store& s, unix_ms from, unix_ms to) {
    for (unix_ms now = from; now <= to; now += 100) {
        s.tick(now);
    }
}

void expect_same_figures(const room_figures& a, const room_figures& b, std::uint64_t lease) {
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.epoch, b.epoch);
    EXPECT_EQ(a.settings.mode, b.settings.mode);
    EXPECT_EQ(a.settings.new_users_per_minute, b.settings.new_users_per_minute);
    EXPECT_EQ(a.settings.max_active_users, b.settings.max_active_users);
    EXPECT_EQ(a.state, b.state);
    EXPECT_EQ(a.issued + lease, b.issued);
    EXPECT_EQ(a.waiting, b.waiting);
    EXPECT_EQ(a.active, b.active);
    EXPECT_EQ(a.admitted_total, b.admitted_total);
    EXPECT_EQ(a.bypass_total, b.bypass_total);
    EXPECT_EQ(a.skipped_total, b.skipped_total);
    EXPECT_EQ(a.unclaimed_total, b.unclaimed_total);
    EXPECT_EQ(a.ended_idle, b.ended_idle);
    EXPECT_EQ(a.ended_max, b.ended_max);
    EXPECT_EQ(a.ended_session_end, b.ended_session_end);
    EXPECT_DOUBLE_EQ(a.outflow_per_minute, b.outflow_per_minute);
    EXPECT_EQ(a.available, b.available);
    EXPECT_EQ(a.sold_out, b.sold_out);
}

TEST_F(queue_store_test, unknown_rooms_are_answered_without_a_place) {
    auto s = open_store();
    s->configure({room("book")}, t0);
    EXPECT_FALSE(s->issue_ticket("nope", 0, t0).has_value());
    const auto w = s->poll("nope", ticket{"nope", 1, t0, 0, 0, 1}, t0);
    EXPECT_TRUE(w.revoked);
    EXPECT_EQ(w.state, room_state::closed);
    EXPECT_EQ(s->touch_pass("nope", pass{"nope", 1, t0, t0 + 1, 0, 0}, t0), pass_status::unknown_room);
    EXPECT_FALSE(s->admit_bypass("nope", 0, t0).granted.has_value());
    EXPECT_FALSE(s->settings("nope").has_value());
    EXPECT_FALSE(s->update_settings("nope", {}, t0));
    EXPECT_FALSE(s->fairness("nope", t0).has_value());
    ASSERT_EQ(s->figures(t0).size(), 1u);
    EXPECT_EQ(to_string(room_state::sold_out), "sold_out");
}

TEST_F(queue_store_test, configure_keeps_state_and_resets_settings_only_for_a_changed_room) {
    auto s = open_store();
    s->configure({room("book"), room("reg")}, t0);
    const ticket t = *s->issue_ticket("book", 0, t0);
    const auto bypass = s->admit_bypass("book", 0, t0).granted;
    ASSERT_TRUE(bypass);
    ASSERT_TRUE(s->update_settings("book", {room_mode::paused, 7u, std::nullopt}, t0));
    ASSERT_TRUE(s->update_settings("reg", {std::nullopt, 9u, std::nullopt}, t0));
    const auto epoch = s->figures(t0)[0].epoch;

    // Reload: book unchanged, reg changed.
    auto reg = room("reg");
    reg.max_active_users = 5;
    s->configure({room("book"), reg}, t0 + 1000);
    EXPECT_EQ(s->settings("book")->mode, room_mode::paused);
    EXPECT_EQ(s->settings("book")->new_users_per_minute, 7u);
    EXPECT_EQ(s->settings("reg")->new_users_per_minute, 600u);
    EXPECT_EQ(s->settings("reg")->max_active_users, 5u);
    EXPECT_EQ(s->poll("book", t, t0 + 1000).position, 1u);
    EXPECT_EQ(s->touch_pass("book", *bypass, t0 + 1000), pass_status::active);

    // Dropped and created again: a new epoch; old tickets and passes are no good.
    s->configure({reg}, t0 + 2000);
    EXPECT_EQ(s->figures(t0 + 2000).size(), 1u);
    s->configure({room("book"), reg}, t0 + 3000);
    const auto figures = s->figures(t0 + 3000);
    EXPECT_NE(figures[0].epoch, epoch);
    EXPECT_EQ(figures[0].issued, 0u);
    EXPECT_TRUE(s->poll("book", t, t0 + 3000).revoked);
    EXPECT_EQ(s->touch_pass("book", *bypass, t0 + 3000), pass_status::ended);
    EXPECT_EQ(s->issue_ticket("book", 0, t0 + 3000)->epoch, figures[0].epoch);
}

TEST_F(queue_store_test, snapshot_round_trip_keeps_queues_passes_settings_and_figures) {
    auto cfg_book = room("book", 600, 5);
    auto cfg_reg = room("reg", 60, 100);
    cfg_reg.event.prequeue_opens = t0;
    cfg_reg.event.starts = t0 + 30'000;
    std::vector<ticket> book, reg;
    std::optional<pass> claimed, bypass;
    const unix_ms now = t0 + 40'000;
    std::vector<wait_info> before;
    std::vector<room_figures> figures_before;
    std::optional<fairness_info> fair_before;
    {
        auto s = open_store();
        s->configure({cfg_book, cfg_reg}, t0);
        for (int i = 0; i < 20; ++i) {
            book.push_back(*s->issue_ticket("book", static_cast<std::uint64_t>(i), t0));
            reg.push_back(*s->issue_ticket("reg", static_cast<std::uint64_t>(i), t0 + i));
        }
        bypass = s->admit_bypass("book", 99, t0).granted;
        s->set_capacity("book", 50, t0 + 3'600'000, t0);
        ASSERT_TRUE(s->update_settings("reg", {std::nullopt, 120u, std::nullopt}, t0));
        run(*s, t0, t0 + 35'000);
        claimed = s->poll("book", book[0], t0 + 35'000).admitted_pass;
        ASSERT_TRUE(claimed);
        s->end_pass("book", s->poll("book", book[1], t0 + 35'000).admitted_pass->pass_id, t0 + 35'000);
        run(*s, t0 + 35'100, now);
        snap(*s);
        figures_before = s->figures(now);
        fair_before = s->fairness("reg", now);
        for (const auto& t : book) {
            before.push_back(s->poll("book", t, now));
        }
        for (const auto& t : reg) {
            before.push_back(s->poll("reg", t, now));
        }
        figures_before = s->figures(now);  // after the polls claimed what was pending
        snap(*s);
    }
    auto s = open_store();
    ASSERT_EQ(s->figures(now).size(), 2u) << "restored before configure";
    s->configure({cfg_book, cfg_reg}, now);
    const auto figures_after = s->figures(now);
    ASSERT_EQ(figures_after.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        SCOPED_TRACE(figures_before[i].id);
        expect_same_figures(figures_before[i], figures_after[i], 1024);
    }
    EXPECT_EQ(s->settings("reg")->new_users_per_minute, 120u);
    std::size_t k = 0;
    for (const auto* list : {&book, &reg}) {
        for (const auto& t : *list) {
            const auto w = s->poll(t.room, t, now);
            const auto& b = before[k++];
            EXPECT_EQ(w.state, b.state) << t.room << " " << t.seq;
            EXPECT_EQ(w.position, b.position) << t.room << " " << t.seq;
            EXPECT_EQ(w.revoked, b.revoked) << t.room << " " << t.seq;
            EXPECT_EQ(w.admitted_pass.has_value(), b.admitted_pass.has_value());
            if (w.admitted_pass && b.admitted_pass) {
                EXPECT_EQ(w.admitted_pass->pass_id, b.admitted_pass->pass_id);
                EXPECT_EQ(w.admitted_pass->expires_at, b.admitted_pass->expires_at);
            }
        }
    }
    EXPECT_EQ(s->touch_pass("book", *claimed, now), pass_status::active);
    EXPECT_EQ(s->touch_pass("book", *bypass, now), pass_status::active);
    const auto fair_after = s->fairness("reg", now);
    EXPECT_EQ(fair_after->commitment_hex, fair_before->commitment_hex);
    EXPECT_EQ(fair_after->seed_hex, fair_before->seed_hex);
    EXPECT_EQ(fair_after->prequeue_count, 20u);
}

void damage(const std::string& path) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x5a');
}

TEST_F(queue_store_test, a_damaged_snapshot_without_a_previous_one_refuses_to_start_empty) {
    {
        auto s = open_store();
        s->configure({room("book")}, t0);
        s->issue_ticket("book", 0, t0);
        snap(*s);  // the first write: nothing to keep as .prev
    }
    EXPECT_FALSE(fs::exists(previous_snapshot_file(dir_)));
    damage(snapshot_path());
    std::string err;
    EXPECT_EQ(make_embedded_store(dir_, err), nullptr);
    EXPECT_NE(err.find(snapshot_path() + ": damaged snapshot"), std::string::npos) << err;
    EXPECT_NE(err.find("Refusing to start with empty rooms"), std::string::npos) << err;
    EXPECT_TRUE(fs::exists(snapshot_path())) << "the file stays where it is for the operator";

    // Not a snapshot at all; a directory where the file should be (unreadable).
    { std::ofstream(snapshot_path()) << "hello"; }
    err.clear();
    EXPECT_EQ(make_embedded_store(dir_, err), nullptr);
    EXPECT_NE(err, "");
    fs::remove(snapshot_path());
    fs::create_directory(snapshot_path());
    err.clear();
    EXPECT_EQ(make_embedded_store(dir_, err), nullptr);
    EXPECT_NE(err.find("Refusing"), std::string::npos) << err;

    // What the message says to do: move it away, and the store starts empty.
    fs::rename(snapshot_path(), snapshot_path() + ".moved");
    auto s = open_store();
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(s->figures(t0).empty());
}

TEST_F(queue_store_test, a_damaged_snapshot_falls_back_to_the_previous_one_and_says_so) {
    ticket first, second;
    {
        auto s = open_store();
        s->configure({room("book", 1)}, t0);
        first = *s->issue_ticket("book", 0, t0);
        snap(*s);
        second = *s->issue_ticket("book", 0, t0 + 500);
        snap(*s);  // the first snapshot becomes .prev
    }
    ASSERT_TRUE(fs::exists(previous_snapshot_file(dir_)));
    damage(snapshot_path());
    std::string err;
    auto s = make_embedded_store(dir_, err);
    ASSERT_NE(s, nullptr) << err;
    EXPECT_NE(err.find("damaged snapshot"), std::string::npos) << err;
    EXPECT_NE(err.find("restored the previous snapshot " + previous_snapshot_file(dir_)), std::string::npos) << err;
    EXPECT_TRUE(fs::exists(snapshot_path() + ".corrupt"));
    s->configure({room("book", 1)}, t0 + 1000);
    // Both visitors keep their places: the first from the previous snapshot, the second (issued
    // after it) re-created by its poll; the order is kept.
    const auto a = s->poll("book", first, t0 + 1000);
    const auto b = s->poll("book", second, t0 + 1000);
    EXPECT_FALSE(a.revoked);
    EXPECT_FALSE(b.revoked);
    EXPECT_LT(a.position, b.position);
}

TEST_F(queue_store_test, a_crash_between_the_two_renames_leaves_the_previous_snapshot_which_is_loaded) {
    ticket t;
    {
        auto s = open_store();
        s->configure({room("book")}, t0);
        t = *s->issue_ticket("book", 0, t0);
        snap(*s);
        snap(*s);
    }
    fs::remove(snapshot_path());  // as if the process died after renaming it to .prev
    std::string err;
    auto s = make_embedded_store(dir_, err);
    ASSERT_NE(s, nullptr) << err;
    EXPECT_NE(err.find("missing"), std::string::npos) << err;
    s->configure({room("book")}, t0 + 1000);
    EXPECT_FALSE(s->poll("book", t, t0 + 1000).revoked);
}

// A record damaged before its checksum was computed (a bug, a hand-edited file) is refused or
// loads into a usable room; it never crashes or trips the sanitizers.
TEST_F(queue_store_test, damaged_room_records_behind_a_valid_checksum_are_refused_or_harmless) {
    std::vector<ticket> tickets;
    auto cfg = room("book", 600, 3);
    {
        auto s = open_store();
        s->configure({cfg}, t0);
        for (int i = 0; i < 12; ++i) {
            tickets.push_back(*s->issue_ticket("book", 0, t0));
        }
        s->admit_bypass("book", 0, t0);
        run(*s, t0, t0 + 2000);
        s->poll("book", tickets[0], t0 + 2000);
        snap(*s);
    }
    std::string file, err;
    bool exists = false;
    ASSERT_TRUE(read_whole_file(snapshot_path(), file, exists, err) && exists);
    const auto parsed = parse_snapshot(file, err);
    ASSERT_TRUE(parsed && parsed->rooms.size() == 1) << err;
    const std::string record(parsed->rooms[0]);
    std::size_t refused = 0, loaded = 0;
    const auto try_record = [&](const std::string& damaged) {
        { std::ofstream(snapshot_path(), std::ios::binary) << frame_snapshot({damaged}, t0 + 2000); }
        std::string load_err;
        auto s = make_embedded_store(dir_, load_err);
        if (!load_err.empty()) {
            ++refused;
            return;
        }
        ++loaded;
        s->configure({cfg}, t0 + 3000);
        run(*s, t0 + 3000, t0 + 4000);
        for (const auto& t : tickets) {
            s->poll("book", t, t0 + 4000);
        }
        s->issue_ticket("book", 0, t0 + 4000);
        s->admit_bypass("book", 0, t0 + 4000);
        const auto f = s->figures(t0 + 4000)[0];
        EXPECT_LE(f.active, std::max<std::uint64_t>(f.settings.max_active_users, 3));
    };
    for (std::size_t i = 0; i < record.size(); i += 3) {
        std::string damaged = record;
        damaged[i] = static_cast<char>(damaged[i] ^ 0x81);
        try_record(damaged);
    }
    for (std::size_t len = 0; len < record.size(); len += 11) {
        try_record(record.substr(0, len));
    }
    EXPECT_GT(refused, record.size() / 11);
    EXPECT_GT(loaded, 0u);
}

TEST_F(queue_store_test, after_a_crash_new_tickets_never_reuse_numbers_handed_out_since_the_snapshot) {
    std::vector<ticket> early, late;
    {
        auto s = open_store();
        s->configure({room("book", 60, 100)}, t0);
        for (int i = 0; i < 5; ++i) {
            early.push_back(*s->issue_ticket("book", 0, t0));
        }
        snap(*s);
        fs::copy_file(snapshot_path(), dir_ + "/older");
        for (int i = 0; i < 10; ++i) {
            late.push_back(*s->issue_ticket("book", 0, t0 + 500));
        }
        snap(*s);
    }
    // kill -9 right after the older snapshot: the newer one never happened.
    fs::copy_file(dir_ + "/older", snapshot_path(), fs::copy_options::overwrite_existing);
    auto s = open_store();
    s->configure({room("book", 60, 100)}, t0 + 2000);
    std::set<std::uint64_t> handed_out;
    for (const auto& t : early) {
        handed_out.insert(t.seq);
    }
    for (const auto& t : late) {
        handed_out.insert(t.seq);
    }
    std::optional<ticket> first_new;
    for (int i = 0; i < 100; ++i) {
        const auto t = s->issue_ticket("book", 0, t0 + 2000);
        ASSERT_TRUE(t);
        EXPECT_FALSE(handed_out.contains(t->seq)) << t->seq;
        first_new = first_new ? first_new : t;
    }
    // A ticket from the lost window still holds its place once it shows up.
    const auto w = s->poll("book", late[0], t0 + 2000);
    EXPECT_FALSE(w.revoked);
    EXPECT_EQ(w.state, room_state::queued);
    EXPECT_EQ(w.position, late[0].seq);
    EXPECT_EQ(s->poll("book", early[4], t0 + 2000).position, 5u);
    // Reserved numbers are not people: the first newcomer after the restart is told that the
    // five early visitors and the one from the lost window who showed up are ahead, no more.
    EXPECT_EQ(s->poll("book", *first_new, t0 + 2000).position, 7u);
    EXPECT_EQ(s->poll("book", *first_new, t0 + 2000).ahead, 6u);
    // Reserved numbers nobody showed up with are passed over without counting as visitors.
    run(*s, t0 + 2000, t0 + 20'000);
    const auto f = s->figures(t0 + 20'000)[0];
    EXPECT_EQ(f.skipped_total, 0u);
    EXPECT_EQ(s->poll("book", late[0], t0 + 20'000).state, room_state::admitted);
}

TEST_F(queue_store_test, waiting_places_and_passes_survive_a_long_downtime) {
    auto cfg = room("book", 60, 100);
    cfg.abandon_after = std::chrono::minutes(5);
    cfg.session_idle_timeout = std::chrono::minutes(10);
    std::vector<ticket> tickets;
    std::optional<pass> p, lost_window_pass, lost_window_bypass;
    {
        auto s = open_store();
        s->configure({cfg}, t0);
        for (int i = 0; i < 30; ++i) {
            tickets.push_back(*s->issue_ticket("book", 0, t0));
        }
        run(*s, t0, t0 + 1000);
        p = s->poll("book", tickets[0], t0 + 1000).admitted_pass;
        ASSERT_TRUE(p);
        snap(*s);
        // Admitted after the snapshot, then the process dies.
        run(*s, t0 + 1100, t0 + 2000);
        lost_window_pass = s->poll("book", tickets[1], t0 + 2000).admitted_pass;
        lost_window_bypass = s->admit_bypass("book", 0, t0 + 2000).granted;
        ASSERT_TRUE(lost_window_pass && lost_window_bypass);
    }
    const unix_ms back = t0 + 20 * 60'000;  // longer than abandon_after and the idle timeout
    auto s = open_store();
    s->configure({cfg}, back);
    run(*s, back, back + 1000);
    EXPECT_EQ(s->figures(back + 1000)[0].skipped_total, 0u);
    EXPECT_EQ(s->touch_pass("book", *p, back + 1000), pass_status::active);
    EXPECT_EQ(s->touch_pass("book", *lost_window_pass, back + 1000), pass_status::active);
    EXPECT_EQ(s->touch_pass("book", *lost_window_bypass, back + 1000), pass_status::active);
    const auto again = s->poll("book", tickets[1], back + 1000);
    ASSERT_TRUE(again.admitted_pass);
    EXPECT_EQ(again.admitted_pass->pass_id, lost_window_pass->pass_id);
    EXPECT_EQ(s->poll("book", tickets[29], back + 1000).state, room_state::queued);
    // A revived bypass pass that ends stays ended.
    s->end_pass("book", lost_window_bypass->pass_id, back + 2000);
    EXPECT_EQ(s->touch_pass("book", *lost_window_bypass, back + 3000), pass_status::ended);
}

TEST_F(queue_store_test, concurrent_issue_poll_tick_and_snapshot) {
    auto s = open_store();
    s->configure({room("book", 6000, 500), room("reg", 600, 50)}, t0);
    constexpr int threads = 4;
    constexpr int per_thread = 2000;
    std::vector<std::vector<std::uint64_t>> seqs(threads);
    std::atomic<bool> done{false};
    std::atomic<unix_ms> clock{t0};
    std::thread control([&] {
        int n = 0;
        while (!done) {
            const unix_ms now = clock.fetch_add(100) + 100;
            s->tick(now);
            if (++n % 20 == 0) {
                std::string err;
                EXPECT_TRUE(s->snapshot(err)) << err;
                s->figures(now);
            }
        }
    });
    std::vector<std::thread> workers;
    for (int w = 0; w < threads; ++w) {
        workers.emplace_back([&, w] {
            const std::string id = w % 2 == 0 ? "book" : "reg";
            std::vector<ticket> mine;
            for (int i = 0; i < per_thread; ++i) {
                const unix_ms now = clock.load();
                if (auto t = s->issue_ticket(id, 0, now)) {
                    seqs[static_cast<std::size_t>(w)].push_back(t->seq);
                    mine.push_back(*t);
                }
                const auto info = s->poll(id, mine[static_cast<std::size_t>(i) / 2], now);
                if (info.admitted_pass && i % 3 == 0) {
                    s->end_pass(id, info.admitted_pass->pass_id, now);
                }
            }
        });
    }
    for (auto& t : workers) {
        t.join();
    }
    done = true;
    control.join();
    std::set<std::uint64_t> book, reg;
    for (int w = 0; w < threads; ++w) {
        auto& target = w % 2 == 0 ? book : reg;
        for (const auto q : seqs[static_cast<std::size_t>(w)]) {
            EXPECT_TRUE(target.insert(q).second) << "sequence number handed out twice: " << q;
        }
    }
    EXPECT_EQ(book.size(), 2u * per_thread);
    EXPECT_EQ(reg.size(), 2u * per_thread);
    const auto figures = s->figures(clock.load());
    EXPECT_EQ(figures[0].issued, 2u * per_thread);
    EXPECT_LE(figures[0].active, 500u);
    EXPECT_LE(figures[1].active, 50u);
}

}  // namespace
}  // namespace anteroom::admission
