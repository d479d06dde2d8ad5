#pragma once
// The two load shapes the queue benches drive through any QueueBackend
// (runtime/store/queue_backend.h), so that the embedded and the Redis backends are measured
// by the same code: round trips (send -> lease -> ack, each waiting for the previous) on
// `flows` queues at once, and one-event sends to a topic from 16 producers.

#include <uv.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "runtime/base/names.h"
#include "runtime/store/queue_backend.h"

namespace gust::bench {

constexpr size_t kBodyBytes = 100;

[[noreturn]] inline void die(const std::string& what) {
  std::fprintf(stderr, "bench: %s\n", what.c_str());
  std::exit(1);
}

inline void runUntil(uv_loop_t* loop, const std::function<bool()>& done) {
  while (!done()) uv_run(loop, UV_RUN_ONCE);
}

// Messages acked per second.
inline double roundTrips(uv_loop_t* loop, QueueBackend& q, size_t batch, int flows, double seconds) {
  using Steady = std::chrono::steady_clock;
  const std::string body(kBodyBytes, 'b');
  const auto start = Steady::now();
  const auto end = start + std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(seconds));
  int64_t acked = 0;
  int running = flows;
  std::function<void(int)> round = [&](int flow) {
    if (Steady::now() >= end) {
      --running;
      return;
    }
    const std::string name = "bench-" + std::to_string(flow);
    std::vector<OutgoingMessage> messages(batch);
    for (auto& m : messages) m.body = body;
    auto sent = q.send(name, std::move(messages), [&, flow, name](Result<std::vector<SendResult>> r) {
      if (!r.ok()) die(r.error().message);
      LeaseOptions lease;
      lease.max_count = batch;
      auto leased = q.lease(name, lease, [&, flow, name](Result<LeaseResult> l) {
        if (!l.ok()) die(l.error().message);
        if (l->messages.size() != batch) die("leased " + std::to_string(l->messages.size()) + " messages");
        std::vector<MessageSettlement> acks;
        for (auto& m : l->messages) acks.push_back({name, m.id, m.lease_token, SettleAction::kAck, {}, {}});
        auto settled = q.settle(std::move(acks), {}, {}, [&, flow](Result<SettleResult> s) {
          if (!s.ok()) die(s.error().message);
          if (!s->committed) die("an ack was rejected");
          acked += static_cast<int64_t>(batch);
          round(flow);
        });
        if (!settled.ok()) die(settled.error().message);
      });
      if (!leased.ok()) die(leased.error().message);
    });
    if (!sent.ok()) die(sent.error().message);
  };
  for (int f = 0; f < flows; ++f) round(f);
  runUntil(loop, [&running] { return running == 0; });
  return static_cast<double>(acked) / std::chrono::duration<double>(Steady::now() - start).count();
}

// Events per second sent to the topic "events" with `subscribers` subscriptions (0: a plain
// queue), `batch` per send, by 16 producers.
inline double fanOut(uv_loop_t* loop, QueueBackend& q, int subscribers, size_t batch, double seconds) {
  using Steady = std::chrono::steady_clock;
  constexpr int kFlows = 16;
  if (subscribers > 0) {
    TopicBindings bindings;
    for (int i = 0; i < subscribers; ++i) {
      bindings.subscriptions.push_back({"events", functionSubscriber("bench", "f" + std::to_string(i)), {}});
    }
    bool bound = false;
    auto posted = q.bindTopics("bench", std::move(bindings), [&bound](Result<void> r) {
      if (!r.ok()) die(r.error().message);
      bound = true;
    });
    if (!posted.ok()) die(posted.error().message);
    runUntil(loop, [&bound] { return bound; });
  }
  const std::string body(kBodyBytes, 'b');
  const auto start = Steady::now();
  const auto end = start + std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(seconds));
  int64_t events = 0;
  int running = kFlows;
  std::function<void()> round = [&] {
    if (Steady::now() >= end) {
      --running;
      return;
    }
    std::vector<OutgoingMessage> messages(batch);
    for (auto& m : messages) m.body = body;
    auto sent = q.send("events", std::move(messages), [&](Result<std::vector<SendResult>> r) {
      if (!r.ok()) die(r.error().message);
      events += static_cast<int64_t>(batch);
      round();
    });
    if (!sent.ok()) die(sent.error().message);
  };
  for (int f = 0; f < kFlows; ++f) round();
  runUntil(loop, [&running] { return running == 0; });
  return static_cast<double>(events) / std::chrono::duration<double>(Steady::now() - start).count();
}

}  // namespace gust::bench
