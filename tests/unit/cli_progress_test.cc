// TransferProgress (runtime/cli/progress_notice.h): a line rewritten with \r on a terminal,
// one plain final line elsewhere.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "runtime/cli/progress_notice.h"

using gust::cli::TransferProgress;

namespace {

// What `write` printed through a FILE*, as a string.
template <typename Write>
std::string printed(Write write) {
  FILE* file = std::tmpfile();
  REQUIRE(file != nullptr);
  write(file);
  std::fflush(file);
  std::rewind(file);
  std::string out;
  for (int c; (c = std::fgetc(file)) != EOF;) out += static_cast<char>(c);
  std::fclose(file);
  return out;
}

}  // namespace

TEST_CASE("a transfer's progress on a terminal is one line redrawn as the percentage changes") {
  std::string out = printed([](FILE* f) {
    TransferProgress progress(f, true, "uploading", "uploaded", 4u << 20);
    progress.advance(1u << 20);
    progress.advance((1u << 20) + 10);  // still 25%: not redrawn
    progress.advance(4u << 20);
  });
  CHECK(out ==
        "\r" "uploading 0 B of 4.0 MiB (0%)\033[K"
        "\r" "uploading 1.0 MiB of 4.0 MiB (25%)\033[K"
        "\r" "uploading 4.0 MiB of 4.0 MiB (100%)\033[K"
        "\r\033[K" "uploaded 4.0 MiB\n");
}

TEST_CASE("elsewhere a transfer prints only its final line, without control characters") {
  std::string out = printed([](FILE* f) {
    TransferProgress progress(f, false, "uploading", "uploaded", 3u << 20);
    for (size_t sent = 0; sent <= (3u << 20); sent += 256u << 10) progress.advance(sent);
    progress.finish();
    progress.finish();  // once only
  });
  CHECK(out == "uploaded 3.0 MiB\n");
}
