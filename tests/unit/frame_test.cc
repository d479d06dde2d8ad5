#include "runtime/protocol/frame.h"

#include <doctest/doctest.h>

#include <cstring>

using namespace gust;

namespace {

// Feeds `bytes` one byte at a time and returns the frames it yields.
std::string payloadOf(const std::string& wire) { return wire.substr(kFrameHeaderSize); }

std::string resultPayload(const ResultFrame& r) {
  std::string wire;
  encodeResult(r, wire);
  return payloadOf(wire);
}

// A queue invocation of two messages with trace context.
std::string queueInvokePayload() {
  Payload p;
  p.trigger = 3;
  QueueMessage a;
  a.id = "m-1";
  a.queue = "orders";
  a.body = "first";
  a.headers = {{"Content-Type", "text/plain"}, {"traceparent", "00-aa-bb-01"}};
  a.attempt = 1;
  a.enqueued_at_ms = 1'700'000'000'123;
  QueueMessage b;
  b.id = "m-2";
  b.queue = "orders";
  b.body = std::string("sec\0nd", 6);
  b.attempt = 4;
  b.enqueued_at_ms = -5;
  p.messages = {a, b};
  TraceContext trace{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "vendor=opaque"};
  std::string wire;
  encodeInvoke(11, "inv-q", 2, 30000, trace, p, wire);
  return payloadOf(wire);
}

ResultFrame batchResult() {
  ResultFrame r;
  r.seq = 11;
  r.status = 204;
  r.settlements = {{0, SettleAction::kAck, std::chrono::milliseconds(0), ""},
                   {1, SettleAction::kRetry, std::chrono::milliseconds(250), ""},
                   {2, SettleAction::kDeadLetter, std::chrono::milliseconds(0), "poison pill"}};
  Publish out;
  out.queue = "out";
  out.id = "dedupe-1";
  out.body = "payload";
  out.headers = {{"traceparent", "00-aa-bb-01"}};
  out.delay = std::chrono::milliseconds(1500);
  Publish bare;
  bare.queue = "audit.v2_x-y";
  r.publishes = {out, bare};
  return r;
}

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
  encodeInvoke(7, "inv-1", 3, 2500, TraceContext{}, p, wire);
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
  CHECK(inv->traceparent.empty());
  CHECK(inv->tracestate.empty());
  CHECK(inv->messages.empty());
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
  encodeInvoke(1, "id", 0, 10, TraceContext{}, p, wire);
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

TEST_CASE("an invoke frame carries the trace context and every field of a queue batch") {
  std::string payload = queueInvokePayload();
  auto inv = decodeInvoke(payload);
  REQUIRE(inv);
  CHECK(inv->trigger == 3);
  CHECK(inv->traceparent == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  CHECK(inv->tracestate == "vendor=opaque");
  REQUIRE(inv->messages.size() == 2);
  CHECK(inv->messages[0].id == "m-1");
  CHECK(inv->messages[0].queue == "orders");
  CHECK(inv->messages[0].body == "first");
  REQUIRE(inv->messages[0].headers.size() == 2);
  CHECK(inv->messages[0].headers[1].first == "traceparent");
  CHECK(inv->messages[0].headers[1].second == "00-aa-bb-01");
  CHECK(inv->messages[0].attempt == 1);
  CHECK(inv->messages[0].enqueued_at_ms == 1'700'000'000'123);
  CHECK(inv->messages[1].body == std::string("sec\0nd", 6));
  CHECK(inv->messages[1].headers.empty());
  CHECK(inv->messages[1].attempt == 4);
  CHECK(inv->messages[1].enqueued_at_ms == -5);
  // The borrowed frame re-encodes to the same bytes.
  std::string again;
  encodeInvoke(*inv, again);
  CHECK(payloadOf(again) == payload);
}

TEST_CASE("an HTTP invoke frame pays 24 bytes for the empty trace context, batch and WebSocket fields") {
  Payload p;
  p.method = "GET";
  std::string with_nothing, with_trace;
  encodeInvoke(1, "id", 0, 10, TraceContext{}, p, with_nothing);
  CHECK(with_nothing.size() == kFrameHeaderSize + 8 + 6 + 4 + 4 + 4 + 7 + 4 + 4 + 4 + 4 + 4 + 12 + 12);
  encodeInvoke(1, "id", 0, 10, TraceContext{"tp", "ts"}, p, with_trace);
  CHECK(with_trace.size() == with_nothing.size() + 4);
}

TEST_CASE("a WebSocket invoke frame carries its connection id, binary flag and close code") {
  Payload p;
  p.trigger = 4;
  p.method = "DISCONNECT";
  p.connection_id = "0123456789abcdef0123456789abcdef";
  p.binary = true;
  p.close_code = 1006;
  std::string bytes;
  encodeInvoke(1, "id", 0, 10, TraceContext{}, p, bytes);
  std::string payload = payloadOf(bytes);
  auto inv = decodeInvoke(payload);
  REQUIRE(inv);
  CHECK(inv->connection_id == p.connection_id);
  CHECK(inv->binary);
  CHECK(inv->close_code == 1006);
  std::string again;
  encodeInvoke(*inv, again);
  CHECK(payloadOf(again) == payload);
}

TEST_CASE("an invoke frame whose binary flag is neither 0 nor 1 is malformed (found by fuzz_frame)") {
  Payload p;
  p.trigger = 4;
  p.binary = true;
  std::string bytes;
  encodeInvoke(1, "id", 0, 10, TraceContext{}, p, bytes);
  std::string payload = payloadOf(bytes);
  size_t flag = payload.size() - 8;  // the binary flag, then the close code, end the frame
  REQUIRE(payload[flag] == 1);
  payload[flag] = 2;
  CHECK_FALSE(decodeInvoke(payload));
}

TEST_CASE("a connection call round-trips, and one that breaks its rules is a malformed frame") {
  ConnectionCallFrame call{7, ConnectionCall{ConnectionOp::kClose, "abc", "bye", 4000}};
  std::string bytes;
  encodeConnectionCall(call, bytes);
  auto back = decodeConnectionCall(payloadOf(bytes));
  REQUIRE(back);
  CHECK(back->seq == 7);
  CHECK(back->call.op == ConnectionOp::kClose);
  CHECK(back->call.id == "abc");
  CHECK(back->call.data == "bye");
  CHECK(back->call.code == 4000);
  for (ConnectionCall bad : {ConnectionCall{ConnectionOp::kClose, "abc", "", 1006},
                             ConnectionCall{ConnectionOp::kClose, "abc", std::string(124, 'r'), 1000},
                             ConnectionCall{ConnectionOp::kSendText, "abc", "\xff", 0},
                             ConnectionCall{ConnectionOp::kSendBinary, "", "x", 0},
                             ConnectionCall{static_cast<ConnectionOp>(9), "abc", "", 0}}) {
    std::string frame;
    encodeConnectionCall(ConnectionCallFrame{1, bad}, frame);
    CHECK_FALSE(decodeConnectionCall(payloadOf(frame)));
  }
  std::string status;
  encodeConnectionStatus(ConnectionStatusFrame{7, 6}, status);
  auto answer = decodeConnectionStatus(payloadOf(status));
  REQUIRE(answer);
  CHECK(answer->status == 6);
  CHECK(answerSeqOf(payloadOf(status)).value() == 7);
}

TEST_CASE("a result frame round-trips its settlements and publishes") {
  ResultFrame r = batchResult();
  auto back = decodeResult(resultPayload(r));
  REQUIRE(back);
  REQUIRE(back->settlements.size() == 3);
  CHECK(back->settlements[1].index == 1);
  CHECK(back->settlements[1].action == SettleAction::kRetry);
  CHECK(back->settlements[1].delay == std::chrono::milliseconds(250));
  CHECK(back->settlements[2].action == SettleAction::kDeadLetter);
  CHECK(back->settlements[2].reason == "poison pill");
  REQUIRE(back->publishes.size() == 2);
  CHECK(back->publishes[0].queue == "out");
  CHECK(back->publishes[0].id == "dedupe-1");
  CHECK(back->publishes[0].body == "payload");
  CHECK(back->publishes[0].headers == r.publishes[0].headers);
  CHECK(back->publishes[0].delay == std::chrono::milliseconds(1500));
  CHECK(back->publishes[1].queue == "audit.v2_x-y");
  CHECK(back->publishes[1].id.empty());
  CHECK(resultPayload(*back) == resultPayload(r));
}

TEST_CASE("a queue invoke or result cut short anywhere, or with bytes after its end, is rejected") {
  std::string invoke = queueInvokePayload();
  for (size_t cut = 0; cut < invoke.size(); ++cut) {
    CHECK_FALSE(decodeInvoke(std::string_view(invoke).substr(0, cut)));
  }
  CHECK_FALSE(decodeInvoke(invoke + '\0'));
  std::string result = resultPayload(batchResult());
  for (size_t cut = 0; cut < result.size(); ++cut) {
    CHECK_FALSE(decodeResult(std::string_view(result).substr(0, cut)));
  }
  CHECK_FALSE(decodeResult(result + '\0'));
}

TEST_CASE("counts of messages, settlements, publishes and message headers beyond their bounds are rejected") {
  auto patchU32 = [](std::string bytes, size_t at, uint32_t value) {
    std::memcpy(bytes.data() + at, &value, 4);
    return bytes;
  };
  // An HTTP invoke: the message count comes before the 12 bytes of empty WebSocket fields.
  Payload p;
  std::string invoke;
  encodeInvoke(1, "id", 0, 10, TraceContext{}, p, invoke);
  invoke = payloadOf(invoke);
  size_t count_at = invoke.size() - 4 - 12;
  CHECK(decodeInvoke(invoke));
  CHECK_FALSE(decodeInvoke(patchU32(invoke, count_at, 1)));  // one message, no bytes for it
  CHECK_FALSE(decodeInvoke(patchU32(invoke, count_at, 0xffffffff)));
  // More messages than a batch may hold, however many bytes follow.
  std::string huge = patchU32(invoke, count_at, kMaxBatch + 1) + std::string((kMaxBatch + 1) * 28, '\0');
  CHECK_FALSE(decodeInvoke(huge));
  std::string full = patchU32(invoke, count_at, kMaxBatch) + std::string(kMaxBatch * 28, '\0');
  auto most = decodeInvoke(full);
  REQUIRE(most);
  CHECK(most->messages.size() == kMaxBatch);

  // A message with more headers than a message may carry.
  Payload q;
  q.trigger = 3;
  QueueMessage m;
  m.queue = "q";
  for (size_t i = 0; i <= kMaxMessageHeaders; ++i) m.headers.emplace_back("h", "v");
  q.messages = {m};
  std::string many_headers;
  encodeInvoke(1, "id", 0, 10, TraceContext{}, q, many_headers);
  CHECK_FALSE(decodeInvoke(payloadOf(many_headers)));
  q.messages[0].headers.pop_back();
  many_headers.clear();
  encodeInvoke(1, "id", 0, 10, TraceContext{}, q, many_headers);
  CHECK(decodeInvoke(payloadOf(many_headers)));

  // An empty result ends with the settlement count and the publish count.
  std::string result = resultPayload(ResultFrame{});
  size_t settlements_at = result.size() - 8, publishes_at = result.size() - 4;
  CHECK(decodeResult(result));
  CHECK_FALSE(decodeResult(patchU32(result, settlements_at, 0xffffffff)));
  CHECK_FALSE(decodeResult(patchU32(result, publishes_at, 0xffffffff)));
  std::string too_many = patchU32(result, publishes_at, kMaxPublishes + 1) + std::string((kMaxPublishes + 1) * 20, '\0');
  CHECK_FALSE(decodeResult(too_many));
}

TEST_CASE("a settlement with an unknown action is rejected") {
  ResultFrame r;
  r.settlements = {{0, SettleAction::kAck, std::chrono::milliseconds(0), ""}};
  std::string payload = resultPayload(r);
  // action delay reason-size publish-count state-write-count
  size_t action_at = payload.size() - 4 - 4 - 4 - 4 - 4;
  for (uint32_t action : {0u, 4u, 0xffffffffu}) {
    std::string bad = payload;
    std::memcpy(bad.data() + action_at, &action, 4);
    CHECK_FALSE(decodeResult(bad));
  }
  for (uint32_t action : {1u, 2u, 3u}) {
    std::string good = payload;
    std::memcpy(good.data() + action_at, &action, 4);
    auto back = decodeResult(good);
    REQUIRE(back);
    CHECK(static_cast<uint32_t>(back->settlements[0].action) == action);
  }
}

TEST_CASE("a result that breaks a queue limit is malformed, and the error says which limit") {
  auto errorOf = [](const ResultFrame& r) {
    auto back = decodeResult(resultPayload(r));
    REQUIRE_FALSE(back);
    return back.error().message;
  };
  auto publishing = [](Publish p) {
    ResultFrame r;
    r.publishes = {std::move(p)};
    return r;
  };
  Publish p;
  p.queue = "bad queue";
  CHECK(errorOf(publishing(p)).find("invalid queue 'bad queue'") != std::string::npos);
  p.queue = "orders.dead";
  CHECK(errorOf(publishing(p)).find("invalid queue") != std::string::npos);
  p.queue = std::string(kMaxQueueNameBytes + 1, 'q');
  CHECK(errorOf(publishing(p)).find("invalid queue") != std::string::npos);
  p.queue = std::string(kMaxQueueNameBytes, 'q');
  CHECK(decodeResult(resultPayload(publishing(p))));
  p.queue = "";
  CHECK(errorOf(publishing(p)).find("invalid queue") != std::string::npos);
  p.queue = "ok";
  p.id = std::string(kMaxMessageIdBytes + 1, 'i');
  CHECK(errorOf(publishing(p)).find("message id longer than 128") != std::string::npos);
  p.id.clear();
  p.delay = kMaxMessageDelay + std::chrono::milliseconds(1);
  CHECK(errorOf(publishing(p)).find("delayed past the limit") != std::string::npos);
  p.delay = kMaxMessageDelay;
  CHECK(decodeResult(resultPayload(publishing(p))));

  ResultFrame big;
  Publish half;
  half.queue = "big";
  half.body = std::string(kMaxPublishBytes / 2, 'b');
  big.publishes = {half, half};
  CHECK(errorOf(big).find("more than the limit of 8388608 per invocation") != std::string::npos);

  ResultFrame slow;
  slow.settlements = {{0, SettleAction::kRetry, kMaxMessageDelay + std::chrono::milliseconds(1), ""}};
  CHECK(errorOf(slow).find("delays it by") != std::string::npos);
  ResultFrame wordy;
  wordy.settlements = {{0, SettleAction::kDeadLetter, std::chrono::milliseconds(0), std::string(kMaxSettleReasonBytes + 1, 'r')}};
  CHECK(errorOf(wordy).find("reason of 4097 bytes") != std::string::npos);
}

TEST_CASE("a result frame round-trips its state writes, and the decoder keeps the state limits") {
  ResultFrame r;
  r.state_writes.push_back(StateWrite{StateOp::kPut, "orders:42", "charged", 3, std::chrono::milliseconds(60000)});
  r.state_writes.push_back(StateWrite{StateOp::kRemove, "köln", "", kAnyStateVersion, std::chrono::milliseconds(0)});
  auto back = decodeResult(resultPayload(r));
  REQUIRE(back);
  REQUIRE(back->state_writes.size() == 2);
  CHECK(back->state_writes[0].op == StateOp::kPut);
  CHECK(back->state_writes[0].key == "orders:42");
  CHECK(back->state_writes[0].value == "charged");
  CHECK(back->state_writes[0].if_version == 3);
  CHECK(back->state_writes[0].ttl == std::chrono::milliseconds(60000));
  CHECK(back->state_writes[1].op == StateOp::kRemove);
  CHECK(back->state_writes[1].if_version == kAnyStateVersion);

  auto errorOf = [](StateWrite w) {
    ResultFrame bad;
    bad.state_writes = {std::move(w)};
    auto decoded = decodeResult(resultPayload(bad));
    REQUIRE_FALSE(decoded);
    return decoded.error().message;
  };
  CHECK(errorOf({StateOp::kPut, "", "v", kAnyStateVersion, {}}).find("may not be empty") != std::string::npos);
  CHECK(errorOf({StateOp::kPut, "a\tb", "v", kAnyStateVersion, {}}).find("control character") != std::string::npos);
  CHECK(errorOf({StateOp::kPut, "k", std::string(kMaxStateValueBytes + 1, 'v'), kAnyStateVersion, {}})
            .find("more than the limit of 262144") != std::string::npos);
  CHECK(errorOf({static_cast<StateOp>(9), "k", "", kAnyStateVersion, {}}).find("no operation") != std::string::npos);
  CHECK(errorOf({StateOp::kPut, "k", "v", kAnyStateVersion, kMaxStateTtl + std::chrono::milliseconds(1)})
            .find("TTL past the limit") != std::string::npos);
  // A count past the bound is refused before anything is read for it.
  ResultFrame many;
  many.state_writes.resize(kMaxStateWrites + 1, StateWrite{StateOp::kPut, "k", "", kAnyStateVersion, {}});
  CHECK_FALSE(decodeResult(resultPayload(many)));
}

TEST_CASE("state get and value frames round-trip, and a get with a bad key is malformed") {
  std::string wire;
  encodeStateGet(StateGetFrame{7, "orders:1"}, wire);
  encodeStateValue(StateValueFrame{7, StateReadStatus::kFound, 4, "v"}, wire);
  FrameDecoder decoder;
  auto frames = decodeBytewise(wire, decoder);
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].first == FrameType::kStateGet);
  auto get = decodeStateGet(frames[0].second);
  REQUIRE(get);
  CHECK(get->seq == 7);
  CHECK(get->key == "orders:1");
  CHECK(frames[1].first == FrameType::kStateValue);
  auto value = decodeStateValue(frames[1].second);
  REQUIRE(value);
  CHECK(value->status == StateReadStatus::kFound);
  CHECK(value->version == 4);
  CHECK(value->value == "v");

