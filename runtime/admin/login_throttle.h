#pragma once
// Slows down guessing the admin token: after a few failed logins from one peer (a uid on
// the socket, an address on TCP), that peer's next attempt must wait, twice as long after
// each further failure up to a cap; a success forgets the peer. An early attempt is not
// held (that would keep requests open on the loop) but refused at once with 429 and
// Retry-After, before its token is looked at, so parallel connections buy no extra guesses.
//
// Owning thread: the loop thread. Time comes from the injected Clock.

#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>

#include "runtime/base/clock.h"

namespace gust {

class LoginThrottle {
 public:
  static constexpr size_t kFreeFailures = 3;
  static constexpr std::chrono::milliseconds kFirstDelay{250};
  static constexpr std::chrono::milliseconds kMaxDelay{4000};
  // A peer silent this long after its last failure starts afresh.
  static constexpr std::chrono::minutes kForgetAfter{10};
  // Bounds the table against a stream of fresh addresses; past it, forgotten peers go first.
  static constexpr size_t kMaxPeers = 4096;

  explicit LoginThrottle(const Clock& clock) : clock_(clock) {}

  // How long `peer` must still wait before its next attempt is looked at; zero when it may
  // try now.
  std::chrono::milliseconds waitFor(const std::string& peer) const;
  void failed(const std::string& peer);
  void succeeded(const std::string& peer) { peers_.erase(peer); }

 private:
  struct Peer {
    size_t failures = 0;
    std::chrono::steady_clock::time_point last_failure;
    std::chrono::steady_clock::time_point not_before;
  };
  void forgetStale();

  const Clock& clock_;
  std::unordered_map<std::string, Peer> peers_;
};

}  // namespace gust
