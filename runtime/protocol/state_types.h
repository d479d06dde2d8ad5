#pragma once
// The values of app state (docs/architecture.md "App state") that cross between
// a worker and the host: what a function read, and the writes it buffered,
// which the host commits with the invocation's outcome
// (runtime/store/state_store.h).
//
// The limits here are checked twice, like the queue limits beside them: by the
// worker, so that a function gets an error code at the call that crossed one,
// and by the host, which trusts no worker.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gust {

constexpr size_t kMaxStateKeyBytes = 512;
constexpr size_t kMaxStateValueBytes = 256u << 10;
// Per invocation: buffered writes (a RESULT stays far below the frame limit)
// and reads (a function that loops on get() cannot hold the host's database
// thread for ever).
constexpr size_t kMaxStateWrites = 1000;
constexpr size_t kMaxStateWriteBytes = 8u << 20; // keys and values together
constexpr size_t kMaxStateReads = 1000;
// A TTL longer than this is refused: state that must outlive it has no TTL at
// all.
constexpr std::chrono::milliseconds kMaxStateTtl = std::chrono::hours(24 * 365);
// if_version when the write has no condition (a put wins whatever the key
// holds).
constexpr uint64_t kAnyStateVersion = UINT64_MAX;

// Keys: 1..512 bytes of UTF-8 without control characters. An empty string when
// `key` is one; otherwise what is wrong with it, for the function's log or the
// caller.
std::string stateKeyProblem(std::string_view key);

enum class StateOp : uint32_t { kPut = 1, kRemove = 2 };

// One write a function buffered. Applied in order; a later write of a key sees
// the earlier.
struct StateWrite {
  StateOp op = StateOp::kPut;
  std::string key;
  std::string value; // kPut only
  uint64_t if_version =
      kAnyStateVersion; // N: only if the key is at version N; 0: only if absent
  std::chrono::milliseconds ttl{0}; // kPut only; 0: never expires
};

// What get() read: absent, or the value at a version (1 on create, +1 per put).
struct StateValue {
  std::string value;
  uint64_t version = 0;
};

} // namespace gust
