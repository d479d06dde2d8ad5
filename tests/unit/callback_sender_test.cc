#include "triggers/http/callback_sender.h"

#include <doctest/doctest.h>
#include <httplib.h>

#include <mutex>
#include <thread>

#include "tests/support/manual_clock.h"
#include "tests/support/server_thread.h"
#include "tests/support/wait_for.h"

namespace gust {
namespace {

using namespace std::chrono_literals;
using gust::test::ManualClock;

#define REQUIRE_SENT(result)                   \
  do {                                         \
    auto sent_ = (result);                     \
    INFO(std::string(sent_.ok() ? "" : sent_.error().message)); \
    REQUIRE(sent_.ok());                       \
  } while (0)

TEST_CASE("a callback URL must be a plain http URL to a host that is not link-local") {
  CHECK(checkCallbackUrl("http://example.com/done?x=1", 2048).ok());
  CHECK(checkCallbackUrl("HTTP://127.0.0.1:9000", 2048).ok());
  CHECK(checkCallbackUrl("http://[::1]:8080/cb", 2048).ok());
  auto refused = [](std::string_view url, std::string_view says) {
    CAPTURE(url);
    auto r = checkCallbackUrl(url, 64);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::kBadInput);
    CHECK(r.error().message.find(says) != std::string::npos);
  };
  refused("ftp://example.com/", "http://");
  refused("example.com/", "http://");
  refused("http://", "no host");
  refused("http://:80/", "no host");
  refused("http://a b/", "space");
  refused("http://example.com/\r\nX: y", "control");
  refused("http://user:pw@example.com/", "user info");
  refused("http://example.com/#frag", "fragment");
  refused("http://example.com:99999/", "port");
  refused("http://example.com:/", "port");
  refused("http://example.com:0/", "port");
  refused("http://[::1]:x/", "port");
  refused("http://169.254.169.254/latest/meta-data", "169.254.0.0/16");
  refused("http://[fe80::1]/", "fe80::/10");
  refused("http://[::1/", "unterminated");
  refused("http://example.com/" + std::string(64, 'a'), "longer than 64 bytes");
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
  refused("https://example.com/", "without TLS");
#endif
}

// A real HTTP server that answers each POST with the status `status_for(n)` gives it.
class Receiver {
 public:
  explicit Receiver(std::function<int(int)> status_for) : status_for_(std::move(status_for)) {
    http_.server().Post(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      hits_.push_back(req.path + "?" + req.get_param_value("q") + " " + req.body + " " +
                      req.get_header_value("Content-Type"));
      res.status = status_for_(static_cast<int>(hits_.size()));
    });
    http_.start();
  }
  std::string url(const std::string& path) const { return http_.url() + path; }
  std::vector<std::string> hits() {
    std::lock_guard lock(mutex_);
    return hits_;
  }

 private:
  std::function<int(int)> status_for_;
  std::mutex mutex_;
  std::vector<std::string> hits_;
  test::ServerThread http_;  // last: stopped before what its handler uses is destroyed
};

CallbackSenderOptions fast() {
  CallbackSenderOptions o;
  o.first_backoff = 20ms;
  o.connect_timeout = 500ms;
  o.read_timeout = 500ms;
  return o;
}

TEST_CASE("a callback is POSTed as JSON to the URL's path and query") {
  Receiver receiver([](int) { return 204; });
  SystemClock clock;
  CallbackSender sender(clock, fast());
  REQUIRE_SENT(sender.send(receiver.url("/hook?q=7"), R"({"id":"x"})"));
  test::waitFor("the callback to be delivered", [&] { return sender.delivered() == 1; }, 5s);
  CHECK(receiver.hits() == std::vector<std::string>{R"(/hook?7 {"id":"x"} application/json)"});
}

TEST_CASE("a failing receiver is retried with backoff by the clock until it accepts, and a 4xx ends the delivery") {
  Receiver receiver([](int n) { return n <= 2 ? 503 : (n == 3 ? 200 : 404); });
  ManualClock clock;
  auto options = fast();
  options.first_backoff = 10s;  // far longer than the test runs: only the clock gets there
  CallbackSender sender(clock, options);
  REQUIRE_SENT(sender.send(receiver.url("/a"), "{}"));
  test::waitFor("the first attempt to fail and its retry to wait",
                [&] { return receiver.hits().size() == 1 && sender.queued() == 1; }, 5s);
  clock.advance(9999ms);
  sender.tick();
  std::this_thread::sleep_for(50ms);  // time enough to post, were it due
  CHECK(receiver.hits().size() == 1);
  clock.advance(1ms);
  sender.tick();
  test::waitFor("the second attempt to fail and its retry to wait",
                [&] { return receiver.hits().size() == 2 && sender.queued() == 1; }, 5s);
  clock.advance(19'999ms);  // then twice as long
  sender.tick();
  std::this_thread::sleep_for(50ms);
  CHECK(receiver.hits().size() == 2);
  clock.advance(1ms);
  sender.tick();
  test::waitFor("the callback to be delivered on its third attempt", [&] { return sender.delivered() == 1; }, 5s);
  CHECK(receiver.hits().size() == 3);
  REQUIRE_SENT(sender.send(receiver.url("/b"), "{}"));  // answered 404: not retried
  test::waitFor("the callback answered 404 to be given up", [&] { return sender.abandoned() == 1; }, 5s);
  std::this_thread::sleep_for(100ms);
  CHECK(receiver.hits().size() == 4);
}

TEST_CASE("an endpoint that is down is tried max_attempts times, then given up") {
  int port = 0;
  {
    Receiver gone([](int) { return 200; });  // bound then closed: a port nothing listens on
    port = std::stoi(gone.url("").substr(std::string("http://127.0.0.1:").size()));
  }
  auto options = fast();
  options.max_attempts = 3;
  SystemClock clock;
  CallbackSender sender(clock, options);
  REQUIRE_SENT(sender.send("http://127.0.0.1:" + std::to_string(port) + "/x", "{}"));
  test::waitFor("the callback to a closed port to be given up", [&] { return sender.abandoned() == 1; }, 5s);
  CHECK(sender.delivered() == 0);
}

TEST_CASE("the delivery queue is bounded") {
  auto options = fast();
  options.max_queued = 2;
  options.first_backoff = 10s;  // keeps the failed ones waiting
  SystemClock clock;
  CallbackSender sender(clock, options);
  // Nothing listens on port 9 of loopback (discard): the first attempt fails, the retry waits.
  REQUIRE_SENT(sender.send("http://127.0.0.1:9/", "{}"));
  REQUIRE_SENT(sender.send("http://127.0.0.1:9/", "{}"));
  std::this_thread::sleep_for(100ms);
  auto third = sender.send("http://127.0.0.1:9/", "{}");
  REQUIRE_FALSE(third.ok());
  CHECK(third.error().kind == ErrorKind::kOverloaded);
}

}  // namespace
}  // namespace gust
