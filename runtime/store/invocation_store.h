#pragma once
// What a host remembers about invocations:
// - async invocations (`Prefer: respond-async`): the request, who sent it (its caller), its
//   status as it moves queued → running → succeeded | failed, and its result, kept for
//   `async_retention` and findable by (app, caller, idempotency key) within
//   `idempotency_window`;
// - invocation records (observability): one per finished attempt of any trigger, with
//   bounded retention by count and age.
//
// Two backends keep them: gust.db on one machine (sqlite_invocation_store.h), and the
// cluster's Redis (redis_invocation_store.h), where every host polls and lists what any host
// accepted or ran (docs/scale-out.md "Async invocations and records"). This class owns the
// rules both follow: it validates, caps and names, then hands the backend what to store.
//
// Contract:
// - Owning thread: the loop thread; every call and callback happens there.
// - Borrows the clock, which outlives it; each backend says what else it borrows.
// - Every call validates first and fails now (kBadInput, naming the field) without calling
//   back; otherwise `done` runs once on the loop thread after the write is stored.
// - Times are clock.wallNow() in milliseconds.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/base/clock.h"
#include "runtime/protocol/frame.h"
#include "runtime/base/ids.h"
#include "runtime/protocol/invocation.h"
#include "runtime/base/result.h"
#include "runtime/base/unique_function.h"

namespace gust {

using StoreTime = std::chrono::system_clock::time_point;

struct InvocationStoreOptions {
  std::chrono::milliseconds async_retention = std::chrono::hours(24 * 7);
  // A create with a key used by the same app this recently returns the earlier record.
  // At most async_retention (a record past retention is gone).
  std::chrono::milliseconds idempotency_window = std::chrono::hours(24);
  size_t max_async_body_bytes = 10u << 20;   // request body, and result body
  size_t max_async_header_bytes = 64u << 10;  // request headers, and result headers
  size_t max_callback_url_bytes = 2048;
  size_t max_idempotency_key_bytes = 256;
  size_t max_error_bytes = 4096;  // longer errors are cut, not refused

  size_t max_records = 100000;  // newest kept; pruning runs every prune_every inserts
  std::chrono::milliseconds record_retention = std::chrono::hours(24 * 7);
  size_t prune_every = 1000;
  size_t max_log_lines = 100;        // per record; the newest are kept
  size_t max_log_bytes = 16u << 10;  // per record, all lines together
  size_t max_list = 1000;            // records per listRecords
};

enum class AsyncStatus { kQueued, kRunning, kSucceeded, kFailed };
const char* asyncStatusName(AsyncStatus status);

struct AsyncRequest;
// What identifies a request for its idempotency key: SHA-256 over its method, path and
// query, each preceded by its length so no two requests share one, and the SHA-256 of its
// body. In hex.
std::string requestFingerprint(const AsyncRequest& request);

inline constexpr std::string_view kAnonymousCaller = "anonymous";

struct AsyncRequest {
  std::string method;
  std::string path;
  std::string query;
  Pairs headers;
  std::string body;
};

// The function's answer (or the host's, for a crash or timeout).
struct AsyncResponse {
  int status = 0;
  Pairs headers;
  std::string body;
};

struct AsyncInvocation {
  std::string id;  // empty on create: generated
  std::string app;
  std::string function;
  AsyncStatus status = AsyncStatus::kQueued;
  int attempts = 0;
  AsyncRequest request;
  std::string callback_url;     // empty: none
  std::string idempotency_key;  // empty: none
  // Who sent it: "key:NAME" for a function key of the app, kAnonymousCaller where the
  // function's auth is public. Only the same caller may read it or reuse its idempotency key.
  std::string caller = std::string(kAnonymousCaller);
  // SHA-256 of the request an idempotency key came with (see requestFingerprint); empty
  // without a key. The key sent again with another request is refused, not answered.
  std::string fingerprint;
  std::optional<AsyncResponse> response;
  std::string error;
  std::string callback_error;  // why its callback was given up; empty: not given up (see setCallbackError)
  // Set by the store:
  StoreTime created_at;
  StoreTime updated_at;
  StoreTime expires_at;
};

struct AsyncCreated {
  AsyncInvocation invocation;
  bool existing = false;  // the idempotency key matched: this is the earlier record, unchanged
};

struct AsyncUpdate {
  AsyncStatus status = AsyncStatus::kRunning;
  std::optional<int> attempts;            // unchanged when absent
  std::optional<AsyncResponse> response;  // unchanged when absent
  std::optional<std::string> error;       // unchanged when absent
};

enum class RecordTrigger { kHttp, kAsync, kTimer, kQueue, kWebSocket };
const char* recordTriggerName(RecordTrigger trigger);

struct InvocationRecord {
  std::string id;
  std::string app;
  std::string function;
  RecordTrigger trigger = RecordTrigger::kHttp;
  StoreTime started_at;
  std::chrono::microseconds duration{0};
  bool cold_start = false;
  std::chrono::microseconds cold_start_duration{0};
  int attempt = 1;
  OutcomeKind outcome = OutcomeKind::kOk;
  std::string error;
  std::string trace_id;
  std::vector<std::string> logs;  // capped on insert (max_log_lines, max_log_bytes)
  std::string host;  // the cluster host that ran it; empty on one machine
};

std::optional<AsyncStatus> parseAsyncStatus(std::string_view name);
std::optional<RecordTrigger> parseRecordTrigger(std::string_view name);
std::optional<OutcomeKind> parseOutcome(std::string_view name);

// An unfinished async invocation a host takes over from one that left the cluster.
struct AdoptedAsync {
  std::string id;
  std::string app;
};

struct RecordFilter {
  std::string app;       // empty: every app
  std::string function;  // empty: every function (needs app)
  bool failed_only = false;  // outcome other than ok
  size_t limit = 100;        // 1..max_list
};

class InvocationStore {
 public:
  template <typename T>
  using Done = UniqueFunction<void(Result<T>)>;

