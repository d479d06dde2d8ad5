#include "runtime/store/sqlite_connection.h"

#include <cerrno>
#include <filesystem>
#include <string>

namespace gust {
namespace {

// What the operator must do, with the folder to look at. The writer stays usable: the
// failed batch rolled back, and the next one commits once space is free.
Error storageFull(sqlite3* db, const std::string& detail) {
  const char* file = db != nullptr ? sqlite3_db_filename(db, "main") : nullptr;
  std::string dir = file != nullptr && *file != '\0' ? std::filesystem::path(file).parent_path().string() : "";
  return makeError(ErrorKind::kStorageFull, "the host's disk is full; free space on " +
                                                (dir.empty() ? std::string("the data dir") : dir) +
                                                " (writes resume by themselves once there is room) [" + detail + "]");
}

}  // namespace

Error sqliteError(sqlite3* db, int code, std::string_view what) {
  std::string message = "sqlite: ";
  message += what;
  message += ": ";
  // sqlite3_errmsg describes the most recent failure on `db`, which is the one we report
  // when the caller passes the code it just got; fall back to the generic text otherwise.
  if (db != nullptr && sqlite3_extended_errcode(db) == code) {
    message += sqlite3_errmsg(db);
  } else {
    message += sqlite3_errstr(code);
  }
  // A full disk comes as SQLITE_FULL, or as an I/O error whose errno is ENOSPC (the WAL
  // index, a temporary file).
  if ((code & 0xff) == SQLITE_FULL ||
      ((code & 0xff) == SQLITE_IOERR && db != nullptr && sqlite3_system_errno(db) == ENOSPC)) {
    return storageFull(db, message);
  }
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      message += " (another process holds the database; is a second gust using the same data dir?)";
      return makeError(ErrorKind::kUnavailable, std::move(message));
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return makeError(ErrorKind::kIo, std::move(message));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      message += " (the database file is damaged or is not a SQLite database)";
      return makeError(ErrorKind::kIo, std::move(message));
    default:
      return makeError(ErrorKind::kInternal, std::move(message));
  }
}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Statement& Statement::bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::bindText(int index, std::string_view value) {
  // SQLITE_TRANSIENT: SQLite copies, so the caller's buffer may die before step().
  int rc = sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::bindBlob(int index, std::string_view value) {
  // An empty view may have a null data(); SQLite would store NULL for a null pointer, so
  // point at a static byte to keep "empty blob" distinct from NULL.
  static const char kEmpty = 0;
  const char* data = value.empty() ? &kEmpty : value.data();
  int rc = sqlite3_bind_blob64(stmt_, index, data, value.size(), SQLITE_TRANSIENT);
  if (bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::bindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

Result<bool> Statement::step() {
  sqlite3* db = sqlite3_db_handle(stmt_);
  if (bind_error_ != SQLITE_OK) return sqliteError(db, bind_error_, std::string("bind ") + sqlite3_sql(stmt_));
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqliteError(db, rc, sqlite3_sql(stmt_));
}

Result<void> Statement::run() {
  while (true) {
    auto row = step();
    if (!row.ok()) return row.error();
    if (!*row) return {};
  }
}

int64_t Statement::integer(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::text(int column) const {
  const auto* data = sqlite3_column_text(stmt_, column);
  if (data == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(data), static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::string Statement::blob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  if (data == nullptr) return {};
  return std::string(static_cast<const char*>(data), static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

bool Statement::isNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::open(const std::filesystem::path& path,
                                                                 Synchronous synchronous, int busy_timeout_ms) {
  sqlite3* db = nullptr;
  // NOMUTEX: one thread uses the connection at a time (the writer hands it over under a
  // lock), so SQLite's own per-call mutex would be pure cost.
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    Error error = sqliteError(db, rc, "open " + path.string());
    sqlite3_close(db);
    return error;
  }
  std::unique_ptr<SqliteConnection> connection(new SqliteConnection(db, path));
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);

  // journal_mode answers with the mode it ended up in; a filesystem without shared memory
  // support (some network mounts) silently stays in "delete", which we refuse: WAL is what
  // lets a commit cost one fsync.
  auto mode = connection->prepare("PRAGMA journal_mode=WAL");
  if (!mode.ok()) return mode.error();
  auto row = mode->step();
  if (!row.ok()) return row.error();
  std::string got = *row ? mode->text(0) : std::string();
  if (got != "wal") {
    return makeError(ErrorKind::kIo, "sqlite: " + path.string() + " cannot use WAL journaling (got '" + got +
                                         "'); put the data dir on a local filesystem");
  }
  auto done = mode->run();
  if (!done.ok()) return done.error();

  const char* sync = synchronous == Synchronous::kFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
  if (auto r = connection->exec(sync); !r.ok()) return r.error();
  if (auto r = connection->exec("PRAGMA temp_store=MEMORY"); !r.ok()) return r.error();
  return connection;
}

SqliteConnection::~SqliteConnection() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  statements_.clear();
  // Every statement is finalized, so close cannot fail with SQLITE_BUSY.
  sqlite3_close(db_);
}

Result<Statement> SqliteConnection::prepare(std::string_view sql) {
  auto it = statements_.find(std::string(sql));
  if (it != statements_.end()) return Statement(it->second);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) return sqliteError(db_, rc, "prepare " + std::string(sql));
  statements_.emplace(std::string(sql), stmt);
  return Statement(stmt);
}

Result<void> SqliteConnection::exec(const char* sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
  sqlite3_free(message);  // the same text sqlite3_errmsg gives, which sqliteError reads
  if (rc != SQLITE_OK) return sqliteError(db_, rc, sql);
  return {};
}

}  // namespace gust
