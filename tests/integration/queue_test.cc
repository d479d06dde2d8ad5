// Queues end to end: a real host, its admin API and the fixture's queue functions. Messages
// are sent through POST /v1/queues/{name}/messages and watched through the list and peek
// routes; the crash test SIGKILLs the host while it works and checks that no acknowledged
// message is lost.
#include <doctest/doctest.h>
#include <httplib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "tests/integration/harness.h"

using namespace gust::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// The admin API with the host's token.
class Admin {
 public:
  explicit Admin(const Host& host) : client_(host.adminClient(30s)), token_(host.adminToken()) {}

  httplib::Result send(const std::string& queue, const std::string& body, httplib::Headers headers = {}) {
    headers.emplace("Authorization", "Bearer " + token_);
    return client_.Post("/v1/queues/" + queue + "/messages", headers, body, "application/octet-stream");
  }
  json get(const std::string& path, int expect = 200) {
    auto r = client_.Get(path, {{"Authorization", "Bearer " + token_}});
    REQUIRE(r);
    INFO(path << " -> " << r->body);
    REQUIRE(r->status == expect);
    return json::parse(r->body);
  }
  httplib::Result post(const std::string& path) {
    return client_.Post(path, {{"Authorization", "Bearer " + token_}}, "", "text/plain");
  }
  httplib::Result del(const std::string& path) { return client_.Delete(path, {{"Authorization", "Bearer " + token_}}); }
  httplib::Client& client() { return client_; }

  // The stats row of `queue` (all zero when the queue holds nothing).
  json stats(const std::string& queue) {
    json all = get("/v1/queues");
    for (const auto& q : all["queues"]) {
      if (q["name"] == queue) return q;
    }
    return {{"name", queue}, {"depth", 0}, {"in_flight", 0}, {"delayed", 0}, {"dead", 0}};
  }
  bool drained(const std::string& queue) {
    json s = stats(queue);
    return s["depth"] == 0 && s["in_flight"] == 0 && s["delayed"] == 0;
  }
  // Peeked messages by id.
  std::map<std::string, json> peek(const std::string& queue, int limit = 1000) {
    std::map<std::string, json> out;
    json peeked = get("/v1/queues/" + queue + "/messages?limit=" + std::to_string(limit));
    for (auto& m : peeked["messages"]) {
      out[m["id"]] = m;
    }
    return out;
  }

 private:
  httplib::Client client_;
  std::string token_;
};

std::string queueApp(const std::string& function, const std::string& queue_spec, const std::string& pool = "") {
  return R"({"name": "consumers", "publishes": ["out"], )" + pool + R"("functions": {")" + function + R"(": {"queue": )" + queue_spec + "}}}";
}

// The fixture's `batch` consuming "in": batches of 4, 3 attempts, fast backoff.
fs::path batchConsumerApp(const fs::path& dir) {
  return makeApp(dir, "consumers",
                 queueApp("batch", R"({"name": "in", "batch_size": 4, "max_attempts": 3,
                                      "backoff": {"base": "100ms", "cap": "200ms"}})"),
                 env("GUST_FIXTURE_MISBEHAVE"));
}

constexpr const char* kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

}  // namespace

