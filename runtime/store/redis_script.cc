#include "runtime/store/redis_script.h"

#include <openssl/evp.h>

#include <memory>

#include "runtime/base/digest.h"

namespace gust {
namespace {

std::string sha1Hex(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), md, &size, EVP_sha1(), nullptr);
  return toHex(std::string_view(reinterpret_cast<const char*>(md), size));
}

}  // namespace

Error scriptReplyError(std::string_view what, const std::string& message) {
  if (message.rfind("OOM", 0) == 0) {
    return makeError(ErrorKind::kStorageFull, "the backend Redis is out of memory (" + message +
                                                  "); nothing was stored: free memory or raise maxmemory");
  }
  return makeError(ErrorKind::kIo, std::string(what) + ": " + message);
}

RedisClient::Done integerAnswer(std::string_view what, UniqueFunction<void(Result<int64_t>)> done) {
  return [what = std::string(what), done = std::move(done)](Result<RedisReply> reply) mutable {
    if (!reply.ok()) return done(reply.error());
    if (reply->isError()) return done(scriptReplyError(what, reply->str));
    done(reply->integer);
  };
}

RedisScript::RedisScript(RedisClient& client, std::string_view source, std::string prefix)
    : client_(client), source_(source), sha_(sha1Hex(source)), prefix_(std::move(prefix)) {}

Result<void> RedisScript::run(std::string_view op, int64_t now_ms, std::vector<std::string> args,
                              RedisClient::Done done) {
  std::vector<std::string> argv = {"EVALSHA", sha_, "0", prefix_, std::string(op), std::to_string(now_ms)};
  argv.insert(argv.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
  auto fallback = std::make_shared<std::vector<std::string>>(argv);
  return client_.command(std::move(argv), [this, fallback, done = std::move(done)](Result<RedisReply> reply) mutable {
    if (!reply.ok() || !reply->isError() || reply->str.rfind("NOSCRIPT", 0) != 0) {
      done(std::move(reply));
      return;
    }
    (*fallback)[0] = "EVAL";
    (*fallback)[1] = std::string(source_);
    auto shared = std::make_shared<RedisClient::Done>(std::move(done));
    auto sent = client_.command(std::move(*fallback), [shared](Result<RedisReply> r) { (*shared)(std::move(r)); });
    if (!sent.ok()) (*shared)(sent.error());
  });
}

}  // namespace gust
