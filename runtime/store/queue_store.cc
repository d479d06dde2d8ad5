#include "runtime/store/queue_store.h"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "runtime/base/iso8601.h"
#include "runtime/store/sqlite_schema.h"
#include "runtime/store/queue_calls.h"
#include "runtime/store/stored_strings.h"

namespace gust {
namespace {

using std::chrono::milliseconds;

// `seq` orders messages that became visible in the same millisecond by send order; the
// (queue, visible_at, seq) index makes a lease a range scan that stops after max_count.
constexpr Migration kQueueMigrations[] = {
    {1,
     "CREATE TABLE queue_messages ("
     "  seq INTEGER PRIMARY KEY,"
     "  queue TEXT NOT NULL,"
     "  id TEXT NOT NULL,"
     "  body BLOB NOT NULL,"
     "  headers BLOB NOT NULL,"
     "  attempts INTEGER NOT NULL,"
     "  enqueued_at INTEGER NOT NULL,"
     "  visible_at INTEGER NOT NULL,"
     "  lease_token TEXT,"
     "  last_error TEXT,"
     "  source_queue TEXT,"
     "  dead_at INTEGER"
     ");"
     "CREATE UNIQUE INDEX queue_messages_by_id ON queue_messages (queue, id);"
     "CREATE INDEX queue_messages_by_visibility ON queue_messages (queue, visible_at, seq);"
     // Ids seen per queue and until when they count as duplicates. Outlives the message
     // (an acked message's id is still remembered for the rest of the window).
     "CREATE TABLE queue_dedupe ("
     "  queue TEXT NOT NULL,"
     "  id TEXT NOT NULL,"
     "  expires_at INTEGER NOT NULL,"
     "  PRIMARY KEY (queue, id)"
     ") WITHOUT ROWID;"
     "CREATE INDEX queue_dedupe_by_expiry ON queue_dedupe (expires_at);"},
    // The bytes each queue holds (body and headers of every message), kept by triggers in
    // the same transaction as the change, so the bound never drifts from the messages; and
    // an index for the retention sweep.
    {2,
     "CREATE TABLE queue_sizes (queue TEXT PRIMARY KEY, bytes INTEGER NOT NULL) WITHOUT ROWID;"
     "INSERT INTO queue_sizes (queue, bytes)"
     "  SELECT queue, SUM(length(body) + length(headers)) FROM queue_messages GROUP BY queue;"
     "CREATE TRIGGER queue_sizes_on_insert AFTER INSERT ON queue_messages BEGIN"
     "  INSERT INTO queue_sizes (queue, bytes) VALUES (NEW.queue, length(NEW.body) + length(NEW.headers))"
     "    ON CONFLICT (queue) DO UPDATE SET bytes = bytes + excluded.bytes;"
     " END;"
     "CREATE TRIGGER queue_sizes_on_delete AFTER DELETE ON queue_messages BEGIN"
     "  UPDATE queue_sizes SET bytes = bytes - (length(OLD.body) + length(OLD.headers)) WHERE queue = OLD.queue;"
     " END;"
     "CREATE TRIGGER queue_sizes_on_move AFTER UPDATE OF queue ON queue_messages"
     "  WHEN OLD.queue IS NOT NEW.queue BEGIN"
     "  UPDATE queue_sizes SET bytes = bytes - (length(OLD.body) + length(OLD.headers)) WHERE queue = OLD.queue;"
     "  INSERT INTO queue_sizes (queue, bytes) VALUES (NEW.queue, length(NEW.body) + length(NEW.headers))"
     "    ON CONFLICT (queue) DO UPDATE SET bytes = bytes + excluded.bytes;"
     " END;"
     "CREATE INDEX queue_messages_by_age ON queue_messages (queue, enqueued_at);"},
    // Topics: who declares them, who subscribes (with the filter, as the store keeps
    // strings and pairs), and how many events each has had.
    {3,
     "CREATE TABLE topic_declarations ("
     "  topic TEXT NOT NULL,"
     "  owner TEXT NOT NULL,"
     "  PRIMARY KEY (topic, owner)"
     ") WITHOUT ROWID;"
     "CREATE TABLE topic_subscriptions ("
     "  topic TEXT NOT NULL,"
     "  subscriber TEXT NOT NULL,"
     "  owner TEXT NOT NULL,"
     "  types BLOB NOT NULL,"
     "  headers BLOB NOT NULL,"
     "  created_at INTEGER NOT NULL,"
     "  PRIMARY KEY (topic, subscriber)"
     ") WITHOUT ROWID;"
     "CREATE INDEX topic_subscriptions_by_owner ON topic_subscriptions (owner);"
     "CREATE TABLE topic_counters ("
     "  topic TEXT PRIMARY KEY,"
     "  published INTEGER NOT NULL,"
     "  last_published_at INTEGER NOT NULL"
     ") WITHOUT ROWID;"},
    // Retained events (queue_backend.h): who retains which topic and how, the topics' logs,
    // and the last seq each topic gave out, kept with its counters so that a seq is never
    // reused once the log is emptied.
    {4,
     "CREATE TABLE topic_retention ("
     "  topic TEXT NOT NULL,"
     "  owner TEXT NOT NULL,"
     "  retention_ms INTEGER NOT NULL,"
     "  max_events INTEGER NOT NULL,"
     "  PRIMARY KEY (topic, owner)"
     ") WITHOUT ROWID;"
     "CREATE INDEX topic_retention_by_owner ON topic_retention (owner);"
     "CREATE TABLE topic_events ("
     "  topic TEXT NOT NULL,"
     "  seq INTEGER NOT NULL,"
     "  id TEXT NOT NULL,"
     "  headers BLOB NOT NULL,"
     "  body BLOB NOT NULL,"
     "  logged_at INTEGER NOT NULL,"
     "  PRIMARY KEY (topic, seq)"
     ") WITHOUT ROWID;"
     "CREATE UNIQUE INDEX topic_events_by_id ON topic_events (topic, id);"
     "ALTER TABLE topic_counters ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;"},
};

QueueTime fromMs(int64_t ms) { return QueueTime(milliseconds(ms)); }

Error badInput(std::string_view what, const std::string& message) {
  return makeError(ErrorKind::kBadInput, std::string(what) + ": " + message);
}

Result<Pairs> readHeaders(const Statement& row, int column) {
  auto headers = decodeStoredPairs(row.blob(column));
  if (!headers.ok()) return makeError(ErrorKind::kIo, "queue message headers: " + headers.error().message);
  return headers;
}


struct StoredSubscription {
  std::string subscriber;
  EventFilter filter;
};

// nullopt when `name` is not a topic (nobody declares, subscribes to or retains it).
Result<std::optional<std::vector<StoredSubscription>>> subscriptionsOf(SqliteConnection& db, const std::string& name) {
  auto select = db.prepare(
      "SELECT subscriber, types, headers FROM topic_subscriptions WHERE topic = ?1"
      " UNION ALL SELECT NULL, NULL, NULL FROM topic_declarations WHERE topic = ?1"
      " UNION ALL SELECT NULL, NULL, NULL FROM topic_retention WHERE topic = ?1");
  if (!select.ok()) return select.error();
  select->bindText(1, name);
  bool topic = false;
  std::vector<StoredSubscription> subs;
  while (true) {
    auto row = select->step();
    if (!row.ok()) return row.error();
    if (!*row) break;
    topic = true;
    if (select->isNull(0)) continue;
    StoredSubscription sub;
    sub.subscriber = select->text(0);
    auto types = decodeStoredStrings(select->blob(1));
    auto headers = decodeStoredPairs(select->blob(2));
    if (!types.ok() || !headers.ok()) {
      return makeError(ErrorKind::kIo, "topic '" + name + "': the filter of subscription '" + sub.subscriber +
                                           "' cannot be read");
    }
    sub.filter.types = std::move(*types);
    sub.filter.headers = std::move(*headers);
    subs.push_back(std::move(sub));
  }
  if (!topic) return std::optional<std::vector<StoredSubscription>>();
  return std::optional<std::vector<StoredSubscription>>(std::move(subs));
}

// Appends `event` to the log of `topic` when some owner retains it, into `logged` too;
// an id the log still holds is not logged again.
Result<void> logRetainedEvent(SqliteConnection& db, const std::string& topic, const OutgoingMessage& event,
                              int64_t now, std::vector<TopicEvent>& logged) {
  auto bounds = db.prepare("SELECT MIN(max_events) FROM topic_retention WHERE topic = ?1");
  if (!bounds.ok()) return bounds.error();
  bounds->bindText(1, topic);
  auto row = bounds->step();
  if (!row.ok()) return row.error();
  if (!*row || bounds->isNull(0)) return {};
  const int64_t max_events = bounds->integer(0);
  {
    auto seen = db.prepare("SELECT 1 FROM topic_events WHERE topic = ?1 AND id = ?2");
    if (!seen.ok()) return seen.error();
    seen->bindText(1, topic).bindText(2, event.id);
    auto found = seen->step();
    if (!found.ok()) return found.error();
    if (*found) return {};
  }
  // publishMessage made the counters' row of this topic already.
  {
    auto bump = db.prepare("UPDATE topic_counters SET last_seq = last_seq + 1 WHERE topic = ?1");
    if (!bump.ok()) return bump.error();
    bump->bindText(1, topic);
    if (auto r = bump->run(); !r.ok()) return r.error();
  }
  auto next = db.prepare("SELECT last_seq FROM topic_counters WHERE topic = ?1");
  if (!next.ok()) return next.error();
  next->bindText(1, topic);
  auto numbered = next->step();
  if (!numbered.ok()) return numbered.error();
  if (!*numbered) return makeError(ErrorKind::kInternal, "topic '" + topic + "' has no counters row");
  const int64_t seq = next->integer(0);
  auto insert = db.prepare(
      "INSERT INTO topic_events (topic, seq, id, headers, body, logged_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!insert.ok()) return insert.error();
  insert->bindText(1, topic)
      .bind(2, seq)
      .bindText(3, event.id)
      .bindBlob(4, encodeStoredPairs(event.headers))
      .bindBlob(5, event.body)
      .bind(6, now);
  if (auto r = insert->run(); !r.ok()) return r.error();
  // The count bound holds at every commit; the age bound is the sweep's.
  auto trim = db.prepare("DELETE FROM topic_events WHERE topic = ?1 AND seq <= ?2");
  if (!trim.ok()) return trim.error();
  trim->bindText(1, topic).bind(2, seq - max_events);
  if (auto r = trim->run(); !r.ok()) return r.error();
  logged.push_back(retainedEventOf(topic, static_cast<uint64_t>(seq), event.body, event.headers));
  return {};
}

}  // namespace

Result<std::unique_ptr<SqliteQueue>> SqliteQueue::open(SqliteWriter& writer, const Clock& clock, QueueLimits limits) {
  if (limits.max_batch == 0) return makeError(ErrorKind::kBadInput, "queue limits: max_batch must be at least 1");
  auto migrated = writer.runSync<bool>([](SqliteConnection& db) -> Result<bool> {
    if (auto r = migrateSchema(db, "queue", kQueueMigrations); !r.ok()) return r.error();
    return true;
  });
  if (!migrated.ok()) return migrated.error();
  return std::unique_ptr<SqliteQueue>(new SqliteQueue(writer, clock, limits));
}

SqliteQueue::~SqliteQueue() {
  assert(pending_ == 0 && "SqliteQueue freed with calls in flight: close its SqliteWriter first");
}

int64_t SqliteQueue::nowMs() const {
  return std::chrono::duration_cast<milliseconds>(clock_.wallNow().time_since_epoch()).count();
}

template <typename T>
Result<void> SqliteQueue::post(SqliteWriter::Job<T> job, Done<T> done) {
  auto posted = writer_.post<T>(std::move(job), [this, done = std::move(done)](Result<T> result) mutable {
    --pending_;
    if (done) done(std::move(result));
  });
  if (posted.ok()) ++pending_;
  return posted;
}

template <typename T>
Result<void> SqliteQueue::postPublishing(PublishingJob<T> job, Done<T> done) {
  // Filled on the writer thread by the job, read on the loop thread by its completion,
  // which the writer runs after the job (so no two threads touch it at once).
  auto logged = std::make_shared<std::vector<TopicEvent>>();
  return post<T>(
      [job = std::move(job), logged](SqliteConnection& db) mutable -> Result<T> {
        logged->clear();
        auto result = job(db, *logged);
        if (!result.ok()) logged->clear();
        return result;
      },
      [this, logged, done = std::move(done)](Result<T> result) mutable {
        // A completion with an error means nothing of the job was committed.
        if (result.ok() && !logged->empty() && retained_listener_) retained_listener_(std::move(*logged));
        if (done) done(std::move(result));
      });
}

void SqliteQueue::setRetainedListener(UniqueFunction<void(std::vector<TopicEvent>)> listener) {
  retained_listener_ = std::move(listener);
}

void SqliteQueue::setBounds(QueueBounds defaults, std::map<std::string, QueueBounds> by_queue) {
  bounds_ = std::make_shared<const BoundsTable>(BoundsTable{std::move(defaults), std::move(by_queue)});
}

Result<void> SqliteQueue::forgetExpiredIds(SqliteConnection& db, int64_t now) {
  // Each row is deleted once, so this costs O(1) amortized per remembered id.
  auto forget = db.prepare("DELETE FROM queue_dedupe WHERE expires_at <= ?1");
  if (!forget.ok()) return forget.error();
  forget->bind(1, now);
  return forget->run();
}

Result<SendResult> SqliteQueue::insertMessage(SqliteConnection& db, const std::string& queue,
                                              const OutgoingMessage& message, const QueueBounds& bounds,
                                              int64_t now) {
  SendResult result{message.id, false};
  {
    // Seen within the window, or still queued (a long delay can outlast the window):
    // either way a second copy must not be enqueued.
    auto seen = db.prepare(
        "SELECT EXISTS (SELECT 1 FROM queue_dedupe WHERE queue = ?1 AND id = ?2 AND expires_at > ?3)"
        "    OR EXISTS (SELECT 1 FROM queue_messages WHERE queue = ?1 AND id = ?2)");
    if (!seen.ok()) return seen.error();
    seen->bindText(1, queue).bindText(2, message.id).bind(3, now);
    auto row = seen->step();
    if (!row.ok()) return row.error();
    if (seen->integer(0) != 0) {
      result.duplicate = true;
      return result;
    }
  }
  const std::string headers = encodeStoredPairs(message.headers);
  {
    const uint64_t adds = message.body.size() + headers.size();
    auto held = db.prepare("SELECT bytes FROM queue_sizes WHERE queue = ?1");
    if (!held.ok()) return held.error();
    held->bindText(1, queue);
    auto row = held->step();
    if (!row.ok()) return row.error();
    const uint64_t bytes = *row ? static_cast<uint64_t>(held->integer(0)) : 0;
    if (bytes + adds > bounds.max_bytes) {
      return queueFullError(queue, bytes, adds, message.id, bounds);
    }
  }
  auto remember = db.prepare(
      "INSERT INTO queue_dedupe (queue, id, expires_at) VALUES (?1, ?2, ?3)"
      " ON CONFLICT (queue, id) DO UPDATE SET expires_at = excluded.expires_at");
  if (!remember.ok()) return remember.error();
  remember->bindText(1, queue).bindText(2, message.id).bind(3, now + limits_.dedupe_window.count());
  if (auto r = remember->run(); !r.ok()) return r.error();

  auto insert = db.prepare(
      "INSERT INTO queue_messages (queue, id, body, headers, attempts, enqueued_at, visible_at)"
      " VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6)");
  if (!insert.ok()) return insert.error();
  insert->bindText(1, queue)
      .bindText(2, message.id)
      .bindBlob(3, message.body)
      .bindBlob(4, headers)
      .bind(5, now)
      .bind(6, now + message.delay.count());
  if (auto r = insert->run(); !r.ok()) return r.error();
  return result;
}

Result<void> SqliteQueue::moveToDead(SqliteConnection& db, int64_t seq, const std::string& queue,
                                     const std::string& id, const std::string& error, int64_t now) {
  const std::string dead = deadQueueOf(queue);
  {
    // An earlier dead letter with the same id (sent again after the dedupe window, and dead
    // again) is replaced by the newer one.
    auto drop = db.prepare("DELETE FROM queue_messages WHERE queue = ?1 AND id = ?2");
    if (!drop.ok()) return drop.error();
    drop->bindText(1, dead).bindText(2, id);
    if (auto r = drop->run(); !r.ok()) return r.error();
  }
  auto move = db.prepare(
      "UPDATE queue_messages SET queue = ?2, source_queue = queue, last_error = ?3, dead_at = ?4,"
      " visible_at = ?4, lease_token = NULL WHERE seq = ?1");
  if (!move.ok()) return move.error();
  move->bind(1, seq).bindText(2, dead).bindText(3, error).bind(4, now);
  return move->run();
}

Result<void> SqliteQueue::send(std::string queue, std::vector<OutgoingMessage> messages,
                               Done<std::vector<SendResult>> done) {
  if (auto r = checkSendCall(limits_, queue, messages, message_ids_); !r.ok()) return r;
  return postPublishing<std::vector<SendResult>>(
      [this, queue = std::move(queue), messages = std::move(messages), bounds = bounds_](
          SqliteConnection& db, std::vector<TopicEvent>& logged) -> Result<std::vector<SendResult>> {
        const int64_t now = nowMs();
        if (auto r = forgetExpiredIds(db, now); !r.ok()) return r.error();
        std::vector<SendResult> results;
        results.reserve(messages.size());
        for (const auto& m : messages) {
          auto sent = publishMessage(db, queue, m, *bounds, now, logged);
          if (!sent.ok()) return sent.error();
          results.push_back(std::move(*sent));
        }
        return results;
      },
      std::move(done));
}

Result<void> SqliteQueue::lease(std::string queue, LeaseOptions options, Done<LeaseResult> done) {
  if (auto r = checkLeaseCall(limits_, queue, options); !r.ok()) return r;
  return post<LeaseResult>(
      [this, queue = std::move(queue), options](SqliteConnection& db) -> Result<LeaseResult> {
        const int64_t now = nowMs();
        // Dead letters of a dead-letter queue have nowhere to go: there, limits do not apply.
        const bool can_dead_letter = !isDeadQueue(queue);
        // Dead-lettering is bounded per call too, so one lease over a backlog of expired
        // messages cannot hold the writer for long; the next lease continues.
        const size_t max_dead_per_call = 10 * limits_.max_batch;
        LeaseResult result;
        struct Candidate {
          int64_t seq;
          std::string id, body, headers, last_error;
          int64_t attempts, enqueued_at;
        };
        while (result.messages.size() < options.max_count && result.dead_lettered < max_dead_per_call) {
          const size_t wanted = options.max_count - result.messages.size();
          std::vector<Candidate> candidates;
          {
            auto select = db.prepare(
                "SELECT seq, id, body, headers, attempts, enqueued_at, last_error FROM queue_messages"
                " WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at, seq LIMIT ?3");
            if (!select.ok()) return select.error();
            select->bindText(1, queue).bind(2, now).bind(3, static_cast<int64_t>(wanted));
            while (true) {
              auto row = select->step();
              if (!row.ok()) return row.error();
              if (!*row) break;
              candidates.push_back(Candidate{select->integer(0), select->text(1), select->blob(2), select->blob(3),
                                             select->text(6), select->integer(4), select->integer(5)});
            }
          }
          for (auto& c : candidates) {
            std::string dead_error;
            if (can_dead_letter && options.max_age > milliseconds(0) && now - c.enqueued_at > options.max_age.count()) {
              dead_error = "expired";
            } else if (can_dead_letter && options.max_attempts > 0 && c.attempts >= options.max_attempts) {
              dead_error = "leased " + std::to_string(c.attempts) + " times without success (max_attempts " +
                           std::to_string(options.max_attempts) + ")";
              if (!c.last_error.empty()) dead_error += "; last error: " + c.last_error;
            }
            if (!dead_error.empty()) {
              if (auto r = moveToDead(db, c.seq, queue, c.id, dead_error, now); !r.ok()) return r.error();
              ++result.dead_lettered;
              continue;
            }
            std::string token = lease_tokens_.next();
            auto update = db.prepare(
                "UPDATE queue_messages SET attempts = attempts + 1, visible_at = ?2, lease_token = ?3 WHERE seq = ?1");
            if (!update.ok()) return update.error();
            update->bind(1, c.seq).bind(2, now + options.visibility_timeout.count()).bindText(3, token);
            if (auto r = update->run(); !r.ok()) return r.error();
            auto headers = decodeStoredPairs(c.headers);
            if (!headers.ok()) return makeError(ErrorKind::kIo, "message '" + c.id + "': " + headers.error().message);
            result.messages.push_back(LeasedMessage{std::move(c.id), std::move(c.body), std::move(*headers),
                                                    static_cast<int>(c.attempts + 1), fromMs(c.enqueued_at),
                                                    std::move(token)});
          }
          if (candidates.size() < wanted) break;  // nothing more is visible
        }
        return result;
      },
      std::move(done));
}

Result<void> SqliteQueue::settle(std::vector<MessageSettlement> settlements, std::vector<MessagePublish> publishes,
                                 AppStateWrites state, Done<SettleResult> done) {
  if (auto r = checkSettleCall(limits_, settlements, publishes, state, message_ids_); !r.ok()) return r;
  return postPublishing<SettleResult>(
      [this, settlements = std::move(settlements), publishes = std::move(publishes), bounds = bounds_,
       state = std::move(state)](SqliteConnection& db, std::vector<TopicEvent>& logged) -> Result<SettleResult> {
        const int64_t now = nowMs();
        SettleResult result;
        result.statuses.assign(settlements.size(), SettleStatus::kNotApplied);
        // First check every token, writing nothing, so a stale one leaves no trace.
        std::vector<int64_t> seqs(settlements.size(), 0);
        std::set<int64_t> seen;
        bool any_stale = false;
        for (size_t i = 0; i < settlements.size(); ++i) {
          const MessageSettlement& s = settlements[i];
          auto select = db.prepare("SELECT seq, lease_token FROM queue_messages WHERE queue = ?1 AND id = ?2");
          if (!select.ok()) return select.error();
          select->bindText(1, s.queue).bindText(2, s.id);
          auto row = select->step();
          if (!row.ok()) return row.error();
          // A lease that expired but was not leased again still holds the token: nobody
          // else has the message, so its settlement is accepted.
          bool current = *row && !select->isNull(1) && select->text(1) == s.lease_token;
          if (current) {
            seqs[i] = select->integer(0);
            current = seen.insert(seqs[i]).second;  // the same lease settled twice in one call
          }
          if (!current) {
            result.statuses[i] = SettleStatus::kStaleLease;
            any_stale = true;
          }
        }
        if (any_stale) return result;

        for (size_t i = 0; i < settlements.size(); ++i) {
          const MessageSettlement& s = settlements[i];
          Result<void> applied;
          switch (s.action) {
            case SettleAction::kAck: {
              auto del = db.prepare("DELETE FROM queue_messages WHERE seq = ?1");
              if (!del.ok()) return del.error();
              del->bind(1, seqs[i]);
              applied = del->run();
              break;
            }
            case SettleAction::kRetry: {
              auto retry = db.prepare(
                  "UPDATE queue_messages SET visible_at = ?2, lease_token = NULL,"
                  " last_error = COALESCE(?3, last_error) WHERE seq = ?1");
              if (!retry.ok()) return retry.error();
              retry->bind(1, seqs[i]).bind(2, now + s.retry_delay.count());
              if (s.error.empty()) {
                retry->bindNull(3);
              } else {
                retry->bindText(3, s.error);
              }
              applied = retry->run();
              break;
            }
            case SettleAction::kDeadLetter:
              applied = moveToDead(db, seqs[i], s.queue, s.id, s.error, now);
              break;
          }
          if (!applied.ok()) return applied.error();
          result.statuses[i] = SettleStatus::kApplied;
        }
        if (!publishes.empty()) {
          if (auto r = forgetExpiredIds(db, now); !r.ok()) return r.error();
        }
        for (const auto& p : publishes) {
          auto sent = publishMessage(db, p.queue, p.message, *bounds, now, logged);
          if (!sent.ok()) return sent.error();
          result.published.push_back(std::move(*sent));
        }
        if (!state.empty()) {
          // Last, so a conflict or a bound fails the job and rolls back all of the above.
          if (auto r = applyStateWrites(db, state, now); !r.ok()) return r.error();
        }
        result.committed = true;
        return result;
      },
      std::move(done));
}

Result<void> SqliteQueue::stats(Done<std::vector<QueueStats>> done) {
  return post<std::vector<QueueStats>>(
      [this](SqliteConnection& db) -> Result<std::vector<QueueStats>> {
        const int64_t now = nowMs();
        auto select = db.prepare(
            "SELECT queue, COUNT(*),"
            " SUM(visible_at <= ?1),"
            " SUM(visible_at > ?1 AND lease_token IS NOT NULL),"
            " SUM(visible_at > ?1 AND lease_token IS NULL)"
            " FROM queue_messages GROUP BY queue");
        if (!select.ok()) return select.error();
        select->bind(1, now);
        std::map<std::string, QueueStats> by_name;
        while (true) {
          auto row = select->step();
          if (!row.ok()) return row.error();
          if (!*row) break;
          std::string name = select->text(0);
          if (isDeadQueue(name)) {
            std::string source = name.substr(0, name.size() - kDeadQueueSuffix.size());
            QueueStats& s = by_name[source];
            s.queue = source;
            s.dead += select->integer(1);
          } else {
            QueueStats& s = by_name[name];
            s.queue = name;
            s.ready += select->integer(2);
            s.in_flight += select->integer(3);
            s.delayed += select->integer(4);
          }
        }
        std::vector<QueueStats> out;
        out.reserve(by_name.size());
        for (auto& [name, s] : by_name) out.push_back(std::move(s));
        return out;
      },
      std::move(done));
}

Result<void> SqliteQueue::peek(std::string queue, size_t max_count, Done<std::vector<PeekedMessage>> done) {
  if (auto r = checkPeekCall(limits_, queue, max_count); !r.ok()) return r;
  return post<std::vector<PeekedMessage>>(
      [this, queue = std::move(queue), max_count](SqliteConnection& db) -> Result<std::vector<PeekedMessage>> {
        const int64_t now = nowMs();
        auto select = db.prepare(
            "SELECT id, body, headers, attempts, enqueued_at, visible_at, lease_token IS NOT NULL,"
            " last_error, source_queue, dead_at FROM queue_messages"
            " WHERE queue = ?1 ORDER BY visible_at, seq LIMIT ?2");
        if (!select.ok()) return select.error();
        select->bindText(1, queue).bind(2, static_cast<int64_t>(max_count));
        std::vector<PeekedMessage> out;
        while (true) {
          auto row = select->step();
          if (!row.ok()) return row.error();
          if (!*row) break;
          PeekedMessage m;
          m.id = select->text(0);
          m.body = select->blob(1);
          auto headers = readHeaders(*select, 2);
          if (!headers.ok()) return headers.error();
          m.headers = std::move(*headers);
          m.attempts = static_cast<int>(select->integer(3));
          m.enqueued_at = fromMs(select->integer(4));
          int64_t visible_at = select->integer(5);
          m.visible_at = fromMs(visible_at);
          if (visible_at <= now) {
            m.state = MessageState::kReady;
          } else {
            m.state = select->integer(6) != 0 ? MessageState::kInFlight : MessageState::kDelayed;
          }
          m.last_error = select->text(7);
          m.source_queue = select->text(8);
          if (!select->isNull(9)) m.dead_at = fromMs(select->integer(9));
          out.push_back(std::move(m));
        }
        return out;
      },
      std::move(done));
}

Result<void> SqliteQueue::redrive(std::string dead_queue, Done<int64_t> done) {
  if (auto r = checkRedriveCall(dead_queue); !r.ok()) return r;
  return post<int64_t>(
      [this, dead_queue = std::move(dead_queue)](SqliteConnection& db) -> Result<int64_t> {
        const int64_t now = nowMs();
        auto move = db.prepare(
            "UPDATE queue_messages SET queue = source_queue, attempts = 0, enqueued_at = ?2, visible_at = ?2,"
            " lease_token = NULL, last_error = NULL, source_queue = NULL, dead_at = NULL"
            " WHERE queue = ?1 AND source_queue IS NOT NULL AND NOT EXISTS ("
            "   SELECT 1 FROM queue_messages AS live"
            "   WHERE live.queue = queue_messages.source_queue AND live.id = queue_messages.id)");
        if (!move.ok()) return move.error();
        move->bindText(1, dead_queue).bind(2, now);
        if (auto r = move->run(); !r.ok()) return r.error();
        return db.changes();
      },
      std::move(done));
}

Result<void> SqliteQueue::purge(std::string queue, Done<int64_t> done) {
  if (auto r = checkQueueCall("purge", queue); !r.ok()) return r;
  return post<int64_t>(
      [queue = std::move(queue)](SqliteConnection& db) -> Result<int64_t> {
        auto del = db.prepare("DELETE FROM queue_messages WHERE queue = ?1");
        if (!del.ok()) return del.error();
        del->bindText(1, queue);
        if (auto r = del->run(); !r.ok()) return r.error();
        return db.changes();
      },
      std::move(done));
}

Result<void> SqliteQueue::nextVisibleAt(std::string queue, Done<std::optional<QueueTime>> done) {
  if (auto r = checkQueueCall("nextVisibleAt", queue); !r.ok()) return r;
  return post<std::optional<QueueTime>>(
      [queue = std::move(queue)](SqliteConnection& db) -> Result<std::optional<QueueTime>> {
        auto select = db.prepare("SELECT MIN(visible_at) FROM queue_messages WHERE queue = ?1");
        if (!select.ok()) return select.error();
        select->bindText(1, queue);
        auto row = select->step();
        if (!row.ok()) return row.error();
        if (!*row || select->isNull(0)) return std::optional<QueueTime>();
        return std::optional<QueueTime>(fromMs(select->integer(0)));
      },
      std::move(done));
}

Result<void> SqliteQueue::sweep(Done<int64_t> done) {
  return post<int64_t>(
      [this, bounds = bounds_](SqliteConnection& db) -> Result<int64_t> {
        const int64_t now = nowMs();
        if (auto r = forgetExpiredIds(db, now); !r.ok()) return r.error();
        std::vector<std::string> queues;
        {
          auto select = db.prepare("SELECT queue FROM queue_sizes");
          if (!select.ok()) return select.error();
          while (true) {
            auto row = select->step();
            if (!row.ok()) return row.error();
            if (!*row) break;
            queues.push_back(select->text(0));
          }
        }
        int64_t deleted = 0;
        for (const auto& queue : queues) {
          const bool dead = isDeadQueue(queue);
          const QueueBounds& held = bounds->of(queue);
          // A dead letter's clock starts when it died; a message's when it was sent.
          auto del = db.prepare(dead ? "DELETE FROM queue_messages WHERE queue = ?1 AND dead_at < ?2"
                                     : "DELETE FROM queue_messages WHERE queue = ?1 AND enqueued_at < ?2");
          if (!del.ok()) return del.error();
          const auto keep = dead ? held.dead_letter_retention : held.retention;
          del->bindText(1, queue).bind(2, now - keep.count());
          if (auto r = del->run(); !r.ok()) return r.error();
          deleted += db.changes();
        }
        // Retained events past the longest retention asked for their topic; a topic nobody
        // retains any more keeps none (its retention counts as -1 ms: everything is past it).
        {
          auto aged = db.prepare(
              "DELETE FROM topic_events WHERE logged_at < ?1 - COALESCE("
              " (SELECT MAX(retention_ms) FROM topic_retention WHERE topic_retention.topic = topic_events.topic), -1)");
          if (!aged.ok()) return aged.error();
          aged->bind(1, now);
          if (auto r = aged->run(); !r.ok()) return r.error();
        }
        // An emptied queue leaves no row behind.
        if (auto r = db.exec("DELETE FROM queue_sizes WHERE bytes <= 0 AND queue NOT IN"
                             " (SELECT DISTINCT queue FROM queue_messages)");
            !r.ok()) {
          return r.error();
        }
        return deleted;
      },
      std::move(done));
}

Result<SendResult> SqliteQueue::publishMessage(SqliteConnection& db, const std::string& name,
                                               const OutgoingMessage& message, const BoundsTable& bounds,
                                               int64_t now, std::vector<TopicEvent>& logged) {
  auto subs = subscriptionsOf(db, name);
  if (!subs.ok()) return subs.error();
  if (!*subs) return insertMessage(db, name, message, bounds.of(name), now);
  {
    auto count = db.prepare(
        "INSERT INTO topic_counters (topic, published, last_published_at) VALUES (?1, 1, ?2)"
        " ON CONFLICT (topic) DO UPDATE SET published = published + 1, last_published_at = excluded.last_published_at");
    if (!count.ok()) return count.error();
    count->bindText(1, name).bind(2, now);
    if (auto r = count->run(); !r.ok()) return r.error();
  }
  const OutgoingMessage event = topicEventOf(name, message, now);
  if (auto r = logRetainedEvent(db, name, event, now, logged); !r.ok()) return r.error();
  // A duplicate only when every subscription that takes the event had it already.
  SendResult result{message.id, false};
  bool any = false, all_duplicates = true;
  for (const auto& sub : **subs) {
    if (!sub.filter.matches(event.headers)) continue;
    const std::string queue = subscriptionQueue(name, sub.subscriber);
    auto sent = insertMessage(db, queue, event, bounds.of(queue), now);
    if (!sent.ok()) return sent.error();
    any = true;
    all_duplicates = all_duplicates && sent->duplicate;
  }
  result.duplicate = any && all_duplicates;
  return result;
}

Result<void> SqliteQueue::bindTopics(std::string owner, TopicBindings bindings, Done<void> done) {
  if (auto r = checkBindTopicsCall(owner, bindings); !r.ok()) return r;
  return post<bool>(
      [this, owner = std::move(owner), bindings = std::move(bindings)](SqliteConnection& db) -> Result<bool> {
        const int64_t now = nowMs();
        auto clear = db.prepare("DELETE FROM topic_declarations WHERE owner = ?1");
        if (!clear.ok()) return clear.error();
        clear->bindText(1, owner);
        if (auto r = clear->run(); !r.ok()) return r.error();
        for (const auto& topic : bindings.declared) {
          auto declare = db.prepare("INSERT OR IGNORE INTO topic_declarations (topic, owner) VALUES (?1, ?2)");
          if (!declare.ok()) return declare.error();
          declare->bindText(1, topic).bindText(2, owner);
          if (auto r = declare->run(); !r.ok()) return r.error();
        }
        // Subscriptions the owner no longer has stop here; the rest keep their creation time.
        std::set<std::pair<std::string, std::string>> kept;
        for (const auto& sub : bindings.subscriptions) kept.emplace(sub.topic, sub.subscriber);
        {
          std::vector<std::pair<std::string, std::string>> gone;
          auto select = db.prepare("SELECT topic, subscriber FROM topic_subscriptions WHERE owner = ?1");
          if (!select.ok()) return select.error();
          select->bindText(1, owner);
          while (true) {
            auto row = select->step();
            if (!row.ok()) return row.error();
            if (!*row) break;
            std::pair<std::string, std::string> key{select->text(0), select->text(1)};
            if (kept.count(key) == 0) gone.push_back(std::move(key));
          }
          for (const auto& [topic, subscriber] : gone) {
            auto del = db.prepare("DELETE FROM topic_subscriptions WHERE topic = ?1 AND subscriber = ?2");
            if (!del.ok()) return del.error();
            del->bindText(1, topic).bindText(2, subscriber);
            if (auto r = del->run(); !r.ok()) return r.error();
          }
        }
        {
          auto release = db.prepare("DELETE FROM topic_retention WHERE owner = ?1");
          if (!release.ok()) return release.error();
          release->bindText(1, owner);
          if (auto r = release->run(); !r.ok()) return r.error();
        }
        for (const auto& kept : bindings.retained) {
          auto retain = db.prepare(
              "INSERT INTO topic_retention (topic, owner, retention_ms, max_events) VALUES (?1, ?2, ?3, ?4)"
              " ON CONFLICT (topic, owner) DO UPDATE SET retention_ms = MAX(retention_ms, excluded.retention_ms),"
              " max_events = MIN(max_events, excluded.max_events)");
          if (!retain.ok()) return retain.error();
          retain->bindText(1, kept.topic)
              .bindText(2, owner)
              .bind(3, static_cast<int64_t>(kept.retention.count()))
              .bind(4, static_cast<int64_t>(kept.max_events));
          if (auto r = retain->run(); !r.ok()) return r.error();
        }
        for (const auto& sub : bindings.subscriptions) {
          auto upsert = db.prepare(
              "INSERT INTO topic_subscriptions (topic, subscriber, owner, types, headers, created_at)"
              " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (topic, subscriber) DO UPDATE SET"
              " owner = excluded.owner, types = excluded.types, headers = excluded.headers");
          if (!upsert.ok()) return upsert.error();
          upsert->bindText(1, sub.topic)
              .bindText(2, sub.subscriber)
              .bindText(3, owner)
              .bindBlob(4, encodeStoredStrings(sub.filter.types))
              .bindBlob(5, encodeStoredPairs(sub.filter.headers))
              .bind(6, now);
          if (auto r = upsert->run(); !r.ok()) return r.error();
        }
        return true;
      },
      [done = std::move(done)](Result<bool> bound) mutable {
        if (!bound.ok()) {
          done(bound.error());
        } else {
          done(Result<void>{});
        }
      });
}

Result<void> SqliteQueue::topics(Done<std::vector<TopicInfo>> done) {
  return post<std::vector<TopicInfo>>(
      [](SqliteConnection& db) -> Result<std::vector<TopicInfo>> {
        std::map<std::string, TopicInfo> by_name;
        auto read = [&](const char* sql, auto&& each) -> Result<void> {
          auto select = db.prepare(sql);
          if (!select.ok()) return select.error();
          while (true) {
            auto row = select->step();
            if (!row.ok()) return row.error();
            if (!*row) return {};
            TopicInfo& t = by_name[select->text(0)];
            t.name = select->text(0);
            each(*select, t);
          }
        };
        auto declared = read("SELECT topic, owner FROM topic_declarations ORDER BY topic, owner",
                             [](Statement& row, TopicInfo& t) { t.declared_by.push_back(row.text(1)); });
        if (!declared.ok()) return declared.error();
        auto subscribed = read("SELECT topic, COUNT(*) FROM topic_subscriptions GROUP BY topic",
                               [](Statement& row, TopicInfo& t) { t.subscriptions = static_cast<size_t>(row.integer(1)); });
        if (!subscribed.ok()) return subscribed.error();
        // Counters outlive a topic nobody declares any more; such a name is not listed.
        auto select = db.prepare("SELECT topic, published, last_published_at FROM topic_counters");
        if (!select.ok()) return select.error();
        while (true) {
          auto row = select->step();
          if (!row.ok()) return row.error();
          if (!*row) break;
          auto it = by_name.find(select->text(0));
          if (it == by_name.end()) continue;
          it->second.published = select->integer(1);
          it->second.last_published_at = fromMs(select->integer(2));
        }
        std::vector<TopicInfo> out;
        out.reserve(by_name.size());
        for (auto& [name, t] : by_name) out.push_back(std::move(t));
        return out;
      },
      std::move(done));
}

Result<void> SqliteQueue::subscriptions(std::string topic, Done<std::vector<SubscriptionInfo>> done) {
  if (auto r = validateQueueName(topic); !r.ok()) return badInput("subscriptions", r.error().message);
  return post<std::vector<SubscriptionInfo>>(
      [this, topic = std::move(topic)](SqliteConnection& db) -> Result<std::vector<SubscriptionInfo>> {
        auto subs = subscriptionsOf(db, topic);
        if (!subs.ok()) return subs.error();
        if (!*subs) {
          return noSuchTopicError(topic);
        }
        const int64_t now = nowMs();
        std::vector<SubscriptionInfo> out;
        for (auto& sub : **subs) {
          SubscriptionInfo info;
          info.queue = subscriptionQueue(topic, sub.subscriber);
          info.subscription = Subscription{topic, sub.subscriber, std::move(sub.filter)};
          auto meta = db.prepare("SELECT owner, created_at FROM topic_subscriptions WHERE topic = ?1 AND subscriber = ?2");
          if (!meta.ok()) return meta.error();
          meta->bindText(1, topic).bindText(2, info.subscription.subscriber);
          if (auto row = meta->step(); !row.ok()) return row.error();
          info.owner = meta->text(0);
          info.created_at = fromMs(meta->integer(1));
          info.backlog.queue = info.queue;
          auto counts = db.prepare(
              "SELECT queue = ?1, COUNT(*), SUM(visible_at <= ?3),"
              " SUM(visible_at > ?3 AND lease_token IS NOT NULL), SUM(visible_at > ?3 AND lease_token IS NULL)"
              " FROM queue_messages WHERE queue IN (?1, ?2) GROUP BY queue");
          if (!counts.ok()) return counts.error();
          counts->bindText(1, info.queue).bindText(2, deadQueueOf(info.queue)).bind(3, now);
          while (true) {
            auto row = counts->step();
            if (!row.ok()) return row.error();
            if (!*row) break;
            if (counts->integer(0) != 0) {
              info.backlog.ready = counts->integer(2);
              info.backlog.in_flight = counts->integer(3);
              info.backlog.delayed = counts->integer(4);
            } else {
              info.backlog.dead = counts->integer(1);
            }
          }
          out.push_back(std::move(info));
        }
        return out;
      },
      std::move(done));
}

}  // namespace gust

namespace gust {

Result<void> SqliteQueue::retainedEvents(std::string topic, uint64_t after_seq, size_t limit,
                                         Done<std::vector<TopicEvent>> done) {
  if (auto r = checkRetainedEventsCall(limits_, topic, limit); !r.ok()) return r;
  return post<std::vector<TopicEvent>>(
      [topic = std::move(topic), after_seq, limit](SqliteConnection& db) -> Result<std::vector<TopicEvent>> {
        auto select = db.prepare(
            "SELECT seq, headers, body FROM topic_events WHERE topic = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3");
        if (!select.ok()) return select.error();
        // Past INT64_MAX no seq is after it; SQLite compares integers signed.
        const int64_t after = after_seq > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(after_seq);
        select->bindText(1, topic).bind(2, after).bind(3, static_cast<int64_t>(limit));
        std::vector<TopicEvent> out;
        while (true) {
          auto row = select->step();
          if (!row.ok()) return row.error();
          if (!*row) break;
          auto headers = readHeaders(*select, 1);
          if (!headers.ok()) return headers.error();
          out.push_back(retainedEventOf(topic, static_cast<uint64_t>(select->integer(0)), select->blob(2),
                                     std::move(*headers)));
        }
        return out;
      },
      std::move(done));
}

}  // namespace gust
