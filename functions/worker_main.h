#pragma once
// The worker process: the only place a user module is dlopen'd. It is the gust binary
// started in worker mode by the host; it talks to the host over fd kWorkerIpcFd.

#include <cstdint>
#include <string>
#include <vector>

#include "functions/sandbox.h"

namespace gust {

constexpr int kWorkerIpcFd = 3;
// A worker that retires on its own (its CPU-time budget is nearly spent) exits with this
// status after answering everything it started: what the host still has in flight on it
// never started and may run elsewhere.
constexpr int kWorkerRetiredStatus = 75;

struct WorkerOptions {
  std::string app;
  std::string module_path;
  std::vector<std::string> functions;  // in manifest order: INVOKE frames index into it
  long host_pid = 0;                    // the worker exits if its parent is not this process
  uint32_t concurrency = 1;             // invocations served at once, each on its own thread
  SandboxOptions sandbox;
};

// Parses `gust worker ...` arguments; returns false (with a message on stderr) on error.
bool parseWorkerArgs(int argc, char** argv, WorkerOptions& out);

// Loads the module, reports READY or INIT_ERROR, then serves INVOKE frames until the host
// closes the channel. Returns the process exit status.
int runWorker(const WorkerOptions& options);

}  // namespace gust
