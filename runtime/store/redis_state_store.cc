#include "runtime/store/redis_state_store.h"

#include <cstdlib>
#include <future>

#include "runtime/base/names.h"

namespace gust {

extern const std::string_view kRedisQueueScript;

namespace {

using std::chrono::milliseconds;

std::chrono::system_clock::time_point fromMs(int64_t ms) { return std::chrono::system_clock::time_point(milliseconds(ms)); }

Error replyError(const std::string& message) { return scriptReplyError("redis state", message); }

int64_t integerOf(const RedisReply& r) {
  return r.type == RedisReply::Type::kInteger ? r.integer : std::strtoll(r.str.c_str(), nullptr, 10);
}

// {key, value, version, size, expires_at (0: never), updated_at}
StateItem itemOf(const RedisReply& row) {
  StateItem item;
  if (row.elements.size() < 6) return item;
  item.key = row.elements[0].str;
  item.value = row.elements[1].str;
  item.version = static_cast<uint64_t>(integerOf(row.elements[2]));
  item.size = static_cast<uint64_t>(integerOf(row.elements[3]));
  if (integerOf(row.elements[4]) > 0) item.expires_at = fromMs(integerOf(row.elements[4]));
  item.updated_at = fromMs(integerOf(row.elements[5]));
  return item;
}

Error badInput(std::string message) { return makeError(ErrorKind::kBadInput, std::move(message)); }

}  // namespace

void appendStateArgs(const AppStateWrites& writes, std::vector<std::string>& args) {
  args.insert(args.end(), {writes.app, std::to_string(writes.bounds.max_keys), std::to_string(writes.bounds.max_bytes),
                           std::to_string(writes.writes.size())});
  for (const StateWrite& w : writes.writes) {
    args.insert(args.end(), {w.op == StateOp::kRemove ? "remove" : "put", w.key,
                             w.op == StateOp::kRemove ? std::string() : w.value,
                             w.if_version == kAnyStateVersion ? std::string() : std::to_string(w.if_version),
                             std::to_string(w.op == StateOp::kRemove ? 0 : w.ttl.count())});
  }
}

std::optional<Error> stateRefusalOf(const RedisReply& reply, const std::string& app) {
  if (reply.type != RedisReply::Type::kArray || reply.elements.empty()) return std::nullopt;
  const std::string& status = reply.elements[0].str;
  auto at = [&](size_t i) { return i < reply.elements.size() ? reply.elements[i] : RedisReply{}; };
  if (status == "CONFLICT") {
    return stateConflictError(app, at(1).str, static_cast<uint64_t>(integerOf(at(2))),
                              std::strtoull(at(3).str.c_str(), nullptr, 10));
  }
  if (status == "STATE-KEYS") {
    return stateKeysBoundError(app, static_cast<uint64_t>(integerOf(at(1))), static_cast<uint64_t>(integerOf(at(2))));
  }
  if (status == "STATE-BYTES") {
    return stateBytesBoundError(app, static_cast<uint64_t>(integerOf(at(1))), static_cast<uint64_t>(integerOf(at(2))));
  }
  return std::nullopt;
}

struct RedisStateStore::BlockingGet {
  std::string app, key;
  std::promise<Result<std::optional<StateItem>>> answer;
};

RedisStateStore::RedisStateStore(uv_loop_t* loop, RedisClient& client, const Clock& clock, std::string prefix)
    : clock_(clock), script_(client, kRedisQueueScript, std::move(prefix)) {
  uv_async_init(loop, &wake_, [](uv_async_t* async) {
    static_cast<RedisStateStore*>(async->data)->answerBlockingGets();
  });
  wake_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&wake_));  // a store waiting for nobody keeps nothing alive
}

RedisStateStore::~RedisStateStore() = default;

int64_t RedisStateStore::nowMs() const {
  return std::chrono::duration_cast<milliseconds>(clock_.wallNow().time_since_epoch()).count();
}

