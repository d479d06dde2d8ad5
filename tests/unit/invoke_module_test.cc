// invokeModule in-process: functions written against the C ABI and the C++ layer, called for
// decoded INVOKE frames, with their log lines recorded.
#include "functions/worker/invoke_module.h"

#include <doctest/doctest.h>
#include <gust/gust.hpp>

#include "runtime/base/text.h"
#include "runtime/base/webhook_signature.h"

#include <stdexcept>

using namespace gust;

namespace {

class RecordedLog final : public InvocationLog {
 public:
  void line(uint64_t seq, uint32_t level, std::string_view message) override {
    lines.push_back({seq, level, std::string(message)});
  }
  struct Line {
    uint64_t seq;
    uint32_t level;
    std::string message;
  };
  std::vector<Line> lines;
};

// An INVOKE of `trigger` with `batch` messages, decoded from real bytes like the worker's.
struct Invoke {
  explicit Invoke(uint32_t trigger, size_t batch = 0, Pairs headers = {}, std::string body = {}) {
    Payload p;
    p.trigger = trigger;
    p.headers = std::move(headers);
    p.body = std::move(body);
    for (size_t i = 0; i < batch; ++i) {
      QueueMessage m;
      m.id = "m" + std::to_string(i);
      m.queue = "orders";
      m.body = "body " + std::to_string(i);
      m.headers = {{"Content-Type", "text/plain"}};
      m.attempt = 2;
      m.enqueued_at_ms = 1'700'000'000'000 + static_cast<int64_t>(i);
      p.messages.push_back(std::move(m));
    }
    encodeInvoke(42, "inv", 0, 5000, TraceContext{"00-tp-01", "st=1"}, p, wire);
    auto decoded = decodeInvoke(std::string_view(wire).substr(kFrameHeaderSize));
    REQUIRE(decoded);
    frame = std::move(*decoded);
  }
  std::string wire;
  InvokeFrame frame;
};

ResultFrame call(gust_function_fn fn, const Invoke& invoke, RecordedLog& log) {
  return invokeModule(fn, invoke.frame, "app", "fn", log);
}

bool logged(const RecordedLog& log, std::string_view text) {
  for (const auto& l : log.lines) {
    if (l.message.find(text) != std::string::npos) return l.seq == 42 && l.level == GUST_LOG_WARN;
  }
  return false;
}

// C ABI functions: what a module without the C++ layer does.
extern "C" void returnsOnly(const gust_request*, const gust_context*) {}

extern "C" void settleEdgeCases(const gust_request*, const gust_context* ctx) {
  const gust_host_api* api = ctx->api;
  int32_t codes[] = {
      api->settle(ctx->host, 2, GUST_SETTLE_ACK, 0, {}),                 // past the batch of 2
      api->settle(ctx->host, 0, 9, 0, {}),                               // no such action
      api->settle(ctx->host, 0, GUST_SETTLE_RETRY, 700'000'000, {}),    // past 7 days
      api->settle(ctx->host, 0, GUST_SETTLE_RETRY, 1500, {"ignored", 7}),
      api->settle(ctx->host, 0, GUST_SETTLE_ACK, 0, {}),                 // second time
      api->settle(ctx->host, 1, GUST_SETTLE_DEAD_LETTER, 99, {"why", 3}),
  };
  std::string body;
  for (int32_t c : codes) body += std::to_string(c);
  api->respond(ctx->host, 200, nullptr, 0, {body.data(), body.size()});
}

extern "C" void smallMessageStruct(const gust_request*, const gust_context* ctx) {
  gust_message m{};
  m.size = sizeof(gust_message) - 8;
  int32_t too_small = ctx->api->message(ctx->host, 0, &m);
  m.size = sizeof(gust_message);
  int32_t fine = ctx->api->message(ctx->host, 0, &m);
  int32_t past = ctx->api->message(ctx->host, 1, &m);
  std::string body = std::to_string(too_small) + std::to_string(fine) + std::to_string(past);
  ctx->api->respond(ctx->host, 200, nullptr, 0, {body.data(), body.size()});
}

// C++ layer functions.
void readsBatch(const gust::Batch& batch, gust::Context& ctx) {
  std::string seen;
  for (gust::Message m : batch) {
    seen += std::string(m.id()) + "," + std::string(m.queue()) + "," + std::string(m.body()) + "," +
            std::string(m.header("content-type")) + "," + std::to_string(m.attempt()) + "," +
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(m.enqueuedAt().time_since_epoch())
                               .count()) +
            ";";
  }
  ctx.log(seen);
  ctx.log(std::string(ctx.traceparent()) + " " + std::string(ctx.tracestate()));
  batch[1].retry(std::chrono::seconds(2));
}
GUST_QUEUE_FUNCTION(readsBatch)

