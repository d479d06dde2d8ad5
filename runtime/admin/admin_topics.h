#pragma once
// The admin API's topic routes (docs/admin-api.md "Topics"): list topics, list a topic's
// subscriptions with their backlog, and publish an event. A committed publish wakes the
// topic's subscribers.

#include "runtime/admin/admin_api.h"
#include "runtime/store/queue_backend.h"
#include "triggers/queue/queue_trigger.h"

namespace gust {

// `queues` and `trigger` must outlive `api`.
void addTopicRoutes(AdminApi& api, QueueBackend& queues, QueueTrigger& trigger);

}  // namespace gust
