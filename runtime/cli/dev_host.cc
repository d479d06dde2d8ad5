#include "runtime/cli/dev_host.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace gust::cli {

std::string urlInLine(const std::string& line, std::string_view scheme) {
  size_t at = line.find(scheme);
  if (at == std::string::npos) return "";
  size_t end = line.find_first_of(" \t\r\n)", at);
  return line.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

Result<std::unique_ptr<DevHost>> DevHost::start(const DevHostOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) return makeError(ErrorKind::kIo, "cannot create " + options.data_dir.string() + ": " + ec.message());
  std::string data_dir = std::filesystem::absolute(options.data_dir, ec).string();
  // The developer is the caller: failures are shown in full (signal, exception, start error),
  // and async callbacks may reach a receiver on this machine.
  std::vector<std::string> argv = {options.executable, "serve", "--port", std::to_string(options.port),
                                   "--data-dir", data_dir, "--expose-errors", "--callback-allow", "127.0.0.0/8,::1"};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return makeError(ErrorKind::kIo, std::string("pipe: ") + std::strerror(errno));
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(fds[0]), close(fds[1]);
    return makeError(ErrorKind::kIo, std::string("cannot start the host: fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    dup2(fds[1], STDOUT_FILENO);
    if (chdir(data_dir.c_str()) != 0) _exit(127);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  std::unique_ptr<DevHost> host(new DevHost());
  host->pid_ = pid;
  host->out_fd_ = fds[0];
  fcntl(host->out_fd_, F_SETFL, O_NONBLOCK);

  auto deadline = std::chrono::steady_clock::now() + options.start_timeout;
  std::string buffer;
  while (host->http_url_.empty() || host->admin_url_.empty()) {
    size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      if (line.find("listening on http://") != std::string::npos) host->http_url_ = urlInLine(line, "http://");
      else if (line.find("admin API on unix:") != std::string::npos) host->admin_url_ = urlInLine(line, "unix:");
    }
    if (!host->http_url_.empty() && !host->admin_url_.empty()) break;
    if (auto status = host->exited()) {
      return makeError(ErrorKind::kUnavailable, "the host exited (status " + std::to_string(*status) +
                                                    ") before it listened; its error is above");
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return makeError(ErrorKind::kTimeout, "the host did not start listening within " +
                                                std::to_string(options.start_timeout.count() / 1000) + " s");
    }
    pollfd p{host->out_fd_, POLLIN, 0};
    poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
    char chunk[4096];
    ssize_t n = read(host->out_fd_, chunk, sizeof chunk);
    if (n > 0) buffer.append(chunk, static_cast<size_t>(n));
  }
  host->pending_ = std::move(buffer);
  host->forwarder_ = std::thread([raw = host.get()] { raw->forwardOutput(); });
  return host;
}

void DevHost::forwardOutput() {
  if (!pending_.empty()) std::fwrite(pending_.data(), 1, pending_.size(), stdout), std::fflush(stdout);
  // Polls with a timeout: the host's workers may hold the pipe open after the host exits,
  // so end-of-file is not a reliable signal to stop.
  while (!stopping_.load()) {
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char chunk[4096];
    ssize_t n = read(out_fd_, chunk, sizeof chunk);
    if (n == 0) return;
    if (n > 0) std::fwrite(chunk, 1, static_cast<size_t>(n), stdout), std::fflush(stdout);
  }
}

std::optional<int> DevHost::exited() {
  if (status_ || pid_ < 0) return status_;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return status_;
}

void DevHost::stop(std::chrono::milliseconds grace) {
  if (pid_ > 0 && !exited()) {
    kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (!exited() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!exited()) {
      kill(pid_, SIGKILL);
      int status = 0;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      status_ = -SIGKILL;
    }
  }
  stopping_.store(true);
  if (forwarder_.joinable()) forwarder_.join();
  if (out_fd_ >= 0) close(out_fd_), out_fd_ = -1;
}

DevHost::~DevHost() { stop(); }

}  // namespace gust::cli
