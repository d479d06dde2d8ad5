// What an operator sees of a real host: /metrics read by the reference Prometheus parser,
// trace context on HTTP answers, worker output in the log stream and its long poll, JSON
// log lines, and spans posted to an OTLP receiver.
#include <doctest/doctest.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/integration/harness.h"
#include "tests/support/server_thread.h"

using namespace gust::test;

namespace {

const char* kManifest = R"({
  "name": "fixtures",
  "timeout": "2s",
  "functions": {
    "echo": { "routes": [{ "path": "/echo/{id}", "methods": ["GET", "POST"] }] },
    "segv": { "routes": ["/segv"] },
    "say":  { "routes": ["/say/{word}"] }
  }
})";

struct Fixture {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "fixtures", kManifest, env("GUST_FIXTURE_MISBEHAVE"));
};

httplib::Headers adminAuth(Host& host) { return {{"Authorization", "Bearer " + host.adminToken()}}; }

// The exposition as read by Debian's python3-prometheus-client: "name{k=v,...}" -> value,
// labels in name order. Fails the test when the parser refuses the text.
std::map<std::string, double> parseMetrics(const std::string& text, const fs::path& dir) {
  writeFile(dir / "metrics.txt", text);
  writeFile(dir / "parse.py", R"PY(
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(open(sys.argv[1], encoding="utf-8").read()):
    assert family.type in ("counter", "gauge", "histogram"), family.name
    for s in family.samples:
        labels = ",".join(k + "=" + v for k, v in sorted(s.labels.items()))
        out[s.name + "{" + labels + "}"] = s.value
print(json.dumps(out))
)PY");
  CommandResult parsed = Process({"/usr/bin/python3", (dir / "parse.py").string(), (dir / "metrics.txt").string()},
                                 dir / "parse.stderr")
                             .finish(std::chrono::seconds(60));
  REQUIRE_MESSAGE(parsed.status == 0, parsed.out << parsed.err);
  auto j = nlohmann::json::parse(parsed.out);
  std::map<std::string, double> values;
  for (auto& [k, v] : j.items()) values[k] = v.get<double>();
  return values;
}