void settlesThenThrows(const gust::Batch& batch, gust::Context& ctx) {
  batch[0].deadLetter("bad");
  if (!ctx.publish("out", "lost")) throw std::logic_error("publish refused");
  throw std::runtime_error("gave up");
}
GUST_QUEUE_FUNCTION(settlesThenThrows)

void floodsPublishes(const gust::Batch&, gust::Context& ctx) {
  int refused = 0;
  for (size_t i = 0; i < kMaxPublishes + 50; ++i) refused += ctx.publish("out", "x").code() == GUST_E_LIMIT ? 1 : 0;
  ctx.log("refused " + std::to_string(refused));
}
GUST_QUEUE_FUNCTION(floodsPublishes)

// Checks its own request's webhook signature with the scheme (a number) and the secret its
// x-scheme and x-secret headers name, and answers the code and the error.
gust::Response checksSignature(const gust::Request& req, gust::Context& ctx) {
  auto scheme = static_cast<gust::webhooks::Scheme>(std::stoi(std::string(req.header("x-scheme"))));
  auto checked = gust::webhooks::verify(req, ctx, scheme, req.header("x-secret"), std::chrono::minutes(1));
  return gust::Response::text(std::to_string(checked.status.code()) + " " + checked.error);
}
GUST_FUNCTION(checksSignature)

}  // namespace

TEST_CASE("a queue function may just return: 204, and only explicit settlements are reported") {
  Invoke invoke(GUST_TRIGGER_QUEUE, 3);
  RecordedLog log;
  ResultFrame r = call(gust_fn_readsBatch, invoke, log);
  CHECK(r.seq == 42);
  CHECK(r.kind == ResultKind::kOk);
  CHECK(r.status == 204);
  REQUIRE(r.settlements.size() == 1);
  CHECK(r.settlements[0].index == 1);
  CHECK(r.settlements[0].action == SettleAction::kRetry);
  CHECK(r.settlements[0].delay == std::chrono::seconds(2));
  REQUIRE(log.lines.size() == 2);
  CHECK(log.lines[0].message ==
        "m0,orders,body 0,text/plain,2,1700000000000;m1,orders,body 1,text/plain,2,1700000000001;"
        "m2,orders,body 2,text/plain,2,1700000000002;");
  CHECK(log.lines[1].message == "00-tp-01 st=1");

  ResultFrame bare = call(returnsOnly, invoke, log);
  CHECK(bare.kind == ResultKind::kOk);
  CHECK(bare.status == 204);
  CHECK(bare.settlements.empty());
}

TEST_CASE("an HTTP function that returns without a response fails, as before") {
  Invoke invoke(GUST_TRIGGER_HTTP);
  RecordedLog log;
  ResultFrame r = call(returnsOnly, invoke, log);
  CHECK(r.kind == ResultKind::kError);
  CHECK(r.body == "function returned without a response");
}

TEST_CASE("settle refuses what it cannot honour, names why in the log, and keeps the first settlement") {
  Invoke invoke(GUST_TRIGGER_QUEUE, 2);
  RecordedLog log;
  ResultFrame r = call(settleEdgeCases, invoke, log);
  REQUIRE(r.kind == ResultKind::kOk);
  CHECK(r.body == std::to_string(GUST_E_RANGE) + std::to_string(GUST_E_INVALID) + std::to_string(GUST_E_INVALID) +
                      std::to_string(GUST_OK) + std::to_string(GUST_E_SETTLED) + std::to_string(GUST_OK));
  CHECK(logged(log, "there is no message 2 in a batch of 2"));
  CHECK(logged(log, "9 is not an action"));
  CHECK(logged(log, "a delay of 700000000 ms is longer than the limit of 604800000 ms"));
  REQUIRE(r.settlements.size() == 2);
  CHECK(r.settlements[0].action == SettleAction::kRetry);
  CHECK(r.settlements[0].delay == std::chrono::milliseconds(1500));
  CHECK(r.settlements[0].reason.empty());  // a reason counts only for a dead letter
  CHECK(r.settlements[1].action == SettleAction::kDeadLetter);
  CHECK(r.settlements[1].delay == std::chrono::milliseconds(0));  // a delay counts only for a retry
  CHECK(r.settlements[1].reason == "why");
}

