#pragma once
// The queue backend of a cluster (docs/scale-out.md "Queues and topics on Redis"): every queue, topic and
// retained log in the cluster's Redis, with the semantics of queue_backend.h, so that hosts
// behind one load balancer share them. Each queue is a stream with one consumer group, each
// host a consumer under its name: a lease reads new entries or takes back expired leases and
// due retries with XAUTOCLAIM, and the pending list counts the attempts. Each call is one run
// of one Lua script (redis_queue_script.cc), which Redis runs whole: that is what makes a
// send, a lease or a settle atomic across hosts.
//
// Topics: the table of who declares, subscribes to and retains which topic is in Redis under
// a version that grows at every bindTopics. Each host keeps a copy and works out a publish's
// fan-out from it (EventFilter::matches, the same rule as the embedded backend); the script
// refuses a send or settle made with an older version, and the host reads the table again
// and retries. So a subscription set through any host sees every event committed after it.
//
// Contract:
// - Owning thread: the client's loop thread; every call and callback happens there.
// - Borrows the client and the clock; both outlive it. Close the client (which completes
//   every command) before freeing the queue: its callbacks borrow it.
// - Time is clock.wallNow() of the host that makes the call, in milliseconds: hosts of one
//   cluster keep their clocks in step (NTP), as the leases already require.
// - While Redis is unreachable every call fails with kUnavailable (now, or through `done`
//   for a command whose answer did not come: it may or may not have run; a send or publish
//   with a caller-given id is safe to retry, the dedupe window drops the second copy).
// - settle commits app state writes in the same script, in the keys RedisStateStore reads
//   (runtime/store/redis_state_store.h).

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/base/clock.h"
#include "runtime/base/ids.h"
#include "runtime/store/queue_backend.h"
#include "runtime/store/redis_client.h"
#include "runtime/store/redis_script.h"

namespace gust {

class RedisQueue final : public QueueBackend {
 public:
  // `prefix` starts every key (tests give each its own).
  RedisQueue(RedisClient& client, const Clock& clock, QueueLimits limits = {}, std::string prefix = "gust:");
  RedisQueue(const RedisQueue&) = delete;
  RedisQueue& operator=(const RedisQueue&) = delete;

  Result<void> send(std::string queue, std::vector<OutgoingMessage> messages,
                    Done<std::vector<SendResult>> done) override;
  Result<void> lease(std::string queue, LeaseOptions options, Done<LeaseResult> done) override;
  Result<void> settle(std::vector<MessageSettlement> settlements, std::vector<MessagePublish> publishes,
                      AppStateWrites state, Done<SettleResult> done) override;
  Result<void> stats(Done<std::vector<QueueStats>> done) override;
  Result<void> peek(std::string queue, size_t max_count, Done<std::vector<PeekedMessage>> done) override;
  Result<void> redrive(std::string dead_queue, Done<int64_t> done) override;
  Result<void> purge(std::string queue, Done<int64_t> done) override;
  Result<void> nextVisibleAt(std::string queue, Done<std::optional<QueueTime>> done) override;
  void setBounds(QueueBounds defaults, std::map<std::string, QueueBounds> by_queue) override;
  Result<void> sweep(Done<int64_t> done) override;
  Result<void> bindTopics(std::string owner, TopicBindings bindings, Done<void> done) override;
  Result<void> topics(Done<std::vector<TopicInfo>> done) override;
  Result<void> subscriptions(std::string topic, Done<std::vector<SubscriptionInfo>> done) override;
  Result<void> retainedEvents(std::string topic, uint64_t after_seq, size_t limit,
                              Done<std::vector<TopicEvent>> done) override;
  void setRetainedListener(UniqueFunction<void(std::vector<TopicEvent>)> listener) override;
  // The name this host leases under: its consumer in each queue's consumer group (the
  // stream's pending list shows who holds what). Defaults to "gust".
  void setConsumer(std::string name) { consumer_ = std::move(name); }

 private:
  struct TopicEntry {
    std::vector<std::string> declared_by;
    struct Sub {
      Subscription subscription;
      std::string owner;
      int64_t created_ms = 0;
    };
    std::vector<Sub> subs;
    std::optional<TopicRetention> retained;  // the longest retention, the fewest events
  };
  // The topic table as Redis held it at `version`.
  struct TopicTable {
    std::string version;
    std::map<std::string, TopicEntry> topics;
  };
  // A send's or settle's messages as the script takes them, built from a table.
  struct Publishing;

  int64_t nowMs() const;
  const QueueBounds& boundsOf(const std::string& queue) const;
  // Runs the script: ARGV is the prefix, `op`, the time, then `args`. runChecked fails now
  // (without calling `done`) when Redis is unreachable; run calls `done` with that error.
  Result<void> runChecked(std::string_view op, std::vector<std::string> args, RedisClient::Done done);
  void run(std::string_view op, std::vector<std::string> args, RedisClient::Done done);
  // Reads the topic table, then calls `then` with it (or the error).
  void withTopics(bool refresh, UniqueFunction<void(Result<const TopicTable*>)> then);
  // Sends or settles with the fan-out of the current table, reading it again when the
  // script says it changed.
  void publishWith(std::shared_ptr<Publishing> publishing, int attempts_left);

  RedisClient& client_;
  const Clock& clock_;
  const QueueLimits limits_;
  const std::string prefix_;
  RedisScript script_;  // redis_queue_script.cc
  std::string consumer_ = "gust";
  IdGenerator message_ids_;
  QueueBounds default_bounds_;
  std::map<std::string, QueueBounds> bounds_;
  std::optional<TopicTable> topics_;
  UniqueFunction<void(std::vector<TopicEvent>)> retained_listener_;
};

}  // namespace gust
