#include "runtime/store/webhook_store.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "tests/unit/store_test_support.h"

namespace gust {
namespace {

using testing::FakeClock;
using testing::WriterFixture;

class WebhooksFixture {
 public:
  explicit WebhooksFixture(WebhookStoreOptions options = {}) : options_(options) { openStore(); }
  ~WebhooksFixture() {
    fx.closeWriter();
    store_.reset();
  }
  void reopen() {
    fx.closeWriter();
    store_.reset();
    fx.openWriter();
    openStore();
  }
  WebhookStore& store() { return *store_; }

  Result<Webhook> create(const std::string& topic, const std::string& url = "https://example.com/hook",
                         const std::string& type = "") {
    return fx.wait<Webhook>([&](auto done) { return store_->create(topic, url, type, std::move(done)); });
  }
  Result<Webhook> rotate(const std::string& id) {
    return fx.wait<Webhook>([&](auto done) { return store_->rotate(id, std::move(done)); });
  }
  Result<void> remove(const std::string& id) {
    return fx.wait<void>([&](auto done) { return store_->remove(id, std::move(done)); });
  }

  WriterFixture fx;
  FakeClock clock;

 private:
  void openStore() {
    auto store = WebhookStore::open(fx.writer(), clock, options_);
    GUST_REQUIRE_OK(store);
    store_ = std::move(*store);
  }
  WebhookStoreOptions options_;
  std::unique_ptr<WebhookStore> store_;
};

TEST_CASE("a webhook gets an id and a secret, and is kept across a reopen") {
  WebhooksFixture f;
  auto made = f.create("orders", "https://example.com/hook", "order.created");
  GUST_REQUIRE_OK(made);
  CHECK(made->id.starts_with("wh_"));
  CHECK(made->id.size() == 3 + 16);
  CHECK(made->secret.starts_with("whsec_"));
  CHECK(made->type == "order.created");
  CHECK(made->created_at == f.clock.wallNow());
  f.reopen();
  const Webhook* found = f.store().find(made->id);
  REQUIRE(found != nullptr);
  CHECK(found->topic == "orders");
  CHECK(found->url == "https://example.com/hook");
  CHECK(found->secret == made->secret);
  CHECK(found->created_at == made->created_at);
}

TEST_CASE("rotate keeps the old secret for 24 hours, also across a reopen") {
  WebhooksFixture f;
  auto made = f.create("orders");
  GUST_REQUIRE_OK(made);
  auto rotated = f.rotate(made->id);
  GUST_REQUIRE_OK(rotated);
  CHECK(rotated->secret != made->secret);
  CHECK(rotated->previous_secret == made->secret);
  CHECK(rotated->previous_until == f.clock.wallNow() + std::chrono::hours(24));
  f.reopen();
  CHECK(f.store().find(made->id)->secret == rotated->secret);
  CHECK(f.store().find(made->id)->previous_secret == made->secret);
  CHECK(f.rotate("wh_0000000000000000").error().kind == ErrorKind::kNotFound);
}

TEST_CASE("remove deletes a webhook for good; an unknown one is kNotFound") {
  WebhooksFixture f;
  auto made = f.create("orders");
  GUST_REQUIRE_OK(made);
  GUST_REQUIRE_OK(f.remove(made->id));
  CHECK(f.store().find(made->id) == nullptr);
  f.reopen();
  CHECK(f.store().list().empty());
  CHECK(f.remove(made->id).error().kind == ErrorKind::kNotFound);
}

TEST_CASE("webhooks are bounded per topic and in all, and their fields are checked") {
  WebhooksFixture f(WebhookStoreOptions{2, 3});
  GUST_REQUIRE_OK(f.create("a"));
  GUST_REQUIRE_OK(f.create("a"));
  auto third = f.create("a");
  CHECK(third.error().kind == ErrorKind::kConflict);
  CHECK(third.error().message.find("topic a has 2 webhooks") != std::string::npos);
  GUST_REQUIRE_OK(f.create("b"));
  auto fourth = f.create("c");
  CHECK(fourth.error().kind == ErrorKind::kConflict);
  CHECK(fourth.error().message.find("3 webhooks") != std::string::npos);
  CHECK(f.store().list().size() == 3);

  WebhooksFixture g;
  CHECK(g.create("no spaces").error().kind == ErrorKind::kBadInput);
  CHECK(g.create("orders", "").error().kind == ErrorKind::kBadInput);
  CHECK(g.create("orders", "https://e.com/" + std::string(3000, 'a')).error().kind == ErrorKind::kBadInput);
  CHECK(g.create("orders", "https://e.com/", "a type").error().kind == ErrorKind::kBadInput);
  std::set<std::string> ids;
  for (const Webhook& hook : g.store().list()) ids.insert(hook.id);
  CHECK(ids.empty());
}

}  // namespace
}  // namespace gust
