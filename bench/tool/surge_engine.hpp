#pragma once
// The surge engine's insides, shared by its two halves: surge_run.cpp (the scheduler, the
// connection pool, one request's exchange, the run itself) and surge_script.cpp (what each
// cohort does next after an answer). Only those two files include this.

#include <atomic>
#include <deque>
#include <memory>
#include <queue>
#include <unordered_map>

#include "bench/tool/cookie_jar.hpp"
#include "bench/tool/surge_challenge.hpp"
#include "bench/tool/net_errors.hpp"
#include "bench/tool/surge_http.hpp"
#include "bench/tool/surge_run.hpp"
#include "common/net.hpp"

namespace anteroom::bench::surge_detail {


using clock = std::chrono::steady_clock;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t response_header_limit = 16 * 1024;
constexpr std::size_t response_body_limit = 512 * 1024;
constexpr std::size_t read_buffer_limit = 64 * 1024;
constexpr auto tick_interval = std::chrono::milliseconds(2);

// Where a visitor's script stands (visitor_record::step).
enum step : std::uint8_t {
    s_visit, s_poll, s_landing, s_register, s_login, s_centres, s_appointments, s_book,
    s_challenge,  // submitting a challenge's solution (GET /_anteroom/challenge?…)
};

inline std::uint64_t splitmix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

inline bool keeps_cookies(cohort_kind k) { return k != cohort_kind::naive_flood && k != cohort_kind::cookie_dropper; }
inline bool visits_only(cohort_kind k) { return k == cohort_kind::naive_flood || k == cohort_kind::cookie_dropper; }

struct connection {
    explicit connection(net::io_context& ioc, std::uint32_t id) : sock(ioc), wake(ioc), buf(read_buffer_limit), id(id) {}
    tcp::socket sock;
    net::steady_timer wake;
    beast::flat_buffer buf;
    std::string out;
    std::uint32_t id;
    std::uint32_t addr = 0;  // the bound source address while open
    std::uint32_t visitor = no_slot;
    std::uint32_t due_ms = 0;
    clock::time_point deadline = clock::time_point::max();
    bool timed_out = false;
    bool idle = false;
    std::uint32_t idle_prev = no_slot;  // the pool's idle list, most recently idle first
    std::uint32_t idle_next = no_slot;
};

// What on_answer needs from a response.
struct answer {
    unsigned status = 0;
    std::string_view action;
    std::vector<std::string_view> set_cookies;
    std::string_view body;
};

// A challenge being solved or submitted, by visitor (only while it is).
struct pending_challenge {
    std::uint8_t back = s_visit;  // the step that was challenged, repeated once cleared
    std::string target;           // the form's GET target, once solved
};

struct progress_counters {
    std::atomic<std::uint64_t> arrived{0};
    std::atomic<std::uint64_t> waiting{0};
    std::atomic<std::uint64_t> admitted{0};
    std::atomic<std::uint64_t> responses{0};
    std::atomic<bool> done{false};
};

class engine {
public:
    // `visitors`: this thread's share, every `threads`-th visitor of the arrival order from
    // `index` on (so a visitor's global number is local * threads + index).
    engine(const scenario& sc, std::vector<visitor_record> visitors, unsigned index, unsigned threads,
           clock::time_point start)
        : sc_(sc),
          vis_(std::move(visitors)),
          index_(index),
          threads_(threads),
          start_(start),
          line_(static_cast<std::uint32_t>(sc.run.bucket.count())),
          ticker_(ioc_),
          room_prefix_ticket_("anteroom_ticket_" + sc.target.room + "="),
          room_prefix_pass_("anteroom_pass_" + sc.target.room + "="),
          status_target_(sc.target.status_path + "?room=" + sc.target.room) {
        conns_.reserve(sc.run.connections);
    }

    void run() {
        net::co_spawn(ioc_, tick(), net::detached);
        ioc_.run();
        progress.done.store(true);
    }

