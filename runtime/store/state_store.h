#pragma once
// App state (docs/architecture.md "App state"): a key-value store per app in
// the `app_state` table of gust.db, for what event handlers converge on ("have
// I charged this order?"). A function reads it synchronously (StateStore::get
// through its worker) and writes by buffering puts and removes that the host
// commits with the invocation's outcome, in the same transaction as its queue
// settlements and publishes (applyStateWrites, called by SqliteQueue::settle):
// a handler that fails or is retried neither loses nor doubles an update.
//
// Rules every path keeps:
// - A key's version is 1 when it is created and grows by 1 per put; remove
// deletes the row.
// - A write with if_version N applies only if the key is at version N (0: only
// if absent);
//   any mismatch aborts the whole commit with kConflict naming the key.
// - A row past its expires_at (clock.wallNow()) reads as absent everywhere
// (get, list, a
//   version check, the bounds once swept); sweep() deletes such rows.
// - Bounds per app (StateBounds): a commit that would take the app past either
// fails whole
//   with kLimitReached naming the bound.
//
// Contract of every StateStore:
// - Owning thread: the writer's loop thread; every call and callback happens
// there.
// - SqliteStateStore borrows the writer and the clock; both outlive it. Close the
//   writer (which completes every posted call) before freeing the store: its jobs
//   borrow it.
// - Every call validates its input first and fails now (kBadInput) without
// calling back;
//   otherwise `done` runs exactly once (STYLE 4).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/base/clock.h"
#include "runtime/base/result.h"
#include "runtime/base/unique_function.h"
#include "runtime/protocol/state_types.h"
#include "runtime/store/sqlite_writer.h"

namespace gust {

struct StateBounds {
  uint64_t max_keys = 10000;
  uint64_t max_bytes = 64ull << 20; // keys and values together
};

// What one invocation of `app` wrote, committed together (or not at all).
struct AppStateWrites {
  std::string app;
  std::vector<StateWrite> writes;
  StateBounds bounds;
  bool empty() const { return writes.empty(); }
};

// One key as operators see it.
struct StateItem {
  std::string key;
  std::string value; // empty in list()
  uint64_t version = 0;
  uint64_t size = 0; // of the value
  std::optional<std::chrono::system_clock::time_point> expires_at;
  std::chrono::system_clock::time_point updated_at;
};

struct StateUsage {
  uint64_t keys = 0;
  uint64_t bytes = 0;
};

// Creates or migrates the app_state tables; in the caller's transaction.
Result<void> migrateStateSchema(SqliteConnection &db);

// Applies `writes` in order inside the caller's transaction (a SqliteWriter
// job, which rolls back whole when this fails). kConflict: a version check
// failed (the message names the key and both versions); kLimitReached: a bound
// of the app would be passed. `now_ms` is Unix time in milliseconds.
Result<void> applyStateWrites(SqliteConnection &db,
                              const AppStateWrites &writes, int64_t now_ms);

// What a version check or a bound refuses, worded alike by every backend.
Error stateConflictError(const std::string &app, const std::string &key,
                         uint64_t current, uint64_t required);
Error stateKeysBoundError(const std::string &app, uint64_t keys,
                          uint64_t max_keys);
Error stateBytesBoundError(const std::string &app, uint64_t bytes,
                           uint64_t max_bytes);

// App state as the host, its workers and the admin API use it: SqliteStateStore in
// gust.db, or RedisStateStore (runtime/store/redis_state_store.h) on a cluster.
class StateStore {
public:
  template <typename T> using Done = UniqueFunction<void(Result<T>)>;

  virtual ~StateStore() = default;

  // The key's value, version and expiry; nullopt when absent or expired.
  virtual Result<void> get(std::string app, std::string key,
                           Done<std::optional<StateItem>> done) = 0;
  // The same, blocking the calling thread (any thread but the loop's) until it
  // is answered: for a function that runs in the host's own threads (isolation
  // thread).
  virtual Result<std::optional<StateItem>> getBlocking(std::string app,
                                                       std::string key) = 0;
  // Keys of `app` starting with `prefix`, in key order, at most `limit` (values
  // left empty).
  virtual Result<void> list(std::string app, std::string prefix, size_t limit,
                            Done<std::vector<StateItem>> done) = 0;
  // What `app` holds, expired rows not yet swept included (they count toward
  // its bounds).
  virtual Result<void> usage(std::string app, Done<StateUsage> done) = 0;
  // Deletes all of `app`'s state (the app was removed); answers how many keys.
  virtual Result<void> removeApp(std::string app, Done<int64_t> done) = 0;
  // Deletes every expired row; answers how many.
  virtual Result<void> sweep(Done<int64_t> done) = 0;
  // Commits writes outside any queue settlement (tests and tools; invocations
  // commit through the queue backend's settle).
  virtual Result<void> commit(AppStateWrites writes, Done<bool> done) = 0;
};

class SqliteStateStore final : public StateStore {
public:
  static Result<std::unique_ptr<SqliteStateStore>> open(SqliteWriter &writer,
                                                        const Clock &clock);
  SqliteStateStore(const SqliteStateStore &) = delete;
  SqliteStateStore &operator=(const SqliteStateStore &) = delete;

  Result<void> get(std::string app, std::string key,
                   Done<std::optional<StateItem>> done) override;
  Result<std::optional<StateItem>> getBlocking(std::string app,
                                               std::string key) override;
  Result<void> list(std::string app, std::string prefix, size_t limit,
                    Done<std::vector<StateItem>> done) override;
  Result<void> usage(std::string app, Done<StateUsage> done) override;
  Result<void> removeApp(std::string app, Done<int64_t> done) override;
  Result<void> sweep(Done<int64_t> done) override;
  Result<void> commit(AppStateWrites writes, Done<bool> done) override;

private:
  SqliteStateStore(SqliteWriter &writer, const Clock &clock)
      : writer_(writer), clock_(clock) {}
  int64_t nowMs() const;
  static Result<std::optional<StateItem>> readItem(SqliteConnection &db,
                                                   const std::string &app,
                                                   const std::string &key,
                                                   int64_t now);

  SqliteWriter &writer_;
  const Clock &clock_;
};

} // namespace gust
