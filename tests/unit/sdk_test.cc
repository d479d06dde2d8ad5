// The C++ SDK layer against a host older than it: a host API table that ends before the
// queue and trace entries. No such host can be built from this tree, so its table is made
// by hand here, with only the entries a version-1 host had.
#include <doctest/doctest.h>
#include <gust/gust.hpp>

#include <cstddef>
#include <string>

namespace {

struct OldHost {
  int status = 0;
  std::string body;
  std::string failure;
};

void oldRespond(void* host, int32_t status, const gust_pair*, size_t, gust_str body) {
  auto* h = static_cast<OldHost*>(host);
  h->status = status;
  h->body.assign(body.data, body.size);
}
void oldFail(void* host, gust_str message) { static_cast<OldHost*>(host)->failure.assign(message.data, message.size); }
void oldLog(void*, int32_t, gust_str) {}
int64_t oldRemaining(void*) { return 1000; }

// The table as the first host knew it: `size` ends after remaining_ms, and the entries past
// it hold garbage a module must never call.
gust_host_api oldTable() {
  gust_host_api api{};
  api.size = static_cast<uint32_t>(offsetof(gust_host_api, message_count));
  api.respond = oldRespond;
  api.fail = oldFail;
  api.log = oldLog;
  api.remaining_ms = oldRemaining;
  auto poison = reinterpret_cast<size_t (*)(void*)>(uintptr_t{0x1});
  api.message_count = poison;
  return api;
}

gust::Status published;
size_t batch_size = 99;
std::string trace = "unset";

void consumer(const gust::Batch& batch, gust::Context& ctx) {
  batch_size = batch.size();
  published = ctx.publish("out", "x");
  trace = std::string(ctx.traceparent()) + "|" + std::string(ctx.tracestate());
  for (gust::Message m : batch) m.ack();  // never runs: the batch is empty
}
GUST_QUEUE_FUNCTION(consumer)

}  // namespace

TEST_CASE("on a host without the queue entries, the batch is empty, publish is unsupported, the trace empty") {
  gust_host_api api = oldTable();
  OldHost host;
  gust_context ctx{&api, &host, {"i", 1}, {"a", 1}, {"f", 1}};
  gust_request req{};
  req.trigger = GUST_TRIGGER_HTTP;
  gust_fn_consumer(&req, &ctx);
  CHECK(batch_size == 0);
  CHECK(published.code() == GUST_E_UNSUPPORTED);
  CHECK_FALSE(published);
  CHECK(std::string(published.message()) == "the host does not support this call");
  CHECK(trace == "|");
  CHECK(host.failure.empty());
  CHECK(host.status == 204);
}

TEST_CASE("GUST_HOST_HAS tells the entries of a table by its size") {
  gust_host_api api = oldTable();
  CHECK(GUST_HOST_HAS(&api, remaining_ms));
  CHECK_FALSE(GUST_HOST_HAS(&api, message_count));
  CHECK_FALSE(GUST_HOST_HAS(&api, tracestate));
  api.size = sizeof(gust_host_api);
  CHECK(GUST_HOST_HAS(&api, tracestate));
  api.size = static_cast<uint32_t>(offsetof(gust_host_api, tracestate));
  CHECK(GUST_HOST_HAS(&api, traceparent));
  CHECK_FALSE(GUST_HOST_HAS(&api, tracestate));
}

TEST_CASE("delays that do not fit the ABI are refused before they reach the host") {
  gust_host_api api = oldTable();
  api.size = sizeof(gust_host_api);  // claims every entry, but none may be called here
  api.publish = nullptr;
  OldHost host;
  gust_context raw{&api, &host, {}, {}, {}};
  gust::Context ctx(raw);
  CHECK(ctx.publish("out", "x", {.delay = std::chrono::milliseconds(-1)}).code() == GUST_E_INVALID);
  CHECK(ctx.publish("out", "x", {.delay = std::chrono::hours(24 * 60)}).code() == GUST_E_INVALID);
  gust_message m{};
  gust::Message msg(raw, 0, m);
  CHECK(msg.retry(std::chrono::milliseconds(-5)).code() == GUST_E_INVALID);
}