    std::vector<visitor_record>& visitors() { return vis_; }
    const timeline& line() const { return line_; }
    const surge_traffic& traffic() const { return traffic_; }
    std::uint32_t end_ms() const { return end_ms_; }
    progress_counters progress;

private:
    std::uint32_t now_ms() const {
        return static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start_).count());
    }
    // The global visitor number: its randomness and its target do not depend on the threads.
    std::uint64_t id(std::uint32_t i) const { return std::uint64_t{i} * threads_ + index_; }
    const cohort_spec& cohort_of(const visitor_record& v) const { return sc_.cohorts[v.cohort]; }
    const target_endpoint& endpoint_of(std::uint32_t i) const {
        return sc_.target.endpoints[id(i) % sc_.target.endpoints.size()];
    }
    std::uint64_t rnd(std::uint32_t i, std::uint64_t salt) const {
        return splitmix(sc_.seed ^ splitmix(id(i) * 0x100000001b3ULL + salt));
    }
    double unit(std::uint32_t i, std::uint64_t salt) const {
        return static_cast<double>(rnd(i, salt) >> 11) * 0x1p-53;
    }
    std::uint32_t think(std::uint32_t i) const {
        const auto& t = cohort_of(vis_[i]).think;
        const double lo = static_cast<double>(t.low.count());
        const double hi = static_cast<double>(t.high.count());
        return static_cast<std::uint32_t>(lo + (hi - lo) * unit(i, 0x7417 + vis_[i].requests));
    }

    // ---- the scheduler and the connection pool (surge_run.cpp) ----
    net::awaitable<void> tick();
    void arrive(std::uint32_t i);
    // A step forward (or the same step again after a good answer) clears the failure streak; a
    // retry keeps it.
    void schedule(std::uint32_t i, std::uint8_t next_step, std::uint32_t delay_ms, bool retry = false);
    void finish(std::uint32_t i, outcome o);
    void dispatch(std::uint32_t i, std::uint32_t due);
    void take_ready(connection& c);
    void link_idle(connection& c);
    void unlink_idle(connection& c);
    // Only ever called on a connection in use (idle ones are not in anybody's hands).
    void close(connection& c);
    bool open(connection& c, std::uint32_t addr);
    net::awaitable<void> run_connection(connection& c);
    // One request and its answer (with one silent retry on a fresh connection when a reused
    // keep-alive connection turns out closed before any byte came back, as browsers do).
    net::awaitable<void> exchange(connection& c);
    void cut_off(connection& c);
    void on_error(connection& c, std::uint32_t i, error_kind kind);
    // Enforces every connection's deadline (one sweep for all, no timer per request).
    void sweep(clock::time_point now);
    void shutdown();

    // ---- the visitors' scripts (surge_script.cpp) ----
    void build(std::uint32_t i, std::string& out);
    static std::array<std::string_view, 4> split_extra(std::string_view s);
    void set_extra(std::uint32_t i, const std::string& extra);
    void admit(std::uint32_t i);
    void first_answer(std::uint32_t i);
    void took_ticket(std::uint32_t i);
    void retry_or_fail(std::uint32_t i, outcome final);
    // After a pass: humans follow the page to the portal, bots go straight for the API.
    void after_admission(std::uint32_t i);
    void next_visit(std::uint32_t i);
    std::uint32_t poll_delay(std::uint32_t i, unsigned refresh_s);
    bool gives_up(std::uint32_t i);
    void on_answer(std::uint32_t i, const answer& a);
    void on_visit(std::uint32_t i, const answer& a, bool got_pass, bool waiting_answer);
    void on_poll(std::uint32_t i, const answer& a, const nlohmann::json& j, const std::optional<std::string>& state, bool got_pass);
    void on_booking(std::uint32_t i, const answer& a, const nlohmann::json& j);
    // Challenges (cohorts with solves_challenges): false when this one is not taken on (no
    // readable challenge, too hard, or the visitor's solves are used up).
    bool take_challenge(std::uint32_t i, std::string_view body, std::uint8_t back);
    void on_solved(std::uint32_t i, std::uint32_t due_ms, const std::optional<std::string>& form, std::uint64_t hashes,
                   std::uint64_t cpu_us);
    void on_challenge_answer(std::uint32_t i, const answer& a);

    const scenario& sc_;
    std::vector<visitor_record> vis_;
    unsigned index_;
    unsigned threads_;
    clock::time_point start_;
    net::io_context ioc_{1};
    timeline line_;
    surge_traffic traffic_;
    cookie_jar jar_;
    net::steady_timer ticker_;
    std::string room_prefix_ticket_;
    std::string room_prefix_pass_;
    std::string status_target_;

    std::priority_queue<std::uint64_t, std::vector<std::uint64_t>, std::greater<>> timers_;  // due << 32 | visitor
    // Requests waiting for a connection, oldest first, and the same by source address (sequence
    // numbers into ready_), so that a connection freed under saturation finds a request from
    // its own address at once instead of reconnecting. Entries taken out of order stay in
    // ready_ as `taken` until they reach its front.
    struct ready_entry {
        std::uint32_t visitor;
        std::uint32_t due;
        bool taken;
    };
    std::deque<ready_entry> ready_;
    std::uint64_t ready_base_ = 0;  // sequence number of ready_.front()
    std::size_t ready_count_ = 0;   // entries not taken
    std::unordered_map<std::uint32_t, std::deque<std::uint64_t>> ready_by_addr_;
    std::vector<std::unique_ptr<connection>> conns_;
    std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> idle_by_addr_;
    std::uint32_t idle_head_ = no_slot;
    std::uint32_t idle_tail_ = no_slot;

    std::size_t next_arrival_ = 0;
    std::uint64_t terminal_ = 0;
    std::uint64_t waiting_ = 0;
    std::uint64_t admitted_ = 0;
    std::uint32_t end_ms_ = 0;
    std::uint32_t last_waiting_bucket_ = 0;
    bool stopping_ = false;

    std::unordered_map<std::uint32_t, pending_challenge> challenges_;
    // Solving takes CPU (2^difficulty hashes): off the I/O thread, so latencies stay honest.
    // Declared last: destroyed (joined) first, while everything its work posts back to exists.
    std::atomic<bool> solver_stop_{false};
    net::thread_pool solver_{1};
};

}  // namespace anteroom::bench::surge_detail
