// Streams end to end (README "Streams"): a real host, an app whose manifest serves the topic
// its function publishes to as a stream, and clients nobody here wrote (npm's eventsource
// and ws, tests/js) reading it; curl shows the wire format. Events come in order with their
// seq as id, a client resumes after the last id it saw with exactly what it missed, and a
// redeploy keeps connected clients.
#include <doctest/doctest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "tests/integration/harness.h"

using namespace gust::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// `relay` publishes its request body to "relayed", `segv` crashes its worker; the stream /relayed/events serves that
// topic to anyone, filtered by subject on request; /private/events needs a function key.
constexpr const char* kShop = R"({
  "name": "shop",
  "topics": ["relayed"],
  "functions": {"relay": {"routes": [{"path": "/relay", "methods": ["POST"]}]}, "segv": {"routes": ["/segv"]}},
  "streams": [
    {"path": "/relayed/events", "topic": "relayed", "filter": ["subject"]},
    {"path": "/private/events", "topic": "relayed", "auth": "key"}
  ]
})";

struct Fixture {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "shop", kShop, env("GUST_FIXTURE_MISBEHAVE"));
  Host host{{app}, tmp.path()};

  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(host.port()) + path; }

  // Publishes one event to "relayed" through the admin API (as `gust topic publish` does).
  void publish(const std::string& data, const std::string& type = "order.placed", const std::string& subject = "") {
    httplib::Headers headers = {{"Authorization", "Bearer " + host.adminToken()}, {"ce-type", type}};
    if (!subject.empty()) headers.emplace("ce-subject", subject);
    auto r = host.adminClient().Post("/v1/topics/relayed/events", headers, data, "text/plain");
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 201);
  }

  std::unique_ptr<Process> node(const std::string& script, std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/env", "node", env("GUST_SOURCE_ROOT") + "/tests/js/" + script};
    argv.insert(argv.end(), args.begin(), args.end());
    return std::make_unique<Process>(argv, tmp.path() / (script + ".stderr"));
  }
  std::unique_ptr<Process> sse(std::vector<std::string> args) { return node("sse_stream.mjs", std::move(args)); }

  // The next event line of `client`, parsed.
  static json nextEvent(Process& client) { return json::parse(client.waitForLine("\"id\"")); }
};

}  // namespace

TEST_CASE("an SSE client sees each event in order with its seq as id, and resumes with exactly what it missed") {
  Fixture f;
  auto first = f.sse({f.url("/relayed/events"), "2", "order.placed,relayed"});
  first->waitForLine("\"open\"");
  f.publish("one");
  // A function publishes too: its event has the topic as its type.
  auto relayed = localClient(f.host.port()).Post("/relay", "two\nlines", "text/plain");
  REQUIRE(relayed);
  REQUIRE(relayed->status == 200);
  json e1 = Fixture::nextEvent(*first);
  json e2 = Fixture::nextEvent(*first);
  CHECK(e1 == json{{"id", "1"}, {"type", "order.placed"}, {"data", "one"}});
  CHECK(e2 == json{{"id", "2"}, {"type", "relayed"}, {"data", "two\nlines"}});
  CHECK(first->wait().status == 0);  // the client is gone

  for (const char* missed : {"three", "four", "five"}) f.publish(missed);
  auto resumed = f.sse({f.url("/relayed/events"), "4", "order.placed", "2"});
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) got.push_back(Fixture::nextEvent(*resumed)["id"]);
  CHECK(got == std::vector<std::string>{"3", "4", "5"});
  // Then live, with nothing repeated in between.
  f.publish("six");
  CHECK(Fixture::nextEvent(*resumed) == json{{"id", "6"}, {"type", "order.placed"}, {"data", "six"}});
  CHECK(resumed->wait().status == 0);
}

TEST_CASE("curl sees the SSE wire format: retry hint, id, event and one data line per line") {
  Fixture f;
  f.publish("before");  // seq 1, missed by a client that does not resume
  Process curl({"/usr/bin/curl", "-sN", "-H", "Accept: text/event-stream", f.url("/relayed/events?last_event_id=1")},
               f.tmp.path() / "curl.stderr");
  curl.waitForLine("retry: 3000");
  f.publish("a\nb");
  CHECK(curl.waitForLine("id: ") == "id: 2");
  CHECK(curl.waitForLine("event: ") == "event: order.placed");
  CHECK(curl.waitForLine("data: ") == "data: a");
  CHECK(curl.waitForLine("data: ") == "data: b");

  // A client that asks for something else than an event stream: told how to read one.
  auto plain = localClient(f.host.port()).Get("/relayed/events", {{"Accept", "application/json"}});
  REQUIRE(plain);
  CHECK(plain->status == 406);
  // One that sends no Accept, as `curl -N URL` does not, gets the stream (the retained events
  // from the start, here).
  Process bare({"/usr/bin/curl", "-sN", "-H", "Accept:", f.url("/relayed/events?last_event_id=0")},
               f.tmp.path() / "bare.stderr");
  CHECK(bare.waitForLine("id: ") == "id: 1");
  auto head = localClient(f.host.port()).Head("/relayed/events", {{"Accept", "text/event-stream"}});
  REQUIRE(head);
  CHECK(head->status == 405);
}

