#include "runtime/observe/metrics.h"

#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

namespace gust {

template <typename Series>
Family<Series>::Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
                       std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

template <typename Series>
Series& Family<Series>::labels(const LabelValues& values) {
  // A wrong count of label values is a bug in the caller, never input from outside.
  assert(values.size() == label_names_.size());
  auto it = series_.find(values);
  if (it != series_.end()) return *it->second;
  LabelValues key = values;
  if (series_.size() >= kMaxSeriesPerFamily) {
    std::fill(key.begin(), key.end(), std::string("_overflow"));
    it = series_.find(key);
    if (it != series_.end()) return *it->second;
  }
  std::unique_ptr<Series> series;
  if constexpr (std::is_same_v<Series, Histogram>) {
    series = std::make_unique<Histogram>(bounds_);
  } else {
    series = std::make_unique<Series>();
  }
  return *series_.emplace(std::move(key), std::move(series)).first->second;
}

template <typename Series>
void Family<Series>::remove(const LabelValues& values) {
  series_.erase(values);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

const std::vector<double>& defaultDurationBuckets() {
  static const std::vector<double> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                               0.25,   0.5,   1,      2.5,   5,    10,    30};
  return kBuckets;
}

namespace {

bool isAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isAsciiDigit(char c) { return c >= '0' && c <= '9'; }

constexpr size_t kMaxNameLength = 200;
constexpr size_t kMaxLabels = 16;
constexpr size_t kMaxBuckets = 64;

Error badInput(std::string message) { return makeError(ErrorKind::kBadInput, std::move(message)); }

const char* typeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

void appendLabels(std::string& out, const std::vector<std::string>& names, const LabelValues& values,
                  std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    out += escapeLabelValue(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

void appendHeader(std::string& out, const std::string& exposed, const std::string& help, MetricType type) {
  out += "# HELP ";
  out += exposed;
  out += ' ';
  out += escapeHelp(help);
  out += "\n# TYPE ";
  out += exposed;
  out += ' ';
  out += typeName(type);
  out += '\n';
}

void appendSample(std::string& out, std::string_view name, const std::vector<std::string>& label_names,
                  const LabelValues& values, const std::string& value, std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  out += name;
  appendLabels(out, label_names, values, extra_name, extra_value);
  out += ' ';
  out += value;
  out += '\n';
}

void renderCounters(std::string& out, const CounterFamily& family) {
  appendHeader(out, family.name(), family.help(), MetricType::kCounter);
  for (const auto& [values, series] : family.allSeries()) {
    appendSample(out, family.name(), family.labelNames(), values, std::to_string(series->value()));
  }
}

void renderGauges(std::string& out, const GaugeFamily& family) {
  appendHeader(out, family.name(), family.help(), MetricType::kGauge);
  for (const auto& [values, series] : family.allSeries()) {
    appendSample(out, family.name(), family.labelNames(), values, formatSampleValue(series->value()));
  }
}

void renderHistograms(std::string& out, const HistogramFamily& family) {
  appendHeader(out, family.name(), family.help(), MetricType::kHistogram);
  const std::string bucket = family.name() + "_bucket";
  const std::string sum = family.name() + "_sum";
  const std::string count = family.name() + "_count";
  for (const auto& [values, series] : family.allSeries()) {
    const auto& bounds = series->bounds();
    const auto& counts = series->bucketCounts();
    uint64_t cumulative = 0;
    for (size_t i = 0; i < bounds.size(); ++i) {
      cumulative += counts[i];
      appendSample(out, bucket, family.labelNames(), values, std::to_string(cumulative), "le",
                   formatSampleValue(bounds[i]));
    }
    cumulative += counts.back();
    appendSample(out, bucket, family.labelNames(), values, std::to_string(cumulative), "le", "+Inf");
    appendSample(out, sum, family.labelNames(), values, formatSampleValue(series->sum()));
    appendSample(out, count, family.labelNames(), values, std::to_string(series->count()));
  }
}

}  // namespace

bool isValidMetricName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  if (!isAsciiLetter(name[0]) && name[0] != '_' && name[0] != ':') return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return isAsciiLetter(c) || isAsciiDigit(c) || c == '_' || c == ':'; });
}

