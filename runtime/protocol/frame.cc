#include "runtime/protocol/frame.h"

#include <algorithm>
#include <cstring>

namespace gust {
namespace {

void putU32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }
void putU64(std::string& out, uint64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); }
void putStr(std::string& out, std::string_view s) {
  putU32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}
template <typename P>
void putPairs(std::string& out, const P& pairs) {
  putU32(out, static_cast<uint32_t>(pairs.size()));
  for (const auto& [name, value] : pairs) {
    putStr(out, name);
    putStr(out, value);
  }
}

// Reserves a header, runs `body`, then patches the length in.
template <typename F>
void frame(std::string& out, FrameType type, F&& body) {
  size_t start = out.size();
  putU32(out, 0);
  putU32(out, static_cast<uint32_t>(type));
  body();
  uint32_t length = static_cast<uint32_t>(out.size() - start - kFrameHeaderSize);
  std::memcpy(out.data() + start, &length, 4);
}

// One INVOKE frame, from owned strings (the host) or views (the fuzzer's round trip).
template <typename P, typename M>
void putInvoke(std::string& out, uint64_t seq, std::string_view id, uint32_t function_index, uint32_t timeout_ms,
               uint32_t trigger, std::string_view method, std::string_view path, std::string_view query,
               const P& headers, const P& params, std::string_view body, std::string_view traceparent,
               std::string_view tracestate, const std::vector<M>& messages, std::string_view connection_id,
               bool binary, uint32_t close_code) {
  frame(out, FrameType::kInvoke, [&] {
    putU64(out, seq);
    putStr(out, id);
    putU32(out, function_index);
    putU32(out, timeout_ms);
    putU32(out, trigger);
    putStr(out, method);
    putStr(out, path);
    putStr(out, query);
    putPairs(out, headers);
    putPairs(out, params);
    putStr(out, body);
    putStr(out, traceparent);
    putStr(out, tracestate);
    putU32(out, static_cast<uint32_t>(messages.size()));
    for (const M& m : messages) {
      putStr(out, m.id);
      putStr(out, m.queue);
      putStr(out, m.body);
      putPairs(out, m.headers);
      putU32(out, m.attempt);
      putU64(out, static_cast<uint64_t>(m.enqueued_at_ms));
    }
    putStr(out, connection_id);
    putU32(out, binary ? 1 : 0);
    putU32(out, close_code);
  });
}

