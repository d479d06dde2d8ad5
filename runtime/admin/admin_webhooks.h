#pragma once
// The admin API's webhook routes (docs/admin-api.md, "Webhooks"): subscribe a URL to a topic
// (answered once with its signing secret), list webhooks with their backlog (never a secret),
// remove one, rotate its secret (answered once with the new one).

#include "runtime/admin/admin_api.h"
#include "runtime/store/queue_backend.h"
#include "triggers/webhooks/webhook_deliveries.h"

namespace gust {

void addWebhookRoutes(AdminApi& api, WebhookDeliveries& webhooks, QueueBackend& queues);

}  // namespace gust
