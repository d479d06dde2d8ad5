// GCC 12's bogus -Wmaybe-uninitialized on moving Result<AsyncInvocation> (see
// invocation_store.cc).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "runtime/store/redis_invocation_store.h"

#include <charconv>
#include <map>

#include "runtime/base/digest.h"
#include "runtime/store/stored_strings.h"

namespace gust {

extern const std::string_view kRedisInvocationScript;

namespace {

using std::chrono::milliseconds;

constexpr size_t kExpireBatch = 1000;
constexpr size_t kAdoptBatch = 1000;

StoreTime fromMs(int64_t ms) { return StoreTime(milliseconds(ms)); }
int64_t toMs(StoreTime t) { return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count(); }

int64_t toInt(std::string_view text) {
  int64_t n = 0;
  std::from_chars(text.data(), text.data() + text.size(), n);
  return n;
}

Error damaged(const std::string& what) { return makeError(ErrorKind::kIo, "the backend Redis: " + what + " is damaged"); }

// Where an idempotency key is kept: the digest frames app, caller and key by their lengths,
// so no two triples share one.
std::string keyDigest(const std::string& app, const std::string& caller, const std::string& key) {
  std::string framed;
  for (const std::string* part : {&app, &caller, &key}) {
    framed += std::to_string(part->size());
    framed += ':';
    framed += *part;
  }
  return toHex(sha256(framed));
}

// An invocation from its hash's fields (HGETALL: field, value, ...).
Result<AsyncInvocation> readAsync(const RedisReply& reply) {
  std::map<std::string_view, std::string_view> f;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) f[reply.elements[i].str] = reply.elements[i + 1].str;
  AsyncInvocation a;
  a.id = f["id"];
  const std::string& id = a.id;
  a.app = f["app"];
  a.function = f["fn"];
  auto status = parseAsyncStatus(f["st"]);
  if (!status) return damaged("async invocation '" + id + "' status '" + std::string(f["st"]) + "'");
  a.status = *status;
  a.attempts = static_cast<int>(toInt(f["att"]));
  a.request.method = f["meth"];
  a.request.path = f["path"];
  a.request.query = f["q"];
  auto headers = decodeStoredPairs(f["rh"]);
  if (!headers.ok()) return damaged("async invocation '" + id + "' request headers");
  a.request.headers = std::move(*headers);
  a.request.body = f["rb"];
  a.callback_url = f["cb"];
  a.idempotency_key = f["key"];
  a.caller = f["caller"];
  a.fingerprint = f["fp"];
  if (f.contains("rs")) {
    AsyncResponse response;
    response.status = static_cast<int>(toInt(f["rs"]));
    auto response_headers = decodeStoredPairs(f["rhd"]);
    if (!response_headers.ok()) return damaged("async invocation '" + id + "' response headers");
    response.headers = std::move(*response_headers);
    response.body = f["rbd"];
    a.response = std::move(response);
  }
  a.error = f["err"];
  a.callback_error = f["cberr"];
  a.created_at = fromMs(toInt(f["created"]));
  a.updated_at = fromMs(toInt(f["updated"]));
  a.expires_at = fromMs(toInt(f["expires"]));
  return a;
}

void appendResponse(const AsyncResponse& response, std::vector<std::string>& args) {
  args.insert(args.end(), {"rs", std::to_string(response.status), "rhd", encodeStoredPairs(response.headers), "rbd",
                           response.body});
}

// A record as one value: its fields, then its logs, each framed by stored_strings.
std::string encodeRecord(const InvocationRecord& r) {
  return encodeStoredStrings({r.id, r.app, r.function, recordTriggerName(r.trigger), std::to_string(toMs(r.started_at)),
                              std::to_string(r.duration.count()), r.cold_start ? "1" : "0",
                              std::to_string(r.cold_start_duration.count()), std::to_string(r.attempt),
                              outcomeName(r.outcome), r.error, r.trace_id, r.host, encodeStoredStrings(r.logs)});
}

Result<InvocationRecord> decodeRecord(std::string_view blob) {
  auto fields = decodeStoredStrings(blob);
  if (!fields.ok() || fields->size() != 14) return damaged("an invocation record");
  const auto& v = *fields;
  InvocationRecord r;
  r.id = v[0];
  r.app = v[1];
  r.function = v[2];
  auto trigger = parseRecordTrigger(v[3]);
  if (!trigger) return damaged("invocation record '" + r.id + "' trigger '" + v[3] + "'");
  r.trigger = *trigger;
  r.started_at = fromMs(toInt(v[4]));
  r.duration = std::chrono::microseconds(toInt(v[5]));
  r.cold_start = v[6] == "1";
  r.cold_start_duration = std::chrono::microseconds(toInt(v[7]));
  r.attempt = static_cast<int>(toInt(v[8]));
  auto outcome = parseOutcome(v[9]);
  if (!outcome) return damaged("invocation record '" + r.id + "' outcome '" + v[9] + "'");
  r.outcome = *outcome;
  r.error = v[10];
  r.trace_id = v[11];
  r.host = v[12];
  auto logs = decodeStoredStrings(v[13]);
  if (!logs.ok()) return damaged("invocation record '" + r.id + "' logs");
  r.logs = std::move(*logs);
  return r;
}

// A completion that turns the script's reply into T with `read`, or into the error it is.
template <typename T, typename Read>
RedisClient::Done answer(std::string_view what, InvocationStore::Done<T> done, Read read) {
  return [what = std::string(what), done = std::move(done), read = std::move(read)](Result<RedisReply> reply) mutable {
    if (!reply.ok()) return done(reply.error());
    if (reply->isError()) return done(scriptReplyError(what, reply->str));
    done(read(*reply));
  };
}

Result<std::optional<AsyncInvocation>> readOptionalAsync(const RedisReply& reply) {
  if (reply.isNil() || reply.elements.empty()) return std::optional<AsyncInvocation>();
  auto a = readAsync(reply);
  if (!a.ok()) return a.error();
  return std::optional<AsyncInvocation>(std::move(*a));
}

}  // namespace

