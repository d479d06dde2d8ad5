#include "triggers/http/callback_sender.h"

#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "tests/support/holding_receiver.h"
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

std::vector<IpRange> loopbackAllowed() { return *parseIpRanges("127.0.0.0/8,::1"); }

TEST_CASE("a callback URL must be a plain http URL to a host that is not a refused address") {
  CHECK(checkCallbackUrl("http://example.com/done?x=1", 2048, {}).ok());
  CHECK(checkCallbackUrl("http://93.184.216.34:8080/cb", 2048, {}).ok());
  CHECK(checkCallbackUrl("HTTP://127.0.0.1:9000", 2048, loopbackAllowed()).ok());
  CHECK(checkCallbackUrl("http://[::1]:8080/cb", 2048, loopbackAllowed()).ok());
  CHECK(checkCallbackUrl("http://localhost:8080/cb", 2048, {}).ok());  // a name: checked at delivery
  auto refused = [](std::string_view url, std::string_view says) {
    CAPTURE(url);
    auto r = checkCallbackUrl(url, 64, {});
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
  refused("http://169.254.169.254/latest/meta-data", "link-local (169.254.0.0/16)");
  refused("http://[fe80::1]/", "link-local (fe80::/10)");
  refused("http://127.0.0.1:9000/", "127.0.0.1 is a loopback (127.0.0.0/8) address");
  refused("http://127.0.0.1:9000/", "--callback-allow");
  refused("http://2130706433/", "2130706433 resolves to 127.0.0.1, a loopback");
  refused("http://0x7f.1/", "loopback");
  refused("http://[::ffff:10.0.0.1]/", "private (10.0.0.0/8, carried in an IPv4-mapped IPv6 address)");
  refused("http://[not-v6]/", "not an IPv6 address");
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
  // Far beyond a stalled sanitized test: a read cut short would add a retry to the counts.
  // (Refused connections fail at once whatever the timeout.)
  o.connect_timeout = 5s;
  o.read_timeout = 5s;
  o.allowed = loopbackAllowed();
  return o;
}

TEST_CASE("a callback is POSTed as JSON to the URL's path and query") {
  Receiver receiver([](int) { return 204; });
  SystemClock clock;
  CallbackSender sender(clock, fast());
  REQUIRE_SENT(sender.send("inv", receiver.url("/hook?q=7"), R"({"id":"x"})"));
  test::waitFor("the callback to be delivered", [&] { return sender.delivered() == 1; }, 5s);
  CHECK(receiver.hits() == std::vector<std::string>{R"(/hook?7 {"id":"x"} application/json)"});
}

TEST_CASE("postOnce makes one attempt with the caller's headers and reports it, whatever the answer") {
  Receiver receiver([](int n) { return n == 1 ? 200 : 503; });
  SystemClock clock;
  CallbackSender sender(clock, fast());
  std::mutex mutex;
  std::vector<std::string> answers;
  auto record = [&](const std::string& why) {
    std::lock_guard lock(mutex);
    answers.push_back(why);
  };
  auto answered = [&] {
    std::lock_guard lock(mutex);
    return answers;
  };
  REQUIRE_SENT(sender.postOnce("wh", receiver.url("/ok"), {{"Content-Type", "text/plain"}}, "hi", record));
  test::waitFor("the first post's answer", [&] { return answered().size() == 1; }, 5s);
  CHECK(answered()[0].empty());  // delivered
  CHECK(receiver.hits() == std::vector<std::string>{"/ok? hi text/plain"});
  REQUIRE_SENT(sender.postOnce("wh", receiver.url("/fail"), {}, "again", record));
  test::waitFor("the second post's answer", [&] { return answered().size() == 2; }, 5s);
  CHECK(answered()[1] == "the receiver answered 503");
  std::this_thread::sleep_for(100ms);  // time enough for a retry, were there one
  CHECK(receiver.hits().size() == 2);
  CHECK(sender.queued() == 0);

  CallbackSender strict(clock, CallbackSenderOptions{});  // no allowlist: loopback refused at delivery
  std::string refused;
  std::atomic<bool> done{false};
  REQUIRE_SENT(strict.postOnce("wh", receiver.url("/x"), {}, "", [&](const std::string& why) {
    refused = why;
    done = true;
  }));
  test::waitFor("the refused post's answer", [&] { return done.load(); }, 5s);
  CHECK(refused.find("loopback") != std::string::npos);
  CHECK(receiver.hits().size() == 2);
}

TEST_CASE("a failing receiver is retried with backoff by the clock until it accepts, and a 4xx ends the delivery") {
  Receiver receiver([](int n) { return n <= 2 ? 503 : (n == 3 ? 200 : 404); });
  ManualClock clock;
  auto options = fast();
  options.first_backoff = 10s;  // far longer than the test runs: only the clock gets there
  CallbackSender sender(clock, options);
  REQUIRE_SENT(sender.send("inv", receiver.url("/a"), "{}"));
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
  REQUIRE_SENT(sender.send("inv", receiver.url("/b"), "{}"));  // answered 404: not retried
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
  REQUIRE_SENT(sender.send("inv", "http://127.0.0.1:" + std::to_string(port) + "/x", "{}"));
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
  REQUIRE_SENT(sender.send("inv", "http://127.0.0.1:9/", "{}"));
  REQUIRE_SENT(sender.send("inv", "http://127.0.0.1:9/", "{}"));
  std::this_thread::sleep_for(100ms);
  auto third = sender.send("inv", "http://127.0.0.1:9/", "{}");
  REQUIRE_FALSE(third.ok());
  CHECK(third.error().kind == ErrorKind::kOverloaded);
}

// Collects what onAbandoned reports (from a delivery thread).
struct Abandoned {
  std::mutex mutex;
  std::vector<std::string> reports;  // "id: why"
  void attach(CallbackSender& sender) {
    sender.onAbandoned([this](const std::string& id, const std::string& why) {
      std::lock_guard lock(mutex);
      reports.push_back(id + ": " + why);
    });
  }
  std::vector<std::string> taken() {
    std::lock_guard lock(mutex);
    return reports;
  }
};

TEST_CASE("a name that resolves to a refused address is not called, and the reason is reported") {
  Receiver receiver([](int) { return 204; });
  auto options = fast();
  options.allowed.clear();
  SystemClock clock;
  CallbackSender sender(clock, options);
  Abandoned abandoned;
  abandoned.attach(sender);
  std::string port = receiver.url("").substr(receiver.url("").rfind(':'));
  REQUIRE_SENT(sender.send("inv-1", "http://localhost" + port + "/hook", "{}"));
  test::waitFor("the callback to localhost to be given up", [&] { return sender.abandoned() == 1; }, 5s);
  auto reports = abandoned.taken();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].find("inv-1: callback given up after 1 attempt(s): localhost resolves to ") == 0);
  CHECK(reports[0].find("loopback") != std::string::npos);
  CHECK(reports[0].find("--callback-allow") != std::string::npos);
  CHECK(receiver.hits().empty());
}

