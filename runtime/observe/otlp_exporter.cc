#include "runtime/observe/otlp_exporter.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

namespace gust {

namespace {

using ordered_json = nlohmann::ordered_json;

template <size_t N>
bool allZero(const std::array<uint8_t, N>& bytes) {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

template <size_t N>
std::string toHex(const std::array<uint8_t, N>& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * N, '0');
  for (size_t i = 0; i < N; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return out;
}

std::string unixNanos(std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return std::to_string(ns < 0 ? 0 : ns);
}

void cutString(std::string& s) {
  if (s.size() <= kMaxSpanStringBytes) return;
  size_t cut = kMaxSpanStringBytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // keep UTF-8 whole
  s.resize(cut);
}

void boundSpan(Span& span) {
  if (span.attributes.size() > kMaxSpanAttributes) span.attributes.resize(kMaxSpanAttributes);
  cutString(span.name);
  cutString(span.status_message);
  cutString(span.trace_state);
  for (auto& attribute : span.attributes) {
    cutString(attribute.key);
    if (auto* text = std::get_if<std::string>(&attribute.value)) cutString(*text);
  }
}

ordered_json encodeSpan(const Span& span) {
  ordered_json s;
  s["traceId"] = toHex(span.trace_id);
  s["spanId"] = toHex(span.span_id);
  if (!span.trace_state.empty()) s["traceState"] = span.trace_state;
  if (!allZero(span.parent_span_id)) s["parentSpanId"] = toHex(span.parent_span_id);
  s["name"] = span.name;
  s["kind"] = static_cast<int>(span.kind);
  s["startTimeUnixNano"] = unixNanos(span.start);
  s["endTimeUnixNano"] = unixNanos(span.end);
  ordered_json attributes = ordered_json::array();
  for (const auto& attribute : span.attributes) {
    ordered_json value;
    if (const auto* text = std::get_if<std::string>(&attribute.value)) {
      value["stringValue"] = *text;
    } else {
      value["intValue"] = std::to_string(std::get<int64_t>(attribute.value));
    }
    attributes.push_back(ordered_json{{"key", attribute.key}, {"value", std::move(value)}});
  }
  s["attributes"] = std::move(attributes);
  ordered_json status;
  status["code"] = static_cast<int>(span.status);
  if (!span.status_message.empty()) status["message"] = span.status_message;
  s["status"] = std::move(status);
  return s;
}

Error badOption(std::string message) { return makeError(ErrorKind::kBadInput, std::move(message)); }

struct ParsedEndpoint {
  std::string origin;  // scheme://host[:port]
  std::string traces_path;
};

Result<ParsedEndpoint> parseEndpoint(const std::string& endpoint) {
  const std::string example = " (e.g. http://127.0.0.1:4318)";
  size_t scheme_end = endpoint.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : endpoint.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") {
    return badOption("OTLP endpoint \"" + endpoint + "\" must start with http:// or https://" + example);
  }
  std::string rest = endpoint.substr(scheme_end + 3);
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.find_first_of("?#") != std::string::npos) {
    return badOption("OTLP endpoint \"" + endpoint + "\" cannot carry a query or fragment" + example);
  }
  std::string host = authority;
  std::string port;
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    if (close == std::string::npos) return badOption("OTLP endpoint \"" + endpoint + "\" has an unclosed '[' in its host");
    host = authority.substr(0, close + 1);
    std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return badOption("OTLP endpoint \"" + endpoint + "\" has junk after its IPv6 host");
      port = after.substr(1);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || host == "[]") return badOption("OTLP endpoint \"" + endpoint + "\" has no host" + example);
  if (authority.find('@') != std::string::npos) {
    return badOption("OTLP endpoint \"" + endpoint + "\" cannot carry credentials in the URL");
  }
  if (!port.empty() || authority.ends_with(':')) {
    int value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || p != port.data() + port.size() || value < 1 || value > 65535) {
      return badOption("OTLP endpoint \"" + endpoint + "\" has port \"" + port + "\"; use 1 to 65535" + example);
    }
  }
  return ParsedEndpoint{scheme + "://" + authority, path + "/v1/traces"};
}

}  // namespace

