#include "functions/worker/worker_main.h"

#include <stdio_ext.h>
#include <fcntl.h>
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <system_error>
#include <mutex>
#include <thread>
#include <cstring>
#include <string_view>

#include "functions/worker/invoke_module.h"
#include "functions/worker/module_loader.h"
#include "gust/abi.h"
#include "runtime/protocol/frame.h"

namespace gust {
namespace {

// With concurrency above 1, several threads answer at once: frames must not interleave.
std::mutex g_write_mutex;

bool writeAll(int fd, const std::string& data) {
  std::lock_guard<std::mutex> lock(g_write_mutex);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

// A function's log lines leave as LOG frames at once, so that the host has them even if the
// function later crashes.
class FrameLog final : public InvocationLog {
 public:
  void line(uint64_t seq, uint32_t level, std::string_view message) override {
    LogFrame log;
    log.seq = seq;
    log.level = level;
    log.message = message;
    std::string frame;
    encodeLog(log, frame);
    writeAll(kWorkerIpcFd, frame);
  }
};

int initFailed(const std::string& message) {
  std::string frame;
  encodeInitError(message, frame);
  writeAll(kWorkerIpcFd, frame);
  return 1;
}

// Serves INVOKE frames: inline on the reading thread when concurrency is 1 (the fast
// path), otherwise on a fixed set of threads fed by a queue.
//
// A function's state read (STATE_GET) waits for the host's STATE_VALUE on the same channel,
// as a connection call (CONNECTION_CALL) waits for its CONNECTION_STATUS. With threads, the
// reading thread hands each answer to the thread waiting for its seq.
// Inline, the reading thread is the one waiting: it reads on from the channel itself, with
// a decoder of its own (side_) that takes over the stream, and sets aside the INVOKE frames
// that arrive meanwhile (pending_); they are served, in order, once the function returns.
class Server final : public StateReader, public ConnectionCaller {
 public:
  Server(const WorkerOptions& options, std::vector<gust_function_fn> functions)
      : options_(options), functions_(std::move(functions)), decoder_(std::make_unique<FrameDecoder>()) {}

  // Starts the threads of a concurrent worker; the error says why they could not start
  // (e.g. the user's process limit is reached).
  std::string start() {
    uint32_t threads = std::max<uint32_t>(1, options_.concurrency);
    if (threads == 1) return {};
    try {
      for (uint32_t i = 0; i < threads; ++i) threads_.emplace_back([this] { drainQueue(); });
    } catch (const std::system_error& e) {
      stop();
      return "cannot start " + std::to_string(threads) + " threads for concurrency " + std::to_string(threads) + ": " +
             e.what();
    }
    return {};
  }

  int run() {
    int status = readLoop(!threads_.empty());
    stop();
    return status;
  }

  Result<std::optional<StateValue>> get(uint64_t seq, std::string_view key) override {
    std::string request;
    encodeStateGet(StateGetFrame{seq, std::string(key)}, request);
    auto answer = ask(seq, FrameType::kStateValue, std::move(request));
    if (!answer) return answer.error();
    auto value = decodeStateValue(*answer);
    if (!value) return channelBroken(value.error().message);
    return stateOf(std::move(*value));
  }

  int32_t call(uint64_t seq, const ConnectionCall& call) override {
    std::string request;
    encodeConnectionCall(ConnectionCallFrame{seq, call}, request);
    auto answer = ask(seq, FrameType::kConnectionStatus, std::move(request));
    if (!answer) return GUST_E_NOT_FOUND;  // the host is gone, and its connections with it
    auto status = decodeConnectionStatus(*answer);
    return status ? status->status : GUST_E_NOT_FOUND;
  }

 private:
  static constexpr int kKeepReading = -1;

  // Sends `request` (a question of invocation `seq`) and waits for the host's answer, an
  // `answer_type` frame of the same seq: its payload.
  Result<std::string> ask(uint64_t seq, FrameType answer_type, std::string&& request) {
    if (threads_.empty()) {
      // Results held back for one write go first: the host need not wait for this read.
      if (!results_.empty() && !writeAll(kWorkerIpcFd, results_)) return channelBroken("cannot write to the host");
      results_.clear();
      if (!writeAll(kWorkerIpcFd, request)) return channelBroken("cannot write to the host");
      return readAnswerInline(seq, answer_type);
    }
    std::unique_lock<std::mutex> lock(mutex_);
    if (!writeAll(kWorkerIpcFd, request)) return channelBroken("cannot write to the host");
    state_cv_.wait(lock, [&] { return stopping_ || answers_.count(seq) > 0; });
    auto it = answers_.find(seq);
    if (it == answers_.end()) return channelBroken("the worker is stopping");
    Answer answer = std::move(it->second);
    answers_.erase(it);
    if (answer.type != answer_type) return channelBroken("the host answered with another kind of frame");
    return std::move(answer.payload);
  }

  static bool isAnswer(FrameType type) {
    return type == FrameType::kStateValue || type == FrameType::kConnectionStatus;
  }

  static Error channelBroken(const std::string& why) {
    return makeError(ErrorKind::kUnavailable, "the worker's channel to the host: " + why);
  }

  static Result<std::optional<StateValue>> stateOf(StateValueFrame&& answer) {
    switch (answer.status) {
      case StateReadStatus::kFound: return std::optional<StateValue>(StateValue{std::move(answer.value), answer.version});
      case StateReadStatus::kMissing: return std::optional<StateValue>();
      case StateReadStatus::kFailed: break;
    }
    return makeError(ErrorKind::kUnavailable, std::move(answer.value));
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    state_cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  int readLoop(bool queued) {
    std::vector<char> buf(256 * 1024);
    for (;;) {
      ssize_t n = ::read(kWorkerIpcFd, buf.data(), buf.size());
      if (n == 0) return 0;  // the host closed the channel: stop quietly
      if (n < 0) {
        if (errno == EINTR) continue;
        return 1;
      }
      decoder_->feed(buf.data(), static_cast<size_t>(n));
      int status = queued ? handOut() : serveInline();
      if (status != kKeepReading) return status;
    }
  }

  // Threads serve: INVOKE frames go to the queue, answers (STATE_VALUE, CONNECTION_STATUS)
  // to the thread that asked.
  int handOut() {
    FrameType type;
    std::string_view payload;
    FrameDecoder::Status status;
    while ((status = decoder_->next(type, payload)) == FrameDecoder::Status::kFrame) {
      if (isAnswer(type)) {
        auto seq = answerSeqOf(payload);
        if (!seq) return 2;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          answers_.insert_or_assign(*seq, Answer{type, std::string(payload)});
        }
        state_cv_.notify_all();
        continue;
      }
      if (type != FrameType::kInvoke) continue;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        queue_.emplace_back(payload);
      }
      cv_.notify_one();
    }
    return status == FrameDecoder::Status::kError ? 2 : kKeepReading;
  }

  // Serves every whole INVOKE frame on this thread. Results of invocations that arrived
  // together leave in one write, unless one of them printed something: then the host must
  // get its result before the output of the next.
  int serveInline() {
    for (;;) {
      FrameType type;
      std::string_view payload;
      FrameDecoder::Status status = decoder_->next(type, payload);
      if (status == FrameDecoder::Status::kError) return 2;
      if (status == FrameDecoder::Status::kNeedMore) {
        if (side_ == nullptr) break;
        // A state read took the stream over: first what it set aside, then what it read on.
        while (!pending_.empty()) {
          std::string set_aside = std::move(pending_.front());
          pending_.pop_front();
          if (int s = serveOne(set_aside); s != kKeepReading) return s;
        }
        decoder_ = std::move(side_);
        continue;
      }
      if (type != FrameType::kInvoke) continue;  // an answer nobody waits for any more
      if (int s = serveOne(payload); s != kKeepReading) return s;
    }
    if (!results_.empty() && !writeAll(kWorkerIpcFd, results_)) return 1;
    results_.clear();
    return kKeepReading;
  }

  int serveOne(std::string_view payload) {
    bool wrote_output = false;
    if (!invoke(payload, results_, wrote_output)) return 2;
    if (wrote_output || decoder_->buffered() < kFrameHeaderSize || side_ != nullptr) {
      if (!writeAll(kWorkerIpcFd, results_)) return 1;
      results_.clear();
    }
    // Retire before SIGXCPU would kill it mid-invocation; the pool starts another.
    if (++served_ % 64 == 0 && cpuBudgetNearlySpent(options_.sandbox)) {
      writeAll(kWorkerIpcFd, results_);
      return kWorkerRetiredStatus;
    }
    return kKeepReading;
  }

  // Inline: reads the channel until the answer of `seq`, setting INVOKE frames aside.
  Result<std::string> readAnswerInline(uint64_t seq, FrameType answer_type) {
    if (side_ == nullptr) {
      // The running function's INVOKE payload lives in decoder_'s buffer: leave it be, and
      // go on with the bytes after it in a decoder of our own.
      side_ = std::make_unique<FrameDecoder>();
      std::string rest = decoder_->takeRest();
      side_->feed(rest.data(), rest.size());
    }
    std::vector<char> buf(64 * 1024);
    for (;;) {
      FrameType type;
      std::string_view payload;
      FrameDecoder::Status status = side_->next(type, payload);
      if (status == FrameDecoder::Status::kError) return channelBroken(side_->error());
      if (status == FrameDecoder::Status::kFrame) {
        if (type == FrameType::kInvoke) pending_.emplace_back(payload);
        if (!isAnswer(type)) continue;
        auto answer_seq = answerSeqOf(payload);
        if (!answer_seq) return channelBroken(answer_seq.error().message);
        if (*answer_seq != seq) continue;
        if (type != answer_type) return channelBroken("the host answered with another kind of frame");
        return std::string(payload);
      }
      ssize_t n = ::read(kWorkerIpcFd, buf.data(), buf.size());
      if (n == 0) return channelBroken("the host closed it");
      if (n < 0) {
        if (errno == EINTR) continue;
        return channelBroken(strerror(errno));
      }
      side_->feed(buf.data(), static_cast<size_t>(n));
    }
  }

  void drainQueue() {
    for (;;) {
      std::string payload;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        payload = std::move(queue_.front());
        queue_.pop_front();
      }
      std::string result;
      bool wrote_output = false;
      if (!invoke(payload, result, wrote_output)) std::_Exit(2);
      if (!writeAll(kWorkerIpcFd, result)) std::_Exit(1);
    }
  }