double valueOf(const std::map<std::string, double>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

std::string scrape(Host& host) {
  httplib::Client admin = host.adminClient();
  auto r = admin.Get("/metrics", adminAuth(host));
  REQUIRE(r);
  REQUIRE(r->status == 200);
  CHECK(r->get_header_value("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  return r->body;
}

bool isLowerHex(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// "00-<trace>-<span>-<flags>" split into trace and span; empty when malformed.
std::pair<std::string, std::string> traceAndSpan(const std::string& traceparent) {
  if (traceparent.size() != 55 || traceparent.substr(0, 3) != "00-" || traceparent[35] != '-' ||
      traceparent[52] != '-') {
    return {};
  }
  std::string trace = traceparent.substr(3, 32), span = traceparent.substr(36, 16);
  if (!isLowerHex(trace) || !isLowerHex(span) || trace == std::string(32, '0') || span == std::string(16, '0')) {
    return {};
  }
  return {trace, span};
}

}  // namespace

TEST_CASE("/metrics counts invocations by outcome exactly, and the reference parser reads it") {
  Fixture f;
  Host host({f.app}, f.tmp.path());
  httplib::Client admin = host.adminClient();
  CHECK(admin.Get("/metrics")->status == 401);  // the token is needed like on every admin route

  httplib::Client client = localClient(host.port());
  client.set_keep_alive(true);
  REQUIRE(client.Get("/echo/warmup")->status == 200);
  auto before = parseMetrics(scrape(host), f.tmp.path());
  for (int i = 0; i < 3; ++i) REQUIRE(client.Get("/echo/" + std::to_string(i))->status == 200);
  REQUIRE(client.Get("/segv")->status == 502);
  REQUIRE(client.Get("/no/such/route")->status == 404);
  auto after = parseMetrics(scrape(host), f.tmp.path());

  auto delta = [&](const std::string& key) { return valueOf(after, key) - valueOf(before, key); };
  CHECK(delta("gust_invocations_total{app=fixtures,function=echo,outcome=ok,trigger=http}") == 3);
  CHECK(delta("gust_invocations_total{app=fixtures,function=segv,outcome=crashed,trigger=http}") == 1);
  CHECK(delta("gust_invocation_duration_seconds_count{app=fixtures,function=echo,trigger=http}") == 3);
  CHECK(delta("gust_invocation_duration_seconds_count{app=fixtures,function=segv,trigger=http}") == 1);
  CHECK(delta("gust_http_requests_total{code=2xx}") == 3);
  CHECK(delta("gust_http_requests_total{code=5xx}") == 1);
  CHECK(delta("gust_http_requests_total{code=4xx}") == 1);
  CHECK(valueOf(after, "gust_cold_starts_total{app=fixtures}") >= 1);
  CHECK(valueOf(after, "gust_cold_start_duration_seconds_count{app=fixtures}") ==
        valueOf(after, "gust_cold_starts_total{app=fixtures}"));
  CHECK(after.count("gust_instances{app=fixtures,state=idle}") == 1);
  CHECK(after.count("gust_pending_invocations{app=fixtures}") == 1);
  CHECK(valueOf(after, "gust_http_connections{}") >= 1);  // the client's keep-alive connection
  CHECK(valueOf(after, "process_resident_memory_bytes{}") > 1e6);
  // The loop ran callbacks for these requests, so some iteration was busy for a moment.
  CHECK(valueOf(after, "gust_event_loop_busy_max_seconds{}") > 0);
  CHECK(valueOf(after, "gust_event_loop_iteration_busy_seconds_count{}") > 0);
  CHECK(valueOf(after, "process_start_time_seconds{}") > 1.6e9);
}

TEST_CASE("an HTTP answer carries the invocation's traceparent: a child of the caller's, or a new root") {
  Fixture f;
  Host host({f.app}, f.tmp.path());
  httplib::Client client = localClient(host.port());
  const std::string caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  const std::string caller_span = "00f067aa0ba902b7";

  auto r = client.Get("/echo/1", {{"traceparent", "00-" + caller_trace + "-" + caller_span + "-01"}});
  REQUIRE(r);
  auto [trace, span] = traceAndSpan(r->get_header_value("traceparent"));
  CHECK(trace == caller_trace);
  CHECK(isLowerHex(span));
  CHECK(span != caller_span);
  CHECK(r->get_header_value("traceparent").substr(52) == "-01");
  // The function saw its own span, the one the answer names.
  CHECK(r->get_header_value("X-Traceparent") == r->get_header_value("traceparent"));

  auto root = client.Get("/echo/2");
  REQUIRE(root);
  auto [root_trace, root_span] = traceAndSpan(root->get_header_value("traceparent"));
  CHECK(root_trace.size() == 32);
  CHECK(root_span.size() == 16);
  CHECK(root_trace != caller_trace);
  CHECK(root->get_header_value("X-Traceparent") == root->get_header_value("traceparent"));

  // An invalid one (uppercase hex) is treated as absent.
  auto invalid = client.Get("/echo/3", {{"traceparent", "00-" + std::string(32, 'A') + "-" + caller_span + "-01"}});
  REQUIRE(invalid);
  auto [new_trace, new_span] = traceAndSpan(invalid->get_header_value("traceparent"));
  CHECK(new_trace.size() == 32);
  CHECK(new_trace != std::string(32, 'a'));

  // Failures carry it too.
  auto crashed = client.Get("/segv", {{"traceparent", "00-" + caller_trace + "-" + caller_span + "-00"}});
  REQUIRE(crashed);
  CHECK(crashed->status == 502);
  CHECK(traceAndSpan(crashed->get_header_value("traceparent")).first == caller_trace);
}

TEST_CASE("a function's output reaches the app's log stream with its invocation, and a long poll gets it") {
  Fixture f;
  Host host({f.app}, f.tmp.path());
  httplib::Client client = localClient(host.port());
  httplib::Client admin = host.adminClient();
  auto auth = adminAuth(host);

  auto r = client.Get("/say/marmalade");
  REQUIRE(r);
  std::string id = r->get_header_value("X-Gust-Invocation-Id");
  std::string trace = traceAndSpan(r->get_header_value("traceparent")).first;
  waitFor(
      "the app's log stream to show \"said marmalade\"",
      [&] {
        auto logs = admin.Get("/v1/apps/fixtures/logs", auth);
        return logs && logs->body.find("said marmalade") != std::string::npos;
      },
      std::chrono::seconds(5), host);
  auto logs = admin.Get("/v1/apps/fixtures/logs", auth);
  REQUIRE(logs->status == 200);
  auto body = nlohmann::json::parse(logs->body);
  REQUIRE(body["lines"].size() >= 1);
  nlohmann::json said;
  for (const auto& line : body["lines"]) {
    if (line["text"].get<std::string>().find("said marmalade") != std::string::npos) said = line;
  }
  REQUIRE(said.is_object());
  CHECK(said["invocation_id"] == id);
  CHECK(said["trace_id"] == trace);
  CHECK(said["app"] == "fixtures");
  CHECK(said["function"] == "say");
  CHECK(said["stream"] == "stdout");
  CHECK(said["level"] == "info");
  CHECK(said["text"] == "said marmalade by " + id);
  uint64_t next = body["next"].get<uint64_t>();
  CHECK(next == said["seq"].get<uint64_t>());

  // Nothing new: a poll with wait holds, then answers empty.
  auto t0 = std::chrono::steady_clock::now();
  auto empty = admin.Get("/v1/apps/fixtures/logs?after=" + std::to_string(next) + "&wait=300", auth);
  REQUIRE(empty);
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(250));
  CHECK(nlohmann::json::parse(empty->body)["lines"].empty());
  CHECK(nlohmann::json::parse(empty->body)["next"] == next);

  // A poll started before the request returns the line when it arrives.
  auto poll = std::async(std::launch::async, [&] {
    httplib::Client follower = host.adminClient();
    follower.set_read_timeout(std::chrono::seconds(20));
    return follower.Get("/v1/apps/fixtures/logs?after=" + std::to_string(next) + "&wait=15000", auth);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(poll.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);  // still held
  auto second = client.Get("/say/quince");
  REQUIRE(second);
  std::string second_id = second->get_header_value("X-Gust-Invocation-Id");
  REQUIRE(poll.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  auto polled = poll.get();
  REQUIRE(polled);
  auto lines = nlohmann::json::parse(polled->body)["lines"];
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["invocation_id"] == second_id);
  CHECK(lines[0]["text"] == "said quince by " + second_id);
  CHECK(lines[0]["seq"].get<uint64_t>() == next + 1);

  // A crash is in the stream too, attributed to its invocation.
  auto crashed = client.Get("/segv");
  REQUIRE(crashed);
  std::string crash_id = crashed->get_header_value("X-Gust-Invocation-Id");
  auto after_crash = nlohmann::json::parse(admin.Get("/v1/apps/fixtures/logs?after=" + std::to_string(next + 1), auth)->body);
  bool found = false;
  for (const auto& line : after_crash["lines"]) {
    found = found || (line["invocation_id"] == crash_id && line["level"] == "warning");
  }
  CHECK(found);

  CHECK(admin.Get("/v1/apps/nope/logs", auth)->status == 404);
  CHECK(admin.Get("/v1/apps/fixtures/logs?wait=40000", auth)->status == 400);
  CHECK(admin.Get("/v1/apps/fixtures/logs?limit=x", auth)->status == 400);
}

TEST_CASE("with --log-format json every host log line is JSON, and invocation lines carry their ids") {
  Fixture f;
  Host host({f.app}, f.tmp.path(), {"--log-format", "json", "--log-level", "debug"});
  httplib::Client client = localClient(host.port());
  auto r = client.Get("/say/fig");
  REQUIRE(r);
  std::string id = r->get_header_value("X-Gust-Invocation-Id");
  std::string trace = traceAndSpan(r->get_header_value("traceparent")).first;
  REQUIRE(client.Get("/segv")->status == 502);
  host.process().signal(SIGTERM);
  REQUIRE(host.process().wait().status == 0);

  std::istringstream in(host.process().stderrText());
  std::string line;
  size_t count = 0;
  bool said = false, crash = false;
  while (std::getline(in, line)) {
    ++count;
    auto j = nlohmann::json::parse(line, nullptr, false);
    REQUIRE_MESSAGE(j.is_object(), "not a JSON line: " << line);
    CHECK(j.contains("ts"));
    CHECK(j.contains("level"));
    if (j.value("msg", "") == "stdout: said fig by " + id) {
      said = true;
      CHECK(j["invocation_id"] == id);
      CHECK(j["app"] == "fixtures");
      CHECK(j["function"] == "say");
      CHECK(j["trace_id"] == trace);
    }
    if (j.value("function", "") == "segv" && j.value("msg", "").find("crashed") == 0) {
      crash = true;
      CHECK(j.contains("invocation_id"));
    }
  }
  CHECK(count > 2);
  CHECK(said);
  CHECK(crash);
}

TEST_CASE("with an OTLP endpoint each invocation is exported as a span; an unreachable one slows nothing") {
  std::mutex mutex;
  std::vector<nlohmann::json> bodies;
  ServerThread receiver;
  receiver.server().Post("/v1/traces", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mutex);
    bodies.push_back(nlohmann::json::parse(req.body, nullptr, false));
    res.status = 200;
    res.set_content("{}", "application/json");
  });
  receiver.start();
  int port = receiver.port();

  {
    Fixture f;
    Host host({f.app}, f.tmp.path(), {"--otlp-endpoint", "http://127.0.0.1:" + std::to_string(port)});
    httplib::Client client = localClient(host.port());
    const std::string caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    auto r = client.Get("/echo/1", {{"traceparent", "00-" + caller_trace + "-00f067aa0ba902b7-01"}});
    REQUIRE(r);
    std::string id = r->get_header_value("X-Gust-Invocation-Id");
    std::string span_id = traceAndSpan(r->get_header_value("traceparent")).second;

    nlohmann::json span;
    waitFor(
        "the span of invocation " + id + " at the OTLP receiver",
        [&] {
          std::lock_guard lock(mutex);
          for (const auto& body : bodies) {
            if (!body.is_object()) continue;
            for (const auto& rs : body["resourceSpans"]) {
              for (const auto& ss : rs["scopeSpans"]) {
                for (const auto& s : ss["spans"]) {
                  if (s["spanId"] == span_id) span = s;
                }
              }
            }
          }
          return span.is_object();
        },
        std::chrono::seconds(10), host);
    CHECK(span["traceId"] == caller_trace);
    CHECK(span["parentSpanId"] == "00f067aa0ba902b7");
    CHECK(span["name"] == "fixtures/echo");
    CHECK(span["kind"] == 2);  // SERVER
    std::map<std::string, nlohmann::json> attributes;
    for (const auto& a : span["attributes"]) attributes[a["key"]] = a["value"];
    CHECK(attributes["gust.invocation_id"]["stringValue"] == id);
    CHECK(attributes["gust.app"]["stringValue"] == "fixtures");
    CHECK(attributes["gust.function"]["stringValue"] == "echo");
    CHECK(attributes["gust.outcome"]["stringValue"] == "ok");
    CHECK(attributes.count("gust.cold_start") == 1);
  }
  receiver.stop();

  // A closed port: the exporter's posts fail on its own thread; requests do not wait on it.
  int closed_port = port;  // the receiver above is gone
  Fixture f;
  Host host({f.app}, f.tmp.path(), {"--otlp-endpoint", "http://127.0.0.1:" + std::to_string(closed_port)});
  httplib::Client client = localClient(host.port());
  REQUIRE(client.Get("/echo/warm")->status == 200);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i) REQUIRE(client.Get("/echo/" + std::to_string(i))->status == 200);
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took < std::chrono::seconds(5));
}

