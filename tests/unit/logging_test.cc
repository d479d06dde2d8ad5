#include "runtime/observe/logging.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <spdlog/sinks/ostream_sink.h>
#include <sstream>
#include <string>
#include <vector>

using namespace gust;

namespace {

// A logger writing into a string, in the given format, at every level.
struct CapturedLogger {
  explicit CapturedLogger(LogFormat format)
      : logger(makeLogger("test", format, std::make_shared<spdlog::sinks::ostream_sink_st>(out))) {
    logger->set_level(spdlog::level::trace);
  }
  std::vector<std::string> lines() const {
    std::vector<std::string> result;
    std::string text = out.str();
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      REQUIRE(end != std::string::npos);  // every line ends with a newline
      result.push_back(text.substr(start, end - start));
      start = end + 1;
    }
    return result;
  }
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> logger;
};

const std::regex kTimestamp(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD

LogLine lineFor(std::string app, std::string text, LogStream stream = LogStream::kStdout) {
  LogLine line;
  line.ts = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
  line.app = std::move(app);
  line.function = "fn";
  line.invocation_id = "inv1";
  line.stream = stream;
  line.text = std::move(text);
  return line;
}

}  // namespace

TEST_CASE("the log format flag takes text or json and names both when wrong") {
  CHECK(*parseLogFormat("text") == LogFormat::kText);
  CHECK(*parseLogFormat("json") == LogFormat::kJson);
  auto bad = parseLogFormat("JSON");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == ErrorKind::kBadInput);
  CHECK(bad.error().message == "unknown log format \"JSON\": use \"text\" or \"json\"");
}

TEST_CASE("timestamps are RFC 3339 in UTC with milliseconds") {
  using namespace std::chrono;
  CHECK(formatRfc3339Millis(system_clock::time_point(milliseconds(1'700'000'000'123))) == "2023-11-14T22:13:20.123Z");
  CHECK(formatRfc3339Millis(system_clock::time_point(milliseconds(0))) == "1970-01-01T00:00:00.000Z");
  CHECK(formatRfc3339Millis(system_clock::time_point(microseconds(951'782'400'999'999))) ==
        "2000-02-29T00:00:00.999Z");
}

TEST_CASE("every JSON log line is one valid object, whatever the message holds") {
  CapturedLogger captured(LogFormat::kJson);
  const std::vector<std::pair<std::string, std::string>> messages = {
      {"plain", "plain"},
      {"say \"hi\" \\ bye", "say \"hi\" \\ bye"},
      {"two\nlines\r\nand\ttab", "two\nlines\r\nand\ttab"},
      {std::string("nul\0byte", 8), std::string("nul\0byte", 8)},
      {"bell\x07 esc\x1b[31m del\x7f", "bell\x07 esc\x1b[31m del\x7f"},
      {"caf\xc3\xa9 \xe2\x9c\x93", "caf\xc3\xa9 \xe2\x9c\x93"},
      {"bad \xff\xfe utf8", "bad " + kReplacement + kReplacement + " utf8"},
      {"cut \xe2\x9c", "cut " + kReplacement},
      {"{\"msg\":\"forged\"}", "{\"msg\":\"forged\"}"},
  };
  for (const auto& [message, expected] : messages) {
    captured.logger->warn(std::string_view(message));
  }
  auto lines = captured.lines();
  REQUIRE(lines.size() == messages.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    auto j = nlohmann::json::parse(lines[i], nullptr, false);
    REQUIRE_MESSAGE(j.is_object(), lines[i]);
    CHECK(j.size() == 3);
    CHECK(std::regex_match(j["ts"].get<std::string>(), kTimestamp));
    CHECK(j["level"] == "warning");
    CHECK(j["msg"] == messages[i].second);
    // Raw control bytes never reach the output: they are \u escapes inside the string.
    for (char c : lines[i]) CHECK(static_cast<unsigned char>(c) >= 0x20);
  }
  CHECK(lines[0].starts_with("{\"ts\":"));  // ts, level, msg lead every line
}

