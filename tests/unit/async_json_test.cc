#include "triggers/http/async_json.h"

#include <doctest/doctest.h>

namespace gust {
namespace {

TEST_CASE("an async invocation's JSON has its state, and its response once done") {
  AsyncInvocation a;
  a.id = "abc";
  a.app = "shop";
  a.function = "checkout";
  a.status = AsyncStatus::kQueued;
  a.created_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
  a.updated_at = a.created_at;
  auto queued = asyncInvocationJson(a);
  CHECK(queued["status"] == "queued");
  CHECK(queued["caller"] == "anonymous");
  CHECK(queued["location"] == "/v1/invocations/abc");
  CHECK(queued["created_at"] == "2023-11-14T22:13:20.123Z");
  CHECK_FALSE(queued.contains("response"));
  CHECK_FALSE(queued.contains("error"));

  a.status = AsyncStatus::kSucceeded;
  a.attempts = 2;
  a.response = AsyncResponse{201, {{"X-A", "1"}}, "made"};
  auto done = asyncInvocationJson(a);
  CHECK(done["attempts"] == 2);
  CHECK(done["response"]["status"] == 201);
  CHECK(done["response"]["headers"] == nlohmann::json::array({{"X-A", "1"}}));
  CHECK(done["response"]["body"] == "made");

  a.response->body = std::string("\x89PNG\x00", 5);
  auto binary = asyncInvocationJson(a);
  CHECK_FALSE(binary["response"].contains("body"));
  CHECK(binary["response"]["body_base64"] == "iVBORwA=");
  CHECK_NOTHROW(binary.dump());
}

}  // namespace
}  // namespace gust