Result<std::unique_ptr<RedisInvocationStore>> RedisInvocationStore::open(RedisClient& client, const Clock& clock,
                                                                         InvocationStoreOptions options,
                                                                         std::string prefix) {
  if (auto valid = checkOptions(options); !valid.ok()) return valid.error();
  return std::unique_ptr<RedisInvocationStore>(
      new RedisInvocationStore(client, clock, std::move(options), std::move(prefix)));
}

std::string_view RedisInvocationStore::script() { return kRedisInvocationScript; }

Result<void> RedisInvocationStore::needHost(std::string_view what) const {
  if (host_.empty()) {
    return makeError(ErrorKind::kUnavailable, std::string(what) + ": this host has no name in the cluster yet");
  }
  return {};
}

Result<void> RedisInvocationStore::storeNewAsync(AsyncInvocation a, Done<AsyncCreated> done) {
  if (auto named = needHost("createAsync"); !named.ok()) return named;
  std::string digest = a.idempotency_key.empty() ? "" : keyDigest(a.app, a.caller, a.idempotency_key);
  std::vector<std::string> args = {a.id,
                                   digest,
                                   std::to_string(options_.idempotency_window.count()),
                                   std::to_string(options_.async_retention.count()),
                                   host_,
                                   "id", a.id,
                                   "app", a.app,
                                   "fn", a.function,
                                   "st", asyncStatusName(AsyncStatus::kQueued),
                                   "att", "0",
                                   "meth", a.request.method,
                                   "path", a.request.path,
                                   "q", a.request.query,
                                   "rh", encodeStoredPairs(a.request.headers),
                                   "rb", std::move(a.request.body),
                                   "cb", a.callback_url,
                                   "key", a.idempotency_key,
                                   "caller", a.caller,
                                   "fp", a.fingerprint,
                                   "err", "",
                                   "cberr", ""};
  std::string id = a.id;
  return script_.run("inv-create", nowMs(), std::move(args),
                     [id, done = std::move(done)](Result<RedisReply> reply) mutable {
                       if (!reply.ok()) return done(reply.error());
                       if (reply->isError()) {
                         if (reply->str.rfind("EXISTS", 0) == 0) {
                           return done(makeError(ErrorKind::kBadInput,
                                                 "createAsync: an invocation with id '" + id + "' already exists"));
                         }
                         return done(scriptReplyError("createAsync", reply->str));
                       }
                       if (reply->elements.size() != 2) return done(damaged("the answer to createAsync"));
                       auto a = readAsync(reply->elements[1]);  // the earlier record, when the key matched
                       if (!a.ok()) return done(a.error());
                       done(AsyncCreated{std::move(*a), reply->elements[0].integer == 1});
                     });
}

