#pragma once
// The admin API's invocation routes (docs/admin-api.md, "Invocations"):
// GET /v1/invocations/{id} answers an async invocation's state (the shape of
// triggers/http/async_json.h), or else the invocation record with that id.

#include "runtime/admin/admin_api.h"
#include "runtime/store/invocation_store.h"

namespace gust {

// `store` must outlive `api`.
void addInvocationRoutes(AdminApi& api, InvocationStore& store);

}  // namespace gust
