#include "runtime/admin/admin_connections.h"

#include "gust/abi.h"
#include "runtime/base/iso8601.h"
#include "runtime/base/names.h"

namespace gust {
namespace {

using json = nlohmann::json;

HttpResponse noSuchConnection(const std::string& id) {
  return errorResponse(makeError(ErrorKind::kNotFound, "no open WebSocket connection " + id +
                                                           " (it closed, or never was; GET /v1/connections lists them)"));
}

// The answer to a connection call the registry refused, or null for GUST_OK.
std::optional<HttpResponse> refusal(int32_t status, const std::string& id, const std::string& problem) {
  switch (status) {
    case GUST_OK: return std::nullopt;
    case GUST_E_NOT_FOUND: return noSuchConnection(id);
    case GUST_E_LIMIT:
      return errorResponse(makeError(ErrorKind::kTooLarge, "the message is larger than the connection's send buffer"));
    default: return badRequest(problem);
  }
}

}  // namespace

void addConnectionRoutes(AdminApi& api, ConnectionRegistry& connections) {
  api.route({"GET"}, "/v1/connections", [&connections](AdminCall&& call) {
    std::string app = call.query("app");
    if (!app.empty()) {
      if (auto valid = validateAppName(app); !valid) return call.responder.send(errorResponse(valid.error()));
    }
    json list = json::array();
    for (const ConnectionInfo& c : connections.list(app)) {
      list.push_back({{"id", c.id},
                      {"app", c.app},
                      {"function", c.function},
                      {"path", c.path},
                      {"peer", c.peer},
                      {"opened_at", formatIso8601(c.opened_at, nullptr)},
                      {"messages_in", c.messages_in},
                      {"messages_out", c.messages_out}});
    }
    call.responder.send(jsonResponse({{"connections", std::move(list)}}));
  });

  // The request body is the message, as bytes: text unless ?binary=1.
  api.route({"POST"}, "/v1/connections/{id}", [&connections](AdminCall&& call) {
    std::string id = call.param("id");
    auto app = connections.appOf(id);
    if (!app) return call.responder.send(noSuchConnection(id));
    std::string binary = call.query("binary");
    ConnectionCall send;
    send.op = binary == "1" || binary == "true" ? ConnectionOp::kSendBinary : ConnectionOp::kSendText;
    send.id = id;
    send.data = std::move(call.request.body);
    if (std::string why = connectionCallProblem(send); !why.empty()) return call.responder.send(badRequest(why));
    if (auto refused = refusal(connections.callHere(*app, send), id, "")) return call.responder.send(std::move(*refused));
    call.responder.send(jsonResponse({{"id", id}, {"sent", true}}));
  });

  api.route({"DELETE"}, "/v1/connections/{id}", [&connections](AdminCall&& call) {
    std::string id = call.param("id");
    auto app = connections.appOf(id);
    if (!app) return call.responder.send(noSuchConnection(id));
    ConnectionCall close;
    close.op = ConnectionOp::kClose;
    close.id = id;
    if (std::string text = call.query("code"); !text.empty()) {
      char* end = nullptr;
      unsigned long n = std::strtoul(text.c_str(), &end, 10);
      if (end == text.c_str() || *end != '\0' || n > 65535) {
        return call.responder.send(badRequest("code must be 1000 or 3000..4999"));
      }
      close.code = static_cast<uint32_t>(n);
    }
    close.data = call.query("reason");
    if (std::string why = connectionCallProblem(close); !why.empty()) return call.responder.send(badRequest(why));
    if (auto refused = refusal(connections.callHere(*app, close), id, "")) return call.responder.send(std::move(*refused));
    call.responder.send(jsonResponse({{"id", id}, {"closing", true}}));
  });
}

}  // namespace gust