TEST_CASE("queued messages run through the consumer and settle as the function decided") {
  TempDir tmp;
  fs::path app = batchConsumerApp(tmp.path());
  Host host({app}, tmp.path());
  Admin admin(host);

  // A batch's invocation carries the trace context of its first message, so the traced
  // message goes first: sent later, it may share a batch behind another (more often since
  // workers start in their own namespaces) and this check would depend on timing.
  auto traced = admin.send("in", "ok", {{"Gust-Message-Id", "traced-1"}, {"Gust-Header-Traceparent", kTraceparent}});
  std::vector<std::string> ok_ids;
  for (int i = 0; i < 20; ++i) {
    auto r = admin.send("in", "ok");
    REQUIRE(r);
    CHECK(r->status == 201);
    ok_ids.push_back(json::parse(r->body)["id"]);
  }
  auto poison = admin.send("in", "poison", {{"Gust-Message-Id", "poison-1"}});
  auto retry = admin.send("in", "retry", {{"Gust-Message-Id", "retry-1"}});
  REQUIRE((poison && retry && traced));
  CHECK(poison->status == 201);

  // A duplicate id is accepted once.
  auto again = admin.send("in", "poison", {{"Gust-Message-Id", "poison-1"}});
  REQUIRE(again);
  CHECK(again->status == 200);
  CHECK(json::parse(again->body) == json({{"id", "poison-1"}, {"duplicate", true}}));

  waitFor("\"in\" to drain with 2 dead letters", [&] { return admin.drained("in") && admin.stats("in")["dead"] == 2; },
          30s, [&] { return admin.stats("in").dump() + "\nthe host's " + host.process().lastOutput(); });
  // A message that kills its worker goes alone: a batch it shares fails whole, and its
  // neighbours would die of its crashes too.
  auto crash = admin.send("in", "crash", {{"Gust-Message-Id", "crash-1"}});
  REQUIRE(crash);
  waitFor("\"in\" to drain with 3 dead letters", [&] { return admin.drained("in") && admin.stats("in")["dead"] == 3; },
          30s, [&] { return admin.stats("in").dump() + "\nthe host's " + host.process().lastOutput(); });
  auto dead = admin.peek("in.dead");
  REQUIRE(dead.size() == 3);
  // The function dead-lettered it on its first delivery, with its reason.
  CHECK(dead["poison-1"]["last_error"] == "poison message poison-1");
  CHECK(dead["poison-1"]["attempts"] == 1);
  CHECK(dead["poison-1"]["source_queue"] == "in");
  // Retried by the function until the last attempt, then dead-lettered by the host.
  CHECK(dead["retry-1"]["attempts"] == 3);
  // (Or, when a slow machine let its lease lapse before the settle, by the store at the next
  // lease: either way it ends dead after max_attempts.)
  std::string retry_error = dead["retry-1"]["last_error"].get<std::string>();
  CHECK_MESSAGE((retry_error.find("last attempt") != std::string::npos ||
                 retry_error.find("without success") != std::string::npos),
                retry_error);
  // Killed its worker every time: attempts are counted at lease, so it still ran out.
  CHECK(dead["crash-1"]["attempts"] == 3);
  CHECK(dead["crash-1"]["last_error"].get<std::string>().find("crashed") != std::string::npos);

  // Publishes commit only with a successful invocation: every message of a batch that
  // returned published "out-<id>"; the crashing batches published nothing. (A batch that
  // held the crash message crashed whole; its other messages came again and published then.)
  auto out = admin.peek("out");
  for (const auto& id : ok_ids) CHECK(out.count("out-" + id) == 1);
  CHECK(out.count("out-poison-1") == 1);
  CHECK(out.count("out-retry-1") == 1);  // three deliveries, one id: deduplicated
  CHECK(out.count("out-crash-1") == 0);
  // The first message's trace context went into the invocation and onto what it published.
  REQUIRE(out.count("out-traced-1") == 1);
  std::string tp = out["out-traced-1"]["headers"]["traceparent"];
  CHECK(tp.substr(0, 36) == std::string(kTraceparent).substr(0, 36));

  // Redrive moves the dead letters back; they run again (and die again) with fresh attempts.
  auto moved = admin.post("/v1/queues/in.dead/redrive");
  REQUIRE(moved);
  CHECK(moved->status == 200);
  CHECK(json::parse(moved->body) == json({{"moved", 3}, {"to", "in"}}));
  waitFor("the redriven messages to be dead again",
          [&] { return admin.drained("in") && admin.stats("in")["dead"] == 3; }, 30s, host);
  // (They may share a batch with crash-1 now and die of its crashes, so only "ran again" holds.)
  for (auto& entry : admin.peek("in.dead")) {
    const std::string& id = entry.first;  // INFO's lambda cannot capture a structured binding
    auto& m = entry.second;
    INFO(id);
    CHECK(m["dead_at"].get<std::string>() > dead[id]["dead_at"].get<std::string>());
    CHECK(m["attempts"].get<int>() >= 1);
    CHECK(m["attempts"].get<int>() <= 3);
  }

  // Purge empties a queue.
  auto purged = admin.del("/v1/queues/out/messages");
  REQUIRE(purged);
  CHECK(purged->status == 200);
  CHECK(json::parse(purged->body)["purged"] == static_cast<int>(out.size()));
  CHECK(admin.peek("out").empty());

  host.process().signal(SIGTERM);
  CHECK(host.process().wait().status == 0);
}

