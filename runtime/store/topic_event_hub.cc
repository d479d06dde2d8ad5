#include "runtime/store/topic_event_hub.h"

#include <algorithm>
#include <utility>

namespace gust {

// A follow's state: replaying until a page comes back short, buffering live events meanwhile.
// Held by the hub; a replay's completion holds it weakly, so an ended follow (or a hub gone)
// makes the completion do nothing.
struct TopicEventHub::Follow {
  Token token = 0;
  std::string topic;
  uint64_t last_seq = 0;
  bool replaying = false;
  std::vector<TopicEvent> buffered;  // live events that came during the replay
  bool overflowed = false;           // some were dropped: they are read from the log instead
  // The replay's current page (or, at its end, the buffered live events) and how far the
  // reader has taken it.
  std::vector<TopicEvent> page;
  size_t page_next = 0;
  bool last_page = false;  // the page came back short: the log holds nothing after it
  bool paused = false;     // the reader was not ready; resume() goes on
  Listener deliver;
  std::function<void(const Error&)> failed;
  std::function<bool()> ready;
};

TopicEventHub::TopicEventHub(QueueBackend& backend, uv_loop_t* loop) : backend_(backend) {
  backend_.setRetainedListener([this](std::vector<TopicEvent> events) { deliver(std::move(events)); });
  if (loop != nullptr) budget_.emplace(loop, kTurnShareNs, [this] { fanOut(); });
}

void TopicEventHub::close(std::function<void()> on_closed) {
  const bool was_closed = closed_;
  closed_ = true;
  fan_outs_.clear();
  if (was_closed || !budget_ || !budget_->close(on_closed)) {
    if (on_closed) on_closed();
  }
}

TopicEventHub::~TopicEventHub() { backend_.setRetainedListener(nullptr); }

TopicEventHub::Token TopicEventHub::subscribe(std::string topic, Listener listener) {
  const Token token = next_token_++;
  by_topic_[topic].insert(token);
  listeners_.emplace(token, Entry{std::move(topic), std::move(listener)});
  return token;
}

void TopicEventHub::unsubscribe(Token token) {
  auto it = listeners_.find(token);
  if (it == listeners_.end()) return;
  // By topic and token, so that ten thousand clients leaving at once cost O(n log n), not n².
  if (auto topic = by_topic_.find(it->second.topic); topic != by_topic_.end()) {
    topic->second.erase(token);
    if (topic->second.empty()) {
      cursors_.erase(topic->first);  // nobody here follows it: the next listener starts anew
      by_topic_.erase(topic);
    }
  }
  listeners_.erase(it);
  follows_.erase(token);
}

TopicEventHub::Token TopicEventHub::follow(std::string topic, std::optional<uint64_t> after_seq, Listener deliver,
                                           std::function<void(const Error&)> failed, std::function<bool()> ready) {
  auto state = std::make_shared<Follow>();
  state->topic = topic;
  state->last_seq = after_seq.value_or(0);
  state->replaying = after_seq.has_value();
  state->deliver = std::move(deliver);
  state->failed = std::move(failed);
  state->ready = std::move(ready);
  // Subscribed before the replay is read, so that nothing committed in between is missed.
  std::weak_ptr<Follow> weak = state;
  state->token = subscribe(std::move(topic), [weak](const TopicEvent& event) {
    auto f = weak.lock();
    if (!f) return;
    if (f->replaying) {
      if (f->buffered.size() < kMaxBufferedWhileReplaying) {
        f->buffered.push_back(event);
      } else {
        f->overflowed = true;
      }
      return;
    }
    if (event.seq <= f->last_seq) return;
    f->last_seq = event.seq;
    f->deliver(event);
  });
  follows_.emplace(state->token, state);
  const Token token = state->token;
  if (state->replaying) replayPage(state);
  return token;
}

void TopicEventHub::replayPage(const std::shared_ptr<Follow>& follow) {
  std::weak_ptr<Follow> weak = follow;
  auto asked = backend_.retainedEvents(
      follow->topic, follow->last_seq, kReplayPage, [this, weak](Result<std::vector<TopicEvent>> page) {
        auto f = weak.lock();
        if (!f) return;
        if (!page.ok()) {
          auto failed = std::move(f->failed);
          unsubscribe(f->token);
          if (failed) failed(page.error());
          return;
        }
        f->last_page = page->size() < kReplayPage;
        f->page = std::move(*page);
        f->page_next = 0;
        continueReplay(f);
      });
  if (!asked.ok()) {
    auto failed = std::move(follow->failed);
    unsubscribe(follow->token);
    if (failed) failed(asked.error());
  }
}

void TopicEventHub::continueReplay(const std::shared_ptr<Follow>& follow) {
  Follow& f = *follow;
  const Token token = f.token;
  for (;;) {
    while (f.page_next < f.page.size()) {
      if (f.ready && !f.ready()) {
        f.paused = true;
        return;
      }
      const TopicEvent& event = f.page[f.page_next++];
      if (event.seq <= f.last_seq) continue;
      f.last_seq = event.seq;
      ++events_delivered_;
      f.deliver(event);
      if (!follows_.count(token)) return;  // the reader ended the follow
    }
    f.page.clear();
    f.page_next = 0;
    // Every event committed before the last page was read is in it or before it; the live
    // ones buffered meanwhile came after. When some were dropped, the log has them all.
    if (!f.last_page || f.overflowed) {
      f.overflowed = false;
      f.buffered.clear();
      replayPage(follow);
      return;
    }
    if (f.buffered.empty()) break;
    f.page = std::move(f.buffered);  // taken at the reader's pace too; more may buffer meanwhile
    f.buffered.clear();
  }
  f.replaying = false;
}

void TopicEventHub::resume(Token token) {
  auto it = follows_.find(token);
  if (it == follows_.end() || !it->second->paused) return;
  std::shared_ptr<Follow> follow = it->second;  // the reader may end it while it runs
  follow->paused = false;
  continueReplay(follow);
}

Result<void> TopicEventHub::replay(std::string topic, uint64_t after_seq, size_t limit,
                                   QueueBackend::Done<std::vector<TopicEvent>> done) {
  return backend_.retainedEvents(std::move(topic), after_seq, limit, std::move(done));
}

void TopicEventHub::deliver(std::vector<TopicEvent> events) {
  if (closed_) return;
  if (shared_) return deliverInOrder(std::move(events));
  for (TopicEvent& event : events) fan_outs_.push_back(FanOut{std::move(event), {}, 0});
  if (!fanning_out_) fanOut();  // else the running fan-out reaches these in turn
}

void TopicEventHub::deliverInOrder(std::vector<TopicEvent> events) {
  std::vector<std::string> gaps;
  for (TopicEvent& event : events) {
    if (!by_topic_.count(event.topic)) continue;  // nobody here listens
    Cursor& c = cursors_[event.topic];
    c.wanted = std::max(c.wanted, event.seq);
    if (c.delivered == 0 && !c.reading) c.delivered = event.seq - 1;  // the first this hub sees
    if (event.seq <= c.delivered) continue;  // delivered already (read from the log)
    if (event.seq > c.delivered + 1 || c.reading) {
      gaps.push_back(event.topic);  // another host's events come first: the log has them all
      continue;
    }
    c.delivered = event.seq;
    fan_outs_.push_back(FanOut{std::move(event), {}, 0});
  }
  if (!fanning_out_) fanOut();
  for (const auto& topic : gaps) readMissing(topic);
}

void TopicEventHub::committedElsewhere(const std::string& topic, uint64_t seq) {
  if (closed_ || !shared_ || !by_topic_.count(topic) || seq == 0) return;
  Cursor& c = cursors_[topic];
  if (c.delivered == 0 && !c.reading) c.delivered = seq - 1;  // the first this hub hears of
  c.wanted = std::max(c.wanted, seq);
  if (c.wanted > c.delivered) readMissing(topic);
}

void TopicEventHub::readMissing(const std::string& topic) {
  auto it = cursors_.find(topic);
  if (it == cursors_.end() || it->second.reading) return;  // a read in flight goes on to `wanted`
  Cursor& c = it->second;
  c.reading = true;
  // Every event up to `sought` was committed before this read is sent, so the read sees it
  // unless the log no longer holds it.
  const uint64_t sought = c.wanted;
  std::weak_ptr<bool> alive = alive_;
  auto asked = backend_.retainedEvents(topic, c.delivered, kReplayPage, [this, alive, topic, sought](
                                                                           Result<std::vector<TopicEvent>> page) {
    if (alive.expired() || closed_) return;
    auto cursor = cursors_.find(topic);
    if (cursor == cursors_.end()) return;  // nobody listens any more
    Cursor& c = cursor->second;
    c.reading = false;
    if (!page.ok()) {
      c.wanted = c.delivered;  // the next event of the topic asks again
      return;
    }
    for (TopicEvent& event : *page) {
      if (event.seq <= c.delivered) continue;
      c.delivered = event.seq;
      fan_outs_.push_back(FanOut{std::move(event), {}, 0});
    }
    // A short page is the log's end: what was sought and not in it was trimmed away.
    if (page->size() < kReplayPage) c.delivered = std::max(c.delivered, sought);
    if (!fanning_out_) fanOut();
    if (c.wanted > c.delivered) readMissing(topic);  // committed since this read was sent
  });
  if (!asked.ok()) {
    c.reading = false;
    c.wanted = c.delivered;
  }
}

void TopicEventHub::fanOut() {
  fanning_out_ = true;
  while (!fan_outs_.empty() && !closed_) {
    FanOut& f = fan_outs_.front();
    if (f.next == 0 && f.tokens.empty()) {
      if (auto topic = by_topic_.find(f.event.topic); topic != by_topic_.end()) {
        f.tokens.assign(topic->second.begin(), topic->second.end());
      }
    }
    while (f.next < f.tokens.size()) {
      if (budget_ && !budget_->left()) {
        budget_->resumeNextTurn();  // the rest after the I/O that waited meanwhile
        fanning_out_ = false;
        return;
      }
      auto it = listeners_.find(f.tokens[f.next++]);
      if (it == listeners_.end()) continue;  // unsubscribed meanwhile
      // A copy, so that a listener that unsubscribes itself does not free what runs.
      Listener listener = it->second.listener;
      ++events_delivered_;
      listener(f.event);
    }
    fan_outs_.pop_front();
  }
  fanning_out_ = false;
}

}  // namespace gust
