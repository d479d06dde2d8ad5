#include "triggers/webhooks/webhook_deliveries.h"

#include <spdlog/spdlog.h>

#include "runtime/base/names.h"
#include "runtime/base/webhook_signature.h"

namespace gust {
namespace {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] + 32) : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] + 32) : b[i];
    if (x != y) return false;
  }
  return true;
}

bool startsWithCe(std::string_view name) {
  return name.size() > 3 && equalsIgnoreCase(name.substr(0, 3), "ce-");
}

}  // namespace

// What the sender's threads hand back to the loop: (attempt, why) pairs, "" for delivered.
struct WebhookDeliveries::Mailbox {
  std::mutex mutex;
  uv_async_t* async = nullptr;  // null once closing: later answers are dropped
  std::vector<std::pair<uint64_t, std::string>> answers;
};

Result<std::vector<std::pair<std::string, std::string>>> webhookHeaders(const Webhook& hook,
                                                                        const QueueMessage& message,
                                                                        std::chrono::system_clock::time_point now) {
  std::string content_type = "application/json";
  std::string id = message.id;  // the event's ce-id, which is its message id
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : message.headers) {
    if (equalsIgnoreCase(name, "content-type")) {
      content_type = value;
    } else if (equalsIgnoreCase(name, "ce-id")) {
      id = value;
      headers.emplace_back(name, value);
    } else if (startsWithCe(name) || equalsIgnoreCase(name, "traceparent") || equalsIgnoreCase(name, "tracestate")) {
      headers.emplace_back(name, value);
    }
  }
  int64_t timestamp = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  auto signature = signWebhook(hook.secret, id, timestamp, message.body);
  if (!signature) return signature.error();
  std::string signatures = *signature;
  if (!hook.previous_secret.empty() && now < hook.previous_until) {
    auto previous = signWebhook(hook.previous_secret, id, timestamp, message.body);
    if (!previous) return previous.error();
    signatures += " " + *previous;
  }
  headers.emplace_back("Content-Type", content_type);
  headers.emplace_back("webhook-id", id);
  headers.emplace_back("webhook-timestamp", std::to_string(timestamp));
  headers.emplace_back("webhook-signature", signatures);
  return headers;
}

WebhookDeliveries::WebhookDeliveries(uv_loop_t* loop, const Clock& clock, WebhookStore& store, QueueTrigger& trigger,
                                     QueueBackend& queues, WebhookDeliveryOptions options)
    : loop_(loop),
      clock_(clock),
      store_(store),
      trigger_(trigger),
      queues_(queues),
      options_(options),
      sender_(std::make_unique<CallbackSender>(clock, options.sender)),
      mailbox_(std::make_shared<Mailbox>()) {
  answers_ = new uv_async_t;
  uv_async_init(loop_, answers_, [](uv_async_t* a) { static_cast<WebhookDeliveries*>(a->data)->onAnswers(); });
  answers_->data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(answers_));
  mailbox_->async = answers_;
}

WebhookDeliveries::~WebhookDeliveries() {
  // The sender's threads stop here; answers they still give land in a mailbox nobody reads.
  sender_.reset();
}

Result<void> WebhookDeliveries::start() {
  for (const Webhook& hook : store_.list()) bind(hook);
  return {};
}

namespace {
// Its owner of topic bindings: ':' is in no app name, so no app can replace a webhook's.
std::string bindingOwner(const std::string& id) { return "webhook:" + id; }
}  // namespace

void WebhookDeliveries::bind(const Webhook& hook) {
  TopicBindings bindings;
  EventFilter filter;
  if (!hook.type.empty()) filter.types.push_back(hook.type);
  bindings.subscriptions.push_back(Subscription{hook.topic, hook.id, std::move(filter)});
  auto bound = queues_.bindTopics(bindingOwner(hook.id), std::move(bindings), [id = hook.id](Result<void> r) {
    if (!r) spdlog::error("webhook {}: cannot subscribe it to its topic: {}", id, r.error().message);
  });
  if (!bound) spdlog::error("webhook {}: cannot subscribe it to its topic: {}", hook.id, bound.error().message);
  QueueTriggerSpec spec;
  spec.queue = subscriptionQueue(hook.topic, hook.id);
  spec.batch_size = 1;
  spec.max_attempts = options_.max_attempts;
  spec.backoff_base = options_.backoff_base;
  spec.backoff_cap = options_.backoff_cap;
  // Past the sender's deadline for one attempt, with room for the attempts queued before it.
  spec.visibility_timeout = 6 * options_.sender.attempt_deadline;
  trigger_.addConsumer(
      hook.id, "webhook " + hook.id, std::move(spec), options_.in_flight_per_webhook,
      [this, id = hook.id](Invocation&& invocation, OutcomeCallback&& done) {
        deliver(id, std::move(invocation), std::move(done));
      },
      hook.topic);
}

