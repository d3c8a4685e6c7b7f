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

private:
    sqlite3* db_;
    std::unordered_map<const char*, sqlite3_stmt*> cache_;
    std::shared_ptr<std::mutex> writer_;
};

// BEGIN IMMEDIATE takes the write lock up front, so the checks made inside cannot be outdated by
// another writer before COMMIT. The process's writer mutex is taken first and held to the end.
class transaction {
public:
    explicit transaction(connection& c)
        : lock_(c.writer() != nullptr ? std::unique_lock<std::mutex>(*c.writer()) : std::unique_lock<std::mutex>()),
          c_(c),
          rc_(c.exec("BEGIN IMMEDIATE")) {}
    ~transaction() {
        if (rc_ == SQLITE_OK && !done_) {
            c_.exec("ROLLBACK");
        }
    }
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;

    int begin_rc() const { return rc_; }
    int commit() {
        const int rc = c_.exec("COMMIT");
        done_ = rc == SQLITE_OK;
        return rc;
    }

private:
    std::unique_lock<std::mutex> lock_;
    connection& c_;
    int rc_;
    bool done_ = false;
};

}  // namespace anteroom::booking::sql
