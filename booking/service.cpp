#include "booking/service.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "booking/web.hpp"
#include "common/keyfile.hpp"
#include "common/log.hpp"
#include "common/simple_server.hpp"

namespace anteroom::booking {

namespace {

unix_seconds system_now() { return std::time(nullptr); }

// One queued request. execute() runs it on a worker with that worker's store; complete() posts
// the answer to the connection's executor. Inside a group commit the two are apart: answers go
// out only after the batch has committed.
struct job {
    virtual ~job() = default;
    // db is null when the pool is stopping or full: the request then gets its 503.
    virtual void execute(store* db) = 0;
    virtual void complete() = 0;
    bool shares_commit = false;
    std::uint64_t seq = 0;  // arrival order across both queues
};

template <class Handler>
struct request_job final : job {
    request_job(simple_request r, const web_settings& s, Handler h)
        : req(std::move(r)), settings(s), handler(std::move(h)) {}

    void execute(store* db) override {
        res.reset();
        if (db != nullptr) {
            res.emplace(dispatch(all_routes(), req, *db, settings));
        }
    }
    void complete() override {
        auto ex = net::get_associated_executor(handler);
        net::post(ex, [h = std::move(handler), r = std::move(res)]() mutable { std::move(h)(std::move(r)); });
    }

    simple_request req;
    const web_settings& settings;
    Handler handler;
    std::optional<simple_response> res;
};

// SQLite workers, one store each. Requests queue in arrival order; a worker takes the oldest.
// Short writes (route::shares_commit) queue apart: the worker that takes one takes every such
// write queued (up to max_batch) and runs them in one transaction, each in a savepoint of its
// own, then answers them all after one COMMIT (group commit). One batch runs at a time, the
// others' writes queue behind it meanwhile, so the batch grows with the load. Reads and other
// writes go on beside it on the other workers.
class worker_pool {
public:
    struct stats {
        counter* batches = nullptr;        // group commits
        counter* batched_writes = nullptr; // requests answered by them
        gauge* waiting = nullptr;          // queued, not yet taken by a worker
        gauge* running = nullptr;          // taken by a worker, not yet answered
    };

    worker_pool(std::size_t max_queue, std::size_t max_batch, stats s)
        : max_queue_(max_queue), max_batch_(std::max<std::size_t>(max_batch, 1)), stats_(s) {}

    void start(std::vector<std::unique_ptr<store>> stores) {
        for (auto& s : stores) {
            threads_.emplace_back([this, db = std::move(s)] { loop(*db); });
        }
    }

    // Queues the job; when the queue is full or the pool is stopping it answers the job at once
    // without a store (a request then gets its 503) and returns false.
    bool submit(std::unique_ptr<job> j) {
        {
            std::lock_guard lock(mu_);
            if (!stopping_ && queue_.size() + writes_.size() < max_queue_) {
                j->seq = next_seq_++;
                (j->shares_commit ? writes_ : queue_).push_back(std::move(j));
                count_waiting();
            }
        }
        if (j) {
            j->execute(nullptr);
            j->complete();
            return false;
        }
        cv_.notify_one();
        return true;
    }

    // Runs fn(store&) on a worker for the control jobs (retention).
    template <class Fn>
    bool submit_fn(Fn fn) {
        struct fn_job final : job {
            explicit fn_job(Fn f) : f(std::move(f)) {}
            void execute(store* db) override {
                if (db != nullptr) {
                    f(*db);
                }
            }
            void complete() override {}
            Fn f;
        };
        return submit(std::make_unique<fn_job>(std::move(fn)));
    }

    void stop() {
        {
            std::lock_guard lock(mu_);
            stopping_ = true;
        }
        cv_.notify_all();
        for (auto& t : threads_) {
            if (t.joinable()) {
                t.join();
            }
        }
        threads_.clear();
    }

private:
    void loop(store& db) {
        std::vector<std::unique_ptr<job>> batch;
        batch.reserve(max_batch_);
        for (;;) {
            std::unique_ptr<job> one;
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [&] {
                    return !queue_.empty() || (!writes_.empty() && !batching_) || (stopping_ && writes_.empty());
                });
                const bool batch_ready = !writes_.empty() && !batching_;
                if (batch_ready && (queue_.empty() || writes_.front()->seq < queue_.front()->seq)) {
                    batching_ = true;
                    while (!writes_.empty() && batch.size() < max_batch_) {
                        batch.push_back(std::move(writes_.front()));
                        writes_.pop_front();
                    }
                } else if (!queue_.empty()) {
                    one = std::move(queue_.front());
                    queue_.pop_front();
                } else {
                    return;  // stopping, and everything queued is done
                }
                count_waiting();
            }
            if (one) {
                stats_.running->add(1);
                one->execute(&db);
                stats_.running->add(-1);  // before the answer goes out
                one->complete();
                continue;
            }
            run_batch(db, batch);
            batch.clear();
            {
                std::lock_guard lock(mu_);
                batching_ = false;
            }
            cv_.notify_all();
        }
    }

