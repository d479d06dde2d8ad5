// GCC 12 reports a bogus -Wmaybe-uninitialized when moving a std::variant holding a large
// struct (GCC bug 80635, the std::optional/variant false positive); it fires inside
// result.h for Result<AsyncInvocation>. Silenced for this file only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "runtime/store/invocation_store.h"

#include <string>

#include "runtime/base/digest.h"

namespace gust {
namespace {

constexpr size_t kMaxNameBytes = 256;  // ids, app and function names, trace ids, hosts
constexpr size_t kMaxPathBytes = 8192;

Error badInput(std::string_view what, const std::string& message) {
  return makeError(ErrorKind::kBadInput, std::string(what) + ": " + message);
}

Result<void> checkName(std::string_view what, std::string_view field, const std::string& value, bool required) {
  if (required && value.empty()) return badInput(what, std::string(field) + " is empty");
  if (value.size() > kMaxNameBytes) {
    return badInput(what, std::string(field) + " is " + std::to_string(value.size()) + " bytes; the limit is " +
                              std::to_string(kMaxNameBytes));
  }
  return {};
}

size_t pairBytes(const Pairs& pairs) {
  size_t n = 0;
  for (const auto& [k, v] : pairs) n += k.size() + v.size();
  return n;
}

Result<void> checkResponse(const InvocationStoreOptions& options, const AsyncResponse& response) {
  if (response.body.size() > options.max_async_body_bytes) {
    return badInput("updateAsync", "response body is " + std::to_string(response.body.size()) +
                                       " bytes; the limit is " + std::to_string(options.max_async_body_bytes));
  }
  if (pairBytes(response.headers) > options.max_async_header_bytes) {
    return badInput("updateAsync", "response headers total " + std::to_string(pairBytes(response.headers)) +
                                       " bytes; the limit is " + std::to_string(options.max_async_header_bytes));
  }
  return {};
}

}  // namespace

std::optional<AsyncStatus> parseAsyncStatus(std::string_view name) {
  for (AsyncStatus s : {AsyncStatus::kQueued, AsyncStatus::kRunning, AsyncStatus::kSucceeded, AsyncStatus::kFailed}) {
    if (name == asyncStatusName(s)) return s;
  }
  return std::nullopt;
}

std::optional<RecordTrigger> parseRecordTrigger(std::string_view name) {
  for (RecordTrigger t : {RecordTrigger::kHttp, RecordTrigger::kAsync, RecordTrigger::kTimer, RecordTrigger::kQueue,
                          RecordTrigger::kWebSocket}) {
    if (name == recordTriggerName(t)) return t;
  }
  return std::nullopt;
}

std::optional<OutcomeKind> parseOutcome(std::string_view name) {
  for (OutcomeKind k : {OutcomeKind::kOk, OutcomeKind::kFunctionError, OutcomeKind::kCrashed, OutcomeKind::kTimedOut,
                        OutcomeKind::kOverloaded, OutcomeKind::kUnavailable, OutcomeKind::kNotFound,
                        OutcomeKind::kConflict}) {
    if (name == outcomeName(k)) return k;
  }
  return std::nullopt;
}

const char* asyncStatusName(AsyncStatus status) {
  switch (status) {
    case AsyncStatus::kQueued:
      return "queued";
    case AsyncStatus::kRunning:
      return "running";
    case AsyncStatus::kSucceeded:
      return "succeeded";
    case AsyncStatus::kFailed:
      return "failed";
  }
  return "unknown";
}

std::string requestFingerprint(const AsyncRequest& request) {
  // The body (up to max_async_body_bytes) is digested in place rather than copied.
  std::string framed;
  for (std::string_view part : {std::string_view(request.method), std::string_view(request.path),
                                std::string_view(request.query)}) {
    framed += std::to_string(part.size());
    framed += ':';
    framed += part;
  }
  framed += sha256(request.body);
  return toHex(sha256(framed));
}

const char* recordTriggerName(RecordTrigger trigger) {
  switch (trigger) {
    case RecordTrigger::kHttp:
      return "http";
    case RecordTrigger::kAsync:
      return "async";
    case RecordTrigger::kTimer:
      return "timer";
    case RecordTrigger::kQueue:
      return "queue";
    case RecordTrigger::kWebSocket:
      return "websocket";
  }
  return "unknown";
}

Result<void> InvocationStore::checkOptions(const InvocationStoreOptions& options) {
  if (options.idempotency_window > options.async_retention) {
    return makeError(ErrorKind::kBadInput, "invocation store: the idempotency window cannot be longer than the "
                                           "async retention (a record is gone by then)");
  }
  if (options.max_list == 0 || options.prune_every == 0 || options.max_log_lines == 0) {
    return makeError(ErrorKind::kBadInput, "invocation store: max_list, prune_every and max_log_lines must be at least 1");
  }
  return {};
}

int64_t InvocationStore::nowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wallNow().time_since_epoch()).count();
}

