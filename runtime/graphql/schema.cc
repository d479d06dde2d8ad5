#include "runtime/graphql/schema.h"

#include <algorithm>
#include <utility>

#include "runtime/graphql/parser.h"
#include "runtime/graphql/printer.h"

namespace gust::graphql {
namespace {

// The directives every schema has (spec §3.13).
constexpr std::string_view kBuiltInDirectives = R"(
directive @skip(if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT
directive @include(if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT
directive @deprecated(reason: String = "No longer supported") on FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION | ENUM_VALUE
directive @specifiedBy(url: String!) on SCALAR
)";

std::vector<InputValue> inputValues(const std::vector<InputValueDefinition>& definitions) {
  std::vector<InputValue> out;
  for (const auto& d : definitions) out.push_back(InputValue{d.name.value, d.type, d.default_value});
  return out;
}

DirectiveDef directiveOf(const DirectiveDefinition& d) {
  DirectiveDef out{d.name.value, inputValues(d.arguments), {}, d.repeatable};
  for (const auto& l : d.locations) out.locations.push_back(l.value);
  return out;
}

Error badSchema(std::string message) { return makeError(ErrorKind::kBadInput, "GraphQL schema: " + std::move(message)); }

}  // namespace

namespace {

template <typename T>
const T* byName(const std::vector<T>& items, std::string_view name) {
  for (const auto& item : items)
    if (item.name == name) return &item;
  return nullptr;
}

}  // namespace

const InputValue* FieldDef::argument(std::string_view n) const { return byName(arguments, n); }
const InputValue* DirectiveDef::argument(std::string_view n) const { return byName(arguments, n); }
const FieldDef* NamedType::field(std::string_view n) const { return byName(fields, n); }
const InputValue* NamedType::inputField(std::string_view n) const { return byName(input_fields, n); }

bool NamedType::hasEnumValue(std::string_view v) const {
  return std::find(enum_values.begin(), enum_values.end(), v) != enum_values.end();
}

const NamedType* Schema::type(std::string_view name) const {
  auto it = types_.find(name);
  return it == types_.end() ? nullptr : &it->second;
}

const DirectiveDef* Schema::directive(std::string_view name) const {
  for (const auto& d : directives_)
    if (d.name == name) return &d;
  return nullptr;
}

const NamedType* Schema::root(OperationType operation) const {
  const auto& name = roots_[static_cast<int>(operation)];
  return name.empty() ? nullptr : type(name);
}

bool Schema::isPossibleType(const NamedType& abstract, const NamedType& object) const {
  if (abstract.name == object.name) return true;
  const auto& p = abstract.possible_types;
  return std::find(p.begin(), p.end(), object.name) != p.end();
}

bool Schema::isSubType(const NamedType& super, const NamedType& sub) const {
  if (super.name == sub.name) return true;
  if (super.kind == TypeKind::kUnion) return isPossibleType(super, sub);
  if (super.kind == TypeKind::kInterface) {
    return std::find(sub.interfaces.begin(), sub.interfaces.end(), super.name) != sub.interfaces.end();
  }
  return false;
}

std::vector<std::string> Schema::typeNames() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : types_) out.push_back(name);
  return out;
}

