#include "runtime/graphql/execution.h"

#include <cmath>
#include <cstdlib>
#include <optional>
#include <set>

#include "runtime/graphql/collect_fields.h"
#include "runtime/graphql/printer.h"

namespace gust::graphql {
namespace {

// JavaScript's Number(string), which graphql-js applies before coercing a string to a number.
std::optional<double> jsNumberOf(const std::string& text) {
  size_t b = text.find_first_not_of(" \t\n\r\v\f");
  if (b == std::string::npos) return 0.0;
  size_t e = text.find_last_not_of(" \t\n\r\v\f");
  std::string s = text.substr(b, e - b + 1);
  if (s == "Infinity" || s == "+Infinity") return HUGE_VAL;
  if (s == "-Infinity") return -HUGE_VAL;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    char* end = nullptr;
    double v = static_cast<double>(std::strtoull(s.c_str() + 2, &end, 16));
    return *end ? std::nullopt : std::optional<double>(v);
  }
  for (char c : s) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) return std::nullopt;
  }
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  return *end ? std::nullopt : std::optional<double>(v);
}

// A raw value as a number the way graphql-js's serializers see it: booleans as 1/0, strings
// through Number().
std::optional<double> numberOf(const Json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  if (v.is_string() && !v.get<std::string>().empty()) return jsNumberOf(v.get<std::string>());
  return std::nullopt;
}

std::optional<Json> serializeLeaf(const NamedType& type, const Json& v, std::string& error) {
  const auto& name = type.name;
  if (type.kind == TypeKind::kEnum) {
    if (v.is_string() && type.hasEnumValue(v.get<std::string>())) return v;
    error = "Enum \"" + name + "\" cannot represent value: " + inspect(v);
    return std::nullopt;
  }
  if (name == "Int") {
    auto n = numberOf(v);
    if (!n || !std::isfinite(*n) || std::floor(*n) != *n) {
      error = "Int cannot represent non-integer value: " + inspect(v);
      return std::nullopt;
    }
    if (*n > 2147483647.0 || *n < -2147483648.0) {
      error = "Int cannot represent non 32-bit signed integer value: " + inspect(v);
      return std::nullopt;
    }
    return Json(static_cast<int64_t>(*n));
  }
  if (name == "Float") {
    auto n = numberOf(v);
    if (!n || !std::isfinite(*n)) {
      error = "Float cannot represent non numeric value: " + inspect(v);
      return std::nullopt;
    }
    // JSON.stringify writes an integral float as an integer ("3", not "3.0"); so do we.
    if (std::floor(*n) == *n && std::fabs(*n) < 9e15) return Json(static_cast<int64_t>(*n));
    return Json(*n);
  }
  if (name == "String") {
    if (v.is_string()) return v;
    if (v.is_boolean()) return Json(v.get<bool>() ? "true" : "false");
    if (v.is_number()) {
      if (v.is_number_integer() || v.is_number_unsigned()) return Json(v.dump());
      return Json(jsNumber(v.get<double>()));
    }
    error = "String cannot represent value: " + inspect(v);
    return std::nullopt;
  }
  if (name == "Boolean") {
    if (v.is_boolean()) return v;
    if (v.is_number()) return Json(v.get<double>() != 0);
    error = "Boolean cannot represent a non boolean value: " + inspect(v);
    return std::nullopt;
  }
  if (name == "ID") {
    if (v.is_string()) return v;
    if (v.is_number_integer() || v.is_number_unsigned()) return Json(v.dump());
    if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()) return Json(jsNumber(v.get<double>()));
    error = "ID cannot represent value: " + inspect(v);
    return std::nullopt;
  }
  return v;  // a custom scalar passes its JSON through
}

class Executor {
 public:
  Executor(const Schema& schema, const Document& document, const Json& variables)
      : schema_(schema), document_(document), variables_(variables) {}

  ExecutionResult run(const NamedType& root_type, const OperationDefinition& operation, const Json& root) {
    ExecutionResult result;
    Json data = Json::object();
    Json path = Json::array();
    if (executeSelection(root_type, {&operation.selection_set}, root, path, data)) {
      result.data = std::move(data);
    } else {
      record();
      result.data = nullptr;
    }
    result.errors = std::move(errors_);
    return result;
  }

 private:
  // Fills `out` with the fields of `type` asked for by `sets` (the selection sets of all the
  // field nodes merged under one response key). False when a non-null field failed, which
  // nulls this object in turn.
  bool executeSelection(const NamedType& type, const std::vector<const SelectionSet*>& sets, const Json& source, Json& path,
                        Json& out) {
    std::vector<FieldGroup> groups;
    std::set<std::string> visited;
    for (const auto* set : sets) collectFields(schema_, document_, type, *set, variables_, groups, visited);
    for (const auto& group : groups) {
      const auto& name = group.fields[0]->name.value;
      if (name == "__typename") {
        out[group.response_key] = type.name;
        continue;
      }
      const auto* def = type.field(name);
      if (!def) continue;  // validation reports it; execution leaves it out
      const Json* raw = nullptr;
      if (source.is_object()) {
        auto it = source.find(name);
        if (it != source.end()) raw = &*it;
      }
      path.push_back(group.response_key);
      Json value;
      FieldContext field{&type, def, &group};
      bool ok = completeAtBoundary(field, def->type, raw, path, value);
      path.erase(path.size() - 1);
      if (!ok) return false;
      out[group.response_key] = std::move(value);
    }
    return true;
  }

  struct FieldContext {
    const NamedType* parent;
    const FieldDef* def;
    const FieldGroup* group;
  };

