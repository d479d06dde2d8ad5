#pragma once
// The admin API's listener: its own HTTP server, 127.0.0.1 by default. Every route but
// /healthz and /readyz needs the bearer token (compared in constant time); a request whose
// Host or Origin is not this listener's own is refused, so a web page cannot reach it
// through DNS rebinding. The routes themselves are added by the admin_*.cc files, one per
// area (apps, queues, invocations, metrics); docs/admin-api.md is the contract.
//
// Owning thread: the loop thread. Owned by the Host; close() calls back once closed.

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

  AdminApi(uv_loop_t* loop, std::string token);

  // Adds a route; `methods` as in Router (HEAD is served by GET).
  void route(std::vector<std::string> methods, std::string pattern, AdminHandler handler);

  // Returns the bound port.
  Result<int> listen(const std::string& host, int port);
  void close(std::function<void()> on_closed) { server_.close(std::move(on_closed)); }

 private:
  void onRequest(HttpRequest&& request, HttpResponder&& responder);
  bool hostAllowed(std::string_view host) const;

  std::string token_;
  std::string bind_host_;
  int port_ = 0;
  Router router_;
  std::vector<AdminHandler> handlers_;  // indexed by the number in a route's target
  HttpServer server_;
};

// Answers shared by the admin routes.
HttpResponse jsonResponse(const nlohmann::json& body, int status = 200);
// A problem+json answer whose status follows the error's kind (400, 404, 409, 413, 503...).
HttpResponse errorResponse(const Error& error);
// 400 with `message`: what in the request was wrong.
HttpResponse badRequest(std::string message);

}  // namespace gust
