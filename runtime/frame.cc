#include "runtime/frame.h"

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
template <typename P>
void putInvoke(std::string& out, uint64_t seq, std::string_view id, uint32_t function_index, uint32_t timeout_ms,
               uint32_t trigger, std::string_view method, std::string_view path, std::string_view query,
               const P& headers, const P& params, std::string_view body) {
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
  void pairs(Out& out) {
    uint32_t count = u32();
    // Each pair needs at least 8 bytes, so a count larger than what remains is a lie.
    if (count > kMaxPairs || count > (data_.size() - pos_) / 8) {
      ok_ = false;
      return;
    }
    out.reserve(count);
    for (uint32_t i = 0; i < count && ok_; ++i) {
      auto name = str();
      auto value = str();
      out.emplace_back(name, value);
    }
  }
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

}  // namespace

void encodeReady(uint32_t abi_version, std::string& out) {
  frame(out, FrameType::kReady, [&] { putU32(out, abi_version); });
}

void encodeInitError(std::string_view message, std::string& out) {
  frame(out, FrameType::kInitError, [&] { putStr(out, message); });
}

void encodeInvoke(uint64_t seq, std::string_view invocation_id, uint32_t function_index,
                  uint32_t timeout_ms, const Payload& p, std::string& out) {
  putInvoke(out, seq, invocation_id, function_index, timeout_ms, p.trigger, p.method, p.path, p.query, p.headers,
            p.params, p.body);
}

void encodeInvoke(const InvokeFrame& f, std::string& out) {
  putInvoke(out, f.seq, f.invocation_id, f.function_index, f.timeout_ms, f.trigger, f.method, f.path, f.query,
            f.headers, f.params, f.body);
}

void encodeResult(const ResultFrame& f, std::string& out) {
  frame(out, FrameType::kResult, [&] {
    putU64(out, f.seq);
    putU32(out, static_cast<uint32_t>(f.kind));
    putU32(out, f.flags);
    putU32(out, static_cast<uint32_t>(f.status));
    putPairs(out, f.headers);
    putStr(out, f.body);
  });
}

void encodeLog(const LogFrame& f, std::string& out) {
  frame(out, FrameType::kLog, [&] {
    putU64(out, f.seq);
    putU32(out, f.level);
    putStr(out, f.message);
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
  if (!r.finished()) return malformed("RESULT");
  if (kind > static_cast<uint32_t>(ResultKind::kError)) return malformed("RESULT");
  f.kind = static_cast<ResultKind>(kind);
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
      raw_type > static_cast<uint32_t>(FrameType::kLog)) {
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
