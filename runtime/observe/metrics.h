#pragma once
// Prometheus metrics for the host: counters, gauges and histograms with label sets, and
// their text exposition (format 0.0.4) for `/metrics`.
//
// Contract: a MetricsRegistry and every family and series in it belong to the loop thread.
// Nothing here is atomic, on purpose: the hot path takes a series once (`family.labels(...)`)
// and keeps the reference, so counting an event is one add on a plain integer. Another thread
// reports through the loop's post(), or through a callback series whose function reads its
// own atomics (see the OTLP exporter's counters). The registry owns every family and series;
// references stay valid until the registry dies or `remove()` drops that series.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/clock.h"
#include "runtime/base/result.h"

namespace gust {

using LabelValues = std::vector<std::string>;

// One counter series: only goes up. `setCallback` turns it into a series read at scrape time
// (for a count kept elsewhere, e.g. in an atomic on another thread).
class Counter {
 public:
  void inc(uint64_t by = 1) { value_ += by; }
  uint64_t value() const { return callback_ ? callback_() : value_; }
  void setCallback(std::function<uint64_t()> read) { callback_ = std::move(read); }

 private:
  uint64_t value_ = 0;
  std::function<uint64_t()> callback_;
};

// One gauge series: set it, move it, or give it a callback evaluated at scrape time.
class Gauge {
 public:
  void set(double v) { value_ = v; }
  void add(double delta) { value_ += delta; }
  void inc() { value_ += 1; }
  void dec() { value_ -= 1; }
  double value() const { return callback_ ? callback_() : value_; }
  void setCallback(std::function<double()> read) { callback_ = std::move(read); }

 private:
  double value_ = 0;
  std::function<double()> callback_;
};

// One histogram series over its family's fixed upper bounds (seconds, "le" semantics: an
// observation lands in the first bucket whose bound is >= it). NaN observations are ignored.
class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds) : bounds_(bounds), counts_(bounds.size() + 1, 0) {}

  void observe(double value) {
    if (value != value) return;  // NaN: no bucket can hold it
    size_t i = 0;
    const size_t n = bounds_.size();
    while (i < n && value > bounds_[i]) ++i;
    ++counts_[i];
    sum_ += value;
    ++count_;
  }

  const std::vector<double>& bounds() const { return bounds_; }
  // Per bucket, not cumulative; the last one is the +Inf overflow.
  const std::vector<uint64_t>& bucketCounts() const { return counts_; }
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  const std::vector<double>& bounds_;  // owned by the family, which outlives the series
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t count_ = 0;
};

enum class MetricType { kCounter, kGauge, kHistogram };

// A family's series are kept ordered by label values, so the exposition is deterministic.
// A family holds at most kMaxSeriesPerFamily series; past that, new label sets share one
// series whose every label value is "_overflow", so a runaway label cannot grow memory.
template <typename Series>
class Family {
 public:
  static constexpr size_t kMaxSeriesPerFamily = 10000;

  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         std::vector<double> bounds = {});
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  // The series for these label values (one per label name, in order), created on first use.
  // Take it once and keep the reference: this call costs a map lookup, inc() does not.
  Series& labels(const LabelValues& values);
  // The one series of a family without labels.
  Series& series() { return labels({}); }
  // Drops a series (e.g. the gauges of a deleted app); references to it die with it.
  void remove(const LabelValues& values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& labelNames() const { return label_names_; }
  const std::map<LabelValues, std::unique_ptr<Series>>& allSeries() const { return series_; }

 private:
  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;  // histograms only; every series points at it
  std::map<LabelValues, std::unique_ptr<Series>> series_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;
extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

// Bucket bounds in seconds for request-like durations: 0.5 ms to 30 s.
const std::vector<double>& defaultDurationBuckets();

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Each add checks the name ([a-zA-Z_:][a-zA-Z0-9_:]*), the label names
  // ([a-zA-Z_][a-zA-Z0-9_]*, no leading "__", no duplicates, no "le" on a histogram) and that
  // no sample name it will expose is already taken; a bad one is kBadInput naming it.
  // A counter's exposed name always ends in "_total": "x" and "x_total" both expose
  // "x_total". The family lives as long as the registry.
  Result<CounterFamily*> addCounter(std::string name, std::string help, std::vector<std::string> label_names = {});
  Result<GaugeFamily*> addGauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  // `bounds`: finite, strictly increasing, 1 to 64 of them; +Inf is implied.
  Result<HistogramFamily*> addHistogram(std::string name, std::string help, std::vector<std::string> label_names,
                                        std::vector<double> bounds = defaultDurationBuckets());

  // Text exposition format 0.0.4 (Content-Type: text/plain; version=0.0.4; charset=utf-8).
  // Families in registration order; a family with no series yet is left out.
  std::string renderPrometheus() const;

 private:
  Result<void> claimNames(const std::string& name, MetricType type, const std::vector<std::string>& label_names);

  struct Entry {
    MetricType type;
    std::unique_ptr<CounterFamily> counter;
    std::unique_ptr<GaugeFamily> gauge;
    std::unique_ptr<HistogramFamily> histogram;
  };
  std::vector<Entry> families_;
  std::vector<std::string> sample_names_;  // every sample name exposed so far
};

inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// --- Formatting pieces, exposed for tests and for other exporters ---

