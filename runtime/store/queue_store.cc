#include "runtime/store/queue_store.h"

#include <cassert>
#include <map>
#include <set>
#include <string>

#include "runtime/store/sqlite_schema.h"
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

Result<void> SqliteQueue::checkMessage(std::string_view what, OutgoingMessage& message) {
  if (message.id.empty()) {
    message.id = message_ids_.next();
  } else if (auto r = validateMessageId(message.id); !r.ok()) {
    return badInput(what, r.error().message);
  }
  if (message.body.size() > limits_.max_body_bytes) {
    return badInput(what, "message '" + message.id + "' body is " + std::to_string(message.body.size()) +
                              " bytes; the limit is " + std::to_string(limits_.max_body_bytes));
  }
  if (message.headers.size() > limits_.max_headers) {
    return badInput(what, "message '" + message.id + "' has " + std::to_string(message.headers.size()) +
                              " headers; the limit is " + std::to_string(limits_.max_headers));
  }
  size_t header_bytes = 0;
  for (const auto& [name, value] : message.headers) {
    if (name.empty()) return badInput(what, "message '" + message.id + "' has a header with an empty name");
    header_bytes += name.size() + value.size();
  }
  if (header_bytes > limits_.max_header_bytes) {
    return badInput(what, "message '" + message.id + "' headers total " + std::to_string(header_bytes) +
                              " bytes; the limit is " + std::to_string(limits_.max_header_bytes));
  }
  if (message.delay < milliseconds(0) || message.delay > limits_.max_delay) {
    return badInput(what, "message '" + message.id + "' delay of " + std::to_string(message.delay.count()) +
                              " ms is outside 0.." + std::to_string(limits_.max_delay.count()) + " ms");
  }
  return {};
}

Result<void> SqliteQueue::checkMessages(std::string_view what, std::vector<OutgoingMessage>& messages) {
  if (messages.size() > limits_.max_batch) {
    return badInput(what, std::to_string(messages.size()) + " messages in one call; the limit is " +
                              std::to_string(limits_.max_batch));
  }
  for (auto& m : messages) {
    if (auto r = checkMessage(what, m); !r.ok()) return r;
  }
  return {};
}

const QueueBounds& SqliteQueue::boundsOf(const std::string& queue) const {
  auto it = bounds_.find(queue);
  return it == bounds_.end() ? default_bounds_ : it->second;
}

void SqliteQueue::setBounds(QueueBounds defaults, std::map<std::string, QueueBounds> by_queue) {
  default_bounds_ = std::move(defaults);
  bounds_ = std::move(by_queue);
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
      return makeError(ErrorKind::kLimitReached,
                       "queue '" + queue + "' holds " + std::to_string(bytes) + " bytes and message '" + message.id +
                           "' adds " + std::to_string(adds) + ", past its bound of " +
                           std::to_string(bounds.max_bytes) + " bytes (max_queue_bytes" +
                           (bounds.owner.empty() ? std::string(" of the host") : " of " + bounds.owner) +
                           "); nothing of this call was queued: retry once consumers catch up, or purge the queue");
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
  if (auto r = validateStoredQueueName(queue); !r.ok()) return badInput("send", r.error().message);
  if (isDeadQueue(queue)) {
    return badInput("send", "'" + queue + "' is a dead-letter queue, filled only by the queue itself; send to '" +
                                queue.substr(0, queue.size() - kDeadQueueSuffix.size()) + "' instead");
  }
  if (messages.empty()) return badInput("send", "no messages to send");
  if (auto r = checkMessages("send", messages); !r.ok()) return r;
  QueueBounds bounds = boundsOf(queue);
  return post<std::vector<SendResult>>(
      [this, queue = std::move(queue), messages = std::move(messages), bounds = std::move(bounds)](
          SqliteConnection& db) -> Result<std::vector<SendResult>> {
        const int64_t now = nowMs();
        if (auto r = forgetExpiredIds(db, now); !r.ok()) return r.error();
        std::vector<SendResult> results;
        results.reserve(messages.size());
        for (const auto& m : messages) {
          auto sent = insertMessage(db, queue, m, bounds, now);
          if (!sent.ok()) return sent.error();
          results.push_back(std::move(*sent));
        }
        return results;
      },
      std::move(done));
}

