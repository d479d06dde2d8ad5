#include "runtime/base/names.h"

#include <doctest/doctest.h>

#include <string>

using namespace gust;

namespace {

std::string errorOf(const Result<void>& r) {
  REQUIRE_FALSE(r);
  return r.error().message;
}

}  // namespace

TEST_CASE("app names of lower-case letters, digits, dash and underscore are accepted") {
  for (const char* good : {"a", "hello", "a-b_c9", "x1", "orders-v2"}) CHECK_MESSAGE(validateAppName(good), good);
  CHECK(validateAppName(std::string(kMaxAppNameLength, 'a')));
}

TEST_CASE("each bad app name is refused with what was wrong and what is allowed") {
  CHECK(errorOf(validateAppName("")) ==
        "the app name is empty; use 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter");
  CHECK(errorOf(validateAppName(std::string(64, 'a'))).find("64 characters long, more than 63") != std::string::npos);
  CHECK(errorOf(validateAppName("a/b")) ==
        "\"a/b\" is not a valid app name: it contains a path separator; use 1 to 63 lower-case letters, digits, '-' "
        "or '_', starting with a letter");
  CHECK(errorOf(validateAppName("a\\b")).find("path separator") != std::string::npos);
  CHECK(errorOf(validateAppName("..")).find("contains \"..\"") != std::string::npos);
  CHECK(errorOf(validateAppName("a..b")).find("contains \"..\"") != std::string::npos);
  CHECK(errorOf(validateAppName(".hidden")).find("starts with '.'") != std::string::npos);
  CHECK(errorOf(validateAppName("-rf")).find("starts with '-'") != std::string::npos);
  CHECK(errorOf(validateAppName("_x")).find("starts with '_'") != std::string::npos);
  CHECK(errorOf(validateAppName("9a")).find("starts with '9'") != std::string::npos);
  CHECK(errorOf(validateAppName("Hello")).find("'H' at position 1 is not allowed") != std::string::npos);
  CHECK(errorOf(validateAppName("a b")).find("' ' at position 2 is not allowed") != std::string::npos);
  CHECK(errorOf(validateAppName("a.b")).find("'.' at position 2 is not allowed") != std::string::npos);
}

TEST_CASE("control characters and non-ASCII bytes are named and shown escaped") {
  CHECK(errorOf(validateAppName("a\nb")) ==
        "\"a\\x0ab\" is not a valid app name: the control character 0x0a at position 2 is not allowed; use 1 to 63 "
        "lower-case letters, digits, '-' or '_', starting with a letter");
  CHECK(errorOf(validateAppName(std::string("a\0b", 3))).find("control character 0x00 at position 2") !=
        std::string::npos);
  CHECK(errorOf(validateAppName("caf\xc3\xa9")).find("non-ASCII byte 0xc3 at position 4") != std::string::npos);
  CHECK(errorOf(validateAppName("a\x1b[31m")).find("\\x1b") != std::string::npos);
}

TEST_CASE("a very long bad name is cut short in the message") {
  std::string message = errorOf(validateAppName(std::string(5000, 'Z')));
  CHECK(message.size() < 300);
  CHECK(message.find("...") != std::string::npos);
}

TEST_CASE("function names are C identifiers, because they become exported symbols") {
  for (const char* good : {"f", "hello", "Hello_World", "_private", "fn2"}) CHECK_MESSAGE(validateFunctionName(good), good);
  CHECK(validateFunctionName(std::string(kMaxFunctionNameLength, 'f')));
  CHECK(errorOf(validateFunctionName("9f")).find("not a valid function name: it starts with '9'") != std::string::npos);
  CHECK(errorOf(validateFunctionName("a-b")).find("'-' at position 2") != std::string::npos);
  CHECK(errorOf(validateFunctionName(std::string(65, 'f'))).find("more than 64") != std::string::npos);
  CHECK(errorOf(validateFunctionName("")).find("the function name is empty; use a C identifier") == 0);
  CHECK(errorOf(validateFunctionName("../x")).find("path separator") != std::string::npos);
}

TEST_CASE("queue names leave the .dead suffix to dead-letter queues") {
  CHECK(validateQueueName("orders"));
  CHECK(validateQueueName("orders_v2-eu"));
  CHECK(validateQueueName("ship.v2"));
  CHECK(errorOf(validateQueueName("orders.dead")).find("names a dead-letter queue") != std::string::npos);
  CHECK(errorOf(validateQueueName(".orders")).find("starts with") != std::string::npos);
  CHECK(errorOf(validateQueueName("")).find("the queue name is empty") == 0);
  CHECK(errorOf(validateQueueName(std::string(101, 'q'))).find("more than 100") != std::string::npos);
}

TEST_CASE("versions are v followed by a number without leading zeros") {
  CHECK(validateVersionName("v1"));
  CHECK(validateVersionName("v27"));
  CHECK(versionNumber("v27") == 27u);
  CHECK(versionNumber("v18446744073709551615") == UINT64_MAX);
  CHECK_FALSE(versionNumber("v18446744073709551616"));  // one past the largest: overflow refused
  CHECK(versionName(27) == "v27");
  for (const char* bad : {"", "v", "v0", "v01", "1", "V1", "v1a", "v-1", "v1/../v2", "latest"}) {
    CHECK_MESSAGE(!validateVersionName(bad), bad);
    CHECK_FALSE(versionNumber(bad));
  }
  CHECK(errorOf(validateVersionName("latest")) ==
        "\"latest\" is not a valid version; versions are named v1, v2, v3 ... in the order they were deployed (see "
        "the app's version list)");
}

TEST_CASE("key names are letters, digits, dash and underscore, and a bad one says why") {
  for (const char* good : {"ci", "Deploy-Bot_2", "7days"}) CHECK_MESSAGE(validateKeyName(good), good);
  CHECK(errorOf(validateKeyName("")) == "the key name is empty; use 1 to 63 letters, digits, '-' or '_', starting "
                                       "with a letter or digit");
  CHECK(errorOf(validateKeyName("a b")).find("' ' at position 2 is not allowed") != std::string::npos);
  CHECK(errorOf(validateKeyName("_x")).find("it starts with '_'") != std::string::npos);
  CHECK_FALSE(validateKeyName(std::string(64, 'k')));
}
