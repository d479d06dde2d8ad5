#pragma once
// Ids that a stranger may see and must not guess: invocation ids (the capability to read an
// async result), queue message ids and lease tokens. Each is 32 hex digits holding 128 bits
// from the operating system's CSPRNG (OpenSSL's RAND_bytes), with no counter and no prefix
// shared between ids, so one id tells nothing about the next (docs/security.md).
//
// Not thread-safe: one generator per thread. Random bytes are drawn in batches, so the hot
// path pays one call into OpenSSL per kIdsPerBatch ids.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace gust {

class IdGenerator {
 public:
  static constexpr size_t kIdBytes = 16;  // 128 bits
  static constexpr size_t kIdChars = 2 * kIdBytes;
  static constexpr size_t kIdsPerBatch = 64;

  std::string next();

 private:
  std::array<uint8_t, kIdBytes * kIdsPerBatch> pool_{};
  size_t used_ = kIdBytes * kIdsPerBatch;  // empty until the first id
};

}  // namespace gust
