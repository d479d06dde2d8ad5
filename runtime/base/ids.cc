#include "runtime/base/ids.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

namespace gust {

std::string IdGenerator::next() {
  if (used_ == pool_.size()) {
    // RAND_bytes fails only when the CSPRNG cannot be seeded. An id that is not random
    // would be guessable, and no exception may cross the loop (STYLE 9), so the host stops.
    if (RAND_bytes(pool_.data(), static_cast<int>(pool_.size())) != 1) {
      std::fprintf(stderr, "gust: the system's random number generator failed; no unguessable id can be made\n");
      std::abort();
    }
    used_ = 0;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(kIdChars, '0');
  for (size_t i = 0; i < kIdBytes; ++i) {
    uint8_t b = pool_[used_ + i];
    id[2 * i] = kHex[b >> 4];
    id[2 * i + 1] = kHex[b & 0xf];
  }
  // Spent bytes are wiped, so a memory read later cannot recover ids handed out already.
  OPENSSL_cleanse(pool_.data() + used_, kIdBytes);
  used_ += kIdBytes;
  return id;
}

}  // namespace gust
