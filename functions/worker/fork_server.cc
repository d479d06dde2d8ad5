#include "functions/worker/fork_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "functions/worker/worker_main.h"
#include "runtime/protocol/fork_protocol.h"
#include "runtime/protocol/frame.h"

namespace gust {
namespace {

struct SpawnRequest {
  uint32_t id = 0;
  std::string dir;
  std::vector<std::string> args;  // `gust worker` arguments, without the verb
  std::vector<std::string> env;   // the worker's whole environment, "KEY=VALUE" each
  int fds[kForkRequestFds] = {-1, -1, -1};
};

bool sendReply(uint32_t type, uint32_t request_id, pid_t pid, int value) {
  ForkReply reply{type, request_id, static_cast<int32_t>(pid), static_cast<int32_t>(value)};
  for (;;) {
    ssize_t n = ::send(kForkServerFd, &reply, sizeof reply, MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(sizeof reply)) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

// Reports every child that has ended; false once the host is gone.
bool reapChildren() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return true;
    if (!sendReply(kForkReplyExited, 0, pid, status)) return false;
  }
}

void closeFds(SpawnRequest& request) {
  for (int& fd : request.fds) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

enum class ReadResult { kRequest, kHostGone, kMalformed };

// Reads one SPAWN; a malformed one is answered here and its descriptors closed.
ReadResult readRequest(std::vector<char>& buffer, SpawnRequest& request) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kForkRequestFds)];
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = ::recvmsg(kForkServerFd, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n == 0 || (n < 0 && errno != EAGAIN)) return ReadResult::kHostGone;
  if (n < 0) return ReadResult::kMalformed;  // a spurious wake-up: nothing to answer
  size_t fd_count = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char* data = CMSG_DATA(c);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, data + i * sizeof(int), sizeof fd);
      if (fd_count < kForkRequestFds) request.fds[fd_count] = fd;
      else ::close(fd);
      ++fd_count;
    }
  }
  ForkRequestHeader header{};
  if (static_cast<size_t>(n) >= sizeof header) std::memcpy(&header, buffer.data(), sizeof header);
  request.id = header.request_id;
  auto refuse = [&] {
    closeFds(request);
    sendReply(kForkReplySpawnFailed, header.request_id, 0, EINVAL);
    return ReadResult::kMalformed;
  };
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || static_cast<size_t>(n) < sizeof header ||
      header.type != kForkRequestSpawn || fd_count != kForkRequestFds || header.string_count < 2 ||
      header.env_count > header.string_count - 2) {
    return refuse();
  }
  for (int fd : request.fds) {
    if (fd <= kWorkerIpcFd) return refuse();  // stdio and our socket are open: cannot happen
  }
  // The folder, the arguments, then the environment: NUL-terminated strings that fill the
  // message exactly.
  std::string_view rest(buffer.data() + sizeof header, static_cast<size_t>(n) - sizeof header);
  std::vector<std::string> strings;
  while (!rest.empty()) {
    size_t end = rest.find('\0');
    if (end == std::string_view::npos) return refuse();
    strings.emplace_back(rest.substr(0, end));
    rest.remove_prefix(end + 1);
  }
  if (strings.size() != header.string_count) return refuse();
  auto env_begin = strings.end() - header.env_count;
  for (auto it = env_begin; it != strings.end(); ++it) {
    if (it->find('=') == std::string::npos || it->front() == '=') return refuse();
  }
  request.dir = std::move(strings.front());
  request.args.assign(std::make_move_iterator(strings.begin() + 1), std::make_move_iterator(env_begin));
  request.env.assign(std::make_move_iterator(env_begin), std::make_move_iterator(strings.end()));
  return ReadResult::kRequest;
}

