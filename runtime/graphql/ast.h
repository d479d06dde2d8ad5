#pragma once
// The syntax tree of a GraphQL document (spec §2 executable definitions, §3 type system
// definitions), with the place of each node so that errors point where the user looks
// (spec §7.1.2 "locations"). Value types; any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace gust::graphql {

// 1-based line and column. Columns count UTF-16 code units, as graphql-js does, so that a
// client compares our locations with its own tools' without surprise.
struct SourceLocation {
  uint32_t line = 0;
  uint32_t column = 0;
  bool operator==(const SourceLocation&) const = default;
};

struct Name {
  std::string value;
  SourceLocation loc;
};

struct ObjectField;

struct Value {
  enum class Kind { kVariable, kInt, kFloat, kString, kBoolean, kNull, kEnum, kList, kObject };
  Kind kind = Kind::kNull;
  SourceLocation loc;
  // The variable's or enum value's name, the number as written, or the string's value.
  std::string text;
  SourceLocation name_loc;  // a variable's name (after the "$")
  bool boolean = false;
  bool block = false;  // a string written as a block string (printing keeps the form)
  std::vector<Value> list;
  std::vector<ObjectField> fields;
};

struct ObjectField {
  Name name;
  Value value;
  SourceLocation loc;
};

// A type reference: the named type and its wrappers, outermost first ('L' list, '!' non-null).
// "[Int!]!" is name "Int" with wrappers "!L!".
struct TypeRef {
  Name name;
  std::string wrappers;
  SourceLocation loc;

  bool isNonNull() const { return !wrappers.empty() && wrappers[0] == '!'; }
  // The type without its outermost wrapper: a non-null's nullable type, a list's item type.
  TypeRef ofType() const {
    TypeRef inner = *this;
    if (!inner.wrappers.empty()) inner.wrappers.erase(0, 1);
    return inner;
  }
  TypeRef nullable() const { return isNonNull() ? ofType() : *this; }
  bool isList() const { return !nullable().wrappers.empty(); }
  // A list's item type (of the nullable list).
  TypeRef itemType() const { return nullable().ofType(); }
};

struct Argument {
  Name name;
  Value value;
  SourceLocation loc;
};

struct Directive {
  Name name;
  std::vector<Argument> arguments;
  SourceLocation loc;
};

struct Selection;

struct SelectionSet {
  std::vector<Selection> selections;
  SourceLocation loc;
  bool present = false;  // a field without braces has none
};

struct Selection {
  enum class Kind { kField, kFragmentSpread, kInlineFragment };
  Kind kind = Kind::kField;
  SourceLocation loc;
  std::optional<Name> alias;           // fields
  Name name;                           // a field's name, a spread's fragment name
  std::vector<Argument> arguments;     // fields
  std::optional<Name> type_condition;  // inline fragments
  std::vector<Directive> directives;
  SelectionSet selection_set;          // fields (maybe absent), inline fragments

  const std::string& responseName() const { return alias ? alias->value : name.value; }
};

enum class OperationType { kQuery, kMutation, kSubscription };

struct VariableDefinition {
  Name variable;  // without the "$"; loc is the name's
  SourceLocation loc;
  TypeRef type;
  std::optional<Value> default_value;
  std::vector<Directive> directives;
};

struct OperationDefinition {
  OperationType operation = OperationType::kQuery;
  std::optional<Name> name;
  std::vector<VariableDefinition> variables;
  std::vector<Directive> directives;
  SelectionSet selection_set;
  SourceLocation loc;
};

struct FragmentDefinition {
  Name name;
  Name type_condition;
  std::vector<Directive> directives;
  SelectionSet selection_set;
  SourceLocation loc;
};

struct InputValueDefinition {
  std::optional<std::string> description;
  Name name;
  TypeRef type;
  std::optional<Value> default_value;
  std::vector<Directive> directives;
  SourceLocation loc;
};

struct FieldDefinition {
  std::optional<std::string> description;
  Name name;
  std::vector<InputValueDefinition> arguments;
  TypeRef type;
  std::vector<Directive> directives;
  SourceLocation loc;
};

struct EnumValueDefinition {
  std::optional<std::string> description;
  Name name;
  std::vector<Directive> directives;
  SourceLocation loc;
};

enum class TypeKind { kScalar, kObject, kInterface, kUnion, kEnum, kInputObject };

// One type definition or extension ("extend type ...").
struct TypeDefinition {
  TypeKind kind = TypeKind::kScalar;
  bool extension = false;
  std::optional<std::string> description;
  Name name;
  std::vector<Name> interfaces;                 // objects, interfaces
  std::vector<Directive> directives;
  std::vector<FieldDefinition> fields;          // objects, interfaces
  std::vector<InputValueDefinition> input_fields;  // input objects
  std::vector<Name> members;                    // unions
  std::vector<EnumValueDefinition> values;      // enums
  SourceLocation loc;
};

struct RootOperation {
  OperationType operation = OperationType::kQuery;
  Name type;
};

struct SchemaDefinition {
  bool extension = false;
  std::optional<std::string> description;
  std::vector<Directive> directives;
  std::vector<RootOperation> roots;
  SourceLocation loc;
};

struct DirectiveDefinition {
  std::optional<std::string> description;
  Name name;
  std::vector<InputValueDefinition> arguments;
  bool repeatable = false;
  std::vector<Name> locations;
  SourceLocation loc;
};

using Definition = std::variant<OperationDefinition, FragmentDefinition, SchemaDefinition,
                                TypeDefinition, DirectiveDefinition>;

struct Document {
  std::vector<Definition> definitions;
};

}  // namespace gust::graphql
