#include "triggers/queue/queue_trigger.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <cctype>
#include <cmath>
#include <optional>
#include <set>

#include "gust/abi.h"

namespace gust {

using std::chrono::milliseconds;

namespace {

// Delays when the backend refuses a call (overloaded, or a database error): try again
// later rather than spin.
constexpr milliseconds kBackendRetry{1000};
// After an empty lease, the next lease is at least this far away, so that a message
// reported visible but not leasable cannot make a consumer spin.
constexpr milliseconds kMinSleep{5};
// Messages per lease at most: the backend's own bound (QueueLimits::max_batch).
constexpr size_t kMaxLease = 1000;

std::string header(const Pairs& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) { return std::tolower(a) == b; })) {
      return v;
    }
  }
  return {};
}

bool hasHeader(const Pairs& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) {
    return h.first.size() == name.size() && std::equal(h.first.begin(), h.first.end(), name.begin(),
                                                        [](char a, char b) { return std::tolower(a) == b; });
  });
}

// What a function published, as the store takes it. It belongs to the trace of the
// invocation that published it, unless the function set its own traceparent.
MessagePublish messagePublish(Publish&& p, const std::string& traceparent, const std::string& tracestate) {
  MessagePublish out{std::move(p.queue), OutgoingMessage{std::move(p.id), std::move(p.body), std::move(p.headers),
                                                         p.delay, std::move(p.source)}};
  if (!traceparent.empty() && !hasHeader(out.message.headers, "traceparent")) {
    out.message.headers.emplace_back("traceparent", traceparent);
    if (!tracestate.empty() && !hasHeader(out.message.headers, "tracestate")) {
      out.message.headers.emplace_back("tracestate", tracestate);
    }
  }
  return out;
}

}  // namespace

milliseconds queueBackoff(milliseconds base, milliseconds cap, int attempts, double jitter) {
  // 2^(attempts-1) overflows long before it matters: past 2^40 every base reaches the cap.
  int shift = std::clamp(attempts - 1, 0, 40);
  double full = std::min(static_cast<double>(cap.count()), static_cast<double>(base.count()) * std::ldexp(1.0, shift));
  return milliseconds(static_cast<int64_t>(full * std::clamp(jitter, 0.5, 1.0)));
}

struct QueueTrigger::Consumer {
  QueueTrigger* owner = nullptr;
  std::string app;
  std::string function;
  std::string topic;      // the topic whose commits wake it; empty for a queue
  BatchHandler handler;   // empty: the dispatcher
  QueueTriggerSpec spec;
  StorageBounds bounds;   // the app's, for spec.queue
  size_t capacity = 1;    // batches in flight at most: the app's instances x concurrency
  size_t in_flight = 0;   // batches invoked and not yet settled
  bool leasing = false;   // a lease or nextVisibleAt call is outstanding
  bool woken = false;     // notify() arrived while leasing: lease again instead of sleeping
  bool retired = false;   // replaced or removed: leases nothing more
  bool timer_open = true;
  uv_timer_t timer{};
};

struct QueueTrigger::Batch {
  Consumer* consumer = nullptr;  // kept alive (in retired_ if need be) until this batch is done
  std::vector<LeasedMessage> messages;
  std::string traceparent;
  std::string tracestate;
};

QueueTrigger::QueueTrigger(uv_loop_t* loop, const Clock& clock, Dispatcher& dispatcher, QueueBackend& queues)
    : loop_(loop), clock_(clock), dispatcher_(dispatcher), queues_(queues), rng_(std::random_device{}()) {}

QueueTrigger::~QueueTrigger() = default;

