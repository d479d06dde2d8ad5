#include "runtime/observe/metrics.h"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using namespace gust;

namespace {

class FixedClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override { return {}; }
  std::chrono::system_clock::time_point wallNow() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  }
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("a registry renders counters, gauges and histograms in exposition format 0.0.4") {
  MetricsRegistry registry;
  auto invocations = registry.addCounter("gust_invocations_total", "Invocations finished.", {"app", "outcome"});
  REQUIRE(invocations);
  auto connections = registry.addGauge("gust_http_connections", "Open HTTP connections.");
  REQUIRE(connections);
  auto duration = registry.addHistogram("gust_invocation_duration_seconds", "Duration.", {"app"}, {0.005, 0.1, 1});
  REQUIRE(duration);
  auto pending = registry.addGauge("gust_pending_invocations", "Waiting.", {"app"});
  REQUIRE(pending);

  Counter& shop_ok = (*invocations)->labels({"shop", "ok"});
  shop_ok.inc();
  shop_ok.inc(2);
  (*invocations)->labels({"blog", "timed_out"}).inc();
  (*invocations)->labels({"shop", "crashed"}).inc();
  (*connections)->series().set(7);
  (*connections)->series().dec();
  Histogram& shop = (*duration)->labels({"shop"});
  shop.observe(0.005);  // on a bound: belongs to that bucket ("le")
  shop.observe(0.05);
  shop.observe(0.25);
  shop.observe(42);  // past every bound: only +Inf holds it
  int depth = 3;
  (*pending)->labels({"shop"}).setCallback([&depth] { return static_cast<double>(depth); });
  depth = 5;  // read at scrape time, not at registration

  const std::string expected =
      "# HELP gust_invocations_total Invocations finished.\n"
      "# TYPE gust_invocations_total counter\n"
      "gust_invocations_total{app=\"blog\",outcome=\"timed_out\"} 1\n"
      "gust_invocations_total{app=\"shop\",outcome=\"crashed\"} 1\n"
      "gust_invocations_total{app=\"shop\",outcome=\"ok\"} 3\n"
      "# HELP gust_http_connections Open HTTP connections.\n"
      "# TYPE gust_http_connections gauge\n"
      "gust_http_connections 6\n"
      "# HELP gust_invocation_duration_seconds Duration.\n"
      "# TYPE gust_invocation_duration_seconds histogram\n"
      "gust_invocation_duration_seconds_bucket{app=\"shop\",le=\"0.005\"} 1\n"
      "gust_invocation_duration_seconds_bucket{app=\"shop\",le=\"0.1\"} 2\n"
      "gust_invocation_duration_seconds_bucket{app=\"shop\",le=\"1\"} 3\n"
      "gust_invocation_duration_seconds_bucket{app=\"shop\",le=\"+Inf\"} 4\n"
      "gust_invocation_duration_seconds_sum{app=\"shop\"} 42.305\n"
      "gust_invocation_duration_seconds_count{app=\"shop\"} 4\n"
      "# HELP gust_pending_invocations Waiting.\n"
      "# TYPE gust_pending_invocations gauge\n"
      "gust_pending_invocations{app=\"shop\"} 5\n";
  CHECK(registry.renderPrometheus() == expected);
}

TEST_CASE("a counter named without _total is exposed with it, and a labelled family with no series is left out") {
  MetricsRegistry registry;
  auto retries = registry.addCounter("gust_queue_retries", "Retries.");
  REQUIRE(retries);
  CHECK((*retries)->name() == "gust_queue_retries_total");
  auto unused = registry.addGauge("gust_unused", "Nothing yet.", {"app"});
  REQUIRE(unused);
  CHECK(registry.renderPrometheus() ==
        "# HELP gust_queue_retries_total Retries.\n"
        "# TYPE gust_queue_retries_total counter\n"
        "gust_queue_retries_total 0\n");
  // The _total name is now taken, whichever spelling asks for it.
  CHECK_FALSE(registry.addCounter("gust_queue_retries_total", "again"));
}