bool isValidMetricName(std::string_view name);
bool isValidLabelName(std::string_view name);
// Label values escape backslash, double quote and newline; HELP text escapes backslash and
// newline (the 0.0.4 rules).
std::string escapeLabelValue(std::string_view value);
std::string escapeHelp(std::string_view help);
// Integers as integers, other values as the shortest text that reads back the same, and
// "+Inf", "-Inf", "NaN".
std::string formatSampleValue(double value);

// --- Process metrics ---

// Resident set size of this process from /proc/self/statm, or nullopt where it cannot be
// read (no /proc).
std::optional<uint64_t> readResidentMemoryBytes();
// When this process started, in seconds since the Unix epoch, from /proc/self/stat and the
// boot time in /proc/stat; nullopt where /proc cannot say.
std::optional<double> readProcessStartTimeSeconds();

// --- The metrics of issue #7, named in one place ---
//
// Label values the host uses: trigger is "http", "timer", "queue" or "async"; outcome is
// outcomeName(kind) (runtime/protocol/invocation.h); instance state is "starting", "idle", "busy" or
// "draining"; queue message state is "ready", "in_flight" or "dead"; timer skip reason is
// "overlap" or "missed"; HTTP code class is httpStatusClass(status).
namespace metric_names {
inline constexpr const char* kInvocations = "gust_invocations_total";
inline constexpr const char* kInvocationDuration = "gust_invocation_duration_seconds";
inline constexpr const char* kColdStarts = "gust_cold_starts_total";
inline constexpr const char* kColdStartDuration = "gust_cold_start_duration_seconds";
inline constexpr const char* kInstances = "gust_instances";
inline constexpr const char* kPendingInvocations = "gust_pending_invocations";
inline constexpr const char* kQueueMessages = "gust_queue_messages";
inline constexpr const char* kQueueRetries = "gust_queue_retries_total";
inline constexpr const char* kQueueDeadLetters = "gust_queue_dead_letters_total";
inline constexpr const char* kTimerRuns = "gust_timer_runs_total";
inline constexpr const char* kTimerSkips = "gust_timer_skips_total";
inline constexpr const char* kTimerLateness = "gust_timer_lateness_seconds";
inline constexpr const char* kHttpConnections = "gust_http_connections";
inline constexpr const char* kHttpRequests = "gust_http_requests_total";
inline constexpr const char* kHttpConnectionsClosed = "gust_http_connections_closed_total";
inline constexpr const char* kStreamClients = "gust_stream_clients";
inline constexpr const char* kStreamEventsSent = "gust_stream_events_sent_total";
inline constexpr const char* kRealtimeConnections = "gust_realtime_connections";
inline constexpr const char* kRecordsDropped = "gust_invocation_records_dropped_total";
inline constexpr const char* kSpansExported = "gust_spans_exported_total";
inline constexpr const char* kSpansDropped = "gust_spans_dropped_total";
inline constexpr const char* kLoopIterationBusy = "gust_event_loop_iteration_busy_seconds";
inline constexpr const char* kLoopBusyMax = "gust_event_loop_busy_max_seconds";
inline constexpr const char* kResidentMemory = "process_resident_memory_bytes";
inline constexpr const char* kStartTime = "process_start_time_seconds";
}  // namespace metric_names

// "1xx" .. "5xx" for a status code, "other" outside 100..599.
const char* httpStatusClass(int status);

// Every family of issue #7, registered once by the composition root. The pointers are
// owned by the registry and never null.
struct GustMetrics {
  CounterFamily* invocations;             // {app, function, trigger, outcome}
  HistogramFamily* invocation_duration;   // {app, function, trigger}
  CounterFamily* cold_starts;             // {app}
  HistogramFamily* cold_start_duration;   // {app}
  GaugeFamily* instances;                 // {app, state}
  GaugeFamily* pending_invocations;       // {app}
  GaugeFamily* queue_messages;            // {queue, state}
  CounterFamily* queue_retries;           // {queue}
  CounterFamily* queue_dead_letters;      // {queue}
  CounterFamily* timer_runs;              // {app, function}
  CounterFamily* timer_skips;             // {app, function, reason}
  HistogramFamily* timer_lateness;        // {app, function}
  GaugeFamily* http_connections;          // no labels
  CounterFamily* http_requests;           // {code}
  CounterFamily* http_connections_closed;  // {reason}: idle_evicted, refused
  GaugeFamily* stream_clients;            // no labels: clients of the apps' streams
  CounterFamily* stream_events_sent;      // no labels
  GaugeFamily* realtime_connections;       // {kind}: websocket, stream
  CounterFamily* records_dropped;         // no labels
  CounterFamily* spans_exported;          // no labels; read from the exporter at scrape time
  CounterFamily* spans_dropped;           // {reason}: queue_full, export_failed
  HistogramFamily* loop_iteration_busy;   // no labels; fed by the LoopMonitor
  GaugeFamily* loop_busy_max;             // no labels; the LoopMonitor's longest, at scrape time
  GaugeFamily* resident_memory;           // no labels; read from /proc at scrape time
  GaugeFamily* start_time;                // no labels
};

// Registers every family above in `registry` (which must not hold any of these names yet),
// with the process RSS as a scrape-time callback and the process start time set once (from
// /proc, or `clock.wallNow()` where /proc cannot say).
Result<GustMetrics> registerGustMetrics(MetricsRegistry& registry, const Clock& clock);

}  // namespace gust
