#include "triggers/http/http_trigger.h"

#include <doctest/doctest.h>

namespace gust {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

TEST_CASE("respond-async is found among the preferences of any Prefer field, in any case") {
  CHECK(prefersRespondAsync({{"prefer", "respond-async"}}));
  CHECK(prefersRespondAsync({{"prefer", "Respond-Async"}}));
  CHECK(prefersRespondAsync({{"prefer", "wait=10, respond-async"}}));
  CHECK(prefersRespondAsync({{"prefer", "return=minimal,respond-async ;x=1"}}));
  CHECK(prefersRespondAsync({{"prefer", " \trespond-async\t"}}));
  CHECK(prefersRespondAsync({{"prefer", "wait=1"}, {"prefer", "respond-async"}}));
  CHECK(prefersRespondAsync({{"prefer", "respond-async=yes"}}));  // a value does not change the token
}

TEST_CASE("respond-async is not found where it is only part of a token, a value or another field") {
  CHECK_FALSE(prefersRespondAsync({}));
  CHECK_FALSE(prefersRespondAsync({{"prefer", ""}}));
  CHECK_FALSE(prefersRespondAsync({{"prefer", "respond-asynchronously"}}));
  CHECK_FALSE(prefersRespondAsync({{"prefer", "x-respond-async"}}));
  CHECK_FALSE(prefersRespondAsync({{"prefer", "handling=lenient; respond-async"}}));  // a parameter
  CHECK_FALSE(prefersRespondAsync({{"prefer", "foo=\"a, respond-async\""}}));        // inside quotes
  CHECK_FALSE(prefersRespondAsync({{"x-prefer", "respond-async"}}));
}

}  // namespace
}  // namespace gust
