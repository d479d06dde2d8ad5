// The invocation store contract (runtime/store/invocation_store.h), run against gust.db and,
// when GUST_STORE_BACKEND=redis (the test "invocation_store_test_redis"), against the Redis
// backend on a real redis-server. Tests in the suite "sqlite only" look at gust.db itself.
#include "runtime/store/invocation_store.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "runtime/store/redis_invocation_store.h"
#include "runtime/store/sqlite_invocation_store.h"
#include "tests/unit/store_test_support.h"

namespace gust {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::FakeClock;
using testing::WriterFixture;

class StoreFixture {
 public:
  explicit StoreFixture(InvocationStoreOptions options = {}) : options_(std::move(options)) {
    if (testing::onRedisBackend()) {
      redis_ = testing::connectSharedRedis(fx.loop());
      prefix_ = testing::freshRedisPrefix();
    }
    openStore();
  }
  ~StoreFixture() {
    store_.reset();
    if (redis_) {
      bool closed = false;
      redis_->close([&closed] { closed = true; });
      test::runLoopUntil(fx.loop(), "the Redis client to close", [&closed] { return closed; });
    }
    fx.closeWriter();
  }
  // As a host that restarts: a new store on what the old one kept.
  void reopen() {
    store_.reset();
    if (!redis_) {
      fx.closeWriter();
      fx.openWriter();
    }
    openStore();
  }
  InvocationStore& store() { return *store_; }
  RedisClient& redisClient() { return *redis_; }
  const std::string& prefix() const { return prefix_; }

  template <typename T, typename Call>
  T ok(Call&& call) {
    auto r = fx.wait<T>(std::forward<Call>(call));
    GUST_REQUIRE_OK(r);
    return std::move(*r);
  }
  AsyncCreated create(AsyncInvocation a) {
    return ok<AsyncCreated>([&](auto done) { return store_->createAsync(std::move(a), std::move(done)); });
  }
  std::optional<AsyncInvocation> get(const std::string& id) {
    return ok<std::optional<AsyncInvocation>>([&](auto done) { return store_->getAsync(id, std::move(done)); });
  }
  std::optional<AsyncInvocation> byKey(const std::string& app, const std::string& key,
                                       const std::string& caller = std::string(kAnonymousCaller)) {
    return ok<std::optional<AsyncInvocation>>(
        [&](auto done) { return store_->findAsyncByKey(app, caller, key, std::move(done)); });
  }
  Result<AsyncInvocation> update(const std::string& id, AsyncUpdate u) {
    return fx.wait<AsyncInvocation>([&](auto done) { return store_->updateAsync(id, std::move(u), std::move(done)); });
  }
  void add(InvocationRecord r) {
    auto added = fx.wait<void>([&](auto done) { return store_->addRecords({std::move(r)}, std::move(done)); });
    GUST_REQUIRE_OK(added);
  }
  std::vector<InvocationRecord> list(RecordFilter f) {
    return ok<std::vector<InvocationRecord>>([&](auto done) { return store_->listRecords(f, std::move(done)); });
  }
  int64_t prune() {
    return ok<int64_t>([&](auto done) { return store_->pruneRecords(std::move(done)); });
  }

  WriterFixture fx;
  FakeClock clock;

 private:
  void openStore() {
    if (redis_) {
      auto s = RedisInvocationStore::open(*redis_, clock, options_, prefix_);
      GUST_REQUIRE_OK(s);
      (*s)->setHost("host-a");
      store_ = std::move(*s);
      return;
    }
    auto s = SqliteInvocationStore::open(fx.writer(), clock, options_);
    GUST_REQUIRE_OK(s);
    store_ = std::move(*s);
  }
  InvocationStoreOptions options_;
  std::unique_ptr<RedisClient> redis_;
  std::string prefix_;
  std::unique_ptr<InvocationStore> store_;
};

AsyncInvocation asyncRequest(std::string key = "", std::string body = "{\"n\":1}") {
  AsyncInvocation a;
  a.app = "shop";
  a.function = "checkout";
  a.request = AsyncRequest{"POST", "/checkout", "a=1", {{"content-type", "application/json"}}, std::move(body)};
  a.callback_url = "https://example.test/done";
  a.idempotency_key = std::move(key);
  return a;
}

InvocationRecord record(std::string id, std::string app, OutcomeKind outcome, StoreTime started) {
  InvocationRecord r;
  r.id = std::move(id);
  r.app = std::move(app);
  r.function = "f";
  r.trigger = RecordTrigger::kQueue;
  r.started_at = started;
  r.duration = std::chrono::microseconds(12345);
  r.cold_start = true;
  r.cold_start_duration = std::chrono::microseconds(80250);
  r.attempt = 2;
  r.outcome = outcome;
  r.error = outcome == OutcomeKind::kOk ? "" : "it broke";
  r.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  r.logs = {"line one", "line two"};
  return r;
}

std::vector<std::string> idsOf(const std::vector<InvocationRecord>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.id);
  return out;
}

