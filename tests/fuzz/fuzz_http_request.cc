// Feeds arbitrary bytes to RequestParser in pieces of varying size and checks the
// invariants the server relies on: every feed makes progress or asks for more, errors are
// final, and nothing that comes out exceeds the limits.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "triggers/http/request_parser.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  // The first bytes choose the chunking and small limits, so the limit paths are reached.
  uint32_t seed = static_cast<uint32_t>(data[0]) | (static_cast<uint32_t>(data[1]) << 8);
  gust::HttpLimits limits;
  if (data[2] & 1) {
    limits.max_target = 16 + data[3] % 64;
    limits.max_header_count = 1 + data[3] % 8;
    limits.max_header_bytes = 32 + data[3] * 2u;
    limits.max_body = data[3] % 32;
  }
  // As the admin server runs it: every head is an event before its body is read.
  bool stop_at_head = (data[2] & 2) != 0;
  data += 4;
  size -= 4;

  gust::RequestParser parser(limits);
  parser.stopAtHead(stop_at_head);
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  bool failed = false;
  while (!rest.empty()) {
    seed = seed * 1103515245u + 12345u;
    size_t chunk = 1 + (seed >> 16) % 64;
    std::string_view piece = rest.substr(0, chunk);
    rest.remove_prefix(piece.size());
    for (int guard = 0;; ++guard) {
      check(guard < 100000);
      gust::ParseEvent event = parser.feed(piece);
      if (event.kind == gust::ParseEvent::kNeedMore) {
        check(piece.empty());
        break;
      }
      if (event.kind == gust::ParseEvent::kError) {
        check(event.status >= 400 && event.status <= 599);
        check(!event.reason.empty());
        check(parser.failed());
        failed = true;
        break;
      }
      if (event.kind == gust::ParseEvent::kHeadComplete) {
        check(stop_at_head);
        check(parser.phase() == gust::ParsePhase::kBody);
        check(parser.request().body.empty());
        continue;
      }
      if (event.kind == gust::ParseEvent::kExpectContinue) {
        check(parser.request().expect_continue);
        check(parser.phase() == gust::ParsePhase::kBody);
        continue;
      }
      gust::HttpRequest request = parser.takeRequest();
      check(request.target.size() <= limits.max_target);
      check(request.headers.size() <= limits.max_header_count);
      check(request.body.size() <= limits.max_body);
      check(request.http_major == 1);
      check(!request.method.empty() && request.method != "CONNECT");
      check(!request.path.empty());
      size_t hosts = 0;
      for (const auto& [name, value] : request.headers) {
        check(!name.empty());
        for (char c : name) check(c != ' ' && c != '\t' && !(c >= 'A' && c <= 'Z'));
        if (name == "host") ++hosts;
      }
      check(hosts <= 1);
      if (request.http_minor >= 1) check(hosts == 1);
    }
    if (failed) {
      // An error is final: nothing more is parsed.
      std::string_view again = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
      check(parser.feed(again).kind == gust::ParseEvent::kError);
      break;
    }
  }
  return 0;
}
