#include "runtime/graphql/values.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "runtime/graphql/printer.h"
#include "runtime/graphql/suggestions.h"

namespace gust::graphql {
namespace {

std::string inspectAt(const Json& value, size_t depth) {
  switch (value.type()) {
    case Json::value_t::string: return value.dump();
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return value.get<bool>() ? "true" : "false";
    case Json::value_t::number_float: return jsNumber(value.get<double>());
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return value.dump();
    case Json::value_t::array: {
      if (value.empty()) return "[]";
      if (depth > 2) return "[Array]";
      std::string out = "[";
      size_t shown = std::min<size_t>(10, value.size());
      for (size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + inspectAt(value[i], depth + 1);
      size_t rest = value.size() - shown;
      if (rest == 1) out += ", ... 1 more item";
      if (rest > 1) out += ", ... " + std::to_string(rest) + " more items";
      return out + "]";
    }
    case Json::value_t::object: {
      if (value.empty()) return "{}";
      if (depth > 2) return "[Object]";
      std::string out = "{ ";
      bool first = true;
      for (const auto& [k, v] : value.items()) {
        out += (first ? "" : ", ") + k + ": " + inspectAt(v, depth + 1);
        first = false;
      }
      return out + " }";
    }
    default: return value.dump();
  }
}

std::string printPath(const Json& path) {
  std::string out;
  for (const auto& p : path) out += p.is_string() ? "." + p.get<std::string>() : "[" + p.dump() + "]";
  return out;
}

bool isInteger(const Json& v) {
  if (v.is_number_integer() || v.is_number_unsigned()) return true;
  if (!v.is_number_float()) return false;
  double d = v.get<double>();
  return std::isfinite(d) && std::floor(d) == d;
}

using OnError = std::function<void(const Json& path, const Json& invalid, const std::string& message)>;

std::optional<Json> parseLeaf(const NamedType& type, const Json& input, std::string& error) {
  const auto& name = type.name;
  if (type.kind == TypeKind::kEnum) {
    if (!input.is_string()) {
      error = "Enum \"" + name + "\" cannot represent non-string value: " + inspect(input) + "." +
              didYouMean(suggestionList(inspect(input), type.enum_values), "the enum value");
      return std::nullopt;
    }
    auto s = input.get<std::string>();
    if (!type.hasEnumValue(s)) {
      error = "Value \"" + s + "\" does not exist in \"" + name + "\" enum." +
              didYouMean(suggestionList(s, type.enum_values), "the enum value");
      return std::nullopt;
    }
    return input;
  }
  if (name == "Int") {
    if (!isInteger(input)) {
      error = "Int cannot represent non-integer value: " + inspect(input);
      return std::nullopt;
    }
    double d = input.get<double>();
    if (d > 2147483647.0 || d < -2147483648.0) {
      error = "Int cannot represent non 32-bit signed integer value: " + inspect(input);
      return std::nullopt;
    }
    return Json(static_cast<int64_t>(d));
  }
  if (name == "Float") {
    if (!input.is_number()) {
      error = "Float cannot represent non numeric value: " + inspect(input);
      return std::nullopt;
    }
    return input;
  }
  if (name == "String") {
    if (!input.is_string()) {
      error = "String cannot represent a non string value: " + inspect(input);
      return std::nullopt;
    }
    return input;
  }
  if (name == "Boolean") {
    if (!input.is_boolean()) {
      error = "Boolean cannot represent a non boolean value: " + inspect(input);
      return std::nullopt;
    }
    return input;
  }
  if (name == "ID") {
    if (input.is_string()) return input;
    if (isInteger(input)) return Json(jsNumber(input.get<double>()));
    error = "ID cannot represent value: " + inspect(input);
    return std::nullopt;
  }
  return input;  // a custom scalar takes any JSON
}

Json coerceInput(const Schema& schema, const Json& input, const TypeRef& type, const Json& path, const OnError& on_error) {
  if (type.isNonNull()) {
    if (!input.is_null()) return coerceInput(schema, input, type.ofType(), path, on_error);
    on_error(path, input, "Expected non-nullable type \"" + print(type) + "\" not to be null.");
    return nullptr;
  }
  if (input.is_null()) return nullptr;
  if (!type.wrappers.empty()) {
    TypeRef item = type.ofType();
    if (!input.is_array() && !input.is_string()) return Json::array({coerceInput(schema, input, item, path, on_error)});
    if (input.is_string()) return Json::array({coerceInput(schema, input, item, path, on_error)});
    Json out = Json::array();
    for (size_t i = 0; i < input.size(); ++i) {
      Json item_path = path;
      item_path.push_back(i);
      out.push_back(coerceInput(schema, input[i], item, item_path, on_error));
    }
    return out;
  }
  const auto* named = schema.type(type.name.value);
  if (!named) return nullptr;
  if (named->kind == TypeKind::kInputObject) {
    if (!input.is_object()) {
      on_error(path, input, "Expected type \"" + named->name + "\" to be an object.");
      return nullptr;
    }
    Json out = Json::object();
    for (const auto& f : named->input_fields) {
      auto it = input.find(f.name);
      if (it == input.end()) {
        if (f.default_value) {
          if (auto v = valueFromAst(schema, *f.default_value, f.type, Json::object())) out[f.name] = *v;
        } else if (f.type.isNonNull()) {
          on_error(path, input, "Field \"" + f.name + "\" of required type \"" + print(f.type) + "\" was not provided.");
        }
        continue;
      }
      Json field_path = path;
      field_path.push_back(f.name);
      out[f.name] = coerceInput(schema, *it, f.type, field_path, on_error);
    }
    std::vector<std::string> names;
    for (const auto& f : named->input_fields) names.push_back(f.name);
    for (const auto& [key, _] : input.items()) {
      if (!named->inputField(key)) {
        on_error(path, input, "Field \"" + key + "\" is not defined by type \"" + named->name + "\"." + didYouMean(suggestionList(key, names)));
      }
    }
    return out;
  }
  std::string error;
  auto parsed = parseLeaf(*named, input, error);
  if (!parsed) {
    on_error(path, input, error);
    return nullptr;
  }
  return *parsed;
}

}  // namespace

std::string jsNumber(double n) {
  if (std::isnan(n)) return "NaN";
  if (std::isinf(n)) return n > 0 ? "Infinity" : "-Infinity";
  if (n == 0) return "0";
  char buffer[40];
  if (std::floor(n) == n && std::fabs(n) < 1e21) {
    std::snprintf(buffer, sizeof buffer, "%.0f", n);
    return buffer;
  }
  // The shortest form that reads back as the same number, in JavaScript's exponent style.
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, n);
    if (std::strtod(buffer, nullptr) == n) break;
  }
  std::string s = buffer;
  auto e = s.find('e');
  if (e == std::string::npos) return s;
  int exponent = std::atoi(s.c_str() + e + 1);
  std::string mantissa = s.substr(0, e);
  if (exponent >= -7 && exponent < 21) {
    std::snprintf(buffer, sizeof buffer, "%.17f", n);  // JavaScript writes these without an exponent
    std::string fixed = buffer;
    for (int precision = 0; precision <= 20; ++precision) {
      std::snprintf(buffer, sizeof buffer, "%.*f", precision, n);
      if (std::strtod(buffer, nullptr) == n) return buffer;
    }
    return fixed;
  }
  return mantissa + "e" + (exponent > 0 ? "+" : "-") + std::to_string(std::abs(exponent));
}

