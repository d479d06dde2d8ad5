#include "functions/worker/invoke_module.h"

#include "runtime/base/text.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/base/webhook_signature.h"

namespace gust {
namespace {

std::string_view view(gust_str s) { return {s.data, s.size}; }
gust_str str(std::string_view s) { return gust_str{s.data(), s.size()}; }

// The state of one running invocation; the host API reaches it through `host`.
struct Call {
  Call(const InvokeFrame& f, InvocationLog& l, StateReader* s, ConnectionCaller* c)
      : frame(f), log(l), state(s), connections(c) {}

  const InvokeFrame& frame;
  InvocationLog& log;
  StateReader* state;
  ConnectionCaller* connections;
  std::chrono::steady_clock::time_point deadline;
  bool answered = false;
  ResultFrame result;
  // Per message of the batch, built when first asked for: whether it is settled, and the
  // gust_pair view of its headers.
  std::vector<bool> settled;
  std::vector<std::vector<gust_pair>> message_headers;
  size_t publish_bytes = 0;
  bool told_publish_limit = false;
  // App state: what this invocation wrote, as its own reads see it (nullopt: removed), and
  // the value of the last read, which the function borrows until its next state call.
  std::map<std::string, std::optional<StateValue>, std::less<>> own_state;
  std::string state_read;
  size_t state_reads = 0;
  size_t state_write_bytes = 0;
  bool told_state_limit = false;
  std::string webhook_error;  // what the last webhook_verify call found wrong
  size_t connection_calls = 0;
  size_t connection_bytes = 0;
  bool told_connection_limit = false;

