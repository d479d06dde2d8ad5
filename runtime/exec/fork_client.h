#pragma once
// The host's side of its fork server (functions/worker/fork_server.h): starts `gust fork-server`,
// asks it to fork workers, and tells each worker's owner when its process has exited (the
// server is their parent and reaps them).
//
// A fork server that dies takes its workers with it (they die with their parent); their
// owners are told they were killed, and the server is started again at once, or after a
// second if it died within a second of starting. While it is down, fork() fails and the
// caller spawns its worker itself: workers keep starting, only slower. Both the restart
// delay and the wait for an answer go by the injected Clock.
//
// Owning thread: the loop thread. Owned by the Host, which closes it after every worker is
// gone; close() calls back once the server has exited and every handle is closed, after
// which the owner may free it. Nothing may be called after close().

#include <uv.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/base/clock.h"
#include "runtime/protocol/fork_protocol.h"
#include "runtime/base/result.h"
#include "runtime/base/uv_close.h"

namespace gust {

class ForkClient {
 public:
  // How a forked worker ended, as uv_spawn's exit callback reports it.
  using ExitCallback = std::function<void(int64_t exit_status, int term_signal)>;

  ForkClient(uv_loop_t* loop, const Clock& clock, std::string executable);
  ~ForkClient();
  ForkClient(const ForkClient&) = delete;
  ForkClient& operator=(const ForkClient&) = delete;

  // Starts the server; an error says why it could not (workers are then spawned instead).
  Result<void> start();

  // Forks a worker in `dir` that runs `gust worker <worker_args>` with exactly `environment`
  // ("KEY=VALUE" each) and `fds` (its stdout, stderr and IPC ends) and returns its pid; the
  // caller still owns and closes `fds`.
  // `on_exit` runs once, when the worker has exited or died with the server. On an error
  // nothing was forked and `on_exit` never runs.
  Result<int> fork(const std::string& dir, const std::vector<std::string>& worker_args,
                   const std::vector<std::string>& environment, const std::array<int, kForkRequestFds>& fds,
                   ExitCallback on_exit);

  void close(std::function<void()> on_closed);

  // Starts the server again if it is down and its restart delay is over by the clock.
  // Called by the restart timer, and by tests after they move an injected clock.
  void tick();

  bool running() const { return server_ != nullptr && !server_->broken; }
  int pid() const { return server_ ? server_->process.pid : 0; }
  uint64_t forked() const { return forked_; }
  uint64_t restarts() const { return restarts_; }

 private:
  // One run of the server process; a restart makes a new one while the old one closes.
  struct Server {
    ForkClient* owner = nullptr;
    uv_process_t process{};
    uv_poll_t poll{};
    int fd = -1;          // the host's end of the socketpair
    bool broken = false;  // killed for misbehaving or not answering: fork() no longer uses it
    std::chrono::steady_clock::time_point started;
    std::map<int, ExitCallback> workers;  // by pid, until their exit is reported
    CloseCounter closer;
  };

  struct PendingExit {
    ExitCallback on_exit;
    int64_t exit_status;
    int term_signal;
  };
  enum class ReadStatus { kDrained, kAnswered, kBroken };

  // Reads what the server sent until its socket is empty, queueing the exits it reports,
  // or until the answer to `request_id` (into `answer`, when not null).
  ReadStatus readReplies(Server& server, uint32_t request_id, ForkReply* answer);
  void onReadable(Server& server);
  void onServerExit(Server& server, int64_t exit_status, int term_signal);
  // Kills the server for misbehaving; its exit callback does the rest.
  void breakServer(Server& server, const std::string& why);
  // Restarts the server a restart delay from now (by the clock).
  void scheduleRestart();
  // Wakes tick() when restart_at_ is reached by the clock.
  void armRestartTimer();
  // Runs the queued exit callbacks, also those queued while they run.
  void deliverExits();
  void closeServer(std::unique_ptr<Server> server);
  void maybeFinishClose();

  uv_loop_t* loop_;
  const Clock& clock_;
  std::string executable_;
  std::unique_ptr<Server> server_;
  std::vector<std::unique_ptr<Server>> closing_servers_;
  std::deque<PendingExit> exits_;
  bool delivering_ = false;
  uv_idle_t deliverer_{};   // delivers exits read while fork() waited for its answer
  uv_timer_t restart_timer_{};
  std::optional<std::chrono::steady_clock::time_point> restart_at_;  // while a restart waits
  CloseCounter closer_;
  uint32_t next_request_ = 0;
  uint64_t forked_ = 0;
  uint64_t restarts_ = 0;
  bool closing_ = false;
  bool finished_ = false;  // the last handles are closing
  std::function<void()> on_closed_;
};

}  // namespace gust
