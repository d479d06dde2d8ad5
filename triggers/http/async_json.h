#pragma once
// The one JSON shape of an async invocation: what `GET /v1/invocations/{id}` answers (on
// the public listener and the admin API) and what a callback POSTs. A response body that
// is valid UTF-8 is "body"; any other is "body_base64", so binary answers survive JSON.

#include <nlohmann/json.hpp>

#include "runtime/store/invocation_store.h"

namespace gust {

nlohmann::json asyncInvocationJson(const AsyncInvocation& invocation);

// The path a 202 points at; the prefix is reserved on the public listener.
inline constexpr std::string_view kInvocationsPrefix = "/v1/invocations/";
inline std::string invocationLocation(const std::string& id) { return std::string(kInvocationsPrefix) + id; }

}  // namespace gust
