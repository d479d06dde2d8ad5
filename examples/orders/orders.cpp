// An online shop's order pipeline, event-driven: one "order placed" event starts payment,
// inventory and notification at once; each works at its own pace, idempotent through the
// app's state; an aggregator collects their results and completes the order; an outside
// system hears of it by signed webhook.
//
//   POST /orders            place: stores the order, publishes order.placed, answers 202
//   order.placed   ->  payment, inventory, notification   (three subscriptions)
//   order.progress ->  aggregator: records each step; all three done -> order.completed
//   order.completed ->  any webhook (`gust webhook add order.completed URL`)
//   order.status    ->  each change of an order, for clients that watch live (README)
//   GET /orders/{id}        the order's status and each step's result
//   POST /webhooks/order-completed   a receiver that checks the webhook's signature
//
// Delivery is at least once: an event whose subscriber crashed, timed out or was retried
// comes again. So each step first asks the app's state whether it did its work for this
// order ("have I charged o-1?") and writes the answer in the same commit as the event it
// publishes: a retried step neither charges twice nor forgets that it charged.
#include <gust/json.hpp>

#include <cstdlib>
#include <string>

namespace {

// Steps the aggregator waits for; each publishes one order.progress event per order.
constexpr const char* kSteps[] = {"payment", "inventory", "notification"};
// Payment attempts before an order fails; gust.json's max_attempts for payment says the same.
constexpr int kPaymentAttempts = 3;

std::string orderKey(const std::string& id) { return "order/" + id; }

// An order as live clients see it on order.status: its status and the steps so far, as a
// list (a GraphQL client selects fields of each).
nlohmann::json statusOf(const nlohmann::json& order) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& [name, result] : order["steps"].items()) {
    steps.push_back({{"name", name}, {"ok", result["ok"]}, {"detail", result["detail"]}});
  }
  return {{"id", order["id"]}, {"status", order["status"]}, {"steps", steps}};
}

// Publishes the order's new status; `change` names the change, so that a retried invocation
// publishes the same event id, which the topic's subscriptions dedupe.
void publishStatus(gust::Context& ctx, const nlohmann::json& order, const std::string& change) {
  const std::string id = order["id"];
  ctx.publish("order.status", statusOf(order).dump(), {.id = "status-" + id + "-" + change, .type = "order.status", .subject = id});
}

bool validId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

// The order an event carries, or a dead letter saying why there is none.
nlohmann::json orderOf(gust::Message& msg) {
  nlohmann::json order = nlohmann::json::parse(msg.body(), nullptr, false);
  if (order.is_discarded() || !order.is_object() || !order.contains("id") || !order["id"].is_string()) {
    msg.deadLetter("not an order: the body is not a JSON object with a string \"id\"");
    return nullptr;
  }
  return order;
}

// Runs `work` for each order of the batch once per `step`: the state key "<step>/<id>" says
// it was done, and is written with the result event, so a redelivered order skips the work.
template <typename Work>
void onceEach(const gust::Batch& batch, gust::Context& ctx, const std::string& step, Work work) {
  for (gust::Message msg : batch) {
    nlohmann::json order = orderOf(msg);
    if (order.is_null()) continue;
    const std::string id = order["id"];
    if (ctx.state().get(step + "/" + id)) continue;  // done before; its event went out with it
    std::string detail;
    if (!work(msg, order, detail)) continue;  // work settled the message itself
    gust::Status done = ctx.state().put(step + "/" + id, detail, {.if_version = 0});
    nlohmann::json result = {{"order", id}, {"step", step}, {"ok", true}, {"detail", detail}};
    gust::Status published =
        ctx.publish("order.progress", result.dump(), {.id = step + "-" + id, .type = step + ".done", .subject = id});
    if (!done || !published) throw std::runtime_error("cannot record " + step + " of order " + id);
  }
}

}  // namespace

// POST /orders {"id": "o-1", "product": "book", "amount": 12}
gust::Response place(const gust::Request& req, gust::Context& ctx) {
  nlohmann::json order = req.json();
  if (order.is_discarded() || !order.is_object() || !order.contains("id") || !order["id"].is_string() ||
      !validId(order["id"])) {
    return gust::Response::text("send an order as JSON with an \"id\" of 1 to 64 letters, digits, '-' or '_', e.g. "
                                "{\"id\":\"o-1\",\"product\":\"book\",\"amount\":12}\n",
                                400);
  }
  const std::string id = order["id"];
  if (auto existing = ctx.state().get(orderKey(id))) {
    // Posted again (a client's retry): the same order, not a second one.
    nlohmann::json stored = nlohmann::json::parse(existing->value);
    return gust::Response::json({{"id", id}, {"status", stored["status"]}}, 200);
  }
  nlohmann::json stored = {{"id", id},
                           {"product", order.value("product", "")},
                           {"amount", order.value("amount", 0.0)},
                           {"status", "placed"},
                           {"steps", nlohmann::json::object()}};
  // Only if nobody placed it meanwhile; the event goes out with it or not at all.
  ctx.state().put(orderKey(id), stored.dump(), {.if_version = 0});
  ctx.publish("order.placed", stored.dump(), {.id = id, .type = "order.placed", .subject = id});
  publishStatus(ctx, stored, "placed");
  return gust::Response::json({{"id", id}, {"status", "placed"}}, 202);
}
GUST_FUNCTION(place)

