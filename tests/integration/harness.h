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

#include <nlohmann/json.hpp>

#include "tests/support/files.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

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

// Runs a command to completion; returns its exit status, stdout and stderr.
struct CommandResult {
  int status = -1;
  std::string out, err;
};

// How many times `needle` occurs in `text` (overlaps included).
inline size_t occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The end of `text`, at most `max` bytes of it, for failure messages.
inline std::string tail(const std::string& text, size_t max = 4000) {
  return text.size() <= max ? text : "..." + text.substr(text.size() - max);
}

// A process with stdout on a pipe and stderr in a file. It leads its own process group, so
// that what it started (a shell's commands, a dev host) ends with it.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const fs::path& stderr_file) : stderr_file_(stderr_file) {
    for (const auto& a : argv) command_ += (command_.empty() ? "" : " ") + a;
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int rc = posix_spawn(&pid_, args[0], &actions, &attr, args.data(), environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) throw std::runtime_error("cannot spawn " + argv[0]);
    out_fd_ = fds[0];
    fcntl(out_fd_, F_SETFL, O_NONBLOCK);
  }
  ~Process() {
    if (!reaped_) {
      ::kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(out_fd_);
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Reads stdout until a line containing `needle` appears and returns that line; fails
  // the test when the process ends first or `limit` passes.
  std::string waitForLine(const std::string& needle, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    std::string found;
    waitFor(
        "`" + command_ + "` to print a line containing \"" + needle + "\"",
        [&] {
          bool open = readAvailable();
          for (size_t nl; (nl = out_.find('\n')) != std::string::npos;) {
            std::string line = out_.substr(0, nl);
            out_.erase(0, nl + 1);
            lines_.push_back(line);
            if (line.find(needle) != std::string::npos) {
              found = line;
              return true;
            }
          }
          if (!open) FAIL("`" << command_ << "` closed its stdout before printing a line containing \"" << needle
                              << "\"\n" << lastOutput());
          return false;
        },
        limit, [this] { return lastOutput(); });
    return found;
  }

  // Reads stdout to its end, then waits for the exit: what runGust returns. Fails the test,
  // ending the process, when either takes longer than `limit`.
  CommandResult finish(std::chrono::milliseconds limit) {
    waitFor("`" + command_ + "` to close its stdout", [this] { return !readAvailable(); }, limit,
            [this] { return lastOutput(); });
    CommandResult r;
    r.out = std::move(out_);
    r.status = wait(limit).status;
    r.err = stderrText();
    return r;
  }

  // Waits for the process to exit; fails the test when it has not after `limit`.
  Exited wait(std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    waitFor("`" + command_ + "` (pid " + std::to_string(pid_) + ") to exit", [this] { return !running(); }, limit,
            [this] { return lastOutput(); });
    return exited_;
  }

  // Whether it still runs; reaps it when it has ended.
  bool running() {
    if (reaped_) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return true;
    reaped_ = true;
    exited_ = Exited{true, WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status)};
    return false;
  }

  void signal(int sig) { ::kill(pid_, sig); }
  pid_t pid() const { return pid_; }
  std::string stderrText() const { return readFile(stderr_file_); }
  const std::vector<std::string>& lines() const { return lines_; }

  // The end of what it wrote on stdout (as far as read) and stderr, for failure messages.
  std::string lastOutput() const {
    std::string out;
    for (const auto& line : lines_) out += line + "\n";
    return "last stdout:\n" + tail(out + out_, 2000) + "\nlast stderr:\n" + tail(stderrText());
  }

 private:
  // Appends what stdout has now to out_; false once it is closed.
  bool readAvailable() {
    char buf[4096];
    for (;;) {
      ssize_t n = read(out_fd_, buf, sizeof buf);
      if (n > 0) {
        out_.append(buf, static_cast<size_t>(n));
        continue;
      }
      return n != 0;  // EOF, or (EAGAIN) nothing for now
    }
  }

  std::string command_;
  pid_t pid_ = 0;
  int out_fd_ = -1;
  bool reaped_ = false;
  Exited exited_;
  std::string out_;
  std::vector<std::string> lines_;
  fs::path stderr_file_;
};