TEST_CASE("an async invocation is stored queued with its request and read back by id") {
  StoreFixture s;
  auto created = s.create(asyncRequest());
  CHECK_FALSE(created.existing);
  const AsyncInvocation& a = created.invocation;
  CHECK(a.id.size() == 32);
  CHECK(a.status == AsyncStatus::kQueued);
  CHECK(a.created_at == s.clock.wallNow());
  CHECK(a.expires_at == s.clock.wallNow() + hours(24 * 7));
  auto got = s.get(a.id);
  REQUIRE(got.has_value());
  CHECK(got->app == "shop");
  CHECK(got->function == "checkout");
  CHECK(got->request.method == "POST");
  CHECK(got->request.path == "/checkout");
  CHECK(got->request.query == "a=1");
  CHECK(got->request.headers == Pairs{{"content-type", "application/json"}});
  CHECK(got->request.body == "{\"n\":1}");
  CHECK(got->callback_url == "https://example.test/done");
  CHECK_FALSE(got->response.has_value());
  CHECK(got->created_at == a.created_at);
  CHECK_FALSE(s.get("nope").has_value());
}

TEST_CASE("a create with an idempotency key the app used within the window answers the earlier record") {
  InvocationStoreOptions options;
  options.idempotency_window = hours(1);
  StoreFixture s(options);
  auto first = s.create(asyncRequest("key-1", "first"));
  s.clock.advance(minutes(59));
  auto second = s.create(asyncRequest("key-1", "second"));
  CHECK(second.existing);
  CHECK(second.invocation.id == first.invocation.id);
  CHECK(second.invocation.request.body == "first");
  // Keys are per app.
  AsyncInvocation other_app = asyncRequest("key-1");
  other_app.app = "blog";
  CHECK_FALSE(s.create(other_app).existing);
  CHECK(s.byKey("shop", "key-1")->id == first.invocation.id);

  // Past the window the key is free; the earlier record is still readable by id.
  s.clock.advance(minutes(1));
  CHECK_FALSE(s.byKey("shop", "key-1").has_value());
  auto third = s.create(asyncRequest("key-1", "third"));
  CHECK_FALSE(third.existing);
  CHECK(third.invocation.id != first.invocation.id);
  CHECK(s.byKey("shop", "key-1")->id == third.invocation.id);
  CHECK(s.get(first.invocation.id)->request.body == "first");
}

TEST_CASE("an idempotency key is the caller's own, and its record keeps caller and fingerprint") {
  StoreFixture s;
  AsyncInvocation mine = asyncRequest("k");
  mine.caller = "key:ci";
  mine.fingerprint = requestFingerprint(mine.request);
  auto first = s.create(mine);
  CHECK(first.invocation.caller == "key:ci");
  // Another caller with the same key gets its own record, never the first one's.
  AsyncInvocation theirs = asyncRequest("k", "theirs");
  theirs.caller = "key:other";
  auto second = s.create(theirs);
  CHECK_FALSE(second.existing);
  CHECK(second.invocation.id != first.invocation.id);
  AsyncInvocation anonymous = asyncRequest("k", "anon");
  CHECK_FALSE(s.create(anonymous).existing);
  // The first caller again, with another request: the earlier record, whose fingerprint
  // shows it was another request.
  AsyncInvocation again = asyncRequest("k", "changed body");
  again.caller = "key:ci";
  again.fingerprint = requestFingerprint(again.request);
  auto third = s.create(again);
  CHECK(third.existing);
  CHECK(third.invocation.id == first.invocation.id);
  CHECK(third.invocation.fingerprint == mine.fingerprint);
  CHECK(third.invocation.fingerprint != again.fingerprint);
  CHECK(s.byKey("shop", "k", "key:ci")->id == first.invocation.id);
  CHECK(s.byKey("shop", "k", "key:other")->id == second.invocation.id);
  s.reopen();
  auto stored = s.get(first.invocation.id);
  REQUIRE(stored.has_value());
  CHECK(stored->caller == "key:ci");
  CHECK(stored->fingerprint == mine.fingerprint);
}

