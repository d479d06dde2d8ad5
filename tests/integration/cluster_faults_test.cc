// Faults on a cluster under load (docs/scale-out.md "Faults"): three real hosts on one real
// redis-server (append-only, fsync at every write), behind a real nginx, with requests
// running through it while a host is killed with SIGKILL and started again, and while Redis
// restarts. Every request the cluster acknowledged must be processed; requests keep being
// answered while a host is down; while Redis is down, what needs it is refused with 503 and
// what does not is served. A host cut off from Redis alone (a proxy that stops forwarding)
// does the same until the link is back.
#include <doctest/doctest.h>
#include <httplib.h>

#include <cstdio>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "tests/integration/harness.h"
#include "tests/support/free_port.h"
#include "tests/support/redis_server.h"
#include "tests/support/tcp_proxy.h"

using namespace gust::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// nginx in front of `ports`, on its own port, retrying a request on the next host when one
// cannot be reached (POSTs included: a publish is idempotent by its id, and the test counts
// what is processed, not how often).
class Balancer {
 public:
  Balancer(const fs::path& dir, const std::vector<int>& ports) : dir_(dir), port_(freeLoopbackPort()) {
    fs::create_directories(dir / "tmp");
    std::string upstream;
    for (int p : ports) upstream += "    server 127.0.0.1:" + std::to_string(p) + " max_fails=1 fail_timeout=30s;\n";
    writeFile(dir / "nginx.conf",
              "worker_processes 1;\nerror_log " + (dir / "error.log").string() + " warn;\npid " +
                  (dir / "nginx.pid").string() +
                  ";\nevents { worker_connections 512; }\nhttp {\n  access_log off;\n  client_body_temp_path " +
                  (dir / "tmp").string() + ";\n  proxy_temp_path " + (dir / "tmp").string() +
                  ";\n  upstream gust {\n" + upstream +
                  "    keepalive 8;\n  }\n  server {\n    listen 127.0.0.1:" + std::to_string(port_) +
                  ";\n    location / {\n      proxy_pass http://gust;\n      proxy_http_version 1.1;\n"
                  "      proxy_set_header Connection \"\";\n      proxy_connect_timeout 1s;\n"
                  "      proxy_next_upstream error timeout non_idempotent;\n    }\n  }\n}\n");
    process_ = std::make_unique<Process>(std::vector<std::string>{"/usr/sbin/nginx", "-p", dir.string(), "-c",
                                                                  (dir / "nginx.conf").string(), "-g", "daemon off;"},
                                         dir / "nginx.stderr");
    waitFor("nginx to listen", [this] { return httplib::Client("127.0.0.1", port_).Get("/").operator bool(); }, 10s,
            [this] { return readFile(dir_ / "nginx.stderr") + readFile(dir_ / "error.log"); });
  }
  int port() const { return port_; }

 private:
  fs::path dir_;
  int port_;
  std::unique_ptr<Process> process_;
};

// `relay` publishes each request's body to "relayed" under an id of its own and answers
// with it once committed; `eventinfo` consumes "relayed" and publishes "seen-<id>-<attempt>"
// for each message it takes, committed with its ack (so a delivery whose lease was lost
// commits nothing); `echo` needs no backend; `tick` runs every second on every host and
// publishes the point it fired to "ticks" under an id per run, so that a point fired twice
// shows as two messages.
std::string chainManifest() {
  return R"({"name": "chain", "publishes": ["relayed", "seen", "ticks"], "functions": {
      "relay": {"routes": [{"path": "/relay", "methods": ["POST"]}]},
      "tick": {"timer": {"schedule": "* * * * * *"}},
      "echo": {"routes": [{"path": "/echo", "methods": ["GET"]}]},
      "eventinfo": {"timeout": "2s",
                "queue": {"name": "relayed", "batch_size": 8, "max_attempts": 20,
                          "visibility_timeout": "4s", "backoff": {"base": "100ms", "cap": "500ms"}}}}})";
}

