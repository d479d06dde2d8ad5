// Async invocations end to end: a real host with the misbehave fixture, `Prefer:
// respond-async` requests over real sockets, status polled at the 202's Location, results
// kept in gust.db across a SIGKILL, and callbacks received by a real HTTP server here.
#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "tests/integration/harness.h"
#include "tests/support/holding_receiver.h"
#include "tests/support/server_thread.h"

using namespace gust::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const char* kManifest = R"({
  "name": "fixtures",
  "timeout": "5s",
  "functions": {
    "echo":   { "routes": [{ "path": "/echo/{id}", "methods": ["GET", "POST"] }] },
    "throws": { "routes": [{ "path": "/throw", "methods": ["POST"] }] },
    "say":    { "routes": [{ "path": "/say/{word}", "methods": ["POST"] }] },
    "sleepy": { "routes": [{ "path": "/sleep/{ms}", "methods": ["POST"] }] },
    "segv":   { "routes": [{ "path": "/segv", "methods": ["POST"] }] }
  }
})";

// Callbacks go to receivers on 127.0.0.1, which the host refuses to call unless allowlisted.
const std::vector<std::string> kAllowLoopback = {"--callback-allow", "127.0.0.0/8"};
const std::vector<std::string> kNoAllowlist = {};

struct Fixture {
  explicit Fixture(std::vector<std::string> host_args = kAllowLoopback) : args(std::move(host_args)) {
    host.emplace(std::vector<fs::path>{app}, tmp.path(), args);
  }
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "fixtures", kManifest, env("GUST_FIXTURE_MISBEHAVE"));
  std::vector<std::string> args;
  std::optional<Host> host;

  httplib::Client client() { return localClient(host->port()); }

  void restart(int signal = SIGKILL) {
    host->process().signal(signal);
    Exited exited = host->process().wait();
    if (signal == SIGTERM) CHECK(exited.status == 0);  // a clean drain: no handle left open
    host.reset();
    host.emplace(std::vector<fs::path>{app}, tmp.path(), args);
  }

  // POSTs `path` asking for respond-async.
  httplib::Result startAsync(const std::string& path, httplib::Headers extra = {}, const std::string& body = "") {
    extra.emplace("Prefer", "respond-async");
    return client().Post(path, extra, body, "text/plain");
  }

  json get(const std::string& location) {
    auto r = client().Get(location);
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return json::parse(r->body);
  }

  // Polls until the invocation is done; returns its last state.
  json waitDone(const std::string& location, std::chrono::milliseconds timeout = 20s) {
    json state;
    waitFor(
        "the invocation at " + location + " to finish",
        [&] {
          state = get(location);
          return state["status"] == "succeeded" || state["status"] == "failed";
        },
        timeout, *host);
    return state;
  }

  // The invocation's record through the admin API, which keeps the failure's full detail.
  json adminRecord(const std::string& location) {
    std::string body;
    waitFor("the record of " + location, [&] {
      auto r = host->adminClient().Get(location, {{"Authorization", "Bearer " + host->adminToken()}});
      // duration_ms comes with the record, which is written after the async state.
      if (r && r->status == 200 && json::parse(r->body).contains("duration_ms")) body = r->body;
      return !body.empty();
    }, 5s, *host);
    return json::parse(body);
  }
};

std::string header(const json& response, const std::string& name) {
  for (const auto& h : response["headers"]) {
    std::string n = h[0];
    if (n.size() == name.size() && std::equal(n.begin(), n.end(), name.begin(),
                                              [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      return h[1];
    }
  }
  return "";
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// An HTTP server on a free port that records every POST body and answers with `status_for`
// (called with the 1-based number of the request).
class Receiver {
 public:
  explicit Receiver(std::function<int(int)> status_for) : status_for_(std::move(status_for)) {
    http_.server().Post(R"(/cb.*)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      bodies_.push_back(req.body);
      res.status = status_for_(static_cast<int>(bodies_.size()));
      res.set_content("", "text/plain");
    });
    http_.start();
  }
  std::string url() const { return http_.url() + "/cb"; }
  int port() const { return http_.port(); }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mutex_);
    return bodies_;
  }

 private:
  std::function<int(int)> status_for_;
  std::mutex mutex_;
  std::vector<std::string> bodies_;
  ServerThread http_;  // last: stopped before what its handler uses is destroyed
};

}  // namespace

