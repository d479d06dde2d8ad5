// What the public surface's checks cost per request, on the real code: an invocation id
// (IdGenerator::next, 128 bits from RAND_bytes drawn in batches) and a function key check
// (KeyStore::find: SHA-256 of the key sent and one lookup, for a valid and an invalid key).
// Prints one line per figure:
//   ninja -C build bench/public_costs && build/bench/public_costs
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "runtime/base/clock.h"
#include "runtime/base/ids.h"
#include "runtime/store/key_store.h"
#include "runtime/store/sqlite_writer.h"

namespace {

template <typename F>
double nsPer(int n, F&& f) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) f();
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / n;
}

}  // namespace

int main() {
  constexpr int kRounds = 1'000'000;
  gust::IdGenerator ids;
  size_t sink = 0;
  std::printf("id:              %6.1f ns\n", nsPer(kRounds, [&] { sink += static_cast<size_t>(ids.next()[0]); }));

  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("gust-bench-keys-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  uv_loop_t loop;
  uv_loop_init(&loop);
  gust::SqliteWriterOptions options;
  options.path = dir / "gust.db";
  auto writer = gust::SqliteWriter::open(&loop, options);
  gust::SystemClock clock;
  auto keys = writer ? gust::KeyStore::open(**writer, clock) : gust::Result<std::unique_ptr<gust::KeyStore>>(writer.error());
  if (!keys) return std::fprintf(stderr, "bench: %s\n", keys.error().message.c_str()), 1;
  // A realistic set: an app with the most keys it may have.
  std::optional<std::string> secret;
  for (int i = 0; i < 100; ++i) {
    auto made = (*keys)->create("bench", "", "", [&secret](gust::Result<gust::CreatedKey> k) {
      if (k) secret = k->secret;
    });
    if (!made) return std::fprintf(stderr, "bench: %s\n", made.error().message.c_str()), 1;
  }
  while (!secret) uv_run(&loop, UV_RUN_ONCE);
  std::string wrong = *secret;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  std::printf("key check, valid:   %6.1f ns\n", nsPer(kRounds, [&] { sink += (*keys)->find(*secret) != nullptr; }));
  std::printf("key check, invalid: %6.1f ns\n", nsPer(kRounds, [&] { sink += (*keys)->find(wrong) != nullptr; }));
  bool closed = false;
  (*writer)->close([&closed] { closed = true; });
  while (!closed) uv_run(&loop, UV_RUN_ONCE);
  keys->reset();
  uv_loop_close(&loop);
  fs::remove_all(dir);
  return sink == 0 ? 1 : 0;
}