TEST_CASE("records from before callers were kept become anonymous, and keep their idempotency key" *
          doctest::test_suite("sqlite only")) {
  StoreFixture s;
  AsyncInvocation old = asyncRequest("k");
  old.caller = "key:gone";
  auto first = s.create(old);
  // Back to the shape of the version before caller and fingerprint (invocations schema 3).
  auto downgraded = s.fx.writer().runSync<bool>([](SqliteConnection& db) -> Result<bool> {
    for (const char* sql : {"DROP INDEX async_invocations_by_caller_key",
                            "ALTER TABLE async_invocations DROP COLUMN caller",
                            "ALTER TABLE async_invocations DROP COLUMN fingerprint",
                            "CREATE UNIQUE INDEX async_invocations_by_key ON async_invocations (app, idempotency_key)"
                            "  WHERE idempotency_key IS NOT NULL",
                            "UPDATE schema_versions SET version = 3 WHERE component = 'invocations'"}) {
      if (auto r = db.exec(sql); !r.ok()) return r.error();
    }
    return true;
  });
  GUST_REQUIRE_OK(downgraded);
  s.reopen();
  auto migrated = s.get(first.invocation.id);
  REQUIRE(migrated.has_value());
  CHECK(migrated->caller == kAnonymousCaller);
  CHECK(migrated->fingerprint.empty());
  auto again = s.create(asyncRequest("k"));
  CHECK(again.existing);
  CHECK(again.invocation.id == first.invocation.id);
}

TEST_CASE("a request's fingerprint changes with its method, path, query or body, not its headers") {
  AsyncRequest base{"POST", "/a", "x=1", {{"h", "1"}}, "body"};
  const std::string fp = requestFingerprint(base);
  CHECK(fp.size() == 64);
  AsyncRequest headers = base;
  headers.headers = {{"h", "2"}};
  CHECK(requestFingerprint(headers) == fp);
  for (auto change : {+[](AsyncRequest& r) { r.method = "PUT"; }, +[](AsyncRequest& r) { r.path = "/b"; },
                      +[](AsyncRequest& r) { r.query = "x=2"; }, +[](AsyncRequest& r) { r.body = "other"; },
                      // Moving bytes between parts is another request too.
                      +[](AsyncRequest& r) { r.path = "/ax=1"; r.query = ""; }}) {
    AsyncRequest changed = base;
    change(changed);
    CHECK(requestFingerprint(changed) != fp);
  }
}

TEST_CASE("two creates with one key posted back to back give one record") {
  StoreFixture s;
  std::vector<AsyncCreated> results;
  for (int i = 0; i < 2; ++i) {
    auto posted = s.store().createAsync(asyncRequest("same", "try " + std::to_string(i)),
                                        [&results](Result<AsyncCreated> r) {
                                          REQUIRE(r.ok());
                                          results.push_back(std::move(*r));
                                        });
    REQUIRE(posted.ok());
  }
  REQUIRE(test::runLoopUntil(s.fx.loop(), "both creates to answer", [&] { return results.size() == 2; }));
  CHECK_FALSE(results[0].existing);
  CHECK(results[1].existing);
  CHECK(results[1].invocation.id == results[0].invocation.id);
  CHECK(results[1].invocation.request.body == "try 0");
}