TEST_CASE("a respond-async request is answered 202 at once and its result is read at its Location") {
  Fixture f;
  // Several preferences in one field, in any case: respond-async is found among them.
  auto r = f.client().Post("/echo/7?x=1", {{"Prefer", "wait=10, Respond-Async"}, {"X-Test", "kept"}}, "hello",
                           "text/plain");
  REQUIRE(r);
  CHECK(r->status == 202);
  CHECK(r->get_header_value("Preference-Applied") == "respond-async");
  std::string location = r->get_header_value("Location");
  json accepted = json::parse(r->body);
  std::string id = accepted["id"];
  CHECK(location == "/v1/invocations/" + id);
  CHECK(accepted["location"] == location);
  CHECK(accepted["status"] == "queued");

  json done = f.waitDone(location);
  CHECK(done["status"] == "succeeded");
  CHECK(done["id"] == id);
  CHECK(done["app"] == "fixtures");
  CHECK(done["function"] == "echo");
  CHECK(done["attempts"] == 1);
  CHECK(done["response"]["status"] == 200);
  CHECK(done["response"]["body"] == "hello");
  CHECK(header(done["response"], "X-Param") == "7");
  CHECK(header(done["response"], "X-Query") == "x=1");
  CHECK(header(done["response"], "X-Echo-Header") == "kept");
  CHECK(header(done["response"], "X-Invocation") == id);
  CHECK_FALSE(done["created_at"].get<std::string>().empty());

  // The admin API answers the same state, with its token, completed by the invocation's
  // record once it is written (a moment after the result).
  httplib::Client admin = f.host->adminClient();
  json full;
  waitFor(
      "the admin API to answer " + location + " with the invocation's record",
      [&] {
        auto a = admin.Get(location, {{"Authorization", "Bearer " + f.host->adminToken()}});
        if (!a || a->status != 200) return false;
        full = json::parse(a->body);
        return full.contains("trigger");
      },
      5s, *f.host);
  CHECK(full["response"]["body"] == "hello");
  CHECK(full["status"] == "succeeded");
  CHECK(full["trigger"] == "async");
  CHECK(full["attempt"] == 1);
  CHECK(full["outcome"] == "ok");
  CHECK(full["trace_id"].get<std::string>().size() == 32);
  CHECK(full["logs"].is_array());
}

TEST_CASE("an async invocation is seen running while the function runs") {
  Fixture f;
  auto r = f.startAsync("/sleep/4000");  // long enough for a slow poll to see it run
  REQUIRE(r);
  REQUIRE(r->status == 202);
  std::string location = r->get_header_value("Location");
  waitFor("the invocation to run", [&] { return f.get(location)["status"] == "running"; }, 5s, *f.host);
  json done = f.waitDone(location);
  CHECK(done["status"] == "succeeded");
  CHECK(done["response"]["body"] == "slept\n");
}

TEST_CASE("a function that throws leaves a failed invocation with the kind of error and the 500 answer") {
  Fixture f;
  auto r = f.startAsync("/throw");
  REQUIRE(r);
  REQUIRE(r->status == 202);
  json done = f.waitDone(r->get_header_value("Location"));
  CHECK(done["status"] == "failed");
  CHECK(done["attempts"] == 1);  // a function error is the function's answer: not retried
  CHECK(done["response"]["status"] == 500);
  // Whoever polls learns the kind of failure; the exception text is the operator's.
  CHECK(done["error"] == "error: the function failed");
  CHECK(done.dump().find("the fixture threw on purpose") == std::string::npos);
  CHECK(f.adminRecord(r->get_header_value("Location"))["error"].get<std::string>().find(
            "the fixture threw on purpose") != std::string::npos);
}

TEST_CASE("an Idempotency-Key sent twice names one invocation and the function runs once") {
  Fixture f;
  auto first = f.startAsync("/say/onlyonce", {{"Idempotency-Key", "order-42"}});
  REQUIRE(first);
  REQUIRE(first->status == 202);
  std::string location = first->get_header_value("Location");
  auto second = f.startAsync("/say/onlyonce", {{"Idempotency-Key", "order-42"}});
  REQUIRE(second);
  CHECK(second->get_header_value("Location") == location);
  CHECK(f.waitDone(location)["status"] == "succeeded");

  // Once it is done, the same key answers 200 with the result.
  auto third = f.startAsync("/say/onlyonce", {{"Idempotency-Key", "order-42"}});
  REQUIRE(third);
  CHECK(third->status == 200);
  CHECK(third->get_header_value("Location") == location);
  CHECK(json::parse(third->body)["status"] == "succeeded");

  // Another key is another invocation.
  auto other = f.startAsync("/say/onlyonce", {{"Idempotency-Key", "order-43"}});
  REQUIRE(other);
  CHECK(other->status == 202);
  CHECK(other->get_header_value("Location") != location);
  CHECK(f.waitDone(other->get_header_value("Location"))["status"] == "succeeded");
  waitFor("the host to log two runs of onlyonce",
          [&] { return count(f.host->process().stderrText(), "stdout: said onlyonce") >= 2; }, 5s, *f.host);
  CHECK(count(f.host->process().stderrText(), "stdout: said onlyonce") == 2);
}

