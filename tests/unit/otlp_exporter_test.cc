#include "runtime/observe/otlp_exporter.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/server_thread.h"
#include "tests/support/wait_for.h"

using namespace gust;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// A real OTLP/HTTP collector stand-in: an httplib server on 127.0.0.1, port 0, in its own
// thread, recording every request. It can answer late (held until released or destroyed),
// with another status, or with another body.
class Receiver {
 public:
  struct Options {
    std::string path = "/v1/traces";
    std::chrono::milliseconds delay{0};
    int status = 200;
    std::string reply = "{}";
  };
  struct Request {
    std::string path;
    std::string content_type;
    std::string body;
  };

  Receiver() : Receiver(Options{}) {}
  explicit Receiver(Options options) : options_(std::move(options)) {
    http_.server().Post(options_.path, [this](const httplib::Request& req, httplib::Response& res) {
      entered_.fetch_add(1);
      {
        std::unique_lock<std::mutex> lock(mutex_);
        release_.wait_for(lock, options_.delay, [this] { return released_; });
        requests_.push_back({req.path, req.get_header_value("Content-Type"), req.body});
      }
      changed_.notify_all();
      res.status = options_.status;
      res.set_content(options_.reply, "application/json");
    });
    http_.start();
  }
  ~Receiver() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      released_ = true;
    }
    release_.notify_all();
    http_.stop();
  }

  std::string url() const { return http_.url(); }
  int entered() const { return entered_.load(); }

  // Waits until `count` requests have been answered; returns them all.
  std::vector<Request> waitFor(size_t count, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return requests_.size() >= count; });
    return requests_;
  }

  size_t spansReceived() {
    size_t total = 0;
    for (const auto& r : waitFor(0, 0ms)) {
      auto body = json::parse(r.body, nullptr, false);
      if (body.is_object()) total += body["resourceSpans"][0]["scopeSpans"][0]["spans"].size();
    }
    return total;
  }

 private:
  Options options_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::condition_variable release_;
  bool released_ = false;
  std::vector<Request> requests_;
  std::atomic<int> entered_{0};
  gust::test::ServerThread http_;  // last: stopped before what its handler uses is destroyed
};

// A port on 127.0.0.1 with nothing listening: bound once to learn a free number, then closed.
int closedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TraceId traceId(uint8_t fill) {
  TraceId id{};
  id.fill(fill);
  return id;
}

SpanId spanId(uint8_t fill) {
  SpanId id{};
  id.fill(fill);
  return id;
}

Span simpleSpan(int i) {
  Span span;
  span.trace_id = traceId(0x11);
  span.span_id = spanId(static_cast<uint8_t>(i % 250 + 1));
  span.name = "span " + std::to_string(i);
  span.start = std::chrono::system_clock::time_point(1s);
  span.end = std::chrono::system_clock::time_point(2s);
  return span;
}

std::unique_ptr<OtlpExporter> startExporter(OtlpExporterOptions options) {
  auto exporter = OtlpExporter::start(std::move(options));
  REQUIRE_MESSAGE(exporter, (exporter ? "" : exporter.error().message));
  return std::move(*exporter);
}

// Every span pushed is accounted for exactly once after shutdown.
void checkEverySpanAccounted(const OtlpExporter::Stats& s, uint64_t pushed) {
  CHECK(s.spans_exported + s.spans_dropped_full + s.spans_dropped_failed == pushed);
}

}  // namespace