TEST_CASE("label values escape backslash, double quote and newline; HELP escapes backslash and newline") {
  MetricsRegistry registry;
  auto family = registry.addCounter("x_total", "line one\nback\\slash \"quoted\"", {"path"});
  REQUIRE(family);
  (*family)->labels({"a\\b\"c\nd"}).inc();
  CHECK(registry.renderPrometheus() ==
        "# HELP x_total line one\\nback\\\\slash \"quoted\"\n"
        "# TYPE x_total counter\n"
        "x_total{path=\"a\\\\b\\\"c\\nd\"} 1\n");
  CHECK(escapeLabelValue("plain ünïcode") == "plain ünïcode");
}

TEST_CASE("sample values print integers exactly and other numbers in their shortest exact form") {
  CHECK(formatSampleValue(0) == "0");
  CHECK(formatSampleValue(-3) == "-3");
  CHECK(formatSampleValue(123456789012.0) == "123456789012");
  CHECK(formatSampleValue(0.0005) == "0.0005");
  CHECK(formatSampleValue(2.5) == "2.5");
  CHECK(std::strtod(formatSampleValue(0.1 + 0.2).c_str(), nullptr) == 0.1 + 0.2);
  CHECK(formatSampleValue(1e300) == "1e+300");
  CHECK(formatSampleValue(INFINITY) == "+Inf");
  CHECK(formatSampleValue(-INFINITY) == "-Inf");
  CHECK(formatSampleValue(NAN) == "NaN");
}

TEST_CASE("bad metric and label names are refused at registration, naming what is wrong") {
  MetricsRegistry registry;
  auto bad_name = registry.addGauge("9lives", "x");
  REQUIRE_FALSE(bad_name);
  CHECK(bad_name.error().kind == ErrorKind::kBadInput);
  CHECK(contains(bad_name.error().message, "'9lives'"));
  CHECK_FALSE(registry.addGauge("has-dash", "x"));
  CHECK_FALSE(registry.addGauge("", "x"));
  CHECK_FALSE(registry.addGauge(std::string(201, 'a'), "x"));
  CHECK(registry.addGauge("ns:sub_system:ok", "colons are allowed in metric names"));

  auto colon_label = registry.addGauge("g1", "x", {"a:b"});
  REQUIRE_FALSE(colon_label);
  CHECK(contains(colon_label.error().message, "label name 'a:b'"));
  auto reserved = registry.addGauge("g2", "x", {"__name"});
  REQUIRE_FALSE(reserved);
  CHECK(contains(reserved.error().message, "reserves"));
  auto twice = registry.addGauge("g3", "x", {"app", "app"});
  REQUIRE_FALSE(twice);
  CHECK(contains(twice.error().message, "'app' twice"));
  auto le = registry.addHistogram("h1", "x", {"le"}, {1});
  REQUIRE_FALSE(le);
  CHECK(contains(le.error().message, "'le'"));
  CHECK_FALSE(registry.addGauge("g4", "x", std::vector<std::string>(17, "l")));
  // A refused registration claims nothing: the names stay free.
  CHECK(registry.addGauge("g1", "x", {"ok"}));
}

TEST_CASE("a metric whose samples would clash with an earlier one is refused") {
  MetricsRegistry registry;
  REQUIRE(registry.addHistogram("latency_seconds", "x", {}, {1}));
  auto clash = registry.addGauge("latency_seconds_count", "x");
  REQUIRE_FALSE(clash);
  CHECK(contains(clash.error().message, "'latency_seconds_count'"));
  REQUIRE(registry.addGauge("depth", "x"));
  CHECK_FALSE(registry.addHistogram("depth", "x", {}, {1}));
  CHECK_FALSE(registry.addGauge("depth", "x"));
}

TEST_CASE("histogram bucket bounds must be finite, strictly increasing and bounded in number") {
  MetricsRegistry registry;
  auto unordered = registry.addHistogram("h_a", "x", {}, {0.1, 0.1});
  REQUIRE_FALSE(unordered);
  CHECK(contains(unordered.error().message, "increase strictly: 0.1 follows 0.1"));
  auto inf = registry.addHistogram("h_b", "x", {}, {0.1, INFINITY});
  REQUIRE_FALSE(inf);
  CHECK(contains(inf.error().message, "+Inf is implied"));
  CHECK_FALSE(registry.addHistogram("h_c", "x", {}, {}));
  CHECK_FALSE(registry.addHistogram("h_d", "x", {}, {NAN}));
  std::vector<double> many;
  for (int i = 1; i <= 65; ++i) many.push_back(i);
  CHECK_FALSE(registry.addHistogram("h_e", "x", {}, many));
  many.pop_back();
  CHECK(registry.addHistogram("h_e", "x", {}, many));
}

