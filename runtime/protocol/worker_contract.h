#pragma once
// What a worker process and the host agree on outside the frames (frame.h): where the
// worker finds its channel and what its own exit status means. Both sides include this, so
// neither includes the other.

namespace gust {

// The worker's end of its channel to the host.
constexpr int kWorkerIpcFd = 3;
// A worker that retires on its own (its CPU-time budget is nearly spent) exits with this
// status after answering everything it started: what the host still has in flight on it
// never started and may run elsewhere.
constexpr int kWorkerRetiredStatus = 75;
// A worker whose processes together held more than its memory_mb, where no memory cgroup
// bounds them, is ended by its namespace's init with this status (functions/worker/sandbox.cc).
constexpr int kWorkerOverMemoryStatus = 76;

}  // namespace gust
