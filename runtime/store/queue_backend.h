#pragma once
// The durable queue seen by triggers, the admin API and the CLI: at-least-once delivery
// with leases. Two backends keep it: SqliteQueue, embedded in gust.db (queue_store.h), and
// RedisQueue, a cluster's (redis_queue.h, docs/scale-out.md); tests/unit/queue_store_test.cc
// runs the same tests against both.
//
// Semantics every backend keeps:
// - send: a message with a caller-given id already seen in that queue within the dedupe
//   window, or still in the queue, is accepted once and reported `duplicate`. Ids are
//   scoped to their queue; the store forgets them when the window ends, whichever path
//   (send, publish, sweep) comes next.
// - bounds: a send or publish that would take a queue past its max_bytes fails whole
//   with kLimitReached; a full disk fails it with kStorageFull. Either way nothing that
//   was accepted before is touched.
// - lease: visible messages in FIFO order of the time they became visible (send time plus
//   delay; ties in send order). Attempts are counted and stored at lease time, before the
//   function runs, so a message that kills its worker still runs out of attempts. A lease
//   that expires makes the message leasable again with a new token.
// - settle: one transaction, all or nothing. Every settlement must carry the token of the
//   message's current lease; if any does not (the lease expired and the message was leased
//   again, or it was already settled), nothing changes: no ack, no retry, no dead-letter,
//   and none of the publishes. Publishes are the output of the invocation whose input is
//   being settled; committing them while part of its input goes back to the queue would
//   publish that part's effects twice when it is redelivered. A caller that wants to
//   settle the still-valid part anyway settles it again, without the publishes. A settle
//   with publishes and no settlements commits the publishes alone (an invocation that was
//   not given messages), across queues in one transaction.
// - settle also commits the invocation's app state writes (runtime/store/state_store.h) in
//   the same transaction: a version check that fails aborts all of it (kConflict naming the
//   key: no settlement, publish or write applied), and so does a state bound
//   (kLimitReached). A settle of state writes alone is allowed. A stale lease commits
//   none of them.
// - `<queue>.dead` holds dead letters with their body, headers, attempts, source queue,
//   last error, first-enqueued and dead-lettered times; redrive moves them back.
// - topics: a name is a topic while some owner (an app, a webhook) declares or subscribes
//   to it. A send or publish to a topic fans out, in the same transaction, into one message
//   per subscription whose filter matches, each in the subscription's own queue
//   ("<topic>:<subscriber>"), which is then a queue like any other: its own leases,
//   retries, dead letters and redrive. A subscription sees what is published after it was
//   set, never before. The event carries CloudEvents attributes as headers (ce-id, the
//   message id; ce-source; ce-type, the topic when the publisher set none; ce-time;
//   ce-specversion); ce-id, ce-source, ce-time and ce-specversion are the backend's, never
//   the publisher's.
// - retained events: an owner (a stream, a GraphQL subscription field) may retain a topic.
//   An event of a retained topic is then also written, in the same transaction as its
//   fan-out, to the topic's log with `seq`, an integer that only grows per topic (never
//   reused, even once the log is emptied): a reader resumes after the last seq it saw. The
//   log keeps an event for the longest retention any owner asked for and at most
//   max_events per topic (the least any owner asked for); older ones are deleted at insert
//   (the count) and by sweep() (the age). An id the log still holds is not logged again.
//   After the transaction commits, the events it logged are handed, in commit order, to the
//   listener set with setRetainedListener, on the loop thread.
//
// Every call validates its input first and fails now (kBadInput, naming the field) without
// calling back; otherwise `done` runs exactly once on the loop thread (STYLE 4).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/protocol/frame.h"
#include "runtime/protocol/queue_types.h"  // SettleAction and the size limits
#include "runtime/base/event_filter.h"
#include "runtime/base/names.h"
#include "runtime/store/state_store.h"
#include "runtime/base/result.h"
#include "runtime/base/unique_function.h"