TEST_CASE("the answer is read up to max_answer_bytes, undecoded, and the rest is cut") {
  std::atomic<bool> stream_cut{false};
  std::atomic<size_t> accept_identity{0};
  test::ServerThread http;
  http.server().Post("/endless", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Accept-Encoding") == "identity") ++accept_identity;
    res.set_chunked_content_provider("text/plain", [&](size_t, httplib::DataSink& sink) {
      static const std::string block(16 * 1024, 'x');
      if (sink.write(block.data(), block.size())) return true;
      stream_cut = true;  // the client hung up
      return false;
    });
  });
  http.server().Post("/gzip", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Accept-Encoding") == "identity") ++accept_identity;
    res.set_header("Content-Encoding", "gzip");
    res.set_content("this is not gzip", "text/plain");  // decoding it would fail the delivery
  });
  http.start();
  auto options = fast();
  options.read_timeout = 10s;
  options.attempt_deadline = 60s;  // only the byte bound can end the endless answer in time
  options.max_answer_bytes = 64 * 1024;
  SystemClock clock;
  CallbackSender sender(clock, options);
  REQUIRE_SENT(sender.send("inv", http.url() + "/endless", "{}"));
  test::waitFor("the endless answer to be cut", [&] { return stream_cut.load(); }, 10s);
  test::waitFor("the callback to count as delivered", [&] { return sender.delivered() == 1; }, 5s);
  REQUIRE_SENT(sender.send("inv", http.url() + "/gzip", "{}"));
  test::waitFor("the gzip-labelled answer to be delivered", [&] { return sender.delivered() == 2; }, 5s);
  CHECK(sender.abandoned() == 0);
  CHECK(accept_identity == 2);
}

TEST_CASE("an attempt that outlives its deadline is cut, whatever the read timeout") {
  test::HoldingReceiver holding;
  auto options = fast();
  options.read_timeout = 30s;
  options.attempt_deadline = 300ms;
  options.max_attempts = 1;
  SystemClock clock;
  CallbackSender sender(clock, options);
  Abandoned abandoned;
  abandoned.attach(sender);
  REQUIRE_SENT(sender.send("inv-9", holding.url("/hold"), "{}"));
  test::waitFor("the held attempt to be cut at its deadline", [&] { return sender.abandoned() == 1; }, 10s);
  auto reports = abandoned.taken();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].find("no answer within the attempt deadline of 300 ms") != std::string::npos);
}

TEST_CASE("a slow endpoint holds at most per_endpoint deliveries and never delays another endpoint") {
  test::HoldingReceiver slow;
  std::atomic<int> held_when_fast_came{-1};
  test::ServerThread fast_receiver;
  fast_receiver.server().Post("/fast", [&](const httplib::Request&, httplib::Response& res) {
    held_when_fast_came = slow.held();
    res.status = 204;
  });
  fast_receiver.start();
  auto options = fast();
  options.read_timeout = 30s;
  options.attempt_deadline = 30s;
  options.threads = 4;
  options.per_endpoint = 2;
  SystemClock clock;
  CallbackSender sender(clock, options);
  for (int i = 0; i < 4; ++i) REQUIRE_SENT(sender.send("slow", slow.url("/slow"), "{}"));
  test::waitFor("the slow endpoint to hold two deliveries", [&] { return slow.held() == 2; }, 5s);
  REQUIRE_SENT(sender.send("fast", fast_receiver.url() + "/fast", "{}"));
  test::waitFor("the other endpoint's callback", [&] { return sender.delivered() == 1; }, 5s);
  CHECK(held_when_fast_came == 2);  // it came while the slow endpoint held its two
  slow.release();
  test::waitFor("the slow endpoint's four callbacks", [&] { return sender.delivered() == 5; }, 10s);
  CHECK(slow.mostHeld() == 2);
}

}  // namespace
}  // namespace gust
