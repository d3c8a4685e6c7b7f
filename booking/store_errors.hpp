#pragma once
// Internal to the store's translation units: SQLite result codes as store errors, login checks.

#include "booking/sqlite.hpp"
#include "booking/store.hpp"

namespace anteroom::booking::detail {

// ok for SQLITE_OK/ROW/DONE; busy for BUSY/LOCKED; conflict for CONSTRAINT; io otherwise.
store_error from_sqlite(int rc);
// For a statement that must finish: ok on SQLITE_DONE only.
store_error done(int rc);
// Steps an UPDATE/DELETE of one row: not_found when it changed nothing.
store_error change_one(sql::stmt& s, sqlite3* db);
// For a query of exactly one row: ok on SQLITE_ROW, not_found on SQLITE_DONE.
store_error one_row(int rc);
// Steps a bound `SELECT id, salt, hash, iterations` and checks secret against the row in constant
// time; an unknown name costs a hash too and answers wrong_credentials like a wrong secret.
result<std::int64_t> check_login(sql::stmt& s, std::string_view secret, int iterations_if_unknown);

}  // namespace anteroom::booking::detail
