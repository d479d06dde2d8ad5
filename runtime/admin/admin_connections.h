#pragma once
// The admin API's WebSocket connection routes (docs/admin-api.md, "Connections"): list the
// open connections of `"websocket": true` functions, send one a message, close one.

#include "runtime/admin/admin_api.h"
#include "triggers/http/connection_registry.h"

namespace gust {

void addConnectionRoutes(AdminApi& api, ConnectionRegistry& connections);

}  // namespace gust
