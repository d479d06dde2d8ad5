#pragma once
// The admin API's queue routes (docs/admin-api.md "Queues"): send, list, peek, redrive and
// purge, on the host's queue backend. A committed send wakes the queue's consumers. The list
// holds every queue with messages or dead letters and every queue the active versions of the
// apps (from `dispatcher`) consume or declare, each with its consumers.

#include "runtime/admin/admin_api.h"
#include "runtime/exec/dispatcher.h"
#include "runtime/store/queue_backend.h"
#include "triggers/queue/queue_trigger.h"

namespace gust {

// `queues`, `trigger` and `dispatcher` must outlive `api`.
void addQueueRoutes(AdminApi& api, QueueBackend& queues, QueueTrigger& trigger, const Dispatcher& dispatcher);

}  // namespace gust
