// room_controller with a fake clock: time is an argument, nothing sleeps. A simulated crowd
// polls as it is told (refresh_after_seconds) while the test ticks every 100 ms.

#include "admission/room_controller.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <queue>
#include <set>
#include <vector>

#include "common/crypto.hpp"

namespace anteroom::admission {
namespace {

constexpr unix_ms t0 = 1'800'000'000'000;  // a whole second, so now/1000 lines up with the room's clock
constexpr unix_ms tick_ms = 100;

room_config make_room(std::uint32_t npm, std::uint32_t max_active) {
    room_config c;
    c.id = "book";
    c.paths = {"/book"};
    c.new_users_per_minute = npm;
    c.max_active_users = max_active;
    return c;
}

room_identity test_identity() {
    room_identity id;
    id.epoch = 7;
    for (std::size_t i = 0; i < id.seed.size(); ++i) {
        id.seed[i] = static_cast<std::uint8_t>(i);
        id.pass_secret[i] = static_cast<std::uint8_t>(0xa0 + i);
    }
    id.created_at = t0;
    return id;
}

// Visitors who poll when told to, claim their pass when admitted and end it after `stay_ms`.
class crowd {
public:
    struct visitor {
        ticket t;
        bool admitted = false;
        std::uint64_t pass_id = 0;
        std::int64_t deadline_s = -1;  // last promised latest admission (now/1000 + eta_high)
        unix_ms admitted_at = 0;
    };

    explicit crowd(room_controller& room) : room_(room) {}