TEST_CASE("status and result updates are stored and survive a reopen") {
  StoreFixture s;
  auto id = s.create(asyncRequest()).invocation.id;
  s.clock.advance(seconds(1));
  AsyncUpdate running;
  running.status = AsyncStatus::kRunning;
  running.attempts = 1;
  auto r1 = s.update(id, running);
  GUST_REQUIRE_OK(r1);
  CHECK(r1->status == AsyncStatus::kRunning);
  CHECK(r1->attempts == 1);
  CHECK(r1->updated_at == s.clock.wallNow());

  s.clock.advance(seconds(2));
  AsyncUpdate finished;
  finished.status = AsyncStatus::kSucceeded;
  finished.response = AsyncResponse{201, {{"x-order", "42"}}, "created"};
  GUST_REQUIRE_OK(s.update(id, finished));
  s.reopen();
  auto got = s.get(id);
  REQUIRE(got.has_value());
  CHECK(got->status == AsyncStatus::kSucceeded);
  CHECK(got->attempts == 1);  // untouched by an update without attempts
  REQUIRE(got->response.has_value());
  CHECK(got->response->status == 201);
  CHECK(got->response->headers == Pairs{{"x-order", "42"}});
  CHECK(got->response->body == "created");
  CHECK(got->updated_at == s.clock.wallNow());
  CHECK(got->created_at == s.clock.wallNow() - seconds(3));

  AsyncUpdate failed;
  failed.status = AsyncStatus::kFailed;
  failed.error = std::string(10000, 'e');
  auto r3 = s.update(id, failed);
  GUST_REQUIRE_OK(r3);
  CHECK(r3->error.size() == 4096);  // cut to max_error_bytes
  CHECK(r3->response.has_value());  // kept

  auto missing = s.update("no-such-id", running);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().kind == ErrorKind::kNotFound);
}

TEST_CASE("why a callback was given up is stored apart from the result and kept by later updates") {
  StoreFixture s;
  auto id = s.create(asyncRequest()).invocation.id;
  CHECK(s.get(id)->callback_error.empty());
  auto set = [&](const std::string& which, std::string why) {
    auto r = s.fx.wait<void>(
        [&](auto done) { return s.store().setCallbackError(which, std::move(why), std::move(done)); });
    GUST_REQUIRE_OK(r);
  };
  set(id, "localhost resolves to 127.0.0.1, a loopback (127.0.0.0/8) address");
  set("no-such-id", "nobody to tell");  // not an error: the record may have expired
  AsyncUpdate finished;
  finished.status = AsyncStatus::kSucceeded;
  auto updated = s.update(id, finished);
  GUST_REQUIRE_OK(updated);
  CHECK(updated->callback_error == "localhost resolves to 127.0.0.1, a loopback (127.0.0.0/8) address");
  s.reopen();
  CHECK(s.get(id)->callback_error == "localhost resolves to 127.0.0.1, a loopback (127.0.0.0/8) address");
  CHECK(s.get(id)->status == AsyncStatus::kSucceeded);
}

TEST_CASE("async invocations past their retention are gone and expireAsync deletes them") {
  InvocationStoreOptions options;
  options.async_retention = hours(2);
  options.idempotency_window = hours(1);
  StoreFixture s(options);
  auto old_id = s.create(asyncRequest("k")).invocation.id;
  s.clock.advance(hours(1));
  auto young_id = s.create(asyncRequest()).invocation.id;
  s.clock.advance(hours(1));
  CHECK_FALSE(s.get(old_id).has_value());
  CHECK(s.get(young_id).has_value());
  AsyncUpdate u;
  CHECK(s.update(old_id, u).error().kind == ErrorKind::kNotFound);
  CHECK(s.ok<int64_t>([&](auto done) { return s.store().expireAsync(std::move(done)); }) == 1);
  CHECK(s.ok<int64_t>([&](auto done) { return s.store().expireAsync(std::move(done)); }) == 0);
  // The key of the expired record is usable again.
  CHECK_FALSE(s.create(asyncRequest("k")).existing);
}

TEST_CASE("unfinished async invocations are listed oldest first for a restarting host to resume") {
  InvocationStoreOptions options;
  options.async_retention = hours(2);
  options.idempotency_window = hours(1);
  StoreFixture s(options);
  auto list = [&](size_t limit) {
    return s.ok<std::vector<std::string>>(
        [&](auto done) { return s.store().listUnfinishedAsync(limit, std::move(done)); });
  };
  auto expired = s.create(asyncRequest()).invocation.id;
  s.clock.advance(hours(1));
  auto queued = s.create(asyncRequest()).invocation.id;
  s.clock.advance(seconds(1));
  auto running = s.create(asyncRequest()).invocation.id;
  s.clock.advance(seconds(1));
  auto succeeded = s.create(asyncRequest()).invocation.id;
  s.clock.advance(seconds(1));
  auto failed = s.create(asyncRequest()).invocation.id;
  AsyncUpdate run;
  run.attempts = 1;
  GUST_REQUIRE_OK(s.update(running, run));
  AsyncUpdate ok;
  ok.status = AsyncStatus::kSucceeded;
  GUST_REQUIRE_OK(s.update(succeeded, ok));
  AsyncUpdate bad;
  bad.status = AsyncStatus::kFailed;
  GUST_REQUIRE_OK(s.update(failed, bad));
  s.clock.advance(hours(1));  // `expired` is past its retention now, the others are not
  CHECK(list(10) == std::vector<std::string>{queued, running});
  CHECK(list(1) == std::vector<std::string>{queued});
  CHECK(s.store().listUnfinishedAsync(0, [](auto) { FAIL("called back after a refusal"); }).error().kind ==
        ErrorKind::kBadInput);
  (void)expired;
}