  // A field or a list item: an error inside it is recorded here and the value becomes null,
  // unless the place is non-null, which passes the error up (§6.4.4).
  bool completeAtBoundary(const FieldContext& field, const TypeRef& type, const Json* raw, Json& path, Json& out) {
    if (complete(field, type, raw, path, out)) return true;
    if (type.isNonNull()) return false;
    record();
    out = nullptr;
    return true;
  }

  void fail(const FieldContext& field, const Json& path, std::string message) {
    if (pending_) return;
    GraphQLError e{std::move(message), {}, path};
    for (const auto* node : field.group->fields) e.locations.push_back(node->loc);
    pending_ = std::move(e);
  }

  void record() {
    if (pending_) errors_.push_back(std::move(*pending_));
    pending_.reset();
  }

  bool complete(const FieldContext& field, const TypeRef& type, const Json* raw, Json& path, Json& out) {
    if (type.isNonNull()) {
      if (!complete(field, type.ofType(), raw, path, out)) return false;
      if (!out.is_null()) return true;
      fail(field, path, "Cannot return null for non-nullable field " + field.parent->name + "." + field.def->name + ".");
      return false;
    }
    if (!raw || raw->is_null()) {
      out = nullptr;
      return true;
    }
    if (!type.wrappers.empty()) return completeList(field, type.ofType(), *raw, path, out);
    const auto* named = schema_.type(type.name.value);
    if (named->isLeaf()) {
      std::string error;
      auto value = serializeLeaf(*named, *raw, error);
      if (!value) {
        fail(field, path, error);
        return false;
      }
      out = std::move(*value);
      return true;
    }
    const NamedType* object = named;
    if (named->isAbstract()) {
      object = resolveType(field, *named, *raw, path);
      if (!object) return false;
    }
    std::vector<const SelectionSet*> sets;
    for (const auto* node : field.group->fields) sets.push_back(&node->selection_set);
    out = Json::object();
    return executeSelection(*object, sets, *raw, path, out);
  }

  bool completeList(const FieldContext& field, const TypeRef& item_type, const Json& raw, Json& path, Json& out) {
    // graphql-js takes only arrays (JavaScript iterables that are objects) as lists.
    if (!raw.is_array()) {
      fail(field, path, "Expected Iterable, but did not find one for field \"" + field.parent->name + "." + field.def->name + "\".");
      return false;
    }
    const Json& items = raw;
    out = Json::array();
    for (size_t i = 0; i < items.size(); ++i) {
      path.push_back(i);
      Json value;
      bool ok = completeAtBoundary(field, item_type, &items[i], path, value);
      path.erase(path.size() - 1);
      if (!ok) return false;
      out.push_back(std::move(value));
    }
    return true;
  }

  const NamedType* resolveType(const FieldContext& field, const NamedType& abstract, const Json& raw, const Json& path) {
    auto it = raw.is_object() ? raw.find("__typename") : raw.end();
    if (!raw.is_object() || it == raw.end() || !it->is_string()) {
      fail(field, path, "Abstract type \"" + abstract.name + "\" must resolve to an Object type at runtime for field \"" +
                            field.parent->name + "." + field.def->name + "\". Either the \"" + abstract.name +
                            "\" type should provide a \"resolveType\" function or each possible type should provide an \"isTypeOf\" function.");
      return nullptr;
    }
    auto name = it->get<std::string>();
    const auto* type = schema_.type(name);
    if (!type) {
      fail(field, path, "Abstract type \"" + abstract.name + "\" was resolved to a type \"" + name + "\" that does not exist inside the schema.");
      return nullptr;
    }
    if (type->kind != TypeKind::kObject) {
      fail(field, path, "Abstract type \"" + abstract.name + "\" was resolved to a non-object type \"" + name + "\".");
      return nullptr;
    }
    if (!schema_.isPossibleType(abstract, *type)) {
      fail(field, path, "Runtime Object type \"" + name + "\" is not a possible type for \"" + abstract.name + "\".");
      return nullptr;
    }
    return type;
  }

  const Schema& schema_;
  const Document& document_;
  const Json& variables_;
  std::vector<GraphQLError> errors_;
  std::optional<GraphQLError> pending_;
};

}  // namespace

Json toJson(const ExecutionResult& result) {
  Json out = Json::object();
  if (!result.errors.empty()) out["errors"] = toJson(result.errors);
  out["data"] = result.data;
  return out;
}

const OperationDefinition* selectOperation(const Document& document, std::string_view name, std::string* error) {
  const OperationDefinition* found = nullptr;
  for (const auto& d : document.definitions) {
    const auto* op = std::get_if<OperationDefinition>(&d);
    if (!op) continue;
    if (name.empty()) {
      if (found) {
        *error = "Must provide operation name if query contains multiple operations.";
        return nullptr;
      }
      found = op;
    } else if (op->name && op->name->value == name) {
      found = op;
    }
  }
  if (!found) *error = name.empty() ? "Must provide an operation." : "Unknown operation named \"" + std::string(name) + "\".";
  return found;
}

ExecutionResult execute(const Schema& schema, const Document& document, const OperationDefinition& operation,
                        const Json& variables, const Json& root) {
  const auto* root_type = schema.root(operation.operation);
  if (!root_type) {
    const char* names[] = {"query", "mutation", "subscription"};
    std::string kind = names[static_cast<int>(operation.operation)];
    std::string message = operation.operation == OperationType::kQuery
                              ? "Schema does not define the required query root type."
                              : "Schema is not configured to execute " + kind + " operation.";
    return ExecutionResult{nullptr, {GraphQLError{message, {operation.loc}, nullptr}}};
  }
  return Executor(schema, document, variables).run(*root_type, operation, root);
}

}  // namespace gust::graphql
