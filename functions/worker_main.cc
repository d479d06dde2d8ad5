#include "functions/worker_main.h"

#include <dlfcn.h>
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
#include <system_error>
#include <mutex>
#include <thread>
#include <cstring>
#include <string_view>

#include "gust/abi.h"
#include "runtime/frame.h"

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

// The state of the invocation running now; the host API callbacks reach it via `host`.
struct Invocation {
  uint64_t seq = 0;
  std::chrono::steady_clock::time_point deadline;
  bool answered = false;
  ResultFrame result;
  std::string out;  // frames to send
};

void hostRespond(void* host, int32_t status, const gust_pair* headers, size_t count, gust_str body) {
  auto* inv = static_cast<Invocation*>(host);
  if (inv->answered) return;
  inv->answered = true;
  inv->result.kind = ResultKind::kOk;
  inv->result.status = status;
  inv->result.headers.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    inv->result.headers.emplace_back(std::string(headers[i].name.data, headers[i].name.size),
                                     std::string(headers[i].value.data, headers[i].value.size));
  }
  inv->result.body.assign(body.data, body.size);
}

void hostFail(void* host, gust_str message) {
  auto* inv = static_cast<Invocation*>(host);
  if (inv->answered) return;
  inv->answered = true;
  inv->result.kind = ResultKind::kError;
  inv->result.status = 500;
  inv->result.body.assign(message.data, message.size);
}

void hostLog(void* host, int32_t level, gust_str message) {
  auto* inv = static_cast<Invocation*>(host);
  LogFrame log;
  log.seq = inv->seq;
  log.level = static_cast<uint32_t>(level);
  // The host caps what it keeps per invocation; cap here too so one call cannot build a
  // frame past the protocol's limit.
  log.message.assign(message.data, std::min<size_t>(message.size, 64 * 1024));
  std::string frame;
  encodeLog(log, frame);
  writeAll(kWorkerIpcFd, frame);
}