TEST_CASE("a worker killed from outside mid-batch: the batch comes again, and the records show both attempts") {
  TempDir tmp;
  fs::path app = batchConsumerApp(tmp.path());
  Host host({app}, tmp.path());
  Admin admin(host);
  REQUIRE(admin.send("in", "slowfirst", {{"Gust-Message-Id", "slow-1"}}));
  REQUIRE(admin.send("in", "ok", {{"Gust-Message-Id", "ok-1"}}));
  // Its first attempt takes 10 s: the worker is killed while it holds the batch.
  waitFor("a batch in flight", [&] { return admin.stats("in")["in_flight"].get<int>() >= 1; }, 10s, host);
  std::this_thread::sleep_for(200ms);
  std::vector<pid_t> workers = descendantsNamed(host.process().pid(), "gust-worker");
  REQUIRE(!workers.empty());
  for (pid_t w : workers) ::kill(w, SIGKILL);

  waitFor("slow-1 to be processed again",
          [&] { return admin.drained("in") && admin.peek("out").count("out-slow-1") == 1; }, 20s, host);
  auto out = admin.peek("out");
  CHECK(out["out-slow-1"]["body"].get<std::string>().find("slow-1 attempt 2") != std::string::npos);
  CHECK(admin.stats("in")["dead"] == 0);

  // The records tell the story: a crashed first attempt, then a successful second.
  json crashed, succeeded;
  waitFor(
      "records of a crashed attempt and a successful second one",
      [&] {
        json listed = admin.get("/v1/invocations?app=consumers&limit=100");
        for (const auto& r : listed["invocations"]) {
          if (r["outcome"] == "crashed") crashed = r;
          if (r["outcome"] == "ok" && r["attempt"] == 2) succeeded = r;
        }
        return !crashed.is_null() && !succeeded.is_null();
      },
      10s, host);
  CHECK(crashed["trigger"] == "queue");
  CHECK(crashed["function"] == "batch");
  CHECK(crashed["attempt"] == 1);
  CHECK(crashed["error"].get<std::string>().find("SIGKILL") != std::string::npos);
  CHECK(crashed["duration_ms"].get<double>() >= 200);
  json failed = admin.get("/v1/invocations?app=consumers&failed=1");
  REQUIRE(failed["invocations"].size() == 1);
  CHECK(failed["invocations"][0]["id"] == crashed["id"]);
  json shown = admin.get("/v1/invocations/" + succeeded["id"].get<std::string>());
  CHECK(shown["attempt"] == 2);
  CHECK(shown.contains("logs"));
}

