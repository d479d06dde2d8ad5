#pragma once
// Invocation ids: 16 random hex digits fixed per host process, then a counter. Unique
// across restarts (the random part) and cheap on the hot path (no syscall per id).

#include <cstdint>
#include <random>
#include <string>

namespace gust {

class IdGenerator {
 public:
  IdGenerator() {
    std::random_device rd;
    prefix_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }

  std::string next() {
    static constexpr char kHex[] = "0123456789abcdef";
    uint64_t n = ++counter_;
    std::string id(24, '0');
    for (int i = 0; i < 16; ++i) id[static_cast<size_t>(i)] = kHex[(prefix_ >> (60 - 4 * i)) & 0xf];
    for (int i = 23; i >= 16; --i, n >>= 4) id[static_cast<size_t>(i)] = kHex[n & 0xf];
    return id;
  }

 private:
  uint64_t prefix_ = 0;
  uint64_t counter_ = 0;
};

}  // namespace gust
