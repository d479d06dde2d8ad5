#include "runtime/store/webhook_store.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>


#include "runtime/base/names.h"
#include "runtime/base/text.h"
#include "runtime/store/sqlite_schema.h"

namespace gust {
namespace {

using std::chrono::milliseconds;
using TimePoint = std::chrono::system_clock::time_point;

constexpr size_t kSecretBytes = 24;  // Standard Webhooks: 24 to 64 bytes
constexpr size_t kIdBytes = 8;       // 16 hex digits

constexpr Migration kWebhookMigrations[] = {
    {1,
     "CREATE TABLE webhooks ("
     "  id TEXT PRIMARY KEY,"
     "  topic TEXT NOT NULL,"
     "  url TEXT NOT NULL,"
     "  type TEXT NOT NULL,"  // empty: every event
     "  secret TEXT NOT NULL,"  // kept to sign with: gust.db is 0600
     "  previous_secret TEXT NOT NULL,"
     "  previous_until INTEGER NOT NULL,"
     "  created_at INTEGER NOT NULL"
     ") WITHOUT ROWID;"},
};

int64_t toMs(TimePoint t) { return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count(); }
TimePoint fromMs(int64_t ms) { return TimePoint(milliseconds(ms)); }

Result<std::string> newWebhookId() {
  unsigned char raw[kIdBytes];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    return makeError(ErrorKind::kIo, "the system's random number generator failed; no webhook was made");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(WebhookStore::kIdPrefix);
  for (unsigned char b : raw) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  return id;
}

Result<void> validateType(std::string_view type) {
  if (type.size() > WebhookStore::kMaxTypeBytes) {
    return makeError(ErrorKind::kBadInput,
                     "the event type is longer than " + std::to_string(WebhookStore::kMaxTypeBytes) + " bytes");
  }
  for (char c : type) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return makeError(ErrorKind::kBadInput,
                       "the event type holds a space, control or non-ASCII character; use e.g. order.created");
    }
  }
  return {};
}

}  // namespace

Result<std::string> newWebhookSecret() {
  unsigned char raw[kSecretBytes];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    return makeError(ErrorKind::kIo, "the system's random number generator failed; no secret was made");
  }
  std::string secret = std::string(WebhookStore::kSecretPrefix) +
                       base64Encode(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
  OPENSSL_cleanse(raw, sizeof raw);
  return secret;
}

Result<std::unique_ptr<WebhookStore>> WebhookStore::open(SqliteWriter& writer, const Clock& clock,
                                                         WebhookStoreOptions options) {
  if (options.max_per_topic == 0 || options.max_total == 0) {
    return makeError(ErrorKind::kBadInput, "webhook store: the bounds must be at least 1");
  }
  auto loaded = writer.runSync<std::vector<Webhook>>([](SqliteConnection& db) -> Result<std::vector<Webhook>> {
    if (auto r = migrateSchema(db, "webhooks", kWebhookMigrations); !r.ok()) return r.error();
    auto select = db.prepare(
        "SELECT id, topic, url, type, secret, previous_secret, previous_until, created_at FROM webhooks");
    if (!select.ok()) return select.error();
    std::vector<Webhook> hooks;
    for (;;) {
      auto row = select->step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      hooks.push_back(Webhook{select->text(0), select->text(1), select->text(2), select->text(3), select->text(4),
                              select->text(5), fromMs(select->integer(6)), fromMs(select->integer(7))});
    }
    return hooks;
  });
  if (!loaded.ok()) return loaded.error();
  std::unique_ptr<WebhookStore> store(new WebhookStore(writer, clock, options));
  for (auto& hook : *loaded) store->by_id_.emplace(hook.id, std::move(hook));
  return store;
}