TEST_CASE("the callback URL receives the result once the invocation finished") {
  Fixture f;
  Receiver receiver([](int) { return 200; });
  auto r = f.startAsync("/echo/9", {{"X-Callback-Url", receiver.url()}}, "to the callback");
  REQUIRE(r);
  REQUIRE(r->status == 202);
  std::string id = json::parse(r->body)["id"];
  waitFor("the callback", [&] { return !receiver.bodies().empty(); }, 10s, *f.host);
  json delivered = json::parse(receiver.bodies().front());
  CHECK(delivered["id"] == id);
  CHECK(delivered["status"] == "succeeded");
  CHECK(delivered["response"]["body"] == "to the callback");
  std::this_thread::sleep_for(300ms);
  CHECK(receiver.bodies().size() == 1);
}

TEST_CASE("a callback endpoint that fails is retried with backoff until it accepts") {
  Fixture f;
  Receiver receiver([](int n) { return n <= 2 ? 503 : 204; });
  auto r = f.startAsync("/echo/1", {{"X-Callback-Url", receiver.url()}}, "retry me");
  REQUIRE(r);
  REQUIRE(r->status == 202);
  auto started = std::chrono::steady_clock::now();
  waitFor("three callback attempts", [&] { return receiver.bodies().size() >= 3; }, 15s, *f.host);
  // 1 s then 2 s of backoff between the three attempts.
  CHECK(std::chrono::steady_clock::now() - started >= 2900ms);
  std::this_thread::sleep_for(1500ms);
  CHECK(receiver.bodies().size() == 3);  // delivered: no fourth attempt
  CHECK(json::parse(receiver.bodies().back())["response"]["body"] == "retry me");
}

TEST_CASE("an invocation running when the host is SIGKILLed runs again after the restart") {
  Fixture f;
  // Long enough (below the app's 5 s timeout) that the kill lands while it runs, however slow
  // the machine is to see it running.
  auto r = f.startAsync("/sleep/4000");
  REQUIRE(r);
  REQUIRE(r->status == 202);
  std::string location = r->get_header_value("Location");
  waitFor("the invocation to run", [&] { return f.get(location)["status"] == "running"; }, 5s, *f.host);
  f.restart();
  json done = f.waitDone(location);
  CHECK(done["status"] == "succeeded");
  CHECK(done["attempts"] == 2);  // at least once: the interrupted run counts
  CHECK(done["response"]["body"] == "slept\n");
}

TEST_CASE("a crashing function is retried with backoff, then failed as crashed") {
  Fixture f;
  auto r = f.startAsync("/segv");
  REQUIRE(r);
  REQUIRE(r->status == 202);
  json done = f.waitDone(r->get_header_value("Location"));
  CHECK(done["status"] == "failed");
  CHECK(done["attempts"] == 3);
  CHECK(done["response"]["status"] == 502);
  CHECK(done["error"] == "crashed: the function crashed (after 3 attempts)");
  CHECK(done.dump().find("SIGSEGV") == std::string::npos);
  CHECK(f.adminRecord(r->get_header_value("Location"))["error"].get<std::string>().find("SIGSEGV") !=
        std::string::npos);
}

TEST_CASE("an invocation running at a graceful stop is left running and run after the restart") {
  Fixture f;
  auto r = f.startAsync("/sleep/4000");  // still running when the stop comes (timeout: 5 s)
  REQUIRE(r);
  REQUIRE(r->status == 202);
  std::string location = r->get_header_value("Location");
  waitFor("the invocation to run", [&] { return f.get(location)["status"] == "running"; }, 5s, *f.host);
  f.restart(SIGTERM);
  json done = f.waitDone(location);
  CHECK(done["status"] == "succeeded");
  CHECK(done["attempts"] == 2);
}

