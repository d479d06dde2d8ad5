#pragma once
// Optional export of finished spans to an OpenTelemetry collector as OTLP/HTTP JSON
// (POST {endpoint}/v1/traces, Content-Type: application/json).
//
// Contract: push() may be called from any thread and never waits on the network: it takes a
// lock only for a push_back into a bounded queue and, when the queue is full or the exporter
// is shut down, drops the span and counts it. The exporter's own thread batches spans (up to
// max_batch, or whatever is queued every flush_interval), posts each batch once with short
// connect and read timeouts, and on any failure drops the batch and counts it: tracing must
// never hold back or slow down invocations. Batching runs on real time (its own thread, no
// loop), which only decides when a batch leaves, never what it holds.
//
// Lifetime: start() runs the thread; shutdown() (or the destructor) flushes what is queued
// until a deadline, cuts off a post still running at the deadline, and joins. After that
// push() drops; stats() stays readable.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "runtime/base/result.h"
#include "runtime/protocol/trace_context.h"

namespace httplib {
class Client;
}

namespace gust {

// Values are OTLP's (opentelemetry/proto/trace/v1/trace.proto).
enum class SpanKind { kInternal = 1, kServer = 2, kClient = 3, kProducer = 4, kConsumer = 5 };
enum class SpanStatusCode { kUnset = 0, kOk = 1, kError = 2 };

struct SpanAttribute {
  std::string key;
  std::variant<std::string, int64_t> value;
};

struct Span {
  TraceId trace_id{};
  SpanId span_id{};
  SpanId parent_span_id{};  // all zero: a root span, sent without parentSpanId
  std::string trace_state;
  std::string name;
  SpanKind kind = SpanKind::kServer;
  std::chrono::system_clock::time_point start;
  std::chrono::system_clock::time_point end;
  std::vector<SpanAttribute> attributes;
  SpanStatusCode status = SpanStatusCode::kUnset;
  std::string status_message;
};

// A span for `ctx` (its trace, span, parent and tracestate) with the given name and kind;
// the caller fills in times, attributes and status.
Span spanFor(const SpanContext& ctx, std::string name, SpanKind kind);

// Bounds applied to every span at push(): attributes past kMaxSpanAttributes are dropped,
// and strings (name, attribute values, status message) are cut to kMaxSpanStringBytes.
inline constexpr size_t kMaxSpanAttributes = 64;
inline constexpr size_t kMaxSpanStringBytes = 4096;

// The OTLP JSON body for one batch: resourceSpans -> scopeSpans -> spans, ids in hex, times
// as decimal strings of Unix nanoseconds, int attributes as decimal strings (the proto3 JSON
// mapping of int64). Invalid UTF-8 is replaced with U+FFFD.
std::string encodeOtlpJson(const std::vector<Span>& spans, std::string_view service_name);

struct OtlpExporterOptions {
  // Base URL of the collector: "http://host:port" or "https://host:port", optionally with a
  // path prefix; "/v1/traces" is appended.
  std::string endpoint;
  std::string service_name = "gust";
  size_t max_queue = 4096;
  size_t max_batch = 512;
  std::chrono::milliseconds flush_interval{1000};
  std::chrono::milliseconds connect_timeout{500};
  std::chrono::milliseconds request_timeout{2000};  // read and write, each
};

class OtlpExporter {
 public:
  struct Stats {
    uint64_t spans_exported = 0;       // in batches the collector accepted
    uint64_t spans_dropped_full = 0;   // pushed while the queue was full or after shutdown
    // In batches that failed or that the collector rejected, or still queued at the
    // shutdown deadline.
    uint64_t spans_dropped_failed = 0;
    uint64_t batches_sent = 0;
    uint64_t batches_failed = 0;
  };

  // Checks the options (endpoint scheme, host and port; non-zero bounds) and starts the
  // exporter thread. kBadInput names the option that is wrong.
  static Result<std::unique_ptr<OtlpExporter>> start(OtlpExporterOptions options);

  OtlpExporter(const OtlpExporter&) = delete;
  OtlpExporter& operator=(const OtlpExporter&) = delete;
  ~OtlpExporter();

  // Queues a finished span for export. Never blocks on I/O. False when it was dropped.
  bool push(Span&& span);
  // Sends what is queued until `deadline` from now, then stops the thread and joins it;
  // spans still queued then are counted as dropped. Idempotent; the destructor calls it
  // with a 2 s deadline.
  void shutdown(std::chrono::milliseconds deadline);

  Stats stats() const;
  const std::string& tracesUrl() const { return traces_url_; }

 private:
  OtlpExporter(OtlpExporterOptions options, std::string origin, std::string traces_path);
  void run();
  void sendBatch(std::vector<Span>& batch);

  const OtlpExporterOptions options_;
  const std::string traces_path_;
  const std::string traces_url_;
  std::unique_ptr<httplib::Client> client_;  // used by the exporter thread; stop() from shutdown

  std::mutex mutex_;
  std::condition_variable wake_;  // the exporter thread waits on it for work or stop
  std::condition_variable done_;  // shutdown() waits on it for the thread's end
  std::vector<Span> queue_;  // guarded by mutex_
  bool stopping_ = false;    // guarded by mutex_
  std::chrono::steady_clock::time_point deadline_;  // guarded by mutex_, set with stopping_
  bool finished_ = false;    // guarded by mutex_: the thread has left its loop
  std::thread thread_;
  bool joined_ = false;   // touched only by the thread that calls shutdown()
  bool failing_ = false;  // exporter thread only: log a failure once, not once per batch

  std::atomic<uint64_t> spans_exported_{0};
  std::atomic<uint64_t> spans_dropped_full_{0};
  std::atomic<uint64_t> spans_dropped_failed_{0};
  std::atomic<uint64_t> batches_sent_{0};
  std::atomic<uint64_t> batches_failed_{0};
};

}  // namespace gust
