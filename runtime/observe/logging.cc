#include "runtime/observe/logging.h"

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace gust {

namespace {

// The fields of the logger call in progress on this thread (see the header's note).
struct PendingFields {
  const LogField* begin = nullptr;
  size_t count = 0;
};
thread_local PendingFields t_fields;

class FieldsScope {
 public:
  FieldsScope(const LogField* begin, size_t count) : saved_(t_fields) { t_fields = {begin, count}; }
  ~FieldsScope() { t_fields = saved_; }
  FieldsScope(const FieldsScope&) = delete;
  FieldsScope& operator=(const FieldsScope&) = delete;

 private:
  PendingFields saved_;
};

void appendTo(spdlog::memory_buf_t& dest, std::string_view text) { dest.append(text.data(), text.data() + text.size()); }

std::string_view payloadOf(const spdlog::details::log_msg& msg) {
  return std::string_view(msg.payload.data(), msg.payload.size());
}

bool needsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (unsigned char c : value) {
    if (c <= 0x20 || c == 0x7f || c == '"' || c == '=' || c == '\\') return true;
  }
  return false;
}

class TextFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    appendTo(dest, formatRfc3339Millis(msg.time));
    dest.push_back(' ');
    msg.color_range_start = dest.size();
    auto level = spdlog::level::to_string_view(msg.level);
    dest.append(level.data(), level.data() + level.size());
    msg.color_range_end = dest.size();
    dest.push_back(' ');
    appendTo(dest, escapeForTextLog(payloadOf(msg)));
    for (size_t i = 0; i < t_fields.count; ++i) {
      const LogField& field = t_fields.begin[i];
      dest.push_back(' ');
      appendTo(dest, field.key);
      dest.push_back('=');
      if (needsQuotes(field.value)) {
        // Quoted like logfmt: the escapes of escapeForTextLog plus \" for the quote.
        dest.push_back('"');
        for (char c : escapeForTextLog(field.value)) {
          if (c == '"') dest.push_back('\\');
          dest.push_back(c);
        }
        dest.push_back('"');
      } else {
        appendTo(dest, field.value);
      }
    }
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<TextFormatter>(); }
};

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::ordered_json line;
    line["ts"] = formatRfc3339Millis(msg.time);
    auto level = spdlog::level::to_string_view(msg.level);
    line["level"] = std::string(level.data(), level.size());
    line["msg"] = std::string(payloadOf(msg));
    for (size_t i = 0; i < t_fields.count; ++i) {
      const LogField& field = t_fields.begin[i];
      std::string key(field.key);
      while (line.contains(key)) key.insert(key.begin(), '_');  // never hide ts, level or msg
      line[key] = std::string(field.value);
    }
    // Invalid UTF-8 from user output becomes U+FFFD; control characters become \u00XX.
    appendTo(dest, line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

Result<LogFormat> parseLogFormat(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return makeError(ErrorKind::kBadInput,
                   "unknown log format \"" + std::string(name) + "\": use \"text\" or \"json\"");
}

std::shared_ptr<spdlog::logger> makeLogger(std::string name, LogFormat format, spdlog::sink_ptr sink) {
  auto logger = std::make_shared<spdlog::logger>(std::move(name), std::move(sink));
  if (format == LogFormat::kJson) {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_formatter(std::make_unique<TextFormatter>());
  }
  return logger;
}

void setUpHostLogging(LogFormat format) {
  spdlog::sink_ptr sink;
  // JSON lines are for machines: escape codes around the level would corrupt them.
  if (format == LogFormat::kText && ::isatty(STDERR_FILENO) == 1) {
    sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  auto logger = makeLogger("gust", format, std::move(sink));
  logger->set_level(spdlog::default_logger_raw()->level());
  spdlog::set_default_logger(std::move(logger));
}

void applyLogSettings(LogLevel level, LogFormat format) {
  switch (level) {
    case LogLevel::kDebug: spdlog::set_level(spdlog::level::debug); break;
    case LogLevel::kInfo: spdlog::set_level(spdlog::level::info); break;
    case LogLevel::kWarn: spdlog::set_level(spdlog::level::warn); break;
    case LogLevel::kError: spdlog::set_level(spdlog::level::err); break;
  }
  setUpHostLogging(format);
}

void logWithFields(spdlog::logger& logger, spdlog::level::level_enum level, std::initializer_list<LogField> fields,
                   std::string_view msg) {
  if (!logger.should_log(level)) return;
  FieldsScope scope(fields.begin(), fields.size());
  logger.log(level, spdlog::string_view_t(msg.data(), msg.size()));
}

void logInvocation(spdlog::logger& logger, spdlog::level::level_enum level, const InvocationFields& fields,
                   std::string_view msg) {
  if (!logger.should_log(level)) return;
  const LogField all[] = {{"app", fields.app},
                          {"function", fields.function},
                          {"invocation_id", fields.invocation_id},
                          {"trace_id", fields.trace_id}};
  FieldsScope scope(all, fields.trace_id.empty() ? 3 : 4);
  logger.log(level, spdlog::string_view_t(msg.data(), msg.size()));
}

void logInvocation(spdlog::level::level_enum level, const InvocationFields& fields, std::string_view msg) {
  logInvocation(*spdlog::default_logger_raw(), level, fields, msg);
}

std::string formatRfc3339Millis(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  auto since_epoch = t.time_since_epoch();
  auto secs = floor<seconds>(since_epoch);
  auto millis = duration_cast<milliseconds>(since_epoch - secs).count();
  std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm utc{};
  ::gmtime_r(&tt, &utc);
  char buf[96];  // room for any int the compiler can imagine in each field
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));
  return buf;
}

