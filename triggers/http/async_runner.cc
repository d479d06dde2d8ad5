#include "triggers/http/async_runner.h"

#include <spdlog/spdlog.h>

#include "triggers/http/async_json.h"
#include "triggers/http/http_trigger.h"

namespace gust {
namespace {

// What whoever polls is told of a failure: what a synchronous caller would be (responseFor);
// the invocation record keeps the full message.
std::string errorText(const Outcome& outcome, bool expose_errors) {
  return std::string(outcomeName(outcome.kind)) + ": " +
         (expose_errors ? outcome.message : std::string(publicDetailOf(outcome.kind)));
}

bool retryable(OutcomeKind kind) {
  return kind == OutcomeKind::kCrashed || kind == OutcomeKind::kTimedOut || kind == OutcomeKind::kOverloaded ||
         kind == OutcomeKind::kUnavailable;
}

}  // namespace

AsyncRunner::AsyncRunner(uv_loop_t* loop, const Clock& clock, Dispatcher& dispatcher, InvocationStore& store,
                         CallbackSender& callbacks, AsyncInvocationBuilder build, AsyncRunnerOptions options)
    : loop_(loop),
      clock_(clock),
      dispatcher_(dispatcher),
      store_(store),
      callbacks_(callbacks),
      build_(std::move(build)),
      options_(options) {}

AsyncRunner::~AsyncRunner() = default;

void AsyncRunner::start() {
  started_ = true;
  uv_timer_init(loop_, &retry_timer_);
  retry_timer_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&retry_timer_));
  uv_timer_init(loop_, &expire_timer_);
  expire_timer_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&expire_timer_));
  uv_timer_init(loop_, &adopt_timer_);
  adopt_timer_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&adopt_timer_));
  if (auto adopt_every = static_cast<uint64_t>(options_.adopt_every.count()); adopt_every > 0) {
    uv_timer_start(
        &adopt_timer_, [](uv_timer_t* t) { static_cast<AsyncRunner*>(t->data)->adoptOrphans(); }, adopt_every,
        adopt_every);
  }
  uv_async_init(loop_, &callback_errors_async_,
                [](uv_async_t* a) { static_cast<AsyncRunner*>(a->data)->storeCallbackErrors(); });
  callback_errors_async_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&callback_errors_async_));
  callbacks_.onAbandoned([this](const std::string& id, const std::string& why) {
    {
      std::lock_guard lock(callback_errors_mutex_);
      callback_errors_.emplace_back(id, why);
    }
    uv_async_send(&callback_errors_async_);
  });
  auto every = static_cast<uint64_t>(options_.expire_every.count());
  uv_timer_start(
      &expire_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<AsyncRunner*>(t->data);
        auto posted = self->store_.expireAsync([self](Result<int64_t> n) {
          if (self->closing_) return;
          if (!n) spdlog::warn("expiring async invocations failed: {}", n.error().message);
          else if (*n > 0) spdlog::info("expired {} async invocation record(s)", *n);
        });
        if (!posted) spdlog::warn("expiring async invocations failed: {}", posted.error().message);
      },
      every, every);

  // Posted before any create can be (the listener serves only once start() returned), so
  // the counts hold none of the invocations admitted since.
  auto counted = store_.countUnfinishedAsync([this](Result<std::map<std::string, size_t>> counts) {
    if (closing_) return;
    if (!counts) {
      spdlog::error("cannot count unfinished async invocations: {}; max_pending_async counts from 0",
                    counts.error().message);
      return;
    }
    for (const auto& [app, n] : *counts) unfinished_[app] += n;
  });
  if (!counted) spdlog::error("cannot count unfinished async invocations: {}", counted.error().message);
  auto listed = store_.listUnfinishedAsync(options_.resume_limit, [this](Result<std::vector<std::string>> ids) {
    if (closing_) return;
    if (!ids) {
      spdlog::error("cannot resume async invocations: {}", ids.error().message);
      return;
    }
    if (!ids->empty()) spdlog::info("resuming {} unfinished async invocation(s)", ids->size());
    for (auto& id : *ids) enqueue(std::move(id));
  });
  if (!listed) spdlog::error("cannot resume async invocations: {}", listed.error().message);
}

bool AsyncRunner::admit(const std::string& app, std::optional<size_t> own_bound) {
  size_t& n = unfinished_[app];
  if (n >= boundOf(own_bound)) return false;
  ++n;
  return true;
}

void AsyncRunner::unadmit(const std::string& app) {
  auto it = unfinished_.find(app);
  if (it != unfinished_.end() && it->second > 0) --it->second;
}