// Bounds-checked reads over one payload; every failure leaves ok() false.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  uint32_t u32() {
    uint32_t v = 0;
    if (!take(4)) return 0;
    std::memcpy(&v, data_.data() + pos_ - 4, 4);
    return v;
  }
  uint64_t u64() {
    uint64_t v = 0;
    if (!take(8)) return 0;
    std::memcpy(&v, data_.data() + pos_ - 8, 8);
    return v;
  }
  std::string_view str() {
    uint32_t size = u32();
    if (!take(size)) return {};
    return data_.substr(pos_ - size, size);
  }
  template <typename Out>
  void pairs(Out& out, size_t max = kMaxPairs) {
    uint32_t count = this->count(max, 8);
    out.reserve(count);
    for (uint32_t i = 0; i < count && ok_; ++i) {
      auto name = str();
      auto value = str();
      out.emplace_back(name, value);
    }
  }
  // A count of items of at least `min_item_bytes` each. A count larger than what the bytes
  // left could hold is a lie, and is refused before anything is reserved for it.
  uint32_t count(size_t max, size_t min_item_bytes) {
    uint32_t n = u32();
    if (!ok_ || n > max || n > (data_.size() - pos_) / min_item_bytes) {
      ok_ = false;
      return 0;
    }
    return n;
  }
  void fail() { ok_ = false; }
  bool ok() const { return ok_; }
  bool finished() const { return ok_ && pos_ == data_.size(); }

 private:
  bool take(size_t n) {
    if (!ok_ || data_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    pos_ += n;
    return true;
  }
  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

Error malformed(const char* what) {
  return makeError(ErrorKind::kBadInput, std::string("malformed ") + what + " frame from worker");
}

Error malformedResult(const std::string& why) {
  return makeError(ErrorKind::kBadInput, "malformed RESULT frame from worker: " + why);
}

// Smallest wire size of a batch message, a settlement and a publish (all strings empty).
constexpr size_t kMinMessageBytes = 4 + 4 + 4 + 4 + 4 + 8;
constexpr size_t kMinSettlementBytes = 4 + 4 + 4 + 4;
constexpr size_t kMinPublishBytes = 4 + 4 + 4 + 4 + 4;
constexpr size_t kMinStateWriteBytes = 4 + 4 + 4 + 8 + 8;

// The state limits a worker must keep; an empty string when `f` keeps them.
std::string checkStateLimits(const ResultFrame& f) {
  size_t bytes = 0;
  for (size_t i = 0; i < f.state_writes.size(); ++i) {
    const StateWrite& w = f.state_writes[i];
    std::string which = "state write " + std::to_string(i);
    if (w.op != StateOp::kPut && w.op != StateOp::kRemove) return which + " has no operation (put 1, remove 2)";
    if (std::string why = stateKeyProblem(w.key); !why.empty()) return which + ": " + why;
    if (w.value.size() > kMaxStateValueBytes || (w.op == StateOp::kRemove && !w.value.empty())) {
      return which + " has a value of " + std::to_string(w.value.size()) + " bytes, more than the limit of " +
             std::to_string(kMaxStateValueBytes);
    }
    if (w.ttl < std::chrono::milliseconds(0) || w.ttl > kMaxStateTtl) {
      return which + " has a TTL past the limit of " + std::to_string(kMaxStateTtl.count()) + " ms";
    }
    bytes += w.key.size() + w.value.size();
  }
  if (bytes > kMaxStateWriteBytes) {
    return "state writes total " + std::to_string(bytes) + " bytes, more than the limit of " +
           std::to_string(kMaxStateWriteBytes) + " per invocation";
  }
  return {};
}

// The queue limits a worker must keep; an empty string when `f` keeps them.
std::string checkQueueLimits(const ResultFrame& f) {
  for (const Settlement& s : f.settlements) {
    if (s.delay > kMaxMessageDelay) {
      return "settlement of message " + std::to_string(s.index) + " delays it by " + std::to_string(s.delay.count()) +
             " ms, more than the limit of " + std::to_string(kMaxMessageDelay.count()) + " ms";
    }
    if (s.reason.size() > kMaxSettleReasonBytes) {
      return "settlement of message " + std::to_string(s.index) + " has a reason of " + std::to_string(s.reason.size()) +
             " bytes, more than the limit of " + std::to_string(kMaxSettleReasonBytes);
    }
  }
  size_t bytes = 0;
  for (size_t i = 0; i < f.publishes.size(); ++i) {
    const Publish& p = f.publishes[i];
    std::string which = "publish " + std::to_string(i);
    if (!validQueueName(p.queue)) return which + " names an invalid queue '" + p.queue.substr(0, 120) + "'";
    if (p.id.size() > kMaxMessageIdBytes) return which + " has a message id longer than " + std::to_string(kMaxMessageIdBytes) + " bytes";
    if (p.delay > kMaxMessageDelay) return which + " is delayed past the limit of " + std::to_string(kMaxMessageDelay.count()) + " ms";
    bytes += p.queue.size() + p.id.size() + p.body.size();
    for (const auto& [name, value] : p.headers) bytes += name.size() + value.size();
  }
  if (bytes > kMaxPublishBytes) {
    return "publishes total " + std::to_string(bytes) + " bytes, more than the limit of " +
           std::to_string(kMaxPublishBytes) + " per invocation";
  }
  return {};
}

}  // namespace