TEST_CASE("a series reference stays put while other series come and go, and remove drops one") {
  MetricsRegistry registry;
  auto family = registry.addGauge("instances", "x", {"app"});
  REQUIRE(family);
  Gauge& first = (*family)->labels({"a"});
  for (int i = 0; i < 1000; ++i) (*family)->labels({"app" + std::to_string(i)}).set(i);
  first.set(42);
  CHECK(&(*family)->labels({"a"}) == &first);
  CHECK((*family)->labels({"a"}).value() == 42);
  (*family)->remove({"a"});
  CHECK_FALSE(contains(registry.renderPrometheus(), "instances{app=\"a\"}"));
  CHECK(contains(registry.renderPrometheus(), "instances{app=\"app999\"} 999\n"));
}

TEST_CASE("a family past its series cap folds new label sets into one overflow series") {
  MetricsRegistry registry;
  auto family = registry.addCounter("requests_total", "x", {"path"});
  REQUIRE(family);
  for (size_t i = 0; i < CounterFamily::kMaxSeriesPerFamily; ++i) (*family)->labels({std::to_string(i)}).inc();
  (*family)->labels({"one-more"}).inc();
  (*family)->labels({"and-another"}).inc(5);
  CHECK((*family)->allSeries().size() == CounterFamily::kMaxSeriesPerFamily + 1);
  CHECK((*family)->labels({"_overflow"}).value() == 6);
  // Series that existed before the cap keep counting on their own.
  (*family)->labels({"7"}).inc();
  CHECK((*family)->labels({"7"}).value() == 2);
}

TEST_CASE("NaN observations are ignored and negative ones land in the first bucket") {
  MetricsRegistry registry;
  auto family = registry.addHistogram("lateness_seconds", "x", {}, {0, 1});
  REQUIRE(family);
  Histogram& h = (*family)->series();
  h.observe(NAN);
  h.observe(-0.5);
  h.observe(1);
  CHECK(h.count() == 2);
  CHECK(h.bucketCounts() == std::vector<uint64_t>{1, 1, 0});
  CHECK(h.sum() == 0.5);
}

TEST_CASE("a counter can read its value from a callback at scrape time") {
  MetricsRegistry registry;
  auto dropped = registry.addCounter("spans_dropped_total", "x");
  REQUIRE(dropped);
  uint64_t source = 0;
  (*dropped)->series().setCallback([&source] { return source; });
  source = 17;
  CHECK(contains(registry.renderPrometheus(), "spans_dropped_total 17\n"));
}

TEST_CASE("the process RSS read from /proc follows memory the process touches") {
  auto before = readResidentMemoryBytes();
  REQUIRE(before);
  CHECK(*before > 1024 * 1024);
  constexpr size_t kTouched = 64 * 1024 * 1024;
  std::vector<char> block(kTouched);
  for (size_t i = 0; i < block.size(); i += 4096) block[i] = static_cast<char>(i);
  auto after = readResidentMemoryBytes();
  REQUIRE(after);
  CHECK(*after >= *before + kTouched / 2);
  CHECK(block[4096] == static_cast<char>(4096));
}

TEST_CASE("the process start time from /proc is a moment shortly before now") {
  auto started = readProcessStartTimeSeconds();
  REQUIRE(started);
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(*started <= now + 1);
  CHECK(*started > now - 600);  // this test process started moments ago
}