  // Runs one invocation and appends its RESULT frame to `out`; false if the frame is
  // malformed.
  bool invoke(std::string_view payload, std::string& out, bool& wrote_output) {
    auto frame = decodeInvoke(payload);
    if (!frame || frame->function_index >= functions_.size()) return false;
    FrameLog log;
    ResultFrame result = invokeModule(functions_[frame->function_index], *frame, options_.app,
                                      options_.functions[frame->function_index], log, this, this);
    // Output the function wrote must reach the host before the result, so that the host
    // can attribute it to this invocation. stdio buffers it (see runWorker), so whether
    // there is any is known without a syscall, and the host reads its pipes only then.
    wrote_output = __fpending(stdout) > 0 || __fpending(stderr) > 0;
    if (wrote_output) {
      std::fflush(stdout);
      std::fflush(stderr);
      result.flags |= ResultFrame::kFlagOutput;
    }
    size_t start = out.size();
    encodeResult(result, out);
    if (out.size() - start - kFrameHeaderSize > kMaxFramePayload) {
      // The host would drop the worker for an oversized frame; fail just this invocation
      // (a batch is then retried, and its publishes are dropped).
      ResultFrame too_big;
      too_big.seq = result.seq;
      too_big.kind = ResultKind::kError;
      too_big.status = 500;
      too_big.flags = result.flags;
      too_big.body = "the function's response of " + std::to_string(out.size() - start) +
                     " bytes is larger than the limit of " + std::to_string(kMaxFramePayload) + " bytes";
      out.resize(start);
      encodeResult(too_big, out);
    }
    return true;
  }

