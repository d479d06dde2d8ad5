#include "runtime/cli/console_proxy.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

#include "runtime/cli/admin_http.h"

namespace gust::cli {
namespace {

// Hop-by-hop fields, the ones the two HTTP libraries set for themselves, and the peer
// addresses cpp-httplib's server adds to a request's fields.
bool forwarded(std::string_view name) {
  constexpr std::array<std::string_view, 10> kDropped = {
      "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade",
      "remote_addr", "remote_port", "local_addr", "local_port", "proxy-connection"};
  for (std::string_view dropped : kDropped) {
    if (name.size() == dropped.size() &&
        std::equal(name.begin(), name.end(), dropped.begin(), [](char a, char b) { return std::tolower(a) == b; })) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<void> runConsoleProxy(const AdminTarget& target, int port, const std::function<void(int port)>& ready) {
  httplib::Server server;
  int bound = port == 0 ? server.bind_to_any_port("127.0.0.1") : (server.bind_to_port("127.0.0.1", port) ? port : -1);
  if (bound < 0) {
    return makeError(ErrorKind::kIo, "cannot listen on 127.0.0.1:" + std::to_string(port) +
                                         " for the console; choose another port with --port");
  }
  std::array<std::string, 2> own = {"127.0.0.1:" + std::to_string(bound), "localhost:" + std::to_string(bound)};
  auto ours = [&own](std::string_view host) { return host == own[0] || host == own[1]; };

  auto forward = [&target, &ours](const httplib::Request& req, httplib::Response& res) {
    std::string origin = req.get_header_value("Origin");
    if (!ours(req.get_header_value("Host")) ||
        (!origin.empty() && (!origin.starts_with("http://") || !ours(std::string_view(origin).substr(7))))) {
      res.status = 403;
      res.set_content("the console proxy answers only requests addressed to it\n", "text/plain");
      return;
    }
    auto client = adminClient(target);
    if (!client) {
      res.status = 502;
      res.set_content(client.error().message + "\n", "text/plain");
      return;
    }
    // Log pages long-poll for up to 30 s.
    (*client)->set_read_timeout(std::chrono::seconds(60));
    httplib::Request out;
    out.method = req.method;
    out.path = req.target;
    out.body = req.body;
    for (const auto& [name, value] : req.headers) {
      if (forwarded(name)) out.headers.emplace(name, value);
    }
    httplib::Response answer;
    httplib::Error error = httplib::Error::Success;
    if (!(*client)->send(out, answer, error)) {
      res.status = 502;
      res.set_content(unreachable(adminAddress(target), error).message + "\n", "text/plain");
      return;
    }
    res.status = answer.status;
    for (const auto& [name, value] : answer.headers) {
      if (forwarded(name)) res.headers.emplace(name, value);
    }
    res.body = std::move(answer.body);
  };
  server.Get(".*", forward).Post(".*", forward).Put(".*", forward).Patch(".*", forward).Delete(".*", forward);
  ready(bound);
  if (!server.listen_after_bind()) return makeError(ErrorKind::kIo, "the console proxy stopped listening");
  return {};
}

}  // namespace gust::cli
