#include "runtime/cli/queue_message.h"

#include <doctest/doctest.h>

#include "tests/unit/cli_test_support.h"

using namespace gust::cli;

namespace {

std::string header(const QueueSendRequest& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? "<absent>" : it->second;
}

}  // namespace

TEST_CASE("queue send flags become the body and the Gust-* headers") {
  QueueSendFlags flags;
  flags.data = R"({"order": 42})";
  flags.id = "order-42";
  flags.delay = "1m30s";
  flags.headers = {"Content-Type=application/json", "tenant=acme=corp"};
  auto r = makeQueueSend(flags);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  CHECK(r->body == R"({"order": 42})");
  CHECK(header(*r, "Gust-Message-Id") == "order-42");
  CHECK(header(*r, "Gust-Delay") == "1m30s");
  CHECK(header(*r, "Gust-Header-Content-Type") == "application/json");
  CHECK(header(*r, "Gust-Header-tenant") == "acme=corp");  // only the first '=' splits
}

TEST_CASE("a message without flags sends only its body") {
  QueueSendFlags flags;
  flags.data = "plain";
  auto r = makeQueueSend(flags);
  REQUIRE(r.ok());
  CHECK(r->headers.empty());
}

TEST_CASE("--data @FILE reads the file whole, binary included") {
  gust::test::TempDir tmp;
  std::string bytes("a\0b\r\nc", 6);
  gust::test::writeFile(tmp.path() / "msg.bin", bytes);
  QueueSendFlags flags;
  flags.data = "@" + (tmp.path() / "msg.bin").string();
  auto r = makeQueueSend(flags);
  REQUIRE(r.ok());
  CHECK(r->body == bytes);
  flags.data = "@" + (tmp.path() / "nope").string();
  auto missing = makeQueueSend(flags);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("nope") != std::string::npos);
}

TEST_CASE("bad flags are refused, each naming its flag") {
  auto refuse = [](QueueSendFlags flags, const std::string& needle) {
    auto r = makeQueueSend(flags);
    REQUIRE_FALSE(r.ok());
    CHECK_MESSAGE(r.error().message.find(needle) != std::string::npos, r.error().message);
  };
  QueueSendFlags base;
  base.data = "x";
  auto with = [&](auto change) {
    QueueSendFlags f = base;
    change(f);
    return f;
  };
  refuse(with([](QueueSendFlags& f) { f.delay = "30"; }), "--delay");
  refuse(with([](QueueSendFlags& f) { f.delay = "8d"; }), "--delay");
  refuse(with([](QueueSendFlags& f) { f.delay = "169h"; }), "7 days");
  refuse(with([](QueueSendFlags& f) { f.id = ""; }), "--id");
  refuse(with([](QueueSendFlags& f) { f.id = std::string(257, 'x'); }), "--id");
  refuse(with([](QueueSendFlags& f) { f.id = "a\nb"; }), "--id");
  refuse(with([](QueueSendFlags& f) { f.headers = {"novalue"}; }), "NAME=VALUE");
  refuse(with([](QueueSendFlags& f) { f.headers = {"=v"}; }), "NAME=VALUE");
  refuse(with([](QueueSendFlags& f) { f.headers = {"bad name=v"}; }), "NAME=VALUE");
  refuse(with([](QueueSendFlags& f) { f.headers = {"k=a\r\nInjected: 1"}; }), "control characters");
  refuse(with([](QueueSendFlags& f) { f.headers.assign(65, "k=v"); }), "64");
  CHECK(makeQueueSend(with([](QueueSendFlags& f) { f.headers.assign(64, "k=v"); })).ok());
}