Span spanFor(const SpanContext& ctx, std::string name, SpanKind kind) {
  Span span;
  span.trace_id = ctx.trace_id;
  span.span_id = ctx.span_id;
  span.parent_span_id = ctx.parent_span_id;
  span.trace_state = ctx.tracestate;
  span.name = std::move(name);
  span.kind = kind;
  return span;
}

std::string encodeOtlpJson(const std::vector<Span>& spans, std::string_view service_name) {
  ordered_json encoded_spans = ordered_json::array();
  for (const auto& span : spans) encoded_spans.push_back(encodeSpan(span));
  ordered_json resource;
  resource["attributes"] = ordered_json::array(
      {ordered_json{{"key", "service.name"}, {"value", ordered_json{{"stringValue", std::string(service_name)}}}}});
  ordered_json scope_spans;
  scope_spans["scope"] = ordered_json{{"name", "gust"}, {"version", GUST_VERSION}};
  scope_spans["spans"] = std::move(encoded_spans);
  ordered_json resource_spans;
  resource_spans["resource"] = std::move(resource);
  resource_spans["scopeSpans"] = ordered_json::array({std::move(scope_spans)});
  ordered_json body;
  body["resourceSpans"] = ordered_json::array({std::move(resource_spans)});
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::unique_ptr<OtlpExporter>> OtlpExporter::start(OtlpExporterOptions options) {
  auto endpoint = parseEndpoint(options.endpoint);
  if (!endpoint) return endpoint.error();
  if (options.max_queue == 0 || options.max_batch == 0) {
    return badOption("OTLP exporter needs max_queue and max_batch of at least 1");
  }
  if (options.flush_interval.count() <= 0 || options.connect_timeout.count() <= 0 ||
      options.request_timeout.count() <= 0) {
    return badOption("OTLP exporter needs a positive flush interval, connect timeout and request timeout");
  }
  std::unique_ptr<OtlpExporter> exporter(
      new OtlpExporter(std::move(options), std::move(endpoint->origin), std::move(endpoint->traces_path)));
  if (!exporter->client_->is_valid()) {
    return makeError(ErrorKind::kUnavailable, "OTLP exporter cannot set up a client for " + exporter->traces_url_);
  }
  exporter->thread_ = std::thread([raw = exporter.get()] { raw->run(); });
  return exporter;
}

OtlpExporter::OtlpExporter(OtlpExporterOptions options, std::string origin, std::string traces_path)
    : options_(std::move(options)),
      traces_path_(std::move(traces_path)),
      traces_url_(origin + traces_path_),
      client_(std::make_unique<httplib::Client>(origin)) {
  client_->set_connection_timeout(options_.connect_timeout);
  client_->set_read_timeout(options_.request_timeout);
  client_->set_write_timeout(options_.request_timeout);
  client_->set_keep_alive(true);  // one connection for every batch while the collector keeps it
}

OtlpExporter::~OtlpExporter() { shutdown(std::chrono::milliseconds(2000)); }

bool OtlpExporter::push(Span&& span) {
  boundSpan(span);
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || queue_.size() >= options_.max_queue) {
      spans_dropped_full_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back(std::move(span));
    // Wake the thread once per full batch, not per span: a notify can cost a syscall.
    wake = queue_.size() == options_.max_batch;
  }
  if (wake) wake_.notify_one();
  return true;
}