Result<void> InvocationStore::createAsync(AsyncInvocation invocation, Done<AsyncCreated> done) {
  constexpr std::string_view what = "createAsync";
  if (invocation.id.empty()) invocation.id = ids_.next();
  if (auto r = checkName(what, "id", invocation.id, true); !r.ok()) return r;
  if (auto r = checkName(what, "app", invocation.app, true); !r.ok()) return r;
  if (auto r = checkName(what, "function", invocation.function, true); !r.ok()) return r;
  if (auto r = checkName(what, "caller", invocation.caller, true); !r.ok()) return r;
  if (invocation.request.method.size() > 16) return badInput(what, "method is longer than 16 bytes");
  if (invocation.request.path.size() + invocation.request.query.size() > kMaxPathBytes) {
    return badInput(what, "path and query are longer than " + std::to_string(kMaxPathBytes) + " bytes");
  }
  if (invocation.request.body.size() > options_.max_async_body_bytes) {
    return badInput(what, "request body is " + std::to_string(invocation.request.body.size()) +
                              " bytes; the limit is " + std::to_string(options_.max_async_body_bytes));
  }
  if (pairBytes(invocation.request.headers) > options_.max_async_header_bytes) {
    return badInput(what, "request headers total " + std::to_string(pairBytes(invocation.request.headers)) +
                              " bytes; the limit is " + std::to_string(options_.max_async_header_bytes));
  }
  if (invocation.callback_url.size() > options_.max_callback_url_bytes) {
    return badInput(what, "callback URL is longer than " + std::to_string(options_.max_callback_url_bytes) + " bytes");
  }
  if (!invocation.callback_url.empty() && !invocation.callback_url.starts_with("http://") &&
      !invocation.callback_url.starts_with("https://")) {
    return badInput(what, "callback URL '" + invocation.callback_url.substr(0, 80) +
                              "' is not an http:// or https:// URL");
  }
  if (invocation.idempotency_key.size() > options_.max_idempotency_key_bytes) {
    return badInput(what, "idempotency key is longer than " + std::to_string(options_.max_idempotency_key_bytes) +
                              " bytes");
  }
  for (char c : invocation.idempotency_key) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) {
      return badInput(what, "idempotency key contains a byte outside printable ASCII");
    }
  }
  invocation.status = AsyncStatus::kQueued;
  invocation.attempts = 0;
  invocation.response.reset();
  invocation.error.clear();
  return storeNewAsync(std::move(invocation), std::move(done));
}

Result<void> InvocationStore::getAsync(std::string id, Done<std::optional<AsyncInvocation>> done) {
  if (auto r = checkName("getAsync", "id", id, true); !r.ok()) return r;
  return loadAsync(std::move(id), std::move(done));
}

Result<void> InvocationStore::findAsyncByKey(std::string app, std::string caller, std::string idempotency_key,
                                             Done<std::optional<AsyncInvocation>> done) {
  if (auto r = checkName("findAsyncByKey", "app", app, true); !r.ok()) return r;
  if (auto r = checkName("findAsyncByKey", "caller", caller, true); !r.ok()) return r;
  if (idempotency_key.empty()) return badInput("findAsyncByKey", "idempotency key is empty");
  if (idempotency_key.size() > options_.max_idempotency_key_bytes) {
    return badInput("findAsyncByKey", "idempotency key is longer than " +
                                          std::to_string(options_.max_idempotency_key_bytes) + " bytes");
  }
  return loadAsyncByKey(std::move(app), std::move(caller), std::move(idempotency_key), std::move(done));
}

Result<void> InvocationStore::updateAsync(std::string id, AsyncUpdate update, Done<AsyncInvocation> done) {
  if (auto r = checkName("updateAsync", "id", id, true); !r.ok()) return r;
  if (update.response) {
    if (auto r = checkResponse(options_, *update.response); !r.ok()) return r;
  }
  if (update.attempts && *update.attempts < 0) return badInput("updateAsync", "attempts is negative");
  if (update.error && update.error->size() > options_.max_error_bytes) update.error->resize(options_.max_error_bytes);
  return storeAsyncUpdate(std::move(id), std::move(update), std::move(done));
}