TEST_CASE("a timer's runs, lateness and invocations show in /metrics, and its output in the log stream") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "ticks",
                         R"({"name": "ticks", "functions": {"printevent": {"timer": {"schedule": "* * * * * *"}}}})",
                         env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  std::map<std::string, double> m;
  waitFor(
      "/metrics to count two timer runs",
      [&] {
        m = parseMetrics(scrape(host), tmp.path());
        return valueOf(m, "gust_invocations_total{app=ticks,function=printevent,outcome=ok,trigger=timer}") >= 2;
      },
      std::chrono::seconds(10), host);
  CHECK(valueOf(m, "gust_timer_runs_total{app=ticks,function=printevent}") >= 2);
  CHECK(m.count("gust_timer_skips_total{app=ticks,function=printevent,reason=overlap}") == 1);
  CHECK(valueOf(m, "gust_timer_lateness_seconds_count{app=ticks,function=printevent}") >= 2);

  // A timer run has no caller: its lines carry the trace id of a new root.
  httplib::Client admin = host.adminClient();
  auto logs = admin.Get("/v1/apps/ticks/logs", adminAuth(host));
  REQUIRE(logs);
  auto lines = nlohmann::json::parse(logs->body)["lines"];
  REQUIRE(!lines.empty());
  CHECK(lines[0]["function"] == "printevent");
  CHECK(lines[0]["trace_id"].get<std::string>().size() == 32);
  CHECK(lines[0]["invocation_id"].get<std::string>().size() > 0);
}