void encodeReady(uint32_t abi_version, std::string& out) {
  frame(out, FrameType::kReady, [&] { putU32(out, abi_version); });
}

void encodeInitError(std::string_view message, std::string& out) {
  frame(out, FrameType::kInitError, [&] { putStr(out, message); });
}

void encodeInvoke(uint64_t seq, std::string_view invocation_id, uint32_t function_index,
                  uint32_t timeout_ms, const TraceContext& trace, const Payload& p, std::string& out) {
  putInvoke(out, seq, invocation_id, function_index, timeout_ms, p.trigger, p.method, p.path, p.query, p.headers,
            p.params, p.body, trace.traceparent, trace.tracestate, p.messages, p.connection_id, p.binary, p.close_code);
}

void encodeInvoke(const InvokeFrame& f, std::string& out) {
  putInvoke(out, f.seq, f.invocation_id, f.function_index, f.timeout_ms, f.trigger, f.method, f.path, f.query,
            f.headers, f.params, f.body, f.traceparent, f.tracestate, f.messages, f.connection_id, f.binary,
            f.close_code);
}

void encodeResult(const ResultFrame& f, std::string& out) {
  frame(out, FrameType::kResult, [&] {
    putU64(out, f.seq);
    putU32(out, static_cast<uint32_t>(f.kind));
    putU32(out, f.flags);
    putU32(out, static_cast<uint32_t>(f.status));
    putPairs(out, f.headers);
    putStr(out, f.body);
    putU32(out, static_cast<uint32_t>(f.settlements.size()));
    for (const Settlement& s : f.settlements) {
      putU32(out, s.index);
      putU32(out, static_cast<uint32_t>(s.action));
      putU32(out, static_cast<uint32_t>(s.delay.count()));
      putStr(out, s.reason);
    }
    putU32(out, static_cast<uint32_t>(f.publishes.size()));
    for (const Publish& p : f.publishes) {
      putStr(out, p.queue);
      putStr(out, p.id);
      putStr(out, p.body);
      putPairs(out, p.headers);
      putU32(out, static_cast<uint32_t>(p.delay.count()));
    }
    putU32(out, static_cast<uint32_t>(f.state_writes.size()));
    for (const StateWrite& w : f.state_writes) {
      putU32(out, static_cast<uint32_t>(w.op));
      putStr(out, w.key);
      putStr(out, w.value);
      putU64(out, w.if_version);
      putU64(out, static_cast<uint64_t>(w.ttl.count()));
    }
  });
}

void encodeLog(const LogFrame& f, std::string& out) {
  frame(out, FrameType::kLog, [&] {
    putU64(out, f.seq);
    putU32(out, f.level);
    putStr(out, f.message);
  });
}

void encodeStateGet(const StateGetFrame& f, std::string& out) {
  frame(out, FrameType::kStateGet, [&] {
    putU64(out, f.seq);
    putStr(out, f.key);
  });
}

void encodeStateValue(const StateValueFrame& f, std::string& out) {
  frame(out, FrameType::kStateValue, [&] {
    putU64(out, f.seq);
    putU32(out, static_cast<uint32_t>(f.status));
    putU64(out, f.version);
    putStr(out, f.value);
  });
}

void encodeConnectionCall(const ConnectionCallFrame& f, std::string& out) {
  frame(out, FrameType::kConnectionCall, [&] {
    putU64(out, f.seq);
    putU32(out, static_cast<uint32_t>(f.call.op));
    putU32(out, f.call.code);
    putStr(out, f.call.id);
    putStr(out, f.call.data);
  });
}

void encodeConnectionStatus(const ConnectionStatusFrame& f, std::string& out) {
  frame(out, FrameType::kConnectionStatus, [&] {
    putU64(out, f.seq);
    putU32(out, static_cast<uint32_t>(f.status));
  });
}

