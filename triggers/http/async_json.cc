#include "triggers/http/async_json.h"

#include "runtime/base/iso8601.h"
#include "runtime/base/text.h"

namespace gust {

nlohmann::json asyncInvocationJson(const AsyncInvocation& a) {
  nlohmann::json out = {{"id", a.id},
                        {"app", a.app},
                        {"function", a.function},
                        // Who may read it (docs/security.md): shown only to that caller, or the operator.
                        {"caller", a.caller},
                        {"status", asyncStatusName(a.status)},
                        {"attempts", a.attempts},
                        {"created_at", formatIso8601(a.created_at, nullptr, Iso8601Precision::kMillis)},
                        {"updated_at", formatIso8601(a.updated_at, nullptr, Iso8601Precision::kMillis)},
                        {"location", invocationLocation(a.id)}};
  if (a.response) {
    nlohmann::json headers = nlohmann::json::array();
    for (const auto& [name, value] : a.response->headers) {
      // Header values a function set are checked for CR/LF/NUL, not for UTF-8.
      headers.push_back({name, isValidUtf8(value) ? value : base64Encode(value)});
    }
    nlohmann::json response = {{"status", a.response->status}, {"headers", headers}};
    if (isValidUtf8(a.response->body)) {
      response["body"] = a.response->body;
    } else {
      response["body_base64"] = base64Encode(a.response->body);
    }
    out["response"] = std::move(response);
  }
  if (!a.error.empty()) out["error"] = isValidUtf8(a.error) ? a.error : base64Encode(a.error);
  if (!a.callback_error.empty()) out["callback_error"] = a.callback_error;
  return out;
}

}  // namespace gust