int64_t hostRemainingMs(void* host) {
  auto* inv = static_cast<Invocation*>(host);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(inv->deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? left.count() : 0;
}

const gust_host_api kHostApi = {sizeof(gust_host_api), hostRespond, hostFail, hostLog, hostRemainingMs};

int initFailed(const std::string& message) {
  std::string frame;
  encodeInitError(message, frame);
  writeAll(kWorkerIpcFd, frame);
  return 1;
}

// Serves INVOKE frames: inline on the reading thread when concurrency is 1 (the fast
// path), otherwise on a fixed set of threads fed by a queue.
class Server {
 public:
  Server(const WorkerOptions& options, std::vector<gust_function_fn> functions)
      : options_(options), functions_(std::move(functions)) {}

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

 private:
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  int readLoop(bool queued) {
    FrameDecoder decoder;
    std::vector<char> buf(256 * 1024);
    for (;;) {
      ssize_t n = ::read(kWorkerIpcFd, buf.data(), buf.size());
      if (n == 0) return 0;  // the host closed the channel: stop quietly
      if (n < 0) {
        if (errno == EINTR) continue;
        return 1;
      }
      decoder.feed(buf.data(), static_cast<size_t>(n));
      FrameType type;
      std::string_view payload;
      FrameDecoder::Status status;
      // Results of a batch of invocations that arrived together leave in one write, unless
      // one of them printed something: then the host must get its result before the output
      // of the next.
      std::string results;
      while ((status = decoder.next(type, payload)) == FrameDecoder::Status::kFrame) {
        if (type != FrameType::kInvoke) continue;
        if (!queued) {
          bool wrote_output = false;
          if (!invoke(payload, results, wrote_output)) return 2;
          if (wrote_output || decoder.buffered() < kFrameHeaderSize) {
            if (!writeAll(kWorkerIpcFd, results)) return 1;
            results.clear();
          }
          // Retire before SIGXCPU would kill it mid-invocation; the pool starts another.
          if (++served_ % 64 == 0 && cpuBudgetNearlySpent(options_.sandbox)) {
            writeAll(kWorkerIpcFd, results);
            return kWorkerRetiredStatus;
          }
          continue;
        }
        {
          std::lock_guard<std::mutex> lock(mutex_);
          queue_.emplace_back(payload);
        }
        cv_.notify_one();
      }
      if (!results.empty() && !writeAll(kWorkerIpcFd, results)) return 1;
      if (status == FrameDecoder::Status::kError) return 2;
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
    Invocation inv;
    inv.seq = frame->seq;
    inv.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(frame->timeout_ms);
    auto toStr = [](std::string_view s) { return gust_str{s.data(), s.size()}; };
    std::vector<gust_pair> headers, params;
    headers.reserve(frame->headers.size());
    for (auto& [k, v] : frame->headers) headers.push_back({toStr(k), toStr(v)});
    for (auto& [k, v] : frame->params) params.push_back({toStr(k), toStr(v)});
    gust_request request{frame->trigger,  toStr(frame->method), toStr(frame->path),
                         toStr(frame->query), headers.data(),   headers.size(),
                         params.data(),    params.size(),     toStr(frame->body)};
    const std::string& fname = options_.functions[frame->function_index];
    gust_context context{&kHostApi, &inv, toStr(frame->invocation_id), toStr(options_.app), toStr(fname)};
    functions_[frame->function_index](&request, &context);
    // Output the function wrote must reach the host before the result, so that the host
    // can attribute it to this invocation. stdio buffers it (see runWorker), so whether
    // there is any is known without a syscall, and the host reads its pipes only then.
    wrote_output = __fpending(stdout) > 0 || __fpending(stderr) > 0;
    if (wrote_output) {
      std::fflush(stdout);
      std::fflush(stderr);
      inv.result.flags |= ResultFrame::kFlagOutput;
    }
    if (!inv.answered) hostFail(&inv, gust_str{"function returned without a response", 35});
    inv.result.seq = inv.seq;
    size_t start = out.size();
    encodeResult(inv.result, out);
    if (out.size() - start - kFrameHeaderSize > kMaxFramePayload) {
      // The host would drop the worker for an oversized frame; fail just this invocation.
      ResultFrame too_big;
      too_big.seq = inv.seq;
      too_big.kind = ResultKind::kError;
      too_big.status = 500;
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
    else if (flag == "--pid-namespace") out.sandbox.pid_namespace = value == "1";
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
  // Die with the host, even when it is killed with SIGKILL; then close the race where the
  // host died before the prctl took effect.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (options.host_pid != 0 && getppid() != options.host_pid) return 1;
  signal(SIGPIPE, SIG_IGN);
  bufferOutput();
  // Open the module while we may still read it; the unprivileged user we become may not be
  // allowed to walk the folders that lead to it.
  int module_fd = ::open(options.module_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (module_fd < 0) {
    return initFailed("cannot open module " + options.module_path + ": " + strerror(errno) +
                      " (run `gust build` for the app)");
  }
  if (auto sandboxed = enterSandbox(options.sandbox); !sandboxed) {
    return initFailed("cannot contain the worker: " + sandboxed.error().message);
  }

  std::string module_by_fd = "/proc/self/fd/" + std::to_string(module_fd);
  void* module = dlopen(module_by_fd.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (module == nullptr) {
    const char* why = dlerror();
    return initFailed("cannot load module " + options.module_path + ": " + (why ? why : "unknown error") +
                      " (run `gust build` for the app)");
  }
  auto abi_version = reinterpret_cast<gust_abi_version_fn>(dlsym(module, GUST_ENTRY_SYMBOL));
  if (abi_version == nullptr) {
    return initFailed(options.module_path + " is not a Gust module: it does not export " GUST_ENTRY_SYMBOL
                      " (include <gust/gust.hpp> and export functions with GUST_FUNCTION)");
  }
  uint32_t module_abi = abi_version();
  if (module_abi != GUST_ABI_VERSION) {
    return initFailed(options.module_path + " was built against Gust ABI version " + std::to_string(module_abi) +
                      ", but this host supports ABI version " + std::to_string(GUST_ABI_VERSION) +
                      "; rebuild it against this SDK with `gust build`");
  }
  std::vector<gust_function_fn> functions;
  std::string missing;
  for (const auto& name : options.functions) {
    std::string symbol = GUST_FUNCTION_SYMBOL_PREFIX + name;
    auto fn = reinterpret_cast<gust_function_fn>(dlsym(module, symbol.c_str()));
    if (fn == nullptr) missing += (missing.empty() ? "" : ", ") + name;
    functions.push_back(fn);
  }
  if (!missing.empty()) {
    return initFailed(options.module_path + " does not export the function(s) " + missing +
                      " named in gust.json (add GUST_FUNCTION(name) after each one)");
  }

  Server server(options, std::move(functions));
  if (std::string error = server.start(); !error.empty()) return initFailed(error);
  std::string ready;
  encodeReady(GUST_ABI_VERSION, ready);
  if (!writeAll(kWorkerIpcFd, ready)) return 1;
  return server.run();
}

}  // namespace gust
