#include "runtime/admin/admin_logs.h"

#include <algorithm>
#include <charconv>
#include <chrono>

namespace gust {

struct AdminLogs::Waiter {
  AdminLogs* owner = nullptr;
  HttpResponder responder;
  uv_timer_t timer{};
  LogFanout::SubscriptionId subscription = 0;
  std::string app;
  uint64_t order = 0;  // arrival order, so the oldest can make room
  uint64_t after = 0;
  std::chrono::steady_clock::time_point deadline;  // when it answers with no lines
  bool finished = false;
};

namespace {

// Polling the connection this often notices a follower whose connection is gone. One
// that merely closed its socket looks half-closed to the server until an answer is written,
// so it is still counted; see the eviction in handle().
constexpr uint64_t kTickMs = 250;

Result<uint64_t> numberParam(const AdminCall& call, std::string_view name, uint64_t fallback, uint64_t max) {
  std::string text = call.query(name);
  if (text.empty()) return fallback;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > max) {
    return makeError(ErrorKind::kBadInput, "query parameter " + std::string(name) + "=" + text +
                                               " is not a whole number from 0 to " + std::to_string(max));
  }
  return value;
}

HttpResponse answer(nlohmann::json lines, uint64_t next) {
  return jsonResponse({{"lines", std::move(lines)}, {"next", next}});
}

}  // namespace

AdminLogs::AdminLogs(uv_loop_t* loop, const Clock& clock, LogFanout& logs, const Dispatcher& dispatcher)
    : loop_(loop), clock_(clock), logs_(logs), dispatcher_(dispatcher) {}

AdminLogs::~AdminLogs() { assert(waiters_.empty()); }

void AdminLogs::addRoutes(AdminApi& api) {
  api.route({"GET"}, "/v1/apps/{app}/logs", [this](AdminCall&& call) { handle(std::move(call)); });
}

void AdminLogs::handle(AdminCall&& call) {
  std::string app = call.param("app");
  auto after = numberParam(call, "after", 0, UINT64_MAX);
  auto limit = numberParam(call, "limit", kDefaultLimit, kMaxLimit);
  auto wait = numberParam(call, "wait", 0, kMaxWaitMs);
  for (const auto* r : {&after, &limit, &wait}) {
    if (!*r) return call.responder.send(errorResponse(r->error()));
  }
  std::vector<LogLine> stored = logs_.recent(app);
  if (dispatcher_.app(app) == nullptr && stored.empty()) {
    return call.responder.send(
        errorResponse(makeError(ErrorKind::kNotFound, "no app named \"" + app + "\" (see GET /v1/apps)")));
  }
  uint64_t from = *after;
  if (!stored.empty() && stored.back().seq < from) from = 0;  // the host restarted; see the header
  nlohmann::json lines = nlohmann::json::array();
  uint64_t next = *after;
  for (const auto& line : stored) {
    if (line.seq <= from) continue;
    if (lines.size() >= *limit) break;
    lines.push_back(logLineJson(line));
    next = line.seq;
  }
  if (!lines.empty() || *wait == 0 || *limit == 0 || closed_) return call.responder.send(answer(std::move(lines), next));

  auto owned = std::make_unique<Waiter>();
  Waiter* w = owned.get();
  w->owner = this;
  w->responder = std::move(call.responder);
  w->after = *after;
  w->deadline = clock_.now() + std::chrono::milliseconds(*wait);
  // recent() and subscribe() in one loop turn: no line falls between them.
  w->app = app;
  w->order = next_order_++;
  auto subscriber = [this, w](const LogLine& line) {
    if (w->finished) return;
    nlohmann::json one = nlohmann::json::array();
    one.push_back(logLineJson(line));
    finish(w, std::move(one), line.seq);
  };
  auto subscribed = logs_.subscribe(app, subscriber);
  if (!subscribed && subscribed.error().kind == ErrorKind::kOverloaded) {
    // Full: the app's oldest held poll is answered (empty) to make room. A follower still
    // there just polls again; one that hung up (which the server cannot always tell from a
    // half-closed client) stops holding a place.
    Waiter* oldest = nullptr;
    for (const auto& [other, owned_other] : waiters_) {
      if (!other->finished && other->app == app && (oldest == nullptr || other->order < oldest->order)) oldest = other;
    }
    if (oldest != nullptr) {
      finish(oldest, nlohmann::json::array(), oldest->after);
      subscribed = logs_.subscribe(app, subscriber);
    }
  }
  if (!subscribed) return w->responder.send(errorResponse(subscribed.error()));
  w->subscription = *subscribed;
  uv_timer_init(loop_, &w->timer);
  w->timer.data = w;
  armTick(w);
  waiters_[w] = std::move(owned);
}

void AdminLogs::armTick(Waiter* w) {
  uv_timer_start(&w->timer, [](uv_timer_t* t) {
    auto* waiter = static_cast<Waiter*>(t->data);
    waiter->owner->onTick(waiter);
  }, std::min(kTickMs, millisecondsUntil(clock_, w->deadline)), 0);
}

void AdminLogs::onTick(Waiter* w) {
  if (!w->responder.connected()) return finish(w, nlohmann::json::array(), w->after);
  if (clock_.now() >= w->deadline) return finish(w, nlohmann::json::array(), w->after);
  armTick(w);
}

void AdminLogs::finish(Waiter* w, nlohmann::json lines, uint64_t next) {
  if (w->finished) return;
  w->finished = true;
  logs_.unsubscribe(w->subscription);
  w->responder.send(answer(std::move(lines), next));  // a no-op when the follower is gone
  uv_timer_stop(&w->timer);
  ++closing_timers_;
  uv_close(reinterpret_cast<uv_handle_t*>(&w->timer), [](uv_handle_t* h) {
    auto* waiter = static_cast<Waiter*>(h->data);
    AdminLogs* self = waiter->owner;
    self->waiters_.erase(waiter);
    if (--self->closing_timers_ == 0 && self->closed_ && self->on_closed_) {
      auto done = std::move(self->on_closed_);
      done();
    }
  });
}

void AdminLogs::close(std::function<void()> on_closed) {
  closed_ = true;
  std::vector<Waiter*> all;
  for (const auto& [w, owned] : waiters_) all.push_back(w);
  for (Waiter* w : all) finish(w, nlohmann::json::array(), w->after);
  if (closing_timers_ == 0) {
    if (on_closed) on_closed();
  } else {
    on_closed_ = std::move(on_closed);
  }
}

}  // namespace gust
