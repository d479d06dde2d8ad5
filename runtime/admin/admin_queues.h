#pragma once
// The admin API's queue routes (docs/admin-api.md "Queues"): send, list, peek, redrive and
// purge, on the host's queue backend. A committed send wakes the queue's consumers.

#include "runtime/admin/admin_api.h"
#include "runtime/store/queue_backend.h"
#include "triggers/queue/queue_trigger.h"

namespace gust {

// `queues` and `trigger` must outlive `api`.
void addQueueRoutes(AdminApi& api, QueueBackend& queues, QueueTrigger& trigger);

}  // namespace gust
