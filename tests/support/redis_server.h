#pragma once
// A real redis-server (Debian's, installed by scripts/setup.sh test) for the tests of the
// Redis backend: its own process on a free loopback port, its files in a temp dir, stopped
// with the test. It can be killed, paused (SIGSTOP: a Redis that stops answering without
// closing anything, as behind a cut cable) and started again on the same port. With a
// TestCertificates it serves TLS only (rediss://), and asks for a client certificate.

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/free_port.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certificates.h"
#include "tests/support/wait_for.h"

namespace gust::test {

class RedisServer {
 public:
  // `extra`: more redis-server arguments ("--requirepass", "secret", ...).
  explicit RedisServer(std::vector<std::string> extra = {}) : extra_(std::move(extra)) {
    port_ = freeLoopbackPort();
    start();
  }
  explicit RedisServer(const TestCertificates& certs) : tls_(true) {
    extra_ = {"--tls-cert-file", certs.serverCert(), "--tls-key-file", certs.serverKey(), "--tls-ca-cert-file",
              certs.ca(), "--tls-auth-clients", "yes"};
    port_ = freeLoopbackPort();
    start();
  }
  ~RedisServer() { kill(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return (tls_ ? "rediss://127.0.0.1:" : "redis://127.0.0.1:") + std::to_string(port_); }

  // Starts it (again) on the same port and waits until it answers.
  void start() {
    std::vector<std::string> args = {"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                     "--dir", dir_.path().string(), "--save", "", "--appendonly", "no",
                                     "--daemonize", "no", "--loglevel", "warning", "--logfile",
                                     (dir_.path() / "redis.log").string()};
    if (tls_) args.insert(args.end(), {"--port", "0", "--tls-port", std::to_string(port_)});
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp("redis-server", argv.data());
      _exit(127);
    }
    waitFor("redis-server on port " + std::to_string(port_) + " to listen", [this] { return listening(); },
            std::chrono::seconds(10));
  }
  // SIGKILL, and waits for it to be gone.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

 private:
  bool listening() const {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
  }

  TempDir dir_;
  std::vector<std::string> extra_;
  bool tls_ = false;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace gust::test