TEST_CASE("invocation records list newest first with app, function and failure filters") {
  StoreFixture s;
  const StoreTime t0 = s.clock.wallNow();
  s.add(record("r1", "shop", OutcomeKind::kOk, t0));
  s.add(record("r2", "shop", OutcomeKind::kCrashed, t0 + seconds(2)));
  s.add(record("r3", "blog", OutcomeKind::kTimedOut, t0 + seconds(3)));
  s.add(record("r4", "shop", OutcomeKind::kOk, t0 + seconds(1)));  // finished last, started earlier
  InvocationRecord other_function = record("r5", "shop", OutcomeKind::kFunctionError, t0 + seconds(4));
  other_function.function = "g";
  s.add(other_function);

  CHECK(idsOf(s.list({})) == std::vector<std::string>{"r5", "r3", "r2", "r4", "r1"});
  CHECK(idsOf(s.list({"shop", "", false, 100})) == std::vector<std::string>{"r5", "r2", "r4", "r1"});
  CHECK(idsOf(s.list({"shop", "f", false, 100})) == std::vector<std::string>{"r2", "r4", "r1"});
  CHECK(idsOf(s.list({"", "", true, 100})) == std::vector<std::string>{"r5", "r3", "r2"});
  CHECK(idsOf(s.list({"shop", "", true, 1})) == std::vector<std::string>{"r5"});

  auto got = s.ok<std::optional<InvocationRecord>>(
      [&](auto done) { return s.store().getRecord("r2", std::move(done)); });
  REQUIRE(got.has_value());
  CHECK(got->app == "shop");
  CHECK(got->function == "f");
  CHECK(got->trigger == RecordTrigger::kQueue);
  CHECK(got->started_at == t0 + seconds(2));
  CHECK(got->duration.count() == 12345);
  CHECK(got->cold_start);
  CHECK(got->cold_start_duration.count() == 80250);
  CHECK(got->attempt == 2);
  CHECK(got->outcome == OutcomeKind::kCrashed);
  CHECK(got->error == "it broke");
  CHECK(got->trace_id == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(got->logs == std::vector<std::string>{"line one", "line two"});
  CHECK_FALSE(s.ok<std::optional<InvocationRecord>>(
                   [&](auto done) { return s.store().getRecord("nope", std::move(done)); })
                   .has_value());

  // A second record of one (id, attempt) does not cost the rest of its batch their place.
  InvocationRecord again = record("r1", "shop", OutcomeKind::kFunctionError, t0);
  InvocationRecord next_attempt = record("r1", "shop", OutcomeKind::kOk, t0 + seconds(5));
  next_attempt.attempt = 3;  // record() makes attempt 2
  auto added = s.fx.wait<void>([&](auto done) {
    return s.store().addRecords({again, record("r6", "shop", OutcomeKind::kOk, t0), next_attempt}, std::move(done));
  });
  GUST_REQUIRE_OK(added);
  CHECK(s.list({"", "", false, 100}).size() == 7);
  // Show answers an invocation's last attempt.
  auto last = s.ok<std::optional<InvocationRecord>>(
      [&](auto done) { return s.store().getRecord("r1", std::move(done)); });
  REQUIRE(last.has_value());
  CHECK(last->attempt == 3);
  CHECK(last->outcome == OutcomeKind::kOk);
}

TEST_CASE("record inserts posted together share one commit" * doctest::test_suite("sqlite only")) {
  StoreFixture s;
  // Hold the writer so every insert queues behind it.
  testing::WriterHold hold(s.fx.writer());
  const uint64_t before = s.fx.writer().transactionsCommitted();
  for (int i = 0; i < 500; ++i) {
    REQUIRE(s.store()
                .addRecords({record("r" + std::to_string(i), "shop", OutcomeKind::kOk, s.clock.wallNow())}, nullptr)
                .ok());
  }
  hold.release();
  auto listed = s.list({"shop", "", false, 1000});
  CHECK(listed.size() == 500);
  CHECK(s.fx.writer().transactionsCommitted() - before <= 3);  // the holder, the 500, the list
}

TEST_CASE("records are pruned by count and by age") {
  InvocationStoreOptions options;
  options.max_records = 10;
  options.prune_every = 5;
  options.record_retention = hours(1);
  StoreFixture s(options);
  const StoreTime t0 = s.clock.wallNow();
  for (int i = 0; i < 23; ++i) s.add(record("r" + std::to_string(i), "shop", OutcomeKind::kOk, t0));
  // Pruned as records arrive (gust.db every prune_every inserts, Redis at each): at most
  // prune_every over.
  auto listed = s.list({"", "", false, 1000});
  CHECK(listed.size() >= 10);
  CHECK(listed.size() <= 15);
  CHECK(s.prune() == static_cast<int64_t>(listed.size()) - 10);
  listed = s.list({"", "", false, 1000});
  REQUIRE(listed.size() == 10);
  for (const auto& r : listed) CHECK(std::stoi(r.id.substr(1)) >= 13);  // the newest ten

  s.clock.advance(hours(1) + seconds(1));
  s.add(record("fresh", "shop", OutcomeKind::kOk, s.clock.wallNow()));
  s.prune();
  CHECK(idsOf(s.list({"", "", false, 1000})) == std::vector<std::string>{"fresh"});
  CHECK(idsOf(s.list({"shop", "f", false, 1000})) == std::vector<std::string>{"fresh"});
}

TEST_CASE("a record's logs keep the newest lines within the line and byte budgets") {
  InvocationStoreOptions options;
  options.max_log_lines = 5;
  options.max_log_bytes = 30;
  StoreFixture s(options);
  InvocationRecord many = record("many", "shop", OutcomeKind::kOk, s.clock.wallNow());
  many.logs.clear();
  for (int i = 0; i < 8; ++i) many.logs.push_back("l" + std::to_string(i));
  s.add(many);
  InvocationRecord wide = record("wide", "shop", OutcomeKind::kOk, s.clock.wallNow());
  wide.logs = {"short", std::string(20, 'a'), std::string(20, 'b')};
  s.add(wide);
  InvocationRecord huge = record("huge", "shop", OutcomeKind::kOk, s.clock.wallNow());
  huge.logs = {std::string(100, 'x')};
  s.add(huge);
  auto get = [&s](const char* id) {
    return s.ok<std::optional<InvocationRecord>>([&](auto done) { return s.store().getRecord(id, std::move(done)); })
        ->logs;
  };
  CHECK(get("many") == std::vector<std::string>{"[gust: 4 earlier log lines dropped]", "l4", "l5", "l6", "l7"});
  CHECK(get("wide") == std::vector<std::string>{"[gust: 2 earlier log lines dropped]", std::string(20, 'b')});
  CHECK(get("huge") == std::vector<std::string>{std::string(24, 'x') + " [cut]"});
}

TEST_CASE("bad input to the invocation store fails at once and names the field") {
  StoreFixture s;
  auto refusedCreate = [&s](AsyncInvocation a) {
    auto r = s.store().createAsync(std::move(a), [](Result<AsyncCreated>) { FAIL("called back"); });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::kBadInput);
    return r.error().message;
  };
  AsyncInvocation no_app = asyncRequest();
  no_app.app.clear();
  CHECK(refusedCreate(no_app).find("app is empty") != std::string::npos);
  AsyncInvocation bad_url = asyncRequest();
  bad_url.callback_url = "ftp://x";
  CHECK(refusedCreate(bad_url).find("not an http:// or https:// URL") != std::string::npos);
  AsyncInvocation big = asyncRequest("", std::string((10u << 20) + 1, 'b'));
  CHECK(refusedCreate(big).find("request body is 10485761 bytes") != std::string::npos);
  AsyncInvocation bad_key = asyncRequest("line\nbreak");
  CHECK(refusedCreate(bad_key).find("idempotency key") != std::string::npos);

  auto list = s.store().listRecords({"", "", false, 0}, nullptr);
  REQUIRE_FALSE(list.ok());
  CHECK(list.error().message.find("limit 0 is outside 1..1000") != std::string::npos);
  auto fn_only = s.store().listRecords({"", "f", false, 10}, nullptr);
  REQUIRE_FALSE(fn_only.ok());
  CHECK(fn_only.error().message.find("needs an app filter") != std::string::npos);
  auto no_id = s.store().addRecords({record("", "shop", OutcomeKind::kOk, s.clock.wallNow())}, nullptr);
  REQUIRE_FALSE(no_id.ok());
  CHECK(no_id.error().message.find("id is empty") != std::string::npos);
  auto none = s.store().addRecords({}, nullptr);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message.find("no records") != std::string::npos);

  InvocationStoreOptions wrong;
  wrong.idempotency_window = hours(48);
  wrong.async_retention = hours(24);
  auto refused = SqliteInvocationStore::open(s.fx.writer(), s.clock, wrong);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("idempotency window cannot be longer") != std::string::npos);
}

}  // namespace
}  // namespace gust