Result<void> QueueTrigger::addApp(const AppInfo& app) {
  const std::string& name = app.manifest.name;
  retireApp(name);
  if (closing_) return {};
  const PoolSettings& pool = app.manifest.pool;
  size_t capacity = std::max<size_t>(1, static_cast<size_t>(pool.max_instances) * std::max<uint32_t>(1, pool.concurrency));
  TopicBindings bindings;
  bindings.declared = app.manifest.topics;
  std::vector<Consumer*> added;
  for (const auto& f : app.manifest.functions) {
    if (!f.queue && !f.topic) continue;
    auto c = std::make_unique<Consumer>();
    c->owner = this;
    c->app = name;
    c->function = f.name;
    c->spec = f.queue ? *f.queue : f.topic->delivery;
    if (f.topic) {
      c->topic = f.topic->topic;
      bindings.subscriptions.push_back(Subscription{f.topic->topic, functionSubscriber(name, f.name), f.topic->filter});
    }
    c->bounds = app.manifest.storage;
    if (c->spec.visibility_timeout.count() <= 0) c->spec.visibility_timeout = 2 * app.manifest.timeoutOf(f);
    c->capacity = capacity;
    added.push_back(&startConsumer(name + "/" + f.name, std::move(c)));
  }
  // Posted before any consumer leases or any later publish: the writer runs jobs in order,
  // so nothing published after the deploy misses a subscription it made.
  auto bound = queues_.bindTopics(name, std::move(bindings), [name](Result<void> r) {
    if (!r) spdlog::error("[{}] cannot bind the app's topics: {}", name, r.error().message);
  });
  if (!bound) return bound.error();
  pushBounds();
  for (Consumer* c : added) pump(*c);
  return {};
}

QueueTrigger::Consumer& QueueTrigger::startConsumer(const std::string& key, std::unique_ptr<Consumer> c) {
  uv_timer_init(loop_, &c->timer);
  uv_unref(reinterpret_cast<uv_handle_t*>(&c->timer));
  c->timer.data = c.get();
  Consumer& started = *c;
  consumers_[key] = std::move(c);
  return started;
}

void QueueTrigger::addConsumer(const std::string& key, std::string label, QueueTriggerSpec spec, size_t capacity,
                               BatchHandler handler, std::string topic) {
  removeConsumer(key);
  if (closing_) return;
  auto c = std::make_unique<Consumer>();
  c->owner = this;
  c->app = std::move(label);
  c->topic = std::move(topic);
  c->handler = std::move(handler);
  c->spec = std::move(spec);
  c->capacity = std::max<size_t>(1, capacity);
  pump(startConsumer(key, std::move(c)));
}

void QueueTrigger::removeConsumer(const std::string& key) {
  auto it = consumers_.find(key);
  if (it == consumers_.end()) return;
  retire(std::move(it->second));
  consumers_.erase(it);
}

void QueueTrigger::setDefaultBounds(QueueBounds defaults) {
  default_bounds_ = std::move(defaults);
  pushBounds();
}

void QueueTrigger::startSweeping(std::chrono::milliseconds every, std::function<void()> with_each) {
  assert(!sweep_timer_open_ && "QueueTrigger::startSweeping called twice");
  if (closing_) return;
  with_each_sweep_ = std::move(with_each);
  uv_timer_init(loop_, &sweep_timer_);
  uv_unref(reinterpret_cast<uv_handle_t*>(&sweep_timer_));
  sweep_timer_.data = this;
  sweep_timer_open_ = true;
  const auto period = static_cast<uint64_t>(std::max<int64_t>(1, every.count()));
  uv_timer_start(
      &sweep_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<QueueTrigger*>(t->data);
        auto posted = self->queues_.sweep([](Result<int64_t> swept) {
          if (!swept) {
            spdlog::warn("queue retention sweep failed: {}; the next one tries again", swept.error().message);
          } else if (*swept > 0) {
            spdlog::info("queue retention: deleted {} messages and dead letters past their retention", *swept);
          }
        });
        if (!posted) spdlog::warn("queue retention sweep not started: {}", posted.error().message);
        if (self->with_each_sweep_) self->with_each_sweep_();
      },
      period, period);
}

void QueueTrigger::pushBounds() {
  std::map<std::string, QueueBounds> by_queue;
  for (const auto& [key, c] : consumers_) {
    QueueBounds b = default_bounds_;
    b.max_bytes = c->bounds.max_queue_bytes.value_or(b.max_bytes);
    b.retention = c->bounds.queue_retention.value_or(b.retention);
    b.dead_letter_retention = c->bounds.dead_letter_retention.value_or(b.dead_letter_retention);
    b.owner = "app " + c->app;
    by_queue[c->spec.queue] = std::move(b);
  }
  queues_.setBounds(default_bounds_, std::move(by_queue));
}

