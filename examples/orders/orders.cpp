// Queues end to end: an HTTP function takes orders and queues them; a consumer charges
// each order and queues its shipment; another consumer ships it.
//
//   curl -X POST localhost:8080/orders -d '{"id":"o-1","product":"book","amount":12}'
//   gust queue ls                      depth, in flight and dead letters per queue
//   curl -X POST localhost:8080/orders -d '{"id":"o-2","product":"poison","amount":1}'
//   gust queue peek orders.dead        the poison order, with its reason and attempts
//
// Delivery is at least once: a message whose consumer crashed, timed out or lost its lease
// comes again. So every step is idempotent, keyed by the order id:
// - `place` publishes with message id = order id: a client that posts the same order twice
//   (say, after a timeout) queues it once, within the host's dedupe window.
// - `charge` sends the order id as the payment provider's idempotency key (as Stripe's
//   Idempotency-Key header does): a redelivered order is not charged twice. Its shipment is
//   published with id "ship-<order id>", and publishes commit only with the batch's acks,
//   so a retried batch never leaves a half-done order behind.
// - `ship` is keyed the same way by whoever carries the parcel.
#include <gust/gust.hpp>

#include <map>
#include <mutex>
#include <string>

namespace {

// Stands in for a payment provider's API. The real one keeps its ledger of idempotency
// keys on its side, shared by every instance of this app and kept across restarts; this
// stand-in keeps it in the instance's memory, which is enough to show the calls.
class PaymentProvider {
 public:
  // Charges `amount` once per `idempotency_key`; a repeated key answers the first charge.
  std::string charge(const std::string& idempotency_key, double amount) {
    std::lock_guard lock(mutex_);
    auto [it, fresh] = charges_.try_emplace(idempotency_key, "ch_" + std::to_string(charges_.size() + 1));
    if (fresh) total_ += amount;
    return it->second;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::string> charges_;
  double total_ = 0;
};

PaymentProvider& payments() {
  static PaymentProvider provider;
  return provider;
}

}  // namespace

// POST /orders {"id": "...", "product": "...", "amount": 12.5}: queues the order, 202.
gust::Response place(const gust::Request& req, gust::Context& ctx) {
  nlohmann::json order = req.json();
  if (order.is_discarded() || !order.is_object() || !order.contains("id") || !order["id"].is_string() ||
      order["id"].get<std::string>().empty()) {
    return gust::Response::text("send an order as JSON with a string \"id\", e.g. "
                                "{\"id\":\"o-1\",\"product\":\"book\",\"amount\":12}\n",
                                400);
  }
  std::string id = order["id"];
  gust::Status queued = ctx.publish("orders", order.dump(), {.id = id});
  if (!queued) return gust::Response::text("cannot queue order " + id + ": " + queued.message() + "\n", 400);
  return gust::Response::json({{"id", id}, {"status", "queued"}}, 202);
}
GUST_FUNCTION(place)

void charge(const gust::Batch& batch, gust::Context& ctx) {
  for (gust::Message msg : batch) {
    nlohmann::json order = nlohmann::json::parse(msg.body(), nullptr, false);
    if (order.is_discarded() || !order.is_object()) {
      msg.deadLetter("not an order: the body is not a JSON object");
      continue;
    }
    std::string id = order.value("id", std::string(msg.id()));
    if (order.value("product", "") == "poison") {
      // Retrying cannot help an order nobody can fulfil: park it for a human.
      msg.deadLetter("order " + id + ": product \"poison\" cannot be sold");
      continue;
    }
    std::string charge_id = payments().charge(id, order.value("amount", 0.0));
    ctx.log("charged order " + id + " (" + charge_id + ", attempt " + std::to_string(msg.attempt()) + ")");
    nlohmann::json shipment = {{"order", id}, {"product", order.value("product", "")}, {"charge", charge_id}};
    gust::Status queued = ctx.publish("shipments", shipment.dump(), {.id = "ship-" + id});
    // Throwing retries the whole batch; nothing it published so far is committed.
    if (!queued) throw std::runtime_error("cannot queue the shipment of order " + id + ": " + queued.message());
  }
}
GUST_QUEUE_FUNCTION(charge)

void ship(const gust::Batch& batch, gust::Context& ctx) {
  for (gust::Message msg : batch) {
    nlohmann::json shipment = nlohmann::json::parse(msg.body(), nullptr, false);
    if (shipment.is_discarded()) {
      msg.deadLetter("not a shipment: the body is not JSON");
      continue;
    }
    ctx.log("shipped order " + shipment.value("order", std::string("?")) + " (" +
            shipment.value("product", std::string("?")) + ")");
  }
}
GUST_QUEUE_FUNCTION(ship)
