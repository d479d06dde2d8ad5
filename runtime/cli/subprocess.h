#pragma once
// Runs a program with an argument vector, never through a shell, and waits for it. For the
// CLI's build steps; not for the loop thread.

#include <string>
#include <vector>

#include "runtime/base/result.h"

namespace gust {

// Runs argv[0] (looked up on PATH) in `cwd` with our stdout and stderr, and returns its
// exit status, or an error if it could not start or was killed by a signal.
Result<int> runCommand(const std::vector<std::string>& argv, const std::string& cwd = "");

// Runs it and returns its stdout (capped at 1 MiB); fails unless it exits 0.
Result<std::string> captureCommand(const std::vector<std::string>& argv);

}  // namespace gust
