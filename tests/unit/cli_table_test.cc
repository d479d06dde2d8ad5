#include "runtime/cli/table.h"

#include <doctest/doctest.h>

#include "runtime/cli/progress_notice.h"

using namespace gust::cli;
using nlohmann::json;

TEST_CASE("a table lines up its columns two spaces apart and never pads the last one") {
  Table t({"APP", "VERSION", "FUNCTIONS"});
  t.add({"shop", "v12", "hello,echo"});
  t.add({"a-longer-name", "v1", "tick"});
  CHECK(t.rowCount() == 2);
  CHECK(t.render() ==
        "APP            VERSION  FUNCTIONS\n"
        "shop           v12      hello,echo\n"
        "a-longer-name  v1       tick\n");
}

TEST_CASE("a cell wider than the limit is cut with an ellipsis, except in the last column") {
  std::string wide(60, 'x');
  Table t({"A", "B"});
  t.add({wide, wide});
  std::string out = t.render();
  CHECK(out.find(std::string(Table::kMaxWidth - 1, 'x') + "…  " + wide) != std::string::npos);
}

TEST_CASE("fields turn into short text, with - for what is missing") {
  json j = {{"s", "text"}, {"n", 3}, {"b", true}, {"z", nullptr}, {"ms", 1500.0}, {"tiny", 0.84}, {"long", 12345}};
  CHECK(fieldText(j, "s") == "text");
  CHECK(fieldText(j, "n") == "3");
  CHECK(fieldText(j, "b") == "true");
  CHECK(fieldText(j, "z") == "-");
  CHECK(fieldText(j, "absent") == "-");
  CHECK(fieldText(json::array(), "s") == "-");
  CHECK(millisText(j, "ms") == "1500 ms");
  CHECK(millisText(j, "tiny") == "0.84 ms");  // sub-millisecond invocations keep two places
  CHECK(millisText(j, "long") == "12.3 s");
}

TEST_CASE("times are shown in ISO 8601 whether the host sends text or epoch milliseconds") {
  json j = {{"iso", "2026-03-29T10:00:00Z"}, {"epoch", 1774778400123LL}};
  CHECK(timeText(j, "iso") == "2026-03-29T10:00:00Z");
  CHECK(timeText(j, "epoch") == "2026-03-29T10:00:00.123Z");
}

TEST_CASE("byte counts are shown in binary units") {
  CHECK(formatBytes(512) == "512 B");
  CHECK(formatBytes(1536) == "1.5 KiB");
  CHECK(formatBytes(1258291) == "1.2 MiB");
  CHECK(formatBytes(3ull << 30) == "3.0 GiB");
}
