#pragma once
// Integration test harness: real gust processes on 127.0.0.1, real files in a temp dir.
// Paths of the binary and fixture modules come from the environment (set by meson).

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <functional>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/files.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace gust::test {

namespace fs = std::filesystem;

inline std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') throw std::runtime_error(std::string("test needs $") + name);
  return v;
}

// Writes an app folder: gust.json and a copy of `module` as build/<name>.so.
inline fs::path makeApp(const fs::path& root, const std::string& name, const std::string& manifest,
                        const std::string& module) {
  fs::path dir = root / name;
  writeFile(dir / "gust.json", manifest);
  fs::create_directories(dir / "build");
  fs::copy_file(module, dir / "build" / (name + ".so"), fs::copy_options::overwrite_existing);
  return dir;
}

struct Exited {
  bool exited = false;
  int status = -1;  // exit status, or -signal
};

// A process with stdout on a pipe and stderr in a file.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const fs::path& stderr_file) : stderr_file_(stderr_file) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) throw std::runtime_error("cannot spawn " + argv[0]);
    out_fd_ = fds[0];
  }
  ~Process() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(out_fd_);
  }

  // Reads stdout until a line containing `needle` appears; returns that line ("" on EOF or timeout).
  std::string waitForLine(const std::string& needle, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    fcntl(out_fd_, F_SETFL, O_NONBLOCK);
    for (;;) {
      size_t nl;
      while ((nl = out_.find('\n')) != std::string::npos) {
        std::string line = out_.substr(0, nl);
        out_.erase(0, nl + 1);
        lines_.push_back(line);
        if (line.find(needle) != std::string::npos) return line;
      }
      if (std::chrono::steady_clock::now() > deadline) return "";
      char buf[4096];
      ssize_t n = read(out_fd_, buf, sizeof buf);
      if (n == 0) return "";
      if (n > 0) out_.append(buf, static_cast<size_t>(n));
      else std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // Reads stdout to its end (blocking).
  std::string readAll() {
    fcntl(out_fd_, F_SETFL, 0);
    char buf[4096];
    ssize_t n;
    while ((n = read(out_fd_, buf, sizeof buf)) > 0) out_.append(buf, static_cast<size_t>(n));
    return std::move(out_);
  }

  Exited wait(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        return Exited{true, WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status)};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return Exited{};
  }

  void signal(int sig) { ::kill(pid_, sig); }
  pid_t pid() const { return pid_; }
  std::string stderrText() const { return readFile(stderr_file_); }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  pid_t pid_ = 0;
  int out_fd_ = -1;
  bool reaped_ = false;
  std::string out_;
  std::vector<std::string> lines_;
  fs::path stderr_file_;
};

// `gust serve` on a free port.
class Host {
 public:
  Host(const std::vector<fs::path>& app_dirs, const fs::path& work, std::vector<std::string> extra = {})
      : data_dir_(work / "data"), process_(argv(app_dirs, data_dir_, extra), work / "host.stderr") {
    port_ = portFrom(process_.waitForLine("listening on http://"));
    admin_port_ = portFrom(process_.waitForLine("admin API on http://"));
  }

  int port() const { return port_; }
  int adminPort() const { return admin_port_; }
  const fs::path& dataDir() const { return data_dir_; }
  std::string adminToken() const {
    std::string t = readFile(data_dir_ / "admin.token");
    while (!t.empty() && t.back() == '\n') t.pop_back();
    return t;
  }
  Process& process() { return process_; }

 private:
  int portFrom(const std::string& line) {
    // "... on http://127.0.0.1:PORT ..." -> PORT
    size_t at = line.find("http://");
    size_t colon = at == std::string::npos ? std::string::npos : line.find(':', at + 7);
    if (colon == std::string::npos) throw std::runtime_error("host did not start: " + process_.stderrText());
    return std::stoi(line.substr(colon + 1));
  }

  static std::vector<std::string> argv(const std::vector<fs::path>& dirs, const fs::path& data_dir,
                                       const std::vector<std::string>& extra) {
    std::vector<std::string> a = {env("GUST_BIN"), "serve", "--port", "0", "--admin-port", "0", "--data-dir",
                                  data_dir.string()};
    for (const auto& d : dirs) a.push_back(d.string());
    for (const auto& e : extra) a.push_back(e);
    return a;
  }
  fs::path data_dir_;
  Process process_;
  int port_ = 0;
  int admin_port_ = 0;
};

inline bool processAlive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno != ESRCH); }

// The parent of `pid` as /proc says; 0 when it is gone.
inline pid_t parentOf(pid_t pid) {
  // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so parse after ')'.
  std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  int ppid = 0;
  if (std::sscanf(stat.c_str() + close + 1, " %*c %d", &ppid) != 1) return 0;
  return ppid;
}

// The processes below `root` (at any depth) whose name (comm) is `name`.
inline std::vector<pid_t> descendantsNamed(pid_t root, const std::string& name) {
  std::vector<pid_t> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string file = entry.path().filename();
    if (file.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(file);
    if (readFile(entry.path() / "comm") != name + "\n") continue;
    for (pid_t p = parentOf(pid), depth = 0; p > 1 && depth < 64; p = parentOf(p), ++depth) {
      if (p == root) {
        found.push_back(pid);
        break;
      }
    }
  }
  return found;
}

inline bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

// Runs a command to completion; returns its exit status, stdout and stderr.
struct CommandResult {
  int status = -1;
  std::string out, err;
};

inline CommandResult runGust(const std::vector<std::string>& args, const fs::path& work) {
  std::vector<std::string> argv = {env("GUST_BIN")};
  argv.insert(argv.end(), args.begin(), args.end());
  Process p(argv, work / "cmd.stderr");
  CommandResult r;
  r.out = p.readAll();
  Exited e = p.wait(std::chrono::seconds(120));
  r.status = e.status;
  r.err = p.stderrText();
  return r;
}

}  // namespace gust::test