void QueueTrigger::removeApp(const std::string& name) {
  retireApp(name);
  auto unbound = queues_.bindTopics(name, {}, [name](Result<void> r) {
    if (!r) spdlog::error("[{}] cannot drop the removed app's topic subscriptions: {}", name, r.error().message);
  });
  if (!unbound) spdlog::error("[{}] cannot drop the removed app's topic subscriptions: {}", name, unbound.error().message);
}

void QueueTrigger::retireApp(const std::string& name) {
  const std::string prefix = name + "/";
  for (auto it = consumers_.lower_bound(prefix); it != consumers_.end() && it->first.starts_with(prefix);) {
    retire(std::move(it->second));
    it = consumers_.erase(it);
  }
  pushBounds();
}

void QueueTrigger::notify(const std::string& name) {
  for (auto& [key, c] : consumers_) {
    if (c->spec.queue != name && c->topic != name) continue;
    if (c->leasing) {
      c->woken = true;
    } else {
      pump(*c);
    }
  }
}

void QueueTrigger::publish(std::vector<Publish> publishes, AppStateWrites state, const TraceContext& trace,
                           UniqueFunction<void(Result<void>)> done) {
  std::vector<MessagePublish> out;
  out.reserve(publishes.size());
  std::set<std::string> targets;
  for (auto& p : publishes) {
    targets.insert(p.queue);
    out.push_back(messagePublish(std::move(p), trace.traceparent, trace.tracestate));
  }
  // A settle without settlements: every queue's messages in one transaction. A call that
  // fails now (a backend that cannot be reached) never calls back, and the callback it was
  // given is gone with it: `done` is shared so that it can still answer.
  auto shared = std::make_shared<UniqueFunction<void(Result<void>)>>(std::move(done));
  auto posted = queues_.settle({}, std::move(out), std::move(state),
                               [this, targets = std::move(targets), shared](Result<SettleResult> settled) {
                                 if (!settled) {
                                   (*shared)(settled.error());
                                   return;
                                 }
                                 for (const auto& q : targets) notify(q);
                                 (*shared)(Result<void>{});
                               });
  if (!posted) (*shared)(posted.error());
}

void QueueTrigger::close(std::function<void()> on_closed) {
  closing_ = true;
  on_closed_ = std::move(on_closed);
  if (sweep_timer_open_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&sweep_timer_), [](uv_handle_t* h) {
      auto* self = static_cast<QueueTrigger*>(h->data);
      self->sweep_timer_open_ = false;
      self->maybeClosed();
    });
  }
  while (!consumers_.empty()) {
    auto it = consumers_.begin();
    retire(std::move(it->second));
    consumers_.erase(it);
  }
  maybeClosed();
}

void QueueTrigger::pump(Consumer& c) {
  if (closing_ || c.retired || c.leasing || c.in_flight >= c.capacity) return;
  c.leasing = true;
  c.woken = false;
  uv_timer_stop(&c.timer);
  LeaseOptions options;
  // One lease fills every free slot: a lease is a commit, and leasing one batch at a time
  // would cap a consumer at one batch per commit round trip.
  options.max_count = std::min<size_t>(kMaxLease, (c.capacity - c.in_flight) * c.spec.batch_size);
  options.visibility_timeout = c.spec.visibility_timeout;
  options.max_attempts = static_cast<int>(c.spec.max_attempts);
  options.max_age = c.spec.max_age;
  auto posted = queues_.lease(c.spec.queue, options, [this, &c](Result<LeaseResult> leased) {
    onLeased(c, std::move(leased));
  });
  if (!posted) {
    c.leasing = false;
    spdlog::warn("[{}] queue {}: cannot lease: {}; trying again in {} ms", c.app, c.spec.queue,
                 posted.error().message, kBackendRetry.count());
    arm(c, kBackendRetry);
  }
}