namespace gust {
namespace {

TEST_CASE("the unfinished invocations of a host that left are adopted by one that asks; a live host keeps its own") {
  InvocationStoreOptions options;
  StoreFixture a(options);
  auto adopt = [](StoreFixture& s) {
    return s.ok<std::vector<AdoptedAsync>>([&](auto done) { return s.store().adoptOrphanedAsync(std::move(done)); });
  };
  auto unfinished = [](StoreFixture& s) {
    return s.ok<std::vector<std::string>>(
        [&](auto done) { return s.store().listUnfinishedAsync(100, std::move(done)); });
  };
  auto id = a.create(asyncRequest()).invocation.id;
  if (!testing::onRedisBackend()) {
    CHECK(adopt(a).empty());  // one machine: every invocation is this host's
    return;
  }
  // A second host on the same Redis and prefix.
  auto b_store = RedisInvocationStore::open(a.redisClient(), a.clock, options, a.prefix());
  GUST_REQUIRE_OK(b_store);
  auto& b = **b_store;
  b.setHost("host-b");
  auto adoptB = [&] {
    return a.ok<std::vector<AdoptedAsync>>([&](auto done) { return b.adoptOrphanedAsync(std::move(done)); });
  };
  // host-a reported a moment ago: its invocations stay its own.
  auto seen = a.fx.wait<RedisReply>([&](auto done) {
    return a.redisClient().command({"ZADD", a.prefix() + "hosts-seen", std::to_string(a.clock.ms()), "host-a"},
                                   std::move(done));
  });
  GUST_REQUIRE_OK(seen);
  CHECK(adoptB().empty());
  // Silent for longer than the adoption delay: host-b takes them over, once.
  a.clock.advance(seconds(31));
  auto adopted = adoptB();
  REQUIRE(adopted.size() == 1);
  CHECK(adopted[0].id == id);
  CHECK(adopted[0].app == "shop");
  CHECK(adoptB().empty());
  CHECK(unfinished(a).empty());
  auto mine = a.ok<std::vector<std::string>>([&](auto done) { return b.listUnfinishedAsync(100, std::move(done)); });
  CHECK(mine == std::vector<std::string>{id});
  // Either host reads it, and its end takes it off host-b's list.
  AsyncUpdate done;
  done.status = AsyncStatus::kSucceeded;
  GUST_REQUIRE_OK(a.update(id, done));
  CHECK(a.ok<std::vector<std::string>>([&](auto d) { return b.listUnfinishedAsync(100, std::move(d)); }).empty());
}

TEST_CASE("a record keeps the host that ran it, and every host lists the records of all") {
  StoreFixture s;
  InvocationRecord r = record("r1", "shop", OutcomeKind::kCrashed, s.clock.wallNow());
  r.host = "host-b:8080";
  s.add(r);
  auto listed = s.list({"shop", "f", true, 10});
  REQUIRE(listed.size() == 1);
  // gust.db is one host's: it keeps no host name.
  CHECK(listed[0].host == (testing::onRedisBackend() ? "host-b:8080" : ""));
  CHECK(listed[0].logs == std::vector<std::string>{"line one", "line two"});
  CHECK(listed[0].trace_id == r.trace_id);
  CHECK(listed[0].cold_start_duration == r.cold_start_duration);
}

}  // namespace
}  // namespace gust