TEST_CASE("what an HTTP call, an async call or a timer run publishes is queued by the time it is reported done") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "relays",
                         R"({"name": "relays", "publishes": ["relayed"], "functions": {
                               "relay": {"routes": [{"path": "/relay", "methods": ["POST"]}],
                                         "timer": {"schedule": "0 0 1 1 *"}}}})",
                         env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  Admin admin(host);
  httplib::Client client = localClient(host.port());

  auto sync = client.Post("/relay", "sync body", "text/plain");
  REQUIRE(sync);
  REQUIRE(sync->status == 200);
  std::string sync_id = sync->body.substr(std::string("relayed ").size());
  CHECK(admin.peek("relayed")[sync_id]["body"] == "sync body");

  auto accepted = client.Post("/relay", {{"Prefer", "respond-async"}}, "async body", "text/plain");
  REQUIRE(accepted);
  REQUIRE(accepted->status == 202);
  std::string location = accepted->get_header_value("Location");
  json done;
  waitFor(
      "the async relay to finish",
      [&] {
        done = admin.get(location);
        return done["status"] == "succeeded" || done["status"] == "failed";
      },
      10s, host);
  REQUIRE(done["status"] == "succeeded");
  std::string async_id = done["response"]["body"].get<std::string>().substr(std::string("relayed ").size());
  // Read right after "succeeded": no wait, the message is there.
  CHECK(admin.peek("relayed")[async_id]["body"] == "async body");

  auto ran = admin.post("/v1/timers/relays/relay/run");
  REQUIRE(ran);
  INFO(ran->body);
  REQUIRE(ran->status == 200);
  json run = json::parse(ran->body);
  CHECK(run["status"] == "ok");
  auto relayed = admin.peek("relayed");
  CHECK(relayed.size() == 3);
  bool timer_event = false;
  for (const auto& [id, m] : relayed) timer_event |= m["body"].get<std::string>().find("\"scheduled\"") != std::string::npos;
  CHECK(timer_event);
}

TEST_CASE("a failed batch is retried after its backoff, not before") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "consumers",
                         queueApp("batch", R"({"name": "in", "max_attempts": 2,
                                              "backoff": {"base": "1s", "cap": "1s"}})"),
                         env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  Admin admin(host);
  auto sent_at = std::chrono::steady_clock::now();
  REQUIRE(admin.send("in", "throw", {{"Gust-Message-Id", "t-1"}}));
  // After the first failure it waits min(cap, base * 2^0) = 1 s scaled by a jitter in
  // [0.5, 1]: delayed, visible 500..1000 ms after the failure.
  waitFor("t-1 to be delayed after its failure", [&] { return admin.stats("in")["delayed"] == 1; }, 10s, host);
  auto peeked = admin.peek("in");
  REQUIRE(peeked.count("t-1") == 1);
  CHECK(peeked["t-1"]["attempts"] == 1);
  CHECK(peeked["t-1"]["state"] == "delayed");
  CHECK(peeked["t-1"]["last_error"].get<std::string>().find("fails the batch") != std::string::npos);
  waitFor("t-1 to be dead after its second failure", [&] { return admin.stats("in")["dead"] == 1; }, 10s, host);
  auto took = std::chrono::steady_clock::now() - sent_at;
  CHECK(took >= 500ms);
  CHECK(took < 5s);
  CHECK(admin.peek("in.dead")["t-1"]["attempts"] == 2);
}

