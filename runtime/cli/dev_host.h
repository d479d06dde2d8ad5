#pragma once
// The host `gust dev` runs for the app: `gust serve` as a child process with its own data
// dir, whose admin API is the socket in it. The child gets SIGTERM if gust dev dies (however it
// dies), so it never outlives it; it runs in its own process group, so Ctrl-C reaches only
// gust dev, which stops it in order.
//
// Owned by gust dev's main thread; the destructor stops the child and joins the thread that
// forwards its output.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "runtime/base/result.h"

namespace gust::cli {

struct DevHostOptions {
  std::string executable;               // the gust binary
  std::filesystem::path data_dir;       // also its working folder
  int port = 8080;                      // its public HTTP port (0: a free one)
  std::chrono::milliseconds start_timeout{30'000};
};

class DevHost {
 public:
  // Starts the child and waits until it prints both of its addresses.
  static Result<std::unique_ptr<DevHost>> start(const DevHostOptions& options);
  ~DevHost();
  DevHost(const DevHost&) = delete;
  DevHost& operator=(const DevHost&) = delete;

  const std::string& httpUrl() const { return http_url_; }    // "http://127.0.0.1:8080"
  const std::string& adminUrl() const { return admin_url_; }  // "unix:/app/.gust/admin.sock"
  pid_t pid() const { return pid_; }

  // The child's exit status (or -signal) once it has exited on its own; nullopt while it runs.
  std::optional<int> exited();

  // SIGTERM, then SIGKILL if it has not exited within `grace`; reaps it. Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(15'000));

 private:
  DevHost() = default;
  void forwardOutput();

  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::optional<int> status_;
  std::string http_url_, admin_url_;
  std::string pending_;  // output read past the startup lines, not yet forwarded
  std::atomic<bool> stopping_{false};
  std::thread forwarder_;
};

// The first address with `scheme` ("http://", "unix:") in a line of the host's startup
// output, up to a space or ')'; "" if none.
std::string urlInLine(const std::string& line, std::string_view scheme);

}  // namespace gust::cli