// The ids of the messages in `queue`, read from Redis itself (redis-cli), however many.
std::set<std::string> idsInRedis(const RedisServer& redis, const std::string& queue) {
  std::set<std::string> ids;
  std::string command = "redis-cli -p " + std::to_string(redis.port()) + " HKEYS gust:q:" + queue + ":ids";
  FILE* out = ::popen(command.c_str(), "r");
  REQUIRE(out != nullptr);
  char line[512];
  while (std::fgets(line, sizeof line, out) != nullptr) {
    std::string id(line);
    while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) id.pop_back();
    if (!id.empty()) ids.insert(id);
  }
  ::pclose(out);
  return ids;
}

// How often each timer point was fired: the "ticks" messages, by the point in their body.
std::map<std::string, int> ticksFired(const Host& host) {
  httplib::Client admin = host.adminClient(30s);
  admin.set_bearer_token_auth(host.adminToken());
  auto r = admin.Get("/v1/queues/ticks/messages?limit=1000");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  std::map<std::string, int> fired;
  const json peeked = json::parse(r->body);  // a range-for over a temporary's member would dangle
  for (const auto& m : peeked["messages"]) {
    INFO(m.dump());
    const json event = json::parse(m.value("body", std::string("{}")));
    REQUIRE(event.is_object());
    ++fired[event.value("scheduled", std::string())];
  }
  return fired;
}

// The current second as a timer event names a point ("2026-12-05T06:40:01Z").
std::string isoSecond(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// Whether some point in [from, to) was fired (to empty: no end).
bool firedBetween(const std::map<std::string, int>& fired, const std::string& from, const std::string& to = "") {
  auto it = fired.lower_bound(from);
  return it != fired.end() && (to.empty() || it->first < to);
}

// Waits until every acknowledged request was processed (its "seen-" message is in Redis: 0
// lost), then checks that each was committed once, by a delivery within max_attempts (20).
void waitForAllProcessed(const RedisServer& redis, const std::set<std::string>& acked) {
  std::set<std::string> missing;
  std::map<std::string, std::vector<int>> attempts;  // message id -> attempts committed
  waitFor("every acknowledged request to be processed", [&] {
    attempts.clear();
    for (const auto& seen : idsInRedis(redis, "seen")) {  // "seen-<id>-<attempt>"
      const size_t dash = seen.rfind('-');
      attempts[seen.substr(5, dash - 5)].push_back(std::stoi(seen.substr(dash + 1)));
    }
    missing.clear();
    for (const auto& id : acked) {
      if (attempts.count(id) == 0) missing.insert(id);
    }
    return missing.empty();
  }, 60s, [&] { return std::to_string(missing.size()) + " of " + std::to_string(acked.size()) + " missing"; });
  size_t redelivered = 0;
  for (const auto& id : acked) {
    const std::vector<int>& committed = attempts[id];
    INFO(id);
    CHECK(committed.size() == 1);  // effects committed once, however often it was delivered
    CHECK(committed[0] <= 20);
    redelivered += committed[0] > 1 ? 1 : 0;
  }
  MESSAGE(acked.size() << " acknowledged requests, each processed and committed once; " << redelivered
                       << " of them on a later delivery");
}

}  // namespace