std::string escapeForTextLog(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\\': out += "\\\\"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += ch;
        }
    }
  }
  return out;
}

const char* logStreamName(LogStream stream) {
  switch (stream) {
    case LogStream::kStdout: return "stdout";
    case LogStream::kStderr: return "stderr";
    case LogStream::kLog: return "log";
  }
  return "log";
}

nlohmann::json logLineJson(const LogLine& line) {
  nlohmann::json j;
  j["seq"] = line.seq;
  j["ts"] = formatRfc3339Millis(line.ts);
  j["app"] = line.app;
  j["function"] = line.function;
  j["invocation_id"] = line.invocation_id;
  j["trace_id"] = line.trace_id;
  j["stream"] = logStreamName(line.stream);
  auto level = spdlog::level::to_string_view(line.level);
  j["level"] = std::string(level.data(), level.size());
  j["text"] = line.text;
  return j;
}

std::string logLineToJson(const LogLine& line) {
  return logLineJson(line).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

LogFanout::LogFanout() : LogFanout(Limits{}) {}

LogFanout::LogFanout(Limits limits) : limits_(limits) {}

size_t LogFanout::lineBytes(const LogLine& line) {
  return sizeof(LogLine) + line.app.size() + line.function.size() + line.invocation_id.size() + line.trace_id.size() +
         line.text.size();
}

void LogFanout::append(LogLine line) {
  if (line.text.size() > limits_.max_line_bytes) {
    size_t cut = limits_.max_line_bytes;
    // Back up to the start of a UTF-8 sequence so the kept part stays valid text.
    while (cut > 0 && (static_cast<unsigned char>(line.text[cut]) & 0xC0) == 0x80) --cut;
    size_t dropped = line.text.size() - cut;
    line.text.resize(cut);
    line.text += " [truncated " + std::to_string(dropped) + " bytes]";
  }
  auto it = apps_.find(line.app);
  if (it == apps_.end()) it = apps_.emplace(line.app, AppLog{}).first;
  AppLog& log = it->second;
  line.seq = log.next_seq++;
  auto stored = std::make_shared<const LogLine>(std::move(line));
  log.bytes += lineBytes(*stored);
  log.lines.push_back(stored);
  while (!log.lines.empty() && (log.lines.size() > limits_.max_lines_per_app || log.bytes > limits_.max_bytes_per_app)) {
    log.bytes -= lineBytes(*log.lines.front());
    log.lines.pop_front();
  }

  if (delivering_) {
    undelivered_.push_back(std::move(stored));
    return;
  }
  delivering_ = true;
  deliver(stored);
  while (!undelivered_.empty()) {
    LinePtr next = std::move(undelivered_.front());
    undelivered_.pop_front();
    deliver(next);
  }
  delivering_ = false;
}

void LogFanout::deliver(const LinePtr& line) {
  auto app = apps_.find(line->app);
  if (app == apps_.end() || app->second.subscribers.empty()) return;
  // Callbacks may subscribe and unsubscribe: walk the ids as they were, and skip any that
  // is gone by its turn. A new subscriber starts with the next line.
  std::vector<SubscriptionId> ids;
  ids.reserve(app->second.subscribers.size());
  for (const auto& [id, subscriber] : app->second.subscribers) ids.push_back(id);
  for (SubscriptionId id : ids) {
    auto current = apps_.find(line->app);
    if (current == apps_.end()) return;
    auto sub = current->second.subscribers.find(id);
    if (sub == current->second.subscribers.end()) continue;
    std::shared_ptr<Subscriber> callback = sub->second;
    (*callback)(*line);
  }
}

std::vector<LogLine> LogFanout::recent(std::string_view app, size_t max_lines) const {
  std::vector<LogLine> out;
  auto it = apps_.find(app);
  if (it == apps_.end()) return out;
  const auto& lines = it->second.lines;
  size_t skip = lines.size() > max_lines ? lines.size() - max_lines : 0;
  out.reserve(lines.size() - skip);
  for (size_t i = skip; i < lines.size(); ++i) out.push_back(*lines[i]);
  return out;
}

LogLine invocationLogLine(const InvocationFields& fields, LogStream stream, spdlog::level::level_enum level,
                          std::string text) {
  LogLine line;
  // Only shown to whoever reads the line, like spdlog's own times; nothing decides by it,
  // so it needs no injected clock.
  line.ts = std::chrono::system_clock::now();
  line.app = std::string(fields.app);
  line.function = std::string(fields.function);
  line.invocation_id = std::string(fields.invocation_id);
  line.trace_id = std::string(fields.trace_id);
  line.stream = stream;
  line.level = level;
  line.text = std::move(text);
  return line;
}

spdlog::level::level_enum functionLogLevel(uint32_t level) {
  return level >= 2 ? spdlog::level::warn : level == 0 ? spdlog::level::debug : spdlog::level::info;
}

uint64_t LogFanout::nextSeq(std::string_view app) const {
  auto it = apps_.find(app);
  return it == apps_.end() ? 1 : it->second.next_seq;
}

std::vector<LogLine> LogFanout::linesOf(std::string_view app, std::string_view invocation_id, uint64_t since_seq,
                                        size_t max_lines) const {
  std::vector<LogLine> out;
  auto it = apps_.find(app);
  if (it == apps_.end()) return out;
  const auto& lines = it->second.lines;
  for (auto line = lines.rbegin(); line != lines.rend() && (*line)->seq >= since_seq && out.size() < max_lines;
       ++line) {
    if ((*line)->invocation_id == invocation_id) out.push_back(**line);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Result<LogFanout::SubscriptionId> LogFanout::subscribe(const std::string& app, Subscriber subscriber) {
  auto it = apps_.find(app);
  if (it == apps_.end()) it = apps_.emplace(app, AppLog{}).first;
  if (it->second.subscribers.size() >= limits_.max_subscribers_per_app) {
    return makeError(ErrorKind::kOverloaded, "app \"" + app + "\" already has " +
                                                 std::to_string(limits_.max_subscribers_per_app) +
                                                 " log followers; stop one and try again");
  }
  SubscriptionId id = next_subscription_++;
  it->second.subscribers.emplace(id, std::make_shared<Subscriber>(std::move(subscriber)));
  subscription_apps_.emplace(id, app);
  return id;
}

void LogFanout::unsubscribe(SubscriptionId id) {
  auto owner = subscription_apps_.find(id);
  if (owner == subscription_apps_.end()) return;
  auto app = apps_.find(owner->second);
  if (app != apps_.end()) {
    app->second.subscribers.erase(id);
    if (app->second.subscribers.empty() && app->second.lines.empty()) apps_.erase(app);
  }
  subscription_apps_.erase(owner);
}

void LogFanout::clearApp(std::string_view app) {
  auto it = apps_.find(app);
  if (it == apps_.end()) return;
  if (it->second.subscribers.empty()) {
    apps_.erase(it);
    return;
  }
  it->second.lines.clear();
  it->second.bytes = 0;
}

size_t LogFanout::storedBytes(std::string_view app) const {
  auto it = apps_.find(app);
  return it == apps_.end() ? 0 : it->second.bytes;
}

size_t LogFanout::subscriberCount(std::string_view app) const {
  auto it = apps_.find(app);
  return it == apps_.end() ? 0 : it->second.subscribers.size();
}

}  // namespace gust