// GET /orders/{id}
gust::Response status(const gust::Request& req, gust::Context& ctx) {
  auto stored = ctx.state().get(orderKey(std::string(req.param("id"))));
  if (!stored) return gust::Response::text("no order " + std::string(req.param("id")) + "\n", 404);
  return gust::Response::json(nlohmann::json::parse(stored->value));
}
GUST_FUNCTION(status)

// A card that is declined is retried with backoff; once the attempts run out the order
// fails (an order.progress event saying so) and the event stays in the dead letters.
void payment(const gust::Batch& batch, gust::Context& ctx) {
  onceEach(batch, ctx, "payment", [&](gust::Message& msg, const nlohmann::json& order, std::string& detail) {
    const std::string id = order["id"];
    if (order.value("product", "") != "declined") {
      detail = "charged " + nlohmann::json(order.value("amount", 0.0)).dump() + " as ch_" + id;
      ctx.log("payment: order " + id + " " + detail);
      return true;
    }
    if (msg.attempt() < kPaymentAttempts) {
      ctx.warn("payment: card declined for order " + id + " (attempt " + std::to_string(msg.attempt()) + ")");
      msg.retry(std::chrono::milliseconds(200 << (msg.attempt() - 1)));
      return false;
    }
    nlohmann::json failed = {{"order", id}, {"step", "payment"}, {"ok", false},
                             {"detail", "card declined " + std::to_string(kPaymentAttempts) + " times"}};
    ctx.publish("order.progress", failed.dump(), {.id = "payment-" + id, .type = "payment.failed", .subject = id});
    msg.deadLetter("order " + id + ": card declined " + std::to_string(kPaymentAttempts) + " times");
    return false;
  });
}
GUST_QUEUE_FUNCTION(payment)

void inventory(const gust::Batch& batch, gust::Context& ctx) {
  onceEach(batch, ctx, "inventory", [&](gust::Message&, const nlohmann::json& order, std::string& detail) {
    detail = "reserved 1 " + order.value("product", std::string("item"));
    ctx.log("inventory: order " + order["id"].get<std::string>() + " " + detail);
    return true;
  });
}
GUST_QUEUE_FUNCTION(inventory)

void notification(const gust::Batch& batch, gust::Context& ctx) {
  onceEach(batch, ctx, "notification", [&](gust::Message&, const nlohmann::json& order, std::string& detail) {
    detail = "emailed the customer";
    ctx.log("notification: order " + order["id"].get<std::string>() + " " + detail);
    return true;
  });
}
GUST_QUEUE_FUNCTION(notification)

// Records each step's result in the order. Steps finish concurrently, so the order is
// written only at the version read: if another step's result got there first, nothing of
// this invocation commits and the host retries it on the newer order.
void aggregator(const gust::Batch& batch, gust::Context& ctx) {
  for (gust::Message msg : batch) {
    nlohmann::json result = nlohmann::json::parse(msg.body(), nullptr, false);
    if (result.is_discarded() || !result.contains("order") || !result.contains("step")) {
      msg.deadLetter("not an order.progress event");
      continue;
    }
    const std::string id = result["order"];
    auto stored = ctx.state().get(orderKey(id));
    if (!stored) {
      msg.deadLetter("no order " + id);
      continue;
    }
    nlohmann::json order = nlohmann::json::parse(stored->value);
    const std::string step = result["step"];
    if (order["steps"].contains(step)) continue;  // this result was recorded before
    order["steps"][step] = {{"ok", result["ok"]}, {"detail", result["detail"]}};
    bool all_done = true;
    for (const char* s : kSteps) all_done = all_done && order["steps"].contains(s) && order["steps"][s]["ok"] == true;
    if (result["ok"] != true) {
      order["status"] = "failed";
      ctx.publish("order.failed", order.dump(), {.id = "failed-" + id, .type = "order.failed", .subject = id});
    } else if (all_done && order["status"] == "placed") {
      order["status"] = "completed";
      ctx.publish("order.completed", order.dump(), {.id = "completed-" + id, .type = "order.completed", .subject = id});
    }
    ctx.state().put(orderKey(id), order.dump(), {.if_version = stored->version});
    publishStatus(ctx, order, step);
    ctx.log("aggregator: order " + id + " " + step + (result["ok"] == true ? " done" : " failed") + ", status " +
            order["status"].get<std::string>());
  }
}
GUST_QUEUE_FUNCTION(aggregator)

// POST /webhooks/order-completed: what a shop's partner would run, here in the same app so
// the example needs nothing else. It accepts only a delivery signed with the secret that
// `gust webhook add` printed (set as the app's variable WEBHOOK_SECRET).
gust::Response receiver(const gust::Request& req, gust::Context& ctx) {
  const char* secret = std::getenv("WEBHOOK_SECRET");
  auto checked = gust::webhooks::verify(req, ctx, gust::webhooks::Scheme::kStandardWebhooks, secret ? secret : "");
  if (!checked) return gust::Response::text("signature refused: " + checked.error + "\n", 401);
  nlohmann::json order = req.json();
  ctx.log("webhook: order " + order.value("id", std::string("?")) + " " + order.value("status", std::string("?")) +
          " (delivery " + std::string(req.header("webhook-id")) + ")");
  return gust::Response::text("thanks\n");
}
GUST_FUNCTION(receiver)
