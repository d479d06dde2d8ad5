#pragma once
// Delivers async results to the callers' X-Callback-Url: one POST of the result JSON per
// finished invocation, made by a small pool of threads of its own so that a slow or dead
// endpoint never blocks the loop, nor (with at most per_endpoint deliveries to one
// scheme://host:port at a time) the callbacks of other endpoints. A delivery that fails
// (no connection, timeout, 408, 429 or 5xx) is retried with exponential backoff
// (first_backoff, x2 each time) up to max_attempts, then given up; any other answer ends it
// (2xx delivered; 4xx the receiver's refusal). A delivery given up is reported to
// onAbandoned with the reason, which the invocation's record keeps (callback_error).
//
// Not durable: deliveries still queued when the host stops are dropped (logged). The
// result stays readable at GET /v1/invocations/{id} until it expires.
//
// SSRF (docs/security.md): the URL comes from the caller and the POST is made from the
// host, so it could reach whatever the host can. checkCallbackUrl allows only http (and
// https when cpp-httplib was built with TLS), no user info, and no host that is a literal
// refused address (callback_address.h). A name is resolved at delivery, every address it
// resolves to is checked, and the connection goes to the address that was checked (not to
// a second lookup), so a name that changes its answer between check and connect (DNS
// rebinding) gets nowhere; a refused address ends the delivery.
//
// The client is bounded: at most max_answer_bytes of the answer are read (the rest is cut),
// nothing is decompressed (Accept-Encoding: identity), redirects are not followed, and
// besides the connect and read timeouts each attempt has a total deadline, past which its
// connection is shut down. Logs name only scheme://host:port: a URL's path and query may
// carry the receiver's credentials.
//
// When a retry is due goes by the injected Clock; the threads wait in real time for what
// the clock says is left. Timeouts and deadlines are real time.
//
// Threads: send() from any thread; onAbandoned runs on a delivery thread. The destructor
// shuts down the connections in progress and joins the threads.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/base/clock.h"
#include "runtime/base/result.h"
#include "triggers/http/callback_address.h"

namespace httplib {
class Client;
}

namespace gust {

struct CallbackSenderOptions {
  size_t max_queued = 1000;  // deliveries waiting (including their retries)
  int max_attempts = 5;
  std::chrono::milliseconds first_backoff{1000};
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds read_timeout{5000};
  std::chrono::milliseconds attempt_deadline{10'000};  // one attempt, connect to last byte
  size_t max_answer_bytes = 64 * 1024;
  size_t threads = 4;
  size_t per_endpoint = 2;  // deliveries to one scheme://host:port at once
  std::vector<IpRange> allowed;  // --callback-allow: addresses called although refused
};

// kBadInput naming what is wrong with `url` as a callback URL (for a refused address, the
// rule and the --callback-allow switch), or success; `what` names the URL in the message.
// Names are not resolved here.
Result<void> checkCallbackUrl(std::string_view url, size_t max_bytes, const std::vector<IpRange>& allowed,
                              std::string_view what = "X-Callback-Url");

// "scheme://host:port" of a URL checkCallbackUrl accepted: what logs may say of it.
std::string callbackEndpoint(std::string_view url);

class CallbackSender {
 public:
  explicit CallbackSender(const Clock& clock, CallbackSenderOptions options = {});
  ~CallbackSender();
  CallbackSender(const CallbackSender&) = delete;
  CallbackSender& operator=(const CallbackSender&) = delete;

  // Queues a POST of `json_body` to `url` (checked by checkCallbackUrl beforehand) for
  // invocation `id`; fails with kOverloaded when max_queued deliveries wait.
  Result<void> send(std::string id, std::string url, std::string json_body);

  // Queues one POST attempt of `body` with `headers` (beside User-Agent and
  // Accept-Encoding) to `url` (checked by checkCallbackUrl beforehand), for a caller that
  // retries on its own (webhooks: the queue trigger). The same address rules, endpoint slots,
  // bounds and deadline as send(); `label` names it in logs. `done` runs once, on a delivery
  // thread under the sender's lock (keep it short), with "" on a 2xx and otherwise why the
  // attempt failed; not at all if the sender is freed first. kOverloaded as send().
  Result<void> postOnce(std::string label, std::string url, std::vector<std::pair<std::string, std::string>> headers,
                        std::string body, std::function<void(const std::string& why)> done);

  // Called on a delivery thread, under the sender's lock, with the invocation id and the
  // reason of each delivery given up; null for none. Keep it short and non-blocking.
  void onAbandoned(std::function<void(const std::string& id, const std::string& why)> report);

  // Deliveries answered 2xx, given up, and waiting (retries included; not those being
  // posted) (any thread); tests and logs read them.
  uint64_t delivered() const;
  uint64_t abandoned() const;
  size_t queued() const;

  const CallbackSenderOptions& options() const { return options_; }

  // Has the delivery threads look at the clock again. Called by tests after they move an
  // injected clock; otherwise a thread wakes when the time it computed is up.
  void tick();

 private:
  struct Delivery {
    std::string id;
    std::string url;
    std::string endpoint;  // callbackEndpoint(url)
    std::string body;
    int attempt = 1;
    std::chrono::steady_clock::time_point due;
    std::vector<std::pair<std::string, std::string>> headers;  // empty: Content-Type JSON
    std::function<void(const std::string& why)> once;  // set: one attempt, reported here
  };
  struct InFlight {
    std::shared_ptr<httplib::Client> client;
    std::chrono::steady_clock::time_point deadline;
  };
  enum class Attempt { kDelivered, kRetry, kRefused };

  Result<void> enqueue(Delivery delivery);
  void deliveryMain();
  void watchdogMain();
  Attempt post(const Delivery& delivery, std::string& why);
  void settle(Delivery delivery, Attempt attempt, const std::string& why);

  const Clock& clock_;
  const CallbackSenderOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable watchdog_wake_;
  std::deque<Delivery> pending_;  // unordered by due; small (bounded by max_queued)
  std::map<std::string, size_t> busy_endpoints_;  // endpoint -> deliveries being posted
  std::list<InFlight> in_flight_;  // connections the watchdog shuts down past their deadline
  std::function<void(const std::string&, const std::string&)> on_abandoned_;
  bool stopping_ = false;
  bool workers_joined_ = false;
  uint64_t delivered_ = 0;
  uint64_t abandoned_ = 0;
  std::vector<std::thread> threads_;
  std::thread watchdog_;
};

}  // namespace gust
