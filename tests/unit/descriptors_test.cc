#include <doctest/doctest.h>

#include <sys/resource.h>

#include <string>

#include "runtime/host/descriptors.h"

namespace gust {

TEST_CASE("the default keeps a quarter of the descriptors, and at least 64, out of the public listener's reach") {
  auto small = planDescriptors(256, 0);
  REQUIRE(small);
  CHECK(small->limit == 256);
  CHECK(small->reserve == 64);
  CHECK(small->public_connections == 192);
  CHECK(small->admin_connections == 16);  // a quarter of the reserve per admin listener

  auto tiny = planDescriptors(100, 0);
  REQUIRE(tiny);
  CHECK(tiny->reserve == 64);  // the floor, not a quarter
  CHECK(tiny->public_connections == 36);

  auto large = planDescriptors(1 << 20, 0);
  REQUIRE(large);
  CHECK(large->reserve == (1 << 18));
  CHECK(large->public_connections == (1 << 20) - (1 << 18));
  CHECK(large->admin_connections == kMaxAdminConnections);
}

TEST_CASE("an asked-for connection cap is kept when it leaves at least 64 descriptors in reserve") {
  auto exact = planDescriptors(256, 192);
  REQUIRE(exact);
  CHECK(exact->public_connections == 192);
  CHECK(exact->reserve == 64);

  auto most = planDescriptors(1024, 960);
  REQUIRE(most);
  CHECK(most->reserve == 64);
  CHECK(most->admin_connections == 16);

  auto few = planDescriptors(1024, 10);
  REQUIRE(few);
  CHECK(few->public_connections == 10);
  CHECK(few->reserve == 1014);
  CHECK(few->admin_connections == kMaxAdminConnections);
}

TEST_CASE("a cap that leaves less than 64 in reserve is refused with the largest one that fits") {
  auto refused = planDescriptors(256, 193);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == ErrorKind::kBadInput);
  const std::string& message = refused.error().message;
  CHECK_MESSAGE(message.find("use at most 192") != std::string::npos, message);
  CHECK_MESSAGE(message.find("ulimit -n") != std::string::npos, message);
  CHECK_FALSE(planDescriptors(256, 100000));
}

TEST_CASE("a descriptor limit that leaves nothing for connections is refused") {
  auto refused = planDescriptors(64, 0);
  REQUIRE_FALSE(refused);
  CHECK_MESSAGE(refused.error().message.find("the descriptor limit is 64") != std::string::npos,
                refused.error().message);
  CHECK_FALSE(planDescriptors(0, 0));
  CHECK(planDescriptors(65, 0));
}

TEST_CASE("the soft descriptor limit is raised to the hard one and both are reported") {
  rlimit before{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &before) == 0);
  // Lowered first, so the raise has something to do (lowering the soft limit is always allowed).
  rlimit lowered{before.rlim_max == RLIM_INFINITY || before.rlim_max > 128 ? 128 : before.rlim_max, before.rlim_max};
  REQUIRE(setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  DescriptorLimit limit = raiseDescriptorLimit();
  CHECK(limit.soft_before == lowered.rlim_cur);
  CHECK(limit.hard == before.rlim_max);
  rlimit after{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &after) == 0);
  CHECK(after.rlim_cur == limit.soft);
  if (before.rlim_max != RLIM_INFINITY) CHECK(limit.soft == before.rlim_max);
  CHECK(after.rlim_max == before.rlim_max);
}

}  // namespace gust
