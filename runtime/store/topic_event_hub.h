#pragma once
// The retained events of topics, live, on the loop thread: the queue backend hands over each
// committed batch (QueueBackend::setRetainedListener), and the hub fans every event out to
// the listeners of its topic. A reader that resumes (an SSE client's Last-Event-ID, a
// WebSocket's ?after=) follows a topic from a seq: the hub replays the log after it and then
// carries on live, without a gap or a duplicate (docs/architecture.md "Retained events").
//
// Contract:
// - Owning thread: the loop thread of the backend; every call and callback happens there.
// - Borrows the backend, which outlives it; the hub is the backend's retained listener from
//   construction to destruction (one hub per backend).
// - A listener may subscribe or unsubscribe (itself or others) from inside a callback; one
//   unsubscribed is not called again, even later in the same batch.
// - Costs: an event costs O(listeners of its topic). With a loop, a fan-out takes at most
//   kTurnShareNs of a loop turn and resumes on the next one (TurnBudget), so ten thousand
//   clients of one topic never hold the loop (and every other connection) for long; events
//   still reach each listener in seq order. A follow reads the log in pages of
//   kReplayPage events off the loop, and buffers at most kMaxBufferedWhileReplaying live
//   events meanwhile (more are dropped, which loses nothing: they are in the log the
//   replay reads next).
// - On a cluster (setShared), other hosts commit events too: committedElsewhere() hears of
//   them, and the hub reads the log after the last seq it delivered of that topic, so that
//   its listeners get every host's events once each, in seq order. A local commit that
//   skips seqs (another host's events came first) is read from the log the same way.

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "runtime/base/result.h"
#include "runtime/base/turn_budget.h"
#include "runtime/store/queue_backend.h"

namespace gust {

class TopicEventHub {
 public:
  using Token = uint64_t;
  using Listener = std::function<void(const TopicEvent&)>;
  static constexpr size_t kReplayPage = 500;
  static constexpr size_t kMaxBufferedWhileReplaying = 10'000;
  static constexpr uint64_t kTurnShareNs = 1'000'000;

  // Without a loop every fan-out runs to its end at once; with one it is spread over turns
  // (above), and the hub must be close()d before the loop is.
  explicit TopicEventHub(QueueBackend& backend, uv_loop_t* loop = nullptr);
  ~TopicEventHub();
  TopicEventHub(const TopicEventHub&) = delete;
  TopicEventHub& operator=(const TopicEventHub&) = delete;

  // Every event of `topic` committed from now on, in seq order.
  Token subscribe(std::string topic, Listener listener);
  // Follows `topic`: when `after_seq` is set, first the retained events after it (those the
  // log still holds), then live ones, each exactly once in seq order; when not, live ones
  // only. `failed` runs (once, and the follow ends) when the log cannot be read; that may be
  // before follow() returns. `ready` (may be null) is asked before each event of the replay:
  // false pauses the replay, so that a backlog reaches a slow reader at the pace it reads,
  // until resume(token).
  Token follow(std::string topic, std::optional<uint64_t> after_seq, Listener deliver,
               std::function<void(const Error&)> failed, std::function<bool()> ready = nullptr);
  // Goes on with a follow's paused replay; nothing when it is not paused.
  void resume(Token token);
  // Ends a subscribe or a follow; a token already ended is ignored.
  void unsubscribe(Token token);

  // Other hosts commit events to the same backend (docs/scale-out.md "Retained events across
  // hosts"): from now on each topic's events are delivered strictly in seq order, reading
  // the log where a seq was skipped.
  void setShared() { shared_ = true; }
  // Another host committed the event `seq` of `topic`: delivers it, and any before it this
  // hub has not, when the topic has listeners here.
  void committedElsewhere(const std::string& topic, uint64_t seq);

  // The retained events of `topic` after `after_seq` (QueueBackend::retainedEvents).
  Result<void> replay(std::string topic, uint64_t after_seq, size_t limit,
                      QueueBackend::Done<std::vector<TopicEvent>> done);

  // Drops fan-outs in progress and closes the hub's handle; `on_closed` (may be null) runs
  // once it is closed. Events committed later are not delivered.
  void close(std::function<void()> on_closed);

  size_t listeners() const { return listeners_.size(); }
  uint64_t eventsDelivered() const { return events_delivered_; }

 private:
  struct Follow;
  struct Entry {
    std::string topic;
    Listener listener;
  };

  // One event's fan-out: the listeners of its topic when it started, and how far it got.
  struct FanOut {
    TopicEvent event;
    std::vector<Token> tokens;
    size_t next = 0;
  };

  // How far a shared hub delivered a topic: `delivered` is the last seq handed to its
  // listeners (0: none yet), `wanted` the highest seq known committed.
  struct Cursor {
    uint64_t delivered = 0;
    uint64_t wanted = 0;
    bool reading = false;
  };

  void deliver(std::vector<TopicEvent> events);
  // Shared: queues the events that come next for their topic's cursor, and reads the log
  // for what is missing.
  void deliverInOrder(std::vector<TopicEvent> events);
  void readMissing(const std::string& topic);
  // Runs the queued fan-outs until they are done or the turn's share is spent (then resumes
  // on the loop's next turn).
  void fanOut();
  void replayPage(const std::shared_ptr<Follow>& follow);
  // Delivers the replay's page from where it stopped, then reads the next page or ends the
  // replay, until the reader is not ready (it then waits for resume) or ends the follow.
  void continueReplay(const std::shared_ptr<Follow>& follow);

  QueueBackend& backend_;
  Token next_token_ = 1;
  std::map<Token, Entry> listeners_;
  std::map<std::string, std::set<Token>> by_topic_;
  std::map<Token, std::shared_ptr<Follow>> follows_;
  uint64_t events_delivered_ = 0;
  std::deque<FanOut> fan_outs_;
  bool fanning_out_ = false;  // fanOut() is on the stack
  std::optional<TurnBudget> budget_;  // with a loop
  bool closed_ = false;
  bool shared_ = false;
  std::map<std::string, Cursor> cursors_;  // shared: topics with listeners here
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // reads in flight hold it weakly: gone with the hub
};

}  // namespace gust