Result<void> InvocationStore::expireAsync(Done<int64_t> done) { return deleteExpiredAsync(std::move(done)); }

Result<void> InvocationStore::setCallbackError(std::string id, std::string error, Done<void> done) {
  if (auto r = checkName("setCallbackError", "id", id, true); !r.ok()) return r;
  if (error.size() > options_.max_error_bytes) error.resize(options_.max_error_bytes);
  return storeCallbackError(std::move(id), std::move(error), std::move(done));
}

Result<void> InvocationStore::listUnfinishedAsync(size_t limit, Done<std::vector<std::string>> done) {
  if (limit == 0) return badInput("listUnfinishedAsync", "limit is 0; ask for at least one id");
  return loadUnfinishedAsync(limit, std::move(done));
}

Result<void> InvocationStore::countUnfinishedAsync(Done<std::map<std::string, size_t>> done) {
  return countUnfinished(std::move(done));
}

void InvocationStore::capLogs(std::vector<std::string>& logs) const {
  size_t total = 0;
  for (const auto& line : logs) total += line.size();
  if (logs.size() <= options_.max_log_lines && total <= options_.max_log_bytes) return;
  // Keep the newest lines (the ones just before a failure) within both budgets, behind a
  // marker line saying how many older lines were dropped.
  constexpr std::string_view kCut = " [cut]";
  size_t lines_left = options_.max_log_lines - 1;  // one line is the marker
  size_t budget = options_.max_log_bytes;
  size_t keep_from = logs.size();
  while (keep_from > 0 && lines_left > 0) {
    std::string& line = logs[keep_from - 1];
    if (line.size() <= budget) {
      budget -= line.size();
      --keep_from;
      --lines_left;
      continue;
    }
    if (keep_from == logs.size()) {
      // The newest line alone is over the budget: keep its start rather than nothing.
      line.resize(budget > kCut.size() ? budget - kCut.size() : 0);
      line += kCut;
      --keep_from;
    }
    break;
  }
  if (keep_from == 0) return;  // nothing dropped, only the newest line cut
  std::vector<std::string> kept;
  kept.reserve(logs.size() - keep_from + 1);
  kept.push_back("[gust: " + std::to_string(keep_from) + " earlier log lines dropped]");
  for (size_t i = keep_from; i < logs.size(); ++i) kept.push_back(std::move(logs[i]));
  logs = std::move(kept);
}

Result<void> InvocationStore::addRecords(std::vector<InvocationRecord> records, Done<void> done) {
  constexpr std::string_view what = "addRecords";
  if (records.empty()) return badInput(what, "no records");
  for (auto& record : records) {
    if (auto r = checkName(what, "id", record.id, true); !r.ok()) return r;
    if (auto r = checkName(what, "app", record.app, true); !r.ok()) return r;
    if (auto r = checkName(what, "function", record.function, false); !r.ok()) return r;
    if (auto r = checkName(what, "trace id", record.trace_id, false); !r.ok()) return r;
    if (auto r = checkName(what, "host", record.host, false); !r.ok()) return r;
    if (record.error.size() > options_.max_error_bytes) record.error.resize(options_.max_error_bytes);
    capLogs(record.logs);
  }
  return storeRecords(std::move(records), std::move(done));
}

Result<void> InvocationStore::listRecords(RecordFilter filter, Done<std::vector<InvocationRecord>> done) {
  if (filter.limit == 0 || filter.limit > options_.max_list) {
    return badInput("listRecords", "limit " + std::to_string(filter.limit) + " is outside 1.." +
                                       std::to_string(options_.max_list));
  }
  if (!filter.function.empty() && filter.app.empty()) {
    return badInput("listRecords", "a function filter needs an app filter too");
  }
  if (auto r = checkName("listRecords", "app", filter.app, false); !r.ok()) return r;
  if (auto r = checkName("listRecords", "function", filter.function, false); !r.ok()) return r;
  return loadRecords(std::move(filter), std::move(done));
}

Result<void> InvocationStore::getRecord(std::string id, Done<std::optional<InvocationRecord>> done) {
  if (auto r = checkName("getRecord", "id", id, true); !r.ok()) return r;
  return loadRecord(std::move(id), std::move(done));
}

Result<void> InvocationStore::pruneRecords(Done<int64_t> done) { return deleteOldRecords(std::move(done)); }

}  // namespace gust
