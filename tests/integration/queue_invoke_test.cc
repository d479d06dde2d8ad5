// Queue batches and trace context through a real worker process: a Pool on the test's own
// loop submits Invocations to the fixture module, and the Outcomes must carry what the
// function settled and published, built by the worker and checked by the host.
#include <doctest/doctest.h>

#include <optional>

#include "functions/manifest.h"
#include "gust/abi.h"
#include "runtime/exec/dispatcher.h"
#include "runtime/exec/pool.h"
#include "tests/integration/harness.h"
#include "tests/support/run_loop.h"

using namespace gust;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kFunctions = {"batch", "publishbad", "trace", "forgesettle"};
constexpr const char* kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// Owns a loop and a pool of the fixture module; ends with both closed clean.
class Fixture {
 public:
  Fixture() {
    uv_loop_init(&loop_);
    PoolConfig c;
    c.app = "fixtures";
    c.app_dir = std::filesystem::temp_directory_path().string();
    c.module_path = gust::test::env("GUST_FIXTURE_MISBEHAVE");
    c.executable = gust::test::env("GUST_BIN");
    c.functions = kFunctions;
    c.containment.namespaces = false;
    c.stop_grace = 100ms;
    pool_ = std::make_unique<Pool>(&loop_, clock_, std::move(c));
  }

  ~Fixture() {
    bool closed = false;
    pool_->close([&] { closed = true; });
    gust::test::runLoopUntil(&loop_, "the pool to close", [&] { return closed; }, 20s);
    pool_.reset();
    gust::test::runLoopToEnd(&loop_, "the loop's last handles to close");
    CHECK(uv_loop_close(&loop_) == 0);
  }

  Outcome run(Invocation&& inv) {
    auto it = std::find(kFunctions.begin(), kFunctions.end(), inv.function);
    REQUIRE(it != kFunctions.end());
    std::optional<Outcome> got;
    pool_->submit(std::move(inv), static_cast<uint32_t>(it - kFunctions.begin()), 10s,
                  [&](Outcome&& o) { got = std::move(o); });
    REQUIRE(gust::test::runLoopUntil(&loop_, "the outcome of " + *it, [&] { return got.has_value(); }, 20s));
    return std::move(*got);
  }

 private:
  uv_loop_t loop_;
  SystemClock clock_;
  std::unique_ptr<Pool> pool_;
};

QueueMessage message(const std::string& id, const std::string& body) {
  QueueMessage m;
  m.id = id;
  m.queue = "orders";
  m.body = body;
  m.attempt = 3;
  m.enqueued_at_ms = 1'700'000'000'000;
  m.headers = {{"x-k", "v-" + id}};
  return m;
}

Invocation queueInvocation(const std::string& function, std::vector<QueueMessage> messages) {
  Invocation inv;
  inv.id = "inv-" + function;
  inv.app = "fixtures";
  inv.function = function;
  inv.trace = {kTraceparent, "gust=1"};
  inv.payload.trigger = GUST_TRIGGER_QUEUE;
  inv.payload.messages = std::move(messages);
  return inv;
}

std::string header(const Pairs& headers, const std::string& name) {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "(none)";
}

}  // namespace

TEST_CASE("a batch's settlements and publishes come back in the outcome, one settlement per message") {
  Fixture f;
  Outcome o = f.run(queueInvocation("batch", {message("m0", "ok"), message("m1", "retry"), message("m2", "poison"),
                                              message("m3", "left alone"), message("m4", "twice")}));
  REQUIRE(o.kind == OutcomeKind::kOk);
  CHECK(o.status == 204);
  REQUIRE(o.settlements.size() == 5);
  for (uint32_t i = 0; i < 5; ++i) CHECK(o.settlements[i].index == i);
  CHECK(o.settlements[0].action == SettleAction::kAck);
  CHECK(o.settlements[1].action == SettleAction::kRetry);
  CHECK(o.settlements[1].delay == 100ms);
  CHECK(o.settlements[2].action == SettleAction::kDeadLetter);
  CHECK(o.settlements[2].reason == "poison message m2");
  CHECK(o.settlements[3].action == SettleAction::kAck);  // unsettled: acked by default
  CHECK(o.settlements[4].action == SettleAction::kAck);  // the first settlement stands

  REQUIRE(o.publishes.size() == 5);
  for (size_t i = 0; i < 5; ++i) {
    const Publish& p = o.publishes[i];
    std::string id = "m" + std::to_string(i);
    CHECK(p.queue == "out");
    CHECK(p.id == "out-" + id);
    // Every field of the message reached the function.
    CHECK(p.body == id + " attempt 3 queue orders enqueued 1700000000000 x-k v-" + id);
    CHECK(header(p.headers, "traceparent") == kTraceparent);
  }
  CHECK(header(o.publishes[0].headers, "second-settle") == std::to_string(GUST_OK));
  CHECK(header(o.publishes[4].headers, "second-settle") == std::to_string(GUST_E_SETTLED));
}