  const WorkerOptions& options_;
  std::vector<gust_function_fn> functions_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool stopping_ = false;
  uint64_t served_ = 0;
  // Threads: the host's answers, by seq, until the thread that asked takes them (under mutex_).
  struct Answer {
    FrameType type;
    std::string payload;
  };
  std::condition_variable state_cv_;
  std::map<uint64_t, Answer> answers_;
  // Inline (the reading thread only): the stream's decoder, the one a state read took the
  // stream over with, the INVOKE frames it set aside, and results not yet written.
  std::unique_ptr<FrameDecoder> decoder_;
  std::unique_ptr<FrameDecoder> side_;
  std::deque<std::string> pending_;
  std::string results_;
};

// Fully buffered stdio: what a function prints reaches the host when it answers (or when
// the buffer fills), so the host can tell whose output it is. Set before anything writes.
void bufferOutput() {
  static char out_buffer[64 * 1024], err_buffer[16 * 1024];
  std::setvbuf(stdout, out_buffer, _IOFBF, sizeof out_buffer);
  std::setvbuf(stderr, err_buffer, _IOFBF, sizeof err_buffer);
  // A crashing function's last lines matter most: flush them, then die of the same signal.
  // fflush is not async-signal-safe, but the process is lost either way.
  struct sigaction action {};
  action.sa_handler = [](int sig) {
    std::fflush(stdout);
    std::fflush(stderr);
    signal(sig, SIG_DFL);
    raise(sig);
  };
  action.sa_flags = SA_RESETHAND | SA_NODEFER;
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) sigaction(sig, &action, nullptr);
}

}  // namespace

