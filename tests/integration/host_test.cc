// The host end to end: the real gust binary serving fixture apps on 127.0.0.1, with
// functions that crash, hang, throw and flood, and clients that misbehave.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include "tests/integration/harness.h"

using namespace gust::test;

namespace {

const char* kFixtureManifest = R"({
  "name": "fixtures",
  "timeout": "2s",
  "functions": {
    "echo":      { "routes": [{ "path": "/echo/{id}", "methods": ["GET", "POST"] }] },
    "segv":      { "routes": ["/segv"] },
    "aborts":    { "routes": ["/abort"] },
    "exits":     { "routes": ["/exit"] },
    "hang":      { "routes": ["/hang"], "timeout": "300ms" },
    "throws":    { "routes": ["/throw"] },
    "flood":     { "routes": ["/flood"] },
    "say":       { "routes": ["/say/{word}"] },
    "badheader": { "routes": ["/badheader"] },
    "sleepy":    { "routes": ["/sleep/{ms}"] }
  }
})";

struct Fixture {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "fixtures", kFixtureManifest, env("GUST_FIXTURE_MISBEHAVE"));
};

// Sends raw bytes on a fresh connection and returns everything read until the peer closes
// or `wait` passes.
std::string rawExchange(int port, const std::string& bytes, std::chrono::milliseconds wait = std::chrono::seconds(5)) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval tv{static_cast<time_t>(wait.count() / 1000), static_cast<suseconds_t>((wait.count() % 1000) * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  REQUIRE(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

}  // namespace

TEST_CASE("the hello example builds with gust build and answers its routes") {
  TempDir tmp;
  fs::path app = tmp.path() / "hello";
  fs::copy(fs::path(env("GUST_SOURCE_ROOT")) / "examples" / "hello", app, fs::copy_options::recursive);
  fs::remove_all(app / "build");
  CommandResult built = runGust({"build", app.string()}, tmp.path());
  INFO(built.err);
  REQUIRE(built.status == 0);
  CHECK(built.out.find("built ") != std::string::npos);
  CHECK(fs::is_regular_file(app / "build" / "hello.so"));
  // A second build with nothing changed compiles nothing.
  CHECK(runGust({"build", app.string()}, tmp.path()).out.find("up to date") != std::string::npos);

  Host host({app}, tmp.path());
  httplib::Client client = localClient(host.port());
  auto r = client.Get("/hello/world");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "hello, world\n");
  r = client.Get("/hello/gust?greeting=hi%20there");
  REQUIRE(r);
  CHECK(r->body == "hi there, gust\n");
  r = client.Post("/echo", R"({"order": 42, "items": ["a", "b"]})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  auto body = nlohmann::json::parse(r->body);
  CHECK(body["echo"]["order"] == 42);
  CHECK(body["echo"]["items"][1] == "b");
  r = client.Post("/echo", "not json", "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);

  // `gust invoke` is the CLI's client.
  std::string url = "http://127.0.0.1:" + std::to_string(host.port());
  CommandResult inv = runGust({"invoke", url + "/hello/cli"}, tmp.path());
  CHECK(inv.status == 0);
  CHECK(inv.out.find("HTTP 200") != std::string::npos);
  CHECK(inv.out.find("hello, cli") != std::string::npos);
  writeFile(tmp.path() / "body.json", R"({"from": "file"})");
  inv = runGust({"invoke", "/echo", "--host", url, "--data", "@" + (tmp.path() / "body.json").string(), "-H",
                 "Content-Type: application/json"},
                tmp.path());
  CHECK(inv.status == 0);
  CHECK(inv.out.find(R"("from":"file")") != std::string::npos);
  inv = runGust({"invoke", url + "/nowhere"}, tmp.path());
  CHECK(inv.status == 1);
  CHECK(inv.out.find("HTTP 404") != std::string::npos);

  host.process().signal(SIGTERM);
  CHECK(host.process().wait().status == 0);
}

TEST_CASE("a request reaches the function with its method, path, params, query, headers and body") {
  Fixture f;
  Host host({f.app}, f.tmp.path());
  // Raw bytes, so that no client library re-encodes the path.
  std::string reply = rawExchange(host.port(),
                                  "POST /echo/a%20b?x=1&y=2 HTTP/1.1\r\nHost: t\r\nX-Test: yes\r\n"
                                  "Content-Length: 7\r\nConnection: close\r\n\r\npayload");
  INFO(reply);
  CHECK(reply.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(reply.find("\r\n\r\npayload") != std::string::npos);
  CHECK(reply.find("X-Method: POST\r\n") != std::string::npos);
  CHECK(reply.find("X-Path: /echo/a%20b\r\n") != std::string::npos);
  CHECK(reply.find("X-Param: a b\r\n") != std::string::npos);
  CHECK(reply.find("X-Query: x=1&y=2\r\n") != std::string::npos);
  CHECK(reply.find("X-Echo-Header: yes\r\n") != std::string::npos);
  CHECK(reply.find("Date: ") != std::string::npos);
  CHECK(reply.find("Content-Length: 7\r\n") != std::string::npos);
  // The invocation id the function saw is the one the response carries.
  auto field = [&](const std::string& name) {
    size_t at = reply.find(name + ": ");
    return at == std::string::npos ? std::string() : reply.substr(at + name.size() + 2, reply.find("\r\n", at) - at - name.size() - 2);
  };
  CHECK(!field("X-Invocation").empty());
  CHECK(field("X-Gust-Invocation-Id") == field("X-Invocation"));
}

TEST_CASE("with --expose-errors a crashing function answers 502 naming the signal or exit status, and the next request is served") {
  Fixture f;
  Host host({f.app}, f.tmp.path(), {"--expose-errors"});
  httplib::Client client = localClient(host.port());
  auto r = client.Get("/segv");
  REQUIRE(r);
  CHECK(r->status == 502);
  CHECK(r->get_header_value("Content-Type") == "application/problem+json");
  CHECK(r->body.find("SIGSEGV") != std::string::npos);
  r = client.Get("/abort");
  REQUIRE(r);
  CHECK(r->status == 502);
  CHECK(r->body.find("SIGABRT") != std::string::npos);
  r = client.Get("/exit");
  REQUIRE(r);
  CHECK(r->status == 502);
  CHECK(r->body.find("exited with status 3") != std::string::npos);
  r = client.Get("/echo/1");
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("a function past its timeout answers 504, its worker is killed, and a fresh worker serves next") {
  Fixture f;
  Host host({f.app}, f.tmp.path());
  httplib::Client client = localClient(host.port());
  auto before = client.Get("/echo/1");
  REQUIRE(before);
  pid_t first_worker = hostPidOf(before->get_header_value("X-Pid"));
  auto started = std::chrono::steady_clock::now();
  auto r = client.Get("/hang");
  REQUIRE(r);
  CHECK(r->status == 504);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
  // The hung worker is the one that served /echo before (one instance was idle).
  waitFor("the hung worker to be killed", [&] { return !processAlive(first_worker); }, std::chrono::seconds(3), host);
  auto after = client.Get("/echo/2");
  REQUIRE(after);
  CHECK(after->status == 200);
  CHECK(hostPidOf(after->get_header_value("X-Pid")) != first_worker);
}

TEST_CASE("with --expose-errors an exception in a function becomes a 500 that carries its message") {
  Fixture f;
  Host host({f.app}, f.tmp.path(), {"--expose-errors"});
  httplib::Client client = localClient(host.port());
  auto r = client.Get("/throw");
  REQUIRE(r);
  CHECK(r->status == 500);
  CHECK(r->body.find("the fixture threw on purpose") != std::string::npos);
}

TEST_CASE("a public 5xx names the kind of failure and the invocation; the details go to the log and the record") {
  Fixture f;
  fs::path future = makeApp(f.tmp.path(), "future", R"({"name": "future", "functions": {"echo": {"routes": ["/f"]}}})",
                            env("GUST_FIXTURE_ABI_MISMATCH"));
  Host host({f.app, future}, f.tmp.path());
  httplib::Client client = localClient(host.port());
  httplib::Client admin = host.adminClient();
  httplib::Headers bearer = {{"Authorization", "Bearer " + host.adminToken()}};
  struct Case {
    std::string path;
    int status;
    std::string kind;    // what a stranger is told
    std::string detail;  // what only the operator sees
  };
  for (const Case& c : std::vector<Case>{{"/segv", 502, "the function crashed", "SIGSEGV"},
                                         {"/throw", 500, "the function failed", "the fixture threw on purpose"},
                                         {"/f", 503, "the function or what it needs is unavailable", "ABI version 42"}}) {
    CAPTURE(c.path);
    auto r = client.Get(c.path);
    REQUIRE(r);
    CHECK(r->status == c.status);
    std::string id = r->get_header_value("X-Gust-Invocation-Id");
    REQUIRE(!id.empty());
    auto body = nlohmann::json::parse(r->body);
    CHECK(body["invocation_id"] == id);
    CHECK(body["status"] == c.status);
    CHECK(body["detail"].get<std::string>().find(c.kind) == 0);
    CHECK(r->body.find(c.detail) == std::string::npos);
    CHECK(r->body.find(".so") == std::string::npos);  // no module path either
    // The operator finds the detail under that id: in the host's log line and the record.
    waitFor("the log line of " + id, [&] {
      std::istringstream log(host.process().stderrText());
      for (std::string line; std::getline(log, line);) {
        if (line.find(id) != std::string::npos && line.find(c.detail) != std::string::npos) return true;
      }
      return false;
    }, std::chrono::seconds(5), host);
    std::string record;
    waitFor("the record of " + id, [&] {
      auto got = admin.Get("/v1/invocations/" + id, bearer);
      if (got && got->status == 200) record = got->body;
      return !record.empty();
    }, std::chrono::seconds(5), host);
    CHECK_MESSAGE(nlohmann::json::parse(record)["error"].get<std::string>().find(c.detail) != std::string::npos, record);
  }
}

TEST_CASE("a function's output is captured with its invocation id and capped per invocation") {
  Fixture f;
  Host host({f.app}, f.tmp.path());
  httplib::Client client = localClient(host.port());
  auto r = client.Get("/say/marmalade");
  REQUIRE(r);
  std::string id = r->get_header_value("X-Gust-Invocation-Id");
  r = client.Get("/flood");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(client.Get("/echo/1")->status == 200);
  host.process().signal(SIGTERM);
  CHECK(host.process().wait().status == 0);
  std::string log = host.process().stderrText();
  CHECK(log.find("stdout: said marmalade by " + id + " app=fixtures function=say invocation_id=" + id) !=
        std::string::npos);
  CHECK(log.find("output truncated") != std::string::npos);
  // 5 MB of output went in; the log keeps about the cap.
  CHECK(log.size() < 512 * 1024);
}

TEST_CASE("a function cannot inject response headers") {
  Fixture f;
  Host host({f.app}, f.tmp.path());
  httplib::Client client = localClient(host.port());
  auto r = client.Get("/badheader");
  REQUIRE(r);
  CHECK(r->status == 500);
  CHECK_FALSE(r->has_header("Injected"));
}

TEST_CASE("unknown routes answer 404 and wrong methods 405 with Allow, as problem+json") {
  Fixture f;
  Host host({f.app}, f.tmp.path());
  httplib::Client client = localClient(host.port());
  auto r = client.Get("/nope");
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(r->get_header_value("Content-Type") == "application/problem+json");
  r = client.Delete("/echo/1");
  REQUIRE(r);
  CHECK(r->status == 405);
  CHECK(r->get_header_value("Allow").find("GET") != std::string::npos);
  CHECK(r->get_header_value("Allow").find("POST") != std::string::npos);
}

TEST_CASE("a malformed request gets 400 and a closed connection while other clients keep being served") {
  Fixture f;
  Host host({f.app}, f.tmp.path());
  httplib::Client keep = localClient(host.port());
  keep.set_keep_alive(true);
  REQUIRE(keep.Get("/echo/1")->status == 200);
  std::string reply = rawExchange(host.port(), "GET /echo/1 HTTP/1.1\r\nHost : x\r\n\r\n");
  CHECK(reply.rfind("HTTP/1.1 400", 0) == 0);
  reply = rawExchange(host.port(), "GET /echo/1 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  CHECK(reply.rfind("HTTP/1.1 400", 0) == 0);
  reply = rawExchange(host.port(), "GET /echo/1 HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n");
  CHECK(reply.rfind("HTTP/1.1 400", 0) == 0);
  reply = rawExchange(host.port(), "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(reply.rfind("HTTP/1.1 414", 0) == 0);
  CHECK(keep.Get("/echo/2")->status == 200);
}

TEST_CASE("loose chunked framing gets 400 naming the rule, then the connection closes") {
  Fixture f;
  Host host({f.app}, f.tmp.path());
  const std::string head = "POST /echo/1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  // Each would be read by http_parser alone as a request followed by a smuggled one.
  const std::string smuggled = "GET /echo/2 HTTP/1.1\r\nHost: a\r\n\r\n";
  struct Case {
    std::string body;
    std::string rule;
  };
  for (const Case& c : std::vector<Case>{
           {"3;x=\x01\r\nabc\r\n0\r\n\r\n", "control character in chunk extension"},
           {"3\r\nabcxx0\r\n\r\n", "chunk data not followed by CRLF"},
           {"3;x\rab\r\nabc\r\n0\r\n\r\n", "bare CR in chunk-size line"},
           {"3\r\nabc\r\n0\r\n\rx", "bare CR in chunked trailer"},
           {std::string(2000, '0') + "3\r\nabc\r\n0\r\n\r\n", "chunk-size line too long"}}) {
    CAPTURE(c.rule);
    auto start = std::chrono::steady_clock::now();
    std::string reply = rawExchange(host.port(), head + c.body + smuggled);
    // The host closed: the read ended long before rawExchange's 5 s wait.
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));
    CHECK(reply.rfind("HTTP/1.1 400", 0) == 0);
    CHECK(reply.find("Connection: close") != std::string::npos);
    CHECK(reply.find(c.rule) != std::string::npos);
    CHECK(occurrences(reply, "HTTP/1.1 ") == 1);  // neither the request nor the smuggled one ran
  }
  std::string bare_cr = rawExchange(host.port(), "GET /echo/1 HTTP/1.1\r\nHost: a\rX: b\r\n\r\n");
  CHECK(bare_cr.rfind("HTTP/1.1 400", 0) == 0);
  CHECK(bare_cr.find("bare CR in request head") != std::string::npos);
}

TEST_CASE("pipelined requests on one connection are answered in order") {
  Fixture f;
  Host host({f.app}, f.tmp.path());
  std::string reply = rawExchange(host.port(),
                                  "GET /sleep/200 HTTP/1.1\r\nHost: a\r\n\r\n"
                                  "GET /echo/second HTTP/1.1\r\nHost: a\r\n\r\n"
                                  "GET /echo/third HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  size_t first = reply.find("slept");
  size_t second = reply.find("X-Param: second");
  size_t third = reply.find("X-Param: third");
  CHECK(first != std::string::npos);
  CHECK(second != std::string::npos);
  CHECK(third != std::string::npos);
  CHECK(first < second);
  CHECK(second < third);
}

TEST_CASE("HEAD, Expect: 100-continue and chunked bodies work through the whole host") {
  Fixture f;
  Host host({f.app}, f.tmp.path());
  std::string head = rawExchange(host.port(), "HEAD /echo/1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  CHECK(head.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(head.find("X-Method: HEAD") != std::string::npos);
  CHECK(head.size() == head.find("\r\n\r\n") + 4);  // no body
  std::string chunked = rawExchange(host.port(),
                                    "POST /echo/1 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                                    "Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  CHECK(chunked.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(chunked.find("\r\n\r\nhello world") != std::string::npos);
  {
    // The client sends the head, waits for 100 Continue, then sends the body.
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(host.port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string head_only = "POST /echo/1 HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n"
                            "Connection: close\r\n\r\n";
    send(fd, head_only.data(), head_only.size(), MSG_NOSIGNAL);
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    REQUIRE(n > 0);
    CHECK(std::string(buf, static_cast<size_t>(n)) == "HTTP/1.1 100 Continue\r\n\r\n");
    send(fd, "ok", 2, MSG_NOSIGNAL);
    std::string rest;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) rest.append(buf, static_cast<size_t>(n));
    close(fd);
    CHECK(rest.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(rest.find("\r\n\r\nok") != std::string::npos);
  }
  std::string too_big = rawExchange(host.port(), "POST /echo/1 HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n"
                                                 "Expect: 100-continue\r\n\r\n");
  CHECK(too_big.rfind("HTTP/1.1 413", 0) == 0);
}

TEST_CASE("with --expose-errors a module built against another ABI version is refused with both versions named") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "future", R"({"name": "future", "functions": {"echo": {"routes": ["/f"]}}})",
                         env("GUST_FIXTURE_ABI_MISMATCH"));
  Host host({app}, tmp.path(), {"--expose-errors"});
  httplib::Client client = localClient(host.port());
  auto r = client.Get("/f");
  REQUIRE(r);
  CHECK(r->status == 503);
  CHECK(r->body.find("ABI version 42") != std::string::npos);
  CHECK(r->body.find("ABI version 1") != std::string::npos);
  CHECK(r->has_header("Retry-After"));
}

TEST_CASE("a manifest function missing from the module is refused by name") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "partial",
                         R"({"name": "partial", "functions": {"echo": {"routes": ["/e/{id}"]}, "ghost": {"routes": ["/g"]}}})",
                         env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path(), {"--expose-errors"});
  httplib::Client client = localClient(host.port());
  auto r = client.Get("/g");
  REQUIRE(r);
  CHECK(r->status == 503);
  CHECK(r->body.find("ghost") != std::string::npos);
}

TEST_CASE("SIGTERM finishes in-flight requests, stops the workers and exits 0") {
  Fixture f;
  Host host({f.app}, f.tmp.path());
  httplib::Client warm = localClient(host.port());
  pid_t worker = hostPidOf(warm.Get("/echo/1")->get_header_value("X-Pid"));
  std::thread slow([&] {
    httplib::Client client = localClient(host.port());
    auto r = client.Get("/sleep/1200");  // under the app's 2 s timeout
    CHECK(r);
    if (r) CHECK(r->status == 200);
  });
  waitFor("the slow request to reach its worker", [&] { return host.poolOf("fixtures")["busy"] == 1; },
          std::chrono::seconds(10), host);
  host.process().signal(SIGTERM);
  slow.join();
  Exited e = host.process().wait();
  CHECK(e.exited);
  CHECK(e.status == 0);
  waitFor("the worker to stop with its host", [&] { return !processAlive(worker); }, std::chrono::seconds(3), host);
}

TEST_CASE("no worker outlives a host killed with SIGKILL") {
  Fixture f;
  Host host({f.app}, f.tmp.path());
  httplib::Client client = localClient(host.port());
  pid_t worker = hostPidOf(client.Get("/echo/1")->get_header_value("X-Pid"));
  REQUIRE(processAlive(worker));
  host.process().signal(SIGKILL);
  host.process().wait();
  waitFor("the worker to die with its killed host", [&] { return !processAlive(worker); }, std::chrono::seconds(3),
          host);
}

TEST_CASE("the CLI explains bad arguments and bad manifests in one line") {
  TempDir tmp;
  CommandResult r = runGust({"serve", "--prot", "1"}, tmp.path());
  CHECK(r.status == 2);
  CHECK(r.err.find("did you mean --port") != std::string::npos);
  r = runGust({"serve", "--port", "99999"}, tmp.path());
  CHECK(r.status == 2);
  CHECK(r.err.find("invalid port") != std::string::npos);
  r = runGust({"srve"}, tmp.path());
  CHECK(r.status == 2);
  CHECK(r.err.find("did you mean \"serve\"") != std::string::npos);
  writeFile(tmp.path() / "typo" / "gust.json", R"({"name": "typo", "functions": {"f": {"rutes": ["/x"]}}})");
  r = runGust({"serve", "--port", "0", (tmp.path() / "typo").string()}, tmp.path());
  CHECK(r.status == 1);
  CHECK(r.err.find("functions.f: unknown field \"rutes\" (did you mean \"routes\"?)") != std::string::npos);
  r = runGust({"version"}, tmp.path());
  CHECK(r.status == 0);
  CHECK(r.out.find("function ABI 1") != std::string::npos);
  for (const char* verb : {"serve", "build", "invoke"}) {
    r = runGust({verb, "--help"}, tmp.path());
    CHECK(r.status == 0);
    CHECK(r.out.find("usage: gust") != std::string::npos);
  }
}

namespace {

// Processes whose name (comm) is `name`, system-wide.
std::vector<pid_t> processesNamed(const std::string& name) {
  std::vector<pid_t> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string pid = entry.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string comm = readFile(entry.path() / "comm");
    if (!comm.empty() && comm.back() == '\n') comm.pop_back();
    if (comm == name) found.push_back(std::stoi(pid));
  }
  return found;
}

// Processes running as a uid of the default worker_uids range, system-wide.
size_t processesOfWorkerUids() {
  size_t n = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string pid = entry.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string status = readFile(entry.path() / "status");
    size_t at = status.find("Uid:\t");
    if (at == std::string::npos) continue;
    unsigned long uid = std::strtoul(status.c_str() + at + 5, nullptr, 10);
    if (uid >= 200000 && uid <= 265535) ++n;
  }
  return n;
}

const char* kHostileManifest = R"({
  "name": "hostile",
  "timeout": "3s",
  "memory_mb": 256,
  "functions": {
    "echo":       { "routes": ["/hostile/echo/{id}"] },
    "killparent": { "routes": ["/killparent"] },
    "forkbomb":   { "routes": ["/forkbomb"], "timeout": "1s" },
    "daemonize":  { "routes": ["/daemon"] },
    "hog":        { "routes": ["/hog"] }
  }
})";

}  // namespace

TEST_CASE("hostile functions cannot take down the host or another app") {
  TempDir tmp;
  fs::path hostile = makeApp(tmp.path(), "hostile", kHostileManifest, env("GUST_FIXTURE_MISBEHAVE"));
  fs::path bystander = makeApp(tmp.path(), "fixtures", kFixtureManifest, env("GUST_FIXTURE_MISBEHAVE"));
  Host host({hostile, bystander}, tmp.path());
  httplib::Client client = localClient(host.port(), std::chrono::seconds(10));

  SUBCASE("signalling the parent reaches neither the host nor anything outside the worker") {
    auto r = client.Get("/killparent");
    REQUIRE(r);
    // Its parent is the worker's own init, out of its reach; the host is not even visible.
    CHECK(r->status == 200);
    CHECK(client.Get("/killparent")->status == 200);
  }
  SUBCASE("a fork bomb is bounded and its processes die with its worker") {
    size_t before = processesOfWorkerUids();
    auto r = client.Get("/forkbomb");
    REQUIRE(r);
    // Either the bomb hit its process limit and answered, or its timeout killed the worker,
    // or its memory limit did (the page tables of 512 sanitized processes fill 256 MiB).
    CHECK_MESSAGE((r->status == 200 || r->status == 504 || r->status == 502), r->status << " " << r->body);
    CHECK(client.Get("/echo/alive")->status == 200);
    host.process().signal(SIGTERM);
    CHECK(host.process().wait().status == 0);
    // Every process it forked is gone with its worker (which also frees the process limit
    // of its app's uid, which another test's app may get next).
    if (geteuid() == 0) {
      waitFor("the fork bomb's processes to end", [&] { return processesOfWorkerUids() <= before; },
              std::chrono::seconds(15), host);
    }
    return;
  }
  SUBCASE("a daemon does not survive its worker") {
    auto r = client.Get("/daemon");
    REQUIRE(r);
    CHECK(r->status == 200);
    waitFor("the daemon to start", [] { return !processesNamed("gust-fx-daemon").empty(); }, std::chrono::seconds(2),
            host);
    host.process().signal(SIGTERM);
    CHECK(host.process().wait().status == 0);
    waitFor("the daemon to end with its worker", [] { return processesNamed("gust-fx-daemon").empty(); },
            std::chrono::seconds(3), host);
    return;
  }
  if (std::getenv("GUST_SANITIZED") == nullptr) {
    SUBCASE("allocating past memory_mb fails that invocation with a clear error") {
      auto r = client.Get("/hog");
      REQUIRE(r);
      CHECK(r->status == 500);
      CHECK(r->body.find("out of memory") != std::string::npos);
    }
  }
  // Throughout, the host and the other app keep serving.
  auto r = client.Get("/echo/alive");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(client.Get("/segv")->status == 502);
  CHECK(client.Get("/echo/again")->status == 200);
  CHECK(host.process().running());
}

TEST_CASE("gust build uses an app's own meson.build when it has one, and shows compiler errors") {
  TempDir tmp;
  fs::path app = tmp.path() / "mesonapp";
  writeFile(app / "gust.json", R"({"name": "mesonapp", "functions": {"hi": {"routes": ["/hi"]}}})");
  writeFile(app / "meson.build", R"(project('mesonapp', 'cpp', default_options : ['cpp_std=c++20'])
shared_module('mesonapp', 'src/hi.cpp', name_prefix : '', gnu_symbol_visibility : 'hidden')
)");
  writeFile(app / "src" / "hi.cpp", R"(#include <gust/gust.hpp>
gust::Response hi(const gust::Request&, gust::Context&) { return gust::Response::text("hi from meson\n"); }
GUST_FUNCTION(hi)
)");
  CommandResult built = runGust({"build", app.string()}, tmp.path());
  INFO(built.err);
  REQUIRE(built.status == 0);
  REQUIRE(fs::is_regular_file(app / "build" / "mesonapp.so"));
  Host host({app}, tmp.path());
  auto r = localClient(host.port()).Get("/hi");
  REQUIRE(r);
  CHECK(r->body == "hi from meson\n");

  // A compile error reaches the user as the compiler wrote it, and the build fails.
  fs::path broken = tmp.path() / "broken";
  writeFile(broken / "gust.json", R"({"name": "broken", "functions": {"hi": {"routes": ["/hi"]}}})");
  writeFile(broken / "hi.cpp", "#include <gust/gust.hpp>\nint main() { return undeclared_thing; }\n");
  CommandResult failed = runGust({"build", broken.string()}, tmp.path());
  CHECK(failed.status == 1);
  CHECK(failed.err.find("undeclared_thing") != std::string::npos);
  CHECK(failed.err.find("gust build: the build failed") != std::string::npos);
  CHECK_FALSE(fs::exists(broken / "build" / "broken.so"));
}
