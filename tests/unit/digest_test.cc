#include "runtime/base/digest.h"

#include <doctest/doctest.h>

#include <string>

using namespace gust;

TEST_CASE("SHA-256 gives the FIPS 180-2 test vectors, one-off and from a reused hasher") {
  const std::string abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  const std::string empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  CHECK(toHex(sha256("abc")) == abc);
  CHECK(toHex(sha256("")) == empty);
  Sha256 hasher;
  for (int i = 0; i < 3; ++i) {  // each digest starts afresh
    CHECK(toHex(hasher.digest("abc")) == abc);
    CHECK(toHex(hasher.digest("")) == empty);
  }
}

TEST_CASE("constantTimeEquals is plain equality, lengths included") {
  CHECK(constantTimeEquals("token", "token"));
  CHECK_FALSE(constantTimeEquals("token", "tokem"));
  CHECK_FALSE(constantTimeEquals("token", "token2"));
  CHECK(constantTimeEquals("", ""));
}
