#pragma once
// A schema built from SDL (spec §3): its named types, directives and root operation types.
// Built once when an app is deployed, then read-only: any thread may read it.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/result.h"
#include "runtime/graphql/ast.h"

namespace gust::graphql {

struct InputValue {
  std::string name;
  TypeRef type;
  std::optional<Value> default_value;
};

struct FieldDef {
  std::string name;
  TypeRef type;
  std::vector<InputValue> arguments;
  std::vector<Directive> directives;  // as written in the SDL (the endpoint reads @topic)

  const InputValue* argument(std::string_view name) const;
};

struct NamedType {
  TypeKind kind = TypeKind::kScalar;
  std::string name;
  std::vector<FieldDef> fields;            // objects, interfaces
  std::vector<std::string> interfaces;     // objects, interfaces
  std::vector<std::string> possible_types; // unions: members; interfaces: implementing objects
  std::vector<std::string> enum_values;
  std::vector<InputValue> input_fields;

  const FieldDef* field(std::string_view name) const;
  const InputValue* inputField(std::string_view name) const;
  bool hasEnumValue(std::string_view value) const;
  bool isComposite() const { return kind == TypeKind::kObject || kind == TypeKind::kInterface || kind == TypeKind::kUnion; }
  bool isAbstract() const { return kind == TypeKind::kInterface || kind == TypeKind::kUnion; }
  bool isLeaf() const { return kind == TypeKind::kScalar || kind == TypeKind::kEnum; }
  bool isInput() const { return isLeaf() || kind == TypeKind::kInputObject; }
};

struct DirectiveDef {
  std::string name;
  std::vector<InputValue> arguments;
  std::vector<std::string> locations;
  bool repeatable = false;

  const InputValue* argument(std::string_view name) const;
};

class Schema {
 public:
  // Builds and checks a schema from SDL; the error names the type or field at fault.
  static Result<Schema> fromSdl(std::string_view sdl);

  const NamedType* type(std::string_view name) const;
  const DirectiveDef* directive(std::string_view name) const;
  const NamedType* root(OperationType operation) const;
  // Is `object` one of the runtime types of `abstract` (or `abstract` itself)?
  bool isPossibleType(const NamedType& abstract, const NamedType& object) const;
  // Is the type `sub` one that a position of type `super` accepts (spec IsSubType)?
  bool isSubType(const NamedType& super, const NamedType& sub) const;
  std::vector<std::string> typeNames() const;
  const std::vector<DirectiveDef>& directives() const { return directives_; }

 private:
  std::map<std::string, NamedType, std::less<>> types_;
  std::vector<DirectiveDef> directives_;
  std::string roots_[3];
};

}  // namespace gust::graphql