size_t AsyncRunner::unfinished(const std::string& app) const {
  auto it = unfinished_.find(app);
  return it == unfinished_.end() ? 0 : it->second;
}

void AsyncRunner::submit(AsyncInvocation invocation) {
  if (closing_) return;  // stays queued in the store; the next start() runs it
  if (running_ < options_.max_running && waiting_.empty()) {
    ++running_;
    begin(std::move(invocation));
  } else {
    waiting_.push_back(std::move(invocation.id));
    pump();
  }
}

void AsyncRunner::enqueue(std::string id) {
  waiting_.push_back(std::move(id));
  pump();
}

void AsyncRunner::pump() {
  while (!closing_ && running_ < options_.max_running && !waiting_.empty()) {
    std::string id = std::move(waiting_.front());
    waiting_.pop_front();
    ++running_;
    auto posted = store_.getAsync(id, [this, id](Result<std::optional<AsyncInvocation>> found) {
      if (closing_) return;
      if (!found || !*found) {
        if (!found) spdlog::warn("async invocation {}: cannot read it: {}", id, found.error().message);
        release();
        return;
      }
      AsyncInvocation& record = **found;
      if (record.status == AsyncStatus::kSucceeded || record.status == AsyncStatus::kFailed) {
        release();  // already finished (e.g. listed twice)
        return;
      }
      begin(std::move(record));
    });
    if (!posted) {
      spdlog::warn("async invocation {}: cannot read it: {}; it runs after the next restart", id,
                   posted.error().message);
      --running_;
      return;
    }
  }
}

void AsyncRunner::release() {
  --running_;
  pump();
}

void AsyncRunner::begin(AsyncInvocation invocation) {
  // Persist the attempt before running it: a crash from here on leaves `running` behind.
  AsyncUpdate update;
  update.status = AsyncStatus::kRunning;
  update.attempts = invocation.attempts + 1;
  std::string id = invocation.id;
  auto posted = store_.updateAsync(id, std::move(update), [this, id](Result<AsyncInvocation> updated) {
    if (closing_) return;
    if (!updated) {
      spdlog::warn("async invocation {}: cannot mark it running: {}", id, updated.error().message);
      release();
      return;
    }
    Invocation inv = build_(*updated);
    dispatcher_.invoke(std::move(inv), [this, record = std::move(*updated)](Outcome&& outcome) mutable {
      if (closing_) return;  // left `running`: the next start() runs it again
      finish(std::move(record), std::move(outcome));
    });
  });
  if (!posted) {
    spdlog::warn("async invocation {}: cannot mark it running: {}; it runs after the next restart", id,
                 posted.error().message);
    release();
  }
}

AsyncResponse AsyncRunner::capped(AsyncResponse response) const {
  const auto& limits = store_.options();
  if (response.body.size() > limits.max_async_body_bytes) {
    response.headers.emplace_back("X-Gust-Body-Truncated", std::to_string(response.body.size()));
    response.body.resize(limits.max_async_body_bytes);
  }
  size_t header_bytes = 0;
  for (const auto& [n, v] : response.headers) header_bytes += n.size() + v.size();
  if (header_bytes > limits.max_async_header_bytes) {
    response.headers = {{"X-Gust-Headers-Dropped", std::to_string(header_bytes)}};
  }
  return response;
}

void AsyncRunner::finish(AsyncInvocation record, Outcome&& outcome) {
  const int attempts = record.attempts;
  if (retryable(outcome.kind) && attempts < options_.max_attempts) {
    std::string error = errorText(outcome, options_.expose_errors);
    retryLater(record.id, attempts, std::move(error));
    release();
    return;
  }
  const bool ok = outcome.kind == OutcomeKind::kOk;
  std::string error;
  if (!ok) {
    error = errorText(outcome, options_.expose_errors);
    if (retryable(outcome.kind)) error += " (after " + std::to_string(attempts) + " attempts)";
  }
  HttpResponse http = responseFor(std::move(outcome), record.id, options_.expose_errors);
  if (ok && http.status >= 500 && error.empty()) error = "the function answered " + std::to_string(http.status);
  AsyncUpdate update;
  update.status = http.status < 500 && ok ? AsyncStatus::kSucceeded : AsyncStatus::kFailed;
  update.response = capped(AsyncResponse{http.status, std::move(http.headers), std::move(http.body)});
  update.error = std::move(error);
  std::string id = record.id;
  release();
  auto posted = store_.updateAsync(id, std::move(update), [this, id](Result<AsyncInvocation> updated) {
    if (closing_) return;
    if (!updated) {
      spdlog::warn("async invocation {}: cannot store its result: {}", id, updated.error().message);
      return;
    }
    unadmit(updated->app);  // finished: no longer counts toward max_pending_async
    if (updated->callback_url.empty()) return;
    if (auto sent = callbacks_.send(id, updated->callback_url, asyncInvocationJson(*updated).dump()); !sent) {
      spdlog::warn("async invocation {}: callback not sent: {}", id, sent.error().message);
    }
  });
  if (!posted) {
    spdlog::warn("async invocation {}: cannot store its result: {}; it runs again after the next restart", id,
                 posted.error().message);
  }
}