// In the forked child: what an exec'd worker gets from uv_spawn (its stdio, its own
// session, default signal handling, its folder), then the worker itself.
[[noreturn]] void becomeWorker(SpawnRequest& request, pid_t server, const sigset_t& original_mask) {
  // First of all, the worker's own environment in place of the server's: exactly what the
  // host sent for it (see runtime/exec/worker_environment.h), as a spawned worker gets.
  ::clearenv();
  for (const auto& entry : request.env) {
    size_t eq = entry.find('=');
    if (::setenv(entry.substr(0, eq).c_str(), entry.c_str() + eq + 1, 1) != 0) _exit(1);
  }
  signal(SIGCHLD, SIG_DFL);
  sigprocmask(SIG_SETMASK, &original_mask, nullptr);
  // The received descriptors are above kWorkerIpcFd (0-3 are taken in the server), so
  // these dup2 calls cannot overwrite one another's source.
  if (::dup2(request.fds[0], STDOUT_FILENO) < 0 || ::dup2(request.fds[1], STDERR_FILENO) < 0 ||
      ::dup2(request.fds[2], kWorkerIpcFd) < 0) {
    _exit(1);
  }
  // Nothing of the server's but stdio reaches the worker (this also closes the copies of
  // the received descriptors).
  if (::close_range(kWorkerIpcFd + 1, ~0U, 0) != 0) {
    for (int fd : request.fds) ::close(fd);
  }
  ::setsid();
  // In `ps`, a worker, not another fork server (its command line stays the server's).
  prctl(PR_SET_NAME, "gust-worker");
  if (::chdir(request.dir.c_str()) != 0) {
    std::string frame;
    encodeInitError("cannot enter the app folder " + request.dir + ": " + strerror(errno), frame);
    ssize_t ignored = ::write(kWorkerIpcFd, frame.data(), frame.size());
    (void)ignored;
    _exit(1);
  }
  std::vector<char*> argv;
  for (auto& a : request.args) argv.push_back(a.data());
  WorkerOptions options;
  if (!parseWorkerArgs(static_cast<int>(argv.size()), argv.data(), options)) _exit(2);
  // This server, not the host, is the worker's parent; it dies with the host.
  options.host_pid = server;
  // exit(), not _exit(): the worker's buffered stdout must reach the host.
  std::exit(runWorker(options));
}

}  // namespace

bool parseForkServerArgs(int argc, char** argv, ForkServerOptions& out) {
  if (argc == 2 && std::string_view(argv[0]) == "--host-pid") {
    out.host_pid = static_cast<pid_t>(std::strtol(argv[1], nullptr, 10));
    if (out.host_pid > 0) return true;
  }
  std::fprintf(stderr, "gust fork-server: needs --host-pid PID (the fork-server mode is started by the host)\n");
  return false;
}

int runForkServer(const ForkServerOptions& options) {
  // Die with the host, even when it is killed with SIGKILL; the workers die with us (they
  // set the same signal against this process), so none outlives the host.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != options.host_pid) return 1;
  // Whatever else the host inherited from its own parent stays out of the workers.
  ::close_range(kForkServerFd + 1, ~0U, 0);
  // Child exits interrupt ppoll: SIGCHLD is blocked except while waiting, and needs a
  // handler, since its default disposition would not interrupt anything.
  sigset_t chld, original_mask;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &original_mask);
  struct sigaction action {};
  action.sa_handler = [](int) {};
  sigaction(SIGCHLD, &action, nullptr);
  sigset_t wait_mask = original_mask;
  sigdelset(&wait_mask, SIGCHLD);

  const pid_t self = getpid();
  std::vector<char> buffer(kMaxForkRequest + 1);
  for (;;) {
    if (!reapChildren()) return 0;
    pollfd p{kForkServerFd, POLLIN, 0};
    int rc = ppoll(&p, 1, nullptr, &wait_mask);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if ((p.revents & POLLIN) == 0) {
      if ((p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) return 0;
      continue;
    }
    SpawnRequest request;
    ReadResult read = readRequest(buffer, request);
    if (read == ReadResult::kHostGone) return 0;
    if (read == ReadResult::kMalformed) continue;
    pid_t pid = fork();
    if (pid == 0) becomeWorker(request, self, original_mask);
    int fork_errno = errno;
    closeFds(request);
    bool sent = pid < 0 ? sendReply(kForkReplySpawnFailed, request.id, 0, fork_errno)
                        : sendReply(kForkReplySpawned, request.id, pid, 0);
    if (!sent) return 0;
  }
}

}  // namespace gust