TEST_CASE("the queue routes check their input and need the token") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "consumers", queueApp("batch", R"("in")"), env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  Admin admin(host);
  httplib::Client anonymous = host.adminClient();
  CHECK(anonymous.Get("/v1/queues")->status == 401);
  CHECK(anonymous.Post("/v1/queues/in/messages", "x", "text/plain")->status == 401);

  auto bad_name = admin.send("no%20spaces", "x");
  REQUIRE(bad_name);
  CHECK(bad_name->status == 400);
  CHECK(bad_name->body.find("queue") != std::string::npos);
  auto to_dead = admin.send("in.dead", "x");
  CHECK(to_dead->status == 400);
  auto bad_delay = admin.send("in", "x", {{"Gust-Delay", "soon"}});
  CHECK(bad_delay->status == 400);
  CHECK(bad_delay->body.find("Gust-Delay") != std::string::npos);
  auto too_big = admin.send("in", std::string((1u << 20) + 1, 'x'));
  CHECK(too_big->status == 400);
  auto bad_id = admin.send("in", "x", {{"Gust-Message-Id", "has space"}});
  CHECK(bad_id->status == 400);
  admin.get("/v1/queues/in/messages?limit=0", 400);
  admin.get("/v1/queues/in/messages?limit=abc", 400);
  auto not_dead = admin.post("/v1/queues/in/redrive");
  CHECK(not_dead->status == 400);
  CHECK(not_dead->body.find("in.dead") != std::string::npos);

  // A delayed message waits, with its headers and a binary body shown as base64.
  auto delayed = admin.send("later", std::string("\xff\x00\x01", 3), {{"Gust-Delay", "1h"}, {"Gust-Header-X-K", "v"}});
  REQUIRE(delayed);
  CHECK(delayed->status == 201);
  auto stats = admin.stats("later");
  CHECK(stats["delayed"] == 1);
  CHECK(stats["depth"] == 0);
  auto peeked = admin.get("/v1/queues/later/messages?limit=5")["messages"];
  REQUIRE(peeked.size() == 1);
  CHECK(peeked[0]["body_base64"] == "/wAB");
  CHECK(peeked[0]["headers"]["x-k"] == "v");
  CHECK(peeked[0].count("body") == 0);
  // gust.db holds message bodies: the host's user only.
  struct stat st {};
  REQUIRE(::stat((host.dataDir() / "gust.db").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

// The ids the fixture's `record` function reports over TCP (a worker sees none of the
// test's files), each answered once it is counted.
class RecordListener {
 public:
  RecordListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 128) == 0);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::jthread([this](std::stop_token stop) { serve(stop); });
  }
  ~RecordListener() {
    thread_.request_stop();
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  std::map<std::string, int> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  void serve(std::stop_token stop) {
    while (!stop.stop_requested()) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      timeval limit{2, 0};
      ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
      std::string line;
      char c = 0;
      while (::read(conn, &c, 1) == 1 && c != '\n') line += c;
      if (c == '\n' && !line.empty()) {
        {
          std::lock_guard lock(mutex_);
          ++seen_[line];
        }
        ssize_t ignored = ::write(conn, "k", 1);
        (void)ignored;
      }
      ::close(conn);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::mutex mutex_;
  std::map<std::string, int> seen_;
  std::jthread thread_;
};

// Issue #5 point 9: enqueue thousands of messages while a consumer runs, SIGKILL the host at
// random moments, restart it on the same data dir; once drained, every message whose send
// was acknowledged (201 or 200) was processed at least once.
TEST_CASE("no acknowledged message is lost when the host is killed again and again") {
  TempDir tmp;
  RecordListener records;
  fs::path app = makeApp(tmp.path(), "consumers",
                         queueApp("record", R"({"name": "rec", "batch_size": 16, "max_attempts": 1000,
                                               "visibility_timeout": "2s"})",
                                  R"("max_instances": 2, "timeout": "1s", )"),
                         env("GUST_FIXTURE_MISBEHAVE"));

  std::mt19937 rng(std::random_device{}());
  std::set<std::string> acked;
  std::mutex acked_mutex;
  std::atomic<int> next_id{0};
  const int kRounds = 4;
  for (int round = 0; round < kRounds; ++round) {
    Host host({app}, tmp.path());
    // jthreads: a failed wait below stops and joins them rather than aborting the test.
    std::vector<std::jthread> senders;
    for (int t = 0; t < 4; ++t) {
      senders.emplace_back([&](std::stop_token stop) {
        Admin admin(host);
        admin.client().set_connection_timeout(1, 0);
        while (!stop.stop_requested()) {
          std::string id = "m" + std::to_string(next_id++);
          auto r = admin.send("rec", "x",
                              {{"Gust-Message-Id", id}, {"Gust-Header-Record-To", std::to_string(records.port())}});
          if (!r) break;  // the host is gone: this send's fate is unknown, so it is not counted
          if (r->status == 201 || r->status == 200) {
            std::lock_guard lock(acked_mutex);
            acked.insert(id);
          }
        }
      });
    }
    // Enough traffic for the kills to land mid-commit: each round waits for its share of
    // acknowledged sends (a sanitized host commits about a third as fast), then kills at a
    // random moment after that.
    const size_t round_target = (round + 1) * (std::getenv("GUST_SANITIZED") != nullptr ? 75u : 250u);
    waitFor("round " + std::to_string(round) + " to reach " + std::to_string(round_target) + " acknowledged sends",
            [&] {
              std::lock_guard lock(acked_mutex);
              return acked.size() >= round_target;
            },
            60s, host);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 800)(rng)));
    host.process().signal(SIGKILL);
    host.process().wait();
    for (auto& s : senders) s.request_stop();
    for (auto& s : senders) s.join();
  }
  // A last start drains what is left.
  Host host({app}, tmp.path());
  Admin admin(host);
  waitFor("\"rec\" to drain after the last restart", [&] { return admin.drained("rec"); }, 120s, host);
  CHECK(admin.stats("rec")["dead"] == 0);

  std::map<std::string, int> seen = records.seen();
  size_t lost = 0, duplicates = 0;
  for (const auto& id : acked) {
    if (seen.count(id) == 0) ++lost;
  }
  for (const auto& [id, n] : seen) duplicates += static_cast<size_t>(n - 1);
  MESSAGE("crash test: " << kRounds << " SIGKILLs, " << acked.size() << " acknowledged, " << seen.size()
                         << " processed, lost " << lost << ", duplicates " << duplicates);
  // Losing nothing is the property under test.
  CHECK(lost == 0);
  host.process().signal(SIGTERM);
  CHECK(host.process().wait().status == 0);
}