    // Answers only after COMMIT. If SQLite rolled the batch back on its own, or COMMIT failed,
    // nothing of it was kept: each request then runs again alone, as it would have without
    // group commit, and gets that answer.
    void run_batch(store& db, std::vector<std::unique_ptr<job>>& batch) {
        const auto n = static_cast<std::int64_t>(batch.size());
        stats_.running->add(n);
        bool committed = false;
        if (batch.size() > 1 && db.begin_batch() == store_error::ok) {
            bool intact = true;
            for (auto& j : batch) {
                j->execute(&db);
                if (!db.batch_intact()) {
                    intact = false;
                    break;
                }
            }
            committed = db.end_batch(intact) == store_error::ok && intact;
        }
        if (committed) {
            stats_.batches->inc();
            stats_.batched_writes->inc(batch.size());
        } else {
            for (auto& j : batch) {
                j->execute(&db);
            }
        }
        stats_.running->add(-n);  // before the answers go out
        for (auto& j : batch) {
            j->complete();
        }
    }

    void count_waiting() { stats_.waiting->set(static_cast<std::int64_t>(queue_.size() + writes_.size())); }  // under mu_

    std::size_t max_queue_;
    std::size_t max_batch_;
    stats stats_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<job>> queue_;
    std::deque<std::unique_ptr<job>> writes_;
    std::uint64_t next_seq_ = 0;
    bool batching_ = false;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace

store_options options_from(const booking_config& b) {
    store_options o;
    o.capacity.doses_per_vial = b.doses_per_vial;
    o.capacity.hotline.type =
        b.hotline_percent ? hotline_contingent::kind::percent : hotline_contingent::kind::absolute;
    o.capacity.hotline.value = b.hotline_contingent;
    o.capacity.hotline.release_before_s = b.hotline_release_before.count() / 1000;
    o.retention.unbooked_months = b.retention_unbooked_months;
    o.retention.after_vaccination_days = b.retention_after_vaccination_days;
    o.fsync_each_commit = b.fsync_each_commit;
    o.pin_iterations = static_cast<int>(b.pin_iterations);
    o.second_appointment_days = b.second_appointment_days;
    return o;
}

std::string database_path(const config& c) {
    const std::filesystem::path db(c.booking.database);
    return db.is_absolute() ? db.string() : (std::filesystem::path(c.state_dir) / db).string();
}

result<std::unique_ptr<store>> open_configured(const config& c, std::string& err, std::shared_ptr<std::mutex> writer) {
    const std::string path = database_path(c);
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    if (ec) {
        err = "booking database directory for " + path + ": " + ec.message();
        return {store_error::io};
    }
    const bool created = !std::filesystem::exists(path, ec);
    auto o = options_from(c.booking);
    o.writer = std::move(writer);
    auto s = store::open(path, o);
    if (!s.ok()) {
        err = "booking database " + path + ": " + std::string(to_string(s.error));
        return s;
    }
    auto& db = *s.value;
    for (const auto& cc : c.booking.centres) {
        centre x{0, cc.name, {cc.opens_minute, cc.closes_minute, cc.slot_minutes}, cc.open_days};
        if (auto r = db.upsert_centre(x); !r.ok()) {
            err = "booking centre \"" + cc.name + "\": " + std::string(to_string(r.error));
            return {r.error};
        }
    }
    if (created) {
        for (const auto g : c.booking.open_groups) {
            (void)db.set_group_open(g, true);
        }
        if (c.booking.demo_vials_per_day > 0) {
            // Demo stock so a fresh `make run` has appointments to book (conf/anteroom.toml).
            const unix_seconds now = system_now();
            auto cs = db.centres();
            for (const auto& x : cs.value) {
                for (day_number d = day_of(now); d < day_of(now) + 14; ++d) {
                    if (x.opens_on(d)) {
                        (void)db.record_delivery(x.id, d, c.booking.demo_vials_per_day, now);
                    }
                }
            }
        }
        ANTEROOM_LOG(log_level::info, "booking", "created database " + path);
    }
    return s;
}

// The booking service's Prometheus series: answers by status class and latency (queue wait
// included), requests in the service, 503s for a full queue, and what people did — counted
// from successful answers of the routes, so the store stays free of metrics.
struct booking_metrics {
    explicit booking_metrics(metrics_registry& m) {
        static constexpr std::array<const char*, 5> classes{"1xx", "2xx", "3xx", "4xx", "5xx"};
        for (std::size_t i = 0; i < classes.size(); ++i) {
            answers[i] = &m.get_counter("anteroom_booking_requests_total", "Booking backend answers by status class",
                                        std::string("class=\"") + classes[i] + "\"");
        }
        latency = &m.get_histogram("anteroom_booking_request_seconds",
                                   "Booking backend request time, from parsed request to answer (queue wait included)");
        in_service = &m.get_gauge("anteroom_booking_queue_depth",
                                  "Booking requests queued for or being handled by the SQLite workers");
        rejected = &m.get_counter("anteroom_booking_rejected_total", "Booking requests answered 503 because the queue was full");
        booked_online = &m.get_counter("anteroom_booking_appointments_booked_total",
                                       "Successful bookings and rebookings (a first and second appointment booked together count once)",
                                       "channel=\"online\"");
        booked_hotline = &m.get_counter("anteroom_booking_appointments_booked_total",
                                        "Successful bookings and rebookings (a first and second appointment booked together count once)",
                                        "channel=\"hotline\"");
        cancelled = &m.get_counter("anteroom_booking_appointments_cancelled_total",
                                   "Appointments cancelled or given up by a rebooking (back in the pool at once)");
        registrations = &m.get_counter("anteroom_booking_registrations_total", "Registrations (online and hotline)");
        batches = &m.get_counter("anteroom_booking_write_batches_total",
                                 "Group commits: short writes (book, rebook, cancel) answered after one shared COMMIT");
        batched_writes = &m.get_counter("anteroom_booking_batched_writes_total",
                                        "Requests answered by group commits (divided by the batches: the mean batch size)");
        waiting = &m.get_gauge("anteroom_booking_queue_waiting",
                               "Booking requests queued and not yet taken by a SQLite worker (max_queue bounds them)");
        running = &m.get_gauge("anteroom_booking_queue_running",
                               "Booking requests a SQLite worker has taken and not yet answered");
    }

