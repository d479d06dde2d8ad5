// libFuzzer target: bytes from a worker fed to the frame decoder in random-sized pieces,
// every frame decoded by type (the host's answers too, which the worker decodes). Nothing
// may crash or read out of bounds; a decoded frame re-encodes to the bytes it came from,
// and a queue frame keeps the queue limits (batch, settlements, publishes). The seeds in
// corpus/fuzz_frame hold a queue INVOKE, a RESULT with settlements and publishes, and the
// state and connection calls with their answers, so that mutations start from deep fields.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/protocol/frame.h"

namespace {

// A frame the decoder accepted encodes back to the very payload it came from.
template <typename Frame>
void roundTrips(const Frame& frame, void (*encode)(const Frame&, std::string&), std::string_view payload) {
  std::string again;
  encode(frame, again);
  if (again.substr(gust::kFrameHeaderSize) != payload) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t chunk = 1 + data[0] % 64;
  const char* bytes = reinterpret_cast<const char*>(data + 1);
  size_t left = size - 1;
  gust::FrameDecoder decoder(1u << 16);
  while (left > 0) {
    size_t n = left < chunk ? left : chunk;
    decoder.feed(bytes, n);
    bytes += n;
    left -= n;
    gust::FrameType type;
    std::string_view payload;
    gust::FrameDecoder::Status status;
    while ((status = decoder.next(type, payload)) == gust::FrameDecoder::Status::kFrame) {
      switch (type) {
        case gust::FrameType::kInvoke:
          if (auto f = gust::decodeInvoke(payload)) {
            if (f->messages.size() > gust::kMaxBatch) __builtin_trap();
            for (const auto& m : f->messages) {
              if (m.headers.size() > gust::kMaxMessageHeaders) __builtin_trap();
            }
            roundTrips<gust::InvokeFrame>(*f, gust::encodeInvoke, payload);
          }
          break;
        case gust::FrameType::kResult:
          if (auto f = gust::decodeResult(payload)) {
            if (f->settlements.size() > gust::kMaxBatch || f->publishes.size() > gust::kMaxPublishes) __builtin_trap();
            for (const auto& s : f->settlements) {
              if (s.action != gust::SettleAction::kAck && s.action != gust::SettleAction::kRetry &&
                  s.action != gust::SettleAction::kDeadLetter) {
                __builtin_trap();
              }
            }
            for (const auto& p : f->publishes) {
              if (!gust::validQueueName(p.queue)) __builtin_trap();
            }
            roundTrips(*f, gust::encodeResult, payload);
          }
          break;
        case gust::FrameType::kLog:
          if (auto f = gust::decodeLog(payload)) roundTrips(*f, gust::encodeLog, payload);
          break;
        case gust::FrameType::kStateGet:
          if (auto f = gust::decodeStateGet(payload)) roundTrips(*f, gust::encodeStateGet, payload);
          break;
        case gust::FrameType::kStateValue:
          if (auto f = gust::decodeStateValue(payload)) roundTrips(*f, gust::encodeStateValue, payload);
          break;
        case gust::FrameType::kConnectionCall:
          if (auto f = gust::decodeConnectionCall(payload)) roundTrips(*f, gust::encodeConnectionCall, payload);
          break;
        case gust::FrameType::kConnectionStatus:
          if (auto f = gust::decodeConnectionStatus(payload)) roundTrips(*f, gust::encodeConnectionStatus, payload);
          break;
        case gust::FrameType::kReady:
          (void)gust::decodeReady(payload);
          break;
        case gust::FrameType::kInitError:
          (void)gust::decodeInitError(payload);
          break;
      }
    }
    if (status == gust::FrameDecoder::Status::kError) break;
  }
  return 0;
}
