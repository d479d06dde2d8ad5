#include "runtime/store/redis_queue.h"

#include <algorithm>
#include <cstdlib>
#include <set>

#include "runtime/base/names.h"
#include "runtime/store/queue_calls.h"
#include "runtime/store/redis_state_store.h"
#include "runtime/store/stored_strings.h"

namespace gust {

extern const std::string_view kRedisQueueScript;

namespace {

using std::chrono::milliseconds;

// How often a send or settle reads the topic table again when the script says it changed
// meanwhile, before it gives up (each retry follows a bindTopics on some host).
constexpr int kTopicRetries = 5;

QueueTime fromMs(int64_t ms) { return QueueTime(milliseconds(ms)); }

Error replyError(std::string_view op, const std::string& message) {
  return scriptReplyError("redis queue " + std::string(op), message);
}

Error malformed(std::string_view op) {
  return makeError(ErrorKind::kIo, "redis queue " + std::string(op) + ": the reply does not have the expected shape");
}

const RedisReply* at(const RedisReply& r, size_t i) {
  return r.type == RedisReply::Type::kArray && i < r.elements.size() ? &r.elements[i] : nullptr;
}
int64_t integerAt(const RedisReply& r, size_t i) {
  const RedisReply* e = at(r, i);
  if (e == nullptr) return 0;
  if (e->type == RedisReply::Type::kInteger) return e->integer;
  return std::strtoll(e->str.c_str(), nullptr, 10);
}
std::string stringAt(const RedisReply& r, size_t i) {
  const RedisReply* e = at(r, i);
  return e == nullptr ? std::string() : e->str;
}

// An owner's bindings as Redis keeps them: a flat list of strings (stored_strings.h).
std::string encodeBindings(const TopicBindings& b) {
  std::vector<std::string> flat;
  for (const auto& topic : b.declared) flat.insert(flat.end(), {"D", topic});
  for (const auto& sub : b.subscriptions) {
    flat.insert(flat.end(), {"S", sub.topic, sub.subscriber, encodeStoredStrings(sub.filter.types),
                             encodeStoredPairs(sub.filter.headers)});
  }
  for (const auto& kept : b.retained) {
    flat.insert(flat.end(),
                {"R", kept.topic, std::to_string(kept.retention.count()), std::to_string(kept.max_events)});
  }
  return flat.empty() ? std::string() : encodeStoredStrings(flat);
}

std::string subscriptionKey(const std::string& topic, const std::string& subscriber) {
  return topic + " " + subscriber;
}

std::string str(int64_t n) { return std::to_string(n); }

}  // namespace

// One send or settle on its way: what the caller gave, and the units (one message to one
// name) built from the topic table it was planned with.
struct RedisQueue::Publishing {
  bool settle = false;
  std::vector<MessageSettlement> settlements;
  std::vector<std::pair<std::string, OutgoingMessage>> messages;  // (name, message)
  AppStateWrites state;  // settle only
  Done<std::vector<SendResult>> sent;
  Done<SettleResult> settled;
  // Filled per attempt: the events of topic units, for the retained-event listener.
  std::vector<std::optional<OutgoingMessage>> events;

