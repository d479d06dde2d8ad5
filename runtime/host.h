#pragma once
// The composition root (STYLE 7): builds the loop, clock, dispatcher, pools and triggers
// for `gust serve`, runs until SIGTERM or SIGINT, then drains and closes everything.

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/worker_process.h"
#include "triggers/http/request_parser.h"

namespace gust {

struct HostOptions {
  std::string http_host = "127.0.0.1";
  int http_port = 8080;
  std::string admin_host = "127.0.0.1";
  int admin_port = 8081;
  std::vector<std::filesystem::path> app_dirs;
  std::filesystem::path data_dir = ".gust";
  std::string executable;  // the gust binary; workers are started from it
  HttpLimits http_limits;
  WorkerContainment containment;
  std::chrono::milliseconds drain_timeout{10'000};
};

// Serves until a signal; returns the process exit status. Prints the address it listens on
// and every route to stdout; errors go to stderr as one line that says what to do.
int runHost(const HostOptions& options);

}  // namespace gust
