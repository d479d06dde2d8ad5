#include "runtime/store/state_store.h"

#include "runtime/base/names.h"
#include "runtime/base/text.h"
#include "runtime/store/sqlite_schema.h"

namespace gust {
namespace {

using std::chrono::milliseconds;

constexpr Migration kStateMigrations[] = {
    {1,
     "CREATE TABLE app_state ("
     "  app TEXT NOT NULL,"
     "  key TEXT NOT NULL,"
     "  value BLOB NOT NULL,"
     "  version INTEGER NOT NULL,"
     "  expires_at INTEGER," // Unix ms; NULL: never
     "  updated_at INTEGER NOT NULL,"
     "  bytes INTEGER NOT NULL," // key and value bytes: what the app's bound
                                 // counts
     "  PRIMARY KEY (app, key)"
     ") WITHOUT ROWID;"
     "CREATE INDEX app_state_by_expiry ON app_state (expires_at) WHERE "
     "expires_at IS NOT NULL;"
     // What each app holds, kept by triggers so that a bound costs one lookup
     // per commit.
     "CREATE TABLE app_state_usage ("
     "  app TEXT PRIMARY KEY,"
     "  keys INTEGER NOT NULL,"
     "  bytes INTEGER NOT NULL"
     ") WITHOUT ROWID;"
     "CREATE TRIGGER app_state_usage_on_insert AFTER INSERT ON app_state BEGIN"
     "  INSERT INTO app_state_usage (app, keys, bytes) VALUES (NEW.app, 1, "
     "NEW.bytes)"
     "    ON CONFLICT (app) DO UPDATE SET keys = keys + 1, bytes = bytes + "
     "excluded.bytes;"
     " END;"
     "CREATE TRIGGER app_state_usage_on_delete AFTER DELETE ON app_state BEGIN"
     "  UPDATE app_state_usage SET keys = keys - 1, bytes = bytes - OLD.bytes "
     "WHERE app = OLD.app;"
     " END;"
     "CREATE TRIGGER app_state_usage_on_update AFTER UPDATE OF bytes ON "
     "app_state BEGIN"
     "  UPDATE app_state_usage SET bytes = bytes - OLD.bytes + NEW.bytes WHERE "
     "app = OLD.app;"
     " END;"},
};

std::chrono::system_clock::time_point fromMs(int64_t ms) {
  return std::chrono::system_clock::time_point(milliseconds(ms));
}

Error badInput(std::string message) {
  return makeError(ErrorKind::kBadInput, std::move(message));
}

// The key's live row: version and bytes, or nullopt when absent or expired.
struct LiveRow {
  uint64_t version = 0;
  int64_t bytes = 0;
  bool expired = false; // a row exists, but reads as absent
};

Result<std::optional<LiveRow>> findRow(SqliteConnection &db,
                                       const std::string &app,
                                       const std::string &key, int64_t now) {
  auto select = db.prepare("SELECT version, bytes, expires_at FROM app_state "
                           "WHERE app = ?1 AND key = ?2");
  if (!select.ok())
    return select.error();
  select->bindText(1, app).bindText(2, key);
  auto row = select->step();
  if (!row.ok())
    return row.error();
  if (!*row)
    return std::optional<LiveRow>();
  LiveRow live{static_cast<uint64_t>(select->integer(0)), select->integer(1),
               false};
  live.expired = !select->isNull(2) && select->integer(2) <= now;
  return std::optional<LiveRow>(live);
}

Result<StateUsage> usageOf(SqliteConnection &db, const std::string &app) {
  auto select =
      db.prepare("SELECT keys, bytes FROM app_state_usage WHERE app = ?1");
  if (!select.ok())
    return select.error();
  select->bindText(1, app);
  auto row = select->step();
  if (!row.ok())
    return row.error();
  if (!*row)
    return StateUsage{};
  return StateUsage{static_cast<uint64_t>(select->integer(0)),
                    static_cast<uint64_t>(select->integer(1))};
}

Result<int64_t> deleteExpired(SqliteConnection &db, const std::string *app,
                              int64_t now) {
  auto del = db.prepare(app ? "DELETE FROM app_state WHERE app = ?2 AND "
                              "expires_at IS NOT NULL AND expires_at <= ?1"
                            : "DELETE FROM app_state WHERE expires_at IS NOT "
                              "NULL AND expires_at <= ?1");
  if (!del.ok())
    return del.error();
  del->bind(1, now);
  if (app)
    del->bindText(2, *app);
  if (auto r = del->run(); !r.ok())
    return r.error();
  return db.changes();
}

std::string versionText(uint64_t version) {
  return version == 0 ? "absent" : "version " + std::to_string(version);
}

Result<void> checkBounds(SqliteConnection &db, const AppStateWrites &w,
                         int64_t now) {
  auto usage = usageOf(db, w.app);
  if (!usage.ok())
    return usage.error();
  if (usage->keys <= w.bounds.max_keys && usage->bytes <= w.bounds.max_bytes)
    return {};
  // Expired rows count until they are swept: sweep the app's now, then look
  // again.
  if (auto swept = deleteExpired(db, &w.app, now); !swept.ok())
    return swept.error();
  usage = usageOf(db, w.app);
  if (!usage.ok())
    return usage.error();
  if (usage->keys > w.bounds.max_keys)
    return stateKeysBoundError(w.app, usage->keys, w.bounds.max_keys);
  if (usage->bytes > w.bounds.max_bytes)
    return stateBytesBoundError(w.app, usage->bytes, w.bounds.max_bytes);
  return {};
}

} // namespace

Error stateConflictError(const std::string &app, const std::string &key,
                         uint64_t current, uint64_t required) {
  return makeError(ErrorKind::kConflict,
                   "state key " + quote(key) + " of app " + app + " is " +
                       versionText(current) + ", not " + versionText(required) +
                       " as the write required; nothing of the invocation "
                       "was committed");
}

Error stateKeysBoundError(const std::string &app, uint64_t keys,
                          uint64_t max_keys) {
  return makeError(ErrorKind::kLimitReached,
                   "app " + app + " would hold " + std::to_string(keys) +
                       " state keys, more than its limit of " +
                       std::to_string(max_keys) + " (`gust state ls " + app +
                       "` shows what it holds)");
}

Error stateBytesBoundError(const std::string &app, uint64_t bytes,
                           uint64_t max_bytes) {
  return makeError(ErrorKind::kLimitReached,
                   "app " + app + "'s state would take " +
                       std::to_string(bytes) + " bytes, more than its limit of " +
                       std::to_string(max_bytes) + " (`gust state ls " + app +
                       "` shows what it holds)");
}

Result<void> migrateStateSchema(SqliteConnection &db) {
  return migrateSchema(db, "state", kStateMigrations);
}

Result<void> applyStateWrites(SqliteConnection &db, const AppStateWrites &w,
                              int64_t now) {
  bool grew = false;
  for (const StateWrite &write : w.writes) {
    auto row = findRow(db, w.app, write.key, now);
    if (!row.ok())
      return row.error();
    const bool live = *row && !(*row)->expired;
    const uint64_t current = live ? (*row)->version : 0;
    if (write.if_version != kAnyStateVersion && write.if_version != current) {
      return stateConflictError(w.app, write.key, current, write.if_version);
    }
    if (write.op == StateOp::kRemove) {
      if (!*row)
        continue;
      auto del =
          db.prepare("DELETE FROM app_state WHERE app = ?1 AND key = ?2");
      if (!del.ok())
        return del.error();
      del->bindText(1, w.app).bindText(2, write.key);
      if (auto r = del->run(); !r.ok())
        return r.error();
      continue;
    }
    const int64_t bytes =
        static_cast<int64_t>(write.key.size() + write.value.size());
    grew = grew || !*row || bytes > (*row)->bytes;
    auto upsert = db.prepare("INSERT INTO app_state (app, key, value, version, "
                             "expires_at, updated_at, bytes)"
                             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                             " ON CONFLICT (app, key) DO UPDATE SET value = "
                             "excluded.value, version = excluded.version,"
                             " expires_at = excluded.expires_at, updated_at = "
                             "excluded.updated_at, bytes = excluded.bytes");
    if (!upsert.ok())
      return upsert.error();
    upsert->bindText(1, w.app).bindText(2, write.key).bindBlob(3, write.value);
    upsert->bind(4, static_cast<int64_t>(current + 1))
        .bind(6, now)
        .bind(7, bytes);
    if (write.ttl.count() > 0) {
      upsert->bind(5, now + write.ttl.count());
    } else {
      upsert->bindNull(5);
    }
    if (auto r = upsert->run(); !r.ok())
      return r.error();
  }
  if (grew)
    return checkBounds(db, w, now);
  return {};
}

Result<std::unique_ptr<SqliteStateStore>> SqliteStateStore::open(SqliteWriter &writer,
                                                     const Clock &clock) {
  auto migrated =
      writer.runSync<bool>([](SqliteConnection &db) -> Result<bool> {
        if (auto r = migrateStateSchema(db); !r.ok())
          return r.error();
        return true;
      });
  if (!migrated.ok())
    return migrated.error();
  return std::unique_ptr<SqliteStateStore>(new SqliteStateStore(writer, clock));
}

int64_t SqliteStateStore::nowMs() const {
  return std::chrono::duration_cast<milliseconds>(
             clock_.wallNow().time_since_epoch())
      .count();
}

Result<void> SqliteStateStore::get(std::string app, std::string key,
                             Done<std::optional<StateItem>> done) {
  if (std::string why = stateKeyProblem(key); !why.empty())
    return badInput(why);
  return writer_.post<std::optional<StateItem>>(
      [this, app = std::move(app), key = std::move(key)](SqliteConnection &db) {
        return readItem(db, app, key, nowMs());
      },
      std::move(done));
}

Result<std::optional<StateItem>> SqliteStateStore::getBlocking(std::string app,
                                                         std::string key) {
  if (std::string why = stateKeyProblem(key); !why.empty())
    return badInput(why);
  return writer_.runSync<std::optional<StateItem>>(
      [this, app = std::move(app), key = std::move(key)](SqliteConnection &db) {
        return readItem(db, app, key, nowMs());
      });
}

Result<std::optional<StateItem>> SqliteStateStore::readItem(SqliteConnection &db,
                                                      const std::string &app,
                                                      const std::string &key,
                                                      int64_t now) {
  auto select =
      db.prepare("SELECT value, version, expires_at, updated_at FROM app_state"
                 " WHERE app = ?1 AND key = ?2 AND (expires_at IS NULL OR "
                 "expires_at > ?3)");
  if (!select.ok())
    return select.error();
  select->bindText(1, app).bindText(2, key).bind(3, now);
  auto row = select->step();
  if (!row.ok())
    return row.error();
  if (!*row)
    return std::optional<StateItem>();
  StateItem item;
  item.key = key;
  item.value = select->blob(0);
  item.version = static_cast<uint64_t>(select->integer(1));
  item.size = item.value.size();
  if (!select->isNull(2))
    item.expires_at = fromMs(select->integer(2));
  item.updated_at = fromMs(select->integer(3));
  return std::optional<StateItem>(std::move(item));
}

Result<void> SqliteStateStore::list(std::string app, std::string prefix, size_t limit,
                              Done<std::vector<StateItem>> done) {
  if (limit == 0)
    return badInput("a state listing needs a limit of at least 1");
  return writer_.post<std::vector<StateItem>>(
      [this, app = std::move(app), prefix = std::move(prefix),
       limit](SqliteConnection &db) -> Result<std::vector<StateItem>> {
        auto select =
            db.prepare("SELECT key, version, bytes - length(CAST(key AS "
                       "BLOB)), expires_at, updated_at FROM app_state"
                       " WHERE app = ?1 AND key >= ?2 AND (expires_at IS NULL "
                       "OR expires_at > ?3) ORDER BY key");
        if (!select.ok())
          return select.error();
        select->bindText(1, app).bindText(2, prefix).bind(3, nowMs());
        std::vector<StateItem> items;
        while (items.size() < limit) {
          auto row = select->step();
          if (!row.ok())
            return row.error();
          if (!*row)
            break;
          StateItem item;
          item.key = select->text(0);
          if (!item.key.starts_with(prefix))
            break; // keys sort bytewise: the prefix's range ended
          item.version = static_cast<uint64_t>(select->integer(1));
          item.size = static_cast<uint64_t>(select->integer(2));
          if (!select->isNull(3))
            item.expires_at = fromMs(select->integer(3));
          item.updated_at = fromMs(select->integer(4));
          items.push_back(std::move(item));
        }
        return items;
      },
      std::move(done));
}

Result<void> SqliteStateStore::usage(std::string app, Done<StateUsage> done) {
  return writer_.post<StateUsage>(
      [app = std::move(app)](SqliteConnection &db) { return usageOf(db, app); },
      std::move(done));
}

Result<void> SqliteStateStore::removeApp(std::string app, Done<int64_t> done) {
  if (auto r = validateAppName(app); !r.ok())
    return r.error();
  return writer_.post<int64_t>(
      [app = std::move(app)](SqliteConnection &db) -> Result<int64_t> {
        auto del = db.prepare("DELETE FROM app_state WHERE app = ?1");
        if (!del.ok())
          return del.error();
        del->bindText(1, app);
        if (auto r = del->run(); !r.ok())
          return r.error();
        int64_t removed = db.changes();
        auto forget = db.prepare("DELETE FROM app_state_usage WHERE app = ?1");
        if (!forget.ok())
          return forget.error();
        forget->bindText(1, app);
        if (auto r = forget->run(); !r.ok())
          return r.error();
        return removed;
      },
      std::move(done));
}

Result<void> SqliteStateStore::sweep(Done<int64_t> done) {
  return writer_.post<int64_t>(
      [this](SqliteConnection &db) {
        return deleteExpired(db, nullptr, nowMs());
      },
      std::move(done));
}

Result<void> SqliteStateStore::commit(AppStateWrites writes, Done<bool> done) {
  if (auto r = validateAppName(writes.app); !r.ok())
    return r.error();
  for (const StateWrite &w : writes.writes) {
    if (std::string why = stateKeyProblem(w.key); !why.empty())
      return badInput(why);
  }
  return writer_.post<bool>(
      [this, writes = std::move(writes)](SqliteConnection &db) -> Result<bool> {
        if (auto r = applyStateWrites(db, writes, nowMs()); !r.ok())
          return r.error();
        return true;
      },
      std::move(done));
}

} // namespace gust