std::string inspect(const Json& value) { return inspectAt(value, 1); }

CoercedVariables coerceVariableValues(const Schema& schema, const OperationDefinition& operation, const Json& inputs) {
  CoercedVariables out;
  const Json empty = Json::object();
  const Json& given = inputs.is_object() ? inputs : empty;
  for (const auto& def : operation.variables) {
    const auto& name = def.variable.value;
    auto report = [&](std::string message) {
      if (out.errors.size() < 50) out.errors.push_back(GraphQLError{std::move(message), {def.loc}, nullptr});
    };
    auto it = given.find(name);
    if (it == given.end()) {
      if (def.default_value) {
        if (auto v = valueFromAst(schema, *def.default_value, def.type, Json::object())) out.values[name] = *v;
      } else if (def.type.isNonNull()) {
        report("Variable \"$" + name + "\" of required type \"" + print(def.type) + "\" was not provided.");
      }
      continue;
    }
    if (it->is_null() && def.type.isNonNull()) {
      report("Variable \"$" + name + "\" of non-null type \"" + print(def.type) + "\" must not be null.");
      continue;
    }
    out.values[name] = coerceInput(schema, *it, def.type, Json::array(), [&](const Json& path, const Json& invalid, const std::string& message) {
      std::string prefix = "Variable \"$" + name + "\" got invalid value " + inspect(invalid);
      if (!path.empty()) prefix += " at \"" + name + printPath(path) + "\"";
      report(prefix + "; " + message);
    });
  }
  if (out.errors.size() >= 50) {
    out.errors.push_back(GraphQLError{"Too many errors processing variables, error limit reached. Execution aborted.", {}, nullptr});
  }
  return out;
}