void QueueTrigger::onLeased(Consumer& c, Result<LeaseResult> leased) {
  c.leasing = false;
  if (!leased) {
    spdlog::warn("[{}] queue {}: lease failed: {}; trying again in {} ms", c.app, c.spec.queue,
                 leased.error().message, kBackendRetry.count());
    arm(c, kBackendRetry);
    maybeFree(c);
    return;
  }
  stats_.dead_lettered += leased->dead_lettered;
  countSettled(c.spec.queue, SettleAction::kDeadLetter, leased->dead_lettered);
  if (leased->dead_lettered > 0) {
    spdlog::warn("[{}] queue {}: {} message(s) moved to {} (out of attempts or older than max_age)", c.app,
                 c.spec.queue, leased->dead_lettered, deadQueueOf(c.spec.queue));
  }
  if (leased->messages.empty()) {
    if (leased->dead_lettered > 0 || c.woken) {
      pump(c);
    } else {
      sleep(c);
    }
    maybeFree(c);
    return;
  }
  // A consumer retired while its lease was on the way still runs what it got: the
  // dispatcher sends it to the app's active version. Only a closing host leaves it to
  // the lease's expiry.
  if (closing_) {
    std::vector<MessageSettlement> back;
    for (const auto& m : leased->messages) {
      back.push_back({c.spec.queue, m.id, m.lease_token, SettleAction::kRetry, milliseconds(0), "host shutting down"});
    }
    (void)queues_.settle(std::move(back), {}, {}, [](Result<SettleResult>) {});
    maybeFree(c);
    return;
  }
  const size_t batch_size = std::max<size_t>(1, c.spec.batch_size);
  auto& messages = leased->messages;
  for (size_t at = 0; at < messages.size(); at += batch_size) {
    size_t end = std::min(messages.size(), at + batch_size);
    std::vector<LeasedMessage> batch(std::make_move_iterator(messages.begin() + static_cast<ptrdiff_t>(at)),
                                     std::make_move_iterator(messages.begin() + static_cast<ptrdiff_t>(end)));
    invoke(c, std::move(batch));
  }
  pump(c);
}

void QueueTrigger::sleep(Consumer& c) {
  if (closing_ || c.retired) return;
  c.leasing = true;
  auto posted = queues_.nextVisibleAt(c.spec.queue, [this, &c](Result<std::optional<QueueTime>> next) {
    c.leasing = false;
    if (closing_ || c.retired) {
      maybeFree(c);
      return;
    }
    if (c.woken) {
      pump(c);
    } else if (!next) {
      arm(c, kBackendRetry);
    } else if (*next) {
      auto delay = std::chrono::duration_cast<milliseconds>(**next - clock_.wallNow());
      // Rounded up: a timer that fires a little early would find nothing and sleep again.
      delay = std::max(kMinSleep, delay + milliseconds(1));
      arm(c, idle_recheck_ > milliseconds(0) ? std::min(delay, idle_recheck_) : delay);
    } else if (idle_recheck_ > milliseconds(0)) {
      arm(c, idle_recheck_);
    }
    // Otherwise an empty queue: notify() wakes the consumer.
  });
  if (!posted) {
    c.leasing = false;
    arm(c, kBackendRetry);
  }
}

void QueueTrigger::arm(Consumer& c, milliseconds delay) {
  if (closing_ || c.retired) return;
  uv_timer_start(
      &c.timer,
      [](uv_timer_t* t) {
        auto* consumer = static_cast<Consumer*>(t->data);
        consumer->owner->pump(*consumer);
      },
      static_cast<uint64_t>(std::max<int64_t>(0, delay.count())), 0);
}

void QueueTrigger::invoke(Consumer& c, std::vector<LeasedMessage>&& messages) {
  auto batch = std::make_unique<Batch>();
  batch->consumer = &c;
  batch->messages = std::move(messages);
  Invocation inv;
  inv.id = ids_.next();
  inv.app = c.app;
  inv.function = c.function;
  inv.payload.trigger = GUST_TRIGGER_QUEUE;
  // A batch belongs to one trace at most: the first message's, the one that caused it.
  batch->traceparent = header(batch->messages.front().headers, "traceparent");
  if (!batch->traceparent.empty()) batch->tracestate = header(batch->messages.front().headers, "tracestate");
  inv.trace.traceparent = batch->traceparent;
  inv.trace.tracestate = batch->tracestate;
  inv.payload.messages.reserve(batch->messages.size());
  for (const auto& m : batch->messages) {
    QueueMessage q;
    q.id = m.id;
    q.queue = c.spec.queue;
    q.body = m.body;
    q.headers = m.headers;
    q.attempt = static_cast<uint32_t>(std::max(1, m.attempts));
    q.enqueued_at_ms =
        std::chrono::duration_cast<milliseconds>(m.enqueued_at.time_since_epoch()).count();
    inv.attempt = std::max(inv.attempt, static_cast<int>(q.attempt));
    inv.payload.messages.push_back(std::move(q));
  }
  ++c.in_flight;
  ++stats_.batches;
  stats_.messages += batch->messages.size();
  OutcomeCallback done = [this, batch = std::move(batch)](Outcome&& outcome) mutable {
    onOutcome(std::move(batch), std::move(outcome));
  };
  if (c.handler) {
    c.handler(std::move(inv), std::move(done));
  } else {
    dispatcher_.invoke(std::move(inv), std::move(done));
  }
}