Result<void> WebhookStore::create(std::string topic, std::string url, std::string type, Done<Webhook> done) {
  if (auto valid = validateTopicName(topic); !valid) return valid;
  if (url.empty() || url.size() > kMaxUrlBytes) {
    return makeError(ErrorKind::kBadInput, "a webhook URL is 1 to " + std::to_string(kMaxUrlBytes) + " bytes");
  }
  if (auto valid = validateType(type); !valid) return valid;
  if (by_id_.size() >= options_.max_total) {
    return makeError(ErrorKind::kConflict, "the host has " + std::to_string(options_.max_total) +
                                               " webhooks, the most it keeps; remove one it no longer needs");
  }
  size_t on_topic = 0;
  for (const auto& [id, hook] : by_id_) on_topic += hook.topic == topic ? 1 : 0;
  if (on_topic >= options_.max_per_topic) {
    return makeError(ErrorKind::kConflict, "topic " + topic + " has " + std::to_string(options_.max_per_topic) +
                                               " webhooks, the most one topic may have; remove one first");
  }
  auto id = newWebhookId();
  if (!id) return id.error();
  if (by_id_.contains(*id)) return makeError(ErrorKind::kConflict, "webhook id collision; try again");
  auto secret = newWebhookSecret();
  if (!secret) return secret.error();
  Webhook hook{*id, std::move(topic), std::move(url), std::move(type), std::move(*secret), "", TimePoint{},
               clock_.wallNow()};
  auto job = [hook](SqliteConnection& db) -> Result<bool> {
    auto insert = db.prepare(
        "INSERT INTO webhooks (id, topic, url, type, secret, previous_secret, previous_until, created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, '', 0, ?6)");
    if (!insert.ok()) return insert.error();
    insert->bindText(1, hook.id).bindText(2, hook.topic).bindText(3, hook.url).bindText(4, hook.type);
    insert->bindText(5, hook.secret).bind(6, toMs(hook.created_at));
    if (auto r = insert->run(); !r.ok()) return r.error();
    return true;
  };
  auto posted = jobs_.post<bool>(std::move(job), [this, hook, done = std::move(done)](Result<bool> stored) mutable {
    if (!stored.ok()) {
      by_id_.erase(hook.id);
      return done(stored.error());
    }
    done(std::move(hook));
  });
  if (!posted.ok()) return posted;
  by_id_.emplace(hook.id, hook);
  return {};
}

Result<void> WebhookStore::remove(const std::string& id, Done<void> done) {
  if (!by_id_.contains(id)) {
    return makeError(ErrorKind::kNotFound, "there is no webhook " + id + " (see `gust webhook ls`)");
  }
  auto posted = jobs_.postWrite(
      [id](SqliteConnection& db) -> Result<void> {
        auto remove = db.prepare("DELETE FROM webhooks WHERE id = ?1");
        if (!remove.ok()) return remove.error();
        remove->bindText(1, id);
        return remove->run();
      },
      std::move(done));
  if (!posted.ok()) return posted;
  by_id_.erase(id);
  return {};
}

Result<void> WebhookStore::rotate(const std::string& id, Done<Webhook> done) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) {
    return makeError(ErrorKind::kNotFound, "there is no webhook " + id + " (see `gust webhook ls`)");
  }
  auto secret = newWebhookSecret();
  if (!secret) return secret.error();
  Webhook rotated = it->second;
  rotated.previous_secret = rotated.secret;
  rotated.previous_until = clock_.wallNow() + kRotationOverlap;
  rotated.secret = std::move(*secret);
  auto job = [rotated](SqliteConnection& db) -> Result<bool> {
    auto update = db.prepare("UPDATE webhooks SET secret = ?2, previous_secret = ?3, previous_until = ?4 WHERE id = ?1");
    if (!update.ok()) return update.error();
    update->bindText(1, rotated.id).bindText(2, rotated.secret).bindText(3, rotated.previous_secret);
    update->bind(4, toMs(rotated.previous_until));
    if (auto r = update->run(); !r.ok()) return r.error();
    return true;
  };
  auto posted = jobs_.post<bool>(std::move(job), [this, before = it->second, rotated,
                                            done = std::move(done)](Result<bool> stored) mutable {
    if (!stored.ok()) {
      // Back to the secret gust.db still holds, unless a later call changed it again.
      auto now = by_id_.find(before.id);
      if (now != by_id_.end() && now->second.secret == rotated.secret) now->second = std::move(before);
      return done(stored.error());
    }
    done(std::move(rotated));
  });
  if (!posted.ok()) return posted;
  // Signs with the new secret from the next delivery on, as the operator was told.
  it->second = std::move(rotated);
  return {};
}

std::vector<Webhook> WebhookStore::list() const {
  std::vector<Webhook> hooks;
  for (const auto& [id, hook] : by_id_) hooks.push_back(hook);
  return hooks;
}

const Webhook* WebhookStore::find(const std::string& id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

}  // namespace gust
