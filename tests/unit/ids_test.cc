#include "runtime/base/ids.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace gust;

TEST_CASE("an id is 32 lower-case hex digits") {
  IdGenerator ids;
  for (int i = 0; i < 200; ++i) {
    std::string id = ids.next();
    REQUIRE(id.size() == 32);
    CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
  }
}

TEST_CASE("ids do not repeat, across batches and across generators") {
  IdGenerator a, b;
  std::set<std::string> seen;
  // Several batches each, so a refill that repeated its bytes would show.
  for (size_t i = 0; i < 5 * IdGenerator::kIdsPerBatch; ++i) {
    CHECK(seen.insert(a.next()).second);
    CHECK(seen.insert(b.next()).second);
  }
}

TEST_CASE("consecutive ids share no prefix that would let one predict the next") {
  // With a counter or a per-process prefix, every id of a run starts alike. With 128
  // random bits, two ids agree on their first 4 hex digits once in 65536 pairs.
  IdGenerator ids;
  std::string first = ids.next();
  int same_prefix = 0;
  for (int i = 0; i < 100; ++i) same_prefix += ids.next().substr(0, 4) == first.substr(0, 4) ? 1 : 0;
  CHECK(same_prefix <= 1);
}
