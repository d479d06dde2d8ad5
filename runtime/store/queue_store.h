#pragma once
// The embedded queue backend: every queue in the `queue_messages` table of gust.db,
// written through the SqliteWriter, so an acknowledged send, lease or settle is committed
// (and with synchronous=FULL on disk) before its callback runs, and concurrent calls share
// one fsync.
//
// Contract:
// - Owning thread: the writer's loop thread; every call and every callback happens there.
// - Borrows the writer and the clock; both outlive it. Close the writer (which drains and
//   completes every posted call) before freeing the queue: its jobs borrow it.
// - Time (enqueue, visibility, leases, dedupe window, max age) is clock.wallNow() in
//   milliseconds, read on the writer thread when the call's job runs.
// - Costs: send, lease, settle, peek and nextVisibleAt use indexes and cost O(messages
//   touched). stats() scans every message (an admin call, not a hot path). A queue's byte
//   total is kept in `queue_sizes` by SQLite triggers, so the bound costs one lookup.

#include <map>
#include <memory>

#include "runtime/base/clock.h"
#include "runtime/base/ids.h"
#include "runtime/store/sqlite_writer.h"
#include "runtime/store/queue_backend.h"
#include "runtime/store/queue_calls.h"

namespace gust {

class SqliteQueue final : public QueueBackend {
 public:
  // Creates or migrates the queue tables (blocking on the writer), or refuses a database
  // written by a newer gust.
  static Result<std::unique_ptr<SqliteQueue>> open(SqliteWriter& writer, const Clock& clock, QueueLimits limits = {});
  ~SqliteQueue() override;
  SqliteQueue(const SqliteQueue&) = delete;
  SqliteQueue& operator=(const SqliteQueue&) = delete;

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

  const QueueLimits& limits() const { return limits_; }

 private:
  SqliteQueue(SqliteWriter& writer, const Clock& clock, QueueLimits limits)
      : writer_(writer), clock_(clock), limits_(limits) {}

  // Posts a job whose completion also counts down pending_.
  template <typename T>
  Result<void> post(SqliteWriter::Job<T> job, Done<T> done);
  // A job that may publish: the retained events it logged go to the listener once its
  // transaction committed, before `done` runs.
  template <typename T>
  using PublishingJob = UniqueFunction<Result<T>(SqliteConnection&, std::vector<TopicEvent>& logged)>;
  template <typename T>
  Result<void> postPublishing(PublishingJob<T> job, Done<T> done);

  // The bounds as set last; a job keeps the table it was posted with.
  struct BoundsTable {
    QueueBounds defaults;
    std::map<std::string, QueueBounds> by_queue;
    const QueueBounds& of(const std::string& queue) const { return boundsOfQueue(defaults, by_queue, queue); }
  };

  int64_t nowMs() const;
  // Sends `message` to `name`: into the queue of that name, or, when `name` is a topic, as
  // an event into the queue of each subscription it matches and, when retained, its log
  // (the logged events are appended to `logged`).
  Result<SendResult> publishMessage(SqliteConnection& db, const std::string& name, const OutgoingMessage& message,
                                    const BoundsTable& bounds, int64_t now, std::vector<TopicEvent>& logged);
  // Inserts one message unless its id is a duplicate; kLimitReached when it would take the
  // queue past `bounds.max_bytes`.
  Result<SendResult> insertMessage(SqliteConnection& db, const std::string& queue, const OutgoingMessage& message,
                                   const QueueBounds& bounds, int64_t now);
  static Result<void> forgetExpiredIds(SqliteConnection& db, int64_t now);
  Result<void> moveToDead(SqliteConnection& db, int64_t seq, const std::string& queue, const std::string& id,
                          const std::string& error, int64_t now);

  SqliteWriter& writer_;
  const Clock& clock_;
  const QueueLimits limits_;
  IdGenerator message_ids_;  // loop thread
  IdGenerator lease_tokens_;  // writer thread (inside jobs)
  size_t pending_ = 0;        // loop thread: calls posted and not yet called back
  // Loop thread; a job holds the table it was posted with.
  std::shared_ptr<const BoundsTable> bounds_ = std::make_shared<const BoundsTable>();
  UniqueFunction<void(std::vector<TopicEvent>)> retained_listener_;  // loop thread
};

}  // namespace gust
