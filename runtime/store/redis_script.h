#pragma once
// Runs operations of one Lua script on the cluster's Redis (docs/scale-out.md): by its SHA-1
// with EVALSHA, and once with the whole source when Redis answers NOSCRIPT (it forgets its
// scripts when it restarts). ARGV is the key prefix, the operation's name, the caller's time
// in milliseconds, then the operation's own arguments; the script declares no keys.
//
// Contract: loop thread, like the client it borrows (which outlives it). run() fails now,
// without calling `done`, when the client is down; otherwise `done` runs once, as
// RedisClient::command's does.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/store/redis_client.h"

namespace gust {

// What a script's error reply means to the caller of `what` ("redis queue lease"): a Redis
// past its maxmemory is full as a full disk is (kStorageFull); anything else is kIo.
Error scriptReplyError(std::string_view what, const std::string& message);
// A completion for an operation that answers one integer.
RedisClient::Done integerAnswer(std::string_view what, UniqueFunction<void(Result<int64_t>)> done);

class RedisScript {
 public:
  RedisScript(RedisClient& client, std::string_view source, std::string prefix);

  Result<void> run(std::string_view op, int64_t now_ms, std::vector<std::string> args, RedisClient::Done done);
  RedisClient& client() { return client_; }

 private:
  RedisClient& client_;
  std::string_view source_;
  std::string sha_;  // hex
  std::string prefix_;
};

}  // namespace gust
