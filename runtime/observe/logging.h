#pragma once
// The host's log lines, and the per-app fan-out behind `gust logs APP --follow`.
//
// Log lines go through spdlog with one of two formatters: text for people (the default) and
// JSON lines for machines (`--log-format json`): one JSON object per line with "ts" (RFC 3339,
// UTC, milliseconds), "level", "msg" and the line's structured fields. Structured fields
// (app, function, invocation_id, trace_id, ...) ride next to the message, not inside it: text
// mode prints them as a ` key=value` suffix, JSON mode as members of the object.
//
// Fields reach the formatter through a thread-local set for the duration of one logger call,
// so the logger must be synchronous (spdlog's default; no async logger, no backtrace).

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <memory>
#include <spdlog/spdlog.h>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/result.h"

namespace gust {

enum class LogFormat { kText, kJson };
enum class LogLevel { kDebug, kInfo, kWarn, kError };

// "text" or "json"; anything else is kBadInput naming both choices.
Result<LogFormat> parseLogFormat(std::string_view name);

struct LogField {
  std::string_view key;
  std::string_view value;
};

struct InvocationFields {
  std::string_view app;
  std::string_view function;
  std::string_view invocation_id;
  std::string_view trace_id;  // 32 hex digits, or empty when the invocation has none
};

// A logger named `name` that writes through `sink` in `format`. The text format marks the
// level as the color range, which a color sink paints and any other sink ignores.
std::shared_ptr<spdlog::logger> makeLogger(std::string name, LogFormat format, spdlog::sink_ptr sink);

// Installs the host's logger ("gust", to stderr, colored when stderr is a terminal and the
// format is text) as spdlog's default, so plain spdlog::info() calls follow the format too.
void setUpHostLogging(LogFormat format);
// What `gust serve` calls once its settings are read: the level, then setUpHostLogging.
void applyLogSettings(LogLevel level, LogFormat format);

// One line with structured fields. Cheap when the level is off: nothing is formatted.
// Keys must be [a-z_]+ and not "ts", "level" or "msg" (a clashing key is written with a
// leading '_' rather than hide the line's own member).
void logWithFields(spdlog::logger& logger, spdlog::level::level_enum level, std::initializer_list<LogField> fields,
                   std::string_view msg);
// One line about an invocation: app, function, invocation_id and, when set, trace_id.
void logInvocation(spdlog::logger& logger, spdlog::level::level_enum level, const InvocationFields& fields,
                   std::string_view msg);
// The same, on spdlog's default logger.
void logInvocation(spdlog::level::level_enum level, const InvocationFields& fields, std::string_view msg);

// --- Formatting pieces, exposed for tests ---

// RFC 3339 in UTC with milliseconds: 2024-05-01T12:34:56.789Z.
std::string formatRfc3339Millis(std::chrono::system_clock::time_point t);
// Text mode: control characters (newline, escape, ...) become \n, \t, \r or \xHH so one log
// call is one line and user text cannot forge lines or send terminal escapes; a backslash
// becomes "\\" so the escapes read back unambiguously.
std::string escapeForTextLog(std::string_view text);

// --- Per-app log fan-out ---

enum class LogStream { kStdout, kStderr, kLog };
const char* logStreamName(LogStream stream);

struct LogLine {
  std::chrono::system_clock::time_point ts;
  std::string app;
  std::string function;
  std::string invocation_id;
  std::string trace_id;  // 32 hex digits, or empty
  LogStream stream = LogStream::kLog;
  spdlog::level::level_enum level = spdlog::level::info;
  std::string text;
  uint64_t seq = 0;  // set by LogFanout: 1, 2, 3... per app, so a follower sees any gap
};

// A line about one invocation (fields may be empty: a worker's line that is nobody's),
// stamped now, for the fan-out.
LogLine invocationLogLine(const InvocationFields& fields, LogStream stream, spdlog::level::level_enum level,
                          std::string text);
// The level of a line a function wrote with ctx.log (0 debug, 1 info, 2 and up warning).
spdlog::level::level_enum functionLogLevel(uint32_t level);

// The line as one JSON object (what `/v1/apps/{app}/logs` answers): seq, ts, app, function,
// invocation_id, trace_id, stream, level, text; invalid UTF-8 in any string is replaced with U+FFFD.
std::string logLineToJson(const LogLine& line);
nlohmann::json logLineJson(const LogLine& line);

// Keeps the last lines of each app, bounded in count and bytes, and hands each new line to
// the app's subscribers as it arrives.
//
// Contract: loop thread only; subscribers are called on it, inside append(), in the order
// they subscribed, with lines in the order appended. A subscriber may unsubscribe itself or
// others, subscribe, or append from its callback: a line appended from a callback is
// delivered after the current one has reached every subscriber. Because everything runs on
// one thread, `recent()` followed by `subscribe()` in the same loop turn misses no line and
// repeats none. The fan-out owns the subscribers' callbacks; destroying it drops them
// without calling them.
class LogFanout {
 public:
  struct Limits {
    size_t max_lines_per_app = 1000;
    size_t max_bytes_per_app = 1024 * 1024;
    size_t max_line_bytes = 16 * 1024;  // longer text is cut (at a UTF-8 boundary) and marked
    size_t max_subscribers_per_app = 64;
  };
  using SubscriptionId = uint64_t;
  using Subscriber = std::function<void(const LogLine&)>;