    std::function<unix_ms(std::size_t)> stay_ms = [](std::size_t) { return unix_ms{120'000}; };
    std::function<void(visitor&, const wait_info&, unix_ms)> on_answer = [](visitor&, const wait_info&, unix_ms) {};

    std::size_t arrive(unix_ms now) {
        auto t = room_.issue(people_.size() + 1, now);
        EXPECT_TRUE(t.has_value());
        people_.push_back({*t});
        poll(people_.size() - 1, now);
        return people_.size() - 1;
    }

    // Polls that are due, passes that end. Call after each tick.
    void step(unix_ms now) {
        while (!due_.empty() && due_.top().first <= now) {
            const std::size_t i = due_.top().second;
            due_.pop();
            poll(i, now);
        }
        while (!leaving_.empty() && leaving_.top().first <= now) {
            room_.end(people_[leaving_.top().second].pass_id, now);
            leaving_.pop();
        }
    }

    std::vector<visitor>& people() { return people_; }

private:
    void poll(std::size_t i, unix_ms now) {
        visitor& v = people_[i];
        const wait_info w = room_.poll(v.t, now);
        on_answer(v, w, now);
        if (w.state == room_state::admitted) {
            ASSERT_TRUE(w.admitted_pass.has_value());
            v.admitted = true;
            v.pass_id = w.admitted_pass->pass_id;
            v.admitted_at = now;
            leaving_.push({now + stay_ms(i), i});
            return;
        }
        ASSERT_FALSE(w.revoked) << "seq " << v.t.seq;
        due_.push({now + w.refresh_after_seconds * 1000, i});
    }

    using event = std::pair<unix_ms, std::size_t>;
    room_controller& room_;
    std::vector<visitor> people_;
    std::priority_queue<event, std::vector<event>, std::greater<>> due_;
    std::priority_queue<event, std::vector<event>, std::greater<>> leaving_;
};

std::array<std::uint8_t, 32> from_hex(const std::string& hex) {
    std::array<std::uint8_t, 32> out{};
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i] = static_cast<std::uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
    }
    return out;
}

TEST(room_controller, admits_at_the_configured_rate_within_one_percent_over_an_hour) {
    room_controller room(make_room(120, 100'000), test_identity(), t0);
    crowd c(room);
    for (int i = 0; i < 1000; ++i) {
        c.arrive(t0);
    }
    std::vector<std::uint64_t> per_minute;
    std::uint64_t at_minute_start = 0;
    for (unix_ms now = t0 + tick_ms; now <= t0 + 3'600'000; now += tick_ms) {
        if ((now - t0) % 1000 == 0) {
            for (int i = 0; i < 3; ++i) {  // 180 arrivals a minute: the line keeps growing
                c.arrive(now);
            }
        }
        room.tick(now);
        c.step(now);
        if ((now - t0) % 60'000 == 0) {
            const auto total = room.figures(now).admitted_total;
            per_minute.push_back(total - at_minute_start);
            at_minute_start = total;
        }
    }
    ASSERT_EQ(per_minute.size(), 60u);
    for (std::size_t m = 0; m < per_minute.size(); ++m) {
        EXPECT_GE(per_minute[m], 119u) << "minute " << m;
        EXPECT_LE(per_minute[m], 121u) << "minute " << m;
    }
    const auto f = room.figures(t0 + 3'600'000);
    EXPECT_NEAR(static_cast<double>(f.admitted_total), 7200.0, 72.0);
    EXPECT_NEAR(f.outflow_per_minute, 120.0, 1.2);
    EXPECT_EQ(f.skipped_total, 0u);
}

TEST(room_controller, never_exceeds_max_active_users) {
    room_controller room(make_room(600, 40), test_identity(), t0);
    crowd c(room);
    std::uint32_t lcg = 1;
    c.stay_ms = [&](std::size_t) {
        lcg = lcg * 1103515245u + 12345u;
        return unix_ms{2'000} + (lcg >> 8) % 6'000;
    };
    std::uint64_t worst = 0;
    c.on_answer = [&](crowd::visitor&, const wait_info&, unix_ms) { worst = std::max(worst, room.active()); };
    for (int i = 0; i < 3000; ++i) {
        c.arrive(t0);
    }
    for (unix_ms now = t0 + tick_ms; now <= t0 + 600'000; now += tick_ms) {
        room.tick(now);
        ASSERT_LE(room.active(), 40u) << "after tick at " << now - t0;
        ASSERT_EQ(room.figures(now).active, room.active());
        worst = std::max(worst, room.active());
        c.step(now);
        ASSERT_LE(room.active(), 40u) << "after polls at " << now - t0;
    }
    EXPECT_EQ(worst, 40u);  // the limit was reached, so it was really tested
    EXPECT_GT(room.figures(t0 + 600'000).ended_session_end, 1000u);
}

TEST(room_controller, skips_places_of_visitors_gone_longer_than_abandon_after) {
    auto cfg = make_room(60, 100);
    cfg.abandon_after = std::chrono::minutes(1);
    cfg.mode = room_mode::paused;
    room_controller room(cfg, test_identity(), t0);
    std::vector<ticket> tickets;
    for (int i = 0; i < 10; ++i) {
        tickets.push_back(*room.issue(0, t0));
    }
    // Odd sequence numbers keep polling, even ones leave after getting their ticket.
    unix_ms now = t0;
    for (; now <= t0 + 120'000; now += tick_ms) {
        room.tick(now);
        if ((now - t0) % 5'000 == 0) {
            for (const auto& t : tickets) {
                if (t.seq % 2 == 1) {
                    EXPECT_EQ(room.poll(t, now).state, room_state::paused);
                }
            }
        }
    }
    room.update({room_mode::fifo, std::nullopt, std::nullopt}, now);
    for (; now <= t0 + 140'000; now += tick_ms) {
        room.tick(now);
    }
    const auto f = room.figures(now);
    EXPECT_EQ(f.skipped_total, 5u);
    EXPECT_EQ(f.admitted_total, 5u);
    EXPECT_EQ(f.waiting, 0u);
    for (const auto& t : tickets) {
        const auto w = room.poll(t, now);
        if (t.seq % 2 == 1) {
            EXPECT_EQ(w.state, room_state::admitted) << t.seq;
        } else {
            EXPECT_TRUE(w.revoked) << t.seq;
        }
    }
}

TEST(room_controller, admissions_count_as_kept_or_missed_against_the_eta_each_visitor_was_shown) {
    // Steady outflow: everybody who was shown an ETA gets in by its high bound.
    room_controller steady(make_room(60, 1000), test_identity(), t0);
    for (int i = 0; i < 6; ++i) {
        const auto t = steady.issue(0, t0);
        ASSERT_TRUE(t);
        ASSERT_GE(steady.poll(*t, t0).eta_high_seconds, 0);
    }
    unix_ms now = t0;
    for (; now <= t0 + 20'000; now += tick_ms) {
        steady.tick(now);
    }
    auto f = steady.figures(now);
    EXPECT_EQ(f.admitted_total, 6u);
    EXPECT_EQ(f.eta_kept_total, 6u);
    EXPECT_EQ(f.eta_missed_total, 0u);

    // Paused for three minutes (less than abandon_after) after the ETAs were shown, without anybody polling again (who
    // would have been told the new ETA): the promises are broken and counted so.
    room_controller paused(make_room(60, 1000), test_identity(), t0);
    std::vector<ticket> tickets;
    for (int i = 0; i < 4; ++i) {
        tickets.push_back(*paused.issue(0, t0));
        paused.poll(tickets.back(), t0);
    }
    for (const auto& t : tickets) {
        paused.poll(t, t0 + 1'000);  // their pages are back once (a place nobody came back to lapses sooner)
    }
    paused.update({room_mode::paused, std::nullopt, std::nullopt}, t0 + 1'500);
    paused.update({room_mode::fifo, std::nullopt, std::nullopt}, t0 + 180'000);
    for (now = t0 + 180'000; now <= t0 + 200'000; now += tick_ms) {
        paused.tick(now);
    }
    f = paused.figures(now);
    EXPECT_EQ(f.admitted_total, 4u);
    EXPECT_EQ(f.eta_kept_total + f.eta_missed_total, 4u);
    EXPECT_EQ(f.eta_missed_total, 4u);
}

TEST(room_controller, a_place_marked_absent_is_skipped_without_using_the_rate_unless_its_holder_returns) {
    auto cfg = make_room(60, 100);
    cfg.mode = room_mode::paused;
    room_controller room(cfg, test_identity(), t0);
    std::vector<ticket> tickets;
    for (int i = 0; i < 4; ++i) {
        tickets.push_back(*room.issue(0, t0));
    }
    // Bot detection refused the holders of 1 and 2; holder 2 solved the challenge and polls again.
    room.mark_absent(tickets[0], t0 + 1'000);
    room.mark_absent(tickets[1], t0 + 1'000);
    EXPECT_EQ(room.poll(tickets[1], t0 + 2'000).state, room_state::paused);
    room.update({room_mode::fifo, std::nullopt, std::nullopt}, t0 + 3'000);
    unix_ms now = t0 + 3'000;
    for (; now <= t0 + 10'000; now += tick_ms) {
        room.tick(now);
    }
    const auto f = room.figures(now);
    EXPECT_EQ(f.skipped_total, 1u);  // only the place of holder 1
    EXPECT_EQ(f.admitted_total, 3u);
    EXPECT_TRUE(room.poll(tickets[0], now).revoked);
    EXPECT_EQ(room.poll(tickets[1], now).state, room_state::admitted);
    // Marking is harmless for places already reached and for unknown tickets.
    room.mark_absent(tickets[2], now);
    EXPECT_EQ(room.poll(tickets[2], now).state, room_state::admitted);
    ticket unknown = tickets[3];
    unknown.seq = 999;
    room.mark_absent(unknown, now);
}

TEST(room_controller, a_place_whose_holder_never_comes_back_after_getting_it_is_skipped_once_its_first_poll_is_overdue) {
    auto cfg = make_room(60, 100);
    cfg.mode = room_mode::paused;
    room_controller room(cfg, test_identity(), t0);
    // Each arrival is issued a place and told a refresh in the same request, as the proxy does.
    std::vector<ticket> tickets;
    std::uint32_t refresh_s = 0;
    for (int i = 0; i < 3; ++i) {
        tickets.push_back(*room.issue(0, t0));
        refresh_s = room.poll(tickets.back(), t0 + 5).refresh_after_seconds;
    }
    ASSERT_GT(refresh_s, 0u);
    // 0 comes back when told; 1 never does (no cookie kept); 2 only within the issuing second.
    room.poll(tickets[0], t0 + refresh_s * 1'000);
    room.poll(tickets[2], t0 + 900);
    // Reached later than twice the refresh plus 10 s and than a minute (still well within
    // abandon_after, 5 min).
    const unix_ms open_at = t0 + (std::max(60u, 2 * refresh_s + 10) + 1) * 1'000;
    ASSERT_LT(open_at - t0, cfg.abandon_after.count());
    room.poll(tickets[0], open_at);
    room.update({room_mode::fifo, std::nullopt, std::nullopt}, open_at);
    unix_ms now = open_at;
    for (; now <= open_at + 10'000; now += tick_ms) {
        room.tick(now);
    }
    const auto f = room.figures(now);
    EXPECT_EQ(f.admitted_total, 1u);
    EXPECT_EQ(f.skipped_total, 2u);
    EXPECT_EQ(room.poll(tickets[0], now).state, room_state::admitted);
    EXPECT_TRUE(room.poll(tickets[1], now).revoked);

    // Reached before its first poll is due, an unconfirmed place is admitted as any other.
    room_controller fresh(make_room(60, 100), test_identity(), t0);
    const auto t = *fresh.issue(0, t0);
    fresh.poll(t, t0);
    for (now = t0; now <= t0 + 3'000; now += tick_ms) {
        fresh.tick(now);
    }
    EXPECT_EQ(fresh.figures(now).admitted_total, 1u);
    EXPECT_EQ(fresh.poll(t, now).state, room_state::admitted);
}

TEST(room_controller, an_admitted_place_whose_holder_is_refused_before_claiming_gives_its_admission_back_once) {
    room_controller room(make_room(60, 100), test_identity(), t0);  // one admission a second
    std::vector<ticket> tickets;
    for (int i = 0; i < 4; ++i) {
        tickets.push_back(*room.issue(0, t0));
    }
    unix_ms now = t0;
    for (; room.figures(now).admitted_total == 0 && now <= t0 + 5'000; now += tick_ms) {
        room.tick(now);
    }
    ASSERT_EQ(room.figures(now).admitted_total, 1u);
    room.tick(now);
    ASSERT_EQ(room.figures(now).admitted_total, 1u);  // the rate is used up for this second
    // The holder of the admitted place is caught at the poll that would have claimed it.
    room.mark_absent(tickets[0], now);
    EXPECT_EQ(room.figures(now).returned_total, 1u);
    room.tick(now);
    EXPECT_EQ(room.figures(now).admitted_total, 2u);  // the next place, without waiting a second
    // Once per place: refused again, nothing more comes back.
    room.mark_absent(tickets[0], now);
    room.tick(now);
    EXPECT_EQ(room.figures(now).admitted_total, 2u);
    EXPECT_EQ(room.figures(now).returned_total, 1u);
    // A waiting place marked absent is no admission to give back.
    room.mark_absent(tickets[3], now);
    EXPECT_EQ(room.figures(now).returned_total, 1u);
    // The place stays claimable (a person who solved the challenge gets in) and counts as
    // active until then.
    EXPECT_EQ(room.figures(now).active, 2u);
    const auto w = room.poll(tickets[0], now);
    EXPECT_EQ(w.state, room_state::admitted);
    EXPECT_TRUE(w.admitted_pass.has_value());
    // Claimed after all, it takes its admission again: the next second's goes to it.
    room.tick(now + 1'000);
    EXPECT_EQ(room.figures(now + 1'000).admitted_total, 2u);
    room.tick(now + 2'000);
    EXPECT_EQ(room.figures(now + 2'000).admitted_total, 3u);
    // Claimed, it is no longer pending: marking it gives nothing back.
    room.mark_absent(tickets[0], now + 2'000);
    EXPECT_EQ(room.figures(now + 2'000).returned_total, 1u);
}

TEST(room_controller, idle_timeout_max_duration_and_session_end_free_places) {
    auto cfg = make_room(60, 2);
    cfg.session_idle_timeout = std::chrono::minutes(10);
    cfg.session_max_duration = std::chrono::minutes(30);
    room_controller room(cfg, test_identity(), t0);
    auto a = room.bypass(1, t0);
    auto b = room.bypass(2, t0);
    ASSERT_TRUE(a && b);
    EXPECT_NE(a->pass_id, b->pass_id);
    EXPECT_EQ(a->expires_at, t0 + 30 * 60'000);
    EXPECT_FALSE(room.bypass(3, t0).has_value()) << "bypass counts against max_active_users";

    // Session end: at once.
    room.end(a->pass_id, t0 + 1000);
    EXPECT_EQ(room.active(), 1u);
    EXPECT_EQ(room.touch(*a, t0 + 1000), pass_status::ended);
    auto c = room.bypass(3, t0 + 1000);
    ASSERT_TRUE(c);

    // Idle: b is never used again; c is used every minute.
    unix_ms now = t0 + 1000;
    for (; now <= t0 + 11 * 60'000; now += tick_ms) {
        room.tick(now);
        if ((now - t0) % 60'000 == 0) {
            EXPECT_EQ(room.touch(*c, now), pass_status::active);
        }
    }
    EXPECT_EQ(room.active(), 1u);
    EXPECT_EQ(room.touch(*b, now), pass_status::ended);

    // Max duration: c ends at expires_at although it is in use.
    for (; now < c->expires_at; now += 60'000) {
        EXPECT_EQ(room.touch(*c, now), pass_status::active);
    }
    EXPECT_EQ(room.touch(*c, c->expires_at), pass_status::ended);
    const auto f = room.figures(now);
    EXPECT_EQ(f.ended_session_end, 1u);
    EXPECT_EQ(f.ended_idle, 1u);
    EXPECT_EQ(f.ended_max, 1u);
    EXPECT_EQ(f.active, 0u);
    EXPECT_EQ(f.bypass_total, 3u);
    EXPECT_EQ(f.admitted_total, 3u);
}

TEST(room_controller, a_freed_place_lets_the_next_visitor_in) {
    room_controller room(make_room(600, 1), test_identity(), t0);
    const ticket first = *room.issue(1, t0);
    const ticket second = *room.issue(2, t0);
    room.tick(t0 + 1000);
    const auto w1 = room.poll(first, t0 + 1000);
    ASSERT_EQ(w1.state, room_state::admitted);
    room.tick(t0 + 2000);
    EXPECT_EQ(room.poll(second, t0 + 2000).state, room_state::queued);
    EXPECT_EQ(room.poll(second, t0 + 2000).position, 1u);
    room.end(w1.admitted_pass->pass_id, t0 + 2100);
    room.tick(t0 + 2200);
    EXPECT_EQ(room.poll(second, t0 + 2200).state, room_state::admitted);
}

// At a high rate the front of the queue can pass a whole block of places (which is then freed)
// between two sweeps, while places claimed in that time are still listed as awaiting their
// claim. The sweep must not read them (it did: a wild read that crashed a 1,000,000-visitor
// surge at 60,000 admissions a minute).
TEST(room_controller, the_sweep_survives_claimed_places_whose_block_was_freed) {
    room_controller room(make_room(2'000'000, 1'000'000), test_identity(), t0);
    const std::size_t n = 3 * place_ring::block_places;
    std::vector<ticket> tickets;
    for (std::size_t i = 0; i < n; ++i) {
        tickets.push_back(*room.issue(i + 1, t0));
    }
    std::size_t claimed = 0;
    unix_ms now = t0;
    for (; now <= t0 + 10'000 && claimed < n; now += tick_ms) {
        room.tick(now);
        // Admission is in order: claim the admitted prefix right away, as browsers would.
        while (claimed < n && room.poll(tickets[claimed], now).state == room_state::admitted) {
            ++claimed;
        }
    }
    room.tick(now + 1000);  // one more sweep after the last claims
    EXPECT_EQ(claimed, n);
    EXPECT_EQ(room.active(), n);
    const auto f = room.figures(now + 1000);
    EXPECT_EQ(f.admitted_total, n);
    EXPECT_EQ(f.skipped_total, 0u);
}

TEST(room_controller, a_repeated_poll_returns_the_same_pass) {
    room_controller room(make_room(600, 10), test_identity(), t0);
    const ticket t = *room.issue(42, t0);
    room.tick(t0 + 1000);
    const auto a = room.poll(t, t0 + 1000);
    const auto b = room.poll(t, t0 + 5000);
    ASSERT_TRUE(a.admitted_pass && b.admitted_pass);
    EXPECT_EQ(a.admitted_pass->pass_id, b.admitted_pass->pass_id);
    EXPECT_EQ(a.admitted_pass->admitted_at, b.admitted_pass->admitted_at);
    EXPECT_EQ(a.admitted_pass->expires_at, b.admitted_pass->expires_at);
    EXPECT_EQ(a.admitted_pass->binding, 42u);
    EXPECT_EQ(a.admitted_pass->ticket_seq, t.seq);
    EXPECT_EQ(a.admitted_pass->pass_id, room.pass_id_for(t.seq));
    // Once the pass has ended, the ticket is used up.
    room.end(a.admitted_pass->pass_id, t0 + 6000);
    EXPECT_TRUE(room.poll(t, t0 + 7000).revoked);
    EXPECT_EQ(room.active(), 0u);
}

TEST(room_controller, an_admitted_place_not_claimed_in_time_is_skipped) {
    room_controller room(make_room(60, 10), test_identity(), t0);
    const ticket t = *room.issue(1, t0);
    const auto w = room.poll(t, t0);
    ASSERT_EQ(w.state, room_state::queued);
    EXPECT_EQ(w.refresh_after_seconds, 5u);  // at the front
    // Reached at 1 s; the claim window is max(30 s, 2 × 5 s).
    unix_ms now = t0;
    for (; now <= t0 + 30'000; now += tick_ms) {
        room.tick(now);
    }
    EXPECT_EQ(room.active(), 1u);
    for (; now <= t0 + 33'000; now += tick_ms) {
        room.tick(now);
    }
    EXPECT_EQ(room.active(), 0u);
    const auto f = room.figures(now);
    EXPECT_EQ(f.unclaimed_total, 1u);
    EXPECT_EQ(f.skipped_total, 1u);
    EXPECT_EQ(f.admitted_total, 1u);
    EXPECT_TRUE(room.poll(t, now).revoked);
}

TEST(room_controller, capacity_limits_admission_and_zero_is_sold_out) {
    room_controller room(make_room(6000, 100), test_identity(), t0);
    std::vector<ticket> tickets;
    for (int i = 0; i < 10; ++i) {
        tickets.push_back(*room.issue(0, t0));
    }
    room.set_capacity(3, std::nullopt, t0);
    for (unix_ms now = t0; now <= t0 + 5000; now += tick_ms) {
        room.tick(now);
        for (const auto& t : tickets) {
            room.poll(t, now);  // claims passes and keeps them
        }
        ASSERT_LE(room.active(), 3u);
    }
    EXPECT_EQ(room.active(), 3u);
    EXPECT_EQ(room.figures(t0 + 5000).available, 3);

    const unix_ms later = t0 + 3'600'000;
    room.set_capacity(0, later, t0 + 6000);
    const auto w = room.poll(tickets[9], t0 + 6000);
    EXPECT_EQ(w.state, room_state::sold_out);
    EXPECT_EQ(w.next_capacity_at, later);
    EXPECT_EQ(w.eta_high_seconds, -1);
    EXPECT_EQ(w.position, 7u);
    const auto f = room.figures(t0 + 6000);
    EXPECT_TRUE(f.sold_out);
    EXPECT_EQ(f.state, room_state::sold_out);
    EXPECT_EQ(room.arrival_state(t0 + 6000), room_state::sold_out);

    // Unknown inventory: no limit.
    room.set_capacity(std::nullopt, std::nullopt, t0 + 7000);
    room.tick(t0 + 7100);
    EXPECT_EQ(room.poll(tickets[3], t0 + 7100).state, room_state::admitted);
}

TEST(room_controller, prequeue_order_is_recomputable_from_the_revealed_seed) {
    auto cfg = make_room(600, 1000);
    cfg.event.prequeue_opens = t0 + 10'000;
    cfg.event.starts = t0 + 60'000;
    room_controller room(cfg, test_identity(), t0);
    EXPECT_FALSE(room.issue(0, t0).has_value()) << "closed before prequeue_opens";
    EXPECT_EQ(room.arrival_state(t0), room_state::closed);

    constexpr std::uint64_t n = 500;
    std::vector<ticket> pre;
    for (std::uint64_t i = 0; i < n; ++i) {
        pre.push_back(*room.issue(i, t0 + 10'000 + static_cast<unix_ms>(i)));
        EXPECT_EQ(pre.back().flags & ticket_flag_prequeue, ticket_flag_prequeue);
    }
    const auto w = room.poll(pre[0], t0 + 20'000);
    EXPECT_EQ(w.state, room_state::prequeue);
    EXPECT_EQ(w.starts_at, t0 + 60'000);
    EXPECT_EQ(w.position, 0u);

    const auto before = room.fairness(t0 + 59'999);
    EXPECT_TRUE(before.has_event);
    EXPECT_FALSE(before.seed_hex.has_value());

    room.update({room_mode::paused, std::nullopt, std::nullopt}, t0 + 59'000);
    room.tick(t0 + 60'000);
    const ticket late = *room.issue(0, t0 + 60'000);
    EXPECT_EQ(late.flags & ticket_flag_prequeue, 0);

    const auto after = room.fairness(t0 + 60'000);
    ASSERT_TRUE(after.seed_hex.has_value());
    EXPECT_EQ(after.prequeue_count, n);
    EXPECT_EQ(after.commitment_hex, before.commitment_hex);
    const auto seed = from_hex(*after.seed_hex);
    EXPECT_EQ(crypto::to_hex(crypto::sha256(seed)), after.commitment_hex);

    // Independent recomputation: rank of HMAC-SHA256(seed, be64(s)).
    const crypto::hmac_key key(seed);
    std::vector<std::pair<crypto::digest, std::uint64_t>> order;
    for (std::uint64_t s = 1; s <= n; ++s) {
        std::array<std::uint8_t, 8> msg{};
        for (int b = 0; b < 8; ++b) {
            msg[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(s >> (56 - 8 * b));
        }
        order.push_back({key.sign(msg), s});
    }
    std::sort(order.begin(), order.end());
    std::vector<std::uint64_t> expected_position(n + 1);
    for (std::uint64_t r = 0; r < n; ++r) {
        expected_position[order[r].second] = r + 1;
    }
    std::size_t moved = 0;
    for (const auto& t : pre) {
        const auto pw = room.poll(t, t0 + 61'000);
        EXPECT_EQ(pw.state, room_state::paused);
        EXPECT_EQ(pw.position, expected_position[t.seq]) << "seq " << t.seq;
        moved += pw.position != t.seq ? 1 : 0;
    }
    EXPECT_GT(moved, n / 2) << "the order really is shuffled";
    EXPECT_EQ(room.poll(late, t0 + 61'000).position, n + 1) << "later arrivals queue behind";

    // Admission follows the shuffled order.
    room.update({room_mode::fifo, std::nullopt, std::nullopt}, t0 + 61'000);
    unix_ms now = t0 + 61'000;
    for (; now <= t0 + 66'000; now += tick_ms) {
        room.tick(now);
    }
    const std::uint64_t reached = room.figures(now).admitted_total;
    EXPECT_GE(reached, 49u);
    for (const auto& t : pre) {
        const auto pw = room.poll(t, now);
        if (expected_position[t.seq] <= reached) {
            EXPECT_EQ(pw.state, room_state::admitted) << t.seq;
        } else {
            EXPECT_EQ(pw.position, expected_position[t.seq] - reached) << t.seq;
        }
    }
}

// Checks every answer of a waiting visitor: the latest promised admission (now + eta_high)
// never moves later and is kept.
struct eta_audit {
    std::size_t answers = 0, later = 0, broken = 0, notes = 0, inverted = 0;

    void check(crowd::visitor& v, const wait_info& w, unix_ms now) {
        if (w.state == room_state::admitted) {
            broken += (v.deadline_s >= 0 && now / 1000 > v.deadline_s) ? 1 : 0;
            return;
        }
        if (w.state != room_state::queued) {
            return;
        }
        ++answers;
        const std::int64_t deadline = now / 1000 + w.eta_high_seconds;
        later += (v.deadline_s >= 0 && deadline > v.deadline_s) ? 1 : 0;
        notes += w.eta_note.empty() ? 0 : 1;
        inverted += (w.eta_low_seconds < 0 || w.eta_low_seconds > w.eta_high_seconds) ? 1 : 0;
        v.deadline_s = deadline;
    }
};

TEST(room_controller, eta_range_is_monotone_and_kept_under_steady_outflow) {
    room_controller room(make_room(120, 100'000), test_identity(), t0);
    crowd c(room);
    eta_audit audit;
    c.on_answer = [&](crowd::visitor& v, const wait_info& w, unix_ms now) { audit.check(v, w, now); };
    for (int i = 0; i < 2000; ++i) {
        c.arrive(t0);
    }
    std::vector<std::uint32_t> refresh_seen;
    for (unix_ms now = t0 + tick_ms; now <= t0 + 1'200'000; now += tick_ms) {
        if ((now - t0) % 1000 == 0) {
            c.arrive(now);
        }
        room.tick(now);
        c.step(now);
    }
    EXPECT_GT(audit.answers, 20'000u);
    EXPECT_EQ(audit.later, 0u);
    EXPECT_EQ(audit.broken, 0u);
    EXPECT_EQ(audit.notes, 0u);
    EXPECT_EQ(audit.inverted, 0u);

    // Far back polls slowly, the front quickly.
    const unix_ms end = t0 + 1'200'000;
    const auto back = room.poll(c.people().back().t, end);
    EXPECT_GT(back.position, 700u);
    EXPECT_GE(back.refresh_after_seconds, 30u);
    EXPECT_GT(back.eta_low_seconds, 300);
    for (const auto& v : c.people()) {
        const auto w = v.admitted ? wait_info{} : room.poll(v.t, end);
        if (w.state == room_state::queued && w.position <= 3) {
            EXPECT_EQ(w.refresh_after_seconds, 5u);
        }
    }
}

TEST(room_controller, pause_and_rate_cut_explain_a_later_eta) {
    room_controller room(make_room(120, 100'000), test_identity(), t0);
    crowd c(room);
    std::size_t paused_answers = 0, moved_later = 0, moved_later_unexplained = 0;
    std::set<std::string_view> notes_after_resume;
    c.on_answer = [&](crowd::visitor& v, const wait_info& w, unix_ms now) {
        if (w.state == room_state::paused) {
            ++paused_answers;
            EXPECT_EQ(w.eta_note, "paused");
            EXPECT_EQ(w.eta_high_seconds, -1);
            EXPECT_GT(w.position, 0u);
            return;
        }
        if (w.state != room_state::queued) {
            return;
        }
        const std::int64_t deadline = now / 1000 + w.eta_high_seconds;
        if (v.deadline_s >= 0 && deadline > v.deadline_s) {
            ++moved_later;
            moved_later_unexplained += w.eta_note.empty() ? 1 : 0;
            notes_after_resume.insert(w.eta_note);
        }
        v.deadline_s = deadline;
    };
    for (int i = 0; i < 1500; ++i) {
        c.arrive(t0);
    }
    unix_ms now = t0 + tick_ms;
    const auto run_until = [&](unix_ms end) {
        for (; now <= end; now += tick_ms) {
            room.tick(now);
            c.step(now);
        }
    };
    run_until(t0 + 300'000);
    room.update({room_mode::paused, std::nullopt, std::nullopt}, now);
    run_until(t0 + 600'000);
    room.update({room_mode::fifo, std::nullopt, std::nullopt}, now);
    run_until(t0 + 900'000);
    EXPECT_GT(paused_answers, 1000u);
    EXPECT_GT(moved_later, 100u);
    EXPECT_EQ(moved_later_unexplained, 0u);
    EXPECT_EQ(notes_after_resume, (std::set<std::string_view>{"paused"}));

    notes_after_resume.clear();
    moved_later = 0;
    room.update({std::nullopt, 40u, std::nullopt}, now);
    run_until(t0 + 1'200'000);
    EXPECT_GT(moved_later, 100u);
    EXPECT_EQ(moved_later_unexplained, 0u);
    EXPECT_EQ(notes_after_resume, (std::set<std::string_view>{"slowed"}));
}

TEST(room_controller, random_mode_admits_only_live_places) {
    auto cfg = make_room(600, 100'000);
    cfg.abandon_after = std::chrono::minutes(1);
    cfg.mode = room_mode::paused;
    room_controller room(cfg, test_identity(), t0);
    std::vector<ticket> tickets;
    for (int i = 0; i < 1000; ++i) {
        tickets.push_back(*room.issue(0, t0));
    }
    // Odd sequence numbers stay and poll every 5 s, even ones have left.
    std::vector<std::uint64_t> admitted_order;
    const auto poll_live = [&](unix_ms now) {
        for (const auto& t : tickets) {
            if (t.seq % 2 == 1 && !std::count(admitted_order.begin(), admitted_order.end(), t.seq)) {
                const auto w = room.poll(t, now);
                ASSERT_FALSE(w.revoked) << t.seq;
                if (w.state == room_state::admitted) {
                    admitted_order.push_back(t.seq);
                } else if (room.settings().mode == room_mode::random) {
                    EXPECT_EQ(w.position, 0u);
                    EXPECT_GT(w.ahead, 0u);
                }
            }
        }
    };
    unix_ms now = t0;
    for (; now <= t0 + 120'000; now += 5'000) {
        room.tick(now);
        poll_live(now);
    }
    room.update({room_mode::random, std::nullopt, std::nullopt}, now);
    for (; now <= t0 + 300'000; now += tick_ms) {
        room.tick(now);
        if ((now - t0) % 5'000 == 0) {
            poll_live(now);
        }
    }
    const auto f = room.figures(now);
    EXPECT_EQ(admitted_order.size(), 500u);
    EXPECT_EQ(f.admitted_total, 500u);
    EXPECT_EQ(f.unclaimed_total, 0u) << "no dead place was admitted";
    EXPECT_EQ(f.skipped_total, 500u);
    EXPECT_EQ(f.waiting, 0u);
    // Random, not in line order: the first fifty admitted come from all over the line.
    const auto first = std::vector<std::uint64_t>(admitted_order.begin(), admitted_order.begin() + 50);
    EXPECT_FALSE(std::is_sorted(first.begin(), first.end()));
    EXPECT_GT(*std::max_element(first.begin(), first.end()), 500u);
    EXPECT_LT(*std::min_element(first.begin(), first.end()), 500u);
}

TEST(room_controller, reconfigure_keeps_live_settings_unless_the_config_changed) {
    auto cfg = make_room(60, 100);
    room_controller room(cfg, test_identity(), t0);
    const ticket t = *room.issue(0, t0);
    room.update({room_mode::paused, 200u, std::nullopt}, t0);

    auto same = cfg;
    same.session_idle_timeout = std::chrono::minutes(3);  // not a live setting
    EXPECT_FALSE(room.reconfigure(same, t0 + 1000));
    EXPECT_EQ(room.settings().mode, room_mode::paused);
    EXPECT_EQ(room.settings().new_users_per_minute, 200u);
    EXPECT_EQ(room.issued(), 1u);

    auto changed = cfg;
    changed.new_users_per_minute = 90;
    EXPECT_TRUE(room.reconfigure(changed, t0 + 2000));
    EXPECT_EQ(room.settings().mode, room_mode::fifo);
    EXPECT_EQ(room.settings().new_users_per_minute, 90u);
    EXPECT_EQ(room.settings().max_active_users, 100u);
    EXPECT_EQ(room.poll(t, t0 + 2000).position, 1u) << "the queue is kept";
}

TEST(room_controller, stale_epoch_and_unknown_sequence_are_revoked) {
    room_controller room(make_room(60, 100), test_identity(), t0);
    ticket t = *room.issue(0, t0);
    EXPECT_EQ(t.epoch, 7u);
    EXPECT_FALSE(room.poll(t, t0).revoked);
    ticket other = t;
    other.epoch = 8;
    EXPECT_TRUE(room.poll(other, t0).revoked);
    other = t;
    other.seq = 2;
    EXPECT_TRUE(room.poll(other, t0).revoked);
}

TEST(room_controller, modes_passthrough_reject_and_paused) {
    room_controller room(make_room(600, 100), test_identity(), t0);
    const ticket t = *room.issue(0, t0);
    room.update({room_mode::passthrough, std::nullopt, std::nullopt}, t0);
    EXPECT_FALSE(room.issue(0, t0).has_value());
    auto w = room.poll(t, t0);
    EXPECT_EQ(w.state, room_state::admitted);
    EXPECT_FALSE(w.admitted_pass.has_value());
    room.update({room_mode::reject, std::nullopt, std::nullopt}, t0);
    EXPECT_FALSE(room.issue(0, t0).has_value());
    EXPECT_EQ(room.poll(t, t0).state, room_state::closed);
    EXPECT_EQ(room.arrival_state(t0), room_state::closed);
    room.update({room_mode::paused, std::nullopt, std::nullopt}, t0);
    EXPECT_TRUE(room.issue(0, t0).has_value());
    for (unix_ms now = t0; now < t0 + 10'000; now += tick_ms) {
        room.tick(now);
    }
    w = room.poll(t, t0 + 10'000);
    EXPECT_EQ(w.state, room_state::paused);
    EXPECT_EQ(w.eta_note, "paused");
    EXPECT_EQ(w.eta_low_seconds, -1);
    EXPECT_EQ(room.figures(t0 + 10'000).admitted_total, 0u);
}

// ≤ 16 bytes per waiting visitor, measured with 10 million tickets.
TEST(room_controller, ten_million_waiting_visitors_take_at_most_16_bytes_each) {
    room_controller room(make_room(60, 100), test_identity(), t0);
    constexpr std::uint64_t n = 10'000'000;
    for (std::uint64_t i = 0; i < n; ++i) {
        if (!room.issue(0, t0 + static_cast<unix_ms>(i / 10'000)).has_value()) {
            FAIL() << "ticket " << i;
        }
    }
    ASSERT_EQ(room.waiting(), n);
    const double per_visitor = static_cast<double>(room.memory_bytes()) / static_cast<double>(room.waiting());
    RecordProperty("bytes_per_waiting_visitor", std::to_string(per_visitor));
    EXPECT_LE(per_visitor, 16.0);
    room.tick(t0 + 2000);
    EXPECT_EQ(room.figures(t0 + 2000).issued, n);
}

}  // namespace
}  // namespace anteroom::admission
