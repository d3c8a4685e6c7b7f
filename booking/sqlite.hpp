#pragma once
// A thin RAII layer over SQLite's C API: the connection, cached prepared statements (reset and
// unbound when a borrow ends) and a transaction guard that rolls back unless committed.
// Failures are SQLite result codes; the store maps them to its error enum.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace anteroom::booking::sql {

// A prepared statement borrowed from the cache; binding is by 1-based index.
class stmt {
public:
    explicit stmt(sqlite3_stmt* s) : s_(s) {}
    ~stmt() {
        if (s_ != nullptr) {
            sqlite3_reset(s_);
            sqlite3_clear_bindings(s_);
        }
    }
    stmt(const stmt&) = delete;
    stmt& operator=(const stmt&) = delete;

    bool valid() const { return s_ != nullptr; }
    stmt& bind(int i, std::int64_t v) { sqlite3_bind_int64(s_, i, v); return *this; }
    stmt& bind(int i, std::string_view v) {
        sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    stmt& bind(int i, std::span<const std::uint8_t> v) {
        sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    stmt& bind_null(int i) { sqlite3_bind_null(s_, i); return *this; }
    // SQLITE_ROW, SQLITE_DONE or an error code.
    int step() { return s_ == nullptr ? SQLITE_MISUSE : sqlite3_step(s_); }
    std::int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
    bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
    std::string text(int col) const {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
        return p == nullptr ? std::string() : std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col)));
    }
    std::vector<std::uint8_t> blob(int col) const {
        const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(s_, col));
        return p == nullptr ? std::vector<std::uint8_t>() : std::vector<std::uint8_t>(p, p + sqlite3_column_bytes(s_, col));
    }

private:
    sqlite3_stmt* s_;
};

class connection {
public:
    explicit connection(sqlite3* db) : db_(db) {}
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    sqlite3* get() const { return db_; }
    // Connections of one process share a writer mutex, so their write transactions queue here
    // instead of in SQLite's busy handler (which sleeps in steps of milliseconds).
    void set_writer(std::shared_ptr<std::mutex> m) { writer_ = std::move(m); }
    std::mutex* writer() const { return writer_.get(); }
    // Statements are prepared once per connection and kept (keyed by the literal's address).
    stmt prepare(const char* sql);
    int exec(const char* sql) { return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); }

    // Group commit: one write transaction, holding the writer mutex, in which several requests
    // run one after another; each `transaction` inside it is a savepoint of its own. Nothing is
    // durable before end_batch(true).
    int begin_batch() {
        if (writer_) {
            batch_lock_ = std::unique_lock<std::mutex>(*writer_);
        }
        const int rc = exec("BEGIN IMMEDIATE");
        in_batch_ = rc == SQLITE_OK;
        if (!in_batch_ && batch_lock_.owns_lock()) {
            batch_lock_.unlock();
        }
        return rc;
    }
    bool in_batch() const { return in_batch_; }
    // False once SQLite has rolled the whole transaction back on its own (SQLITE_FULL, IOERR,
    // NOMEM …): the work of every request before is gone, not only the failing one's.
    bool batch_intact() const { return in_batch_ && sqlite3_get_autocommit(db_) == 0; }
    // Commits (or rolls back) and lets go of the writer mutex; SQLITE_OK only when committed.
    int end_batch(bool commit) {
        int rc = SQLITE_ABORT;
        if (sqlite3_get_autocommit(db_) == 0) {
            rc = commit ? exec("COMMIT") : exec("ROLLBACK");
            if (rc != SQLITE_OK && sqlite3_get_autocommit(db_) == 0) {
                exec("ROLLBACK");
            }
        }
        in_batch_ = false;
        if (batch_lock_.owns_lock()) {
            batch_lock_.unlock();
        }
        return commit ? rc : SQLITE_OK;
    }

private:
    sqlite3* db_;
    std::unordered_map<const char*, sqlite3_stmt*> cache_;
    std::shared_ptr<std::mutex> writer_;
    std::unique_lock<std::mutex> batch_lock_;
    bool in_batch_ = false;
};

// BEGIN IMMEDIATE takes the write lock up front, so the checks made inside cannot be outdated by
// another writer before COMMIT. The process's writer mutex is taken first and held to the end.
// Inside a group commit (connection::begin_batch) it is a savepoint instead: all or nothing for
// this request, durable with the batch.
class transaction {
public:
    explicit transaction(connection& c)
        : nested_(c.in_batch()),
          lock_(!nested_ && c.writer() != nullptr ? std::unique_lock<std::mutex>(*c.writer())
                                                  : std::unique_lock<std::mutex>()),
          c_(c),
          rc_(c.exec(nested_ ? "SAVEPOINT tx" : "BEGIN IMMEDIATE")) {}
    ~transaction() {
        if (rc_ == SQLITE_OK && !done_) {
            c_.exec(nested_ ? "ROLLBACK TO tx; RELEASE tx" : "ROLLBACK");
        }
    }
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;

    int begin_rc() const { return rc_; }
    int commit() {
        const int rc = c_.exec(nested_ ? "RELEASE tx" : "COMMIT");
        done_ = rc == SQLITE_OK;
        return rc;
    }

private:
    bool nested_;
    std::unique_lock<std::mutex> lock_;
    connection& c_;
    int rc_;
    bool done_ = false;
};

// A read transaction, so several SELECTs see one point in time; inside a transaction already
// (a group commit) it is that one.
class read_snapshot {
public:
    explicit read_snapshot(connection& c)
        : c_(c), own_(sqlite3_get_autocommit(c.get()) != 0), rc_(own_ ? c.exec("BEGIN") : SQLITE_OK) {}
    ~read_snapshot() { end(); }
    read_snapshot(const read_snapshot&) = delete;
    read_snapshot& operator=(const read_snapshot&) = delete;

    int begin_rc() const { return rc_; }
    void end() {
        if (own_ && rc_ == SQLITE_OK) {
            c_.exec("COMMIT");
        }
        own_ = false;
    }

private:
    connection& c_;
    bool own_;
    int rc_;
};

}  // namespace anteroom::booking::sql