bool isValidLabelName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  if (!isAsciiLetter(name[0]) && name[0] != '_') return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return isAsciiLetter(c) || isAsciiDigit(c) || c == '_'; });
}

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string escapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string formatSampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Whole numbers up to 2^53 print exactly as integers (a byte count, a connection count).
  if (value == std::trunc(value) && std::fabs(value) < 9007199254740992.0) {
    return std::to_string(static_cast<int64_t>(value));
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::general);
  assert(ec == std::errc());
  return std::string(buf, end);
}

Result<void> MetricsRegistry::claimNames(const std::string& name, MetricType type,
                                         const std::vector<std::string>& label_names) {
  if (!isValidMetricName(name)) {
    return badInput("metric name '" + name +
                    "' is not valid: use letters, digits, '_' and ':', not starting with a digit, at most " +
                    std::to_string(kMaxNameLength) + " characters");
  }
  if (label_names.size() > kMaxLabels) {
    return badInput("metric '" + name + "' has " + std::to_string(label_names.size()) + " labels; at most " +
                    std::to_string(kMaxLabels) + " are allowed");
  }
  for (size_t i = 0; i < label_names.size(); ++i) {
    const std::string& label = label_names[i];
    if (!isValidLabelName(label)) {
      return badInput("label name '" + label + "' of metric '" + name +
                      "' is not valid: use letters, digits and '_', not starting with a digit");
    }
    if (label.starts_with("__")) {
      return badInput("label name '" + label + "' of metric '" + name +
                      "' starts with '__', which Prometheus reserves for itself");
    }
    if (type == MetricType::kHistogram && label == "le") {
      return badInput("histogram '" + name + "' cannot have a label named 'le': the buckets use it");
    }
    if (std::find(label_names.begin(), label_names.begin() + static_cast<long>(i), label) !=
        label_names.begin() + static_cast<long>(i)) {
      return badInput("metric '" + name + "' names label '" + label + "' twice");
    }
  }
  std::vector<std::string> exposed = {name};
  if (type == MetricType::kHistogram) exposed = {name, name + "_bucket", name + "_sum", name + "_count"};
  for (const auto& sample : exposed) {
    if (std::find(sample_names_.begin(), sample_names_.end(), sample) != sample_names_.end()) {
      return badInput("metric '" + name + "' would expose '" + sample +
                      "', which an earlier metric already exposes; pick another name");
    }
  }
  sample_names_.insert(sample_names_.end(), exposed.begin(), exposed.end());
  return {};
}

Result<CounterFamily*> MetricsRegistry::addCounter(std::string name, std::string help,
                                                   std::vector<std::string> label_names) {
  if (!name.ends_with("_total")) name += "_total";
  auto claimed = claimNames(name, MetricType::kCounter, label_names);
  if (!claimed) return claimed.error();
  auto family = std::make_unique<CounterFamily>(std::move(name), std::move(help), MetricType::kCounter,
                                                std::move(label_names));
  if (family->labelNames().empty()) family->series();  // an unlabelled counter shows its 0 from the start
  CounterFamily* raw = family.get();
  families_.push_back(Entry{MetricType::kCounter, std::move(family), nullptr, nullptr});
  return raw;
}

Result<GaugeFamily*> MetricsRegistry::addGauge(std::string name, std::string help,
                                               std::vector<std::string> label_names) {
  auto claimed = claimNames(name, MetricType::kGauge, label_names);
  if (!claimed) return claimed.error();
  auto family =
      std::make_unique<GaugeFamily>(std::move(name), std::move(help), MetricType::kGauge, std::move(label_names));
  if (family->labelNames().empty()) family->series();
  GaugeFamily* raw = family.get();
  families_.push_back(Entry{MetricType::kGauge, nullptr, std::move(family), nullptr});
  return raw;
}