Result<uint32_t> decodeReady(std::string_view payload) {
  Reader r(payload);
  uint32_t version = r.u32();
  if (!r.finished()) return malformed("READY");
  return version;
}

Result<std::string> decodeInitError(std::string_view payload) {
  Reader r(payload);
  std::string message(r.str());
  if (!r.finished()) return malformed("INIT_ERROR");
  return message;
}

Result<InvokeFrame> decodeInvoke(std::string_view payload) {
  Reader r(payload);
  InvokeFrame f;
  f.seq = r.u64();
  f.invocation_id = r.str();
  f.function_index = r.u32();
  f.timeout_ms = r.u32();
  f.trigger = r.u32();
  f.method = r.str();
  f.path = r.str();
  f.query = r.str();
  r.pairs(f.headers);
  r.pairs(f.params);
  f.body = r.str();
  f.traceparent = r.str();
  f.tracestate = r.str();
  uint32_t count = r.count(kMaxBatch, kMinMessageBytes);
  f.messages.resize(count);
  for (InvokeMessage& m : f.messages) {
    if (!r.ok()) break;
    m.id = r.str();
    m.queue = r.str();
    m.body = r.str();
    r.pairs(m.headers, kMaxMessageHeaders);
    m.attempt = r.u32();
    m.enqueued_at_ms = static_cast<int64_t>(r.u64());
  }
  f.connection_id = r.str();
  uint32_t binary = r.u32();
  if (binary > 1) r.fail();  // a flag is 0 or 1; anything else is a corrupt frame, not "true"
  f.binary = binary == 1;
  f.close_code = r.u32();
  if (!r.finished()) return malformed("INVOKE");
  return f;
}

Result<ResultFrame> decodeResult(std::string_view payload) {
  Reader r(payload);
  ResultFrame f;
  f.seq = r.u64();
  uint32_t kind = r.u32();
  f.flags = r.u32();
  f.status = static_cast<int32_t>(r.u32());
  r.pairs(f.headers);
  f.body = std::string(r.str());
  uint32_t settlements = r.count(kMaxBatch, kMinSettlementBytes);
  f.settlements.resize(settlements);
  for (Settlement& s : f.settlements) {
    if (!r.ok()) break;
    s.index = r.u32();
    uint32_t action = r.u32();
    if (action < static_cast<uint32_t>(SettleAction::kAck) || action > static_cast<uint32_t>(SettleAction::kDeadLetter)) {
      r.fail();
    }
    s.action = static_cast<SettleAction>(action);
    s.delay = std::chrono::milliseconds(r.u32());
    s.reason = std::string(r.str());
  }
  uint32_t publishes = r.count(kMaxPublishes, kMinPublishBytes);
  f.publishes.resize(publishes);
  for (Publish& p : f.publishes) {
    if (!r.ok()) break;
    p.queue = std::string(r.str());
    p.id = std::string(r.str());
    p.body = std::string(r.str());
    r.pairs(p.headers, kMaxMessageHeaders);
    p.delay = std::chrono::milliseconds(r.u32());
  }
  uint32_t writes = r.count(kMaxStateWrites, kMinStateWriteBytes);
  f.state_writes.resize(writes);
  for (StateWrite& w : f.state_writes) {
    if (!r.ok()) break;
    w.op = static_cast<StateOp>(r.u32());
    w.key = std::string(r.str());
    w.value = std::string(r.str());
    w.if_version = r.u64();
    // Past the limit either way; clamped so that the cast cannot wrap to a negative TTL.
    w.ttl = std::chrono::milliseconds(static_cast<int64_t>(std::min<uint64_t>(r.u64(), INT64_MAX)));
  }
  if (!r.finished()) return malformed("RESULT");
  if (kind > static_cast<uint32_t>(ResultKind::kError)) return malformed("RESULT");
  f.kind = static_cast<ResultKind>(kind);
  if (std::string why = checkQueueLimits(f); !why.empty()) return malformedResult(why);
  if (std::string why = checkStateLimits(f); !why.empty()) return malformedResult(why);
  return f;
}

