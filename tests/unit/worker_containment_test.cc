#include <doctest/doctest.h>

#include <string>

#include "runtime/exec/app_uids.h"
#include "runtime/exec/worker_process.h"

using namespace gust;

TEST_CASE("a worker uid range is FIRST-LAST, not empty, without root, and bounded") {
  auto range = parseUidRange("200000-265535");
  REQUIRE(range);
  CHECK(range->first == 200000);
  CHECK(range->last == 265535);
  auto one = parseUidRange("7-7");
  REQUIRE(one);
  CHECK(one->first == one->last);
  struct Bad {
    const char* text;
    const char* why;
  };
  for (auto [text, why] : {Bad{"", "two whole numbers"}, Bad{"200000", "two whole numbers"},
                           Bad{"1-x", "two whole numbers"}, Bad{"-5", "two whole numbers"},
                           Bad{"10-4294967295", "two whole numbers"}, Bad{"9-8", "empty"},
                           Bad{"0-100", "contains 0"}, Bad{"1-2000000", "more than"}}) {
    auto r = parseUidRange(text);
    REQUIRE_FALSE_MESSAGE(r, text);
    CHECK_MESSAGE(r.error().message.find(why) != std::string::npos, r.error().message);
    CHECK(r.error().message.find("FIRST-LAST") != std::string::npos);
  }
}

TEST_CASE("each app gets the lowest free uid, keeps it until released, and never shares it") {
  AppUids uids(UidRange{100, 102});
  CHECK(*uids.acquire("a") == 100);
  CHECK(*uids.acquire("b") == 101);
  CHECK(*uids.acquire("a") == 100);  // a redeploy keeps it
  CHECK(*uids.acquire("c") == 102);
  auto full = uids.acquire("d");
  REQUIRE_FALSE(full);
  CHECK(full.error().message.find("worker_uids") != std::string::npos);
  uids.release("b");
  uids.release("nobody-had-it");
  CHECK(*uids.acquire("d") == 101);  // the freed one, the lowest free
  uids.release("a");
  CHECK(*uids.acquire("e") == 100);
  CHECK(*uids.acquire("d") == 101);
}

TEST_CASE("the containment of workers is described in one line") {
  WorkerContainment root;
  root.drop_user = true;
  root.uid = 200003;
  CHECK(root.describe() == "namespaces: pid, mount; uid 200003; seccomp");
  WorkerContainment unprivileged;
  unprivileged.user_namespace = true;
  CHECK(unprivileged.describe() == "namespaces: pid, mount, user; the host's uid, no capabilities; seccomp");
  WorkerContainment bare;
  bare.namespaces = false;
  CHECK(bare.describe() == "no namespaces; the host's uid; seccomp");
}