Result<void> WebhookDeliveries::add(std::string topic, std::string url, std::string type, Done<Webhook> done) {
  if (closing_) return makeError(ErrorKind::kUnavailable, "the host is stopping");
  if (auto valid = validateTopicName(topic); !valid) return valid;
  if (auto checked = checkCallbackUrl(url, WebhookStore::kMaxUrlBytes, options_.sender.allowed, "the webhook URL");
      !checked) {
    return checked;
  }
  return store_.create(std::move(topic), std::move(url), std::move(type),
                       [this, done = std::move(done)](Result<Webhook> made) mutable {
                         // Bound before the answer: an event published after it reaches the webhook.
                         if (made && !closing_) bind(*made);
                         done(std::move(made));
                       });
}

Result<void> WebhookDeliveries::remove(const std::string& id, Done<void> done) {
  if (auto removed = store_.remove(id, std::move(done)); !removed) return removed;
  trigger_.removeConsumer(id);
  auto unbound = queues_.bindTopics(bindingOwner(id), {}, [id](Result<void> r) {
    if (!r) spdlog::error("webhook {}: cannot drop its subscription: {}", id, r.error().message);
  });
  if (!unbound) spdlog::error("webhook {}: cannot drop its subscription: {}", id, unbound.error().message);
  return {};
}

Result<void> WebhookDeliveries::rotate(const std::string& id, Done<Webhook> done) {
  return store_.rotate(id, std::move(done));
}

void WebhookDeliveries::deliver(const std::string& id, Invocation&& invocation, OutcomeCallback&& done) {
  const Webhook* hook = store_.find(id);
  if (closing_ || hook == nullptr || invocation.payload.messages.size() != 1) {
    return done(failedOutcome(OutcomeKind::kUnavailable, "webhook " + id + " is being removed or the host stops"));
  }
  const QueueMessage& message = invocation.payload.messages.front();
  auto headers = webhookHeaders(*hook, message, clock_.wallNow());
  if (!headers) return done(failedOutcome(OutcomeKind::kFunctionError, "webhook " + id + ": " + headers.error().message));
  uint64_t attempt = ++next_attempt_;
  std::string endpoint = callbackEndpoint(hook->url);
  auto posted = sender_->postOnce(id, hook->url, std::move(*headers), message.body,
                                  [mailbox = mailbox_, attempt](const std::string& why) {
                                    std::lock_guard lock(mailbox->mutex);
                                    if (mailbox->async == nullptr) return;
                                    mailbox->answers.emplace_back(attempt, why);
                                    uv_async_send(mailbox->async);
                                  });
  if (!posted) {
    return done(failedOutcome(OutcomeKind::kOverloaded, "POST " + endpoint + ": " + posted.error().message));
  }
  waiting_.emplace(attempt, Waiting{std::move(endpoint), std::move(done)});
  // Keeps the loop alive while an attempt is out, so its answer is heard.
  uv_ref(reinterpret_cast<uv_handle_t*>(answers_));
}

void WebhookDeliveries::onAnswers() {
  std::vector<std::pair<uint64_t, std::string>> answers;
  {
    std::lock_guard lock(mailbox_->mutex);
    answers.swap(mailbox_->answers);
  }
  for (auto& [attempt, why] : answers) {
    auto it = waiting_.find(attempt);
    if (it == waiting_.end()) continue;
    Waiting waiting = std::move(it->second);
    waiting_.erase(it);
    if (why.empty()) {
      Outcome ok;
      ok.settlements.emplace_back();  // an ack of message 0: batches of one event (see bind)
      waiting.done(std::move(ok));
    } else {
      waiting.done(failedOutcome(OutcomeKind::kFunctionError, "POST " + waiting.endpoint + ": " + why));
    }
  }
  if (waiting_.empty() && answers_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(answers_));
}

void WebhookDeliveries::close(std::function<void()> on_closed) {
  if (answers_ == nullptr) {  // closed already
    if (on_closed) on_closed();
    return;
  }
  closing_ = true;
  {
    std::lock_guard lock(mailbox_->mutex);
    mailbox_->async = nullptr;
  }
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& [attempt, entry] : waiting) {
    entry.done(failedOutcome(OutcomeKind::kUnavailable, "the host stopped before the receiver answered"));
  }
  uv_async_t* async = answers_;
  answers_ = nullptr;
  async->data = new std::function<void()>(std::move(on_closed));
  uv_close(reinterpret_cast<uv_handle_t*>(async), [](uv_handle_t* h) {
    auto* then = static_cast<std::function<void()>*>(h->data);
    delete reinterpret_cast<uv_async_t*>(h);
    if (*then) (*then)();
    delete then;
  });
}

}  // namespace gust
