#pragma once
// The wire format between the host and a worker process: length-prefixed binary frames
// over a socketpair. No JSON on the hot path.
//
//   frame   = length:u32 type:u32 payload[length]      (little-endian, as the host CPU)
//   string  = size:u32 bytes[size]
//   pairs   = count:u32 (string string)*count
//
//   INVOKE  = seq:u64 id function_index:u32 timeout_ms:u32 trigger:u32 method path query
//             headers:pairs params:pairs body traceparent tracestate
//             count:u32 (id queue body headers:pairs attempt:u32 enqueued_at_ms:i64)*count
//             connection_id binary:u32 close_code:u32
//   RESULT  = seq:u64 kind:u32 flags:u32 status:i32 headers:pairs body
//             count:u32 (index:u32 action:u32 delay_ms:u32 reason)*count        settlements
//             count:u32 (queue id body headers:pairs delay_ms:u32)*count         publishes
//             count:u32 (op:u32 key value if_version:u64 ttl_ms:u64)*count       state writes
//   STATE_GET   = seq:u64 key                                 (worker -> host, the function waits)
//   STATE_VALUE = seq:u64 status:u32 version:u64 value        (host -> worker; value is the
//                 message when status is kFailed)
//   CONNECTION_CALL   = seq:u64 op:u32 code:u32 id data       (worker -> host, the function waits)
//   CONNECTION_STATUS = seq:u64 status:u32                    (host -> worker: a gust_status)
//
// INVOKE ends with the WebSocket event's fields: connection_id binary:u32 close_code:u32
// (empty and zero for every other trigger).
//
// An HTTP invocation pays 24 bytes for the queue, trace and WebSocket fields it does not use.
// Every frame read is bounded by kMaxFramePayload: a worker that sends more is broken or
// hostile, and the host drops it. Counts are bounded too (runtime/protocol/queue_types.h), and a
// RESULT that breaks a queue or state limit (runtime/protocol/state_types.h) is malformed.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/protocol/connection_call.h"
#include "runtime/protocol/queue_types.h"
#include "runtime/protocol/state_types.h"
#include "runtime/base/result.h"

namespace gust {

enum class FrameType : uint32_t {
  kReady = 1,      // worker -> host: module loaded, every function found
  kInitError = 2,  // worker -> host: why the module could not be loaded; the worker exits
  kInvoke = 3,     // host -> worker
  kResult = 4,     // worker -> host
  kLog = 5,        // worker -> host: a line the function logged through its Context
  kStateGet = 6,   // worker -> host: the function reads a key of its app's state
  kStateValue = 7,  // host -> worker: the answer to the STATE_GET of that seq
  kConnectionCall = 8,    // worker -> host: the function sends to or closes a WebSocket connection
  kConnectionStatus = 9,  // host -> worker: the answer to the CONNECTION_CALL of that seq
};

constexpr size_t kFrameHeaderSize = 8;
constexpr size_t kMaxFramePayload = 32u << 20;
constexpr size_t kMaxPairs = 4096;

using ViewPairs = std::vector<std::pair<std::string_view, std::string_view>>;

// W3C trace context of an invocation (https://www.w3.org/TR/trace-context/). The host sets
// it; the function reads it, and the host stamps it on what the function publishes.
struct TraceContext {
  std::string traceparent;
  std::string tracestate;
};

// The event an invocation carries to its function.
struct Payload {
  uint32_t trigger = 1;  // gust_trigger
  std::string method;
  std::string path;
  std::string query;
  Pairs headers;
  Pairs params;
  std::string body;
  std::vector<QueueMessage> messages;  // the batch of a queue invocation; empty otherwise
  // A WebSocket event (trigger GUST_TRIGGER_WEBSOCKET): the connection it is about, whether
  // a MESSAGE was binary, and the close code a DISCONNECT saw (1006: none was received).
  std::string connection_id;
  bool binary = false;
  uint32_t close_code = 0;
};

// One message of an INVOKE's batch, borrowed from the frame.
struct InvokeMessage {
  std::string_view id, queue, body;
  ViewPairs headers;
  uint32_t attempt = 1;
  int64_t enqueued_at_ms = 0;
};

struct InvokeFrame {
  uint64_t seq = 0;
  std::string_view invocation_id;
  uint32_t function_index = 0;
  uint32_t timeout_ms = 0;
  uint32_t trigger = 1;
  std::string_view method, path, query;
  ViewPairs headers, params;
  std::string_view body;
  std::string_view traceparent, tracestate;
  std::vector<InvokeMessage> messages;
  std::string_view connection_id;
  bool binary = false;
  uint32_t close_code = 0;
};

struct ConnectionCallFrame {
  uint64_t seq = 0;  // the invocation's
  ConnectionCall call;
};

struct ConnectionStatusFrame {
  uint64_t seq = 0;
  int32_t status = 0;  // a gust_status
};

enum class ResultKind : uint32_t { kOk = 0, kError = 1 };

struct ResultFrame {
  static constexpr uint32_t kFlagOutput = 1;  // the function wrote to stdout/stderr

