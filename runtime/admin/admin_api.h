#pragma once
// The admin API's listeners: its own HTTP server on a Unix socket (DATA_DIR/admin.sock by
// default, mode 0600), and on TCP only when asked (--admin-listen). Every route but
// /healthz, /readyz and the console's login needs the bearer token (compared in constant
// time) or a browser console session (console_sessions.h), on both. On the
// socket, a peer whose uid is neither the host's nor root's is refused as well, should the
// file's mode have been widened. On TCP, a request whose Host or Origin is not this
// listener's own is refused, so a web page cannot reach it through DNS rebinding. The routes themselves are added by the admin_*.cc files, one per
// area (apps, queues, invocations, metrics, health); docs/admin-api.md is the contract.
//
// Owning thread: the loop thread. Owned by the Host; close() calls back once closed.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/admin/console_sessions.h"
#include "runtime/admin/login_throttle.h"
#include "triggers/http/http_server.h"
#include "triggers/http/router.h"

namespace gust {

// One authorised admin request and the way to answer it.
struct AdminCall {
  HttpRequest request;
  std::vector<std::pair<std::string, std::string>> params;  // the route's {name} segments, decoded
  HttpResponder responder;

  std::string param(std::string_view name) const;
  // The value of query parameter `name` (percent-decoded), or empty.
  std::string query(std::string_view name) const;
};

using AdminHandler = std::function<void(AdminCall&&)>;

class AdminApi {
 public:
  // Deploy uploads carry a module of up to 64 MiB plus its manifest.
  static constexpr size_t kMaxBody = 80u << 20;

  AdminApi(uv_loop_t* loop, std::string token, const Clock& clock);

  // Adds a route; `methods` as in Router (HEAD is served by GET).
  void route(std::vector<std::string> methods, std::string pattern, AdminHandler handler);

  // Bounds the connections each listener holds (HttpServer::setMaxConnections), so that the
  // admin API stays within the descriptors the host keeps for it (runtime/host/descriptors.h).
  // Call before listening.
  void setMaxConnections(size_t max);

  // Listens on a Unix socket at `path`, which must not exist (see admin_socket.h).
  Result<void> listenUnix(const std::string& path);
  // Listens on TCP as well; returns the bound port. Call at most once.
  Result<int> listenTcp(const std::string& host, int port);
  void close(std::function<void()> on_closed);

  // "http://HOST:PORT" of the TCP listener (loopback for a wildcard address), or empty
  // without --admin-listen: where a browser can reach this API.
  std::string tcpUrl() const;

  // The browser console's codes and sessions (admin_console.h), which this API accepts in
  // place of the admin token: the session cookie with the session's token in its header.
  ConsoleSessions& consoleSessions() { return console_; }
  // For the console's login form: true when `token` is the admin token. A wrong one counts
  // as a failed login of the request's caller, as a wrong bearer token does.
  bool tokenLogin(const HttpRequest& request, std::string_view token);
  // Counts a failed login (a login code that was unknown or used up) of the request's caller.
  void loginFailed(const HttpRequest& request);

 private:
  std::unique_ptr<HttpServer> makeServer();
  void onRequest(HttpRequest&& request, HttpResponder&& responder);
  // Who may ask: on the socket a peer of this uid or root; on TCP a request addressed to
  // this listener. The answer refusing any other, or nothing.
  std::optional<HttpResponse> callerRefusal(const HttpRequest& request) const;
  // The caller check, then the bearer token or a console session (all routes but /healthz,
  // /readyz and the console's login), on the head of a request before its body is read; a
  // peer with recent failed logins waits (429).
  std::optional<HttpResponse> headRefusal(const HttpRequest& head);
  // For a request that came with the session cookie: nothing when the session lives and
  // either the request is for the page or it carries the session's token; else the refusal.
  std::optional<HttpResponse> sessionRefusal(const HttpRequest& head, std::string_view session_id);
  bool hostAllowed(std::string_view host) const;

  std::string token_;
  LoginThrottle throttle_;
  ConsoleSessions console_;
  std::string bind_host_;
  int port_ = 0;
  Router router_;
  std::vector<AdminHandler> handlers_;  // indexed by the number in a route's target
  uv_loop_t* loop_;
  size_t max_connections_ = 0;  // per listener; 0: no bound
  std::unique_ptr<HttpServer> socket_server_;
  std::unique_ptr<HttpServer> tcp_server_;  // only with --admin-listen
};

// Answers shared by the admin routes.
HttpResponse jsonResponse(const nlohmann::json& body, int status = 200);
// A problem+json answer whose status follows the error's kind (400, 404, 409, 413, 503...).
HttpResponse errorResponse(const Error& error);
// 400 with `message`: what in the request was wrong.
HttpResponse badRequest(std::string message);

}  // namespace gust
