// libFuzzer target: any bytes as a GraphQL document, parsed and validated against a fixed
// schema, and executed over a fixed event when valid. Nothing may crash, hang or recurse
// without bound (the parser's depth limit).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/graphql/execution.h"
#include "runtime/graphql/parser.h"
#include "runtime/graphql/schema.h"
#include "runtime/graphql/validation.h"

namespace {

constexpr std::string_view kSdl = R"(
scalar JSON
enum Status { PLACED PAID SHIPPED }
interface Node { id: ID! }
type Order implements Node { id: ID! status: Status! total: Float items: [Item!] meta: JSON next: Order }
type Item { sku: String! qty: Int }
type Shipment implements Node { id: ID! carrier: String }
union Update = Order | Shipment
input Filter { status: Status, ids: [ID!], min: Float = 0, nested: Filter }
type Query { order(id: ID!): Order }
type Subscription { order(id: ID!, filter: Filter): Order update(status: [Status!]): Update! node: Node }
)";

const gust::graphql::Schema& schema() {
  static const auto* s = new gust::graphql::Schema(*gust::graphql::Schema::fromSdl(kSdl));
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gust::graphql;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = parse(text);
  if (parsed.error) return 0;
  auto errors = validate(schema(), parsed.document);
  if (!errors.empty()) return 0;
  std::string error;
  const auto* op = selectOperation(parsed.document, "", &error);
  if (!op) return 0;
  auto variables = coerceVariableValues(schema(), *op, Json::object());
  if (!variables.errors.empty()) return 0;
  static const Json event = Json::parse(
      R"({"order": {"id": "1", "status": "PAID", "items": [{"sku": "a"}], "next": {"id": 2}},
          "update": {"__typename": "Shipment", "id": "s"}, "node": {"__typename": "Order", "id": "n"}})");
  (void)execute(schema(), parsed.document, *op, variables.values, event);
  return 0;
}