TEST_CASE("the queue list shows every queue an app consumes or declares, empty or not, with its consumer") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "consumers", R"({"name": "consumers", "publishes": ["out"], "functions": {
      "batch": {"queue": {"name": "in", "max_attempts": 1}},
      "eventinfo": {"queue": {"name": "events"}}}})",
                         env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  Admin admin(host);
  auto row = [&](const std::string& name) {
    json s = admin.stats(name);
    return json{{"depth", s["depth"]}, {"dead", s["dead"]}, {"consumers", s.value("consumers", json())},
                {"declared_by", s.value("declared_by", json())}};
  };
  // Before any message: there, as deployed.
  CHECK(row("in") == json{{"depth", 0}, {"dead", 0}, {"consumers", {"consumers/batch"}}, {"declared_by", json::array()}});
  CHECK(row("events") ==
        json{{"depth", 0}, {"dead", 0}, {"consumers", {"consumers/eventinfo"}}, {"declared_by", json::array()}});
  CHECK(row("out") == json{{"depth", 0}, {"dead", 0}, {"consumers", json::array()}, {"declared_by", {"consumers"}}});

  // Processed, the queue stays listed; a dead letter counts on its queue; a queue no app
  // knows is listed while it holds messages.
  REQUIRE(admin.send("in", "ok"));
  REQUIRE(admin.send("in", "poison"));
  REQUIRE(admin.send("loose", "x"));
  waitFor("the consumer to settle both", [&] { return admin.drained("in") && admin.stats("in")["dead"] == 1; }, 30s,
          host);
  CHECK(row("in") == json{{"depth", 0}, {"dead", 1}, {"consumers", {"consumers/batch"}}, {"declared_by", json::array()}});
  CHECK(row("out")["depth"] == 2);
  CHECK(row("loose") == json{{"depth", 1}, {"dead", 0}, {"consumers", json::array()}, {"declared_by", json::array()}});

  auto table = runGust({"queue", "ls", "--admin", host.adminUrl(), "--data-dir", host.dataDir().string()}, tmp.path());
  REQUIRE_MESSAGE(table.status == 0, table.err);
  CHECK(table.out.find("CONSUMER") != std::string::npos);
  CHECK(table.out.find("consumers/batch") != std::string::npos);
  CHECK(table.out.find("consumers/eventinfo") != std::string::npos);
  CHECK(table.out.find("none (declared by consumers)") != std::string::npos);
}
