#pragma once
// The webhooks: external URLs subscribed to a topic (docs/admin-api.md, "Webhooks"). Each
// has an id ("wh_" and 16 hex digits, its subscriber name: the topic's events for it wait in
// the queue "<topic>:<id>"), the URL, an optional event type it takes, and the secret that
// signs its deliveries ("whsec_" and the base64 of 24 random bytes, Standard Webhooks).
//
// Unlike a function key the secret must be kept to sign with, so gust.db holds it (the file
// is 0600, the data dir 0700: docs/security.md); it is shown to the operator once, when it
// is made (create, rotate), and never again. A rotate keeps the secret it replaces for
// kRotationOverlap, during which deliveries carry both signatures, so a receiver can switch
// without refusing anything.
//
// Every webhook is also held in memory; gust.db is read once, at open.
//
// Contract:
// - Owning thread: the writer's loop thread; every call and callback happens there.
// - Borrows the writer and the clock; both outlive it. Close the writer before freeing the
//   store (its completions borrow it).
// - The in-memory set changes when a call is made, not when it commits (a failed create is
//   taken back out).
// - Every call validates first and fails now (kBadInput, kNotFound, kConflict) without
//   calling back; otherwise `done` runs once after the commit (STYLE 4).

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/clock.h"
#include "runtime/base/result.h"
#include "runtime/base/unique_function.h"
#include "runtime/store/sqlite_writer.h"
#include "runtime/store/store_jobs.h"

namespace gust {

struct Webhook {
  std::string id;     // "wh_" + 16 hex digits
  std::string topic;
  std::string url;
  std::string type;   // the ce-type it takes; empty: every event of the topic
  std::string secret;  // "whsec_..."
  // The secret before the last rotate, still signed with until previous_until; empty: none.
  std::string previous_secret;
  std::chrono::system_clock::time_point previous_until;
  std::chrono::system_clock::time_point created_at;
};

struct WebhookStoreOptions {
  size_t max_per_topic = 100;
  size_t max_total = 1000;
};

class WebhookStore {
 public:
  template <typename T>
  using Done = UniqueFunction<void(Result<T>)>;

  static constexpr std::string_view kIdPrefix = "wh_";
  static constexpr std::string_view kSecretPrefix = "whsec_";
  static constexpr size_t kMaxUrlBytes = 2048;
  static constexpr size_t kMaxTypeBytes = 256;
  static constexpr std::chrono::hours kRotationOverlap{24};

  // Creates or migrates the table and loads every webhook (blocking on the writer).
  static Result<std::unique_ptr<WebhookStore>> open(SqliteWriter& writer, const Clock& clock,
                                                    WebhookStoreOptions options = {});
  WebhookStore(const WebhookStore&) = delete;
  WebhookStore& operator=(const WebhookStore&) = delete;

  // A new webhook with a fresh id and secret. The URL is checked by the caller (its address
  // rules belong to the delivery side); here only its size. Past a bound: kConflict.
  Result<void> create(std::string topic, std::string url, std::string type, Done<Webhook> done);
  // Deletes it; kNotFound when there is no such webhook.
  Result<void> remove(const std::string& id, Done<void> done);
  // A new secret; the old one is kept as previous_secret for kRotationOverlap.
  Result<void> rotate(const std::string& id, Done<Webhook> done);

  // Every webhook, by id.
  std::vector<Webhook> list() const;
  // The webhook `id`, or nullptr.
  const Webhook* find(const std::string& id) const;

 private:
  WebhookStore(SqliteWriter& writer, const Clock& clock, WebhookStoreOptions options)
      : jobs_(writer), clock_(clock), options_(options) {}


  StoreJobs jobs_;  // the writer jobs in flight (store_jobs.h)
  const Clock& clock_;
  const WebhookStoreOptions options_;
  std::map<std::string, Webhook> by_id_;
};

// "whsec_" and the base64 of 24 fresh random bytes; kIo when the CSPRNG fails.
Result<std::string> newWebhookSecret();

}  // namespace gust
