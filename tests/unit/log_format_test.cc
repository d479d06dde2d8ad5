#include "runtime/log_format.h"

#include <doctest/doctest.h>
#include <spdlog/details/log_msg.h>

#include <nlohmann/json.hpp>

using namespace gust;

TEST_CASE("a JSON log line stays one valid JSON object whatever the message holds") {
  auto formatter = makeJsonLogFormatter();
  std::string message = "say \"hi\"\nand\ttab \\ and bad UTF-8 \xff\xfe end";
  spdlog::details::log_msg msg(spdlog::source_loc{}, "gust", spdlog::level::warn, message);
  msg.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
  spdlog::memory_buf_t out;
  formatter->format(msg, out);
  std::string line(out.data(), out.size());
  REQUIRE(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
  auto doc = nlohmann::json::parse(line, nullptr, false);
  REQUIRE_FALSE(doc.is_discarded());
  CHECK(doc["time"] == "2023-11-14T22:13:20.123Z");
  CHECK(doc["level"] == "warning");
  CHECK(doc["msg"].get<std::string>().rfind("say \"hi\"\nand\ttab \\ and bad UTF-8 ", 0) == 0);
  CHECK(formatter->clone() != nullptr);
}