  uint64_t seq = 0;
  ResultKind kind = ResultKind::kOk;
  uint32_t flags = 0;
  int32_t status = 200;
  Pairs headers;
  std::string body;  // the response body, or the error message when kind is kError
  // Only what the function settled explicitly; the host fills in the rest (ack).
  std::vector<Settlement> settlements;
  std::vector<Publish> publishes;
  std::vector<StateWrite> state_writes;  // in the order the function made them
};

struct LogFrame {
  uint64_t seq = 0;
  uint32_t level = 1;
  std::string message;
};

struct StateGetFrame {
  uint64_t seq = 0;  // the invocation's
  std::string key;
};

enum class StateReadStatus : uint32_t { kFound = 0, kMissing = 1, kFailed = 2 };

struct StateValueFrame {
  uint64_t seq = 0;
  StateReadStatus status = StateReadStatus::kMissing;
  uint64_t version = 0;
  std::string value;  // the value when kFound; why when kFailed
};

// Encoders append one whole frame to `out`.
void encodeReady(uint32_t abi_version, std::string& out);
void encodeInitError(std::string_view message, std::string& out);
void encodeInvoke(uint64_t seq, std::string_view invocation_id, uint32_t function_index,
                  uint32_t timeout_ms, const TraceContext& trace, const Payload& payload, std::string& out);
void encodeInvoke(const InvokeFrame& frame, std::string& out);
void encodeResult(const ResultFrame& frame, std::string& out);
void encodeLog(const LogFrame& frame, std::string& out);
void encodeStateGet(const StateGetFrame& frame, std::string& out);
void encodeStateValue(const StateValueFrame& frame, std::string& out);
void encodeConnectionCall(const ConnectionCallFrame& frame, std::string& out);
void encodeConnectionStatus(const ConnectionStatusFrame& frame, std::string& out);

// Decoders read one frame's payload. InvokeFrame borrows from `payload`. decodeResult also
// checks the queue and state limits a worker must keep (counts, sizes, queue names,
// delays, state keys and TTLs).
Result<uint32_t> decodeReady(std::string_view payload);
Result<std::string> decodeInitError(std::string_view payload);
Result<InvokeFrame> decodeInvoke(std::string_view payload);
Result<ResultFrame> decodeResult(std::string_view payload);
Result<LogFrame> decodeLog(std::string_view payload);
// Also checks the key (stateKeyProblem): a worker that sends a bad one is broken.
Result<StateGetFrame> decodeStateGet(std::string_view payload);
Result<StateValueFrame> decodeStateValue(std::string_view payload);
// Also checks the call (connectionCallProblem): a worker that sends a bad one is broken.
Result<ConnectionCallFrame> decodeConnectionCall(std::string_view payload);
Result<ConnectionStatusFrame> decodeConnectionStatus(std::string_view payload);
// The seq an answer frame (STATE_VALUE, CONNECTION_STATUS) is for; both begin with it.
Result<uint64_t> answerSeqOf(std::string_view payload);

// Splits a byte stream into frames. Owning thread: whoever feeds it.
class FrameDecoder {
 public:
  explicit FrameDecoder(size_t max_payload = kMaxFramePayload) : max_payload_(max_payload) {}

  void feed(const char* data, size_t size) { buffer_.append(data, size); }

  enum class Status { kFrame, kNeedMore, kError };
  // On kFrame, `type` and `payload` describe the next frame; `payload` stays valid until the
  // next call to feed() or next(). On kError, error() says why; the stream is unusable.
  Status next(FrameType& type, std::string_view& payload);
  const std::string& error() const { return error_; }
  size_t buffered() const { return buffer_.size() - offset_; }
  // Hands over the bytes not yet returned as frames (a frame cut short included), so that
  // another decoder can go on with the stream; this one is then empty. A payload returned
  // before stays valid until the next feed() or next().
  std::string takeRest() {
    std::string rest = buffer_.substr(offset_);
    offset_ = buffer_.size();
    return rest;
  }

 private:
  std::string buffer_;
  size_t offset_ = 0;
  size_t max_payload_;
  std::string error_;
};

}  // namespace gust