  void fail(Error e) {
    if (settle) {
      settled(std::move(e));
    } else {
      sent(std::move(e));
    }
  }
};

RedisQueue::RedisQueue(RedisClient& client, const Clock& clock, QueueLimits limits, std::string prefix)
    : client_(client),
      clock_(clock),
      limits_(limits),
      prefix_(std::move(prefix)),
      script_(client, kRedisQueueScript, prefix_) {}

int64_t RedisQueue::nowMs() const {
  return std::chrono::duration_cast<milliseconds>(clock_.wallNow().time_since_epoch()).count();
}

const QueueBounds& RedisQueue::boundsOf(const std::string& queue) const {
  return boundsOfQueue(default_bounds_, bounds_, queue);
}

void RedisQueue::setBounds(QueueBounds defaults, std::map<std::string, QueueBounds> by_queue) {
  default_bounds_ = std::move(defaults);
  bounds_ = std::move(by_queue);
}

void RedisQueue::setRetainedListener(UniqueFunction<void(std::vector<TopicEvent>)> listener) {
  retained_listener_ = std::move(listener);
}

void RedisQueue::run(std::string_view op, std::vector<std::string> args, RedisClient::Done done) {
  auto shared = std::make_shared<RedisClient::Done>(std::move(done));
  auto sent = runChecked(op, std::move(args), [shared](Result<RedisReply> reply) { (*shared)(std::move(reply)); });
  if (!sent.ok()) (*shared)(sent.error());
}

Result<void> RedisQueue::runChecked(std::string_view op, std::vector<std::string> args, RedisClient::Done done) {
  return script_.run(op, nowMs(), std::move(args), std::move(done));
}

void RedisQueue::withTopics(bool refresh, UniqueFunction<void(Result<const TopicTable*>)> then) {
  if (topics_ && !refresh) {
    then(&*topics_);
    return;
  }
  auto shared = std::make_shared<UniqueFunction<void(Result<const TopicTable*>)>>(std::move(then));
  auto sent = runChecked("table", {}, [this, shared](Result<RedisReply> reply) {
    if (!reply.ok()) return (*shared)(reply.error());
    if (reply->isError()) return (*shared)(replyError("table", reply->str));
    const RedisReply* owners = at(*reply, 1);
    const RedisReply* created = at(*reply, 2);
    if (owners == nullptr || created == nullptr) return (*shared)(malformed("table"));
    TopicTable table;
    table.version = stringAt(*reply, 0);
    std::map<std::string, int64_t> created_ms;
    for (size_t i = 0; i + 1 < created->elements.size(); i += 2) {
      created_ms[created->elements[i].str] = std::strtoll(created->elements[i + 1].str.c_str(), nullptr, 10);
    }
    for (size_t i = 0; i + 1 < owners->elements.size(); i += 2) {
      const std::string& owner = owners->elements[i].str;
      auto flat = decodeStoredStrings(owners->elements[i + 1].str);
      if (!flat.ok()) return (*shared)(makeError(ErrorKind::kIo, "the topic bindings of " + owner + " cannot be read"));
      const std::vector<std::string>& f = *flat;
      for (size_t j = 0; j < f.size();) {
        if (f[j] == "D" && j + 1 < f.size()) {
          table.topics[f[j + 1]].declared_by.push_back(owner);
          j += 2;
        } else if (f[j] == "S" && j + 4 < f.size()) {
          TopicEntry::Sub sub;
          sub.subscription.topic = f[j + 1];
          sub.subscription.subscriber = f[j + 2];
          auto types = decodeStoredStrings(f[j + 3]);
          auto headers = decodeStoredPairs(f[j + 4]);
          if (!types.ok() || !headers.ok()) {
            return (*shared)(makeError(ErrorKind::kIo, "the filter of subscription '" + f[j + 2] + "' cannot be read"));
          }
          sub.subscription.filter.types = std::move(*types);
          sub.subscription.filter.headers = std::move(*headers);
          sub.owner = owner;
          sub.created_ms = created_ms[subscriptionKey(f[j + 1], f[j + 2])];
          table.topics[f[j + 1]].subs.push_back(std::move(sub));
          j += 5;
        } else if (f[j] == "R" && j + 3 < f.size()) {
          TopicEntry& entry = table.topics[f[j + 1]];
          milliseconds retention(std::strtoll(f[j + 2].c_str(), nullptr, 10));
          size_t max_events = std::strtoull(f[j + 3].c_str(), nullptr, 10);
          if (!entry.retained) {
            entry.retained = TopicRetention{f[j + 1], retention, max_events};
          } else {
            entry.retained->retention = std::max(entry.retained->retention, retention);
            entry.retained->max_events = std::min(entry.retained->max_events, max_events);
          }
          j += 4;
        } else {
          return (*shared)(makeError(ErrorKind::kIo, "the topic bindings of " + owner + " cannot be read"));
        }
      }
    }
    for (auto& [name, entry] : table.topics) std::sort(entry.declared_by.begin(), entry.declared_by.end());
    // What Redis holds now, even when its version is lower than the copy's (a Redis that
    // restarted without its data starts again from 0). Replies come in the order the
    // commands were sent, so a later read never loses to an earlier one.
    topics_ = std::move(table);
    (*shared)(&*topics_);
  });
  if (!sent.ok()) (*shared)(sent.error());
}

Result<void> RedisQueue::send(std::string queue, std::vector<OutgoingMessage> messages,
                              Done<std::vector<SendResult>> done) {
  if (auto r = checkSendCall(limits_, queue, messages, message_ids_); !r.ok()) return r;
  if (!client_.up()) return makeError(ErrorKind::kUnavailable, "the backend Redis is unreachable; nothing was sent");
  auto p = std::make_shared<Publishing>();
  for (auto& m : messages) p->messages.emplace_back(queue, std::move(m));
  p->sent = std::move(done);
  publishWith(std::move(p), kTopicRetries);
  return {};
}

Result<void> RedisQueue::settle(std::vector<MessageSettlement> settlements, std::vector<MessagePublish> publishes,
                                AppStateWrites state, Done<SettleResult> done) {
  if (auto r = checkSettleCall(limits_, settlements, publishes, state, message_ids_); !r.ok()) return r;
  if (!client_.up()) return makeError(ErrorKind::kUnavailable, "the backend Redis is unreachable; nothing was settled");
  auto p = std::make_shared<Publishing>();
  p->settle = true;
  p->settlements = std::move(settlements);
  for (auto& pub : publishes) p->messages.emplace_back(std::move(pub.queue), std::move(pub.message));
  p->state = std::move(state);
  p->settled = std::move(done);
  publishWith(std::move(p), kTopicRetries);
  return {};
}

void RedisQueue::publishWith(std::shared_ptr<Publishing> p, int attempts_left) {
  withTopics(attempts_left < kTopicRetries, [this, p, attempts_left](Result<const TopicTable*> table) {
    if (!table.ok()) return p->fail(table.error());
    const int64_t now = nowMs();
    std::vector<std::string> args = {(*table)->version, str(limits_.dedupe_window.count())};
    if (p->settle) {
      args.push_back(str(static_cast<int64_t>(p->settlements.size())));
      for (const MessageSettlement& s : p->settlements) {
        const char* action = s.action == SettleAction::kAck ? "ack" : s.action == SettleAction::kRetry ? "retry" : "dead";
        args.insert(args.end(), {s.queue, s.id, s.lease_token, action, str(s.retry_delay.count()), s.error});
      }
    }
    args.push_back(str(static_cast<int64_t>(p->messages.size())));
    p->events.assign(p->messages.size(), std::nullopt);
    for (size_t i = 0; i < p->messages.size(); ++i) {
      const auto& [name, message] = p->messages[i];
      auto topic = (*table)->topics.find(name);
      if (topic == (*table)->topics.end()) {
        args.insert(args.end(), {"q", name, message.id, message.body, encodeStoredPairs(message.headers),
                                 str(message.delay.count()), std::to_string(boundsOf(name).max_bytes)});
        continue;
      }
      OutgoingMessage event = topicEventOf(name, message, now);
      const TopicEntry& entry = topic->second;
      std::vector<std::string> targets;
      for (const auto& sub : entry.subs) {
        if (!sub.subscription.filter.matches(event.headers)) continue;
        std::string queue = subscriptionQueue(name, sub.subscription.subscriber);
        targets.push_back(queue);
        targets.push_back(std::to_string(boundsOf(queue).max_bytes));
      }
      args.insert(args.end(), {"t", name, event.id, event.body, encodeStoredPairs(event.headers),
                               str(event.delay.count()),
                               std::to_string(entry.retained ? entry.retained->max_events : 0),
                               str(static_cast<int64_t>(targets.size() / 2))});
      args.insert(args.end(), std::make_move_iterator(targets.begin()), std::make_move_iterator(targets.end()));
      p->events[i] = std::move(event);
    }
    if (p->settle) appendStateArgs(p->state, args);
    const char* op = p->settle ? "settle" : "send";
    auto sent = runChecked(op, std::move(args), [this, p, attempts_left, op](Result<RedisReply> reply) {
      if (!reply.ok()) return p->fail(reply.error());
      if (reply->isError()) return p->fail(replyError(op, reply->str));
      const std::string status = stringAt(*reply, 0);
      if (status == "STALE") {
        if (attempts_left <= 1) {
          return p->fail(makeError(ErrorKind::kUnavailable,
                                   "the topic table kept changing while this call was planned; nothing was stored: "
                                   "try again"));
        }
        return publishWith(p, attempts_left - 1);
      }
      if (status == "LIMIT") {
        const std::string queue = stringAt(*reply, 1);
        return p->fail(queueFullError(queue, integerAt(*reply, 2), integerAt(*reply, 3), stringAt(*reply, 4),
                                      boundsOf(queue)));
      }
      if (auto refused = stateRefusalOf(*reply, p->state.app)) return p->fail(std::move(*refused));
      if (status == "STALE-LEASE") {
        const RedisReply* flags = at(*reply, 1);
        if (flags == nullptr) return p->fail(malformed(op));
        SettleResult result;
        for (const RedisReply& f : flags->elements) {
          result.statuses.push_back(f.integer != 0 ? SettleStatus::kStaleLease : SettleStatus::kNotApplied);
        }
        return p->settled(std::move(result));
      }
      const RedisReply* dups = at(*reply, 1);
      const RedisReply* logged = at(*reply, 2);
      if (status != "OK" || dups == nullptr || logged == nullptr || dups->elements.size() != p->messages.size()) {
        return p->fail(malformed(op));
      }
      std::vector<SendResult> results;
      for (size_t i = 0; i < p->messages.size(); ++i) {
        results.push_back(SendResult{p->messages[i].second.id, dups->elements[i].integer != 0});
      }
      std::vector<TopicEvent> events;
      for (size_t i = 0; i + 1 < logged->elements.size(); i += 2) {
        const size_t unit = static_cast<size_t>(logged->elements[i].integer - 1);
        if (unit >= p->events.size() || !p->events[unit]) continue;
        events.push_back(retainedEventOf(p->messages[unit].first, static_cast<uint64_t>(logged->elements[i + 1].integer),
                                         p->events[unit]->body, p->events[unit]->headers));
      }
      if (!events.empty() && retained_listener_) retained_listener_(std::move(events));
      if (!p->settle) return p->sent(std::move(results));
      SettleResult result;
      result.committed = true;
      result.statuses.assign(p->settlements.size(), SettleStatus::kApplied);
      result.published = std::move(results);
      p->settled(std::move(result));
    });
    if (!sent.ok()) p->fail(sent.error());
  });
}

Result<void> RedisQueue::lease(std::string queue, LeaseOptions options, Done<LeaseResult> done) {
  if (auto r = checkLeaseCall(limits_, queue, options); !r.ok()) return r;
  return runChecked(
      "lease",
      {queue, consumer_, str(static_cast<int64_t>(options.max_count)), str(options.visibility_timeout.count()),
       str(options.max_attempts), str(options.max_age.count()), str(static_cast<int64_t>(10 * limits_.max_batch))},
      [done = std::move(done)](Result<RedisReply> reply) mutable {
        if (!reply.ok()) return done(reply.error());
        if (reply->isError()) return done(replyError("lease", reply->str));
        const RedisReply* leased = at(*reply, 0);
        if (leased == nullptr) return done(malformed("lease"));
        LeaseResult result;
        result.dead_lettered = static_cast<size_t>(integerAt(*reply, 1));
        for (const RedisReply& m : leased->elements) {
          auto headers = decodeStoredPairs(stringAt(m, 2));
          if (!headers.ok()) return done(makeError(ErrorKind::kIo, "message '" + stringAt(m, 0) + "': " +
                                                                       headers.error().message));
          result.messages.push_back(LeasedMessage{stringAt(m, 0), stringAt(m, 1), std::move(*headers),
                                                  static_cast<int>(integerAt(m, 3)), fromMs(integerAt(m, 4)),
                                                  stringAt(m, 5)});
        }
        done(std::move(result));
      });
}

namespace {

// (queue, total, ready, leased, delayed) as the script counts them.
void addCounts(const RedisReply& row, QueueStats& into) {
  const std::string queue = stringAt(row, 0);
  if (isDeadQueue(queue)) {
    into.dead += integerAt(row, 1);
  } else {
    into.ready += integerAt(row, 2);
    into.in_flight += integerAt(row, 3);
    into.delayed += integerAt(row, 4);
  }
}

}  // namespace

Result<void> RedisQueue::stats(Done<std::vector<QueueStats>> done) {
  return runChecked("stats", {}, [done = std::move(done)](Result<RedisReply> reply) mutable {
    if (!reply.ok()) return done(reply.error());
    if (reply->isError()) return done(replyError("stats", reply->str));
    std::map<std::string, QueueStats> by_name;
    for (const RedisReply& row : reply->elements) {
      std::string queue = stringAt(row, 0);
      if (isDeadQueue(queue)) queue.resize(queue.size() - kDeadQueueSuffix.size());
      QueueStats& s = by_name[queue];
      s.queue = queue;
      addCounts(row, s);
    }
    std::vector<QueueStats> out;
    for (auto& [name, s] : by_name) out.push_back(std::move(s));
    done(std::move(out));
  });
}

Result<void> RedisQueue::peek(std::string queue, size_t max_count, Done<std::vector<PeekedMessage>> done) {
  if (auto r = checkPeekCall(limits_, queue, max_count); !r.ok()) return r;
  const int64_t now = nowMs();
  return runChecked("peek", {queue, str(static_cast<int64_t>(max_count))},
                    [now, done = std::move(done)](Result<RedisReply> reply) mutable {
                      if (!reply.ok()) return done(reply.error());
                      if (reply->isError()) return done(replyError("peek", reply->str));
                      std::vector<PeekedMessage> out;
                      for (const RedisReply& row : reply->elements) {
                        PeekedMessage m;
                        m.id = stringAt(row, 0);
                        m.body = stringAt(row, 1);
                        auto headers = decodeStoredPairs(stringAt(row, 2));
                        if (!headers.ok()) return done(makeError(ErrorKind::kIo, "queue message headers: " +
                                                                                     headers.error().message));
                        m.headers = std::move(*headers);
                        m.attempts = static_cast<int>(integerAt(row, 3));
                        m.enqueued_at = fromMs(integerAt(row, 4));
                        const int64_t visible_at = integerAt(row, 5);
                        m.visible_at = fromMs(visible_at);
                        if (visible_at <= now) {
                          m.state = MessageState::kReady;
                        } else {
                          m.state = integerAt(row, 6) != 0 ? MessageState::kInFlight : MessageState::kDelayed;
                        }
                        m.last_error = stringAt(row, 7);
                        m.source_queue = stringAt(row, 8);
                        if (integerAt(row, 9) >= 0) m.dead_at = fromMs(integerAt(row, 9));
                        out.push_back(std::move(m));
                      }
                      done(std::move(out));
                    });
}

Result<void> RedisQueue::redrive(std::string dead_queue, Done<int64_t> done) {
  if (auto r = checkRedriveCall(dead_queue); !r.ok()) return r;
  return runChecked("redrive", {dead_queue}, integerAnswer("redis queue redrive", std::move(done)));
}

Result<void> RedisQueue::purge(std::string queue, Done<int64_t> done) {
  if (auto r = checkQueueCall("purge", queue); !r.ok()) return r;
  return runChecked("purge", {queue}, integerAnswer("redis queue purge", std::move(done)));
}

Result<void> RedisQueue::nextVisibleAt(std::string queue, Done<std::optional<QueueTime>> done) {
  if (auto r = checkQueueCall("nextVisibleAt", queue); !r.ok()) return r;
  return runChecked("next-visible", {queue}, [done = std::move(done)](Result<RedisReply> reply) mutable {
    if (!reply.ok()) return done(reply.error());
    if (reply->isError()) return done(replyError("nextVisibleAt", reply->str));
    if (reply->isNil()) return done(std::optional<QueueTime>());
    done(std::optional<QueueTime>(fromMs(reply->integer)));
  });
}

Result<void> RedisQueue::sweep(Done<int64_t> done) {
  std::vector<std::string> args = {str(default_bounds_.retention.count()),
                                   str(default_bounds_.dead_letter_retention.count())};
  for (const auto& [queue, b] : bounds_) {
    args.insert(args.end(), {queue, str(b.retention.count()), str(b.dead_letter_retention.count())});
  }
  auto shared = std::make_shared<Done<int64_t>>(std::move(done));
  return runChecked("sweep", std::move(args), integerAnswer("redis queue sweep", [this, shared](Result<int64_t> deleted) {
    if (!deleted.ok()) return (*shared)(deleted.error());
    // Then the retained logs, by the retention the current table asks for.
    withTopics(true, [this, shared, deleted = *deleted](Result<const TopicTable*> table) {
      if (!table.ok()) return (*shared)(table.error());
      std::vector<std::string> keep;
      for (const auto& [name, entry] : (*table)->topics) {
        if (entry.retained) keep.insert(keep.end(), {name, str(entry.retained->retention.count())});
      }
      run("trim-log", std::move(keep), [shared, deleted](Result<RedisReply> reply) {
        if (!reply.ok()) return (*shared)(reply.error());
        if (reply->isError()) return (*shared)(replyError("sweep", reply->str));
        (*shared)(deleted);
      });
    });
  }));
}

Result<void> RedisQueue::bindTopics(std::string owner, TopicBindings bindings, Done<void> done) {
  if (auto r = checkBindTopicsCall(owner, bindings); !r.ok()) return r;
  std::vector<std::string> args = {owner, encodeBindings(bindings)};
  std::set<std::string> subs;
  for (const auto& sub : bindings.subscriptions) subs.insert(subscriptionKey(sub.topic, sub.subscriber));
  args.insert(args.end(), subs.begin(), subs.end());
  return runChecked("bind", std::move(args), [this, done = std::move(done)](Result<RedisReply> reply) mutable {
    if (!reply.ok()) return done(reply.error());
    if (reply->isError()) return done(replyError("bindTopics", reply->str));
    topics_.reset();  // this host's next publish plans with the new table
    done(Result<void>{});
  });
}

Result<void> RedisQueue::topics(Done<std::vector<TopicInfo>> done) {
  auto shared = std::make_shared<Done<std::vector<TopicInfo>>>(std::move(done));
  if (!client_.up()) return makeError(ErrorKind::kUnavailable, "the backend Redis is unreachable");
  withTopics(true, [this, shared](Result<const TopicTable*> table) {
    if (!table.ok()) return (*shared)(table.error());
    // A topic only retained (a stream's) is not listed, as in the embedded backend.
    auto listed = std::make_shared<std::vector<TopicInfo>>();
    std::vector<std::string> names;
    for (const auto& [name, entry] : (*table)->topics) {
      if (entry.declared_by.empty() && entry.subs.empty()) continue;
      TopicInfo info;
      info.name = name;
      info.declared_by = entry.declared_by;
      info.subscriptions = entry.subs.size();
      listed->push_back(std::move(info));
      names.push_back(name);
    }
    run("topic-counters", std::move(names), [shared, listed](Result<RedisReply> reply) {
      if (!reply.ok()) return (*shared)(reply.error());
      if (reply->isError()) return (*shared)(replyError("topics", reply->str));
      for (size_t i = 0; i < listed->size() && i < reply->elements.size(); ++i) {
        (*listed)[i].published = integerAt(reply->elements[i], 1);
        const int64_t last = integerAt(reply->elements[i], 2);
        if (last >= 0) (*listed)[i].last_published_at = fromMs(last);
      }
      (*shared)(std::move(*listed));
    });
  });
  return {};
}

Result<void> RedisQueue::subscriptions(std::string topic, Done<std::vector<SubscriptionInfo>> done) {
  if (auto r = validateQueueName(topic); !r.ok()) return makeError(ErrorKind::kBadInput, "subscriptions: " + r.error().message);
  if (!client_.up()) return makeError(ErrorKind::kUnavailable, "the backend Redis is unreachable");
  auto shared = std::make_shared<Done<std::vector<SubscriptionInfo>>>(std::move(done));
  withTopics(true, [this, shared, topic](Result<const TopicTable*> table) {
    if (!table.ok()) return (*shared)(table.error());
    auto it = (*table)->topics.find(topic);
    if (it == (*table)->topics.end()) return (*shared)(noSuchTopicError(topic));
    auto out = std::make_shared<std::vector<SubscriptionInfo>>();
    std::vector<std::string> queues;
    for (const auto& sub : it->second.subs) {
      SubscriptionInfo info;
      info.subscription = sub.subscription;
      info.owner = sub.owner;
      info.queue = subscriptionQueue(topic, sub.subscription.subscriber);
      info.created_at = fromMs(sub.created_ms);
      info.backlog.queue = info.queue;
      queues.push_back(info.queue);
      out->push_back(std::move(info));
    }
    run("counts", std::move(queues), [shared, out](Result<RedisReply> reply) {
      if (!reply.ok()) return (*shared)(reply.error());
      if (reply->isError()) return (*shared)(replyError("subscriptions", reply->str));
      for (size_t i = 0; i < out->size() && 2 * i + 1 < reply->elements.size(); ++i) {
        addCounts(reply->elements[2 * i], (*out)[i].backlog);
        addCounts(reply->elements[2 * i + 1], (*out)[i].backlog);
      }
      (*shared)(std::move(*out));
    });
  });
  return {};
}

Result<void> RedisQueue::retainedEvents(std::string topic, uint64_t after_seq, size_t limit,
                                        Done<std::vector<TopicEvent>> done) {
  if (auto r = checkRetainedEventsCall(limits_, topic, limit); !r.ok()) return r;
  return runChecked("events", {topic, std::to_string(after_seq), str(static_cast<int64_t>(limit))},
                    [topic, done = std::move(done)](Result<RedisReply> reply) mutable {
                      if (!reply.ok()) return done(reply.error());
                      if (reply->isError()) return done(replyError("retainedEvents", reply->str));
                      std::vector<TopicEvent> out;
                      for (const RedisReply& row : reply->elements) {
                        auto headers = decodeStoredPairs(stringAt(row, 1));
                        if (!headers.ok()) return done(makeError(ErrorKind::kIo, "a retained event of '" + topic +
                                                                                     "' cannot be read"));
                        out.push_back(retainedEventOf(topic, static_cast<uint64_t>(integerAt(row, 0)),
                                                      stringAt(row, 2), std::move(*headers)));
                      }
                      done(std::move(out));
                    });
}

}  // namespace gust