TEST_CASE("settle without a batch is out of range") {
  Invoke invoke(GUST_TRIGGER_HTTP);
  RecordedLog log;
  ResultFrame r = call(settleEdgeCases, invoke, log);
  CHECK(r.body.substr(0, 1) == std::to_string(GUST_E_RANGE));
  CHECK(r.settlements.empty());
}

TEST_CASE("message() refuses a gust_message smaller than the host's and an index past the batch") {
  Invoke invoke(GUST_TRIGGER_QUEUE, 1);
  RecordedLog log;
  ResultFrame r = call(smallMessageStruct, invoke, log);
  CHECK(r.body == std::to_string(GUST_E_INVALID) + std::to_string(GUST_OK) + std::to_string(GUST_E_RANGE));
}

TEST_CASE("a function that throws keeps neither its settlements nor its publishes") {
  Invoke invoke(GUST_TRIGGER_QUEUE, 2);
  RecordedLog log;
  ResultFrame r = call(gust_fn_settlesThenThrows, invoke, log);
  CHECK(r.kind == ResultKind::kError);
  CHECK(r.body == "gave up");
  CHECK(r.settlements.empty());
  CHECK(r.publishes.empty());
}

TEST_CASE("publishes past the count limit are refused, and the log says so once") {
  Invoke invoke(GUST_TRIGGER_QUEUE, 1);
  RecordedLog log;
  ResultFrame r = call(gust_fn_floodsPublishes, invoke, log);
  CHECK(r.kind == ResultKind::kOk);
  CHECK(r.publishes.size() == kMaxPublishes);
  size_t limit_lines = 0;
  for (const auto& l : log.lines) limit_lines += l.message.find("may publish at most 1000 messages") != std::string::npos;
  CHECK(limit_lines == 1);
  CHECK(log.lines.back().message == "refused 50");
  // What the worker accepted, the host accepts.
  std::string wire;
  encodeResult(r, wire);
  CHECK(decodeResult(std::string_view(wire).substr(kFrameHeaderSize)));
}

TEST_CASE("gust::webhooks::verify checks the invocation's signature with the worker's clock, and says what was wrong") {
  const std::string body = R"({"event": "paid"})";
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string key = "0123456789abcdef0123456789abcdef";
  const std::string standard_secret = "whsec_" + base64Encode(key);
  auto answer = [&](Pairs headers) {
    Invoke invoke(GUST_TRIGGER_HTTP, 0, std::move(headers), body);
    RecordedLog log;
    return call(gust_fn_checksSignature, invoke, log).body;
  };
  const std::string standard = std::to_string(GUST_WEBHOOK_STANDARD);
  CHECK(answer({{"x-scheme", standard}, {"x-secret", standard_secret}, {"webhook-id", "msg_1"},
                {"webhook-timestamp", std::to_string(now)},
                {"webhook-signature", standardWebhookSignature(key, "msg_1", now, body)}}) == "0 ");
  CHECK(answer({{"x-scheme", standard}, {"x-secret", standard_secret}, {"webhook-id", "msg_1"},
                {"webhook-timestamp", std::to_string(now - 120)},
                {"webhook-signature", standardWebhookSignature(key, "msg_1", now - 120, body)}})
            .starts_with(std::to_string(GUST_E_UNVERIFIED) + " timestamp outside tolerance: timestamp "));
  CHECK(answer({{"x-scheme", std::to_string(GUST_WEBHOOK_GITHUB)}, {"x-secret", "other"},
                {"x-hub-signature-256", githubSignature("secret", body)}}) ==
        std::to_string(GUST_E_UNVERIFIED) +
            " signature does not match: X-Hub-Signature-256 does not match the body and the secret");
  CHECK(answer({{"x-scheme", std::to_string(GUST_WEBHOOK_STRIPE)}, {"x-secret", "s"}}) ==
        std::to_string(GUST_E_UNVERIFIED) + " signature missing: no Stripe-Signature header");
  CHECK(answer({{"x-scheme", "9"}, {"x-secret", "s"}}).starts_with(std::to_string(GUST_E_INVALID) +
                                                                   " 9 is not a signature scheme"));
  CHECK(answer({{"x-scheme", standard}, {"x-secret", "whsec_not*base64"}})
            .starts_with(std::to_string(GUST_E_INVALID) + " a standard-webhooks secret is whsec_"));
}