TEST_CASE("a batch whose function throws fails whole: no settlements, nothing published") {
  Fixture f;
  Outcome o = f.run(queueInvocation("batch", {message("m0", "retry"), message("m1", "throw"), message("m2", "ok")}));
  CHECK(o.kind == OutcomeKind::kFunctionError);
  CHECK(o.message == "message m1 fails the batch");
  CHECK(o.settlements.empty());
  CHECK(o.publishes.empty());
}

TEST_CASE("a batch whose function crashes its worker is reported as a crash with nothing published") {
  Fixture f;
  Outcome o = f.run(queueInvocation("batch", {message("m0", "ok"), message("m1", "crash")}));
  CHECK(o.kind == OutcomeKind::kCrashed);
  CHECK(o.message.find("SIGSEGV") != std::string::npos);
  CHECK(o.settlements.empty());
  CHECK(o.publishes.empty());
}

TEST_CASE("publishes that break a limit are refused with a code, and only the accepted ones come back") {
  Fixture f;
  Invocation inv;
  inv.id = "inv-bad";
  inv.app = "fixtures";
  inv.function = "publishbad";
  Outcome count = f.run(Invocation(inv));
  REQUIRE(count.kind == OutcomeKind::kOk);
  std::string invalid = std::to_string(GUST_E_INVALID), limit = std::to_string(GUST_E_LIMIT);
  CHECK(count.body == "name=" + invalid + " dead=" + invalid + " long=" + invalid + " id=" + invalid +
                          " delay=" + invalid + " headers=" + invalid + " ok=1000 over=" + limit + " ");
  REQUIRE(count.publishes.size() == kMaxPublishes);
  CHECK(count.publishes[999].body == "999");
  CHECK(count.settlements.empty());

  inv.payload.body = "bytes";
  Outcome bytes = f.run(std::move(inv));
  REQUIRE(bytes.kind == OutcomeKind::kOk);
  CHECK(bytes.body.ends_with("first=0 second=" + limit + " "));
  REQUIRE(bytes.publishes.size() == 1);
  CHECK(bytes.publishes[0].queue == "big");
  CHECK(bytes.publishes[0].body.size() == (5u << 20));
}

TEST_CASE("an HTTP function sees the trace context and an empty batch; its outcome has no settlements") {
  Fixture f;
  Invocation inv;
  inv.id = "inv-trace";
  inv.app = "fixtures";
  inv.function = "trace";
  inv.trace = {kTraceparent, "a=1,b=2"};
  inv.payload.method = "GET";
  Outcome o = f.run(std::move(inv));
  REQUIRE(o.kind == OutcomeKind::kOk);
  CHECK(o.body == std::string(kTraceparent) + "|a=1,b=2|0");
  CHECK(o.settlements.empty());
  CHECK(o.publishes.empty());
}

TEST_CASE("a plain function given a batch sees it, and every message is acked when it answers") {
  Fixture f;
  Invocation inv = queueInvocation("trace", {message("a", "1"), message("b", "2")});
  inv.trace = {};
  Outcome o = f.run(std::move(inv));
  REQUIRE(o.kind == OutcomeKind::kOk);
  CHECK(o.body == "||2");
  REQUIRE(o.settlements.size() == 2);
  CHECK(o.settlements[0].action == SettleAction::kAck);
  CHECK(o.settlements[1].index == 1);
  CHECK(o.settlements[1].action == SettleAction::kAck);
}

TEST_CASE("a worker that settles a message outside its batch is killed as misbehaving") {
  Fixture f;
  // A fresh worker numbers its first invocation 1; the fixture forges a RESULT for it.
  Outcome o = f.run(queueInvocation("forgesettle", {message("m0", "1")}));
  CHECK(o.kind == OutcomeKind::kCrashed);
  CHECK(o.message.find("worker killed by the host: worker settled message 7 of a batch of 1") != std::string::npos);
  CHECK(o.settlements.empty());
}

