#pragma once
// The admin API's function key routes (docs/admin-api.md, "Function keys"): create a key
// (answered once, with the key), list an app's keys (names, scopes and times, never a key
// or its digest), revoke one.

#include "runtime/admin/admin_api.h"
#include "runtime/exec/dispatcher.h"
#include "runtime/store/key_store.h"

namespace gust {

// `dispatcher` names the functions of deployed apps, so a key scoped to a function the
// active version lacks is refused rather than made useless.
void addKeyRoutes(AdminApi& api, KeyStore& keys, const Dispatcher& dispatcher);

}  // namespace gust