bool parseWorkerArgs(int argc, char** argv, WorkerOptions& out) {
  for (int i = 0; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--app") out.app = value;
    else if (flag == "--module") out.module_path = value;
    else if (flag == "--host-pid") out.host_pid = std::strtol(value.c_str(), nullptr, 10);
    else if (flag == "--function") out.functions.push_back(value);
    else if (flag == "--concurrency") out.concurrency = static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10));
    else if (flag == "--memory-mb") out.sandbox.memory_bytes = std::strtoull(value.c_str(), nullptr, 10) << 20;
    else if (flag == "--namespaces") out.sandbox.namespaces = value == "1";
    else if (flag == "--user-namespace") out.sandbox.user_namespace = value == "1";
    else if (flag == "--tmp-mb") out.sandbox.tmp_bytes = std::strtoull(value.c_str(), nullptr, 10) << 20;
    else if (flag == "--cgroup") out.sandbox.cgroups.push_back(value);
    else if (flag == "--uid") {
      out.sandbox.drop_user = true;
      out.sandbox.uid = static_cast<uid_t>(std::strtoul(value.c_str(), nullptr, 10));
    } else if (flag == "--gid") out.sandbox.gid = static_cast<gid_t>(std::strtoul(value.c_str(), nullptr, 10));
    else {
      std::fprintf(stderr, "gust worker: unknown argument %s (the worker mode is started by the host)\n", argv[i]);
      return false;
    }
  }
  if (argc % 2 != 0 || out.module_path.empty() || out.functions.empty()) {
    std::fprintf(stderr, "gust worker: needs --app, --module and --function (the worker mode is started by the host)\n");
    return false;
  }
  return true;
}

int runWorker(const WorkerOptions& options) {
  // Nothing the host opened without O_CLOEXEC (or a library opened) may reach user code: a
  // spawned worker keeps only stdio and its IPC channel, as a forked one does.
  ::close_range(kWorkerIpcFd + 1, ~0U, 0);
  // Die with the host, even when it is killed with SIGKILL; then close the race where the
  // host died before the prctl took effect.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (options.host_pid != 0 && getppid() != options.host_pid) return 1;
  signal(SIGPIPE, SIG_IGN);
  bufferOutput();
  // Open the module while we may still read it; the unprivileged user we become may not be
  // allowed to walk the folders that lead to it, and the worker's own view (/app) has
  // another path for it.
  int module_fd = ::open(options.module_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (module_fd < 0) {
    return initFailed("cannot open module " + options.module_path + ": " + strerror(errno) +
                      " (run `gust build` for the app)");
  }
  if (auto sandboxed = enterSandbox(options.sandbox); !sandboxed) {
    return initFailed("cannot contain the worker: " + sandboxed.error().message);
  }

  auto module = loadModule(options.module_path, options.functions, "/proc/self/fd/" + std::to_string(module_fd));
  ::close(module_fd);  // loaded: user code has no use for it
  if (!module) return initFailed(module.error().message);

  Server server(options, std::move(module->functions));
  if (std::string error = server.start(); !error.empty()) return initFailed(error);
  std::string ready;
  encodeReady(GUST_ABI_VERSION, ready);
  if (!writeAll(kWorkerIpcFd, ready)) return 1;
  return server.run();
}

}  // namespace gust