TEST_CASE("a cluster behind nginx loses no acknowledged request when a host is killed and when Redis restarts") {
  RedisServer redis({"--appendonly", "yes", "--appendfsync", "always"});
  TempDir tmp;
  const std::vector<std::string> backend = {"--backend", redis.url(), "--expose-errors"};
  std::vector<std::unique_ptr<Host>> hosts;
  for (const char* name : {"a", "b", "c"}) {
    fs::path app = makeApp(tmp.path() / name, "chain", chainManifest(), env("GUST_FIXTURE_MISBEHAVE"));
    hosts.push_back(std::make_unique<Host>(std::vector<fs::path>{app}, tmp.path() / name, backend));
  }
  Balancer lb(tmp.path() / "nginx", {hosts[0]->port(), hosts[1]->port(), hosts[2]->port()});

  // The load: two clients posting through nginx for the whole test, each request's answer
  // filed under the phase it was sent in.
  enum Phase { kSteady, kHostDown, kRedisDown, kAfter, kPhases };
  std::atomic<int> phase{kSteady};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::set<std::string> acked;
  std::map<int, std::map<int, int>> answers;  // phase -> status (0: no answer) -> count
  std::map<int, std::map<int, std::string>> bodies;  // phase -> status -> the first body
  auto client = [&] {
    httplib::Client c("127.0.0.1", lb.port());
    c.set_read_timeout(10s);
    while (!stop) {
      const int sent_in = phase;
      auto r = c.Post("/relay", "ok", "text/plain");
      // A request that straddles two phases belongs to neither (kPhases).
      const int in = phase == sent_in ? sent_in : static_cast<int>(kPhases);
      std::lock_guard<std::mutex> lock(mutex);
      ++answers[in][r ? r->status : 0];
      if (r && bodies[in].count(r->status) == 0) bodies[in][r->status] = r->body.substr(0, 300);
      if (r && r->status == 200) acked.insert(r->body.substr(r->body.find(' ') + 1));  // "relayed ID"
    }
  };
  std::thread c1(client), c2(client);
  // Joined however the test ends (a failed REQUIRE throws past the joins below).
  struct Joiner {
    std::atomic<bool>& stop;
    std::thread& a;
    std::thread& b;
    ~Joiner() {
      stop = true;
      if (a.joinable()) a.join();
      if (b.joinable()) b.join();
    }
  } joiner{stop, c1, c2};
  auto countOf = [&](int in_phase, int status) {
    std::lock_guard<std::mutex> lock(mutex);
    return answers[in_phase][status];
  };

  std::this_thread::sleep_for(1500ms);
  phase = kHostDown;
  const auto killed_at = std::chrono::system_clock::now();
  hosts[0]->process().signal(SIGKILL);
  hosts[0]->process().wait();
  std::this_thread::sleep_for(1500ms);
  // Back on its data dir (on another port, outside the balancer: it consumes all the same).
  fs::path app_a = tmp.path() / "a" / "chain";
  hosts[0] = std::make_unique<Host>(std::vector<fs::path>{app_a}, tmp.path() / "a", backend);
  std::this_thread::sleep_for(1000ms);

  phase = kRedisDown;
  const auto redis_down_at = std::chrono::system_clock::now();
  redis.kill();
  httplib::Client plain("127.0.0.1", lb.port());
  std::this_thread::sleep_for(1000ms);
  auto echoed = plain.Get("/echo");
  REQUIRE(echoed);
  CHECK(echoed->status == 200);  // served while Redis is down: it needs no backend
  redis.start();                 // the append-only file brings back everything acknowledged
  const auto redis_back_at = std::chrono::system_clock::now();
  phase = kAfter;
  waitFor("requests to be acknowledged again after Redis restarted", [&] { return countOf(kAfter, 200) >= 20; }, 30s,
          *hosts[1]);
  stop = true;
  c1.join();
  c2.join();

  INFO("answers by phase (status: count): " << [&] {
    std::string s;
    for (auto& [p, by] : answers) {
      s += "\n  phase " + std::to_string(p) + ":";
      for (auto& [status, n] : by) {
        s += " " + std::to_string(status) + "=" + std::to_string(n);
        if (status != 200) s += " (" + bodies[p][status] + ")";
      }
    }
    return s;
  }());
  // While a host was down, nginx moved its requests to the others: none was refused.
  CHECK(countOf(kHostDown, 200) > 0);
  CHECK(answers[kHostDown].size() == 1);
  // While Redis was down, the publishes that need it were refused (not accepted and lost).
  for (auto& [status, n] : answers[kRedisDown]) {
    INFO("status " << status);
    CHECK((status == 200 || status == 503));
  }
  // Every acknowledged request was processed, and its effects committed once.
  waitForAllProcessed(redis, acked);
  // The timer went on firing while a host was dead, and again once Redis was back (points
  // due while Redis was down are not fired: no host can claim them); no point fired twice.
  waitFor("a timer point after Redis came back", [&] {
    return firedBetween(ticksFired(*hosts[1]), isoSecond(redis_back_at + 1s));
  }, 20s, [&] {
    std::string points = "points fired (Redis back at " + isoSecond(redis_back_at) + "):";
    for (const auto& [point, times] : ticksFired(*hosts[1])) points += " " + point + "x" + std::to_string(times);
    return points + "\n" + hosts[1]->process().lastOutput();
  });
  const std::map<std::string, int> fired = ticksFired(*hosts[1]);
  CHECK(firedBetween(fired, isoSecond(killed_at + 1s), isoSecond(redis_down_at)));
  for (const auto& [point, times] : fired) {
    INFO("timer point " << point);
    CHECK(times == 1);
  }
  MESSAGE(fired.size() << " timer points fired, each once");
  for (auto& h : hosts) {
    h->process().signal(SIGTERM);
    h->process().wait();
  }
}

