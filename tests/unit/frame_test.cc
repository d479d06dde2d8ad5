#include "runtime/frame.h"

#include <doctest/doctest.h>

#include <cstring>

using namespace gust;

namespace {

// Feeds `bytes` one byte at a time and returns the frames it yields.
std::vector<std::pair<FrameType, std::string>> decodeBytewise(const std::string& bytes, FrameDecoder& decoder) {
  std::vector<std::pair<FrameType, std::string>> frames;
  for (char c : bytes) {
    decoder.feed(&c, 1);
    FrameType type;
    std::string_view payload;
    while (decoder.next(type, payload) == FrameDecoder::Status::kFrame) frames.emplace_back(type, std::string(payload));
  }
  return frames;
}

}  // namespace

TEST_CASE("an invoke frame round-trips through the decoder, split at every byte") {
  Payload p;
  p.trigger = 1;
  p.method = "POST";
  p.path = "/orders/42";
  p.query = "a=1&b=2";
  p.headers = {{"Host", "x"}, {"Content-Type", "application/json"}};
  p.params = {{"id", "42"}};
  p.body = std::string("binary\0body", 11);
  std::string wire;
  encodeInvoke(7, "inv-1", 3, 2500, p, wire);
  encodeLog(LogFrame{7, 2, "a line"}, wire);

  FrameDecoder decoder;
  auto frames = decodeBytewise(wire, decoder);
  REQUIRE(frames.size() == 2);
  REQUIRE(frames[0].first == FrameType::kInvoke);
  auto inv = decodeInvoke(frames[0].second);
  REQUIRE(inv);
  CHECK(inv->seq == 7);
  CHECK(inv->invocation_id == "inv-1");
  CHECK(inv->function_index == 3);
  CHECK(inv->timeout_ms == 2500);
  CHECK(inv->method == "POST");
  CHECK(inv->path == "/orders/42");
  CHECK(inv->query == "a=1&b=2");
  REQUIRE(inv->headers.size() == 2);
  CHECK(inv->headers[1].first == "Content-Type");
  CHECK(inv->headers[1].second == "application/json");
  REQUIRE(inv->params.size() == 1);
  CHECK(inv->params[0].second == "42");
  CHECK(inv->body == p.body);
  auto log = decodeLog(frames[1].second);
  REQUIRE(log);
  CHECK(log->level == 2);
  CHECK(log->message == "a line");
  CHECK(decoder.buffered() == 0);
}

TEST_CASE("a result frame round-trips with its kind, status, headers and body") {
  ResultFrame r;
  r.seq = 99;
  r.kind = ResultKind::kError;
  r.flags = ResultFrame::kFlagOutput;
  r.status = 500;
  r.headers = {{"X-A", "1"}};
  r.body = "it broke";
  std::string wire;
  encodeResult(r, wire);
  FrameDecoder decoder;
  FrameType type;
  std::string_view payload;
  decoder.feed(wire.data(), wire.size());
  REQUIRE(decoder.next(type, payload) == FrameDecoder::Status::kFrame);
  CHECK(type == FrameType::kResult);
  auto back = decodeResult(payload);
  REQUIRE(back);
  CHECK(back->seq == 99);
  CHECK(back->kind == ResultKind::kError);
  CHECK(back->flags == ResultFrame::kFlagOutput);
  CHECK(back->status == 500);
  CHECK(back->headers == r.headers);
  CHECK(back->body == "it broke");
  CHECK(decoder.next(type, payload) == FrameDecoder::Status::kNeedMore);
}

TEST_CASE("a frame longer than the limit is an error before its payload arrives") {
  FrameDecoder decoder(1024);
  std::string header(8, '\0');
  uint32_t length = 4096, type = static_cast<uint32_t>(FrameType::kResult);
  std::memcpy(header.data(), &length, 4);
  std::memcpy(header.data() + 4, &type, 4);
  decoder.feed(header.data(), header.size());
  FrameType t;
  std::string_view payload;
  CHECK(decoder.next(t, payload) == FrameDecoder::Status::kError);
  CHECK(decoder.error().find("exceeds the limit") != std::string::npos);
  // The stream stays failed.
  CHECK(decoder.next(t, payload) == FrameDecoder::Status::kError);
}

TEST_CASE("an unknown frame type is an error") {
  FrameDecoder decoder;
  std::string header(8, '\0');
  uint32_t type = 77;
  std::memcpy(header.data() + 4, &type, 4);
  decoder.feed(header.data(), header.size());
  FrameType t;
  std::string_view payload;
  CHECK(decoder.next(t, payload) == FrameDecoder::Status::kError);
  CHECK(decoder.error() == "unknown frame type 77");
}

TEST_CASE("truncated and lying payloads are rejected, not read past their end") {
  Payload p;
  p.method = "GET";
  p.headers = {{"a", "b"}};
  std::string wire;
  encodeInvoke(1, "id", 0, 10, p, wire);
  std::string payload = wire.substr(kFrameHeaderSize);
  for (size_t cut = 0; cut < payload.size(); ++cut) {
    CHECK_FALSE(decodeInvoke(std::string_view(payload).substr(0, cut)));
  }
  // Trailing garbage is rejected too.
  CHECK_FALSE(decodeInvoke(payload + "x"));
  // A pair count far beyond the bytes present.
  ResultFrame r;
  std::string result_wire;
  encodeResult(r, result_wire);
  std::string result_payload = result_wire.substr(kFrameHeaderSize);
  uint32_t huge = 0x7fffffff;
  std::memcpy(result_payload.data() + 20, &huge, 4);  // seq(8) kind(4) flags(4) status(4) -> pair count
  CHECK_FALSE(decodeResult(result_payload));
  // An unknown result kind.
  std::string bad_kind = result_wire.substr(kFrameHeaderSize);
  uint32_t kind = 9;
  std::memcpy(bad_kind.data() + 8, &kind, 4);
  CHECK_FALSE(decodeResult(bad_kind));
}
