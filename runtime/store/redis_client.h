#pragma once
// One connection to the cluster's Redis (docs/scale-out.md), on the loop thread, over
// hiredis's asynchronous API and its libuv adapter. It keeps itself up: it connects (AUTH,
// SELECT), reconnects with backoff after any failure, and bounds every command and every
// connect by a deadline, so that a Redis that went silent (a cut cable sends no reset) fails
// commands quickly instead of holding them. While it is down, commands fail at once with
// kUnavailable: a caller refuses what it cannot store (503) rather than accept and lose it.
//
// Contract:
// - Owning thread: the loop's; every callback runs there. close() and wait for its callback
//   before the loop is closed or the client destroyed.
// - command(): fails now with kUnavailable (and `done` is not called) while the connection is
//   not up. Otherwise `done` runs exactly once, later, with the reply (a Redis error reply is
//   a reply, RedisReply::kError: the caller decides what it means) or with kUnavailable when
//   the answer did not come (connection lost, deadline passed, client closed).
//   A command that failed that way may still have run on Redis: what is sent must be safe to
//   send again (idempotent, or fenced by the caller).
// - Replies come in the order the commands were sent (one connection).
// - Name resolution of the host is synchronous (hiredis 0.14): give an address, or a name
//   the resolver answers at once (/etc/hosts).

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/base/result.h"
#include "runtime/base/unique_function.h"
#include "runtime/base/uv_close.h"
#include "runtime/store/backend_url.h"

struct redisAsyncContext;

namespace gust {

class RedisTlsTunnel;

struct RedisReply {
  enum class Type { kNil, kInteger, kString, kStatus, kError, kArray };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;  // kString, kStatus, kError
  std::vector<RedisReply> elements;

  bool isError() const { return type == Type::kError; }
  bool isNil() const { return type == Type::kNil; }
};

struct RedisClientOptions {
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds command_timeout{3000};
  std::chrono::milliseconds reconnect_min{100};  // doubled after each failed attempt
  std::chrono::milliseconds reconnect_max{2000};
};

class RedisClient {
 public:
  using Done = UniqueFunction<void(Result<RedisReply>)>;

  RedisClient(uv_loop_t* loop, RedisEndpoint endpoint, RedisClientOptions options = {});
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Starts connecting; `on_state` hears each change: true once connected and ready (AUTH and
  // SELECT done), false once lost (with why). Never called after close().
  void start(std::function<void(bool up, const std::string& why)> on_state = nullptr);
  bool up() const { return state_ == State::kReady; }
  const RedisEndpoint& endpoint() const { return endpoint_; }
  // Why the last connection or attempt failed; empty when none has.
  const std::string& lastError() const { return last_error_; }

  Result<void> command(std::vector<std::string> argv, Done done);

  // For rediss://: whether the TLS files can be used, so that a host refuses to start with
  // a wrong one rather than retry it forever.
  static Result<void> checkTls(const RedisEndpoint& endpoint);

  // Makes this a subscriber: each message published to `channel` reaches `on_message` on
  // the loop thread while the client is up; after a reconnect it subscribes again. Redis
  // pub/sub keeps nothing, so what was published while the client was down is not heard.
  // A subscriber takes no command() (a subscribed Redis connection refuses them): give it
  // a client of its own. Call before start().
  void subscribe(std::string channel, std::function<void(std::string_view message)> on_message);

  void close(std::function<void()> on_closed);

 private:
  enum class State { kIdle, kConnecting, kHandshake, kReady, kWaiting, kClosed };
  struct Pending;

  void connect();
  void onConnected(int status);
  void sendHandshake();
  void onDisconnected(const redisAsyncContext* context);
  void onReply(Pending* pending, void* reply);
  // Sends without checking the state (the handshake's own commands use it).
  Result<void> send(const std::vector<std::string>& argv, Done done);
  // Ends the connection (pending commands fail) and tries again after the backoff.
  void fail(const std::string& why);
  void retryLater();
  void sweep();
  void setState(State state, const std::string& why);
  void sendSubscribes();
  void onSubscription(void* reply);

  uv_loop_t* loop_;
  RedisEndpoint endpoint_;
  RedisClientOptions options_;
  redisAsyncContext* context_ = nullptr;
  std::unique_ptr<RedisTlsTunnel> tunnel_;  // rediss://: hiredis connects through it
  State state_ = State::kIdle;
  std::function<void(bool, const std::string&)> on_state_;
  std::string last_error_;
  std::chrono::milliseconds backoff_;
  uint64_t attempt_started_ms_ = 0;
  // Sent and not answered, oldest first: the sweep fails the connection when the oldest is
  // past its deadline (the answers come in order).
  std::deque<std::pair<uint64_t, uint64_t>> in_flight_;  // (command id, sent at ms)
  uint64_t next_id_ = 1;
  std::map<std::string, std::function<void(std::string_view)>, std::less<>> subscriptions_;
  uv_timer_t retry_timer_{};
  uv_timer_t sweep_timer_{};
  CloseCounter closer_;
};

}  // namespace gust
