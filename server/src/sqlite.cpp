#include "sqlite.hpp"

namespace parley::server {

sqlite_db::sqlite_db(const std::string& path) {
  // NOMUTEX: the server touches the store from its one thread only.
  const int rc = sqlite3_open_v2(path.c_str(), &db_,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    throw store_error("open " + path + ": " + message);
  }
  try {
    begin_ = prepare("BEGIN IMMEDIATE");
    commit_ = prepare("COMMIT");
    rollback_ = prepare("ROLLBACK");
  } catch (...) {
    for (sqlite3_stmt* statement : {begin_, commit_, rollback_}) sqlite3_finalize(statement);
    sqlite3_close(db_);
    throw;
  }
}

sqlite_db::~sqlite_db() {
  for (sqlite3_stmt* statement : {begin_, commit_, rollback_}) sqlite3_finalize(statement);
  sqlite3_close_v2(db_);
}

sqlite3_stmt* sqlite_db::prepare(const char* sql) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) != SQLITE_OK) {
    throw store_error(std::string("prepare: ") + sqlite3_errmsg(db_) + " in " + sql);
  }
  return statement;
}

void sqlite_db::step(sqlite3_stmt* statement) {
  const int rc = sqlite3_step(statement);
  sqlite3_reset(statement);
  if (rc != SQLITE_DONE) {
    throw store_error(std::string(sqlite3_sql(statement)) + ": " + sqlite3_errmsg(db_));
  }
}

void sqlite_db::rollback() noexcept {
  sqlite3_step(rollback_);
  sqlite3_reset(rollback_);
}

void sqlite_db::exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    throw store_error(std::string(sql).substr(0, 40) + ": " + text);
  }
}

sqlite_statement::sqlite_statement(sqlite_db& db, const char* sql) : db_(db.handle()) {
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK) {
    throw store_error(std::string("prepare: ") + sqlite3_errmsg(db_) + " in " + sql);
  }
}

sqlite_statement::~sqlite_statement() { sqlite3_finalize(stmt_); }

std::uint64_t sqlite_statement::changes() const {
  return static_cast<std::uint64_t>(sqlite3_changes(db_));
}

void sqlite_statement::bind_text(int index, std::string_view value) {
  if (sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                        SQLITE_TRANSIENT) != SQLITE_OK) {
    fail("bind");
  }
}

void sqlite_statement::bind_integer(int index, std::uint64_t value) {
  // Every number Parley stores (seq, epoch, ms timestamps) stays below 2^53.
  if (sqlite3_bind_int64(stmt_, index, static_cast<sqlite3_int64>(value)) != SQLITE_OK) {
    fail("bind");
  }
}

void sqlite_statement::fail(const char* what) const {
  throw store_error(std::string(what) + ": " + sqlite3_errmsg(db_) + " in " + sqlite3_sql(stmt_));
}

sqlite_cursor::~sqlite_cursor() {
  if (statement_ != nullptr) {
    sqlite3_reset(statement_->stmt_);
    sqlite3_clear_bindings(statement_->stmt_);
  }
}

bool sqlite_cursor::next() {
  const int rc = sqlite3_step(statement_->stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  statement_->fail("step");
  return false;
}

std::uint64_t sqlite_cursor::u64(int column) const {
  return static_cast<std::uint64_t>(sqlite3_column_int64(statement_->stmt_, column));
}

std::string sqlite_cursor::text(int column) const {
  const auto* data = sqlite3_column_text(statement_->stmt_, column);
  const int size = sqlite3_column_bytes(statement_->stmt_, column);
  return data ? std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(size))
              : std::string();
}

sqlite_transaction::sqlite_transaction(sqlite_db& db) : db_(db) { db_.begin(); }

sqlite_transaction::~sqlite_transaction() {
  // Rolling back after a failed statement must not throw out of a destructor.
  if (!done_) db_.rollback();
}

void sqlite_transaction::commit() {
  db_.commit();
  done_ = true;
}

}  // namespace parley::server