  std::string bad;
  encodeStateGet(StateGetFrame{1, std::string(kMaxStateKeyBytes + 1, 'k')}, bad);
  CHECK_FALSE(decodeStateGet(payloadOf(bad)));
  std::string status;
  encodeStateValue(StateValueFrame{1, static_cast<StateReadStatus>(5), 0, ""}, status);
  CHECK_FALSE(decodeStateValue(payloadOf(status)));
}

TEST_CASE("a connection call relayed to another host decodes to the call and the caller's app, bytes and all") {
  ConnectionCall call{ConnectionOp::kSendBinary, "0123abcd", std::string("a\nb c\0d", 7), 1000};
  std::string app;
  ConnectionCall back;
  REQUIRE(decodeRelayedCall(encodeRelayedCall("chat", call), app, back));
  CHECK(app == "chat");
  CHECK(back.op == call.op);
  CHECK(back.id == call.id);
  CHECK(back.data == call.data);
  CHECK(back.code == 1000);

  ConnectionCall closing{ConnectionOp::kClose, "x", "bye", 4001};
  REQUIRE(decodeRelayedCall(encodeRelayedCall("a-b", closing), app, back));
  CHECK(back.op == ConnectionOp::kClose);
  CHECK(back.code == 4001);
  CHECK(back.data == "bye");

  for (std::string_view bad : {"", "1 1000 chat id", "9 1000 chat id\n", "0 1000 chat id\n", "1 x chat id\n",
                               "1 1000  id\n", "1 1000 chat\n", "1 1000 chat id extra\n", "-1 1000 chat id\n"}) {
    INFO(bad);
    CHECK_FALSE(decodeRelayedCall(bad, app, back));
  }
}
