#pragma once
// The admin API's app routes (docs/admin-api.md, "Apps" and "Timers"): deploy, list,
// describe, rollback, delete, and running a timer now.

#include <string>

#include "runtime/admin/admin_api.h"
#include "runtime/apps/app_manager.h"
#include "runtime/store/key_store.h"
#include "runtime/store/state_store.h"
#include "triggers/timer/timer_trigger.h"

namespace gust {

// `public_url` is the base URL of the public HTTP listener, shown beside each route; it is
// read at each request (it is known only once the listener is bound) and must outlive `api`.
// Removing an app revokes its function keys too (`keys`) and deletes its app state (`state`).
void addAppRoutes(AdminApi& api, AppManager& apps, Dispatcher& dispatcher, TimerTrigger& timers, KeyStore& keys,
                  StateStore& state, const std::string& public_url);

// Every app served, with its routes, timers, queues, limits and pool: GET /v1/apps's answer.
nlohmann::json appsOverview(const Dispatcher& dispatcher, const TimerTrigger& timers, const std::string& public_url);

// An app's pool state as the API and `gust ps` show it.
nlohmann::json poolJson(const PoolStats& s);

}  // namespace gust