    void count(http::verb method, std::string_view target, unsigned status) {
        answers[std::min<unsigned>(status / 100, 5) - 1]->inc();
        if (status < 200 || status >= 300) {
            return;
        }
        const std::string_view path = target.substr(0, target.find('?'));
        const bool post = method == http::verb::post;
        if (post && path == "/api/bookings") {
            booked_online->inc();
        } else if (post && path == "/api/hotline/bookings") {
            booked_hotline->inc();
        } else if (method == http::verb::put && path.starts_with("/api/bookings/")) {
            booked_online->inc();
            cancelled->inc();
        } else if (method == http::verb::delete_ &&
                   (path.starts_with("/api/bookings/") || path.starts_with("/api/hotline/bookings/"))) {
            cancelled->inc();
        } else if (post && (path == "/api/registrations" || path == "/api/hotline/registrations")) {
            registrations->inc();
        }
    }

    std::array<counter*, 5> answers{};
    histogram* latency = nullptr;
    gauge* in_service = nullptr;
    counter* rejected = nullptr;
    counter* booked_online = nullptr;
    counter* booked_hotline = nullptr;
    counter* cancelled = nullptr;
    counter* registrations = nullptr;
    counter* batches = nullptr;
    counter* batched_writes = nullptr;
    gauge* waiting = nullptr;
    gauge* running = nullptr;
};

struct service::impl {
    std::shared_ptr<const config> cfg;
    metrics_registry own_metrics;  // when the caller passes none
    std::unique_ptr<booking_metrics> stats;
    web_settings settings;
    net::io_context ioc{1};
    std::unique_ptr<worker_pool> pool;
    std::unique_ptr<simple_server> server;
    std::unique_ptr<net::steady_timer> retention_timer;
    std::thread io_thread;
    bool stopped = false;

    net::awaitable<simple_response> handle(simple_request req, tcp::endpoint) {
        const auto start = std::chrono::steady_clock::now();
        const http::verb method = req.method();
        const std::string target(req.target());
        stats->in_service->add(1);
        simple_response out = co_await run(std::move(req));
        stats->in_service->add(-1);
        stats->count(method, target, out.result_int());
        stats->latency->observe_us(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count()));
        co_return out;
    }

