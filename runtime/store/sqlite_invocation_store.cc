// GCC 12 reports a bogus -Wmaybe-uninitialized when moving a std::variant holding a large
// struct (GCC bug 80635, the std::optional/variant false positive); it fires inside
// result.h for Result<AsyncInvocation>. Silenced for this file only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "runtime/store/sqlite_invocation_store.h"

#include <string>

#include "runtime/store/sqlite_schema.h"
#include "runtime/store/stored_strings.h"

namespace gust {
namespace {

using std::chrono::milliseconds;

constexpr Migration kInvocationMigrations[] = {
    {1,
     "CREATE TABLE async_invocations ("
     "  id TEXT PRIMARY KEY,"
     "  app TEXT NOT NULL,"
     "  function TEXT NOT NULL,"
     "  status TEXT NOT NULL,"
     "  attempts INTEGER NOT NULL,"
     "  method TEXT NOT NULL,"
     "  path TEXT NOT NULL,"
     "  query TEXT NOT NULL,"
     "  request_headers BLOB NOT NULL,"
     "  request_body BLOB NOT NULL,"
     "  callback_url TEXT NOT NULL,"
     "  idempotency_key TEXT,"  // NULL when none, or once its window passed
     "  response_status INTEGER,"  // NULL until there is a response
     "  response_headers BLOB,"
     "  response_body BLOB,"
     "  error TEXT NOT NULL,"
     "  created_at INTEGER NOT NULL,"
     "  updated_at INTEGER NOT NULL,"
     "  expires_at INTEGER NOT NULL"
     ") WITHOUT ROWID;"
     // The unique index is what makes "one record per key" hold even against a bug that
     // skips the lookup.
     "CREATE UNIQUE INDEX async_invocations_by_key ON async_invocations (app, idempotency_key)"
     "  WHERE idempotency_key IS NOT NULL;"
     "CREATE INDEX async_invocations_by_expiry ON async_invocations (expires_at);"
     "CREATE TABLE invocation_records ("
     "  seq INTEGER PRIMARY KEY,"
     "  id TEXT NOT NULL UNIQUE,"
     "  app TEXT NOT NULL,"
     "  function TEXT NOT NULL,"
     "  trigger TEXT NOT NULL,"
     "  started_at INTEGER NOT NULL,"
     "  duration_ms INTEGER NOT NULL,"
     "  cold_start INTEGER NOT NULL,"
     "  cold_start_ms INTEGER NOT NULL,"
     "  attempt INTEGER NOT NULL,"
     "  outcome TEXT NOT NULL,"
     "  error TEXT NOT NULL,"
     "  trace_id TEXT NOT NULL,"
     "  logs BLOB NOT NULL"
     ");"
     "CREATE INDEX invocation_records_by_start ON invocation_records (started_at, seq);"
     "CREATE INDEX invocation_records_by_app ON invocation_records (app, started_at, seq);"},
    // Each attempt of an async invocation runs under the invocation's id: one record per
    // (id, attempt). No host wrote records before this version, so the table is rebuilt.
    {2,
     "DROP TABLE invocation_records;"
     "CREATE TABLE invocation_records ("
     "  seq INTEGER PRIMARY KEY,"
     "  id TEXT NOT NULL,"
     "  app TEXT NOT NULL,"
     "  function TEXT NOT NULL,"
     "  trigger TEXT NOT NULL,"
     "  started_at INTEGER NOT NULL,"
     "  duration_us INTEGER NOT NULL,"
     "  cold_start INTEGER NOT NULL,"
     "  cold_start_us INTEGER NOT NULL,"
     "  attempt INTEGER NOT NULL,"
     "  outcome TEXT NOT NULL,"
     "  error TEXT NOT NULL,"
     "  trace_id TEXT NOT NULL,"
     "  logs BLOB NOT NULL"
     ");"
     "CREATE UNIQUE INDEX invocation_records_by_id ON invocation_records (id, attempt);"
     "CREATE INDEX invocation_records_by_start ON invocation_records (started_at, seq);"
     "CREATE INDEX invocation_records_by_app ON invocation_records (app, started_at, seq);"},
    // Why an async invocation's callback was given up (e.g. its host resolved to a refused
    // address); empty while none was.
    {3, "ALTER TABLE async_invocations ADD COLUMN callback_error TEXT NOT NULL DEFAULT '';"},
    // Async results are private to their caller, and so is an idempotency key: one per
    // (app, caller, key), remembered with the fingerprint of the request it came with.
    // Records from before had no caller: they were anonymous.
    {4,
     "ALTER TABLE async_invocations ADD COLUMN caller TEXT NOT NULL DEFAULT 'anonymous';"
     "ALTER TABLE async_invocations ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';"
     "DROP INDEX async_invocations_by_key;"
     "CREATE UNIQUE INDEX async_invocations_by_caller_key ON async_invocations (app, caller, idempotency_key)"
     "  WHERE idempotency_key IS NOT NULL;"},
};

constexpr const char* kAsyncColumns =
    "id, app, function, status, attempts, method, path, query, request_headers, request_body, callback_url,"
    " idempotency_key, response_status, response_headers, response_body, error, created_at, updated_at, expires_at,"
    " caller, fingerprint";

constexpr const char* kRecordColumns =
    "id, app, function, trigger, started_at, duration_us, cold_start, cold_start_us, attempt, outcome, error,"
    " trace_id, logs";

StoreTime fromMs(int64_t ms) { return StoreTime(milliseconds(ms)); }
int64_t toMs(StoreTime t) { return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count(); }

Error damaged(const std::string& what) { return makeError(ErrorKind::kIo, "gust.db: " + what + " is damaged"); }

// Reads a row selected with kAsyncColumns and callback_error (which only setCallbackError writes).
Result<AsyncInvocation> readAsync(const Statement& row) {
  AsyncInvocation a;
  a.id = row.text(0);
  a.app = row.text(1);
  a.function = row.text(2);
  auto status = parseAsyncStatus(row.text(3));
  if (!status) return damaged("async invocation '" + a.id + "' status '" + row.text(3) + "'");
  a.status = *status;
  a.attempts = static_cast<int>(row.integer(4));
  a.request.method = row.text(5);
  a.request.path = row.text(6);
  a.request.query = row.text(7);
  auto headers = decodeStoredPairs(row.blob(8));
  if (!headers.ok()) return damaged("async invocation '" + a.id + "' request headers");
  a.request.headers = std::move(*headers);
  a.request.body = row.blob(9);
  a.callback_url = row.text(10);
  a.idempotency_key = row.text(11);
  if (!row.isNull(12)) {
    AsyncResponse response;
    response.status = static_cast<int>(row.integer(12));
    auto response_headers = decodeStoredPairs(row.blob(13));
    if (!response_headers.ok()) return damaged("async invocation '" + a.id + "' response headers");
    response.headers = std::move(*response_headers);
    response.body = row.blob(14);
    a.response = std::move(response);
  }
  a.error = row.text(15);
  a.created_at = fromMs(row.integer(16));
  a.updated_at = fromMs(row.integer(17));
  a.expires_at = fromMs(row.integer(18));
  a.caller = row.text(19);
  a.fingerprint = row.text(20);
  a.callback_error = row.text(21);
  return a;
}

// Reads a row selected with kRecordColumns.
Result<InvocationRecord> readRecord(const Statement& row) {
  InvocationRecord r;
  r.id = row.text(0);
  r.app = row.text(1);
  r.function = row.text(2);
  auto trigger = parseRecordTrigger(row.text(3));
  if (!trigger) return damaged("invocation record '" + r.id + "' trigger '" + row.text(3) + "'");
  r.trigger = *trigger;
  r.started_at = fromMs(row.integer(4));
  r.duration = std::chrono::microseconds(row.integer(5));
  r.cold_start = row.integer(6) != 0;
  r.cold_start_duration = std::chrono::microseconds(row.integer(7));
  r.attempt = static_cast<int>(row.integer(8));
  auto outcome = parseOutcome(row.text(9));
  if (!outcome) return damaged("invocation record '" + r.id + "' outcome '" + row.text(9) + "'");
  r.outcome = *outcome;
  r.error = row.text(10);
  r.trace_id = row.text(11);
  auto logs = decodeStoredStrings(row.blob(12));
  if (!logs.ok()) return damaged("invocation record '" + r.id + "' logs");
  r.logs = std::move(*logs);
  return r;
}

// Writes every column of `a` (an INSERT or the UPDATE below bind the same 21 parameters).
void bindAsync(Statement& s, const AsyncInvocation& a) {
  s.bindText(1, a.id)
      .bindText(2, a.app)
      .bindText(3, a.function)
      .bindText(4, asyncStatusName(a.status))
      .bind(5, a.attempts)
      .bindText(6, a.request.method)
      .bindText(7, a.request.path)
      .bindText(8, a.request.query)
      .bindBlob(9, encodeStoredPairs(a.request.headers))
      .bindBlob(10, a.request.body)
      .bindText(11, a.callback_url);
  if (a.idempotency_key.empty()) {
    s.bindNull(12);
  } else {
    s.bindText(12, a.idempotency_key);
  }
  if (a.response) {
    s.bind(13, a.response->status).bindBlob(14, encodeStoredPairs(a.response->headers)).bindBlob(15, a.response->body);
  } else {
    s.bindNull(13).bindNull(14).bindNull(15);
  }
  s.bindText(16, a.error).bind(17, toMs(a.created_at)).bind(18, toMs(a.updated_at)).bind(19, toMs(a.expires_at));
  s.bindText(20, a.caller).bindText(21, a.fingerprint);
}

Result<std::optional<AsyncInvocation>> selectAsyncById(SqliteConnection& db, const std::string& id, int64_t now) {
  auto select = db.prepare(std::string("SELECT ") + kAsyncColumns +
                           ", callback_error FROM async_invocations WHERE id = ?1 AND expires_at > ?2");
  if (!select.ok()) return select.error();
  select->bindText(1, id).bind(2, now);
  auto row = select->step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<AsyncInvocation>();
  auto a = readAsync(*select);
  if (!a.ok()) return a.error();
  return std::optional<AsyncInvocation>(std::move(*a));
}

// The record holding `key` for `caller` of `app`, whether or not its window passed.
Result<std::optional<AsyncInvocation>> selectAsyncByKey(SqliteConnection& db, const std::string& app,
                                                        const std::string& caller, const std::string& key,
                                                        int64_t now) {
  auto select = db.prepare(std::string("SELECT ") + kAsyncColumns +
                           ", callback_error FROM async_invocations"
                           " WHERE app = ?1 AND caller = ?2 AND idempotency_key = ?3 AND expires_at > ?4");
  if (!select.ok()) return select.error();
  select->bindText(1, app).bindText(2, caller).bindText(3, key).bind(4, now);
  auto row = select->step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<AsyncInvocation>();
  auto a = readAsync(*select);
  if (!a.ok()) return a.error();
  return std::optional<AsyncInvocation>(std::move(*a));
}

}  // namespace

Result<std::unique_ptr<InvocationStore>> SqliteInvocationStore::open(SqliteWriter& writer, const Clock& clock,
                                                               InvocationStoreOptions options) {
  if (auto valid = checkOptions(options); !valid.ok()) return valid.error();
  auto migrated = writer.runSync<bool>([](SqliteConnection& db) -> Result<bool> {
    if (auto r = migrateSchema(db, "invocations", kInvocationMigrations); !r.ok()) return r.error();
    return true;
  });
  if (!migrated.ok()) return migrated.error();
  return std::unique_ptr<InvocationStore>(new SqliteInvocationStore(writer, clock, std::move(options)));
}


Result<void> SqliteInvocationStore::storeNewAsync(AsyncInvocation invocation, Done<AsyncCreated> done) {
  return jobs_.post<AsyncCreated>(
      [this, invocation = std::move(invocation)](SqliteConnection& db) mutable -> Result<AsyncCreated> {
        const int64_t now = nowMs();
        if (!invocation.idempotency_key.empty()) {
          auto earlier = selectAsyncByKey(db, invocation.app, invocation.caller, invocation.idempotency_key, now);
          if (!earlier.ok()) return earlier.error();
          if (*earlier) {
            if (toMs((*earlier)->created_at) + options_.idempotency_window.count() > now) {
              return AsyncCreated{std::move(**earlier), true};
            }
            // The earlier record stays readable by id until its retention ends, but its key
            // is free again.
            auto release = db.prepare("UPDATE async_invocations SET idempotency_key = NULL WHERE id = ?1");
            if (!release.ok()) return release.error();
            release->bindText(1, (*earlier)->id);
            if (auto r = release->run(); !r.ok()) return r.error();
          }
        }
        invocation.created_at = fromMs(now);
        invocation.updated_at = invocation.created_at;
        invocation.expires_at = fromMs(now + options_.async_retention.count());
        auto insert = db.prepare(std::string("INSERT INTO async_invocations (") + kAsyncColumns +
                                 ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,"
                                 " ?17, ?18, ?19, ?20, ?21)");
        if (!insert.ok()) return insert.error();
        bindAsync(*insert, invocation);
        if (auto r = insert->run(); !r.ok()) {
          if ((sqlite3_extended_errcode(db.db()) & 0xff) == SQLITE_CONSTRAINT) {
            return makeError(ErrorKind::kBadInput, "createAsync: an invocation with id '" + invocation.id +
                                                       "' already exists");
          }
          return r.error();
        }
        return AsyncCreated{std::move(invocation), false};
      },
      std::move(done));
}

Result<void> SqliteInvocationStore::loadAsync(std::string id, Done<std::optional<AsyncInvocation>> done) {
  return jobs_.post<std::optional<AsyncInvocation>>(
      [this, id = std::move(id)](SqliteConnection& db) { return selectAsyncById(db, id, nowMs()); }, std::move(done));
}

Result<void> SqliteInvocationStore::loadAsyncByKey(std::string app, std::string caller, std::string idempotency_key,
                                                     Done<std::optional<AsyncInvocation>> done) {
  return jobs_.post<std::optional<AsyncInvocation>>(
      [this, app = std::move(app), caller = std::move(caller), key = std::move(idempotency_key)](
          SqliteConnection& db) -> Result<std::optional<AsyncInvocation>> {
        const int64_t now = nowMs();
        auto found = selectAsyncByKey(db, app, caller, key, now);
        if (!found.ok()) return found.error();
        if (*found && toMs((*found)->created_at) + options_.idempotency_window.count() <= now) {
          return std::optional<AsyncInvocation>();  // past the window: the key means nothing now
        }
        return found;
      },
      std::move(done));
}

Result<void> SqliteInvocationStore::storeAsyncUpdate(std::string id, AsyncUpdate update, Done<AsyncInvocation> done) {
  return jobs_.post<AsyncInvocation>(
      [this, id = std::move(id), update = std::move(update)](SqliteConnection& db) mutable -> Result<AsyncInvocation> {
        const int64_t now = nowMs();
        auto found = selectAsyncById(db, id, now);
        if (!found.ok()) return found.error();
        if (!*found) return makeError(ErrorKind::kNotFound, "no async invocation '" + id + "' (or it expired)");
        AsyncInvocation a = std::move(**found);
        a.status = update.status;
        if (update.attempts) a.attempts = *update.attempts;
        if (update.response) a.response = std::move(update.response);
        if (update.error) a.error = std::move(*update.error);
        a.updated_at = fromMs(now);
        auto write = db.prepare(
            "UPDATE async_invocations SET app = ?2, function = ?3, status = ?4, attempts = ?5, method = ?6,"
            " path = ?7, query = ?8, request_headers = ?9, request_body = ?10, callback_url = ?11,"
            " idempotency_key = ?12, response_status = ?13, response_headers = ?14, response_body = ?15,"
            " error = ?16, created_at = ?17, updated_at = ?18, expires_at = ?19, caller = ?20, fingerprint = ?21"
            " WHERE id = ?1");
        if (!write.ok()) return write.error();
        bindAsync(*write, a);
        if (auto r = write->run(); !r.ok()) return r.error();
        return a;
      },
      std::move(done));
}

Result<void> SqliteInvocationStore::deleteExpiredAsync(Done<int64_t> done) {
  return jobs_.post<int64_t>(
      [this](SqliteConnection& db) -> Result<int64_t> {
        auto del = db.prepare("DELETE FROM async_invocations WHERE expires_at <= ?1");
        if (!del.ok()) return del.error();
        del->bind(1, nowMs());
        if (auto r = del->run(); !r.ok()) return r.error();
        return db.changes();
      },
      std::move(done));
}

Result<void> SqliteInvocationStore::storeCallbackError(std::string id, std::string error, Done<void> done) {
  return jobs_.post<void>(
      [id = std::move(id), error = std::move(error)](SqliteConnection& db) -> Result<void> {
        auto write = db.prepare("UPDATE async_invocations SET callback_error = ?2 WHERE id = ?1");
        if (!write.ok()) return write.error();
        write->bindText(1, id).bindText(2, error);
        if (auto r = write->run(); !r.ok()) return r.error();
        return {};
      },
      std::move(done));
}

Result<void> SqliteInvocationStore::loadUnfinishedAsync(size_t limit, Done<std::vector<std::string>> done) {
  return jobs_.post<std::vector<std::string>>(
      [this, limit](SqliteConnection& db) -> Result<std::vector<std::string>> {
        auto select = db.prepare(
            "SELECT id FROM async_invocations WHERE status IN ('queued', 'running') AND expires_at > ?1 "
            "ORDER BY created_at, id LIMIT ?2");
        if (!select.ok()) return select.error();
        select->bind(1, nowMs());
        select->bind(2, static_cast<int64_t>(limit));
        std::vector<std::string> ids;
        for (;;) {
          auto row = select->step();
          if (!row.ok()) return row.error();
          if (!*row) break;
          ids.push_back(select->text(0));
        }
        return ids;
      },
      std::move(done));
}

Result<void> SqliteInvocationStore::countUnfinished(Done<std::map<std::string, size_t>> done) {
  return jobs_.post<std::map<std::string, size_t>>(
      [this](SqliteConnection& db) -> Result<std::map<std::string, size_t>> {
        auto select = db.prepare(
            "SELECT app, COUNT(*) FROM async_invocations WHERE status IN ('queued', 'running') AND expires_at > ?1 "
            "GROUP BY app");
        if (!select.ok()) return select.error();
        select->bind(1, nowMs());
        std::map<std::string, size_t> counts;
        for (;;) {
          auto row = select->step();
          if (!row.ok()) return row.error();
          if (!*row) break;
          counts[select->text(0)] = static_cast<size_t>(select->integer(1));
        }
        return counts;
      },
      std::move(done));
}

Result<void> SqliteInvocationStore::storeRecords(std::vector<InvocationRecord> records, Done<void> done) {
  return jobs_.post<void>(
      [this, records = std::move(records)](SqliteConnection& db) -> Result<void> {
        // A second record of one (id, attempt) is a bug upstream; it must not cost the
        // others in its batch their place, so it is ignored.
        static const std::string sql = std::string("INSERT OR IGNORE INTO invocation_records (") + kRecordColumns +
                                       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
        for (const auto& record : records) {
          auto insert = db.prepare(sql);  // cached; borrowed once per row, reset when it goes
          if (!insert.ok()) return insert.error();
          insert->bindText(1, record.id)
              .bindText(2, record.app)
              .bindText(3, record.function)
              .bindText(4, recordTriggerName(record.trigger))
              .bind(5, toMs(record.started_at))
              .bind(6, record.duration.count())
              .bind(7, record.cold_start ? 1 : 0)
              .bind(8, record.cold_start_duration.count())
              .bind(9, record.attempt)
              .bindText(10, outcomeName(record.outcome))
              .bindText(11, record.error)
              .bindText(12, record.trace_id)
              .bindBlob(13, encodeStoredStrings(record.logs));
          if (auto r = insert->run(); !r.ok()) return r;
        }
        inserts_since_prune_ += records.size();
        if (inserts_since_prune_ >= options_.prune_every) {
          inserts_since_prune_ = 0;
          if (auto pruned = prune(db, nowMs()); !pruned.ok()) return pruned.error();
        }
        return {};
      },
      std::move(done));
}

Result<int64_t> SqliteInvocationStore::prune(SqliteConnection& db, int64_t now) {
  int64_t removed = 0;
  {
    auto old = db.prepare("DELETE FROM invocation_records WHERE started_at < ?1");
    if (!old.ok()) return old.error();
    old->bind(1, now - options_.record_retention.count());
    if (auto r = old->run(); !r.ok()) return r.error();
    removed += db.changes();
  }
  // seq grows with each insert: everything at or below the (max_records+1)-th newest goes.
  auto surplus = db.prepare(
      "DELETE FROM invocation_records WHERE seq <= "
      "(SELECT seq FROM invocation_records ORDER BY seq DESC LIMIT 1 OFFSET ?1)");
  if (!surplus.ok()) return surplus.error();
  surplus->bind(1, static_cast<int64_t>(options_.max_records));
  if (auto r = surplus->run(); !r.ok()) return r.error();
  removed += db.changes();
  return removed;
}

Result<void> SqliteInvocationStore::deleteOldRecords(Done<int64_t> done) {
  return jobs_.post<int64_t>([this](SqliteConnection& db) { return prune(db, nowMs()); }, std::move(done));
}

Result<void> SqliteInvocationStore::loadRecords(RecordFilter filter, Done<std::vector<InvocationRecord>> done) {
  return jobs_.post<std::vector<InvocationRecord>>(
      [filter = std::move(filter)](SqliteConnection& db) -> Result<std::vector<InvocationRecord>> {
        // One SQL text per filter shape (at most eight, each cached), so each uses its index
        // instead of an OR that defeats it.
        std::string sql = std::string("SELECT ") + kRecordColumns + " FROM invocation_records WHERE 1";
        if (!filter.app.empty()) sql += " AND app = ?1";
        if (!filter.function.empty()) sql += " AND function = ?2";
        if (filter.failed_only) sql += " AND outcome <> 'ok'";
        sql += " ORDER BY started_at DESC, seq DESC LIMIT ?3";
        auto select = db.prepare(sql);
        if (!select.ok()) return select.error();
        if (!filter.app.empty()) select->bindText(1, filter.app);
        if (!filter.function.empty()) select->bindText(2, filter.function);
        select->bind(3, static_cast<int64_t>(filter.limit));
        std::vector<InvocationRecord> out;
        while (true) {
          auto row = select->step();
          if (!row.ok()) return row.error();
          if (!*row) break;
          auto record = readRecord(*select);
          if (!record.ok()) return record.error();
          out.push_back(std::move(*record));
        }
        return out;
      },
      std::move(done));
}

Result<void> SqliteInvocationStore::loadRecord(std::string id, Done<std::optional<InvocationRecord>> done) {
  return jobs_.post<std::optional<InvocationRecord>>(
      [id = std::move(id)](SqliteConnection& db) -> Result<std::optional<InvocationRecord>> {
        // An async invocation has a record per attempt: the last one tells how it ended.
        auto select = db.prepare(std::string("SELECT ") + kRecordColumns +
                                 " FROM invocation_records WHERE id = ?1 ORDER BY attempt DESC LIMIT 1");
        if (!select.ok()) return select.error();
        select->bindText(1, id);
        auto row = select->step();
        if (!row.ok()) return row.error();
        if (!*row) return std::optional<InvocationRecord>();
        auto record = readRecord(*select);
        if (!record.ok()) return record.error();
        return std::optional<InvocationRecord>(std::move(*record));
      },
      std::move(done));
}

Result<void> SqliteInvocationStore::adoptOrphanedAsync(Done<std::vector<AdoptedAsync>> done) {
  done(std::vector<AdoptedAsync>{});
  return {};
}

}  // namespace gust
