#pragma once
// The admin API's app environment routes (docs/admin-api.md, "Environment"): list an app's
// variable names, set and remove variables. Values go in, never out.

#include "runtime/admin/admin_api.h"
#include "runtime/apps/app_manager.h"

namespace gust {

void addEnvRoutes(AdminApi& api, AppManager& apps);

}  // namespace gust