TEST_CASE("an invocation's line carries its fields: JSON members in json mode") {
  CapturedLogger captured(LogFormat::kJson);
  logInvocation(*captured.logger, spdlog::level::info,
                {"shop", "checkout", "0123abcd", "4bf92f3577b34da6a3ce929d0e0e4736"}, "started \"cold\"");
  logInvocation(*captured.logger, spdlog::level::err, {"shop", "checkout", "0123abce", ""}, "no trace");
  captured.logger->info("after {}", 2);  // a plain line carries no leftover fields
  logWithFields(*captured.logger, spdlog::level::debug, {{"msg", "clash"}, {"queue", "orders"}}, "fields");
  auto lines = captured.lines();
  REQUIRE(lines.size() == 4);

  auto first = nlohmann::json::parse(lines[0], nullptr, false);
  REQUIRE(first.is_object());
  CHECK(first["msg"] == "started \"cold\"");
  CHECK(first["level"] == "info");
  CHECK(first["app"] == "shop");
  CHECK(first["function"] == "checkout");
  CHECK(first["invocation_id"] == "0123abcd");
  CHECK(first["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736");

  auto second = nlohmann::json::parse(lines[1], nullptr, false);
  CHECK(second["level"] == "error");
  CHECK(second["invocation_id"] == "0123abce");
  CHECK_FALSE(second.contains("trace_id"));

  auto third = nlohmann::json::parse(lines[2], nullptr, false);
  CHECK(third["msg"] == "after 2");
  CHECK(third.size() == 3);

  auto fourth = nlohmann::json::parse(lines[3], nullptr, false);
  CHECK(fourth["msg"] == "fields");
  CHECK(fourth["_msg"] == "clash");
  CHECK(fourth["queue"] == "orders");
}

TEST_CASE("an invocation's line carries its fields: a key=value suffix in text mode") {
  CapturedLogger captured(LogFormat::kText);
  logInvocation(*captured.logger, spdlog::level::info,
                {"shop", "checkout", "0123abcd", "4bf92f3577b34da6a3ce929d0e0e4736"}, "started");
  logInvocation(*captured.logger, spdlog::level::warn, {"my app", "say \"x\"", "", ""}, "odd\nvalues");
  captured.logger->error("plain");
  auto lines = captured.lines();
  REQUIRE(lines.size() == 3);
  CHECK(std::regex_match(lines[0].substr(0, 24), kTimestamp));
  CHECK(lines[0].substr(24) ==
        " info started app=shop function=checkout invocation_id=0123abcd trace_id=4bf92f3577b34da6a3ce929d0e0e4736");
  // A message or value cannot start a new line; values that need it are quoted.
  CHECK(lines[1].substr(24) == " warning odd\\nvalues app=\"my app\" function=\"say \\\"x\\\"\" invocation_id=\"\"");
  CHECK(lines[2].substr(24) == " error plain");
}

TEST_CASE("text mode escapes control characters so user text cannot forge lines or color the terminal") {
  CHECK(escapeForTextLog("a\nb\r\tc") == "a\\nb\\r\\tc");
  CHECK(escapeForTextLog("\x1b[31mred\x7f") == "\\x1b[31mred\\x7f");
  CHECK(escapeForTextLog("back\\slash") == "back\\\\slash");
  CHECK(escapeForTextLog("caf\xc3\xa9") == "caf\xc3\xa9");
  CapturedLogger captured(LogFormat::kText);
  captured.logger->info("line one\n2024-01-01T00:00:00.000Z error forged");
  CHECK(captured.lines().size() == 1);
}

TEST_CASE("a line below the logger's level costs no formatting and writes nothing") {
  CapturedLogger captured(LogFormat::kJson);
  captured.logger->set_level(spdlog::level::warn);
  logInvocation(*captured.logger, spdlog::level::info, {"a", "f", "i", ""}, "hidden");
  logWithFields(*captured.logger, spdlog::level::debug, {{"k", "v"}}, "hidden");
  CHECK(captured.out.str().empty());
}

TEST_CASE("the host logger becomes spdlog's default and keeps the level already set") {
  auto previous = spdlog::default_logger();
  spdlog::set_level(spdlog::level::warn);
  setUpHostLogging(LogFormat::kJson);
  CHECK(spdlog::default_logger()->name() == "gust");
  CHECK(spdlog::default_logger()->level() == spdlog::level::warn);
  spdlog::set_default_logger(previous);
}

TEST_CASE("a log line for followers is one JSON object with its app, stream and sequence") {
  LogLine line = lineFor("shop", "hi \"there\"\n\xff");
  line.seq = 7;
  auto j = nlohmann::json::parse(logLineToJson(line), nullptr, false);
  REQUIRE(j.is_object());
  CHECK(j["ts"] == "2023-11-14T22:13:20.123Z");
  CHECK(j["app"] == "shop");
  CHECK(j["function"] == "fn");
  CHECK(j["invocation_id"] == "inv1");
  CHECK(j["trace_id"] == "");
  CHECK(j["stream"] == "stdout");
  CHECK(j["level"] == "info");
  CHECK(j["seq"] == 7);
  CHECK(j["text"] == "hi \"there\"\n" + kReplacement);
  CHECK(logStreamName(LogStream::kStderr) == std::string("stderr"));
  CHECK(logStreamName(LogStream::kLog) == std::string("log"));
}

TEST_CASE("each app keeps only its last lines, bounded in count") {
  LogFanout fanout(LogFanout::Limits{.max_lines_per_app = 3});
  for (int i = 1; i <= 5; ++i) fanout.append(lineFor("shop", "line " + std::to_string(i)));
  fanout.append(lineFor("blog", "other app"));
  auto shop = fanout.recent("shop");
  REQUIRE(shop.size() == 3);
  CHECK(shop[0].text == "line 3");
  CHECK(shop[0].seq == 3);
  CHECK(shop[2].text == "line 5");
  CHECK(shop[2].seq == 5);
  auto newest = fanout.recent("shop", 2);
  REQUIRE(newest.size() == 2);
  CHECK(newest[0].text == "line 4");
  REQUIRE(fanout.recent("blog").size() == 1);
  CHECK(fanout.recent("blog")[0].seq == 1);  // sequences count per app
  CHECK(fanout.recent("nobody").empty());
}

TEST_CASE("each app's stored lines stay under its byte bound") {
  LogFanout::Limits limits;
  limits.max_bytes_per_app = 8 * 1024;
  LogFanout fanout(limits);
  for (int i = 0; i < 1000; ++i) fanout.append(lineFor("shop", std::string(300, 'x') + std::to_string(i)));
  CHECK(fanout.storedBytes("shop") <= limits.max_bytes_per_app);
  auto kept = fanout.recent("shop");
  REQUIRE(kept.size() > 10);
  CHECK(kept.size() < 30);
  CHECK(kept.back().text.ends_with("999"));
  CHECK(kept.back().seq == 1000);
}

TEST_CASE("a line over the line bound is cut at a UTF-8 boundary and says how much went") {
  LogFanout::Limits limits;
  limits.max_line_bytes = 10;
  LogFanout fanout(limits);
  fanout.append(lineFor("shop", "123456789\xc3\xa9tail"));  // the é straddles byte 10
  auto kept = fanout.recent("shop");
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].text == "123456789 [truncated 6 bytes]");
}