Result<HistogramFamily*> MetricsRegistry::addHistogram(std::string name, std::string help,
                                                       std::vector<std::string> label_names,
                                                       std::vector<double> bounds) {
  if (bounds.empty() || bounds.size() > kMaxBuckets) {
    return badInput("histogram '" + name + "' has " + std::to_string(bounds.size()) + " bucket bounds; give 1 to " +
                    std::to_string(kMaxBuckets) + " (+Inf is implied)");
  }
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      return badInput("histogram '" + name + "' has a bucket bound that is not finite; +Inf is implied, leave it out");
    }
    if (i > 0 && !(bounds[i] > bounds[i - 1])) {
      return badInput("histogram '" + name + "' bucket bounds must increase strictly: " +
                      formatSampleValue(bounds[i]) + " follows " + formatSampleValue(bounds[i - 1]));
    }
  }
  auto claimed = claimNames(name, MetricType::kHistogram, label_names);
  if (!claimed) return claimed.error();
  auto family = std::make_unique<HistogramFamily>(std::move(name), std::move(help), MetricType::kHistogram,
                                                  std::move(label_names), std::move(bounds));
  if (family->labelNames().empty()) family->series();
  HistogramFamily* raw = family.get();
  families_.push_back(Entry{MetricType::kHistogram, nullptr, nullptr, std::move(family)});
  return raw;
}

std::string MetricsRegistry::renderPrometheus() const {
  std::string out;
  out.reserve(4096);
  for (const auto& entry : families_) {
    switch (entry.type) {
      case MetricType::kCounter:
        if (!entry.counter->allSeries().empty()) renderCounters(out, *entry.counter);
        break;
      case MetricType::kGauge:
        if (!entry.gauge->allSeries().empty()) renderGauges(out, *entry.gauge);
        break;
      case MetricType::kHistogram:
        if (!entry.histogram->allSeries().empty()) renderHistograms(out, *entry.histogram);
        break;
    }
  }
  return out;
}

std::optional<uint64_t> readResidentMemoryBytes() {
  // statm: size resident shared text lib data dt, in pages.
  std::FILE* f = std::fopen("/proc/self/statm", "re");
  if (f == nullptr) return std::nullopt;
  unsigned long long size_pages = 0;
  unsigned long long resident_pages = 0;
  int fields = std::fscanf(f, "%llu %llu", &size_pages, &resident_pages);
  std::fclose(f);
  long page_size = ::sysconf(_SC_PAGESIZE);
  if (fields != 2 || page_size <= 0) return std::nullopt;
  return static_cast<uint64_t>(resident_pages) * static_cast<uint64_t>(page_size);
}

std::optional<double> readProcessStartTimeSeconds() {
  // Field 22 of /proc/self/stat is the start time in clock ticks since boot. The command
  // name (field 2) may hold spaces and parentheses, so count fields after the last ')'.
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  size_t close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return std::nullopt;
  std::istringstream rest(stat.substr(close_paren + 1));
  std::string field;
  unsigned long long start_ticks = 0;
  for (int i = 3; i <= 22; ++i) {
    if (!(rest >> field)) return std::nullopt;
    if (i == 22) {
      auto [p, ec] = std::from_chars(field.data(), field.data() + field.size(), start_ticks);
      if (ec != std::errc()) return std::nullopt;
    }
  }
  std::ifstream proc_stat("/proc/stat");
  std::string line;
  unsigned long long boot_time = 0;
  bool found = false;
  while (std::getline(proc_stat, line)) {
    if (line.starts_with("btime ")) {
      auto [p, ec] = std::from_chars(line.data() + 6, line.data() + line.size(), boot_time);
      found = ec == std::errc();
      break;
    }
  }
  long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  if (!found || ticks_per_second <= 0) return std::nullopt;
  return static_cast<double>(boot_time) + static_cast<double>(start_ticks) / static_cast<double>(ticks_per_second);
}

const char* httpStatusClass(int status) {
  switch (status / 100) {
    case 1: return "1xx";
    case 2: return "2xx";
    case 3: return "3xx";
    case 4: return "4xx";
    case 5: return "5xx";
    default: return "other";
  }
}

