#include "runtime/admin/admin_api.h"

#include <unistd.h>

#include "runtime/admin/admin_token.h"
#include "runtime/base/digest.h"
#include "runtime/protocol/http_status.h"
#include "triggers/http/http_text.h"

namespace gust {

namespace {

// An admin answer is for its caller alone: no cache keeps it, and no browser reads it as
// anything but what it says it is.
void addPrivateHeaders(HttpResponse& r) {
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
}

std::string peerOf(const HttpRequest& request) {
  return request.unix_peer_uid ? "uid " + std::to_string(*request.unix_peer_uid) : request.tcp_peer_address;
}

bool isSafeMethod(std::string_view method) { return method == "GET" || method == "HEAD"; }

// What the console serves without a session: the login page and what it loads, and the
// two ways in (docs/console.md).
bool isConsoleLogin(const HttpRequest& head) {
  if (head.path == "/login") return head.method == "GET" || head.method == "HEAD" || head.method == "POST";
  return isSafeMethod(head.method) && (head.path == "/console/style.css" || head.path == "/console/login.js");
}

// A browser finding its way to the console: sent to the login page instead of a 401.
bool isConsolePage(const HttpRequest& head) {
  return isSafeMethod(head.method) && (head.path == "/" || head.path.starts_with("/console/"));
}

HttpResponse toLogin() {
  HttpResponse r;
  r.status = 303;
  r.headers.emplace_back("Location", "/login");
  addPrivateHeaders(r);
  return r;
}

HttpResponse unauthorized() {
  HttpResponse r = problemResponse(401, "Unauthorized",
                                   "send the admin token as 'Authorization: Bearer TOKEN' (it is in the data dir's "
                                   "admin.token, or GUST_ADMIN_TOKEN), or log in to the console (gust console)");
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  addPrivateHeaders(r);
  return r;
}

}  // namespace

HttpResponse jsonResponse(const nlohmann::json& body, int status) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  addPrivateHeaders(r);
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return r;
}

HttpResponse errorResponse(const Error& error) {
  int status = httpStatusOf(error.kind);
  HttpResponse r = problemResponse(status, reasonPhrase(status), error.message);
  if (carriesRetryAfter(status)) r.headers.emplace_back("Retry-After", "1");
  addPrivateHeaders(r);
  return r;
}

HttpResponse badRequest(std::string message) { return errorResponse(Error{ErrorKind::kBadInput, std::move(message)}); }

std::string AdminCall::param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

std::string AdminCall::query(std::string_view name) const {
  return http::queryParam(request.query, name).value_or("");
}

AdminApi::AdminApi(uv_loop_t* loop, std::string token, const Clock& clock)
    : token_(std::move(token)), throttle_(clock), console_(clock), loop_(loop), socket_server_(makeServer()) {}

void AdminApi::route(std::vector<std::string> methods, std::string pattern, AdminHandler handler) {
  auto added = router_.add(Route{std::move(methods), std::move(pattern),
                                 RouteTarget{"", std::to_string(handlers_.size())}});
  // Routes are ours, fixed at compile time: a clash is a bug to catch in the first test.
  if (!added) throw std::logic_error("admin route: " + added.error().message);
  handlers_.push_back(std::move(handler));
}

std::unique_ptr<HttpServer> AdminApi::makeServer() {
  HttpLimits limits;
  limits.max_body = kMaxBody;
  limits.body_timeout_ms = 120'000;
  auto server = std::make_unique<HttpServer>(loop_, limits, [this](HttpRequest&& request, HttpResponder&& responder) {
    onRequest(std::move(request), std::move(responder));
  });
  // Checked on the head, so a stranger's upload is neither read nor invited with
  // "100 Continue".
  server->setHeadCheck([this](const HttpRequest& head) { return headRefusal(head); });
  server->setMaxConnections(max_connections_);
  return server;
}

void AdminApi::setMaxConnections(size_t max) {
  max_connections_ = max;
  socket_server_->setMaxConnections(max);
}

Result<void> AdminApi::listenUnix(const std::string& path) { return socket_server_->listenUnix(path); }

Result<int> AdminApi::listenTcp(const std::string& host, int port) {
  tcp_server_ = makeServer();
  auto bound = tcp_server_->listen(host, port);
  if (bound) {
    bind_host_ = host;
    port_ = *bound;
  }
  return bound;
}

std::string AdminApi::tcpUrl() const {
  if (!tcp_server_) return {};
  std::string host = bind_host_;
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "::" || host == "[::]") host = "[::1]";
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port_);
}

void AdminApi::close(std::function<void()> on_closed) {
  if (!tcp_server_) {
    socket_server_->close(std::move(on_closed));
    return;
  }
  auto left = std::make_shared<int>(2);
  auto then = [left, on_closed = std::move(on_closed)] {
    if (--*left == 0 && on_closed) on_closed();
  };
  socket_server_->close(then);
  tcp_server_->close(then);
}