TEST_CASE("a follower gets its app's lines in order, and none after it unsubscribes") {
  LogFanout fanout;
  std::vector<std::string> seen;
  auto id = fanout.subscribe("shop", [&seen](const LogLine& line) { seen.push_back(line.text); });
  REQUIRE(id);
  CHECK(fanout.subscriberCount("shop") == 1);
  fanout.append(lineFor("shop", "a"));
  fanout.append(lineFor("blog", "not mine"));
  fanout.append(lineFor("shop", "b", LogStream::kStderr));
  fanout.append(lineFor("shop", "c"));
  CHECK(seen == std::vector<std::string>{"a", "b", "c"});
  fanout.unsubscribe(*id);
  fanout.unsubscribe(*id);  // twice is harmless
  fanout.unsubscribe(12345);
  fanout.append(lineFor("shop", "d"));
  CHECK(seen.size() == 3);
  CHECK(fanout.subscriberCount("shop") == 0);
  CHECK(fanout.recent("shop").size() == 4);  // the ring keeps lines regardless of followers
}

TEST_CASE("followers are called in the order they subscribed") {
  LogFanout fanout;
  std::vector<std::string> calls;
  for (const char* name : {"first", "second", "third"}) {
    REQUIRE(fanout.subscribe("shop", [&calls, name](const LogLine& l) { calls.push_back(name + (":" + l.text)); }));
  }
  fanout.append(lineFor("shop", "x"));
  fanout.append(lineFor("shop", "y"));
  CHECK(calls == std::vector<std::string>{"first:x", "second:x", "third:x", "first:y", "second:y", "third:y"});
}