namespace gust {

using QueueTime = std::chrono::system_clock::time_point;

struct QueueLimits {
  size_t max_body_bytes = 1u << 20;
  size_t max_headers = 64;              // pairs per message
  size_t max_header_bytes = 16u << 10;  // names plus values, per message
  size_t max_error_bytes = 4096;        // longer settle errors are cut, not refused
  size_t max_batch = 1000;              // messages per send, settlements or publishes per settle,
                                        // max_count of a lease or peek
  std::chrono::milliseconds max_delay = std::chrono::hours(24 * 30);  // send delay and retry delay
  std::chrono::milliseconds max_visibility_timeout = std::chrono::hours(12);
  // A caller-given id is remembered this long after its send; a second send of it within
  // the window is a duplicate. Five minutes covers a client's retry loop and SQS's own
  // choice; raise it for producers that retry later.
  std::chrono::milliseconds dedupe_window = std::chrono::minutes(5);
};

// How much a queue may hold and for how long (docs/security.md "Bounds"). The host's
// defaults apply to every queue; an app that consumes a queue may set its own.
struct QueueBounds {
  // Bodies and headers of the queue's messages (not its dead letters) together. A send or
  // publish that would pass it is refused whole (kLimitReached); nothing held is dropped.
  uint64_t max_bytes = 256ull << 20;
  // A message nobody consumed this long after its send is deleted by sweep().
  std::chrono::milliseconds retention = std::chrono::hours(168);
  // A dead letter is deleted this long after it was dead-lettered.
  std::chrono::milliseconds dead_letter_retention = std::chrono::hours(336);
  std::string owner;  // who set them ("app orders"; empty: the host's defaults), for messages
};

constexpr std::string_view kDeadQueueSuffix = ".dead";

// A queue name as the store keeps it: a user's queue name (runtime/base/names.h), optionally
// followed by ".dead" (its dead-letter queue).
Result<void> validateStoredQueueName(std::string_view queue);
bool isDeadQueue(std::string_view queue);
std::string deadQueueOf(std::string_view queue);
// Printable ASCII without space (0x21..0x7e), 1..128 bytes.
Result<void> validateMessageId(std::string_view id);

struct OutgoingMessage {
  std::string id;  // empty: the backend generates one (never a duplicate)
  std::string body;
  Pairs headers;
  std::chrono::milliseconds delay{0};  // first visible at send time + delay
  // Who published it, the ce-source of an event: "/apps/<app>/functions/<function>" or
  // "/admin"; empty: "/gust". Kept only when the message is an event of a topic.
  std::string source;
};

struct SendResult {
  std::string id;
  bool duplicate = false;  // already seen: nothing was enqueued for this message
};

struct LeaseOptions {
  size_t max_count = 1;
  std::chrono::milliseconds visibility_timeout{30000};
  // 0: unlimited. A message whose attempts already reached max_attempts when it comes up
  // for lease goes to <queue>.dead instead (so it is leased at most max_attempts times).
  int max_attempts = 0;
  // 0: no limit. A message enqueued longer ago than this goes to <queue>.dead with the
  // error "expired" instead of being leased.
  std::chrono::milliseconds max_age{0};
};

struct LeasedMessage {
  std::string id;
  std::string body;
  Pairs headers;
  int attempts = 0;  // including this lease
  QueueTime enqueued_at;
  std::string lease_token;  // settle with it
};

struct LeaseResult {
  std::vector<LeasedMessage> messages;
  size_t dead_lettered = 0;  // moved to <queue>.dead by this call (expired or out of attempts)
};

struct MessageSettlement {
  std::string queue;
  std::string id;
  std::string lease_token;
  SettleAction action = SettleAction::kAck;
  std::chrono::milliseconds retry_delay{0};
  std::string error;  // retry and dead: kept as the message's last error
};

struct MessagePublish {
  std::string queue;
  OutgoingMessage message;
};

enum class SettleStatus {
  kApplied,     // committed
  kStaleLease,  // the token is not the message's current lease (or the message is gone)
  kNotApplied,  // the token was fine, but another settlement of the call was stale
};

struct SettleResult {
  bool committed = false;              // every settlement was current; all of it committed
  std::vector<SettleStatus> statuses;  // one per settlement, in order
  std::vector<SendResult> published;   // one per publish when committed; empty otherwise
};

struct QueueStats {
  std::string queue;      // a source queue; its dead letters are counted in `dead`
  int64_t ready = 0;      // leasable now (including expired leases)
  int64_t in_flight = 0;  // leased, lease not expired
  int64_t delayed = 0;    // sent with a delay or retried with one, not yet visible
  int64_t dead = 0;       // in <queue>.dead
};

enum class MessageState { kReady, kInFlight, kDelayed };

struct PeekedMessage {
  std::string id;
  std::string body;
  Pairs headers;
  int attempts = 0;
  QueueTime enqueued_at;
  QueueTime visible_at;
  MessageState state = MessageState::kReady;
  std::string last_error;  // the error of its last retry or of its dead-lettering
  // Set for messages in a dead-letter queue:
  std::string source_queue;
  std::optional<QueueTime> dead_at;
};

const char* messageStateName(MessageState state);

// Topics share the queue namespace; a subscription's queue is named by subscriptionQueue()
// (runtime/base/names.h).
struct Subscription {
  std::string topic;
  std::string subscriber;  // functionSubscriber(app, function) or a webhook id
  EventFilter filter;
};

struct TopicRetention {
  std::string topic;
  std::chrono::milliseconds retention = std::chrono::hours(1);
  size_t max_events = 10'000;
};

// What one owner (an app's name, or a webhook id) has of topics: the ones it publishes
// (declares), its subscriptions, and the topics whose events it wants kept (see above).
struct TopicBindings {
  std::vector<std::string> declared;
  std::vector<Subscription> subscriptions;
  std::vector<TopicRetention> retained;
};

// The bounds a retention may ask for (docs/security.md "Bounds").
constexpr std::chrono::milliseconds kMaxTopicRetention = std::chrono::hours(24 * 7);
constexpr size_t kMaxRetainedEventsPerTopic = 100'000;

// One event of a topic's retained log: its seq there, its CloudEvents attributes (also in
// `headers`, as the subscriptions see them) and its body.
struct TopicEvent {
  std::string topic;
  uint64_t seq = 0;
  std::string id, type, subject, source, time;
  Pairs headers;
  std::string data;
};

struct TopicInfo {
  std::string name;
  std::vector<std::string> declared_by;  // owners that declare it
  size_t subscriptions = 0;
  int64_t published = 0;  // events published since the topic was first used
  std::optional<QueueTime> last_published_at;
};

struct SubscriptionInfo {
  Subscription subscription;
  std::string owner;
  std::string queue;
  QueueTime created_at;
  QueueStats backlog;  // its queue's ready, in flight, delayed and dead
};

class QueueBackend {
 public:
  template <typename T>
  using Done = UniqueFunction<void(Result<T>)>;