TEST_CASE("a batch reaches the collector as OTLP JSON with ids, times, attributes and status") {
  Receiver receiver;
  OtlpExporterOptions options;
  options.endpoint = receiver.url();
  options.service_name = "test-svc";
  options.max_batch = 2;
  options.flush_interval = 1h;  // only a full batch can send
  auto exporter = startExporter(options);
  CHECK(exporter->tracesUrl() == receiver.url() + "/v1/traces");

  SpanContext ctx;
  ctx.trace_id = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
  ctx.span_id = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
  ctx.parent_span_id = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
  ctx.tracestate = "rojo=1";
  Span child = spanFor(ctx, "GET /checkout", SpanKind::kServer);
  child.start = std::chrono::system_clock::time_point(std::chrono::nanoseconds(1'700'000'000'123'456'789));
  child.end = child.start + 2500us;
  child.attributes = {{"gust.app", std::string("shop")}, {"http.response.status_code", int64_t{200}}};
  Span root = simpleSpan(1);
  root.kind = SpanKind::kConsumer;
  root.status = SpanStatusCode::kError;
  root.status_message = "crashed: SIGSEGV \"boom\"";
  CHECK(exporter->push(std::move(child)));
  CHECK(exporter->push(std::move(root)));

  auto requests = receiver.waitFor(1);
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].path == "/v1/traces");
  CHECK(requests[0].content_type == "application/json");
  auto body = json::parse(requests[0].body, nullptr, false);
  REQUIRE(body.is_object());
  REQUIRE(body["resourceSpans"].size() == 1);
  const auto& resource_spans = body["resourceSpans"][0];
  CHECK(resource_spans["resource"]["attributes"] ==
        json::parse(R"([{"key":"service.name","value":{"stringValue":"test-svc"}}])"));
  REQUIRE(resource_spans["scopeSpans"].size() == 1);
  CHECK(resource_spans["scopeSpans"][0]["scope"]["name"] == "gust");
  const auto& spans = resource_spans["scopeSpans"][0]["spans"];
  REQUIRE(spans.size() == 2);

  CHECK(spans[0] == json::parse(R"({
    "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
    "spanId": "00f067aa0ba902b7",
    "traceState": "rojo=1",
    "parentSpanId": "0102030405060708",
    "name": "GET /checkout",
    "kind": 2,
    "startTimeUnixNano": "1700000000123456789",
    "endTimeUnixNano": "1700000000125956789",
    "attributes": [
      {"key": "gust.app", "value": {"stringValue": "shop"}},
      {"key": "http.response.status_code", "value": {"intValue": "200"}}
    ],
    "status": {"code": 0}
  })"));
  CHECK(spans[1]["traceId"] == "11111111111111111111111111111111");
  CHECK_FALSE(spans[1].contains("parentSpanId"));  // a root span has none
  CHECK_FALSE(spans[1].contains("traceState"));
  CHECK(spans[1]["kind"] == 5);
  CHECK(spans[1]["startTimeUnixNano"] == "1000000000");
  CHECK(spans[1]["status"] == json::parse(R"({"code": 2, "message": "crashed: SIGSEGV \"boom\""})"));

  exporter->shutdown(2s);
  auto s = exporter->stats();
  CHECK(s.spans_exported == 2);
  CHECK(s.batches_sent == 1);
  CHECK(s.batches_failed == 0);
  checkEverySpanAccounted(s, 2);
}

TEST_CASE("a partial batch leaves when the flush interval passes") {
  Receiver receiver;
  OtlpExporterOptions options;
  options.endpoint = receiver.url();
  options.max_batch = 100;
  options.flush_interval = 50ms;
  auto exporter = startExporter(options);
  CHECK(exporter->push(simpleSpan(1)));
  auto requests = receiver.waitFor(1);
  REQUIRE(requests.size() == 1);
  CHECK(receiver.spansReceived() == 1);
  // The receiver records the request before the exporter reads the answer and counts it.
  gust::test::waitFor("the exporter to count the span exported",
                      [&] { return exporter->stats().spans_exported != 0; }, 5s);
  CHECK(exporter->stats().spans_exported == 1);
}

TEST_CASE("a long queue leaves in batches of at most max_batch spans") {
  Receiver receiver;
  OtlpExporterOptions options;
  options.endpoint = receiver.url();
  options.max_batch = 10;
  options.flush_interval = 1h;
  auto exporter = startExporter(options);
  for (int i = 0; i < 35; ++i) REQUIRE(exporter->push(simpleSpan(i)));
  exporter->shutdown(5s);  // the last 5 go with the shutdown flush
  auto requests = receiver.waitFor(4);
  REQUIRE(requests.size() == 4);
  for (const auto& r : requests) {
    CHECK(json::parse(r.body)["resourceSpans"][0]["scopeSpans"][0]["spans"].size() <= 10);
  }
  CHECK(receiver.spansReceived() == 35);
  CHECK(exporter->stats().spans_exported == 35);
}

