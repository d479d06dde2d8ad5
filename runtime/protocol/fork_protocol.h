#pragma once
// The messages between the host and its fork server (functions/worker/fork_server.h), over a
// SOCK_SEQPACKET socketpair that only the two of them hold: one message per datagram, so
// neither side parses a stream, and every message has a fixed upper size.
//
//   host -> server  SPAWN:   ForkRequestHeader, then NUL-terminated strings (the worker's
//                            folder, its `gust worker` arguments, then env_count
//                            "KEY=VALUE" strings: its whole environment), with exactly
//                            kForkRequestFds descriptors attached (SCM_RIGHTS).
//   server -> host  ForkReply: SPAWNED (pid), SPAWN_FAILED (errno), EXITED (pid, wait status).

#include <cstddef>
#include <cstdint>

namespace gust {

// The fork server's end of its socket to the host.
constexpr int kForkServerFd = 3;

constexpr uint32_t kForkRequestSpawn = 1;
constexpr uint32_t kForkReplySpawned = 1;
constexpr uint32_t kForkReplySpawnFailed = 2;
constexpr uint32_t kForkReplyExited = 3;

// Descriptors that travel with a SPAWN, in this order: they become the worker's stdout,
// stderr and IPC channel (kWorkerIpcFd).
constexpr size_t kForkRequestFds = 3;
// A SPAWN is a few hundred bytes plus its app's variables; the bound leaves room for many
// functions (64 KiB) and an app's whole environment (256 KiB at most, functions/app_env.h).
// A datagram must fit the sender's socket buffer, so the host sizes its end to
// kForkSocketBuffer (the kernel may cap it at net.core.wmem_max; a request that then does
// not fit fails, and that worker is spawned instead).
constexpr size_t kMaxForkRequest = 336 * 1024;
constexpr int kForkSocketBuffer = 2 * static_cast<int>(kMaxForkRequest);

struct ForkRequestHeader {
  uint32_t type;
  uint32_t request_id;
  uint32_t string_count;  // the folder, the arguments and the environment that follow
  uint32_t env_count;     // the last env_count strings: the worker's environment
};

struct ForkReply {
  uint32_t type;
  uint32_t request_id;  // SPAWNED, SPAWN_FAILED: the request it answers
  int32_t pid;          // SPAWNED, EXITED
  int32_t value;        // SPAWN_FAILED: errno; EXITED: the waitpid status
};

}  // namespace gust
