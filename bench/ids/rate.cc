// What an invocation id costs: ns per IdGenerator::next() (128 bits from RAND_bytes, drawn
// in batches). Prints one figure; `ninja -C build bench/ids_rate && build/bench/ids_rate`.
#include <chrono>
#include <cstdio>
#include <string>

#include "runtime/base/ids.h"

int main() {
  constexpr int kIds = 2'000'000;
  gust::IdGenerator ids;
  size_t checksum = 0;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kIds; ++i) checksum += static_cast<size_t>(ids.next()[0]);
  auto took = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.1f ns per id (%d ids, checksum %zu)\n", took / kIds, kIds, checksum);
  return 0;
}