  void warn(const std::string& text) { log.line(frame.seq, GUST_LOG_WARN, text); }
};

Call& callOf(void* host) { return *static_cast<Call*>(host); }

void hostRespond(void* host, int32_t status, const gust_pair* headers, size_t count, gust_str body) {
  Call& call = callOf(host);
  if (call.answered) return;
  call.answered = true;
  call.result.kind = ResultKind::kOk;
  call.result.status = status;
  call.result.headers.reserve(count);
  for (size_t i = 0; i < count; ++i) call.result.headers.emplace_back(view(headers[i].name), view(headers[i].value));
  call.result.body.assign(body.data, body.size);
}

void hostFail(void* host, gust_str message) {
  Call& call = callOf(host);
  if (call.answered) return;
  call.answered = true;
  call.result.kind = ResultKind::kError;
  call.result.status = 500;
  call.result.body.assign(message.data, message.size);
}

void hostLog(void* host, int32_t level, gust_str message) {
  Call& call = callOf(host);
  // The host caps what it keeps per invocation; cap here too so one call cannot build a
  // frame past the protocol's limit.
  call.log.line(call.frame.seq, static_cast<uint32_t>(level), view(message).substr(0, kMaxLogLine));
}

int64_t hostRemainingMs(void* host) {
  Call& call = callOf(host);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(call.deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? left.count() : 0;
}

size_t hostMessageCount(void* host) { return callOf(host).frame.messages.size(); }

int32_t hostMessage(void* host, size_t index, gust_message* out) {
  Call& call = callOf(host);
  const auto& messages = call.frame.messages;
  if (index >= messages.size()) return GUST_E_RANGE;
  if (out == nullptr || out->size < sizeof(gust_message)) return GUST_E_INVALID;
  if (call.message_headers.empty()) call.message_headers.resize(messages.size());
  const InvokeMessage& m = messages[index];
  std::vector<gust_pair>& headers = call.message_headers[index];
  if (headers.empty() && !m.headers.empty()) {
    headers.reserve(m.headers.size());
    for (const auto& [name, value] : m.headers) headers.push_back({str(name), str(value)});
  }
  out->id = str(m.id);
  out->queue = str(m.queue);
  out->body = str(m.body);
  out->headers = headers.data();
  out->header_count = headers.size();
  out->attempt = m.attempt;
  out->enqueued_at_ms = m.enqueued_at_ms;
  return GUST_OK;
}

int32_t hostSettle(void* host, size_t index, int32_t action, uint32_t delay_ms, gust_str reason) {
  Call& call = callOf(host);
  const size_t batch = call.frame.messages.size();
  if (index >= batch) {
    call.warn("settle refused: there is no message " + std::to_string(index) + " in a batch of " +
              std::to_string(batch));
    return GUST_E_RANGE;
  }
  if (action < GUST_SETTLE_ACK || action > GUST_SETTLE_DEAD_LETTER) {
    call.warn("settle refused: " + std::to_string(action) + " is not an action (ack 1, retry 2, dead letter 3)");
    return GUST_E_INVALID;
  }
  auto delay = std::chrono::milliseconds(action == GUST_SETTLE_RETRY ? delay_ms : 0);
  if (delay > kMaxMessageDelay) {
    call.warn("retry of message " + std::to_string(index) + " refused: a delay of " + std::to_string(delay_ms) +
              " ms is longer than the limit of " + std::to_string(kMaxMessageDelay.count()) + " ms");
    return GUST_E_INVALID;
  }
  if (call.settled.empty()) call.settled.resize(batch, false);
  if (call.settled[index]) return GUST_E_SETTLED;
  call.settled[index] = true;
  Settlement s;
  s.index = static_cast<uint32_t>(index);
  s.action = static_cast<SettleAction>(action);
  s.delay = delay;
  if (action == GUST_SETTLE_DEAD_LETTER) s.reason = view(reason).substr(0, kMaxSettleReasonBytes);
  call.result.settlements.push_back(std::move(s));
  return GUST_OK;
}

int32_t hostPublish(void* host, gust_str queue, gust_str body, const gust_pair* headers, size_t header_count,
                    gust_str message_id, uint32_t delay_ms) {
  Call& call = callOf(host);
  std::string_view name = view(queue);
  if (!validQueueName(name)) {
    call.warn("publish refused: '" + std::string(name.substr(0, 120)) +
              "' is not a queue name (use 1 to 100 of A-Z a-z 0-9 . _ -, not ending in .dead)");
    return GUST_E_INVALID;
  }
  if (message_id.size > kMaxMessageIdBytes) {
    call.warn("publish to " + std::string(name) + " refused: a message id of " + std::to_string(message_id.size) +
              " bytes is longer than the limit of " + std::to_string(kMaxMessageIdBytes));
    return GUST_E_INVALID;
  }
  if (header_count > kMaxMessageHeaders || (header_count > 0 && headers == nullptr)) {
    call.warn("publish to " + std::string(name) + " refused: " + std::to_string(header_count) +
              " headers, more than the limit of " + std::to_string(kMaxMessageHeaders));
    return GUST_E_INVALID;
  }
  if (std::chrono::milliseconds(delay_ms) > kMaxMessageDelay) {
    call.warn("publish to " + std::string(name) + " refused: a delay of " + std::to_string(delay_ms) +
              " ms is longer than the limit of " + std::to_string(kMaxMessageDelay.count()) + " ms");
    return GUST_E_INVALID;
  }
  size_t bytes = name.size() + message_id.size + body.size;
  for (size_t i = 0; i < header_count; ++i) bytes += headers[i].name.size + headers[i].value.size;
  if (call.result.publishes.size() >= kMaxPublishes || bytes > kMaxPublishBytes - call.publish_bytes) {
    // Said once: a function that loops on a refused publish would otherwise flood the log.
    if (!call.told_publish_limit) {
      call.told_publish_limit = true;
      call.warn("publish to " + std::string(name) + " refused: one invocation may publish at most " +
                std::to_string(kMaxPublishes) + " messages and " + std::to_string(kMaxPublishBytes) +
                " bytes; it has published " + std::to_string(call.result.publishes.size()) + " messages of " +
                std::to_string(call.publish_bytes) + " bytes (split the work over several invocations)");
    }
    return GUST_E_LIMIT;
  }
  call.publish_bytes += bytes;
  Publish p;
  p.queue = name;
  p.id = view(message_id);
  p.body = view(body);
  p.headers.reserve(header_count);
  for (size_t i = 0; i < header_count; ++i) p.headers.emplace_back(view(headers[i].name), view(headers[i].value));
  p.delay = std::chrono::milliseconds(delay_ms);
  call.result.publishes.push_back(std::move(p));
  return GUST_OK;
}

// The key's problem, logged; false when the call must be refused.
bool acceptStateKey(Call& call, const char* what, std::string_view key) {
  std::string why = stateKeyProblem(key);
  if (why.empty()) return true;
  call.warn(std::string("state ") + what + " refused: " + why);
  return false;
}

int32_t hostStateGet(void* host, gust_str key, gust_str* value_out, uint64_t* version_out) {
  Call& call = callOf(host);
  if (value_out == nullptr || version_out == nullptr || !acceptStateKey(call, "get", view(key))) return GUST_E_INVALID;
  if (auto own = call.own_state.find(view(key)); own != call.own_state.end()) {
    if (!own->second) return GUST_E_NOT_FOUND;
    call.state_read = own->second->value;
    *value_out = str(call.state_read);
    *version_out = own->second->version;
    return GUST_OK;
  }
  if (call.state_reads >= kMaxStateReads) {
    if (!call.told_state_limit) {
      call.told_state_limit = true;
      call.warn("state get refused: one invocation may read at most " + std::to_string(kMaxStateReads) + " keys");
    }
    return GUST_E_LIMIT;
  }
  if (call.state == nullptr) {
    call.warn("state get refused: this worker has no way to the host's state");
    return GUST_E_UNAVAILABLE;
  }
  ++call.state_reads;
  auto read = call.state->get(call.frame.seq, view(key));
  if (!read.ok()) {
    call.warn("state get of " + quote(view(key)) + " failed: " + read.error().message);
    return GUST_E_UNAVAILABLE;
  }
  if (!*read) return GUST_E_NOT_FOUND;
  call.state_read = std::move((*read)->value);
  *value_out = str(call.state_read);
  *version_out = (*read)->version;
  return GUST_OK;
}

// Buffers a write for the RESULT; GUST_OK or why it was refused.
int32_t bufferStateWrite(Call& call, StateWrite&& write) {
  const char* what = write.op == StateOp::kPut ? "put" : "remove";
  if (!acceptStateKey(call, what, write.key)) return GUST_E_INVALID;
  if (write.value.size() > kMaxStateValueBytes) {
    call.warn("state put of " + quote(write.key) + " refused: a value of " + std::to_string(write.value.size()) +
              " bytes is larger than the limit of " + std::to_string(kMaxStateValueBytes));
    return GUST_E_INVALID;
  }
  if (write.ttl > kMaxStateTtl) {
    call.warn("state put of " + quote(write.key) + " refused: a TTL of " + std::to_string(write.ttl.count()) +
              " ms is longer than the limit of " + std::to_string(kMaxStateTtl.count()) + " ms");
    return GUST_E_INVALID;
  }
  size_t bytes = write.key.size() + write.value.size();
  if (call.result.state_writes.size() >= kMaxStateWrites || bytes > kMaxStateWriteBytes - call.state_write_bytes) {
    if (!call.told_state_limit) {
      call.told_state_limit = true;
      call.warn(std::string("state ") + what + " refused: one invocation may write at most " +
                std::to_string(kMaxStateWrites) + " keys and " + std::to_string(kMaxStateWriteBytes) + " bytes");
    }
    return GUST_E_LIMIT;
  }
  call.state_write_bytes += bytes;
  if (write.op == StateOp::kRemove) {
    call.own_state.insert_or_assign(write.key, std::nullopt);
  } else {
    // The version the commit will give it, when the write says which it replaces.
    uint64_t version = write.if_version == kAnyStateVersion ? 0 : write.if_version + 1;
    call.own_state.insert_or_assign(write.key, StateValue{write.value, version});
  }
  call.result.state_writes.push_back(std::move(write));
  return GUST_OK;
}

int32_t hostStatePut(void* host, gust_str key, gust_str value, uint64_t if_version, uint64_t ttl_ms) {
  StateWrite write;
  write.op = StateOp::kPut;
  write.key = view(key);
  write.value = view(value);
  write.if_version = if_version;
  write.ttl = std::chrono::milliseconds(static_cast<int64_t>(std::min<uint64_t>(ttl_ms, INT64_MAX)));
  return bufferStateWrite(callOf(host), std::move(write));
}

int32_t hostStateRemove(void* host, gust_str key, uint64_t if_version) {
  StateWrite write;
  write.op = StateOp::kRemove;
  write.key = view(key);
  write.if_version = if_version;
  return bufferStateWrite(callOf(host), std::move(write));
}

std::optional<WebhookScheme> schemeOf(int32_t scheme) {
  switch (scheme) {
    case GUST_WEBHOOK_STANDARD: return WebhookScheme::kStandardWebhooks;
    case GUST_WEBHOOK_GITHUB: return WebhookScheme::kGithub;
    case GUST_WEBHOOK_STRIPE: return WebhookScheme::kStripe;
    default: return std::nullopt;
  }
}

int32_t hostWebhookVerify(void* host, int32_t scheme, gust_str secret, int64_t tolerance_s, const gust_pair* headers,
                          size_t header_count, gust_str body, gust_str* error_out) {
  Call& call = callOf(host);
  auto answer = [&call, error_out](int32_t code, std::string error) {
    call.webhook_error = std::move(error);
    if (error_out != nullptr) *error_out = str(call.webhook_error);
    return code;
  };
  auto known = schemeOf(scheme);
  if (!known) {
    return answer(GUST_E_INVALID, std::to_string(scheme) + " is not a signature scheme (GUST_WEBHOOK_STANDARD 1, "
                                                           "GUST_WEBHOOK_GITHUB 2, GUST_WEBHOOK_STRIPE 3)");
  }
  if (header_count > kMaxPairs || (header_count > 0 && headers == nullptr)) {
    return answer(GUST_E_INVALID, std::to_string(header_count) + " headers, more than the limit of " +
                                      std::to_string(kMaxPairs));
  }
  if (tolerance_s <= 0 || tolerance_s > kMaxWebhookTolerance.count()) {
    return answer(GUST_E_INVALID, "a tolerance of " + std::to_string(tolerance_s) + " s; use 1 to " +
                                      std::to_string(kMaxWebhookTolerance.count()));
  }
  auto verifier = WebhookVerifier::create(*known, view(secret), std::chrono::seconds(tolerance_s));
  if (!verifier) return answer(GUST_E_INVALID, verifier.error().message);
  ViewPairs fields;
  fields.reserve(header_count);
  for (size_t i = 0; i < header_count; ++i) fields.emplace_back(view(headers[i].name), view(headers[i].value));
  // The worker's own clock: nothing ticks a manual one beside user code (docs/architecture.md "Time").
  auto refusal = verifier->verify(fields, view(body), std::chrono::system_clock::now());
  if (!refusal) return answer(GUST_OK, "");
  return answer(GUST_E_UNVERIFIED, std::string(webhookProblemText(refusal->problem)) + ": " + refusal->message);
}

gust_str hostConnectionId(void* host) { return str(callOf(host).frame.connection_id); }

int32_t hostWebsocketInfo(void* host, uint32_t* binary_out, uint32_t* close_code_out) {
  const InvokeFrame& frame = callOf(host).frame;
  if (frame.trigger != GUST_TRIGGER_WEBSOCKET) return GUST_E_INVALID;
  if (binary_out != nullptr) *binary_out = frame.binary ? 1 : 0;
  if (close_code_out != nullptr) *close_code_out = frame.close_code;
  return GUST_OK;
}

// Checks `c` against the per-invocation limits and hands it to the host.
int32_t callConnection(Call& call, ConnectionCall&& c) {
  const char* what = c.op == ConnectionOp::kClose ? "close" : "send";
  if (std::string why = connectionCallProblem(c); !why.empty()) {
    call.warn(std::string("connection ") + what + " refused: " + why);
    return GUST_E_INVALID;
  }
  if (call.connection_calls >= kMaxConnectionCalls ||
      c.data.size() > kMaxConnectionSendBytes - call.connection_bytes) {
    if (!call.told_connection_limit) {
      call.told_connection_limit = true;
      call.warn(std::string("connection ") + what + " refused: one invocation may make at most " +
                std::to_string(kMaxConnectionCalls) + " connection calls and send " +
                std::to_string(kMaxConnectionSendBytes) + " bytes");
    }
    return GUST_E_LIMIT;
  }
  ++call.connection_calls;
  call.connection_bytes += c.data.size();
  if (call.connections == nullptr) return GUST_E_NOT_FOUND;
  return call.connections->call(call.frame.seq, c);
}

int32_t hostConnectionSend(void* host, gust_str id, gust_str data, int32_t binary) {
  ConnectionCall c;
  c.op = binary != 0 ? ConnectionOp::kSendBinary : ConnectionOp::kSendText;
  c.id = view(id);
  c.data = view(data);
  return callConnection(callOf(host), std::move(c));
}

int32_t hostConnectionClose(void* host, gust_str id, int32_t code, gust_str reason) {
  ConnectionCall c;
  c.op = ConnectionOp::kClose;
  c.id = view(id);
  c.data = view(reason);
  c.code = code < 0 ? 0 : static_cast<uint32_t>(code);
  return callConnection(callOf(host), std::move(c));
}

gust_str hostTraceparent(void* host) { return str(callOf(host).frame.traceparent); }
gust_str hostTracestate(void* host) { return str(callOf(host).frame.tracestate); }

// The same for every call: the state is reached through `host`.
const gust_host_api kHostApi = {sizeof(gust_host_api), hostRespond,      hostFail,        hostLog,
                                hostRemainingMs,       hostMessageCount, hostMessage,     hostSettle,
                                hostPublish,           hostTraceparent,  hostTracestate,  hostStateGet,
                                hostStatePut,          hostStateRemove,  hostWebhookVerify,
                                hostConnectionId,      hostWebsocketInfo, hostConnectionSend, hostConnectionClose};

}  // namespace

ResultFrame invokeModule(gust_function_fn fn, const InvokeFrame& frame, std::string_view app,
                         std::string_view function, InvocationLog& log, StateReader* state,
                         ConnectionCaller* connections) {
  Call call(frame, log, state, connections);
  call.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(frame.timeout_ms);
  std::vector<gust_pair> headers, params;
  headers.reserve(frame.headers.size());
  for (const auto& [k, v] : frame.headers) headers.push_back({str(k), str(v)});
  params.reserve(frame.params.size());
  for (const auto& [k, v] : frame.params) params.push_back({str(k), str(v)});
  gust_request request{frame.trigger, str(frame.method), str(frame.path), str(frame.query), headers.data(),
                       headers.size(), params.data(),    params.size(),  str(frame.body)};
  gust_context context{&kHostApi, &call, str(frame.invocation_id), str(app), str(function)};
  fn(&request, &context);
  if (!call.answered) {
    if (frame.trigger == GUST_TRIGGER_QUEUE || frame.trigger == GUST_TRIGGER_WEBSOCKET) {
      // A queue function's answer is its settlements, a WebSocket function's the messages it
      // sent: returning is enough (for a CONNECT, it accepts).
      call.answered = true;
      call.result.status = 204;
    } else {
      hostFail(&call, str("function returned without a response"));
    }
  }
  if (call.result.kind == ResultKind::kError) {
    // The whole batch is retried, and what the failed attempt published must not be sent.
    call.result.settlements.clear();
    call.result.publishes.clear();
    call.result.state_writes.clear();
  }
  call.result.seq = frame.seq;
  return std::move(call.result);
}

}  // namespace gust