namespace {

// A dispatcher on the test's loop with the fixture module as app "fixtures", whose
// publisher the test sets; ends with both closed clean.
class DispatcherFixture {
 public:
  DispatcherFixture() {
    uv_loop_init(&loop_);
    WorkerContainment containment;
    containment.namespaces = false;
    dispatcher_ = std::make_unique<Dispatcher>(&loop_, clock_, gust::test::env("GUST_BIN"), containment);
    auto manifest = parseManifest(R"({"name": "fixtures", "publishes": ["relayed", "out"], "functions": {
        "relay": {"routes": ["/relay"]}, "batch": {"queue": "orders"}}})");
    REQUIRE(manifest.ok());
    AppInfo app;
    app.manifest = std::move(*manifest);
    app.manifest.module = gust::test::env("GUST_FIXTURE_MISBEHAVE");  // absolute: the app dir is not used
    app.dir = std::filesystem::temp_directory_path();
    REQUIRE(dispatcher_->addApp(std::move(app)).ok());
  }
  ~DispatcherFixture() {
    bool closed = false;
    dispatcher_->close([&] { closed = true; });
    gust::test::runLoopUntil(&loop_, "the dispatcher to close", [&] { return closed; }, 20s);
    dispatcher_.reset();
    gust::test::runLoopToEnd(&loop_, "the loop's last handles to close");
    CHECK(uv_loop_close(&loop_) == 0);
  }

  Dispatcher& dispatcher() { return *dispatcher_; }

  Outcome run(Invocation&& inv) {
    std::optional<Outcome> got;
    std::string function = inv.function;
    dispatcher_->invoke(std::move(inv), [&](Outcome&& o) { got = std::move(o); });
    REQUIRE(gust::test::runLoopUntil(&loop_, "the outcome of " + function, [&] { return got.has_value(); }, 20s));
    return std::move(*got);
  }

 private:
  uv_loop_t loop_;
  SystemClock clock_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

Invocation relayInvocation(uint32_t trigger) {
  Invocation inv;
  inv.id = "inv-relay";
  inv.app = "fixtures";
  inv.function = "relay";
  inv.trace = {kTraceparent, "gust=1"};
  inv.payload.trigger = trigger;
  inv.payload.method = "POST";
  inv.payload.body = "payload";
  return inv;
}

}  // namespace

TEST_CASE("the dispatcher commits what an HTTP or timer invocation published before its outcome goes on") {
  DispatcherFixture f;
  std::vector<Publish> committed;
  TraceContext stamped;
  f.dispatcher().setPublisher([&](std::vector<Publish> p, AppStateWrites, const TraceContext& trace, auto done) {
    committed = std::move(p);
    stamped = trace;
    done(Result<void>{});
  });
  for (uint32_t trigger : {GUST_TRIGGER_HTTP, GUST_TRIGGER_TIMER}) {
    CAPTURE(trigger);
    committed.clear();
    Outcome o = f.run(relayInvocation(trigger));
    REQUIRE(o.kind == OutcomeKind::kOk);
    CHECK(o.body == "relayed relay-inv-relay");
    CHECK(o.publishes.empty());  // committed, not handed on
    REQUIRE(committed.size() == 1);
    CHECK(committed[0].queue == "relayed");
    CHECK(committed[0].body == "payload");
    CHECK(stamped.traceparent == kTraceparent);
  }

  // A batch's publishes are its trigger's to commit, with its settlements.
  committed.clear();
  Invocation batch = queueInvocation("batch", {message("m1", "ok")});
  batch.app = "fixtures";
  Outcome o = f.run(std::move(batch));
  REQUIRE(o.kind == OutcomeKind::kOk);
  CHECK(o.publishes.size() == 1);
  CHECK(committed.empty());
}

TEST_CASE("when the commit of what an invocation published fails, the invocation fails and says why") {
  DispatcherFixture f;
  SUBCASE("the store is unavailable: 503, to be retried") {
    f.dispatcher().setPublisher([](std::vector<Publish>, AppStateWrites, const TraceContext&, auto done) {
      done(makeError(ErrorKind::kUnavailable, "the writer is closing"));
    });
    Outcome o = f.run(relayInvocation(GUST_TRIGGER_HTTP));
    CHECK(o.kind == OutcomeKind::kUnavailable);
    CHECK(o.message == "cannot queue what the function published: the writer is closing");
    CHECK(o.retry_after == 1s);
  }
  SUBCASE("the queue refuses what was published: the function's error") {
    f.dispatcher().setPublisher([](std::vector<Publish>, AppStateWrites, const TraceContext&, auto done) {
      done(makeError(ErrorKind::kBadInput, "publish: body too large"));
    });
    CHECK(f.run(relayInvocation(GUST_TRIGGER_TIMER)).kind == OutcomeKind::kFunctionError);
  }
  SUBCASE("no queue store at all") {
    Outcome o = f.run(relayInvocation(GUST_TRIGGER_HTTP));
    CHECK(o.kind == OutcomeKind::kFunctionError);
    CHECK(o.message.find("published 1 message(s), but this host has no queue store") != std::string::npos);
  }
}