TEST_CASE("one trace id runs from an HTTP request through its queue message to the consumer, in records and metrics") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "chain",
                         R"({"name": "chain", "publishes": ["out"], "functions": {
                               "relay": {"routes": [{"path": "/relay", "methods": ["POST"]}]},
                               "batch": {"queue": {"name": "relayed", "batch_size": 1, "max_attempts": 2,
                                                   "backoff": {"base": "100ms", "cap": "100ms"}}}}})",
                         env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  auto auth = adminAuth(host);
  httplib::Client admin = host.adminClient();
  httplib::Client client = localClient(host.port());
  const std::string trace = "0af7651916cd43dd8448eb211c80319c";
  const std::string caller = "00-" + trace + "-b7ad6b7169203331-01";

  // "ok" is acked; "retry" asks again and is dead-lettered on its second attempt.
  for (const char* body : {"ok", "retry"}) {
    auto r = client.Post("/relay", {{"traceparent", caller}}, body, "text/plain");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    CHECK(traceAndSpan(r->get_header_value("traceparent")).first == trace);
  }
  auto get = [&](const std::string& path) {
    auto r = admin.Get(path, auth);
    REQUIRE(r);
    INFO(path << " -> " << r->body);
    REQUIRE(r->status == 200);
    return nlohmann::json::parse(r->body);
  };
  // For each message the consumer publishes to "out" with its own ctx.traceparent(): the
  // HTTP caller's trace.
  nlohmann::json out;
  waitFor(
      "two messages on out and one on relayed.dead",
      [&] {
        out = get("/v1/queues/out/messages")["messages"];
        return out.size() == 2 && get("/v1/queues/relayed.dead/messages")["messages"].size() == 1;
      },
      std::chrono::seconds(15), host);
  for (const auto& m : out) CHECK(traceAndSpan(m["headers"]["traceparent"].get<std::string>()).first == trace);

  // Every record of the chain carries the trace: two HTTP calls, three queue invocations.
  nlohmann::json records;
  waitFor(
      "five invocation records of the chain",
      [&] {
        records = get("/v1/invocations?app=chain")["invocations"];
        return records.size() == 5;
      },
      std::chrono::seconds(10), host);
  int http = 0, queue = 0, retried = 0;
  for (const auto& r : records) {
    CHECK(r["trace_id"] == trace);
    http += r["trigger"] == "http";
    queue += r["trigger"] == "queue";
    retried += r["trigger"] == "queue" && r["attempt"] == 2;
  }
  CHECK(http == 2);
  CHECK(queue == 3);
  CHECK(retried == 1);

  auto m = parseMetrics(scrape(host), tmp.path());
  CHECK(valueOf(m, "gust_invocations_total{app=chain,function=relay,outcome=ok,trigger=http}") == 2);
  CHECK(valueOf(m, "gust_invocations_total{app=chain,function=batch,outcome=ok,trigger=queue}") == 3);
  CHECK(valueOf(m, "gust_queue_retries_total{queue=relayed}") == 1);
  CHECK(valueOf(m, "gust_queue_dead_letters_total{queue=relayed}") == 1);
  CHECK(valueOf(m, "gust_queue_messages{queue=relayed,state=dead}") == 1);
  CHECK(valueOf(m, "gust_queue_messages{queue=relayed,state=ready}") == 0);
  CHECK(valueOf(m, "gust_queue_messages{queue=out,state=ready}") == 2);
  CHECK(m.count("gust_invocation_records_dropped_total{}") == 1);
  CHECK(valueOf(m, "gust_invocation_records_dropped_total{}") == 0);
  // A function is shown only under the triggers that invoked it.
  CHECK(m.count("gust_invocation_duration_seconds_count{app=chain,function=relay,trigger=queue}") == 0);
}

