#pragma once
// Delivers async results to the callers' X-Callback-Url: one POST of the result JSON per
// finished invocation, made by a thread of its own so that a slow or dead endpoint never
// blocks the loop. A delivery that fails (no connection, timeout, 408, 429 or 5xx) is
// retried with exponential backoff (first_backoff, x2 each time) up to max_attempts, then
// dropped with a warning; any other answer ends it (2xx delivered; 4xx the receiver's
// refusal, logged).
//
// Not durable: deliveries still queued when the host stops are dropped (logged). The
// result stays readable at GET /v1/invocations/{id} until it expires.
//
// SSRF: the URL comes from the caller and the POST is made from the host, so it can
// reach whatever the host can. checkCallbackUrl allows only http (and https when
// cpp-httplib was built with TLS), no user info, and refuses literal link-local hosts
// (169.254.0.0/16, fe80::/10: cloud metadata endpoints). Names are not resolved and
// checked: a name that resolves to such an address is not refused.
//
// When a retry is due goes by the injected Clock; the thread waits in real time for what
// the clock says is left.
//
// Threads: send() from any thread; the delivery thread is joined by the destructor (which
// waits for at most the delivery in progress, bounded by its timeouts).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "runtime/base/clock.h"
#include "runtime/base/result.h"

namespace gust {

struct CallbackSenderOptions {
  size_t max_queued = 1000;  // deliveries waiting (including their retries)
  int max_attempts = 5;
  std::chrono::milliseconds first_backoff{1000};
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds read_timeout{5000};
};

// kBadInput naming what is wrong with `url` as a callback URL, or success.
Result<void> checkCallbackUrl(std::string_view url, size_t max_bytes);

class CallbackSender {
 public:
  explicit CallbackSender(const Clock& clock, CallbackSenderOptions options = {});
  ~CallbackSender();
  CallbackSender(const CallbackSender&) = delete;
  CallbackSender& operator=(const CallbackSender&) = delete;

  // Queues a POST of `json_body` to `url` (checked by checkCallbackUrl beforehand); fails
  // with kOverloaded when max_queued deliveries wait.
  Result<void> send(std::string url, std::string json_body);

  // Deliveries answered 2xx, given up, and waiting (retries included; not the one being
  // posted) (any thread); tests and logs read them.
  uint64_t delivered() const;
  uint64_t abandoned() const;
  size_t queued() const;

  // Has the delivery thread look at the clock again. Called by tests after they move an
  // injected clock; otherwise the thread wakes when the time it computed is up.
  void tick();

 private:
  struct Delivery {
    std::string url;
    std::string body;
    int attempt = 1;
    std::chrono::steady_clock::time_point due;
  };
  enum class Attempt { kDelivered, kRetry, kRefused };

  void deliveryMain();
  Attempt post(const Delivery& delivery, std::string& why) const;

  const Clock& clock_;
  const CallbackSenderOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Delivery> pending_;  // unordered by due; small (bounded by max_queued)
  bool stopping_ = false;
  uint64_t delivered_ = 0;
  uint64_t abandoned_ = 0;
  std::thread thread_;
};

}  // namespace gust