std::optional<Json> valueFromAst(const Schema& schema, const Value& value, const TypeRef& type, const Json& variables) {
  if (value.kind == Value::Kind::kVariable) {
    auto it = variables.find(value.text);
    if (it == variables.end()) return std::nullopt;
    if (it->is_null() && type.isNonNull()) return std::nullopt;
    return *it;
  }
  if (type.isNonNull()) {
    if (value.kind == Value::Kind::kNull) return std::nullopt;
    return valueFromAst(schema, value, type.ofType(), variables);
  }
  if (value.kind == Value::Kind::kNull) return Json(nullptr);
  if (!type.wrappers.empty()) {
    TypeRef item = type.ofType();
    if (value.kind != Value::Kind::kList) {
      auto v = valueFromAst(schema, value, item, variables);
      if (!v) return std::nullopt;
      return Json::array({*v});
    }
    Json out = Json::array();
    for (const auto& element : value.list) {
      if (element.kind == Value::Kind::kVariable && !variables.contains(element.text)) {
        if (item.isNonNull()) return std::nullopt;
        out.push_back(nullptr);
        continue;
      }
      auto v = valueFromAst(schema, element, item, variables);
      if (!v) return std::nullopt;
      out.push_back(*v);
    }
    return out;
  }
  const auto* named = schema.type(type.name.value);
  if (!named) return std::nullopt;
  if (named->kind == TypeKind::kInputObject) {
    if (value.kind != Value::Kind::kObject) return std::nullopt;
    Json out = Json::object();
    for (const auto& f : named->input_fields) {
      const ObjectField* given = nullptr;
      for (const auto& g : value.fields)
        if (g.name.value == f.name) given = &g;
      if (!given || (given->value.kind == Value::Kind::kVariable && !variables.contains(given->value.text))) {
        if (f.default_value) {
          if (auto d = valueFromAst(schema, *f.default_value, f.type, Json::object())) out[f.name] = *d;
        } else if (f.type.isNonNull()) {
          return std::nullopt;
        }
        continue;
      }
      auto v = valueFromAst(schema, given->value, f.type, variables);
      if (!v) return std::nullopt;
      out[f.name] = *v;
    }
    return out;
  }
  // Leaves: a literal's JSON form, then the scalar's own rule.
  Json literal;
  switch (value.kind) {
    case Value::Kind::kInt: literal = Json::parse(value.text, nullptr, false); break;
    case Value::Kind::kFloat: literal = std::strtod(value.text.c_str(), nullptr); break;
    case Value::Kind::kString: literal = value.text; break;
    case Value::Kind::kBoolean: literal = value.boolean; break;
    case Value::Kind::kEnum: literal = value.text; break;
    case Value::Kind::kList:
    case Value::Kind::kObject:
      if (named->kind != TypeKind::kScalar || named->name == "Int" || named->name == "Float" || named->name == "String" ||
          named->name == "Boolean" || named->name == "ID") {
        return std::nullopt;
      }
      // A custom scalar takes a list or object literal as its JSON.
      if (value.kind == Value::Kind::kList) {
        Json out = Json::array();
        for (const auto& element : value.list) {
          auto v = valueFromAst(schema, element, type, variables);
          out.push_back(v ? *v : Json(nullptr));
        }
        return out;
      } else {
        Json out = Json::object();
        for (const auto& f : value.fields) {
          auto v = valueFromAst(schema, f.value, type, variables);
          out[f.name.value] = v ? *v : Json(nullptr);
        }
        return out;
      }
    default: return std::nullopt;
  }
  bool is_enum_literal = value.kind == Value::Kind::kEnum;
  if (named->kind == TypeKind::kEnum) {
    if (!is_enum_literal || !named->hasEnumValue(value.text)) return std::nullopt;
    return literal;
  }
  if (is_enum_literal && named->kind == TypeKind::kScalar && (named->name == "String" || named->name == "ID")) {
    return std::nullopt;
  }
  if (named->name == "Int" && value.kind != Value::Kind::kInt) return std::nullopt;
  if (named->name == "ID" && value.kind == Value::Kind::kInt) return Json(value.text);
  if (named->name == "ID" && value.kind != Value::Kind::kString) return std::nullopt;
  if (named->name == "String" && value.kind != Value::Kind::kString) return std::nullopt;
  if (named->name == "Boolean" && value.kind != Value::Kind::kBoolean) return std::nullopt;
  if (named->name == "Float" && value.kind != Value::Kind::kInt && value.kind != Value::Kind::kFloat) return std::nullopt;
  std::string error;
  return parseLeaf(*named, literal, error);
}

Json coerceArgumentValues(const Schema& schema, const std::vector<InputValue>& definitions,
                          const std::vector<Argument>& arguments, const Json& variables) {
  Json out = Json::object();
  for (const auto& def : definitions) {
    const Argument* given = nullptr;
    for (const auto& a : arguments)
      if (a.name.value == def.name) given = &a;
    bool missing = !given || (given->value.kind == Value::Kind::kVariable && !variables.contains(given->value.text));
    if (missing) {
      if (def.default_value) {
        if (auto v = valueFromAst(schema, *def.default_value, def.type, Json::object())) out[def.name] = *v;
      }
      continue;
    }
    if (auto v = valueFromAst(schema, given->value, def.type, variables)) out[def.name] = *v;
  }
  return out;
}

}  // namespace gust::graphql
