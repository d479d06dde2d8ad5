#pragma once
// The worker process: the only place a user module is dlopen'd. It is the gust binary
// started in worker mode by the host; it talks to the host over fd kWorkerIpcFd
// (runtime/protocol/worker_contract.h).

#include <cstdint>
#include <string>
#include <vector>

#include "functions/worker/sandbox.h"
#include "runtime/protocol/worker_contract.h"

namespace gust {

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
