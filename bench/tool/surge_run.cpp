#include "bench/tool/surge_run.hpp"

#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "bench/tool/interrupt.hpp"
#include "bench/tool/surge_engine.hpp"

namespace anteroom::bench {

namespace surge_detail {


net::awaitable<void> engine::tick() {
    const auto stop_ms = static_cast<std::uint32_t>(sc_.run.stop_after.count());
    std::uint32_t last_sweep = 0;
    for (;;) {
        const std::uint32_t now = now_ms();
        // The queue length at each bucket's end; a bucket the loop slept through (a busy
        // machine) gets the same figure rather than a false zero.
        for (std::uint32_t b = last_waiting_bucket_ + 1; b < now / line_.bucket_ms(); ++b) {
            line_.at(b * line_.bucket_ms()).waiting = static_cast<std::uint32_t>(waiting_);
        }
        last_waiting_bucket_ = now / line_.bucket_ms();
        line_.at(now).waiting = static_cast<std::uint32_t>(waiting_);
        if (interrupted() || now >= stop_ms || terminal_ == vis_.size()) {
            end_ms_ = now;
            shutdown();
            co_return;
        }
        while (next_arrival_ < vis_.size() && vis_[next_arrival_].arrival_ms <= now) {
            arrive(static_cast<std::uint32_t>(next_arrival_++));
        }
        while (!timers_.empty() && static_cast<std::uint32_t>(timers_.top() >> 32) <= now) {
            const auto e = timers_.top();
            timers_.pop();
            dispatch(static_cast<std::uint32_t>(e), static_cast<std::uint32_t>(e >> 32));
        }
        if (now - last_sweep >= 50) {
            last_sweep = now;
            sweep(clock::now());
        }
        progress.arrived.store(next_arrival_, std::memory_order_relaxed);
        progress.waiting.store(waiting_, std::memory_order_relaxed);
        progress.admitted.store(admitted_, std::memory_order_relaxed);
        progress.responses.store(traffic_.http.responses, std::memory_order_relaxed);
        ticker_.expires_after(tick_interval);
        co_await ticker_.async_wait(use_tuple);
    }
}

void engine::arrive(std::uint32_t i) {
    auto& v = vis_[i];
    const auto& c = cohort_of(v);
    v.result = outcome::waiting;  // in progress
    v.step = s_visit;
    v.counter = static_cast<std::uint8_t>(visits_only(c.kind) ? std::min(c.visits, 255u) : sc_.booking.attempts);
    ++line_.at(v.arrival_ms).arrived;
    dispatch(i, v.arrival_ms);
}

// A step forward (or the same step again after a good answer) clears the failure streak; a
// retry keeps it.
void engine::schedule(std::uint32_t i, std::uint8_t next_step, std::uint32_t delay_ms, bool retry) {
    vis_[i].step = next_step;
    if (!retry) {
        vis_[i].errors = 0;
    }
    const std::uint64_t due = std::uint64_t{now_ms()} + delay_ms;
    timers_.push((std::min<std::uint64_t>(due, 0xfffffff0u) << 32) | i);
}

void engine::finish(std::uint32_t i, outcome o) {
    auto& v = vis_[i];
    if ((v.actions & action::ticket) != 0 && (v.actions & action::admitted) == 0) {
        --waiting_;
    }
    v.result = o;
    v.done_ms = now_ms();
    jar_.release(v.jar);
    v.jar = no_slot;
    challenges_.erase(i);
    ++terminal_;
}

void engine::dispatch(std::uint32_t i, std::uint32_t due) {
    if (stopping_) {
        return;
    }
    // An idle connection from the visitor's address; else a new one while the pool has
    // room; else the longest-idle connection (reconnected from the new address); else wait.
    const std::uint32_t addr = vis_[i].source;
    connection* c = nullptr;
    if (auto it = idle_by_addr_.find(addr); it != idle_by_addr_.end() && !it->second.empty()) {
        c = conns_[it->second.back()].get();
        ++traffic_.connections_reused;
    } else if (conns_.size() < sc_.run.connections) {
        conns_.push_back(std::make_unique<connection>(ioc_, static_cast<std::uint32_t>(conns_.size())));
        auto& n = *conns_.back();
        n.visitor = i;
        n.due_ms = due;
        net::co_spawn(ioc_, run_connection(n), net::detached);
        return;
    } else if (idle_tail_ != no_slot) {
        c = conns_[idle_tail_].get();
    } else {
        ready_by_addr_[addr].push_back(ready_base_ + ready_.size());
        ready_.push_back({i, due, false});
        ++ready_count_;
        return;
    }
    unlink_idle(*c);
    c->visitor = i;
    c->due_ms = due;
    c->wake.cancel();
}

// A connection just freed takes the oldest waiting request from its own source address (so a
// saturated pool keeps its keep-alive connections instead of reconnecting for every request:
// with thousands of addresses, the oldest request is almost never from the freed one's), else
// the oldest of all.
void engine::take_ready(connection& c) {
    if (ready_count_ == 0) {
        return;
    }
    std::deque<std::uint64_t>* same = nullptr;
    if (c.sock.is_open()) {
        if (auto it = ready_by_addr_.find(c.addr); it != ready_by_addr_.end()) {
            same = &it->second;
        }
    }
    std::uint64_t seq = ready_base_;  // the front is never a taken entry (trimmed below)
    if (same != nullptr) {
        seq = same->front();
        ++traffic_.connections_reused;
    }
    auto& e = ready_[seq - ready_base_];
    const std::uint32_t addr = vis_[e.visitor].source;
    // The oldest request overall is also the oldest of its address: either way it is the
    // front of its address's list.
    auto it = ready_by_addr_.find(addr);
    it->second.pop_front();
    if (it->second.empty()) {
        ready_by_addr_.erase(it);
    }
    e.taken = true;
    --ready_count_;
    c.visitor = e.visitor;
    c.due_ms = e.due;
    while (!ready_.empty() && ready_.front().taken) {
        ready_.pop_front();
        ++ready_base_;
    }
}

void engine::link_idle(connection& c) {
    c.idle = true;
    c.idle_prev = no_slot;
    c.idle_next = idle_head_;
    if (idle_head_ != no_slot) {
        conns_[idle_head_]->idle_prev = c.id;
    }
    idle_head_ = c.id;
    if (idle_tail_ == no_slot) {
        idle_tail_ = c.id;
    }
    if (c.sock.is_open()) {
        idle_by_addr_[c.addr].push_back(c.id);
    }
}

void engine::unlink_idle(connection& c) {
    c.idle = false;
    if (c.idle_prev != no_slot) {
        conns_[c.idle_prev]->idle_next = c.idle_next;
    } else {
        idle_head_ = c.idle_next;
    }
    if (c.idle_next != no_slot) {
        conns_[c.idle_next]->idle_prev = c.idle_prev;
    } else {
        idle_tail_ = c.idle_prev;
    }
    c.idle_prev = c.idle_next = no_slot;
    if (auto it = idle_by_addr_.find(c.addr); it != idle_by_addr_.end()) {
        auto& list = it->second;
        list.erase(std::remove(list.begin(), list.end(), c.id), list.end());
        if (list.empty()) {
            idle_by_addr_.erase(it);
        }
    }
}

// Only ever called on a connection in use (idle ones are not in anybody's hands).
void engine::close(connection& c) {
    beast::error_code ignored;
    c.sock.close(ignored);
    c.buf.clear();
}

bool engine::open(connection& c, std::uint32_t addr) {
    beast::error_code ec;
    c.sock.open(tcp::v4(), ec);
    if (ec) {
        return false;
    }
    c.sock.set_option(tcp::no_delay(true), ec);
    const int one = 1;
    ::setsockopt(c.sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    c.sock.bind(tcp::endpoint(net::ip::address_v4(addr), 0), ec);
    if (ec) {
        beast::error_code ignored;
        c.sock.close(ignored);
        return false;
    }
    c.addr = addr;
    ++traffic_.connections_opened;
    return true;
}

net::awaitable<void> engine::run_connection(connection& c) {
    for (;;) {
        if (stopping_) {
            break;
        }
        if (c.visitor == no_slot) {
            link_idle(c);
            c.wake.expires_at(clock::time_point::max());
            co_await c.wake.async_wait(use_tuple);
            if (stopping_) {
                break;
            }
            if (c.visitor == no_slot) {
                continue;
            }
        }
        co_await exchange(c);
        c.visitor = no_slot;
        if (stopping_) {
            break;
        }
        take_ready(c);
    }
    beast::error_code ignored;
    c.sock.close(ignored);
}

// One request and its answer (with one silent retry on a fresh connection when a reused
// keep-alive connection turns out closed before any byte came back, as browsers do).
net::awaitable<void> engine::exchange(connection& c) {
    const std::uint32_t i = c.visitor;
    auto& v = vis_[i];
    const auto& to = endpoint_of(i);
    c.out.clear();
    build(i, c.out);
    ++traffic_.requests;
    v.requests = static_cast<std::uint16_t>(std::min<unsigned>(v.requests + 1u, 0xffffu));
    const tcp::endpoint target(net::ip::make_address_v4(to.ip), to.port);
    for (int attempt = 0;; ++attempt) {
        if (c.sock.is_open() && c.addr != v.source) {
            close(c);
        }
        const bool reused = c.sock.is_open();
        c.timed_out = false;
        c.deadline = clock::now() + sc_.run.timeout;
        if (!reused) {
            if (!open(c, v.source)) {
                co_return on_error(c, i, error_kind::connect);
            }
            auto [ec] = co_await c.sock.async_connect(target, use_tuple);
            if (stopping_) {
                co_return cut_off(c);
            }
            if (ec || c.timed_out) {
                close(c);
                co_return on_error(c, i, c.timed_out ? error_kind::timeout : error_kind::connect);
            }
        }
        auto [wec, wn] = co_await net::async_write(c.sock, net::buffer(c.out), use_tuple);
        if (stopping_) {
            co_return cut_off(c);
        }
        http::response_parser<http::string_body> parser;
        parser.header_limit(response_header_limit);
        parser.body_limit(response_body_limit);
        beast::error_code rec;
        if (!wec && !c.timed_out) {
            auto [e, rn] = co_await http::async_read(c.sock, c.buf, parser, use_tuple);
            rec = e;
            if (stopping_) {
                co_return cut_off(c);
            }
        }
        const auto ec = wec ? wec : rec;
        if (ec || c.timed_out) {
            const auto kind = classify(ec, c.timed_out);
            close(c);
            if (reused && attempt == 0 && !c.timed_out && !parser.got_some() &&
                (kind == error_kind::closed || kind == error_kind::reset)) {
                continue;  // a stale keep-alive connection: once more on a new one
            }
            co_return on_error(c, i, kind);
        }
        c.deadline = clock::time_point::max();
        if (!parser.keep_alive()) {
            close(c);
        }
        const auto& res = parser.get();
        answer a;
        a.status = res.result_int();
        a.body = res.body();
        for (const auto& f : res) {
            if (f.name() == http::field::set_cookie) {
                a.set_cookies.push_back(f.value());
            } else if (beast::iequals(f.name_string(), "Anteroom-Action")) {
                a.action = f.value();
            }
        }
        const auto now = now_ms();
        traffic_.http.count_status(a.status);
        traffic_.http.bytes_read += res.body().size();
        const std::uint64_t us = std::chrono::duration_cast<std::chrono::microseconds>(
                                     clock::now() - (start_ + std::chrono::milliseconds(c.due_ms)))
                                     .count();
        traffic_.http.latency_us.record(us);
        auto& b = line_.at(now);
        ++b.responses;
        b.latency_us.record(us);
        on_answer(i, a);
        co_return;
    }
}

void engine::cut_off(connection& c) {
    ++traffic_.cut_off;
    beast::error_code ignored;
    c.sock.close(ignored);
}

void engine::on_error(connection& c, std::uint32_t i, error_kind kind) {
    c.deadline = clock::time_point::max();
    traffic_.http.count_error(kind);
    ++line_.at(now_ms()).errors;
    vis_[i].actions |= action::server_error;
    retry_or_fail(i, (vis_[i].actions & action::admitted) != 0 ? outcome::admitted : outcome::failed);
}

// Enforces every connection's deadline (one sweep for all, no timer per request).
void engine::sweep(clock::time_point now) {
    for (auto& c : conns_) {
        if (now >= c->deadline) {
            c->timed_out = true;
            c->deadline = clock::time_point::max();
            beast::error_code ignored;
            c->sock.close(ignored);
        }
    }
}

void engine::shutdown() {
    stopping_ = true;
    solver_stop_.store(true);
    for (auto& c : conns_) {
        beast::error_code ignored;
        c->sock.close(ignored);
        c->wake.cancel();
    }
}

}  // namespace surge_detail

namespace {

using surge_detail::clock;
using surge_detail::engine;

void print_progress(const std::vector<std::unique_ptr<engine>>& engines, clock::time_point start, std::uint64_t total,
                    std::uint64_t& last_responses, clock::time_point& last_at, bool tty) {
    std::uint64_t arrived = 0;
    std::uint64_t waiting = 0;
    std::uint64_t admitted = 0;
    std::uint64_t responses = 0;
    for (const auto& e : engines) {
        arrived += e->progress.arrived.load(std::memory_order_relaxed);
        waiting += e->progress.waiting.load(std::memory_order_relaxed);
        admitted += e->progress.admitted.load(std::memory_order_relaxed);
        responses += e->progress.responses.load(std::memory_order_relaxed);
    }
    const auto now = clock::now();
    const double dt = std::chrono::duration<double>(now - last_at).count();
    const double rps = dt > 0 ? static_cast<double>(responses - last_responses) / dt : 0;
    last_responses = responses;
    last_at = now;
    std::fprintf(stderr, "%s[%6.1fs] arrived %llu/%llu  waiting %llu  admitted %llu  %.0f req/s   %s",
                 tty ? "\r" : "", std::chrono::duration<double>(now - start).count(),
                 static_cast<unsigned long long>(arrived), static_cast<unsigned long long>(total),
                 static_cast<unsigned long long>(waiting), static_cast<unsigned long long>(admitted), rps,
                 tty ? "" : "\n");
    std::fflush(stderr);
}

}  // namespace

surge_report run_surge(const scenario& sc, const surge_options& o) {
    auto all = make_visitors(sc);
    const unsigned threads = std::max(1u, sc.run.threads);
    std::vector<std::vector<visitor_record>> slices(threads);
    if (threads == 1) {
        slices[0] = std::move(all);
    } else {
        for (auto& s : slices) {
            s.reserve(all.size() / threads + 1);
        }
        for (std::size_t k = 0; k < all.size(); ++k) {
            slices[k % threads].push_back(all[k]);
        }
        all = {};
    }

    const auto start = clock::now();
    std::vector<std::unique_ptr<engine>> engines;
    for (unsigned t = 0; t < threads; ++t) {
        engines.push_back(std::make_unique<engine>(sc, std::move(slices[t]), t, threads, start));
    }
    std::vector<std::thread> workers;
    for (auto& e : engines) {
        workers.emplace_back([&e] { e->run(); });
    }
    const bool tty = ::isatty(STDERR_FILENO) != 0;
    std::uint64_t last_responses = 0;
    auto last_at = start;
    auto next_print = start + std::chrono::seconds(1);
    for (;;) {
        const bool done = std::all_of(engines.begin(), engines.end(), [](const auto& e) { return e->progress.done.load(); });
        if (done) {
            break;
        }
        // Coarse polling of relaxed counters for a human-readable line; never a synchronisation.
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (o.progress && clock::now() >= next_print) {
            next_print += tty ? std::chrono::seconds(1) : std::chrono::seconds(10);
            print_progress(engines, start, sc.total, last_responses, last_at, tty);
        }
    }
    for (auto& w : workers) {
        w.join();
    }
    if (o.progress && tty) {
        std::fprintf(stderr, "\n");
    }

    surge_report r;
    r.sc = &sc;
    r.interrupted = interrupted();
    r.elapsed_seconds = std::chrono::duration<double>(clock::now() - start).count();
    r.line = timeline(static_cast<std::uint32_t>(sc.run.bucket.count()));
    std::uint32_t end_ms = 0;
    std::vector<visitor_record> merged;
    merged.reserve(sc.total);
    for (auto& e : engines) {
        r.traffic.merge(e->traffic());
        r.line.merge(e->line());
        end_ms = std::max(end_ms, e->end_ms());
        merged.insert(merged.end(), e->visitors().begin(), e->visitors().end());
        e->visitors().clear();
        e->visitors().shrink_to_fit();
    }
    r.line.resize_to(end_ms);
    for (const auto& b : r.line.buckets()) {
        r.peak_waiting = std::max<std::uint64_t>(r.peak_waiting, b.waiting);
    }
    r.figures = analyse(merged, sc, end_ms, o.fairness_tolerance_ms);
    r.visitors = std::move(merged);
    return r;
}

}  // namespace anteroom::bench
