#pragma once
// Function keys: the secrets a caller sends to call a function whose manifest says
// `"auth": "key"` (docs/security.md, "Function keys"). A key is "gk_" and 32 random bytes
// in base64url; gust.db keeps only its SHA-256, with the key's app, name, function scope
// and creation time, so a copy of the database lets no one call a function. The key itself
// is shown once, by create().
//
// Every key is also held in memory, by digest, so checking a request costs one SHA-256 and
// one hash-table lookup, with no database read. A lookup by digest leaks, through its
// timing, at most something about a digest, from which no key can be made; the digest found
// is then compared with CRYPTO_memcmp.
//
// Contract:
// - Owning thread: the writer's loop thread; every call and callback happens there.
// - Borrows the writer and the clock; both outlive it. Close the writer before freeing the
//   store (its jobs borrow nothing of it, but its completions do).
// - The in-memory set changes when a call is made, not when it commits: a revoked key is
//   refused from the next request on; a created key works once its `done` reports success
//   (a failed write takes it back out).
// - Every call validates first and fails now (kBadInput, kNotFound, kConflict)
//   without calling back; otherwise `done` runs once after the commit (STYLE 4).

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime/base/clock.h"
#include "runtime/base/digest.h"
#include "runtime/base/result.h"
#include "runtime/base/unique_function.h"
#include "runtime/store/sqlite_writer.h"
#include "runtime/store/store_jobs.h"

namespace gust {

// What is known of a key: everything but the key.
struct FunctionKey {
  std::string app;
  std::string name;      // unique within the app
  std::string function;  // empty: every function of the app
  std::chrono::system_clock::time_point created_at;

  bool allows(std::string_view app_name, std::string_view function_name) const {
    return app == app_name && (function.empty() || function == function_name);
  }
};

struct CreatedKey {
  FunctionKey key;
  std::string secret;  // "gk_..." — shown to the operator once, never stored
};

struct KeyStoreOptions {
  size_t max_keys_per_app = 100;
};

class KeyStore {
 public:
  template <typename T>
  using Done = UniqueFunction<void(Result<T>)>;

  static constexpr std::string_view kKeyPrefix = "gk_";

  // Creates or migrates the table and loads every key (blocking on the writer).
  static Result<std::unique_ptr<KeyStore>> open(SqliteWriter& writer, const Clock& clock, KeyStoreOptions options = {});
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  // A new key for `app`, for every function (`function` empty) or one. An empty `name`
  // becomes "key-N", the lowest N free. A name the app has already, or a key past
  // max_keys_per_app, is kConflict.
  Result<void> create(const std::string& app, const std::string& function, std::string name, Done<CreatedKey> done);
  // Refuses the key from now on and deletes it; kNotFound when the app has no such key.
  Result<void> revoke(const std::string& app, const std::string& name, Done<void> done);
  // Revokes every key of `app` (`gust rm`); answers how many there were.
  Result<void> removeApp(const std::string& app, Done<size_t> done);

  // The app's keys, by name.
  std::vector<FunctionKey> list(const std::string& app) const;
  // The key `presented` is, or nullptr: unknown, revoked, or not of the key form.
  const FunctionKey* find(std::string_view presented) const;

 private:
  KeyStore(SqliteWriter& writer, const Clock& clock, KeyStoreOptions options)
      : jobs_(writer), clock_(clock), options_(options) {}

  std::string freeName(const std::string& app) const;
  size_t countOf(const std::string& app) const;
  void forget(const std::string& app, const std::string& name);

  StoreJobs jobs_;  // the writer jobs in flight (store_jobs.h)
  const Clock& clock_;
  const KeyStoreOptions options_;
  mutable Sha256 sha256_;  // find() is const to its callers; loop thread only
  std::unordered_map<std::string, FunctionKey> by_digest_;           // SHA-256 of the key -> key
  std::map<std::pair<std::string, std::string>, std::string> by_name_;  // (app, name) -> digest
};

}  // namespace gust
