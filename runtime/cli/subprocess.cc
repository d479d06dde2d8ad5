#include "runtime/cli/subprocess.h"

#include <errno.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace gust {
namespace {

// Starts argv; in the child, `stdout_fd` (if >= 0) becomes stdout and `close_fd` is closed.
Result<pid_t> start(const std::vector<std::string>& argv, const std::string& cwd, int stdout_fd, int close_fd) {
  if (argv.empty()) return makeError(ErrorKind::kInternal, "empty command");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  if (stdout_fd >= 0) posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
  if (close_fd >= 0) posix_spawn_file_actions_addclose(&actions, close_fd);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return makeError(ErrorKind::kIo, "cannot run " + argv[0] + ": " + strerror(rc) +
                                         (rc == ENOENT ? " (is it installed and on PATH?)" : ""));
  }
  return pid;
}

Result<int> waitFor(pid_t pid, const std::string& name) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return makeError(ErrorKind::kIo, std::string("waitpid: ") + strerror(errno));
  }
  if (WIFSIGNALED(status)) {
    return makeError(ErrorKind::kIo, name + " was killed by signal " + std::to_string(WTERMSIG(status)));
  }
  return WEXITSTATUS(status);
}

}  // namespace

Result<int> runCommand(const std::vector<std::string>& argv, const std::string& cwd) {
  auto pid = start(argv, cwd, -1, -1);
  if (!pid) return pid.error();
  return waitFor(*pid, argv[0]);
}

Result<std::string> captureCommand(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe(fds) != 0) return makeError(ErrorKind::kIo, std::string("pipe: ") + strerror(errno));
  auto pid = start(argv, "", fds[1], fds[0]);
  ::close(fds[1]);
  if (!pid) {
    ::close(fds[0]);
    return pid.error();
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EINTR)) break;
    if (n > 0 && out.size() < (1u << 20)) out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  auto status = waitFor(*pid, argv[0]);
  if (!status) return status.error();
  if (*status != 0) return makeError(ErrorKind::kIo, argv[0] + " exited with status " + std::to_string(*status));
  return out;
}

}  // namespace gust