TEST_CASE("the metrics of issue 7 register under their documented names") {
  MetricsRegistry registry;
  FixedClock clock;
  auto m = registerGustMetrics(registry, clock);
  REQUIRE(m);
  m->invocations->labels({"shop", "checkout", "http", "ok"}).inc();
  m->invocation_duration->labels({"shop", "checkout", "http"}).observe(0.002);
  m->cold_starts->labels({"shop"}).inc();
  m->cold_start_duration->labels({"shop"}).observe(0.08);
  m->instances->labels({"shop", "idle"}).set(2);
  m->pending_invocations->labels({"shop"}).set(0);
  m->queue_messages->labels({"orders", "ready"}).set(12);
  m->queue_retries->labels({"orders"}).inc();
  m->queue_dead_letters->labels({"orders"}).inc();
  m->timer_runs->labels({"shop", "nightly"}).inc();
  m->timer_skips->labels({"shop", "nightly", "overlap"}).inc();
  m->timer_lateness->labels({"shop", "nightly"}).observe(0.003);
  m->http_connections->series().inc();
  m->http_requests->labels({httpStatusClass(204)}).inc();
  m->http_requests->labels({httpStatusClass(503)}).inc();

  std::string text = registry.renderPrometheus();
  for (const char* line : {
           "gust_invocations_total{app=\"shop\",function=\"checkout\",trigger=\"http\",outcome=\"ok\"} 1\n",
           "gust_invocation_duration_seconds_bucket{app=\"shop\",function=\"checkout\",trigger=\"http\",le=\"0.0025\"} 1\n",
           "gust_invocation_duration_seconds_bucket{app=\"shop\",function=\"checkout\",trigger=\"http\",le=\"0.001\"} 0\n",
           "gust_invocation_duration_seconds_bucket{app=\"shop\",function=\"checkout\",trigger=\"http\",le=\"30\"} 1\n",
           "gust_cold_starts_total{app=\"shop\"} 1\n",
           "gust_cold_start_duration_seconds_count{app=\"shop\"} 1\n",
           "gust_instances{app=\"shop\",state=\"idle\"} 2\n",
           "gust_pending_invocations{app=\"shop\"} 0\n",
           "gust_queue_messages{queue=\"orders\",state=\"ready\"} 12\n",
           "gust_queue_retries_total{queue=\"orders\"} 1\n",
           "gust_queue_dead_letters_total{queue=\"orders\"} 1\n",
           "gust_timer_runs_total{app=\"shop\",function=\"nightly\"} 1\n",
           "gust_timer_skips_total{app=\"shop\",function=\"nightly\",reason=\"overlap\"} 1\n",
           "gust_timer_lateness_seconds_sum{app=\"shop\",function=\"nightly\"} 0.003\n",
           "gust_http_connections 1\n",
           "gust_http_requests_total{code=\"2xx\"} 1\n",
           "gust_http_requests_total{code=\"5xx\"} 1\n",
           "# TYPE process_resident_memory_bytes gauge\n",
           "# TYPE process_start_time_seconds gauge\n",
       }) {
    CHECK_MESSAGE(contains(text, line), line);
  }
  CHECK(m->resident_memory->series().value() > 1024 * 1024);
  CHECK(m->start_time->series().value() > 1'600'000'000);
  CHECK(httpStatusClass(100) == std::string("1xx"));
  CHECK(httpStatusClass(399) == std::string("3xx"));
  CHECK(httpStatusClass(404) == std::string("4xx"));
  CHECK(httpStatusClass(99) == std::string("other"));
  CHECK(httpStatusClass(600) == std::string("other"));

  auto again = registerGustMetrics(registry, clock);
  REQUIRE_FALSE(again);
  CHECK(contains(again.error().message, "gust_invocations_total"));
}

// Debian's python3-prometheus-client (installed by scripts/setup.sh test) holds the
// reference parser; it reads what we render and hands back families, samples and label
// values, which must match what was counted, hostile label values included.
TEST_CASE("the official Prometheus Python parser reads the exposition back exactly") {
  const char* python = "/usr/bin/python3";
  REQUIRE_MESSAGE(::access(python, X_OK) == 0, "needs Debian's python3 with python3-prometheus-client: run scripts/setup.sh test");

  MetricsRegistry registry;
  FixedClock clock;
  auto m = registerGustMetrics(registry, clock);
  REQUIRE(m);
  const std::string hostile = "sh\"op\\\nname {x=\"y\"} # é";
  m->invocations->labels({hostile, "fn", "http", "ok"}).inc(3);
  Histogram& d = m->invocation_duration->labels({hostile, "fn", "http"});
  for (double v : {0.0001, 0.003, 0.2, 0.2, 45.0}) d.observe(v);
  m->queue_messages->labels({"q", "in_flight"}).set(2.5);
  m->http_connections->series().set(4);

  char dir_template[] = "/tmp/gust-metrics-XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  {
    std::ofstream(dir + "/metrics.txt") << registry.renderPrometheus();
    std::ofstream(dir + "/parse.py") << R"PY(
import json, sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1], encoding="utf-8").read()
out = []
for family in text_string_to_metric_families(text):
    # Every family must carry its HELP and TYPE; the parser calls a bare one "unknown".
    assert family.type in ("counter", "gauge", "histogram"), family.name
    assert family.documentation, family.name
    out.append({"name": family.name, "type": family.type,
                "samples": [[s.name, s.labels, s.value] for s in family.samples]})