// `gust serve` on a free port, its admin API on the socket in its data dir (and on a TCP
// port too when `extra` holds --admin-listen). `prefix` starts it under another command that
// execs it, e.g. {"/usr/bin/prlimit", "--nofile=256:256", "--"} (an absolute path: it is not
// looked up in PATH).
class Host {
 public:
  Host(const std::vector<fs::path>& app_dirs, const fs::path& work, std::vector<std::string> extra = {},
       const std::vector<std::string>& prefix = {})
      : data_dir_(work / "data"), process_(argv(prefix, app_dirs, data_dir_, extra), work / "host.stderr") {
    port_ = portFrom(process_.waitForLine("listening on http://"));
    // "admin API on unix:/abs/data/admin.sock (token in ...)"
    std::string line = process_.waitForLine("admin API on unix:");
    size_t at = line.find("unix:") + 5;
    admin_socket_ = line.substr(at, line.find(' ', at) - at);
    for (const auto& e : extra) {
      if (e == "--admin-listen") admin_tcp_port_ = portFrom(process_.waitForLine("admin API on http://"));
    }
  }

  int port() const { return port_; }
  const fs::path& dataDir() const { return data_dir_; }
  const fs::path& adminSocket() const { return admin_socket_; }
  // What the CLI's --admin and $GUST_ADMIN_URL take.
  std::string adminUrl() const { return "unix:" + admin_socket_.string(); }
  // A client of the admin socket; requests carry no token unless the test adds one.
  httplib::Client adminClient(std::chrono::seconds timeout = std::chrono::seconds(10)) const {
    return unixClient(admin_socket_.string(), timeout);
  }
  // `app`'s pool as the admin API shows it (starting, idle, busy, stopping, pending, ...);
  // null when it cannot be read.
  nlohmann::json poolOf(const std::string& app) const {
    httplib::Client admin = adminClient();
    admin.set_bearer_token_auth(adminToken());
    auto r = admin.Get("/v1/apps/" + app);
    if (!r || r->status != 200) return nullptr;
    nlohmann::json body = nlohmann::json::parse(r->body, nullptr, false);
    return body.is_object() ? body.value("pool", nlohmann::json()) : nullptr;
  }
  // The admin API's TCP port, with --admin-listen in `extra`; 0 without.
  int adminTcpPort() const { return admin_tcp_port_; }
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
    if (colon == std::string::npos) throw std::runtime_error("host did not start: " + process_.lastOutput());
    return std::stoi(line.substr(colon + 1));
  }

  static std::vector<std::string> argv(const std::vector<std::string>& prefix, const std::vector<fs::path>& dirs,
                                       const fs::path& data_dir, const std::vector<std::string>& extra) {
    std::vector<std::string> a = prefix;
    a.insert(a.end(), {env("GUST_BIN"), "serve", "--port", "0", "--data-dir", data_dir.string()});
    for (const auto& d : dirs) a.push_back(d.string());
    for (const auto& e : extra) a.push_back(e);
    return a;
  }
  fs::path data_dir_;
  Process process_;
  int port_ = 0;
  fs::path admin_socket_;
  int admin_tcp_port_ = 0;
};

// The pid the host sees of the worker that answered with the fixture's X-Pid header ("PID
// pid:[NS]": its pid in its own PID namespace, and that namespace, since its /proc shows
// nothing else): the process in that namespace whose innermost pid is PID. 0 if gone.
inline pid_t hostPidOf(const std::string& x_pid) {
  std::istringstream in(x_pid);
  std::string inner, ns;
  in >> inner >> ns;
  char own[64] = {};
  if (::readlink("/proc/self/ns/pid", own, sizeof own - 1) > 0 && ns == own) return std::stoi(inner);
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string pid = entry.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    char link[64] = {};
    if (::readlink((entry.path() / "ns/pid").c_str(), link, sizeof link - 1) <= 0 || ns != link) continue;
    std::string status = readFile(entry.path() / "status");
    size_t at = status.find("NSpid:");
    if (at == std::string::npos) continue;
    std::string line = status.substr(at, status.find('\n', at) - at);
    if (line.substr(line.find_last_of(" \t") + 1) == inner) return std::stoi(pid);
  }
  return 0;
}

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

// waitFor for a wait on a host: the failure shows the host's last output too.
inline void waitFor(std::string_view what, const std::function<bool()>& done, std::chrono::milliseconds limit,
                    Host& host) {
  waitFor(what, done, limit, [&host] { return "the host's " + host.process().lastOutput(); });
}

inline CommandResult runGust(const std::vector<std::string>& args, const fs::path& work) {
  std::vector<std::string> argv = {env("GUST_BIN")};
  argv.insert(argv.end(), args.begin(), args.end());
  return Process(argv, work / "cmd.stderr").finish(std::chrono::seconds(120));
}

}  // namespace gust::test