Result<Schema> Schema::fromSdl(std::string_view sdl) {
  auto parsed = parse(sdl, ParseLimits{1 << 20, 1'000'000, 64, 0});
  if (parsed.error) {
    const auto& e = *parsed.error;
    std::string where = e.locations.empty() ? "" : " (line " + std::to_string(e.locations[0].line) + ", column " +
                                                       std::to_string(e.locations[0].column) + ")";
    return badSchema(e.message + where);
  }
  Schema schema;
  for (const char* name : {"Int", "Float", "String", "Boolean", "ID"}) {
    schema.types_[name] = NamedType{TypeKind::kScalar, name, {}, {}, {}, {}, {}};
  }
  auto builtins = parse(kBuiltInDirectives);
  for (const auto& d : builtins.document.definitions) schema.directives_.push_back(directiveOf(std::get<DirectiveDefinition>(d)));

  const SchemaDefinition* schema_definition = nullptr;
  std::vector<const TypeDefinition*> extensions;
  for (const auto& definition : parsed.document.definitions) {
    if (const auto* s = std::get_if<SchemaDefinition>(&definition)) {
      if (s->extension) return badSchema("\"extend schema\" is not supported; write one schema {} block.");
      if (schema_definition) return badSchema("there can be only one schema definition.");
      schema_definition = s;
    } else if (const auto* d = std::get_if<DirectiveDefinition>(&definition)) {
      if (schema.directive(d->name.value)) return badSchema("directive \"@" + d->name.value + "\" is defined twice.");
      schema.directives_.push_back(directiveOf(*d));
    } else if (const auto* t = std::get_if<TypeDefinition>(&definition)) {
      if (t->extension) {
        extensions.push_back(t);
        continue;
      }
      if (schema.types_.count(t->name.value)) return badSchema("type \"" + t->name.value + "\" is defined twice.");
      if (t->name.value.rfind("__", 0) == 0) {
        return badSchema("type \"" + t->name.value + "\" must not begin with \"__\", which is reserved by GraphQL introspection.");
      }
      NamedType type{t->kind, t->name.value, {}, {}, {}, {}, {}};
      schema.types_[t->name.value] = std::move(type);
      extensions.insert(extensions.begin(), t);  // a definition first, then its extensions
    } else {
      return badSchema("the schema must hold only type system definitions, not operations or fragments.");
    }
  }
  // Fill each type from its definition and then its extensions, in the order written.
  std::stable_sort(extensions.begin(), extensions.end(), [](auto* a, auto* b) { return !a->extension && b->extension; });
  for (const auto* t : extensions) {
    auto it = schema.types_.find(t->name.value);
    if (it == schema.types_.end()) return badSchema("cannot extend type \"" + t->name.value + "\" because it is not defined.");
    auto& type = it->second;
    if (type.kind != t->kind) return badSchema("cannot extend type \"" + t->name.value + "\" as another kind of type.");
    for (const auto& i : t->interfaces) type.interfaces.push_back(i.value);
    for (const auto& f : t->fields) {
      if (type.field(f.name.value)) return badSchema("field \"" + t->name.value + "." + f.name.value + "\" is defined twice.");
      type.fields.push_back(FieldDef{f.name.value, f.type, inputValues(f.arguments), f.directives});
    }
    for (const auto& m : t->members) type.possible_types.push_back(m.value);
    for (const auto& v : t->values) type.enum_values.push_back(v.name.value);
    for (const auto& f : inputValues(t->input_fields)) type.input_fields.push_back(f);
  }
  // Every reference names a type of the right kind.
  auto check = [&](const TypeRef& ref, bool input, const std::string& where) -> Result<void> {
    const auto* named = schema.type(ref.name.value);
    if (!named) return badSchema(where + " refers to unknown type \"" + ref.name.value + "\".");
    if (input && !named->isInput()) return badSchema(where + " must be an input type, not \"" + print(ref) + "\".");
    if (!input && named->kind == TypeKind::kInputObject) {
      return badSchema(where + " must be an output type, not input type \"" + print(ref) + "\".");
    }
    return {};
  };
  for (auto& [name, type] : schema.types_) {
    if ((type.kind == TypeKind::kObject || type.kind == TypeKind::kInterface) && type.fields.empty()) {
      return badSchema("type \"" + name + "\" must define one or more fields.");
    }
    for (const auto& f : type.fields) {
      if (auto r = check(f.type, false, "field \"" + name + "." + f.name + "\""); !r) return r.error();
      for (const auto& a : f.arguments) {
        if (auto r = check(a.type, true, "argument \"" + name + "." + f.name + "(" + a.name + ":)\""); !r) return r.error();
      }
    }
    for (const auto& f : type.input_fields) {
      if (auto r = check(f.type, true, "input field \"" + name + "." + f.name + "\""); !r) return r.error();
    }
    for (const auto& m : type.possible_types) {
      const auto* member = schema.type(m);
      if (!member || member->kind != TypeKind::kObject) {
        return badSchema("union \"" + name + "\" can include only object types, and \"" + m + "\" is not one.");
      }
    }
    for (const auto& i : type.interfaces) {
      const auto* iface = schema.type(i);
      if (!iface || iface->kind != TypeKind::kInterface) {
        return badSchema("type \"" + name + "\" can implement only interfaces, and \"" + i + "\" is not one.");
      }
    }
  }
  for (auto& [name, type] : schema.types_) {
    if (type.kind != TypeKind::kObject) continue;
    for (const auto& i : type.interfaces) schema.types_[i].possible_types.push_back(name);
  }
  const char* kDefaultRoots[3] = {"Query", "Mutation", "Subscription"};
  if (schema_definition) {
    for (const auto& r : schema_definition->roots) schema.roots_[static_cast<int>(r.operation)] = r.type.value;
  } else {
    for (int i = 0; i < 3; ++i)
      if (schema.type(kDefaultRoots[i])) schema.roots_[i] = kDefaultRoots[i];
  }
  for (int i = 0; i < 3; ++i) {
    if (schema.roots_[i].empty()) continue;
    const auto* root = schema.type(schema.roots_[i]);
    if (!root || root->kind != TypeKind::kObject) {
      return badSchema("root type \"" + schema.roots_[i] + "\" must be a defined object type.");
    }
  }
  return schema;
}

}  // namespace gust::graphql