TEST_CASE("shutdown sends what is queued before it returns, and later pushes are dropped") {
  Receiver receiver;
  OtlpExporterOptions options;
  options.endpoint = receiver.url();
  options.max_batch = 1000;
  options.flush_interval = 1h;
  auto exporter = startExporter(options);
  for (int i = 0; i < 5; ++i) REQUIRE(exporter->push(simpleSpan(i)));
  exporter->shutdown(5s);
  CHECK(receiver.spansReceived() == 5);  // already there: no waiting
  CHECK_FALSE(exporter->push(simpleSpan(6)));
  exporter->shutdown(5s);  // twice is harmless
  auto s = exporter->stats();
  CHECK(s.spans_exported == 5);
  CHECK(s.spans_dropped_full == 1);
  checkEverySpanAccounted(s, 6);
}

TEST_CASE("an endpoint with a path prefix posts under it") {
  Receiver::Options receiver_options;
  receiver_options.path = "/otlp/v1/traces";
  Receiver receiver(receiver_options);
  OtlpExporterOptions options;
  options.endpoint = receiver.url() + "/otlp/";
  options.max_batch = 1;
  auto exporter = startExporter(options);
  CHECK(exporter->tracesUrl() == receiver.url() + "/otlp/v1/traces");
  REQUIRE(exporter->push(simpleSpan(1)));
  auto requests = receiver.waitFor(1);
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].path == "/otlp/v1/traces");
}

TEST_CASE("pushing to an unreachable collector never blocks; every span is counted as dropped") {
  OtlpExporterOptions options;
  options.endpoint = "http://127.0.0.1:" + std::to_string(closedPort());
  options.max_queue = 1000;
  options.max_batch = 100;
  options.flush_interval = 10ms;
  options.connect_timeout = 200ms;
  auto exporter = startExporter(options);
  auto begin = std::chrono::steady_clock::now();
  uint64_t refused = 0;
  for (int i = 0; i < 10000; ++i) refused += exporter->push(simpleSpan(i)) ? 0 : 1;
  auto took = std::chrono::steady_clock::now() - begin;
  MESSAGE("10000 pushes to a closed port took " << std::chrono::duration<double, std::micro>(took).count() << " us");
  CHECK(refused > 0);
  CHECK(exporter->stats().spans_dropped_full == refused);
  // The exporter keeps trying batch by batch and counts each failure.
  gust::test::waitFor("a batch to fail", [&] { return exporter->stats().batches_failed != 0; }, 5s);
  exporter->shutdown(1s);
  auto s = exporter->stats();
  CHECK(s.batches_failed > 0);
  CHECK(s.spans_exported == 0);
  CHECK(s.spans_dropped_failed > 0);
  checkEverySpanAccounted(s, 10000);
}

TEST_CASE("a collector slower than the request timeout fails the batch without holding back pushes") {
  Receiver::Options slow;
  slow.delay = 5s;  // released early when the receiver is destroyed
  Receiver receiver(slow);
  OtlpExporterOptions options;
  options.endpoint = receiver.url();
  options.max_queue = 500;
  options.max_batch = 50;
  options.flush_interval = 10ms;
  options.request_timeout = 200ms;
  auto exporter = startExporter(options);
  uint64_t refused = 0;
  for (int i = 0; i < 10000; ++i) refused += exporter->push(simpleSpan(i)) ? 0 : 1;
  CHECK(refused > 0);
  gust::test::waitFor("a batch to fail at its request timeout", [&] { return exporter->stats().batches_failed != 0; },
                      5s);
  CHECK(receiver.entered() > 0);  // the request did reach the collector; the answer was late
  exporter->shutdown(300ms);
  auto s = exporter->stats();
  CHECK(s.spans_exported == 0);
  CHECK(s.spans_dropped_full == refused);
  checkEverySpanAccounted(s, 10000);
}

TEST_CASE("shutdown cuts off a post still waiting on the collector at its deadline") {
  Receiver::Options stuck;
  stuck.delay = 20s;
  Receiver receiver(stuck);
  OtlpExporterOptions options;
  options.endpoint = receiver.url();
  options.max_batch = 1;
  options.request_timeout = 30s;  // the timeout alone would hold shutdown for this long
  auto exporter = startExporter(options);
  REQUIRE(exporter->push(simpleSpan(1)));
  gust::test::waitFor("the post to reach the collector", [&] { return receiver.entered() != 0; }, 5s);
  REQUIRE(receiver.entered() == 1);
  auto begin = std::chrono::steady_clock::now();
  exporter->shutdown(200ms);
  CHECK(std::chrono::steady_clock::now() - begin < 10s);
  auto s = exporter->stats();
  CHECK(s.batches_failed == 1);
  checkEverySpanAccounted(s, 1);
}

