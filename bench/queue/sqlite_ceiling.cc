// The ceiling for durable queue throughput on this machine: raw SQLite inserts with the
// settings gust.db uses (WAL; synchronous FULL and NORMAL), one per transaction and 32 per
// transaction, beside the embedded queue's own send -> lease -> ack through its API.
// The end-to-end queue bench prints its figures beside these.
//
// Usage: queue_sqlite_ceiling DIR [SECONDS_PER_RUN]   (DIR: where the databases go; use a
// directory on the disk you care about, since /tmp may be tmpfs, where fsync is free)

#include <sqlite3.h>
#include <uv.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/base/clock.h"
#include "runtime/store/sqlite_writer.h"
#include "runtime/store/queue_store.h"
#include "bench/queue/backend_flows.h"

namespace {

using Clock = std::chrono::steady_clock;
using gust::SqliteConnection;

using gust::bench::die;
using gust::bench::kBodyBytes;

void check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) die(std::string(what) + ": " + sqlite3_errmsg(db));
}

const char* syncName(SqliteConnection::Synchronous s) {
  return s == SqliteConnection::Synchronous::kFull ? "FULL" : "NORMAL";
}

// Inserts rows shaped like queue messages (same columns and indexes as the queue table)
// for `seconds`, `per_txn` per transaction; answers rows per second.
double rawInserts(const std::filesystem::path& path, SqliteConnection::Synchronous sync, int per_txn, double seconds) {
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
  sqlite3* db = nullptr;
  check(db, sqlite3_open(path.c_str(), &db), "open");
  check(db, sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr), "wal");
  check(db,
        sqlite3_exec(db, sync == SqliteConnection::Synchronous::kFull ? "PRAGMA synchronous=FULL"
                                                                       : "PRAGMA synchronous=NORMAL",
                     nullptr, nullptr, nullptr),
        "synchronous");
  check(db,
        sqlite3_exec(db,
                     "CREATE TABLE m (seq INTEGER PRIMARY KEY, queue TEXT NOT NULL, id TEXT NOT NULL,"
                     " body BLOB NOT NULL, headers BLOB NOT NULL, attempts INTEGER NOT NULL,"
                     " enqueued_at INTEGER NOT NULL, visible_at INTEGER NOT NULL, lease_token TEXT);"
                     "CREATE UNIQUE INDEX m_id ON m (queue, id);"
                     "CREATE INDEX m_vis ON m (queue, visible_at, seq);",
                     nullptr, nullptr, nullptr),
        "schema");
  sqlite3_stmt* begin = nullptr;
  sqlite3_stmt* commit = nullptr;
  sqlite3_stmt* insert = nullptr;
  check(db, sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, nullptr), "prepare");
  check(db, sqlite3_prepare_v2(db, "COMMIT", -1, &commit, nullptr), "prepare");
  check(db,
        sqlite3_prepare_v2(db,
                           "INSERT INTO m (queue, id, body, headers, attempts, enqueued_at, visible_at)"
                           " VALUES ('bench', ?1, ?2, x'00000000', 0, ?3, ?3)",
                           -1, &insert, nullptr),
        "prepare");
  const std::string body(kBodyBytes, 'b');
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  int64_t n = 0;
  while (Clock::now() < end) {
    check(db, sqlite3_step(begin), "begin");
    sqlite3_reset(begin);
    for (int i = 0; i < per_txn; ++i, ++n) {
      std::string id = "m-" + std::to_string(n);
      sqlite3_bind_text(insert, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
      sqlite3_bind_blob(insert, 2, body.data(), static_cast<int>(body.size()), SQLITE_STATIC);
      sqlite3_bind_int64(insert, 3, n);
      check(db, sqlite3_step(insert), "insert");
      sqlite3_reset(insert);
    }
    check(db, sqlite3_step(commit), "commit");
    sqlite3_reset(commit);
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  sqlite3_finalize(begin);
  sqlite3_finalize(commit);
  sqlite3_finalize(insert);
  sqlite3_close(db);
  return static_cast<double>(n) / elapsed;
}

// `flows` independent producers/consumers, each on its own queue, each repeating:
// send `batch` messages, lease them, ack them (each step waits for the previous one's
// commit). Concurrent flows share commits through the writer's group commit.
struct StoreRun {
  double messages_per_second = 0;
  double commits_per_second = 0;
};

// A fresh gust.db at `path` with its writer and queue store on `loop`.
struct Store {
  Store(uv_loop_t* loop, const std::filesystem::path& path, SqliteConnection::Synchronous sync) : loop_(loop) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
    gust::SqliteWriterOptions options;
    options.path = path;
    options.synchronous = sync;
    auto w = gust::SqliteWriter::open(loop, options);
    if (!w.ok()) die(w.error().message);
    writer = std::move(*w);
    auto q = gust::SqliteQueue::open(*writer, clock);
    if (!q.ok()) die(q.error().message);
    queue = std::move(*q);
  }
  ~Store() {
    bool closed = false;
    writer->close([&closed] { closed = true; });
    while (!closed) uv_run(loop_, UV_RUN_ONCE);
    queue.reset();
    writer.reset();
  }
  uv_loop_t* loop_;
  gust::SystemClock clock;
  std::unique_ptr<gust::SqliteWriter> writer;
  std::unique_ptr<gust::SqliteQueue> queue;
};

