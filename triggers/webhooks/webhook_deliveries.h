#pragma once
// Outbound webhooks: each webhook of the WebhookStore subscribes its URL to a topic, and each
// event of the topic is POSTed there, signed (runtime/base/webhook_signature.h), as the Standard Webhooks
// spec has it (docs/admin-api.md, "Webhooks"; docs/security.md).
//
// A webhook is a topic subscription like a function's: owner and subscriber are its id, so
// its events wait in the queue "<topic>:<id>", with that queue's leases, retries with
// exponential backoff and jitter (the queue trigger's), dead letters and redrive. This
// component consumes that queue with a handler of its own instead of the dispatcher: one
// event per batch, one POST per attempt, made by a CallbackSender of its own (its threads,
// address rules, --callback-allow list, bounded client and deadline), and answers the
// trigger kOk on a 2xx, otherwise a failure naming the endpoint and why.
//
// Each attempt carries the event's body and content-type, `webhook-id` (the event's ce-id:
// the same on every retry, so a receiver can drop a repeat), `webhook-timestamp` (the
// attempt's Unix seconds by the injected clock), `webhook-signature` (with the previous
// secret's too, during a rotation's overlap) and the event's ce-* attributes and
// traceparent (CloudEvents binary mode).
//
// Delivery is at least once and unordered: up to in_flight_per_webhook events of one webhook
// are out at a time, and an attempt still waiting for a sender thread past the lease
// (visibility_timeout) comes up again; the unchanged webhook-id lets the receiver dedupe.
//
// Contract:
// - Owning thread: the loop thread; every call and callback happens there. The sender's
//   answers come back through a uv_async.
// - Borrows the loop, clock, store, queue trigger and backend: all outlive it. close() before
//   freeing; it answers every attempt still out as failed (its event comes back by retry).
// - add/remove/rotate validate first and fail now without calling back; otherwise `done`
//   runs once, after the store committed and the topic binding was posted.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/base/clock.h"
#include "runtime/store/queue_backend.h"
#include "runtime/store/webhook_store.h"
#include "triggers/http/callback_sender.h"
#include "triggers/queue/queue_trigger.h"

namespace gust {

struct WebhookDeliveryOptions {
  uint32_t max_attempts = 8;
  std::chrono::milliseconds backoff_base{5000};
  std::chrono::milliseconds backoff_cap{600'000};
  size_t in_flight_per_webhook = 2;
  CallbackSenderOptions sender;  // its allowlist is the host's --callback-allow
};

class WebhookDeliveries {
 public:
  template <typename T>
  using Done = UniqueFunction<void(Result<T>)>;

  WebhookDeliveries(uv_loop_t* loop, const Clock& clock, WebhookStore& store, QueueTrigger& trigger,
                    QueueBackend& queues, WebhookDeliveryOptions options = {});
  ~WebhookDeliveries();
  WebhookDeliveries(const WebhookDeliveries&) = delete;
  WebhookDeliveries& operator=(const WebhookDeliveries&) = delete;

  // Binds and consumes every stored webhook; once, before the host serves.
  Result<void> start();

  // kBadInput when `url` is not one the host would call (checkCallbackUrl: the rule and the
  // --callback-allow switch) or the topic or type is malformed; then as WebhookStore::create.
  Result<void> add(std::string topic, std::string url, std::string type, Done<Webhook> done);
  // Stops its deliveries and drops its subscription (its queue keeps what it holds).
  Result<void> remove(const std::string& id, Done<void> done);
  Result<void> rotate(const std::string& id, Done<Webhook> done);

  const WebhookStore& store() const { return store_; }
  const CallbackSender& sender() const { return *sender_; }

  void close(std::function<void()> on_closed);

 private:
  struct Mailbox;

  void bind(const Webhook& hook);
  void deliver(const std::string& id, Invocation&& invocation, OutcomeCallback&& done);
  void onAnswers();

  uv_loop_t* loop_;
  const Clock& clock_;
  WebhookStore& store_;
  QueueTrigger& trigger_;
  QueueBackend& queues_;
  const WebhookDeliveryOptions options_;
  std::unique_ptr<CallbackSender> sender_;
  std::shared_ptr<Mailbox> mailbox_;  // shared with the sender's threads
  uv_async_t* answers_ = nullptr;     // freed in its close callback
  uint64_t next_attempt_ = 0;
  struct Waiting {
    std::string endpoint;  // scheme://host:port, what a failure may name
    OutcomeCallback done;
  };
  std::map<uint64_t, Waiting> waiting_;  // by attempt
  bool closing_ = false;
};

// The headers of one delivery of `message` to a webhook: content-type, webhook-id,
// webhook-timestamp, webhook-signature and the event's ce-* and traceparent. kBadInput when
// a stored secret does not decode (a broken database).
Result<std::vector<std::pair<std::string, std::string>>> webhookHeaders(const Webhook& hook,
                                                                        const QueueMessage& message,
                                                                        std::chrono::system_clock::time_point now);

}  // namespace gust
