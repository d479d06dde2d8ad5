#include "runtime/store/key_store.h"

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "runtime/base/digest.h"
#include "tests/unit/store_test_support.h"

namespace gust {
namespace {

using testing::FakeClock;
using testing::WriterFixture;

class KeysFixture {
 public:
  explicit KeysFixture(KeyStoreOptions options = {}) : options_(options) { openStore(); }
  ~KeysFixture() {
    fx.closeWriter();
    store_.reset();
  }
  void reopen() {
    fx.closeWriter();
    store_.reset();
    fx.openWriter();
    openStore();
  }
  KeyStore& store() { return *store_; }

  CreatedKey create(const std::string& app, const std::string& function = "", const std::string& name = "") {
    auto r = createResult(app, function, name);
    GUST_REQUIRE_OK(r);
    return std::move(*r);
  }
  Result<CreatedKey> createResult(const std::string& app, const std::string& function, const std::string& name) {
    return fx.wait<CreatedKey>([&](auto done) { return store_->create(app, function, name, std::move(done)); });
  }
  Result<void> revoke(const std::string& app, const std::string& name) {
    return fx.wait<void>([&](auto done) { return store_->revoke(app, name, std::move(done)); });
  }

  WriterFixture fx;
  FakeClock clock;

 private:
  void openStore() {
    auto store = KeyStore::open(fx.writer(), clock, options_);
    GUST_REQUIRE_OK(store);
    store_ = std::move(*store);
  }
  KeyStoreOptions options_;
  std::unique_ptr<KeyStore> store_;
};

// Every byte of gust.db, to show what is (not) in it.
std::string fileBytes(const std::filesystem::path& path) {
  std::string all;
  for (const auto& name : {path.string(), path.string() + "-wal"}) {
    std::ifstream in(name, std::ios::binary);
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return all;
}

TEST_CASE("a new key is gk_ and 43 base64url characters, and it is found by itself only") {
  KeysFixture k;
  CreatedKey a = k.create("shop");
  CHECK(a.secret.size() == 46);
  CHECK(a.secret.starts_with("gk_"));
  CHECK(a.secret.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 3) ==
        std::string::npos);
  CHECK(a.key.name == "key-1");
  CHECK(a.key.created_at == k.clock.wallNow());
  const FunctionKey* found = k.store().find(a.secret);
  REQUIRE(found != nullptr);
  CHECK(found->app == "shop");
  CHECK(found->name == "key-1");

  std::string wrong = a.secret;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  CHECK(k.store().find(wrong) == nullptr);
  CHECK(k.store().find("") == nullptr);
  CHECK(k.store().find(a.secret + "x") == nullptr);
  CHECK(k.store().find("Bearer " + a.secret) == nullptr);
}

TEST_CASE("only the digest is stored, and keys survive a restart") {
  KeysFixture k;
  CreatedKey a = k.create("shop", "checkout", "ci");
  k.reopen();
  const FunctionKey* found = k.store().find(a.secret);
  REQUIRE(found != nullptr);
  CHECK(found->function == "checkout");
  CHECK(found->allows("shop", "checkout"));
  CHECK_FALSE(found->allows("shop", "refund"));
  CHECK_FALSE(found->allows("other", "checkout"));
  k.fx.closeWriter();
  std::string bytes = fileBytes(k.fx.dbPath());
  CHECK(bytes.find(a.secret.substr(3)) == std::string::npos);
  CHECK(bytes.find(sha256(a.secret)) != std::string::npos);
}

TEST_CASE("a revoked key is refused at once, before its deletion commits, and stays gone") {
  KeysFixture k;
  CreatedKey a = k.create("shop", "", "ci");
  CreatedKey b = k.create("shop", "", "other");
  {
    testing::WriterHold hold(k.fx.writer());
    bool revoked = false;
    REQUIRE(k.store().revoke("shop", "ci", [&revoked](Result<void> r) { revoked = r.ok(); }).ok());
    CHECK(k.store().find(a.secret) == nullptr);
    hold.release();
    REQUIRE(test::runLoopUntil(k.fx.loop(), "the revoke to commit", [&revoked] { return revoked; }));
  }
  CHECK(k.store().find(b.secret) != nullptr);
  k.reopen();
  CHECK(k.store().find(a.secret) == nullptr);
  CHECK(k.store().find(b.secret) != nullptr);
  auto again = k.store().revoke("shop", "ci", nullptr);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().kind == ErrorKind::kNotFound);
}

TEST_CASE("names are unique per app, default to the lowest free key-N, and are validated") {
  KeysFixture k;
  CHECK(k.create("shop").key.name == "key-1");
  CHECK(k.create("shop").key.name == "key-2");
  GUST_REQUIRE_OK(k.revoke("shop", "key-1"));
  CHECK(k.create("shop").key.name == "key-1");
  CHECK(k.create("blog").key.name == "key-1");
  auto twice = k.store().create("shop", "", "key-2", nullptr);
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().kind == ErrorKind::kConflict);
  CHECK(twice.error().message == "app shop already has a key named key-2; choose another name, or revoke that key "
                                 "first");
  CHECK_FALSE(k.store().create("shop", "", "bad name", nullptr).ok());
  CHECK_FALSE(k.store().create("Shop", "", "", nullptr).ok());
  CHECK_FALSE(k.store().create("shop", "not-an-identifier", "", nullptr).ok());
}

TEST_CASE("an app holds at most max_keys_per_app keys") {
  KeyStoreOptions options;
  options.max_keys_per_app = 3;
  KeysFixture k(options);
  for (int i = 0; i < 3; ++i) k.create("shop");
  auto full = k.store().create("shop", "", "", nullptr);
  REQUIRE_FALSE(full.ok());
  CHECK(full.error().kind == ErrorKind::kConflict);
  CHECK(k.create("blog").key.name == "key-1");  // another app's bound is its own
}

TEST_CASE("list shows names, scopes and times by name, and removeApp revokes every key of the app") {
  KeysFixture k;
  CreatedKey b = k.create("shop", "", "b");
  CreatedKey a = k.create("shop", "checkout", "a");
  CreatedKey other = k.create("blog", "", "a");
  auto keys = k.store().list("shop");
  REQUIRE(keys.size() == 2);
  CHECK(keys[0].name == "a");
  CHECK(keys[0].function == "checkout");
  CHECK(keys[1].name == "b");
  auto removed = k.fx.wait<size_t>([&](auto done) { return k.store().removeApp("shop", std::move(done)); });
  GUST_REQUIRE_OK(removed);
  CHECK(*removed == 2);
  CHECK(k.store().list("shop").empty());
  CHECK(k.store().find(a.secret) == nullptr);
  CHECK(k.store().find(b.secret) == nullptr);
  CHECK(k.store().find(other.secret) != nullptr);
  k.reopen();
  CHECK(k.store().list("shop").empty());
  CHECK(k.store().list("blog").size() == 1);
}

}  // namespace
}  // namespace gust