  virtual ~InvocationStore() = default;
  InvocationStore(const InvocationStore&) = delete;
  InvocationStore& operator=(const InvocationStore&) = delete;

  // Async invocations. createAsync stores `invocation` (status, attempts, response and
  // times are the store's: queued, 0, none, now); with an idempotency key the same caller of
  // the app used within the window it stores nothing and answers the earlier record
  // (atomically: two concurrent creates with one key give one record). The caller compares
  // the earlier record's fingerprint with its own.
  Result<void> createAsync(AsyncInvocation invocation, Done<AsyncCreated> done);
  // nullopt when unknown or past its retention.
  Result<void> getAsync(std::string id, Done<std::optional<AsyncInvocation>> done);
  Result<void> findAsyncByKey(std::string app, std::string caller, std::string idempotency_key,
                              Done<std::optional<AsyncInvocation>> done);
  // Answers the updated record; kNotFound when unknown or past its retention.
  Result<void> updateAsync(std::string id, AsyncUpdate update, Done<AsyncInvocation> done);
  // Deletes records past their retention; answers how many.
  Result<void> expireAsync(Done<int64_t> done);
  // Records why the invocation's callback was given up (shown as callback_error); an
  // unknown or expired id is no error.
  Result<void> setCallbackError(std::string id, std::string error, Done<void> done);
  // Ids of this host's records still queued or running (oldest first, at most `limit`):
  // what a host that restarts resumes.
  Result<void> listUnfinishedAsync(size_t limit, Done<std::vector<std::string>> done);
  // How many records each app has queued or running on this host: where a host that
  // restarts starts counting toward its apps' max_pending_async.
  Result<void> countUnfinishedAsync(Done<std::map<std::string, size_t>> done);
  // Takes over the unfinished invocations of hosts that left: they are this host's to run
  // from now on. On one machine there are none, and the answer comes at once (before the
  // call returns).
  virtual Result<void> adoptOrphanedAsync(Done<std::vector<AdoptedAsync>> done) = 0;

  // Invocation records (see InvocationRecorder, which batches them). `done` may be null. A
  // record whose (id, attempt) is already stored is ignored.
  Result<void> addRecords(std::vector<InvocationRecord> records, Done<void> done);
  // Newest first (by start time, then by insertion).
  Result<void> listRecords(RecordFilter filter, Done<std::vector<InvocationRecord>> done);
  // The record of the invocation's last attempt.
  Result<void> getRecord(std::string id, Done<std::optional<InvocationRecord>> done);
  // Deletes records older than record_retention and all but the newest max_records;
  // answers how many. The backends also prune as records arrive.
  Result<void> pruneRecords(Done<int64_t> done);

  const InvocationStoreOptions& options() const { return options_; }

 protected:
  InvocationStore(const Clock& clock, InvocationStoreOptions options) : clock_(clock), options_(std::move(options)) {}
  // What every backend refuses to open with.
  static Result<void> checkOptions(const InvocationStoreOptions& options);
  int64_t nowMs() const;

  const Clock& clock_;
  const InvocationStoreOptions options_;

 private:
  // The backend's half of each call above, given valid, capped input.
  virtual Result<void> storeNewAsync(AsyncInvocation invocation, Done<AsyncCreated> done) = 0;
  virtual Result<void> loadAsync(std::string id, Done<std::optional<AsyncInvocation>> done) = 0;
  // The record holding the key, unless its idempotency window has passed.
  virtual Result<void> loadAsyncByKey(std::string app, std::string caller, std::string key,
                                      Done<std::optional<AsyncInvocation>> done) = 0;
  virtual Result<void> storeAsyncUpdate(std::string id, AsyncUpdate update, Done<AsyncInvocation> done) = 0;
  virtual Result<void> deleteExpiredAsync(Done<int64_t> done) = 0;
  virtual Result<void> storeCallbackError(std::string id, std::string error, Done<void> done) = 0;
  virtual Result<void> loadUnfinishedAsync(size_t limit, Done<std::vector<std::string>> done) = 0;
  virtual Result<void> countUnfinished(Done<std::map<std::string, size_t>> done) = 0;
  virtual Result<void> storeRecords(std::vector<InvocationRecord> records, Done<void> done) = 0;
  virtual Result<void> loadRecords(RecordFilter filter, Done<std::vector<InvocationRecord>> done) = 0;
  virtual Result<void> loadRecord(std::string id, Done<std::optional<InvocationRecord>> done) = 0;
  virtual Result<void> deleteOldRecords(Done<int64_t> done) = 0;

  void capLogs(std::vector<std::string>& logs) const;

  IdGenerator ids_;  // loop thread
};

}  // namespace gust