void QueueTrigger::onOutcome(std::unique_ptr<Batch> batch, Outcome&& outcome) {
  Consumer& c = *batch->consumer;
  const QueueTriggerSpec& spec = c.spec;
  const int max_attempts = static_cast<int>(spec.max_attempts);
  auto lastAttempt = [&](const LeasedMessage& m) { return max_attempts > 0 && m.attempts >= max_attempts; };
  std::vector<MessageSettlement> settlements;
  std::vector<MessagePublish> publishes;
  AppStateWrites state;
  settlements.reserve(batch->messages.size());

  if (outcome.kind == OutcomeKind::kOk && outcome.settlements.size() != batch->messages.size()) {
    // The host checks what a worker sends; a mismatch here is our bug, handled as a failure.
    outcome = failedOutcome(OutcomeKind::kFunctionError,
                            "the worker settled " + std::to_string(outcome.settlements.size()) + " of " +
                                std::to_string(batch->messages.size()) + " messages");
  }
  if (outcome.kind == OutcomeKind::kOk) {
    for (size_t i = 0; i < batch->messages.size(); ++i) {
      const LeasedMessage& m = batch->messages[i];
      const Settlement& s = outcome.settlements[i];
      MessageSettlement out{spec.queue, m.id, m.lease_token, s.action, milliseconds(0), {}};
      if (s.action == SettleAction::kRetry) {
        if (lastAttempt(m)) {
          out.action = SettleAction::kDeadLetter;
          out.error = "the function asked to retry on the last attempt (" + std::to_string(m.attempts) + " of " +
                      std::to_string(max_attempts) + ")";
        } else {
          out.retry_delay = s.delay;
          out.error = "the function asked to retry";
        }
      } else if (s.action == SettleAction::kDeadLetter) {
        out.error = s.reason.empty() ? "dead-lettered by the function" : s.reason;
      }
      settlements.push_back(std::move(out));
    }
    publishes.reserve(outcome.publishes.size());
    for (auto& p : outcome.publishes) {
      publishes.push_back(messagePublish(std::move(p), batch->traceparent, batch->tracestate));
    }
    state.app = c.app;
    state.writes = std::move(outcome.state_writes);
  } else {
    ++stats_.failed_batches;
    std::string why = std::string(outcomeName(outcome.kind)) + ": " + outcome.message;
    // One jitter for the whole batch: its messages were leased together and fail together.
    double jitter = std::uniform_real_distribution<double>(0.5, 1.0)(rng_);
    for (const auto& m : batch->messages) {
      MessageSettlement out{spec.queue, m.id, m.lease_token, SettleAction::kRetry, milliseconds(0), why};
      if (lastAttempt(m)) {
        out.action = SettleAction::kDeadLetter;
      } else if (!closing_) {
        // A host that is shutting down hands the batch back at once for the next start.
        out.retry_delay = queueBackoff(spec.backoff_base, spec.backoff_cap, m.attempts, jitter);
      }
      settlements.push_back(std::move(out));
    }
    spdlog::warn("[{}] {} on queue {}: batch of {} failed ({}); {}", c.app, c.function, spec.queue,
                 batch->messages.size(), why,
                 std::all_of(settlements.begin(), settlements.end(),
                             [](const auto& s) { return s.action == SettleAction::kDeadLetter; })
                     ? "dead-lettered: out of attempts"
                     : "retrying with backoff");
  }
  settle(std::move(batch), std::move(settlements), std::move(publishes), std::move(state));
}