TEST_CASE("a backlog larger than every buffer on the way reaches a client that reads late, whole and in order") {
  Fixture f;
  // 128 events of 64 KiB: 8 MiB retained, more than the kernel's socket buffers (a few MiB)
  // and the 1 MiB the host lets a client fall behind live.
  const std::string big(64 * 1024, 'x');
  for (int i = 0; i < 128; ++i) f.publish(big);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(f.host.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const std::string request =
      "GET /relayed/events?last_event_id=0 HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
  REQUIRE(::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
  // Reads nothing for a while: everything on the way fills up, and the host must wait.
  std::this_thread::sleep_for(1500ms);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string seen;
  int ids = 0;
  size_t scanned = 0;
  char buf[65536];
  while (ids < 128) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    seen.append(buf, static_cast<size_t>(n));
    for (size_t at; (at = seen.find("\nid: ", scanned)) != std::string::npos;) {
      ++ids;
      const size_t end_of_line = seen.find('\n', at + 1);
      if (end_of_line == std::string::npos) break;
      CHECK(seen.substr(at + 5, end_of_line - at - 5) == std::to_string(ids));
      scanned = end_of_line;
    }
    if (seen.size() > (1u << 20)) {  // keep what is left to scan
      seen.erase(0, scanned);
      scanned = 0;
    }
  }
  ::close(fd);
  CHECK(ids == 128);
}

TEST_CASE("a subject filter passes only equal subjects; an attribute the stream does not filter on is refused") {
  Fixture f;
  auto client = f.sse({f.url("/relayed/events?subject=order-42"), "2", "order.placed"});
  client->waitForLine("\"open\"");
  f.publish("other", "order.placed", "order-7");
  f.publish("mine", "order.placed", "order-42");
  f.publish("other again", "order.placed", "order-8");
  f.publish("mine again", "order.placed", "order-42");
  CHECK(Fixture::nextEvent(*client)["data"] == "mine");
  CHECK(Fixture::nextEvent(*client)["data"] == "mine again");

  auto refused = localClient(f.host.port()).Get("/relayed/events?type=x", {{"Accept", "text/event-stream"}});
  REQUIRE(refused);
  CHECK(refused->status == 400);
}

TEST_CASE("a keyed stream refuses a client without the app's key and serves one with it") {
  Fixture f;
  auto refused = f.sse({f.url("/private/events"), "1", "order.placed"});
  CHECK(json::parse(refused->waitForLine("\"error\""))["code"] == 401);
  CommandResult created = runGust({"keys", "create", "shop", "--admin", f.host.adminUrl(), "--data-dir",
                                   f.host.dataDir().string()},
                                  f.tmp.path());
  REQUIRE_MESSAGE(created.status == 0, created.err);
  std::string key = created.out.substr(0, created.out.find('\n'));
  auto keyed = f.sse({f.url("/private/events"), "1", "order.placed", "-", key});
  keyed->waitForLine("\"open\"");
  f.publish("secret");
  CHECK(Fixture::nextEvent(*keyed)["data"] == "secret");
  // The metrics count the stream's clients and what they were sent.
  auto metrics = f.host.adminClient().Get("/metrics", {{"Authorization", "Bearer " + f.host.adminToken()}});
  REQUIRE(metrics);
  CHECK(metrics->body.find("\ngust_stream_events_sent_total 1\n") != std::string::npos);
  CHECK(metrics->body.find("\ngust_stream_clients ") != std::string::npos);
}

TEST_CASE("a WebSocket client gets each event as JSON, resumes with ?after=, and keeps its stream across a redeploy") {
  Fixture f;
  f.publish(R"({"total": 12})", "order.placed", "order-1");
  auto ws = f.node("ws_stream.mjs", {"ws://127.0.0.1:" + std::to_string(f.host.port()) + "/relayed/events?after=0", "3"});
  ws->waitForLine("\"open\"");
  json first = json::parse(ws->waitForLine("\"seq\""));
  CHECK(first["seq"] == 1);
  CHECK(first["type"] == "order.placed");
  CHECK(first["subject"] == "order-1");
  CHECK(first["data"] == json{{"total", 12}});  // a JSON body as JSON
  CHECK(first["time"].get<std::string>().find('T') != std::string::npos);

  // A redeploy of the same app keeps the connected clients and the stream's log.
  auto sse = f.sse({f.url("/relayed/events"), "2", "order.placed"});
  sse->waitForLine("\"open\"");
  httplib::MultipartFormDataItems items = {
      {"manifest", kShop, "gust.json", "application/json"},
      {"module", readFile(env("GUST_FIXTURE_MISBEHAVE")), "shop.so", "application/octet-stream"},
  };
  auto deployed = f.host.adminClient(60s).Post("/v1/apps/shop/versions",
                                               httplib::Headers{{"Authorization", "Bearer " + f.host.adminToken()}},
                                               items);
  REQUIRE(deployed);
  INFO(deployed->body);
  REQUIRE(deployed->status < 300);
  f.publish("plain text");
  f.publish("after the deploy");
  CHECK(json::parse(ws->waitForLine("\"seq\""))["data"] == "plain text");
  CHECK(json::parse(ws->waitForLine("\"seq\""))["seq"] == 3);
  CHECK(Fixture::nextEvent(*sse)["id"] == "2");
  CHECK(Fixture::nextEvent(*sse)["id"] == "3");
}

TEST_CASE("a worker crash and a redeploy lose nothing for a resuming SSE client; removing the app ends its streams") {
  Fixture f;
  auto client = f.sse({f.url("/relayed/events"), "1", "relayed"});
  client->waitForLine("\"open\"");
  auto http = localClient(f.host.port());
  REQUIRE(http.Post("/relay", "one", "text/plain")->status == 200);
  CHECK(Fixture::nextEvent(*client)["id"] == "1");
  CHECK(client->wait().status == 0);

  // While it is away: a worker crashes, the app is redeployed, and the function publishes on.
  Process curl({"/usr/bin/curl", "-sN", "-H", "Accept: text/event-stream", f.url("/relayed/events")},
               f.tmp.path() / "curl.stderr");
  curl.waitForLine("retry: ");
  auto crashed = http.Get("/segv");
  REQUIRE(crashed);
  CHECK(crashed->status == 502);
  REQUIRE(http.Post("/relay", "two", "text/plain")->status == 200);
  httplib::MultipartFormDataItems items = {
      {"manifest", kShop, "gust.json", "application/json"},
      {"module", readFile(env("GUST_FIXTURE_MISBEHAVE")), "shop.so", "application/octet-stream"},
  };
  auto deployed = f.host.adminClient(60s).Post(
      "/v1/apps/shop/versions", httplib::Headers{{"Authorization", "Bearer " + f.host.adminToken()}}, items);
  REQUIRE(deployed);
  REQUIRE(deployed->status < 300);
  REQUIRE(http.Post("/relay", "three", "text/plain")->status == 200);

  auto resumed = f.sse({f.url("/relayed/events"), "2", "relayed", "1"});
  CHECK(Fixture::nextEvent(*resumed) == json{{"id", "2"}, {"type", "relayed"}, {"data", "two"}});
  CHECK(Fixture::nextEvent(*resumed) == json{{"id", "3"}, {"type", "relayed"}, {"data", "three"}});
  CHECK(curl.waitForLine("id: ") == "id: 2");  // connected through all of it
  CHECK(curl.waitForLine("id: ") == "id: 3");

  auto removed = f.host.adminClient().Delete("/v1/apps/shop", {{"Authorization", "Bearer " + f.host.adminToken()}});
  REQUIRE(removed);
  CHECK(removed->status < 300);
  CHECK(curl.finish(20s).status == 0);  // the stream ended: curl saw the end of the body
}

TEST_CASE("a client that does not read is disconnected past its bound, and resumes from the log") {
  Fixture f;
  // A client that sends its request and then reads nothing (any SSE client would read).
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(f.host.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int small = 4096;  // a small receive window, so that the host's bound is reached soon
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const std::string request = "GET /relayed/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
  REQUIRE(::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size()));
  // Its head arrives: the stream is open (its first bytes are read, the rest are not).
  char head[64];
  REQUIRE(::recv(fd, head, sizeof head, 0) > 0);

  const std::string body(256 * 1024, 'x');
  constexpr int kEvents = 32;  // 8 MiB, past the 1 MiB bound and what the kernel buffers
  for (int i = 0; i < kEvents; ++i) f.publish(body);

  // Now it reads: far less than was published, then the end of the stream.
  size_t received = 0;
  char buf[65536];
  waitFor("the host to close the stream of a client that did not read", [&] {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) received += static_cast<size_t>(n);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);  // the end, or a reset
  }, 30s, f.host);
  ::close(fd);
  CHECK(received < kEvents * body.size());

  // It comes back with the last id it saw, and gets what it missed from the log.
  auto resumed = f.sse({f.url("/relayed/events"), "1", "order.placed", std::to_string(kEvents - 1)});
  json last = Fixture::nextEvent(*resumed);
  CHECK(last["id"] == std::to_string(kEvents));
  CHECK(last["data"].get<std::string>().size() == body.size());
}