Result<void> RedisInvocationStore::loadAsync(std::string id, Done<std::optional<AsyncInvocation>> done) {
  std::vector<std::string> args = {id};
  return script_.run("inv-get", nowMs(), std::move(args),
                     answer<std::optional<AsyncInvocation>>(
                         "getAsync", std::move(done), [](const RedisReply& r) { return readOptionalAsync(r); }));
}

Result<void> RedisInvocationStore::loadAsyncByKey(std::string app, std::string caller, std::string key,
                                                  Done<std::optional<AsyncInvocation>> done) {
  return script_.run("inv-by-key", nowMs(),
                     {keyDigest(app, caller, key), std::to_string(options_.idempotency_window.count())},
                     answer<std::optional<AsyncInvocation>>("findAsyncByKey", std::move(done), [](const RedisReply& r) {
                       return readOptionalAsync(r);
                     }));
}

Result<void> RedisInvocationStore::storeAsyncUpdate(std::string id, AsyncUpdate update, Done<AsyncInvocation> done) {
  std::vector<std::string> args = {id, asyncStatusName(update.status)};
  if (update.attempts) args.insert(args.end(), {"att", std::to_string(*update.attempts)});
  if (update.response) appendResponse(*update.response, args);
  if (update.error) args.insert(args.end(), {"err", std::move(*update.error)});
  return script_.run("inv-update", nowMs(), std::move(args),
                     answer<AsyncInvocation>("updateAsync", std::move(done), [id](const RedisReply& r) -> Result<AsyncInvocation> {
                       if (r.isNil() || r.elements.empty()) {
                         return makeError(ErrorKind::kNotFound, "no async invocation '" + id + "' (or it expired)");
                       }
                       return readAsync(r);
                     }));
}

Result<void> RedisInvocationStore::deleteExpiredAsync(Done<int64_t> done) {
  return script_.run("inv-expire", nowMs(), {std::to_string(kExpireBatch)}, integerAnswer("expireAsync", std::move(done)));
}

Result<void> RedisInvocationStore::storeCallbackError(std::string id, std::string error, Done<void> done) {
  return script_.run("inv-cb-error", nowMs(), {std::move(id), std::move(error)},
                     answer<void>("setCallbackError", std::move(done), [](const RedisReply&) { return Result<void>(); }));
}

Result<void> RedisInvocationStore::loadUnfinishedAsync(size_t limit, Done<std::vector<std::string>> done) {
  if (auto named = needHost("listUnfinishedAsync"); !named.ok()) return named;
  return script_.run("inv-open", nowMs(), {host_, std::to_string(limit)},
                     answer<std::vector<std::string>>("listUnfinishedAsync", std::move(done), [](const RedisReply& r) {
                       std::vector<std::string> ids;
                       for (const auto& e : r.elements) ids.push_back(e.str);
                       return Result<std::vector<std::string>>(std::move(ids));
                     }));
}