void AsyncRunner::storeCallbackErrors() {
  std::vector<std::pair<std::string, std::string>> taken;
  {
    std::lock_guard lock(callback_errors_mutex_);
    taken.swap(callback_errors_);
  }
  auto unstored = [](const std::string& id, const Error& error) {
    spdlog::warn("async invocation {}: cannot store why its callback failed: {}", id, error.message);
  };
  for (auto& [id, why] : taken) {
    auto posted = store_.setCallbackError(id, why, [id, unstored](Result<void> stored) {
      if (!stored) unstored(id, stored.error());
    });
    if (!posted) unstored(id, posted.error());
  }
}

void AsyncRunner::retryLater(const std::string& id, int attempts_done, std::string error) {
  auto delay = options_.first_retry_delay * (1 << std::min(attempts_done - 1, 16));
  spdlog::info("async invocation {} attempt {} failed ({}); retrying in {} ms", id, attempts_done, error,
               delay.count());
  AsyncUpdate update;
  update.status = AsyncStatus::kQueued;
  update.error = std::move(error);
  auto posted = store_.updateAsync(id, std::move(update), [this, id](Result<AsyncInvocation> updated) {
    if (closing_ || updated) return;
    spdlog::warn("async invocation {}: cannot mark it queued: {}", id, updated.error().message);
  });
  if (!posted) spdlog::warn("async invocation {}: cannot mark it queued: {}", id, posted.error().message);
  retries_.emplace(clock_.now() + delay, id);
  armRetryTimer();
}

void AsyncRunner::armRetryTimer() {
  if (retries_.empty() || !started_) return;
  uv_timer_start(&retry_timer_, [](uv_timer_t* t) { static_cast<AsyncRunner*>(t->data)->tick(); },
                 millisecondsUntil(clock_, retries_.begin()->first), 0);
}

void AsyncRunner::tick() {
  if (closing_) return;
  auto now = clock_.now();
  while (!retries_.empty() && retries_.begin()->first <= now) {
    waiting_.push_back(std::move(retries_.begin()->second));
    retries_.erase(retries_.begin());
  }
  pump();
  armRetryTimer();
}

void AsyncRunner::adoptOrphans() {
  auto posted = store_.adoptOrphanedAsync([this](Result<std::vector<AdoptedAsync>> adopted) {
    if (closing_) return;
    if (!adopted) {
      spdlog::warn("cannot take over the async invocations of hosts that left: {}", adopted.error().message);
      return;
    }
    if (!adopted->empty()) {
      spdlog::info("taking over {} unfinished async invocation(s) of hosts that left the cluster", adopted->size());
    }
    for (auto& orphan : *adopted) {
      ++unfinished_[orphan.app];  // counts toward its app's bound until it finishes here
      enqueue(std::move(orphan.id));
    }
  });
  // A backend that is down now is asked again at the next tick.
  if (!posted) spdlog::debug("cannot take over async invocations now: {}", posted.error().message);
}

void AsyncRunner::close(std::function<void()> on_closed) {
  closing_ = true;
  // The sender outlives this runner: it must stop reporting to a handle that is closing.
  if (started_) callbacks_.onAbandoned(nullptr);
  if (!waiting_.empty() || !retries_.empty()) {
    spdlog::info("{} async invocation(s) left queued; they run after the next start",
                 waiting_.size() + retries_.size());
  }
  waiting_.clear();
  retries_.clear();
  closer_.closeAll({started_ ? reinterpret_cast<uv_handle_t*>(&retry_timer_) : nullptr,
                    started_ ? reinterpret_cast<uv_handle_t*>(&expire_timer_) : nullptr,
                    started_ ? reinterpret_cast<uv_handle_t*>(&adopt_timer_) : nullptr,
                    started_ ? reinterpret_cast<uv_handle_t*>(&callback_errors_async_) : nullptr},
                   std::move(on_closed));
}

}  // namespace gust