TEST_CASE("an unknown invocation id is 404 on both listeners") {
  Fixture f;
  auto r = f.client().Get("/v1/invocations/does-not-exist");
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(r->body.find("no async invocation does-not-exist") != std::string::npos);
  auto post = f.client().Post("/v1/invocations/x", "", "text/plain");
  REQUIRE(post);
  CHECK(post->status == 405);
  auto a = f.host->adminClient()
               .Get("/v1/invocations/does-not-exist", {{"Authorization", "Bearer " + f.host->adminToken()}});
  REQUIRE(a);
  CHECK(a->status == 404);
}

TEST_CASE("a bad X-Callback-Url or Idempotency-Key is refused with 400 naming the problem") {
  Fixture f;
  struct Case {
    std::string url, says;
  };
  for (const Case& c : {Case{"ftp://example.com/x", "http://"}, Case{"example.com/cb", "http://"},
                        Case{"http://169.254.169.254/latest/meta-data", "link-local"},
                        Case{"http://user:pw@example.com/", "user info"}, Case{"http:///cb", "no host"},
                        Case{"http://example.com/" + std::string(3000, 'a'), "longer than 2048"}}) {
    CAPTURE(c.url);
    auto r = f.startAsync("/echo/1", {{"X-Callback-Url", c.url}});
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(r->body.find(c.says) != std::string::npos);
  }
  auto r = f.startAsync("/echo/1", {{"Idempotency-Key", std::string(300, 'k')}});
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(r->body.find("Idempotency-Key is longer than 256 bytes") != std::string::npos);
  // Nothing was run: a request that is not async still runs synchronously.
  auto sync = f.client().Post("/echo/1", "sync", "text/plain");
  REQUIRE(sync);
  CHECK(sync->status == 200);
  CHECK(sync->body == "sync");
}

TEST_CASE("an app route under /v1/invocations is refused at startup") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "clash",
                         R"({"name": "clash", "functions": {"echo": {"routes": ["/v1/invocations/{id}"]}}})",
                         env("GUST_FIXTURE_MISBEHAVE"));
  auto r = runGust({"serve", "--port", "0", "--data-dir", (tmp.path() / "data").string(),
                    app.string()},
                   tmp.path());
  CHECK(r.status == 1);
  CHECK(r.err.find("reserved for async invocation status") != std::string::npos);
}

TEST_CASE("a callback URL whose host is a refused address written literally is refused with 400 naming the rule") {
  Fixture f(kNoAllowlist);
  struct Case {
    std::string url, says;
  };
  for (const Case& c : {Case{"http://127.0.0.1:9/cb", "127.0.0.1 is a loopback (127.0.0.0/8) address"},
                        Case{"http://2130706433/cb", "2130706433 resolves to 127.0.0.1, a loopback"},
                        Case{"http://0x7f.1/cb", "a loopback"},
                        Case{"http://[::ffff:10.1.2.3]/cb", "private (10.0.0.0/8, carried in an IPv4-mapped"},
                        Case{"http://[::1]:8080/cb", "a loopback (::1/128)"},
                        Case{"http://100.64.0.1/cb", "shared CGNAT (100.64.0.0/10)"},
                        Case{"http://192.168.0.10/cb", "private (192.168.0.0/16)"},
                        Case{"http://224.0.0.251/cb", "multicast"}}) {
    CAPTURE(c.url);
    auto r = f.startAsync("/echo/1", {{"X-Callback-Url", c.url}});
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(r->body.find(c.says) != std::string::npos);
    CHECK(r->body.find("--callback-allow") != std::string::npos);
  }
}

TEST_CASE("a name that resolves to a refused address fails the delivery, with the reason in the record") {
  Fixture f(kNoAllowlist);  // localhost is refused once resolved
  Receiver receiver([](int) { return 204; });
  std::string url = "http://localhost:" + std::to_string(receiver.port()) + "/cb";
  auto r = f.startAsync("/echo/3", {{"X-Callback-Url", url}}, "not for localhost");
  REQUIRE(r);
  REQUIRE(r->status == 202);  // a name is not resolved when the request comes
  std::string location = r->get_header_value("Location");
  CHECK(f.waitDone(location)["status"] == "succeeded");
  json state;
  waitFor("the callback's failure in the record", [&] {
    state = f.get(location);
    return state.contains("callback_error");
  }, 10s, *f.host);
  std::string why = state["callback_error"];
  CHECK(why.find("localhost resolves to ") != std::string::npos);
  CHECK(why.find("a loopback") != std::string::npos);
  CHECK(why.find("--callback-allow") != std::string::npos);
  CHECK(f.adminRecord(location)["callback_error"] == why);
  CHECK(receiver.bodies().empty());
}