Result<GustMetrics> registerGustMetrics(MetricsRegistry& registry, const Clock& clock) {
  namespace n = metric_names;
  GustMetrics m{};
  // Each step either fills its pointer or returns the registry's error as is.
#define GUST_REGISTER(field, call)   \
  do {                               \
    auto r = (call);                 \
    if (!r) return r.error();        \
    m.field = *r;                    \
  } while (false)
  GUST_REGISTER(invocations, registry.addCounter(n::kInvocations, "Invocations finished, by outcome.",
                                                 {"app", "function", "trigger", "outcome"}));
  GUST_REGISTER(invocation_duration,
                registry.addHistogram(n::kInvocationDuration, "Time from dispatch to outcome, in seconds.",
                                      {"app", "function", "trigger"}));
  GUST_REGISTER(cold_starts, registry.addCounter(n::kColdStarts, "Invocations that waited for a new instance.", {"app"}));
  GUST_REGISTER(cold_start_duration,
                registry.addHistogram(n::kColdStartDuration, "Time for a new instance to become ready, in seconds.",
                                      {"app"}));
  GUST_REGISTER(instances, registry.addGauge(n::kInstances, "Worker instances, by state.", {"app", "state"}));
  GUST_REGISTER(pending_invocations,
                registry.addGauge(n::kPendingInvocations, "Invocations waiting for a free instance.", {"app"}));
  GUST_REGISTER(queue_messages, registry.addGauge(n::kQueueMessages, "Queue messages, by state.", {"queue", "state"}));
  GUST_REGISTER(queue_retries, registry.addCounter(n::kQueueRetries, "Queue messages scheduled for another attempt.",
                                                   {"queue"}));
  GUST_REGISTER(queue_dead_letters,
                registry.addCounter(n::kQueueDeadLetters, "Queue messages moved to the dead-letter queue.", {"queue"}));
  GUST_REGISTER(timer_runs, registry.addCounter(n::kTimerRuns, "Timer invocations started.", {"app", "function"}));
  GUST_REGISTER(timer_skips, registry.addCounter(n::kTimerSkips, "Timer schedule points not run, by reason.",
                                                 {"app", "function", "reason"}));
  GUST_REGISTER(timer_lateness,
                registry.addHistogram(n::kTimerLateness, "Delay between a schedule point and its run, in seconds.",
                                      {"app", "function"}));
  GUST_REGISTER(http_connections, registry.addGauge(n::kHttpConnections, "Open HTTP connections."));
  GUST_REGISTER(realtime_connections,
                registry.addGauge(n::kRealtimeConnections,
                                  "HTTP connections taken over by a WebSocket or an event stream.", {"kind"}));
  GUST_REGISTER(http_requests,
                registry.addCounter(n::kHttpRequests, "HTTP requests answered, by status class.", {"code"}));
  GUST_REGISTER(http_connections_closed,
                registry.addCounter(n::kHttpConnectionsClosed,
                                    "HTTP connections closed to stay within --max-connections, by reason.",
                                    {"reason"}));
  GUST_REGISTER(stream_clients, registry.addGauge(n::kStreamClients, "Clients connected to the apps' streams."));
  GUST_REGISTER(stream_events_sent,
                registry.addCounter(n::kStreamEventsSent, "Events written to the clients of the apps' streams."));
  GUST_REGISTER(records_dropped,
                registry.addCounter(n::kRecordsDropped,
                                    "Invocation records not stored because the store was busy or unavailable."));
  GUST_REGISTER(spans_exported, registry.addCounter(n::kSpansExported, "Spans the OTLP endpoint accepted."));
  GUST_REGISTER(spans_dropped,
                registry.addCounter(n::kSpansDropped, "Spans dropped rather than wait, by reason.", {"reason"}));
  GUST_REGISTER(loop_iteration_busy,
                registry.addHistogram(n::kLoopIterationBusy,
                                      "Time each event loop iteration spent running callbacks (not waiting), in seconds.",
                                      {}, {0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}));
  GUST_REGISTER(loop_busy_max,
                registry.addGauge(n::kLoopBusyMax, "The longest event loop iteration since the start, in seconds."));
  GUST_REGISTER(resident_memory, registry.addGauge(n::kResidentMemory, "Resident memory size in bytes."));
  GUST_REGISTER(start_time,
                registry.addGauge(n::kStartTime, "Start time of the process since unix epoch in seconds."));
#undef GUST_REGISTER
  m.resident_memory->series().setCallback([] {
    auto rss = readResidentMemoryBytes();
    return rss ? static_cast<double>(*rss) : std::numeric_limits<double>::quiet_NaN();
  });
  // Without /proc, the time of registration is within moments of the start.
  auto started = readProcessStartTimeSeconds();
  m.start_time->series().set(
      started ? *started : std::chrono::duration<double>(clock.wallNow().time_since_epoch()).count());
  return m;
}

}  // namespace gust