print(json.dumps(out))
)PY";
  }
  // coreutils' timeout bounds the read below, which has no deadline of its own.
  std::string command = "timeout 60 " + std::string(python) + " " + dir + "/parse.py " + dir + "/metrics.txt 2>&1";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) output.append(buf, n);
  int status = ::pclose(pipe);
  std::remove((dir + "/metrics.txt").c_str());
  std::remove((dir + "/parse.py").c_str());
  ::rmdir(dir.c_str());
  REQUIRE_MESSAGE(status == 0, command << " ended with status " << WEXITSTATUS(status)
                                        << " (124: it ran past 60 s):\n" << output);

  auto parsed = nlohmann::json::parse(output, nullptr, false);
  REQUIRE_FALSE(parsed.is_discarded());
  auto family = [&](const std::string& name) {
    for (const auto& f : parsed) {
      if (f["name"] == name) return f;
    }
    FAIL("the parser found no family " << name << " in " << output);
    return nlohmann::json();
  };
  auto invocations = family("gust_invocations");  // the parser names a counter without _total
  CHECK(invocations["type"] == "counter");
  REQUIRE(invocations["samples"].size() == 1);
  CHECK(invocations["samples"][0][0] == "gust_invocations_total");
  CHECK(invocations["samples"][0][1]["app"] == hostile);
  CHECK(invocations["samples"][0][1]["outcome"] == "ok");
  CHECK(invocations["samples"][0][2] == 3.0);

  auto duration = family("gust_invocation_duration_seconds");
  CHECK(duration["type"] == "histogram");
  std::vector<std::pair<std::string, double>> buckets;
  double sum = -1;
  double count = -1;
  for (const auto& s : duration["samples"]) {
    CHECK(s[1]["app"] == hostile);
    if (s[0] == "gust_invocation_duration_seconds_bucket") buckets.emplace_back(s[1]["le"], s[2]);
    if (s[0] == "gust_invocation_duration_seconds_sum") sum = s[2];
    if (s[0] == "gust_invocation_duration_seconds_count") count = s[2];
  }
  REQUIRE(buckets.size() == defaultDurationBuckets().size() + 1);
  CHECK(buckets.front() == std::pair<std::string, double>{"0.0005", 1});
  CHECK(buckets[3] == std::pair<std::string, double>{"0.005", 2});
  CHECK(buckets[8] == std::pair<std::string, double>{"0.25", 4});
  CHECK(buckets[buckets.size() - 2] == std::pair<std::string, double>{"30", 4});
  CHECK(buckets.back() == std::pair<std::string, double>{"+Inf", 5});
  CHECK(sum == doctest::Approx(45.4031));
  CHECK(count == 5);

  auto queue = family("gust_queue_messages");
  CHECK(queue["samples"][0][1]["state"] == "in_flight");
  CHECK(queue["samples"][0][2] == 2.5);
  CHECK(family("gust_http_connections")["samples"][0][2] == 4.0);
  CHECK(family("process_resident_memory_bytes")["samples"][0][2].get<double>() > 1024 * 1024);
  CHECK(family("process_start_time_seconds")["type"] == "gauge");
}