Result<void> RedisStateStore::get(std::string app, std::string key, Done<std::optional<StateItem>> done) {
  if (std::string why = stateKeyProblem(key); !why.empty()) return badInput(why);
  return script_.run("state-get", nowMs(), {app, key}, [done = std::move(done)](Result<RedisReply> reply) mutable {
    if (!reply.ok()) return done(reply.error());
    if (reply->isError()) return done(replyError(reply->str));
    if (reply->isNil()) return done(std::optional<StateItem>());
    done(std::optional<StateItem>(itemOf(*reply)));
  });
}

Result<std::optional<StateItem>> RedisStateStore::getBlocking(std::string app, std::string key) {
  if (std::string why = stateKeyProblem(key); !why.empty()) return badInput(why);
  auto call = std::make_shared<BlockingGet>();
  call->app = std::move(app);
  call->key = std::move(key);
  auto answer = call->answer.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return makeError(ErrorKind::kUnavailable, "the host is shutting down");
    blocking_.push_back(std::move(call));
  }
  uv_async_send(&wake_);
  // The client bounds every command by its deadline, so the answer comes.
  return answer.get();
}

void RedisStateStore::answerBlockingGets() {
  std::deque<std::shared_ptr<BlockingGet>> calls;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    calls.swap(blocking_);
  }
  for (auto& call : calls) {
    auto asked = get(call->app, call->key,
                     [call](Result<std::optional<StateItem>> r) { call->answer.set_value(std::move(r)); });
    if (!asked.ok()) call->answer.set_value(asked.error());
  }
}

void RedisStateStore::close(std::function<void()> on_closed) {
  std::deque<std::shared_ptr<BlockingGet>> calls;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    calls.swap(blocking_);
  }
  for (auto& call : calls) call->answer.set_value(makeError(ErrorKind::kUnavailable, "the host is shutting down"));
  closer_.closeAll({reinterpret_cast<uv_handle_t*>(&wake_)}, std::move(on_closed));
}

Result<void> RedisStateStore::list(std::string app, std::string prefix, size_t limit,
                                   Done<std::vector<StateItem>> done) {
  if (limit == 0) return badInput("a state listing needs a limit of at least 1");
  return script_.run("state-list", nowMs(), {app, prefix, std::to_string(limit)},
                     [done = std::move(done)](Result<RedisReply> reply) mutable {
                       if (!reply.ok()) return done(reply.error());
                       if (reply->isError()) return done(replyError(reply->str));
                       std::vector<StateItem> items;
                       for (const RedisReply& row : reply->elements) items.push_back(itemOf(row));
                       done(std::move(items));
                     });
}

Result<void> RedisStateStore::usage(std::string app, Done<StateUsage> done) {
  return script_.run("state-usage", nowMs(), {app}, [done = std::move(done)](Result<RedisReply> reply) mutable {
    if (!reply.ok()) return done(reply.error());
    if (reply->isError()) return done(replyError(reply->str));
    if (reply->elements.size() < 2) return done(StateUsage{});
    done(StateUsage{static_cast<uint64_t>(integerOf(reply->elements[0])),
                    static_cast<uint64_t>(integerOf(reply->elements[1]))});
  });
}

Result<void> RedisStateStore::removeApp(std::string app, Done<int64_t> done) {
  if (auto r = validateAppName(app); !r.ok()) return r.error();
  return script_.run("state-remove-app", nowMs(), {app}, integerAnswer("redis state", std::move(done)));
}

Result<void> RedisStateStore::sweep(Done<int64_t> done) {
  return script_.run("state-sweep", nowMs(), {}, integerAnswer("redis state", std::move(done)));
}

Result<void> RedisStateStore::commit(AppStateWrites writes, Done<bool> done) {
  if (auto r = validateAppName(writes.app); !r.ok()) return r.error();
  for (const StateWrite& w : writes.writes) {
    if (std::string why = stateKeyProblem(w.key); !why.empty()) return badInput(why);
  }
  std::vector<std::string> args;
  appendStateArgs(writes, args);
  return script_.run("state-commit", nowMs(), std::move(args),
                     [app = writes.app, done = std::move(done)](Result<RedisReply> reply) mutable {
                       if (!reply.ok()) return done(reply.error());
                       if (reply->isError()) return done(replyError(reply->str));
                       if (auto refused = stateRefusalOf(*reply, app)) return done(std::move(*refused));
                       done(true);
                     });
}

}  // namespace gust
