#pragma once
// One SQLite connection with its prepared statements cached by SQL text, and the mapping of
// SQLite's result codes to ErrorKind. Owning thread: whichever thread holds it; the
// SqliteWriter hands its connection to the writer thread and nobody else touches it after.
// Not copyable, not movable (statements point into it).

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "runtime/base/result.h"

namespace gust {

// SQLite's code as an Error: busy/locked → kUnavailable, full/io/cantopen/readonly → kIo,
// corrupt/notadb → kIo with a message saying so, the rest → kInternal. `what` names the
// operation ("insert message"); the message carries SQLite's own text.
Error sqliteError(sqlite3* db, int code, std::string_view what);

// A cached prepared statement borrowed for one use: bind, step, read columns. Resets the
// statement and clears its bindings when it goes out of scope, so a job can never leave a
// statement half-stepped (which would pin a read snapshot). A bind that fails is reported
// by the next step()/run(), so call sites chain binds without checking each.
class Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Statement();
  Statement(Statement&& other) noexcept : stmt_(other.stmt_), bind_error_(other.bind_error_) { other.stmt_ = nullptr; }
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based, as in SQLite.
  Statement& bind(int index, int64_t value);
  Statement& bindText(int index, std::string_view value);
  Statement& bindBlob(int index, std::string_view value);
  Statement& bindNull(int index);

  // True when a row is ready to read, false when the statement is done.
  Result<bool> step();
  // Steps until done; for statements that return no rows.
  Result<void> run();

  // Columns are 0-based, as in SQLite. text()/blob() of NULL are empty.
  int64_t integer(int column) const;
  std::string text(int column) const;
  std::string blob(int column) const;
  bool isNull(int column) const;

 private:
  sqlite3_stmt* stmt_;
  int bind_error_ = SQLITE_OK;
};

class SqliteConnection {
 public:
  enum class Synchronous { kFull, kNormal };

  // Opens (creating if missing) the database at `path` in WAL mode with the given
  // synchronous level and busy timeout. Fails with a message naming the file.
  static Result<std::unique_ptr<SqliteConnection>> open(const std::filesystem::path& path, Synchronous synchronous,
                                                       int busy_timeout_ms);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // The cached statement for `sql`, prepared on first use. `sql` is one statement.
  Result<Statement> prepare(std::string_view sql);
  // Runs one or more statements without caching (schema changes, pragmas).
  Result<void> exec(const char* sql);

  // Rows changed by the last INSERT/UPDATE/DELETE.
  int64_t changes() const { return sqlite3_changes64(db_); }
  bool inTransaction() const { return sqlite3_get_autocommit(db_) == 0; }
  sqlite3* db() const { return db_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  SqliteConnection(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_;
  std::filesystem::path path_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

}  // namespace gust