  LogFanout();
  explicit LogFanout(Limits limits);
  LogFanout(const LogFanout&) = delete;
  LogFanout& operator=(const LogFanout&) = delete;

  // Stores the line (evicting the app's oldest lines past the bounds) and delivers it.
  void append(LogLine line);
  // The app's stored lines, oldest first; at most `max_lines` of the newest ones.
  std::vector<LogLine> recent(std::string_view app, size_t max_lines = SIZE_MAX) const;
  // The seq the app's next line gets. Taken when an invocation starts, it bounds the
  // search for that invocation's lines.
  uint64_t nextSeq(std::string_view app) const;
  // The stored lines of one invocation appended since `since_seq`, oldest first; at most
  // the newest `max_lines`. Walks back only over lines appended since then.
  std::vector<LogLine> linesOf(std::string_view app, std::string_view invocation_id, uint64_t since_seq,
                               size_t max_lines) const;
  // kOverloaded when the app already has max_subscribers_per_app followers.
  Result<SubscriptionId> subscribe(const std::string& app, Subscriber subscriber);
  // Unknown or already removed ids are ignored.
  void unsubscribe(SubscriptionId id);
  // Forgets an app's lines (a deleted app). Its followers stay subscribed.
  void clearApp(std::string_view app);

  size_t storedBytes(std::string_view app) const;
  size_t subscriberCount(std::string_view app) const;

 private:
  // Lines are shared between the ring and a delivery in progress, so a callback that
  // clears or overflows the ring cannot pull a line out from under the other subscribers.
  using LinePtr = std::shared_ptr<const LogLine>;
  struct AppLog {
    std::deque<LinePtr> lines;
    size_t bytes = 0;
    uint64_t next_seq = 1;
    // Ordered by id, which is subscription order. Shared so a callback that unsubscribes
    // itself stays alive until it returns.
    std::map<SubscriptionId, std::shared_ptr<Subscriber>> subscribers;
  };
  static size_t lineBytes(const LogLine& line);
  void deliver(const LinePtr& line);

  Limits limits_;
  std::map<std::string, AppLog, std::less<>> apps_;
  std::map<SubscriptionId, std::string> subscription_apps_;
  SubscriptionId next_subscription_ = 1;
  bool delivering_ = false;
  std::deque<LinePtr> undelivered_;  // appended from inside a callback
};

}  // namespace gust
