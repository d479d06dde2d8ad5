#pragma once
// The fork server: the gust binary in `fork-server` mode, started once by the host (see
// runtime/exec/fork_client.h). A worker exec'd from scratch spends most of its cold start in
// exec and the dynamic linker (gust links OpenSSL, sqlite, spdlog...); a worker forked from
// this already linked process skips both and goes straight to its sandbox and dlopen.
//
// It never loads user code: a forked child sets up its stdio, becomes its own session,
// and runs runWorker() exactly as an exec'd worker does (PDEATHSIG, rlimits, PID
// namespace, uid drop, no_new_privs, then dlopen). It is the parent of every worker it
// forks, so it reaps them and reports each exit status to the host.
//
// Single-threaded on purpose: fork() copies only the calling thread, so a thread here would
// leave locks held in every worker.

#include <sys/types.h>

namespace gust {

struct ForkServerOptions {
  pid_t host_pid = 0;  // the server exits if its parent is not this process
};

// Parses `gust fork-server ...` arguments; returns false (with a message on stderr) on error.
bool parseForkServerArgs(int argc, char** argv, ForkServerOptions& out);

// Serves SPAWN requests on kForkServerFd until the host closes it. Returns the exit status
// in the server; in a forked worker it never returns (the worker exits with its status).
int runForkServer(const ForkServerOptions& options);

}  // namespace gust
