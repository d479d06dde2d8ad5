#pragma once
// A real HTTP peer for tests (a callback receiver, a collector, an admin API stand-in):
// cpp-httplib's server on a free port of 127.0.0.1, serving from its own thread.

#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "tests/support/wait_for.h"

namespace gust::test {

class ServerThread {
 public:
  ServerThread() = default;
  ~ServerThread() { stop(); }
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;

  // Where routes are added, before start().
  httplib::Server& server() { return *server_; }

  // Binds a free port and serves from a new thread; returns once the server accepts,
  // because a stop() that comes before the accept loop runs is lost and the join hangs.
  void start() {
    port_ = server_->bind_to_any_port("127.0.0.1");
    REQUIRE_MESSAGE(port_ > 0, "cannot bind a test HTTP server to a port of 127.0.0.1");
    // The thread holds the server too: if it never starts accepting, it is left behind
    // detached rather than joined forever, and must not outlive what it serves.
    auto server = server_;
    auto ended = ended_;
    thread_ = std::thread([server, ended] {
      server->listen_after_bind();
      *ended = true;
    });
    try {
      waitFor("the test HTTP server to accept connections", [&] { return server_->is_running() || *ended_; },
              std::chrono::seconds(10));
    } catch (...) {
      thread_.detach();
      throw;
    }
    REQUIRE_MESSAGE(!*ended_, "the test HTTP server stopped before it accepted a connection");
  }

  // Stops accepting, lets running handlers finish and joins the thread.
  void stop() {
    if (!thread_.joinable()) return;
    server_->stop();
    thread_.join();
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  std::shared_ptr<httplib::Server> server_ = std::make_shared<httplib::Server>();
  std::shared_ptr<std::atomic<bool>> ended_ = std::make_shared<std::atomic<bool>>(false);
  std::thread thread_;
  int port_ = 0;
};

}  // namespace gust::test