TEST_CASE("a callback receiver's endless answer is cut, and the callback still counts as delivered") {
  Fixture f;
  std::atomic<bool> cut{false};
  ServerThread http;
  http.server().Post("/cb", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/plain", [&](size_t, httplib::DataSink& sink) {
      static const std::string block(16 * 1024, 'x');
      if (sink.write(block.data(), block.size())) return true;
      cut = true;  // the host hung up
      return false;
    });
  });
  http.start();
  auto r = f.startAsync("/echo/4", {{"X-Callback-Url", http.url() + "/cb"}}, "big answer");
  REQUIRE(r);
  REQUIRE(r->status == 202);
  // The attempt's deadline is 10 s: only the 64 KiB bound cuts the answer within this wait.
  waitFor("the host to hang up on the endless answer", [&] { return cut.load(); }, 8s, *f.host);
  waitFor("the host to log the cut", [&] {
    return f.host->process().stderrText().find("its answer passed 65536 bytes and was cut there") !=
           std::string::npos;
  }, 5s, *f.host);
  CHECK_FALSE(f.get(r->get_header_value("Location")).contains("callback_error"));
}

TEST_CASE("a slow callback receiver does not hold up another receiver's callback") {
  Fixture f;
  HoldingReceiver slow;
  std::atomic<int> held_when_fast_came{-1};
  ServerThread fast;
  fast.server().Post("/cb", [&](const httplib::Request&, httplib::Response& res) {
    held_when_fast_came = slow.held();
    res.status = 204;
  });
  fast.start();
  for (int i = 0; i < 3; ++i) {
    auto r = f.startAsync("/echo/5", {{"X-Callback-Url", slow.url("/cb")}});
    REQUIRE(r);
    REQUIRE(r->status == 202);
  }
  waitFor("the slow receiver to hold two callbacks", [&] { return slow.held() == 2; }, 10s, *f.host);
  auto r = f.startAsync("/echo/6", {{"X-Callback-Url", fast.url() + "/cb"}});
  REQUIRE(r);
  REQUIRE(r->status == 202);
  waitFor("the fast receiver's callback", [&] { return held_when_fast_came >= 0; }, 10s, *f.host);
  CHECK(held_when_fast_came == 2);  // it came while the slow one held two
  CHECK(slow.mostHeld() == 2);      // at most two at once to one receiver
}

TEST_CASE("credentials in a callback URL never reach the host's logs") {
  Fixture f;
  // 503 first, so that a retry is logged; then 404, so that a delivery is given up.
  Receiver receiver([](int n) { return n == 1 ? 503 : (n == 2 ? 204 : 404); });
  std::string base = "http://127.0.0.1:" + std::to_string(receiver.port());
  auto userinfo = f.startAsync("/echo/7", {{"X-Callback-Url", "http://user:s3cret-pw@127.0.0.1:9/cb"}});
  REQUIRE(userinfo);
  CHECK(userinfo->status == 400);
  CHECK(userinfo->body.find("s3cret") == std::string::npos);
  auto retried = f.startAsync("/echo/7", {{"X-Callback-Url", base + "/cb/s3cret-path?token=s3cret-query"}});
  REQUIRE(retried);
  REQUIRE(retried->status == 202);
  waitFor("the retried callback", [&] { return receiver.bodies().size() == 2; }, 10s, *f.host);
  auto refused = f.startAsync("/echo/7", {{"X-Callback-Url", base + "/cb?token=s3cret-refused"}});
  REQUIRE(refused);
  REQUIRE(refused->status == 202);
  std::string location = refused->get_header_value("Location");
  waitFor("the refused callback's failure in the record", [&] { return f.get(location).contains("callback_error"); },
          10s, *f.host);
  std::string log = f.host->process().stderrText();
  CHECK(log.find("callback to " + base + " failed") != std::string::npos);  // the endpoint is named
  CHECK(log.find("callback given up") != std::string::npos);
  CHECK(log.find("s3cret") == std::string::npos);
  CHECK(f.get(location)["callback_error"].get<std::string>().find("s3cret") == std::string::npos);
}