TEST_CASE("a follower may unsubscribe itself or another from its callback") {
  LogFanout fanout;
  std::vector<std::string> calls;
  LogFanout::SubscriptionId self = 0;
  LogFanout::SubscriptionId victim = 0;
  auto a = fanout.subscribe("shop", [&](const LogLine& l) {
    calls.push_back("a:" + l.text);
    fanout.unsubscribe(self);
    fanout.unsubscribe(victim);
  });
  REQUIRE(a);
  self = *a;
  auto b = fanout.subscribe("shop", [&](const LogLine& l) { calls.push_back("b:" + l.text); });
  REQUIRE(b);
  victim = *b;
  auto c = fanout.subscribe("shop", [&](const LogLine& l) { calls.push_back("c:" + l.text); });
  REQUIRE(c);
  fanout.append(lineFor("shop", "1"));
  fanout.append(lineFor("shop", "2"));
  CHECK(calls == std::vector<std::string>{"a:1", "c:1", "c:2"});
  CHECK(fanout.subscriberCount("shop") == 1);
}

TEST_CASE("a line appended from a callback reaches every follower after the current one") {
  LogFanout fanout;
  std::vector<std::string> calls;
  REQUIRE(fanout.subscribe("shop", [&](const LogLine& l) {
    calls.push_back("a:" + l.text);
    if (l.text == "1") fanout.append(lineFor("shop", "echo"));
  }));
  REQUIRE(fanout.subscribe("shop", [&](const LogLine& l) { calls.push_back("b:" + l.text); }));
  fanout.append(lineFor("shop", "1"));
  CHECK(calls == std::vector<std::string>{"a:1", "b:1", "a:echo", "b:echo"});
  auto stored = fanout.recent("shop");
  REQUIRE(stored.size() == 2);
  CHECK(stored[1].seq == 2);
}

TEST_CASE("a follower's line survives a callback that clears the app's ring") {
  LogFanout fanout;
  std::vector<std::string> calls;
  REQUIRE(fanout.subscribe("shop", [&](const LogLine& l) {
    calls.push_back("a:" + l.text);
    fanout.clearApp("shop");
  }));
  REQUIRE(fanout.subscribe("shop", [&](const LogLine& l) { calls.push_back("b:" + l.text); }));
  fanout.append(lineFor("shop", std::string(100, 'z')));
  REQUIRE(calls.size() == 2);
  CHECK(calls[1] == "b:" + std::string(100, 'z'));
  CHECK(fanout.recent("shop").empty());
  CHECK(fanout.storedBytes("shop") == 0);
  CHECK(fanout.subscriberCount("shop") == 2);  // followers outlive a clear
}

TEST_CASE("an app's followers are bounded; one too many is told to try again") {
  LogFanout::Limits limits;
  limits.max_subscribers_per_app = 2;
  LogFanout fanout(limits);
  auto noop = [](const LogLine&) {};
  auto first = fanout.subscribe("shop", noop);
  REQUIRE(first);
  REQUIRE(fanout.subscribe("shop", noop));
  auto third = fanout.subscribe("shop", noop);
  REQUIRE_FALSE(third);
  CHECK(third.error().kind == ErrorKind::kOverloaded);
  CHECK(third.error().message.find("\"shop\" already has 2 log followers") != std::string::npos);
  CHECK(fanout.subscribe("blog", noop));  // the bound is per app
  fanout.unsubscribe(*first);
  CHECK(fanout.subscribe("shop", noop));
}

TEST_CASE("recent lines then a subscription in the same turn miss nothing and repeat nothing") {
  LogFanout fanout;
  for (int i = 1; i <= 3; ++i) fanout.append(lineFor("shop", std::to_string(i)));
  std::vector<uint64_t> seqs;
  for (const auto& l : fanout.recent("shop")) seqs.push_back(l.seq);
  REQUIRE(fanout.subscribe("shop", [&seqs](const LogLine& l) { seqs.push_back(l.seq); }));
  for (int i = 4; i <= 5; ++i) fanout.append(lineFor("shop", std::to_string(i)));
  CHECK(seqs == std::vector<uint64_t>{1, 2, 3, 4, 5});
}