void OtlpExporter::run() {
  using Clock = std::chrono::steady_clock;
  std::unique_lock<std::mutex> lock(mutex_);
  Clock::time_point next_flush = Clock::now() + options_.flush_interval;
  while (true) {
    wake_.wait_until(lock, next_flush, [this] { return stopping_ || queue_.size() >= options_.max_batch; });
    Clock::time_point now = Clock::now();
    if (stopping_ && (queue_.empty() || now >= deadline_)) break;
    if (queue_.empty()) {
      next_flush = now + options_.flush_interval;
      continue;
    }
    std::vector<Span> batch;
    if (queue_.size() <= options_.max_batch) {
      batch.swap(queue_);
    } else {
      auto split = queue_.begin() + static_cast<std::ptrdiff_t>(options_.max_batch);
      batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(split));
      queue_.erase(queue_.begin(), split);
    }
    lock.unlock();
    sendBatch(batch);
    lock.lock();
    if (queue_.size() < options_.max_batch) next_flush = Clock::now() + options_.flush_interval;
  }
  spans_dropped_failed_.fetch_add(queue_.size(), std::memory_order_relaxed);
  queue_.clear();
  finished_ = true;
  done_.notify_all();
}

void OtlpExporter::sendBatch(std::vector<Span>& batch) {
  const uint64_t n = batch.size();
  std::string body = encodeOtlpJson(batch, options_.service_name);
  httplib::Result res = client_->Post(traces_path_.c_str(), body, "application/json");
  std::string problem;
  if (!res) {
    problem = httplib::to_string(res.error());
  } else if (res->status < 200 || res->status >= 300) {
    problem = "HTTP " + std::to_string(res->status);
  }
  if (!problem.empty()) {
    batches_failed_.fetch_add(1, std::memory_order_relaxed);
    spans_dropped_failed_.fetch_add(n, std::memory_order_relaxed);
    if (!failing_) {
      spdlog::warn("OTLP export to {} failed ({}); dropping spans until it works again", traces_url_, problem);
    }
    failing_ = true;
    return;
  }
  if (failing_) spdlog::info("OTLP export to {} works again", traces_url_);
  failing_ = false;
  // A 2xx may still reject some spans: {"partialSuccess":{"rejectedSpans":"3",...}}.
  uint64_t rejected = 0;
  auto reply = nlohmann::json::parse(res->body, nullptr, false);
  if (reply.is_object() && reply.contains("partialSuccess") && reply["partialSuccess"].is_object()) {
    const auto& count = reply["partialSuccess"]["rejectedSpans"];
    if (count.is_number_unsigned()) rejected = count.get<uint64_t>();
    if (count.is_string()) {
      const std::string& text = count.get_ref<const std::string&>();
      std::from_chars(text.data(), text.data() + text.size(), rejected);
    }
  }
  rejected = std::min(rejected, n);
  batches_sent_.fetch_add(1, std::memory_order_relaxed);
  spans_exported_.fetch_add(n - rejected, std::memory_order_relaxed);
  spans_dropped_failed_.fetch_add(rejected, std::memory_order_relaxed);
}

void OtlpExporter::shutdown(std::chrono::milliseconds deadline) {
  if (joined_) return;
  std::unique_lock<std::mutex> lock(mutex_);
  if (!stopping_) {
    stopping_ = true;
    deadline_ = std::chrono::steady_clock::now() + deadline;
  }
  wake_.notify_one();
  done_.wait_until(lock, deadline_, [this] { return finished_; });
  // Past the deadline a post may still be waiting on the collector: cut its socket. A post
  // that began just before the cut is bounded by the connect and request timeouts, and the
  // thread starts no new one after the deadline.
  while (!finished_) {
    lock.unlock();
    client_->stop();
    lock.lock();
    done_.wait_for(lock, std::chrono::milliseconds(10), [this] { return finished_; });
  }
  lock.unlock();
  thread_.join();
  joined_ = true;
}

OtlpExporter::Stats OtlpExporter::stats() const {
  Stats s;
  s.spans_exported = spans_exported_.load(std::memory_order_relaxed);
  s.spans_dropped_full = spans_dropped_full_.load(std::memory_order_relaxed);
  s.spans_dropped_failed = spans_dropped_failed_.load(std::memory_order_relaxed);
  s.batches_sent = batches_sent_.load(std::memory_order_relaxed);
  s.batches_failed = batches_failed_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace gust
