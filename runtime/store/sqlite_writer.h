#pragma once
// The one writer of gust.db: a SQLite connection on its own thread with group commit.
//
// Callers on the loop thread post jobs (a function run against the connection, returning a
// Result). The writer thread takes everything queued, runs it in ONE `BEGIN IMMEDIATE ...
// COMMIT` (one fsync for the whole batch), each job inside its own SAVEPOINT so a job that
// fails rolls back only itself. After the COMMIT returns, each job's completion runs on the
// loop thread, in posting order: a completion that sees success means the job's writes are
// committed (with synchronous=FULL, on disk). If the COMMIT itself fails (a full disk), every
// job of the batch that changed rows completes with that error and none of their writes
// exist; a job that changed none (a read) keeps its answer. An error that makes SQLite roll
// back the whole transaction mid-batch is handled the same way for the jobs before it, and
// the jobs after it run in a new transaction.
//
// Contract:
// - Owning thread: the loop thread of `loop`. post() and close() are called there;
//   completions run there. runSync() may be called from any thread (it blocks the caller).
// - Jobs run on the writer thread, one at a time; they must not touch loop-thread state.
//   Whatever a job borrows must outlive the writer's close().
// - Bounded: at most `max_queued_jobs` jobs wait for the writer; post() fails with
//   kOverloaded beyond that.
// - Lifetime: close() drains every queued job (their completions run, inside close() or
//   before), joins the thread, closes the database and the uv_async; `closed` runs from the
//   async's close callback. Free the writer after that. post()/runSync() after close() fail
//   with kUnavailable.
// - The uv_async is referenced only while jobs are outstanding: a pending write keeps the
//   loop alive (like a pending uv_fs request), an idle writer does not (STYLE 3).

#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "runtime/base/result.h"
#include "runtime/store/sqlite_connection.h"
#include "runtime/base/unique_function.h"

namespace gust {

struct SqliteWriterOptions {
  std::filesystem::path path;  // e.g. <data dir>/gust.db; created if missing
  // FULL: a completion means the batch's WAL frames were fsynced. NORMAL: committed, but
  // the last transactions may roll back on power loss (not on a process crash).
  SqliteConnection::Synchronous synchronous = SqliteConnection::Synchronous::kFull;
  std::chrono::milliseconds busy_timeout{5000};
  size_t max_queued_jobs = 65536;
};

class SqliteWriter {
 public:
  template <typename T>
  using Job = UniqueFunction<Result<T>(SqliteConnection&)>;
  template <typename T>
  using Completion = UniqueFunction<void(Result<T>)>;

  // Opens the database on the calling thread (so a bad path fails here, with a clear
  // message) and starts the writer thread.
  static Result<std::unique_ptr<SqliteWriter>> open(uv_loop_t* loop, SqliteWriterOptions options);
  ~SqliteWriter();
  SqliteWriter(const SqliteWriter&) = delete;
  SqliteWriter& operator=(const SqliteWriter&) = delete;

  // Queues `job`; `done` later runs on the loop thread with the job's result, after the
  // transaction holding it committed. Fails now (and never calls `done`) when the queue is
  // full (kOverloaded) or the writer is closing (kUnavailable). `done` may be null.
  template <typename T>
  Result<void> post(Job<T> job, Completion<T> done) {
    return enqueue(std::make_unique<TypedEntry<T>>(std::move(job), std::move(done)), false);
  }

  // Runs `job` in the writer's next transaction and blocks until it committed. For startup
  // (migrations) and tests; any thread. Not bounded by max_queued_jobs.
  template <typename T>
  Result<T> runSync(Job<T> job) {
    auto entry = std::make_unique<SyncEntry<T>>(std::move(job));
    auto future = entry->promise.get_future();
    if (auto queued = enqueue(std::move(entry), true); !queued.ok()) return queued.error();
    return future.get();
  }

  void close(UniqueFunction<void()> closed);