  virtual ~QueueBackend() = default;

  // One result per message, in order. Not to a dead-letter queue.
  virtual Result<void> send(std::string queue, std::vector<OutgoingMessage> messages,
                            Done<std::vector<SendResult>> done) = 0;
  virtual Result<void> lease(std::string queue, LeaseOptions options, Done<LeaseResult> done) = 0;
  virtual Result<void> settle(std::vector<MessageSettlement> settlements, std::vector<MessagePublish> publishes,
                              AppStateWrites state, Done<SettleResult> done) = 0;
  // Every queue holding messages, by name.
  virtual Result<void> stats(Done<std::vector<QueueStats>> done) = 0;
  // Up to max_count messages in lease order, without leasing them.
  virtual Result<void> peek(std::string queue, size_t max_count, Done<std::vector<PeekedMessage>> done) = 0;
  // Moves every message of `dead_queue` back to its source queue, attempts reset and max
  // age counted from now, visible at once; answers how many moved. A message whose id is
  // in the source queue again stays dead.
  virtual Result<void> redrive(std::string dead_queue, Done<int64_t> done) = 0;
  // Deletes every message of `queue` (dead-letter queues included); answers how many. The
  // dedupe window still remembers their ids.
  virtual Result<void> purge(std::string queue, Done<int64_t> done) = 0;
  // When the earliest message of `queue` becomes (or became) visible; nullopt when empty.
  // A consumer sleeps until then; a time in the past means "lease now".
  virtual Result<void> nextVisibleAt(std::string queue, Done<std::optional<QueueTime>> done) = 0;

  // The bounds of each queue named (by its source name); every other queue has `defaults`.
  // Replaces what was set before; applies to calls made after it.
  virtual void setBounds(QueueBounds defaults, std::map<std::string, QueueBounds> by_queue) = 0;
  // Deletes messages and dead letters past their retention, and dedupe ids past their
  // window; answers how many messages were deleted.
  virtual Result<void> sweep(Done<int64_t> done) = 0;

  // Replaces what `owner` declares and subscribes to, in one transaction: a subscription
  // kept keeps its queue and its creation time; one dropped stops receiving (its queue
  // keeps what it holds until consumed, purged or past retention).
  virtual Result<void> bindTopics(std::string owner, TopicBindings bindings, Done<void> done) = 0;
  // Every topic, by name.
  virtual Result<void> topics(Done<std::vector<TopicInfo>> done) = 0;
  // The subscriptions of `topic` with their backlog; kNotFound when it is not a topic.
  virtual Result<void> subscriptions(std::string topic, Done<std::vector<SubscriptionInfo>> done) = 0;

  // The retained events of `topic` with seq > after_seq, ascending, at most `limit`
  // (1..max_batch); empty when none (or when the topic is not retained).
  virtual Result<void> retainedEvents(std::string topic, uint64_t after_seq, size_t limit,
                                      Done<std::vector<TopicEvent>> done) = 0;
  // Who hears of retained events once committed (see above); one listener, replaced by the
  // next call, none when null. Loop thread.
  virtual void setRetainedListener(UniqueFunction<void(std::vector<TopicEvent>)> listener) = 0;
};

}  // namespace gust