Result<void> SqliteQueue::lease(std::string queue, LeaseOptions options, Done<LeaseResult> done) {
  if (auto r = validateStoredQueueName(queue); !r.ok()) return badInput("lease", r.error().message);
  if (options.max_count == 0 || options.max_count > limits_.max_batch) {
    return badInput("lease", "max_count " + std::to_string(options.max_count) + " is outside 1.." +
                                 std::to_string(limits_.max_batch));
  }
  if (options.visibility_timeout <= milliseconds(0) || options.visibility_timeout > limits_.max_visibility_timeout) {
    return badInput("lease", "visibility timeout of " + std::to_string(options.visibility_timeout.count()) +
                                 " ms is outside 1.." + std::to_string(limits_.max_visibility_timeout.count()) +
                                 " ms");
  }
  if (options.max_attempts < 0) return badInput("lease", "max_attempts is negative; use 0 for unlimited");
  if (options.max_age < milliseconds(0)) return badInput("lease", "max_age is negative; use 0 for no limit");
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
  if (settlements.empty() && publishes.empty() && state.empty()) {
    return badInput("settle", "nothing to settle, publish or write");
  }
  if (auto r = checkStateWrites(state); !r.ok()) return r;
  if (settlements.size() > limits_.max_batch || publishes.size() > limits_.max_batch) {
    return badInput("settle", std::to_string(settlements.size()) + " settlements and " +
                                  std::to_string(publishes.size()) + " publishes; the limit is " +
                                  std::to_string(limits_.max_batch) + " of each");
  }
  for (auto& s : settlements) {
    if (auto r = validateStoredQueueName(s.queue); !r.ok()) return badInput("settle", r.error().message);
    if (auto r = validateMessageId(s.id); !r.ok()) return badInput("settle", r.error().message);
    if (s.lease_token.empty()) return badInput("settle", "message '" + s.id + "' has no lease token");
    if (s.action == SettleAction::kDeadLetter && isDeadQueue(s.queue)) {
      return badInput("settle", "message '" + s.id + "' is already in dead-letter queue '" + s.queue +
                                    "'; ack or retry it instead");
    }
    if (s.retry_delay < milliseconds(0) || s.retry_delay > limits_.max_delay) {
      return badInput("settle", "message '" + s.id + "' retry delay of " + std::to_string(s.retry_delay.count()) +
                                    " ms is outside 0.." + std::to_string(limits_.max_delay.count()) + " ms");
    }
    if (s.error.size() > limits_.max_error_bytes) s.error.resize(limits_.max_error_bytes);
  }
  for (auto& p : publishes) {
    if (auto r = validateStoredQueueName(p.queue); !r.ok()) return badInput("publish", r.error().message);
    if (isDeadQueue(p.queue)) return badInput("publish", "'" + p.queue + "' is a dead-letter queue");
    if (auto r = checkMessage("publish", p.message); !r.ok()) return r;
  }
  std::map<std::string, QueueBounds> publish_bounds;
  for (const auto& p : publishes) publish_bounds.emplace(p.queue, boundsOf(p.queue));
  return post<SettleResult>(
      [this, settlements = std::move(settlements), publishes = std::move(publishes),
       publish_bounds = std::move(publish_bounds), state = std::move(state)](SqliteConnection& db) -> Result<SettleResult> {
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
          auto sent = insertMessage(db, p.queue, p.message, publish_bounds.at(p.queue), now);
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

Result<void> SqliteQueue::checkStateWrites(const AppStateWrites& state) {
  if (state.empty()) return {};
  if (auto r = validateAppName(state.app); !r.ok()) return badInput("state", r.error().message);
  if (state.writes.size() > kMaxStateWrites) {
    return badInput("state", std::to_string(state.writes.size()) + " writes; the limit is " +
                                 std::to_string(kMaxStateWrites));
  }
  for (const StateWrite& w : state.writes) {
    if (std::string why = stateKeyProblem(w.key); !why.empty()) return badInput("state", why);
    if (w.value.size() > kMaxStateValueBytes) {
      return badInput("state", "a value of " + std::to_string(w.value.size()) + " bytes is larger than the limit of " +
                                   std::to_string(kMaxStateValueBytes));
    }
  }
  return {};
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
  if (auto r = validateStoredQueueName(queue); !r.ok()) return badInput("peek", r.error().message);
  if (max_count == 0 || max_count > limits_.max_batch) {
    return badInput("peek", "count " + std::to_string(max_count) + " is outside 1.." +
                                std::to_string(limits_.max_batch));
  }
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
  if (auto r = validateStoredQueueName(dead_queue); !r.ok()) return badInput("redrive", r.error().message);
  if (!isDeadQueue(dead_queue)) {
    return badInput("redrive", "'" + dead_queue + "' is not a dead-letter queue; redrive '" + dead_queue +
                                   std::string(kDeadQueueSuffix) + "'");
  }
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
  if (auto r = validateStoredQueueName(queue); !r.ok()) return badInput("purge", r.error().message);
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
  if (auto r = validateStoredQueueName(queue); !r.ok()) return badInput("nextVisibleAt", r.error().message);
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
      [this, defaults = default_bounds_, by_queue = bounds_](SqliteConnection& db) -> Result<int64_t> {
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
          const std::string source = dead ? queue.substr(0, queue.size() - kDeadQueueSuffix.size()) : queue;
          auto it = by_queue.find(source);
          const QueueBounds& bounds = it == by_queue.end() ? defaults : it->second;
          // A dead letter's clock starts when it died; a message's when it was sent.
          auto del = db.prepare(dead ? "DELETE FROM queue_messages WHERE queue = ?1 AND dead_at < ?2"
                                     : "DELETE FROM queue_messages WHERE queue = ?1 AND enqueued_at < ?2");
          if (!del.ok()) return del.error();
          const auto keep = dead ? bounds.dead_letter_retention : bounds.retention;
          del->bindText(1, queue).bind(2, now - keep.count());
          if (auto r = del->run(); !r.ok()) return r.error();
          deleted += db.changes();
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

}  // namespace gust