TEST_CASE("a host cut off from Redis refuses what needs it, serves the rest, and catches up when the link is back") {
  RedisServer redis({"--appendonly", "yes", "--appendfsync", "always"});
  TempDir tmp;
  TcpProxy link(redis.port());  // host A's only way to Redis
  fs::path app_a = makeApp(tmp.path() / "a", "chain", chainManifest(), env("GUST_FIXTURE_MISBEHAVE"));
  fs::path app_b = makeApp(tmp.path() / "b", "chain", chainManifest(), env("GUST_FIXTURE_MISBEHAVE"));
  Host a({app_a}, tmp.path() / "a",
         {"--backend", "redis://127.0.0.1:" + std::to_string(link.port()), "--expose-errors"});
  Host b({app_b}, tmp.path() / "b", {"--backend", redis.url(), "--expose-errors"});
  httplib::Client to_a("127.0.0.1", a.port()), to_b("127.0.0.1", b.port());
  to_a.set_read_timeout(15s);
  std::set<std::string> acked;
  auto relay = [&](httplib::Client& c) {
    auto r = c.Post("/relay", "ok", "text/plain");
    if (r && r->status == 200) acked.insert(r->body.substr(r->body.find(' ') + 1));
    return r ? r->status : 0;
  };
  for (int i = 0; i < 20; ++i) REQUIRE(relay(to_a) == 200);

  const auto cut_at = std::chrono::system_clock::now();
  link.cut();  // no reset, no answer: A notices by its command deadline
  waitFor("A to refuse a publish", [&] { return relay(to_a) == 503; }, 20s, a);
  auto echoed = to_a.Get("/echo");
  REQUIRE(echoed);
  CHECK(echoed->status == 200);
  for (int i = 0; i < 20; ++i) CHECK(relay(to_b) == 200);  // the rest of the cluster goes on
  const auto restored_at = std::chrono::system_clock::now();
  link.restore();
  waitFor("A to take publishes again", [&] { return relay(to_a) == 200; }, 20s, a);
  for (int i = 0; i < 20; ++i) CHECK(relay(to_a) == 200);

  waitForAllProcessed(redis, acked);
  // B fired the timer while A was cut off; A, back, fired no point B already had.
  const std::map<std::string, int> fired = ticksFired(b);
  CHECK(firedBetween(fired, isoSecond(cut_at + 1s), isoSecond(restored_at)));
  for (const auto& [point, times] : fired) {
    INFO("timer point " << point);
    CHECK(times == 1);
  }
  for (Host* h : {&a, &b}) {
    h->process().signal(SIGTERM);
    h->process().wait();
  }
}
