#pragma once
// The graphql-transport-ws protocol (github.com/enisdenjo/graphql-ws, PROTOCOL.md) as a pure
// state machine, server side: text messages from the client in; messages to send, a close,
// and subscriptions to start or stop out. No sockets and no clock here: the owner feeds it
// the client's messages and tells it when the initialisation wait is over, so tests drive it
// message by message. One connection each; used on one thread.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/graphql/schema.h"
#include "runtime/graphql/subscription.h"

namespace gust::graphql {

inline constexpr std::string_view kTransportWsProtocol = "graphql-transport-ws";

// The protocol's close codes.
enum TransportWsClose : uint16_t {
  kCloseInternalError = 4500,
  kCloseBadRequest = 4400,      // a message that is not the protocol's
  kCloseUnauthorized = 4401,    // subscribe before connection_ack
  kCloseForbidden = 4403,       // the connection_init was refused
  kCloseInitTimeout = 4408,     // no connection_init in time
  kCloseSubscriberExists = 4409,
  kCloseTooManyInits = 4429,
};

// What the owner of a connection decides: who may connect, and how a subscription reaches
// its events. An interface at the seam between the protocol and the host's topics.
class TransportWsHandler {
 public:
  virtual ~TransportWsHandler() = default;
  // The connection_init payload (an object, maybe empty); false refuses with 4403.
  virtual bool acceptConnection(const Json& payload) = 0;
  // Starts delivering events for a prepared subscription; errors to answer instead.
  virtual std::vector<GraphQLError> startSubscription(const std::string& id, const PreparedSubscription& subscription) = 0;
  // The subscription ended: the client completed it, or the connection is closing.
  virtual void stopSubscription(const std::string& id) = 0;
};

struct TransportWsOutput {
  std::vector<std::string> messages;  // text messages to send, in order
  struct Close {
    uint16_t code = 1000;
    std::string reason;
  };
  std::optional<Close> close;  // then close the connection after sending `messages`
};

class TransportWsSession {
 public:
  TransportWsSession(const Schema& schema, TransportWsHandler& handler, ParseLimits limits = {},
                     size_t max_subscriptions = 100)
      : schema_(schema), handler_(handler), limits_(limits), max_subscriptions_(max_subscriptions) {}
  TransportWsSession(const TransportWsSession&) = delete;
  TransportWsSession& operator=(const TransportWsSession&) = delete;

  TransportWsOutput onText(std::string_view text);
  TransportWsOutput onBinary();
  // The time allowed for connection_init has passed.
  TransportWsOutput onInitTimeout();
  // The connection ended, whoever closed it: every subscription stops.
  void onClosed();

  // One event for subscription `id`: the "next" message to send, or nothing if `id` is not
  // active (completed meanwhile).
  std::optional<std::string> next(const std::string& id, const Json& event) const;
  // The server ends subscription `id` (its topic went away): the "complete" message.
  std::optional<std::string> complete(const std::string& id);

  bool acknowledged() const { return acknowledged_; }
  size_t activeSubscriptions() const { return subscriptions_.size(); }

 private:
  TransportWsOutput subscribe(const Json& message);

  const Schema& schema_;
  TransportWsHandler& handler_;
  ParseLimits limits_;
  size_t max_subscriptions_;
  bool init_received_ = false;
  bool acknowledged_ = false;
  bool closed_ = false;
  std::map<std::string, PreparedSubscription> subscriptions_;
};

}  // namespace gust::graphql
