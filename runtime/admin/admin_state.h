#pragma once
// The admin API's app state routes (docs/admin-api.md, "App state"): list an app's state
// keys (versions, sizes, expiry, never values) and read one key's value, raw.

#include "runtime/admin/admin_api.h"
#include "runtime/store/state_store.h"

namespace gust {

void addStateRoutes(AdminApi& api, StateStore& state);

}  // namespace gust