void QueueTrigger::settle(std::unique_ptr<Batch> batch, std::vector<MessageSettlement> settlements,
                          std::vector<MessagePublish> publishes, AppStateWrites state) {
  Consumer* c = batch->consumer;
  const bool wrote_state = !state.empty();
  std::set<std::string> targets;
  for (const auto& p : publishes) targets.insert(p.queue);
  std::vector<SettleAction> actions;
  for (const auto& s : settlements) actions.push_back(s.action);
  auto posted = queues_.settle(
      std::move(settlements), std::move(publishes), std::move(state),
      [this, c, batch = wrote_state ? std::move(batch) : nullptr, targets = std::move(targets),
       actions = std::move(actions)](Result<SettleResult> settled) mutable {
        if (!settled && batch && settled.error().kind == ErrorKind::kConflict) {
          // Another invocation changed a key this one read: nothing was committed, and the
          // batch is retried with backoff like a failed one, so it reads the new version.
          onOutcome(std::move(batch), failedOutcome(OutcomeKind::kConflict, settled.error().message));
          return;
        }
        if (!settled) {
          ++stats_.settle_errors;
          spdlog::error("[{}] queue {}: settle failed: {}; the batch will be delivered again when its lease expires",
                        c->app, c->spec.queue, settled.error().message);
        } else if (!settled->committed) {
          ++stats_.stale_settles;
          spdlog::warn("[{}] queue {}: a lease expired before the batch settled (took longer than the visibility "
                       "timeout of {} ms?); nothing was committed and the batch will be delivered again",
                       c->app, c->spec.queue, c->spec.visibility_timeout.count());
        } else {
          for (SettleAction a : actions) {
            if (a == SettleAction::kAck) ++stats_.acked;
            if (a == SettleAction::kRetry) ++stats_.retried;
            if (a == SettleAction::kDeadLetter) ++stats_.dead_lettered;
            countSettled(c->spec.queue, a, 1);
          }
          for (const auto& q : targets) notify(q);
        }
        batchDone(*c);
      });
  if (!posted) {
    ++stats_.settle_errors;
    spdlog::error("[{}] queue {}: cannot settle: {}; the batch will be delivered again when its lease expires",
                  c->app, c->spec.queue, posted.error().message);
    batchDone(*c);
  }
}

void QueueTrigger::countSettled(const std::string& queue, SettleAction action, size_t count) {
  Telemetry* telemetry = dispatcher_.telemetry();
  if (telemetry == nullptr || count == 0 || action == SettleAction::kAck) return;
  const GustMetrics& m = telemetry->metrics();
  (action == SettleAction::kRetry ? m.queue_retries : m.queue_dead_letters)->labels({queue}).inc(count);
}

void QueueTrigger::batchDone(Consumer& c) {
  --c.in_flight;
  if (c.retired) {
    maybeFree(c);
  } else {
    pump(c);
  }
}

void QueueTrigger::retire(std::unique_ptr<Consumer> c) {
  c->retired = true;
  Consumer* raw = c.get();
  retired_.push_back(std::move(c));
  uv_close(reinterpret_cast<uv_handle_t*>(&raw->timer), [](uv_handle_t* h) {
    auto* consumer = static_cast<Consumer*>(h->data);
    consumer->timer_open = false;
    QueueTrigger* owner = consumer->owner;
    owner->maybeFree(*consumer);
    owner->maybeClosed();
  });
}

void QueueTrigger::maybeFree(Consumer& c) {
  if (!c.retired || c.timer_open || c.leasing || c.in_flight > 0) return;
  auto it = std::find_if(retired_.begin(), retired_.end(), [&](const auto& p) { return p.get() == &c; });
  if (it != retired_.end()) retired_.erase(it);
}

void QueueTrigger::maybeClosed() {
  if (!closing_ || !on_closed_) return;
  // Closed once every timer is; consumers with batches in flight stay until those settle.
  bool timers_open = std::any_of(retired_.begin(), retired_.end(), [](const auto& c) { return c->timer_open; });
  if (timers_open || sweep_timer_open_) return;
  auto done = std::move(on_closed_);
  on_closed_ = nullptr;
  done();
}

}  // namespace gust