  // Committed transactions and jobs so far (any thread); a test proves grouping with them.
  uint64_t transactionsCommitted() const { return transactions_.load(std::memory_order_relaxed); }
  uint64_t jobsCommitted() const { return jobs_committed_.load(std::memory_order_relaxed); }
  const std::filesystem::path& path() const { return options_.path; }

 private:
  // A job with its result slot, type-erased for the queue.
  struct Entry {
    virtual ~Entry() = default;
    // On the writer thread, inside the transaction; true if the job succeeded.
    virtual bool run(SqliteConnection& connection) = 0;
    // On the writer thread, when the transaction could not commit: the job's result is
    // replaced by `error`, since its writes are gone.
    virtual void fail(const Error& error) = 0;
    // On the writer thread after the commit for sync entries, on the loop thread otherwise.
    virtual void complete() = 0;
    // After run() returned false: why.
    virtual Error failure() const = 0;
  };

  template <typename T>
  struct TypedEntry final : Entry {
    TypedEntry(Job<T> j, Completion<T> d) : job(std::move(j)), done(std::move(d)) {}
    bool run(SqliteConnection& connection) override {
      result.emplace(guardedRun(job, connection));
      return result->ok();
    }
    void fail(const Error& error) override { result.emplace(error); }
    void complete() override {
      if (done) done(std::move(*result));
    }
    Error failure() const override { return result->error(); }
    Job<T> job;
    Completion<T> done;
    std::optional<Result<T>> result;
  };

  template <typename T>
  struct SyncEntry final : Entry {
    explicit SyncEntry(Job<T> j) : job(std::move(j)) {}
    bool run(SqliteConnection& connection) override {
      result.emplace(guardedRun(job, connection));
      return result->ok();
    }
    void fail(const Error& error) override { result.emplace(error); }
    void complete() override { promise.set_value(std::move(*result)); }
    Error failure() const override { return result->error(); }
    Job<T> job;
    std::optional<Result<T>> result;
    std::promise<Result<T>> promise;
  };

  // A job that throws (it should not: no exceptions on the data plane) fails alone
  // instead of taking the writer thread down.
  template <typename T>
  static Result<T> guardedRun(Job<T>& job, SqliteConnection& connection) {
    try {
      return job(connection);
    } catch (const std::exception& e) {
      return makeError(ErrorKind::kInternal, std::string("database job threw: ") + e.what());
    }
  }

  struct Queued {
    std::unique_ptr<Entry> entry;
    bool sync = false;
    bool wrote = false;  // its job changed rows (sqlite3_total_changes), on the writer thread
  };

  SqliteWriter(uv_loop_t* loop, SqliteWriterOptions options, std::unique_ptr<SqliteConnection> connection);
  Result<void> enqueue(std::unique_ptr<Entry> entry, bool sync);
  void writerMain();
  void runBatch(std::deque<Queued>& batch);
  // Runs batch[from..] in one transaction until it commits, or until an error rolls all of
  // it back; answers where the next transaction starts (batch.size() when done).
  size_t runTransaction(std::deque<Queued>& batch, size_t from);
  void deliverCompletions();

  uv_loop_t* loop_;
  SqliteWriterOptions options_;
  std::unique_ptr<SqliteConnection> connection_;  // the writer thread's once it started
  uv_async_t async_{};
  std::thread thread_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Queued> queued_;     // posted, not yet taken by the writer
  std::deque<Queued> completed_;  // committed (or failed), completions not yet run
  size_t queued_async_ = 0;       // async entries in queued_ (what the cap bounds)
  bool closing_ = false;

  // Loop thread only.
  size_t outstanding_ = 0;  // posted, completion not yet run; the async is ref'd while > 0
  bool close_started_ = false;
  bool closed_ = false;
  UniqueFunction<void()> on_closed_;

  std::atomic<uint64_t> transactions_{0};
  std::atomic<uint64_t> jobs_committed_{0};
};

}  // namespace gust