    net::awaitable<simple_response> run(simple_request req) {
        auto res = co_await net::async_initiate<decltype(net::use_awaitable), void(std::optional<simple_response>)>(
            [this](auto handler, simple_request r) {
                using H = decltype(handler);
                const bool shares = cfg->booking.write_batch > 1 && shares_commit(all_routes(), r);
                auto j = std::make_unique<request_job<H>>(std::move(r), settings, std::move(handler));
                j->shares_commit = shares;
                pool->submit(std::move(j));
            },
            net::use_awaitable, std::move(req));
        if (!res) {
            stats->rejected->inc();
            co_return json_error(http::status::service_unavailable, "busy",
                                 "The booking service is overloaded; please try again in a moment.");
        }
        co_return std::move(*res);
    }

    void schedule_retention() {
        retention_timer->expires_after(cfg->booking.retention_interval);
        retention_timer->async_wait([this](const beast::error_code& ec) {
            if (ec) {
                return;
            }
            const unix_seconds now = settings.clock();
            pool->submit_fn([now](store& db) {
                auto r = db.run_retention(now);
                if (!r.ok()) {
                    ANTEROOM_LOG(log_level::warn, "booking", "retention failed: " + std::string(to_string(r.error)));
                } else if (r.value.unbooked_deleted + r.value.vaccinated_deleted > 0) {
                    // Counts only: never who.
                    ANTEROOM_LOG(log_level::info, "booking",
                                 "retention deleted " + std::to_string(r.value.unbooked_deleted) +
                                     " registrations without appointment and " +
                                     std::to_string(r.value.vaccinated_deleted) + " after vaccination");
                }
            });
            schedule_retention();
        });
    }
};

std::unique_ptr<service> service::start(const options& o, std::string& err) {
    std::unique_ptr<service> svc(new service());
    svc->impl_ = std::make_unique<impl>();
    auto& d = *svc->impl_;
    d.cfg = o.cfg;
    d.stats = std::make_unique<booking_metrics>(o.metrics != nullptr ? *o.metrics : d.own_metrics);
    const auto& b = o.cfg->booking;
    d.settings.clock = o.clock ? o.clock : system_now;
    d.settings.session_ttl_s = b.session_ttl.count() / 1000;
    d.settings.cookie_secure = b.cookie_secure;
    d.settings.doses_per_vial = b.doses_per_vial;
    if (!b.admin_token_file.empty()) {
        auto token = read_token_file(b.admin_token_file, "booking.admin_token_file", err);
        if (!token) {
            return nullptr;
        }
        d.settings.admin_token = std::move(*token);
    }
    auto writer = std::make_shared<std::mutex>();
    std::vector<std::unique_ptr<store>> stores;
    for (unsigned i = 0; i < b.threads; ++i) {
        auto s = i == 0 ? open_configured(*o.cfg, err, writer) : store::open(database_path(*o.cfg), [&] {
            auto so = options_from(b);
            so.writer = writer;
            return so;
        }());
        if (!s.ok()) {
            if (err.empty()) {
                err = "booking database " + database_path(*o.cfg) + ": " + std::string(to_string(s.error));
            }
            return nullptr;
        }
        stores.push_back(std::move(s.value));
    }
    d.pool = std::make_unique<worker_pool>(b.max_queue, b.write_batch,
                                           worker_pool::stats{d.stats->batches, d.stats->batched_writes, d.stats->waiting, d.stats->running});
    d.pool->start(std::move(stores));

    simple_server_limits limits;
    limits.max_body = 64 * 1024;
    limits.max_connections = b.max_connections;
    limits.timeout = std::chrono::seconds(30);
    limits.json_errors = true;
    impl* self = &d;
    d.server = std::make_unique<simple_server>(
        d.ioc, simple_async_handler([self](simple_request r, tcp::endpoint peer) { return self->handle(std::move(r), peer); }),
        limits);
    const tcp::endpoint ep(net::ip::make_address(b.listen.host), b.listen.port);
    std::string lerr;
    if (!d.server->listen(ep, lerr)) {
        err = "booking listener " + b.listen.text() + ": " + lerr;
        d.pool->stop();
        return nullptr;
    }
    d.retention_timer = std::make_unique<net::steady_timer>(d.ioc);
    d.schedule_retention();
    d.io_thread = std::thread([self] { self->ioc.run(); });
    return svc;
}

service::~service() { stop(); }

tcp::endpoint service::local_endpoint() const { return impl_->server->local_endpoint(); }

void service::stop() {
    if (!impl_ || impl_->stopped) {
        return;
    }
    impl_->stopped = true;
    impl_->server->close();
    net::post(impl_->ioc, [t = impl_->retention_timer.get()] { t->cancel(); });
    impl_->pool->stop();  // finishes what is queued; its answers are posted to the I/O thread
    impl_->ioc.stop();
    if (impl_->io_thread.joinable()) {
        impl_->io_thread.join();
    }
}

}  // namespace anteroom::booking
