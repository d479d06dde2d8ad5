#include "runtime/observe/invocation_recorder.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "runtime/store/sqlite_invocation_store.h"
#include "tests/support/run_loop.h"
#include "tests/unit/store_test_support.h"

namespace gust {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;
using testing::WriterFixture;

InvocationRecord record(int i) {
  InvocationRecord r;
  r.id = "r" + std::to_string(i);
  r.app = "shop";
  r.function = "f";
  r.started_at = std::chrono::system_clock::now();
  return r;
}

// A real store on a real gust.db and the counter a recorder drops into.
class RecorderFixture {
 public:
  explicit RecorderFixture(SqliteWriterOptions writer_options = {}) : fx(writer_options) {
    auto store = SqliteInvocationStore::open(fx.writer(), clock);
    GUST_REQUIRE_OK(store);
    store_ = std::move(*store);
    auto counter = registry_.addCounter("dropped_total", "dropped");
    GUST_REQUIRE_OK(counter);
    dropped = &(*counter)->series();
  }
  ~RecorderFixture() {
    fx.closeWriter();
    store_.reset();
  }

  size_t stored() {
    RecordFilter all;
    all.limit = 1000;
    auto r = fx.wait<std::vector<InvocationRecord>>([&](auto done) { return store_->listRecords(all, done); });
    GUST_REQUIRE_OK(r);
    return r->size();
  }
  void close(InvocationRecorder& recorder) {
    bool closed = false;
    recorder.close([&closed] { closed = true; });
    REQUIRE(test::runLoopUntil(fx.loop(), "the recorder to close", [&closed] { return closed; }));
  }
  InvocationStore& store() { return *store_; }

  FakeClock clock;
  WriterFixture fx;
  Counter* dropped = nullptr;

 private:
  MetricsRegistry registry_;
  std::unique_ptr<InvocationStore> store_;
};

TEST_CASE("records wait for the flush interval by the clock, then go to the store in one commit") {
  RecorderFixture s;
  InvocationRecorderOptions options;
  options.flush_interval = milliseconds(50);
  InvocationRecorder recorder(s.fx.loop(), s.clock, s.store(), *s.dropped, options);
  const uint64_t before = s.fx.writer().transactionsCommitted();
  const uint64_t jobs_before = s.fx.writer().jobsCommitted();
  for (int i = 0; i < 20; ++i) recorder.add(record(i));
  // Short of the interval nothing is posted, however often the recorder looks. A record
  // added now goes into the same batch, so a batch posted early would leave it out.
  s.clock.advance(milliseconds(49));
  recorder.tick();
  uv_run(s.fx.loop(), UV_RUN_NOWAIT);
  recorder.add(record(20));
  s.clock.advance(milliseconds(1));
  recorder.tick();
  REQUIRE(test::runLoopUntil(s.fx.loop(), "the batch's commit",
                             [&] { return s.fx.writer().transactionsCommitted() != before; }));
  CHECK(s.fx.writer().transactionsCommitted() - before == 1);
  CHECK(s.fx.writer().jobsCommitted() - jobs_before == 1);
  CHECK(s.stored() == 21);
  CHECK(s.dropped->value() == 0);
  s.close(recorder);
}

TEST_CASE("a full batch is posted at once, without waiting for the timer") {
  RecorderFixture s;
  InvocationRecorderOptions options;
  options.flush_interval = std::chrono::hours(1);
  options.flush_at = 10;
  InvocationRecorder recorder(s.fx.loop(), s.clock, s.store(), *s.dropped, options);
  for (int i = 0; i < 25; ++i) recorder.add(record(i));
  CHECK(s.stored() == 20);  // two full batches; five wait
  s.close(recorder);        // close stores what waits
  CHECK(s.stored() == 25);
  recorder.add(record(99));  // after close: dropped and counted
  CHECK(s.dropped->value() == 1);
}

TEST_CASE("plain successes are admitted up to the budget per function, refilled with time") {
  RecorderFixture s;
  InvocationRecorderOptions options;
  options.successes_per_second = 3;
  InvocationRecorder recorder(s.fx.loop(), s.clock, s.store(), *s.dropped, options);
  int busy = 0, quiet = 0;
  for (int i = 0; i < 10; ++i) busy += recorder.admits(&busy) ? 1 : 0;
  CHECK(busy == 3);
  CHECK(recorder.admits(&quiet));  // another function has its own budget
  s.clock.advance(milliseconds(300));
  CHECK_FALSE(recorder.admits(&busy));  // 0.3 s x 3/s: 0.9 of a record
  s.clock.advance(milliseconds(100));
  CHECK(recorder.admits(&busy));  // 0.4 s x 3/s: one more
  CHECK_FALSE(recorder.admits(&busy));

  InvocationRecorderOptions none;
  none.successes_per_second = 0;
  InvocationRecorder off(s.fx.loop(), s.clock, s.store(), *s.dropped, none);
  CHECK_FALSE(off.admits(&busy));
  s.close(off);
  s.close(recorder);
}

TEST_CASE("past max_buffered records are dropped and counted") {
  RecorderFixture s;
  InvocationRecorderOptions options;
  options.flush_interval = std::chrono::hours(1);
  options.max_buffered = 4;
  InvocationRecorder recorder(s.fx.loop(), s.clock, s.store(), *s.dropped, options);
  for (int i = 0; i < 6; ++i) recorder.add(record(i));
  CHECK(s.dropped->value() == 2);
  s.close(recorder);
  CHECK(s.stored() == 4);
}

TEST_CASE("when the store refuses a batch, its records are dropped and counted, never waited for") {
  SqliteWriterOptions tiny;
  tiny.max_queued_jobs = 1;
  RecorderFixture s(tiny);
  InvocationRecorderOptions options;
  options.flush_interval = std::chrono::hours(1);
  options.flush_at = 4;
  InvocationRecorder recorder(s.fx.loop(), s.clock, s.store(), *s.dropped, options);
  // Hold the writer with one job, so the queue (of one) fills behind it.
  const uint64_t jobs_before = s.fx.writer().jobsCommitted();
  testing::WriterHold hold(s.fx.writer());
  for (int i = 0; i < 4; ++i) recorder.add(record(i));  // a batch: queued behind the holder
  for (int i = 4; i < 8; ++i) recorder.add(record(i));  // a batch the full queue refuses
  CHECK(s.dropped->value() == 4);
  hold.release();
  REQUIRE(test::runLoopUntil(s.fx.loop(), "the holder's and the batch's commits",
                             [&] { return s.fx.writer().jobsCommitted() >= jobs_before + 2; }));
  CHECK(s.stored() == 4);
  s.close(recorder);
}

}  // namespace
}  // namespace gust
