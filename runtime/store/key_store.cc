#include "runtime/store/key_store.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cassert>

#include "runtime/base/digest.h"
#include "runtime/base/names.h"
#include "runtime/store/sqlite_schema.h"

namespace gust {
namespace {

using std::chrono::milliseconds;

constexpr size_t kSecretBytes = 32;  // 256 bits: no guessing, whatever the request rate
// "gk_" and the base64url text of kSecretBytes without padding.
constexpr size_t kKeyChars = KeyStore::kKeyPrefix.size() + (kSecretBytes * 4 + 2) / 3;

constexpr Migration kKeyMigrations[] = {
    {1,
     "CREATE TABLE function_keys ("
     "  app TEXT NOT NULL,"
     "  name TEXT NOT NULL,"
     "  function TEXT NOT NULL,"  // empty: every function of the app
     "  digest BLOB NOT NULL UNIQUE,"  // SHA-256 of the key; the key itself is never stored
     "  created_at INTEGER NOT NULL,"
     "  PRIMARY KEY (app, name)"
     ") WITHOUT ROWID;"},
};

int64_t toMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

// "gk_" and base64url (RFC 4648 section 5, no padding) of fresh random bytes; nullopt when
// the system's CSPRNG fails.
std::optional<std::string> newSecret() {
  unsigned char raw[kSecretBytes];
  if (RAND_bytes(raw, sizeof raw) != 1) return std::nullopt;
  unsigned char text[4 * ((kSecretBytes + 2) / 3) + 1];
  int n = EVP_EncodeBlock(text, raw, sizeof raw);
  OPENSSL_cleanse(raw, sizeof raw);
  std::string secret(KeyStore::kKeyPrefix);
  for (int i = 0; i < n && text[i] != '='; ++i) {
    char c = static_cast<char>(text[i]);
    secret += c == '+' ? '-' : c == '/' ? '_' : c;
  }
  OPENSSL_cleanse(text, sizeof text);
  return secret;
}

}  // namespace

Result<std::unique_ptr<KeyStore>> KeyStore::open(SqliteWriter& writer, const Clock& clock, KeyStoreOptions options) {
  if (options.max_keys_per_app == 0) return makeError(ErrorKind::kBadInput, "key store: max_keys_per_app must be at least 1");
  auto loaded = writer.runSync<std::vector<std::pair<std::string, FunctionKey>>>(
      [](SqliteConnection& db) -> Result<std::vector<std::pair<std::string, FunctionKey>>> {
        if (auto r = migrateSchema(db, "keys", kKeyMigrations); !r.ok()) return r.error();
        auto select = db.prepare("SELECT app, name, function, digest, created_at FROM function_keys");
        if (!select.ok()) return select.error();
        std::vector<std::pair<std::string, FunctionKey>> keys;
        for (;;) {
          auto row = select->step();
          if (!row.ok()) return row.error();
          if (!*row) break;
          FunctionKey key{select->text(0), select->text(1), select->text(2),
                          std::chrono::system_clock::time_point(milliseconds(select->integer(4)))};
          keys.emplace_back(select->blob(3), std::move(key));
        }
        return keys;
      });
  if (!loaded.ok()) return loaded.error();
  std::unique_ptr<KeyStore> store(new KeyStore(writer, clock, options));
  for (auto& [digest, key] : *loaded) {
    store->by_name_[{key.app, key.name}] = digest;
    store->by_digest_.emplace(std::move(digest), std::move(key));
  }
  return store;
}



size_t KeyStore::countOf(const std::string& app) const {
  size_t n = 0;
  for (auto it = by_name_.lower_bound({app, ""}); it != by_name_.end() && it->first.first == app; ++it) ++n;
  return n;
}

std::string KeyStore::freeName(const std::string& app) const {
  for (size_t n = 1;; ++n) {
    std::string name = "key-" + std::to_string(n);
    if (!by_name_.contains({app, name})) return name;
  }
}

void KeyStore::forget(const std::string& app, const std::string& name) {
  auto it = by_name_.find({app, name});
  if (it == by_name_.end()) return;
  by_digest_.erase(it->second);
  by_name_.erase(it);
}

Result<void> KeyStore::create(const std::string& app, const std::string& function, std::string name,
                              Done<CreatedKey> done) {
  if (auto valid = validateAppName(app); !valid) return valid;
  if (!function.empty()) {
    if (auto valid = validateFunctionName(function); !valid) return valid;
  }
  if (name.empty()) name = freeName(app);
  if (auto valid = validateKeyName(name); !valid) return valid;
  if (by_name_.contains({app, name})) {
    return makeError(ErrorKind::kConflict, "app " + app + " already has a key named " + name +
                                               "; choose another name, or revoke that key first");
  }
  if (countOf(app) >= options_.max_keys_per_app) {
    return makeError(ErrorKind::kConflict, "app " + app + " has " + std::to_string(options_.max_keys_per_app) +
                                               " keys, the most it may have; revoke one it no longer needs");
  }
  auto secret = newSecret();
  if (!secret) return makeError(ErrorKind::kIo, "the system's random number generator failed; no key was made");
  assert(secret->size() == kKeyChars);
  std::string digest = sha256_.digest(*secret);
  FunctionKey key{app, name, function, clock_.wallNow()};
  auto job = [key, digest](SqliteConnection& db) -> Result<bool> {
    auto insert = db.prepare(
        "INSERT INTO function_keys (app, name, function, digest, created_at) VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!insert.ok()) return insert.error();
    insert->bindText(1, key.app).bindText(2, key.name).bindText(3, key.function).bindBlob(4, digest);
    insert->bind(5, toMs(key.created_at));
    if (auto r = insert->run(); !r.ok()) return r.error();
    return true;
  };
  auto posted = jobs_.post<bool>(std::move(job), [this, key, digest, secret = std::move(*secret),
                                            done = std::move(done)](Result<bool> stored) mutable {
    if (!stored.ok()) {
      // Only if it is still this key: a revoke may have come first.
      auto it = by_name_.find({key.app, key.name});
      if (it != by_name_.end() && it->second == digest) forget(key.app, key.name);
      return done(stored.error());
    }
    done(CreatedKey{std::move(key), std::move(secret)});
  });
  if (!posted.ok()) return posted;
  // Known from now on, so that a second create with this name is refused at once.
  by_name_[{app, name}] = digest;
  by_digest_.emplace(digest, std::move(key));
  return {};
}

Result<void> KeyStore::revoke(const std::string& app, const std::string& name, Done<void> done) {
  if (!by_name_.contains({app, name})) {
    return makeError(ErrorKind::kNotFound, "app " + app + " has no key named " + name + " (see `gust keys ls " + app + "`)");
  }
  auto posted = jobs_.postWrite(
      [app, name](SqliteConnection& db) -> Result<void> {
        auto remove = db.prepare("DELETE FROM function_keys WHERE app = ?1 AND name = ?2");
        if (!remove.ok()) return remove.error();
        remove->bindText(1, app).bindText(2, name);
        return remove->run();
      },
      std::move(done));
  if (!posted.ok()) return posted;
  // Refused from the next request on, without waiting for the commit.
  forget(app, name);
  return {};
}

Result<void> KeyStore::removeApp(const std::string& app, Done<size_t> done) {
  size_t count = countOf(app);
  auto job = [app](SqliteConnection& db) -> Result<bool> {
    auto remove = db.prepare("DELETE FROM function_keys WHERE app = ?1");
    if (!remove.ok()) return remove.error();
    remove->bindText(1, app);
    if (auto r = remove->run(); !r.ok()) return r.error();
    return true;
  };
  auto posted = jobs_.post<bool>(std::move(job), [count, done = std::move(done)](Result<bool> removed) mutable {
    if (!removed.ok()) return done(removed.error());
    done(count);
  });
  if (!posted.ok()) return posted;
  for (const FunctionKey& key : list(app)) forget(key.app, key.name);
  return {};
}

std::vector<FunctionKey> KeyStore::list(const std::string& app) const {
  std::vector<FunctionKey> keys;
  for (auto it = by_name_.lower_bound({app, ""}); it != by_name_.end() && it->first.first == app; ++it) {
    keys.push_back(by_digest_.at(it->second));
  }
  return keys;
}

const FunctionKey* KeyStore::find(std::string_view presented) const {
  if (presented.size() != kKeyChars || !presented.starts_with(kKeyPrefix)) return nullptr;
  std::string digest = sha256_.digest(presented);
  auto it = by_digest_.find(digest);
  if (it == by_digest_.end() || !constantTimeEquals(it->first, digest)) return nullptr;
  return &it->second;
}

}  // namespace gust