std::optional<HttpResponse> AdminApi::callerRefusal(const HttpRequest& request) const {
  if (request.unix_peer_uid) {
    // A browser cannot reach a Unix socket, so Host and Origin mean nothing here; the
    // peer's uid is what tells a caller apart.
    if (*request.unix_peer_uid == ::geteuid() || *request.unix_peer_uid == 0) return std::nullopt;
    return problemResponse(403, "Forbidden", "the admin socket answers only its host's own user and root");
  }
  if (!hostAllowed(request.header("host"))) {
    return problemResponse(403, "Forbidden", "the admin API answers only requests addressed to its own "
                                             "listener (Host " + std::string(bind_host_) + ":" +
                                                 std::to_string(port_) + ")");
  }
  std::string_view origin = request.header("origin");
  if (!origin.empty() && (origin.substr(0, 7) != "http://" || !hostAllowed(origin.substr(7)))) {
    return problemResponse(403, "Forbidden", "cross-origin requests to the admin API are refused");
  }
  return std::nullopt;
}

std::optional<HttpResponse> AdminApi::headRefusal(const HttpRequest& head) {
  if (auto refusal = callerRefusal(head)) return refusal;
  if (head.path == "/healthz" || head.path == "/readyz") return std::nullopt;
  std::string peer = peerOf(head);
  if (auto wait = throttle_.waitFor(peer); wait.count() > 0) {
    HttpResponse r = problemResponse(429, "Too Many Requests",
                                     "too many failed admin logins from this caller; try again in " +
                                         std::to_string(wait.count()) + " ms");
    r.headers.emplace_back("Retry-After", std::to_string((wait.count() + 999) / 1000));
    return r;
  }
  // The login routes check their own credential (a code, or the token in a form).
  if (isConsoleLogin(head)) return std::nullopt;
  if (std::string_view token = http::bearerToken(head.header("authorization")); !token.empty()) {
    if (constantTimeEquals(token, token_)) {
      throttle_.succeeded(peer);
      return std::nullopt;
    }
  } else if (std::string_view session = cookieValue(head.header("cookie"), sessionCookieName(head.header("host")));
             !session.empty()) {
    // A stale cookie (expired, or from before a restart) is no guess at the token: it is
    // not counted, so a browser left open cannot lock its operator out.
    return sessionRefusal(head, session);
  } else if (isConsolePage(head)) {
    return toLogin();
  }
  throttle_.failed(peer);
  return unauthorized();
}

std::optional<HttpResponse> AdminApi::sessionRefusal(const HttpRequest& head, std::string_view session_id) {
  const ConsoleSession* session = console_.find(session_id);
  if (!session) {
    if (!isConsolePage(head)) return unauthorized();
    return toLogin();
  }
  // The page itself holds no data. Anything else needs the session's token, which only the
  // console's own page has (console_sessions.h): a stray copy of the cookie reads nothing,
  // and a request another site makes the browser send changes nothing.
  if (!isConsolePage(head) && !constantTimeEquals(head.header(kConsoleTokenHeader), session->token)) {
    HttpResponse r = problemResponse(403, "Forbidden",
                                     "a console session's request needs the session's token in X-Gust-Console-Token "
                                     "(the console's page sends it; log in again if the page lost it)");
    addPrivateHeaders(r);
    return r;
  }
  return std::nullopt;
}

bool AdminApi::tokenLogin(const HttpRequest& request, std::string_view token) {
  if (constantTimeEquals(token, token_)) {
    throttle_.succeeded(peerOf(request));
    return true;
  }
  throttle_.failed(peerOf(request));
  return false;
}

void AdminApi::loginFailed(const HttpRequest& request) { throttle_.failed(peerOf(request)); }

bool AdminApi::hostAllowed(std::string_view host) const {
  std::string port = ":" + std::to_string(port_);
  for (const std::string& name : {std::string("127.0.0.1"), std::string("localhost"), std::string("[::1]"), bind_host_}) {
    if (host == name + port) return true;
  }
  return false;
}

void AdminApi::onRequest(HttpRequest&& request, HttpResponder&& responder) {
  // The caller and the token were checked on the request's head (headRefusal).
  RouteMatch match = router_.match(request.method, request.path);
  if (match.kind == RouteMatch::kNotFound) {
    responder.send(problemResponse(404, "Not Found",
                                   "no admin route " + request.method + " " + request.path + " (see docs/admin-api.md)"));
    return;
  }
  if (match.kind == RouteMatch::kMethodNotAllowed) {
    HttpResponse r = problemResponse(405, "Method Not Allowed", request.path + " accepts " + match.allow);
    r.headers.emplace_back("Allow", match.allow);
    responder.send(std::move(r));
    return;
  }
  const AdminHandler& handler = handlers_[std::stoul(match.target->function)];
  handler(AdminCall{std::move(request), std::move(match.params), std::move(responder)});
}

}  // namespace gust
