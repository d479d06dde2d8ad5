#pragma once
// Redis over TLS (rediss://) for a hiredis that has none: Debian 12's 0.14 speaks plain TCP
// or a Unix socket only. The tunnel listens on a Unix socket in a directory of its own
// (mode 0700, so only this host's user reaches it), and carries each connection hiredis
// makes there to the Redis server over TLS with OpenSSL, on the same loop. RedisClient
// (redis_client.h) opens one when its endpoint says tls and connects hiredis to path().
//
// TLS is checked as a browser would: TLS 1.2 or later, the server's certificate chained to
// the CA file (--backend-tls-ca) or the system's CAs, and issued for the endpoint's host
// (its name, or its IP address). A client certificate and key (--backend-tls-cert,
// --backend-tls-key) are sent when given, for a Redis that asks (tls-auth-clients). Why a
// connection failed (a refused certificate, a refused connect) is kept for the client's
// error (takeError) rather than lost in "connection closed".
//
// Contract: loop thread. close() ends every connection, removes the socket and its
// directory, and calls back once its handles are closed; close it before the loop ends.

#include <uv.h>

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "runtime/base/result.h"
#include "runtime/store/backend_url.h"

struct ssl_ctx_st;

namespace gust {

class RedisTlsTunnel {
 public:
  // Loads the TLS files and listens; fails with what is wrong with a file.
  static Result<std::unique_ptr<RedisTlsTunnel>> open(uv_loop_t* loop, const RedisEndpoint& endpoint);
  // Whether the files can be used (what open() would say of them), opening nothing: a host
  // refuses to start with a wrong one rather than retry it forever.
  static Result<void> check(const RedisTlsFiles& files);
  ~RedisTlsTunnel();
  RedisTlsTunnel(const RedisTlsTunnel&) = delete;
  RedisTlsTunnel& operator=(const RedisTlsTunnel&) = delete;

  // The Unix socket hiredis connects to.
  const std::string& path() const { return path_; }
  // Why the last connection through the tunnel failed; empty when none did since the last
  // call.
  std::string takeError();
  void close(std::function<void()> on_closed);

 private:
  struct Session;
  RedisTlsTunnel(uv_loop_t* loop, RedisEndpoint endpoint) : loop_(loop), endpoint_(std::move(endpoint)) {}
  static Result<ssl_ctx_st*> makeContext(const RedisTlsFiles& files);
  void accept();
  // Moves bytes through TLS: the handshake, then what the server sent to hiredis, and what
  // OpenSSL has for the server.
  void pump(Session* session);
  void sendToServer(Session* session);
  void failed(Session* session, std::string why);
  // Closes the session's handles; called again as each closes, it frees the session once
  // nothing refers to it.
  void end(Session* session);
  void finishClose();

  uv_loop_t* loop_;
  RedisEndpoint endpoint_;
  ssl_ctx_st* ctx_ = nullptr;
  std::string dir_;
  std::string path_;
  uv_pipe_t* listener_ = nullptr;  // on the heap: a failed open() closes it after the tunnel is gone
  bool listening_ = false;
  std::set<Session*> sessions_;
  std::string last_error_;
  std::function<void()> on_closed_;
  bool closing_ = false;
  int closing_handles_ = 0;
};

}  // namespace gust