Result<void> RedisInvocationStore::countUnfinished(Done<std::map<std::string, size_t>> done) {
  if (auto named = needHost("countUnfinishedAsync"); !named.ok()) return named;
  return script_.run("inv-count", nowMs(), {host_},
                     answer<std::map<std::string, size_t>>("countUnfinishedAsync", std::move(done), [](const RedisReply& r) {
                       std::map<std::string, size_t> counts;
                       for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
                         counts[r.elements[i].str] = static_cast<size_t>(r.elements[i + 1].integer);
                       }
                       return Result<std::map<std::string, size_t>>(std::move(counts));
                     }));
}

Result<void> RedisInvocationStore::adoptOrphanedAsync(Done<std::vector<AdoptedAsync>> done) {
  if (auto named = needHost("adoptOrphanedAsync"); !named.ok()) return named;
  return script_.run("inv-adopt", nowMs(), {host_, std::to_string(adopt_after_.count()), std::to_string(kAdoptBatch)},
                     answer<std::vector<AdoptedAsync>>("adoptOrphanedAsync", std::move(done), [](const RedisReply& r) {
                       std::vector<AdoptedAsync> adopted;
                       for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
                         adopted.push_back({r.elements[i].str, r.elements[i + 1].str});
                       }
                       return Result<std::vector<AdoptedAsync>>(std::move(adopted));
                     }));
}

Result<void> RedisInvocationStore::storeRecords(std::vector<InvocationRecord> records, Done<void> done) {
  std::vector<std::string> args = {std::to_string(options_.record_retention.count()),
                                   std::to_string(options_.max_records)};
  args.reserve(2 + 7 * records.size());
  for (auto& r : records) {
    if (r.host.empty()) r.host = host_;
    args.insert(args.end(), {r.id, std::to_string(r.attempt), r.app, r.function, r.outcome == OutcomeKind::kOk ? "0" : "1",
                             std::to_string(toMs(r.started_at)), encodeRecord(r)});
  }
  RedisClient::Done completion;
  if (done) {
    completion = answer<void>("addRecords", std::move(done), [](const RedisReply&) { return Result<void>(); });
  } else {
    completion = [](Result<RedisReply>) {};
  }
  return script_.run("rec-add", nowMs(), std::move(args), std::move(completion));
}

Result<void> RedisInvocationStore::loadRecords(RecordFilter filter, Done<std::vector<InvocationRecord>> done) {
  std::string list = filter.failed_only ? "recs-failed" : "recs";
  if (!filter.function.empty()) {
    list += ":f:" + filter.app + "/" + filter.function;
  } else if (!filter.app.empty()) {
    list += ":a:" + filter.app;
  }
  return script_.run("rec-list", nowMs(),
                     {list, std::to_string(options_.record_retention.count()), std::to_string(filter.limit)},
                     answer<std::vector<InvocationRecord>>(
                         "listRecords", std::move(done), [](const RedisReply& r) -> Result<std::vector<InvocationRecord>> {
                           std::vector<InvocationRecord> out;
                           for (const auto& e : r.elements) {
                             auto record = decodeRecord(e.str);
                             if (!record.ok()) return record.error();
                             out.push_back(std::move(*record));
                           }
                           return out;
                         }));
}

Result<void> RedisInvocationStore::loadRecord(std::string id, Done<std::optional<InvocationRecord>> done) {
  return script_.run("rec-get", nowMs(), {std::move(id)},
                     answer<std::optional<InvocationRecord>>(
                         "getRecord", std::move(done), [](const RedisReply& r) -> Result<std::optional<InvocationRecord>> {
                           if (r.isNil()) return std::optional<InvocationRecord>();
                           auto record = decodeRecord(r.str);
                           if (!record.ok()) return record.error();
                           return std::optional<InvocationRecord>(std::move(*record));
                         }));
}

Result<void> RedisInvocationStore::deleteOldRecords(Done<int64_t> done) {
  return script_.run("rec-prune", nowMs(),
                     {std::to_string(options_.record_retention.count()), std::to_string(options_.max_records)},
                     integerAnswer("pruneRecords", std::move(done)));
}

}  // namespace gust
