// Queue and topic throughput of the two queue backends through the same QueueBackend calls:
// the embedded one (SqliteQueue on gust.db, synchronous=FULL) and the cluster's (RedisQueue
// on the Redis at REDIS_URL). Each flow repeats send -> lease -> ack on its own queue (one
// commit or one script each); the fan-out runs publish one event to a topic with 1 and 10
// subscriptions. bench/cluster/run.sh prints redis-benchmark's XADD ceiling beside these.
//
// Usage: cluster_queue_backends DIR REDIS_URL [SECONDS_PER_RUN]

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
#include "runtime/base/names.h"
#include "runtime/store/queue_store.h"
#include "runtime/store/redis_queue.h"
#include "runtime/store/sqlite_writer.h"
#include "bench/queue/backend_flows.h"

namespace {

using gust::bench::die;
using gust::bench::kBodyBytes;
using gust::bench::runUntil;

// One backend on `loop`: gust.db in `dir`, or the Redis at `url` under a fresh prefix.
struct Backend {
  Backend(uv_loop_t* loop, const std::filesystem::path& dir, const std::string& url, const std::string& prefix)
      : loop_(loop) {
    if (url.empty()) {
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove((dir / "bench.db").string() + suffix);
      gust::SqliteWriterOptions options;
      options.path = dir / "bench.db";
      auto w = gust::SqliteWriter::open(loop, options);
      if (!w.ok()) die(w.error().message);
      writer = std::move(*w);
      auto q = gust::SqliteQueue::open(*writer, clock);
      if (!q.ok()) die(q.error().message);
      queue = std::move(*q);
      return;
    }
    auto endpoint = gust::parseBackendUrl(url);
    if (!endpoint.ok()) die(endpoint.error().message);
    redis = std::make_unique<gust::RedisClient>(loop, *endpoint);
    redis->start();
    runUntil(loop, [this] { return redis->up(); });
    queue = std::make_unique<gust::RedisQueue>(*redis, clock, gust::QueueLimits{}, prefix);
  }
  ~Backend() {
    bool closed = false;
    if (writer) writer->close([&closed] { closed = true; });
    if (redis) redis->close([&closed] { closed = true; });
    runUntil(loop_, [&closed] { return closed; });
  }
  uv_loop_t* loop_;
  gust::SystemClock clock;
  std::unique_ptr<gust::SqliteWriter> writer;
  std::unique_ptr<gust::RedisClient> redis;
  std::unique_ptr<gust::QueueBackend> queue;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s DIR REDIS_URL [SECONDS_PER_RUN]\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const std::string url = argv[2];
  const double seconds = argc > 3 ? std::atof(argv[3]) : 2.0;
  uv_loop_t loop;
  uv_loop_init(&loop);
  int prefixes = 0;
  struct Kind {
    const char* name;
    std::string url;
  };
  const Kind kinds[] = {{"embedded (gust.db, FULL)", ""}, {"redis", url}};
  std::printf("send -> lease -> ack through QueueBackend, %zu-byte bodies, %.1f s each (messages/s):\n", kBodyBytes,
              seconds);
  for (size_t batch : {size_t{1}, size_t{32}}) {
    for (int flows : {1, 16}) {
      double rates[2];
      for (int k = 0; k < 2; ++k) {
        Backend b(&loop, dir, kinds[k].url, "bench" + std::to_string(++prefixes) + ":");
        rates[k] = gust::bench::roundTrips(&loop, *b.queue, batch, flows, seconds);
      }
      std::printf("  batch %2zu, %2d flows:  embedded %9.0f   redis %9.0f   (redis/embedded %.2fx)\n", batch, flows,
                  rates[0], rates[1], rates[1] / rates[0]);
      std::fflush(stdout);
    }
  }
  std::printf("topic fan-out, one event per send from 16 producers (events/s):\n");
  for (int subscribers : {1, 10}) {
    double rates[2];
    for (int k = 0; k < 2; ++k) {
      Backend b(&loop, dir, kinds[k].url, "bench" + std::to_string(++prefixes) + ":");
      rates[k] = gust::bench::fanOut(&loop, *b.queue, subscribers, 1, seconds);
    }
    std::printf("  %2d subscriptions:  embedded %9.0f   redis %9.0f   (redis/embedded %.2fx)\n", subscribers, rates[0],
                rates[1], rates[1] / rates[0]);
    std::fflush(stdout);
  }
  uv_run(&loop, UV_RUN_NOWAIT);
  if (uv_loop_close(&loop) != 0) die("loop did not close clean");
  return 0;
}
