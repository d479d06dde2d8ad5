#pragma once
// SHA-256 (OpenSSL EVP), for what must be compared without being kept: function keys are
// stored as their digest, and an idempotent request is remembered by the digest of its
// method, path, query and body.

#include <openssl/types.h>

#include <string>
#include <string_view>

namespace gust {

// The 32 raw bytes of SHA-256(bytes).
std::string sha256(std::string_view bytes);

// SHA-256 for a hot path: OpenSSL 3 looks its implementation up again on every sha256()
// call, which is most of the cost for a short input (a function key: 515 ns against 180 ns
// with the lookup done once, bench/public). One owner, one thread at a time.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // As sha256(bytes).
  std::string digest(std::string_view bytes);

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

// `bytes` as lower-case hex digits, two per byte.
std::string toHex(std::string_view bytes);

// True when `a` and `b` are equal, in time that depends on their length only (CRYPTO_memcmp):
// the length of a token or a digest is not secret, its bytes are.
bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace gust