StoreRun storeRoundTrips(const std::filesystem::path& path, SqliteConnection::Synchronous sync, size_t batch,
                         int flows, double seconds) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  StoreRun run;
  {
    Store store(&loop, path, sync);
    const auto start = Clock::now();
    const uint64_t commits_before = store.writer->transactionsCommitted();
    run.messages_per_second = gust::bench::roundTrips(&loop, *store.queue, batch, flows, seconds);
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    run.commits_per_second = static_cast<double>(store.writer->transactionsCommitted() - commits_before) / elapsed;
  }
  if (uv_loop_close(&loop) != 0) die("loop did not close clean");
  return run;
}

// Events published to a topic with `subscribers` subscriptions (0: a plain queue, the
// baseline), `batch` per send, by 16 concurrent producers; each event is written once per
// subscription in the send's transaction. Answers events per second.
double fanOut(const std::filesystem::path& path, SqliteConnection::Synchronous sync, int subscribers, size_t batch,
              double seconds) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  double rate = 0;
  {
    Store store(&loop, path, sync);
    rate = gust::bench::fanOut(&loop, *store.queue, subscribers, batch, seconds);
  }
  if (uv_loop_close(&loop) != 0) die("loop did not close clean");
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [SECONDS_PER_RUN]\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const double seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
  if (!std::filesystem::is_directory(dir)) die(dir.string() + " is not a directory");
  if (seconds <= 0) die("SECONDS_PER_RUN must be positive");

  const SqliteConnection::Synchronous syncs[] = {SqliteConnection::Synchronous::kFull,
                                                 SqliteConnection::Synchronous::kNormal};
  std::printf("raw SQLite inserts (WAL, %zu-byte bodies), %.1f s each:\n", kBodyBytes, seconds);
  for (auto sync : syncs) {
    for (int per_txn : {1, 32}) {
      double rate = rawInserts(dir / "raw.db", sync, per_txn, seconds);
      std::printf("  synchronous=%-6s %2d per transaction: %9.0f msgs/s\n", syncName(sync), per_txn, rate);
      std::fflush(stdout);
    }
  }
  std::printf("gust queue store, send -> lease -> ack through SqliteQueue (3 commits per round):\n");
  for (auto sync : syncs) {
    for (size_t batch : {size_t{1}, size_t{32}}) {
      for (int flows : {1, 16}) {
        StoreRun run = storeRoundTrips(dir / "store.db", sync, batch, flows, seconds);
        std::printf("  synchronous=%-6s batch %2zu, %2d concurrent flows: %9.0f msgs/s  (%6.0f commits/s)\n",
                    syncName(sync), batch, flows, run.messages_per_second, run.commits_per_second);
        std::fflush(stdout);
      }
    }
  }
  std::printf("gust topic fan-out, events sent by 16 producers, each written into every subscription's queue:\n");
  for (size_t batch : {size_t{1}, size_t{32}}) {
    const double baseline = fanOut(dir / "topic.db", SqliteConnection::Synchronous::kFull, 0, batch, seconds);
    std::printf("  synchronous=FULL   batch %2zu, a plain queue (baseline): %9.0f events/s\n", batch, baseline);
    for (int subscribers : {1, 3, 10}) {
      const double rate = fanOut(dir / "topic.db", SqliteConnection::Synchronous::kFull, subscribers, batch, seconds);
      std::printf("  synchronous=FULL   batch %2zu, %2d subscriptions:          %9.0f events/s  (%8.0f messages/s, "
                  "%.2fx the baseline's events)\n",
                  batch, subscribers, rate, rate * subscribers, rate / baseline);
      std::fflush(stdout);
    }
  }
  return 0;
}