TEST_CASE("followers that hang up cannot lock others out: a new poll takes the oldest one's place") {
  Fixture f;
  Host host({f.app}, f.tmp.path());
  auto auth = adminAuth(host);
  auto poll = [&](std::chrono::milliseconds read_timeout, int wait_ms) {
    httplib::Client follower = host.adminClient();
    follower.set_read_timeout(read_timeout);
    return follower.Get("/v1/apps/fixtures/logs?wait=" + std::to_string(wait_ms), auth);
  };
  // 80 followers that give up after 2 s of a 20 s wait: more than the 64 an app holds.
  std::vector<std::future<httplib::Result>> gone;
  for (int i = 0; i < 80; ++i) {
    gone.push_back(std::async(std::launch::async, poll, std::chrono::milliseconds(2000), 20000));
  }
  size_t answered = 0;
  for (auto& g : gone) {
    auto r = g.get();
    if (r) {
      CHECK(r->status == 200);  // made room for a newer one: answered with no lines
      CHECK(nlohmann::json::parse(r->body)["lines"].empty());
      ++answered;
    }
  }
  CHECK(answered >= 16);
  // 64 places are still held by followers that hung up; a new one is taken all the same.
  auto r = poll(std::chrono::seconds(5), 100);
  REQUIRE(r);
  CHECK(r->status == 200);
}