Result<LogFrame> decodeLog(std::string_view payload) {
  Reader r(payload);
  LogFrame f;
  f.seq = r.u64();
  f.level = r.u32();
  f.message = std::string(r.str());
  if (!r.finished()) return malformed("LOG");
  return f;
}

Result<StateGetFrame> decodeStateGet(std::string_view payload) {
  Reader r(payload);
  StateGetFrame f;
  f.seq = r.u64();
  f.key = std::string(r.str());
  if (!r.finished()) return malformed("STATE_GET");
  if (std::string why = stateKeyProblem(f.key); !why.empty()) {
    return makeError(ErrorKind::kBadInput, "malformed STATE_GET frame from worker: " + why);
  }
  return f;
}

Result<StateValueFrame> decodeStateValue(std::string_view payload) {
  Reader r(payload);
  StateValueFrame f;
  f.seq = r.u64();
  uint32_t status = r.u32();
  f.version = r.u64();
  f.value = std::string(r.str());
  if (!r.finished() || status > static_cast<uint32_t>(StateReadStatus::kFailed)) return malformed("STATE_VALUE");
  f.status = static_cast<StateReadStatus>(status);
  return f;
}

Result<ConnectionCallFrame> decodeConnectionCall(std::string_view payload) {
  Reader r(payload);
  ConnectionCallFrame f;
  f.seq = r.u64();
  f.call.op = static_cast<ConnectionOp>(r.u32());
  f.call.code = r.u32();
  f.call.id = std::string(r.str());
  f.call.data = std::string(r.str());
  if (!r.finished()) return malformed("CONNECTION_CALL");
  if (std::string why = connectionCallProblem(f.call); !why.empty()) {
    return makeError(ErrorKind::kBadInput, "malformed CONNECTION_CALL frame from worker: " + why);
  }
  return f;
}

Result<ConnectionStatusFrame> decodeConnectionStatus(std::string_view payload) {
  Reader r(payload);
  ConnectionStatusFrame f;
  f.seq = r.u64();
  f.status = static_cast<int32_t>(r.u32());
  if (!r.finished()) return malformed("CONNECTION_STATUS");
  return f;
}

Result<uint64_t> answerSeqOf(std::string_view payload) {
  Reader r(payload);
  uint64_t seq = r.u64();
  if (!r.ok()) return malformed("answer");
  return seq;
}

FrameDecoder::Status FrameDecoder::next(FrameType& type, std::string_view& payload) {
  if (!error_.empty()) return Status::kError;
  // Compact once the consumed prefix dominates, so the buffer does not grow without end.
  if (offset_ > 0 && offset_ >= buffer_.size() / 2) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  size_t available = buffer_.size() - offset_;
  if (available < kFrameHeaderSize) return Status::kNeedMore;
  uint32_t length = 0;
  uint32_t raw_type = 0;
  std::memcpy(&length, buffer_.data() + offset_, 4);
  std::memcpy(&raw_type, buffer_.data() + offset_ + 4, 4);
  if (length > max_payload_) {
    error_ = "frame of " + std::to_string(length) + " bytes exceeds the limit of " +
             std::to_string(max_payload_) + " bytes";
    return Status::kError;
  }
  if (raw_type < static_cast<uint32_t>(FrameType::kReady) ||
      raw_type > static_cast<uint32_t>(FrameType::kConnectionStatus)) {
    error_ = "unknown frame type " + std::to_string(raw_type);
    return Status::kError;
  }
  if (available - kFrameHeaderSize < length) return Status::kNeedMore;
  type = static_cast<FrameType>(raw_type);
  payload = std::string_view(buffer_.data() + offset_ + kFrameHeaderSize, length);
  offset_ += kFrameHeaderSize + length;
  return Status::kFrame;
}

}  // namespace gust