TEST_CASE("a collector's error status or partial rejection counts those spans as dropped") {
  SUBCASE("HTTP 500") {
    Receiver::Options failing;
    failing.status = 500;
    Receiver receiver(failing);
    OtlpExporterOptions options;
    options.endpoint = receiver.url();
    options.max_batch = 3;
    auto exporter = startExporter(options);
    for (int i = 0; i < 3; ++i) REQUIRE(exporter->push(simpleSpan(i)));
    REQUIRE(receiver.waitFor(1).size() == 1);
    exporter->shutdown(2s);
    auto s = exporter->stats();
    CHECK(s.batches_failed == 1);
    CHECK(s.spans_dropped_failed == 3);
    CHECK(s.spans_exported == 0);
  }
  SUBCASE("partial success") {
    Receiver::Options partial;
    partial.reply = R"({"partialSuccess":{"rejectedSpans":"2","errorMessage":"too old"}})";
    Receiver receiver(partial);
    OtlpExporterOptions options;
    options.endpoint = receiver.url();
    options.max_batch = 3;
    auto exporter = startExporter(options);
    for (int i = 0; i < 3; ++i) REQUIRE(exporter->push(simpleSpan(i)));
    REQUIRE(receiver.waitFor(1).size() == 1);
    exporter->shutdown(2s);
    auto s = exporter->stats();
    CHECK(s.batches_sent == 1);
    CHECK(s.spans_exported == 1);
    CHECK(s.spans_dropped_failed == 2);
  }
}

TEST_CASE("spans are bounded at push: attributes beyond the cap go and long strings are cut") {
  Receiver receiver;
  OtlpExporterOptions options;
  options.endpoint = receiver.url();
  options.max_batch = 1;
  auto exporter = startExporter(options);
  Span big = simpleSpan(1);
  big.name = std::string(10000, 'n');
  for (int i = 0; i < 100; ++i) big.attributes.push_back({"k" + std::to_string(i), std::string(5000, 'v')});
  big.status_message = "bad \xff utf8";
  REQUIRE(exporter->push(std::move(big)));
  auto requests = receiver.waitFor(1);
  REQUIRE(requests.size() == 1);
  auto span = json::parse(requests[0].body, nullptr, false)["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  CHECK(span["name"].get<std::string>().size() == kMaxSpanStringBytes);
  REQUIRE(span["attributes"].size() == kMaxSpanAttributes);
  CHECK(span["attributes"][63]["key"] == "k63");
  CHECK(span["attributes"][0]["value"]["stringValue"].get<std::string>().size() == kMaxSpanStringBytes);
  CHECK(span["status"]["message"] == "bad \xEF\xBF\xBD utf8");  // invalid UTF-8 replaced
}

TEST_CASE("bad exporter options are refused, naming what is wrong") {
  for (const char* endpoint : {"", "127.0.0.1:4318", "ftp://x", "http://", "http://:4318", "http://h:0",
                               "http://h:65536", "http://h:port", "http://h:", "http://[::1", "http://[::1]x",
                               "http://user:pw@h:4318", "http://h:4318/p?q=1"}) {
    OtlpExporterOptions options;
    options.endpoint = endpoint;
    auto exporter = OtlpExporter::start(options);
    REQUIRE_MESSAGE(!exporter, endpoint);
    CHECK(exporter.error().kind == ErrorKind::kBadInput);
    CHECK(exporter.error().message.find("OTLP endpoint") != std::string::npos);
  }
  OtlpExporterOptions zero_batch;
  zero_batch.endpoint = "http://127.0.0.1:4318";
  zero_batch.max_batch = 0;
  CHECK_FALSE(OtlpExporter::start(zero_batch));
  OtlpExporterOptions ipv6;
  ipv6.endpoint = "http://[::1]:4318";
  auto ok = OtlpExporter::start(ipv6);
  REQUIRE(ok);
  CHECK((*ok)->tracesUrl() == "http://[::1]:4318/v1/traces");
  (*ok)->shutdown(0ms);
}
