#pragma once
// SHA-256 (OpenSSL EVP), for what must be compared without being kept: function keys are
// stored as their digest, and an idempotent request is remembered by the digest of its
// method, path, query and body.

#include <string>
#include <string_view>

namespace gust {

// The 32 raw bytes of SHA-256(bytes).
std::string sha256(std::string_view bytes);

// `bytes` as lower-case hex digits, two per byte.
std::string toHex(std::string_view bytes);

// True when `a` and `b` are equal, in time that depends on their length only (CRYPTO_memcmp):
// the length of a token or a digest is not secret, its bytes are.
bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace gust
