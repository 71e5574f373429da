// A thin RAII layer over the SQLite C API: one connection, prepared statements with positional
// binding, cursors that reset their statement when dropped (an unreset SELECT would pin a WAL
// read snapshot and block checkpoints), and a transaction guard that rolls back on exceptions.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace parley::server {

/// A failed SQLite call; what() carries SQLite's message.
class store_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One open database connection.
class sqlite_db {
 public:
  /// Opens or creates `path` (":memory:" for a private in-memory database).
  explicit sqlite_db(const std::string& path);
  ~sqlite_db();
  sqlite_db(const sqlite_db&) = delete;
  sqlite_db& operator=(const sqlite_db&) = delete;

  /// Runs SQL without results (schema, pragmas).
  void exec(const char* sql);
  sqlite3* handle() const { return db_; }

  /// BEGIN IMMEDIATE, COMMIT and ROLLBACK, prepared once: every stored message is one
  /// transaction, and sqlite3_exec would parse each of these again every time.
  void begin() { step(begin_); }
  void commit() { step(commit_); }
  /// Never throws (it runs from a destructor).
  void rollback() noexcept;

 private:
  sqlite3_stmt* prepare(const char* sql);
  void step(sqlite3_stmt* statement);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* rollback_ = nullptr;
};

class sqlite_statement;

/// Rows of one execution of a statement; resets the statement when destroyed.
class sqlite_cursor {
 public:
  explicit sqlite_cursor(sqlite_statement& statement) : statement_(&statement) {}
  sqlite_cursor(sqlite_cursor&& other) noexcept : statement_(other.statement_) {
    other.statement_ = nullptr;
  }
  sqlite_cursor& operator=(sqlite_cursor&&) = delete;
  ~sqlite_cursor();

  /// Advances to the next row; false when there are no more.
  bool next();
  std::uint64_t u64(int column) const;
  std::string text(int column) const;

 private:
  sqlite_statement* statement_;
};

/// A prepared statement, reused for every execution.
class sqlite_statement {
 public:
  sqlite_statement(sqlite_db& db, const char* sql);
  ~sqlite_statement();
  sqlite_statement(const sqlite_statement&) = delete;
  sqlite_statement& operator=(const sqlite_statement&) = delete;

  /// Binds the arguments to ?1, ?2, ... and returns a cursor over the result rows.
  template <class... Args>
  sqlite_cursor query(const Args&... args) {
    [[maybe_unused]] int index = 0;
    (bind_value(++index, args), ...);
    return sqlite_cursor(*this);
  }

  /// Binds the arguments and runs the statement to completion (INSERT/UPDATE/DELETE).
  template <class... Args>
  void run(const Args&... args) {
    auto cursor = query(args...);
    while (cursor.next()) {
    }
  }

  /// Rows changed by the last run.
  std::uint64_t changes() const;

 private:
  friend class sqlite_cursor;
  template <class T>
  void bind_value(int index, const T& value) {
    if constexpr (std::is_convertible_v<const T&, std::string_view>) {
      bind_text(index, value);
    } else {
      static_assert(std::is_integral_v<T>, "bind text or integers");
      bind_integer(index, static_cast<std::uint64_t>(value));
    }
  }
  void bind_text(int index, std::string_view value);
  void bind_integer(int index, std::uint64_t value);
  void fail(const char* what) const;

  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

/// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() was called.
class sqlite_transaction {
 public:
  explicit sqlite_transaction(sqlite_db& db);
  ~sqlite_transaction();
  sqlite_transaction(const sqlite_transaction&) = delete;
  sqlite_transaction& operator=(const sqlite_transaction&) = delete;
  void commit();

 private:
  sqlite_db& db_;
  bool done_ = false;
};

}  // namespace parley::server
