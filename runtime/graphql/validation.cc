#include "runtime/graphql/validation.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "runtime/graphql/collect_fields.h"
#include "runtime/graphql/overlapping_fields.h"
#include "runtime/graphql/printer.h"
#include "runtime/graphql/suggestions.h"

namespace gust::graphql {
namespace {

// The input type expected at a place in a value; `known` is false where no type applies
// (an unknown argument, say), and then nothing below it is checked.
struct InputType {
  bool known = false;
  TypeRef type;
};

InputType known(const TypeRef& t) { return InputType{true, t}; }


struct VariableUsage {
  const Value* node = nullptr;
  InputType type;
  bool location_has_default = false;
};

// What one operation or fragment holds that the rules over variables and spreads need.
struct DefinitionFacts {
  std::vector<VariableUsage> usages;
  const SelectionSet* selection_set = nullptr;
};

const char* locationOf(OperationType op) {
  switch (op) {
    case OperationType::kQuery: return "QUERY";
    case OperationType::kMutation: return "MUTATION";
    case OperationType::kSubscription: return "SUBSCRIPTION";
  }
  return "QUERY";
}

class Validator {
 public:
  Validator(const Schema& schema, const Document& document, size_t max_errors)
      : schema_(schema), document_(document), max_errors_(max_errors) {}

  std::vector<GraphQLError> run() {
    for (const auto& definition : document_.definitions) {
      if (const auto* op = std::get_if<OperationDefinition>(&definition)) {
        operations_.push_back(op);
      } else if (const auto* fragment = std::get_if<FragmentDefinition>(&definition)) {
        fragments_.push_back(fragment);
      } else {
        executableDefinitions(definition);
      }
      if (const auto* t = std::get_if<TypeDefinition>(&definition); t && !t->extension) defined_types_.insert(t->name.value);
      if (const auto* d = std::get_if<DirectiveDefinition>(&definition)) defined_directives_.insert(d->name.value);
    }
    // Type system definitions are not executable, yet graphql-js's rules still check the
    // names they use; so do we, so that a client sees the same list.
    current_ = &sdl_facts_;
    for (const auto& definition : document_.definitions) checkTypeSystemNames(definition);
    uniqueOperationNames();
    loneAnonymousOperation();
    uniqueFragmentNames();
    for (const auto* op : operations_) checkOperation(*op);
    for (const auto* fragment : fragments_) checkFragment(*fragment);
    noUnusedFragments();
    noFragmentCycles();
    for (const auto* op : operations_) checkOperationVariables(*op);
    findFieldMergeConflicts(schema_, document_, errors_);
    // In document order, as a reader goes through them (graphql-js's single walk comes close
    // to it); the rules' own order breaks ties.
    std::stable_sort(errors_.begin(), errors_.end(), [](const GraphQLError& a, const GraphQLError& b) {
      if (a.locations.empty() || b.locations.empty()) return !a.locations.empty() && b.locations.empty();
      const auto& x = a.locations[0];
      const auto& y = b.locations[0];
      return x.line != y.line ? x.line < y.line : x.column < y.column;
    });
    if (errors_.size() > max_errors_) {
      errors_.resize(max_errors_);
      errors_.push_back(GraphQLError{"Too many validation errors, error limit reached. Validation aborted.", {}, nullptr});
    }
    return std::move(errors_);
  }

 private:
  void report(std::string message, std::vector<SourceLocation> locations) {
    errors_.push_back(GraphQLError{std::move(message), std::move(locations), nullptr});
  }

  const FragmentDefinition* fragment(std::string_view name) const {
    for (const auto* f : fragments_)
      if (f->name.value == name) return f;
    return nullptr;
  }

  void executableDefinitions(const Definition& definition) {
    std::string name;
    SourceLocation loc;
    if (const auto* s = std::get_if<SchemaDefinition>(&definition)) {
      name = "schema";
      loc = s->loc;
    } else if (const auto* t = std::get_if<TypeDefinition>(&definition)) {
      name = "\"" + t->name.value + "\"";
      loc = t->loc;
    } else if (const auto* d = std::get_if<DirectiveDefinition>(&definition)) {
      name = "\"" + d->name.value + "\"";
      loc = d->loc;
    }
    report("The " + name + " definition is not executable.", {loc});
  }

  void uniqueOperationNames() {
    std::map<std::string, SourceLocation> seen;
    for (const auto* op : operations_) {
      if (!op->name) continue;
      auto [it, fresh] = seen.emplace(op->name->value, op->name->loc);
      if (!fresh) report("There can be only one operation named \"" + op->name->value + "\".", {it->second, op->name->loc});
    }
  }

  void loneAnonymousOperation() {
    if (operations_.size() < 2) return;
    for (const auto* op : operations_) {
      if (!op->name) report("This anonymous operation must be the only defined operation.", {op->loc});
    }
  }

  void uniqueFragmentNames() {
    std::map<std::string, SourceLocation> seen;
    for (const auto* f : fragments_) {
      auto [it, fresh] = seen.emplace(f->name.value, f->name.loc);
      if (!fresh) report("There can be only one fragment named \"" + f->name.value + "\".", {it->second, f->name.loc});
    }
  }

  // Known type names: the type a name refers to, if the schema has it. A type the document
  // itself defines is known (not reported) but has no schema type.
  const NamedType* knownType(const Name& name, bool in_sdl = false) {
    static const std::vector<std::string> kStandard = {"String", "Int", "Float", "Boolean", "ID"};
    const auto* type = schema_.type(name.value);
    if (type || defined_types_.count(name.value)) return type;
    bool standard = std::find(kStandard.begin(), kStandard.end(), name.value) != kStandard.end();
    if (in_sdl && standard) return nullptr;
    auto names = schema_.typeNames();
    names.insert(names.end(), defined_types_.begin(), defined_types_.end());
    if (in_sdl) names.insert(names.begin(), kStandard.begin(), kStandard.end());
    report("Unknown type \"" + name.value + "\"." + didYouMean(suggestionList(name.value, names)), {name.loc});
    return nullptr;
  }

  void checkTypeSystemNames(const Definition& definition) {
    auto sdlDirectives = [&](const std::vector<Directive>& directives, const char* location) {
      std::vector<Directive> known;
      for (const auto& d : directives)
        if (!defined_directives_.count(d.name.value) || schema_.directive(d.name.value)) known.push_back(d);
      checkDirectives(known, location);
    };
    auto inputValues = [&](const std::vector<InputValueDefinition>& values, const char* location) {
      for (const auto& v : values) {
        knownType(v.type.name, true);
        sdlDirectives(v.directives, location);
      }
    };
    if (const auto* s = std::get_if<SchemaDefinition>(&definition)) {
      sdlDirectives(s->directives, "SCHEMA");
      for (const auto& r : s->roots) knownType(r.type, true);
    } else if (const auto* t = std::get_if<TypeDefinition>(&definition)) {
      static const char* kLocations[] = {"SCALAR", "OBJECT", "INTERFACE", "UNION", "ENUM", "INPUT_OBJECT"};
      sdlDirectives(t->directives, kLocations[static_cast<int>(t->kind)]);
      for (const auto& i : t->interfaces) knownType(i, true);
      for (const auto& f : t->fields) {
        inputValues(f.arguments, "ARGUMENT_DEFINITION");
        knownType(f.type.name, true);
        sdlDirectives(f.directives, "FIELD_DEFINITION");
      }
      inputValues(t->input_fields, "INPUT_FIELD_DEFINITION");
      for (const auto& m : t->members) knownType(m, true);
      for (const auto& v : t->values) sdlDirectives(v.directives, "ENUM_VALUE");
    } else if (const auto* d = std::get_if<DirectiveDefinition>(&definition)) {
      inputValues(d->arguments, "ARGUMENT_DEFINITION");
    }
  }

  void checkOperation(const OperationDefinition& op) {
    auto& facts = facts_[&op];
    facts.selection_set = &op.selection_set;
    current_ = &facts;
    std::map<std::string, std::vector<SourceLocation>> names;
    std::vector<std::string> order;
    for (const auto& v : op.variables) {
      if (names[v.variable.value].empty()) order.push_back(v.variable.value);
      names[v.variable.value].push_back(v.variable.loc);
    }
    for (const auto& name : order) {
      if (names[name].size() > 1) report("There can be only one variable named \"$" + name + "\".", names[name]);
    }
    for (const auto& v : op.variables) {
      const auto* type = knownType(v.type.name);
      if (type && !type->isInput()) {
        report("Variable \"$" + v.variable.value + "\" cannot be non-input type \"" + print(v.type) + "\".", {v.type.loc});
      }
      if (v.default_value) checkValue(*v.default_value, type && type->isInput() ? known(v.type) : InputType{});
      checkDirectives(v.directives, "VARIABLE_DEFINITION");
    }
    checkDirectives(op.directives, locationOf(op.operation));
    const auto* root = schema_.root(op.operation);
    checkSelectionSet(op.selection_set, root);
    if (op.operation == OperationType::kSubscription && root) singleFieldSubscription(op, *root);
  }

  void checkFragment(const FragmentDefinition& f) {
    auto& facts = facts_[&f];
    facts.selection_set = &f.selection_set;
    current_ = &facts;
    const auto* type = knownType(f.type_condition);
    if (type && !type->isComposite()) {
      report("Fragment \"" + f.name.value + "\" cannot condition on non composite type \"" + f.type_condition.value + "\".",
             {f.type_condition.loc});
    }
    checkDirectives(f.directives, "FRAGMENT_DEFINITION");
    checkSelectionSet(f.selection_set, type && type->isComposite() ? type : nullptr);
  }

  void singleFieldSubscription(const OperationDefinition& op, const NamedType& root) {
    std::vector<FieldGroup> groups;
    std::set<std::string> visited;
    collectFields(schema_, document_, root, op.selection_set, nlohmann::ordered_json::object(), groups, visited);
    std::string who = op.name ? "Subscription \"" + op.name->value + "\"" : "Anonymous Subscription";
    if (groups.size() > 1) {
      std::vector<SourceLocation> extra;
      for (size_t i = 1; i < groups.size(); ++i)
        for (const auto* f : groups[i].fields) extra.push_back(f->loc);
      report(who + " must select only one top level field.", extra);
    }
    for (const auto& g : groups) {
      if (g.fields[0]->name.value.rfind("__", 0) != 0) continue;
      std::vector<SourceLocation> locations;
      for (const auto* f : g.fields) locations.push_back(f->loc);
      report(who + " must not select an introspection top level field.", locations);
    }
  }

  // Fragments can overlap when some object type could be both (PossibleFragmentSpreads).
  bool overlap(const NamedType& a, const NamedType& b) const {
    if (a.name == b.name) return true;
    if (a.isAbstract()) {
      if (b.isAbstract()) {
        for (const auto& t : a.possible_types) {
          const auto* object = schema_.type(t);
          if (object && schema_.isPossibleType(b, *object)) return true;
        }
        return false;
      }
      return schema_.isPossibleType(a, b);
    }
    if (b.isAbstract()) return schema_.isPossibleType(b, a);
    return false;
  }

  void checkSelectionSet(const SelectionSet& set, const NamedType* parent) {
    for (const auto& s : set.selections) {
      switch (s.kind) {
        case Selection::Kind::kField: checkField(s, parent); break;
        case Selection::Kind::kInlineFragment: {
          const NamedType* type = parent;
          if (s.type_condition) {
            type = knownType(*s.type_condition);
            if (type && !type->isComposite()) {
              report("Fragment cannot condition on non composite type \"" + s.type_condition->value + "\".", {s.type_condition->loc});
            }
          }
          if (type && parent && type->isComposite() && !overlap(*type, *parent)) {
            report("Fragment cannot be spread here as objects of type \"" + parent->name + "\" can never be of type \"" +
                       type->name + "\".",
                   {s.loc});
          }
          checkDirectives(s.directives, "INLINE_FRAGMENT");
          checkSelectionSet(s.selection_set, type && type->isComposite() ? type : nullptr);
          break;
        }
        case Selection::Kind::kFragmentSpread: {
          const auto* f = fragment(s.name.value);
          if (!f) {
            report("Unknown fragment \"" + s.name.value + "\".", {s.name.loc});
          } else if (const auto* type = schema_.type(f->type_condition.value); type && type->isComposite() && parent &&
                                                                              !overlap(*type, *parent)) {
            report("Fragment \"" + s.name.value + "\" cannot be spread here as objects of type \"" + parent->name +
                       "\" can never be of type \"" + type->name + "\".",
                   {s.loc});
          }
          checkDirectives(s.directives, "FRAGMENT_SPREAD");
          break;
        }
      }
    }
  }

  void checkField(const Selection& field, const NamedType* parent) {
    const FieldDef* def = nullptr;
    static const FieldDef kTypename{"__typename", TypeRef{Name{"String", {}}, "!", {}}, {}, {}};
    if (parent) {
      def = field.name.value == "__typename" ? &kTypename : parent->field(field.name.value);
      if (!def) fieldNotFound(field, *parent);
    }
    checkArguments(field.arguments, def ? &def->arguments : nullptr, [&](const std::string& name) {
      return "Unknown argument \"" + name + "\" on field \"" + parent->name + "." + def->name + "\".";
    });
    if (def) {
      for (const auto& a : def->arguments) {
        if (!a.type.isNonNull() || a.default_value) continue;
        bool given = std::any_of(field.arguments.begin(), field.arguments.end(), [&](const Argument& g) { return g.name.value == a.name; });
        if (!given) {
          report("Field \"" + def->name + "\" argument \"" + a.name + "\" of type \"" + print(a.type) +
                     "\" is required, but it was not provided.",
                 {field.loc});
        }
      }
    }
    checkDirectives(field.directives, "FIELD");
    const NamedType* type = def ? schema_.type(def->type.name.value) : nullptr;
    if (type) {
      if (type->isLeaf() && field.selection_set.present) {
        report("Field \"" + field.name.value + "\" must not have a selection since type \"" + print(def->type) +
                   "\" has no subfields.",
               {field.selection_set.loc});
      } else if (!type->isLeaf() && !field.selection_set.present) {
        report("Field \"" + field.name.value + "\" of type \"" + print(def->type) +
                   "\" must have a selection of subfields. Did you mean \"" + field.name.value + " { ... }\"?",
               {field.loc});
      }
    }
    if (field.selection_set.present) checkSelectionSet(field.selection_set, type && type->isComposite() ? type : nullptr);
  }

  void fieldNotFound(const Selection& field, const NamedType& parent) {
    const auto& name = field.name.value;
    std::string hint;
    if (parent.isAbstract()) {
      // Types where the field is defined, most used first, interfaces before their objects.
      std::vector<std::string> suggested;
      std::map<std::string, int> usage;
      for (const auto& t : parent.possible_types) {
        const auto* object = schema_.type(t);
        if (!object || !object->field(name)) continue;
        if (!usage.count(t)) suggested.push_back(t);
        usage[t] = 1;
        for (const auto& i : object->interfaces) {
          const auto* iface = schema_.type(i);
          if (!iface || !iface->field(name)) continue;
          if (!usage.count(i)) suggested.push_back(i);
          usage[i] += 1;
        }
      }
      std::stable_sort(suggested.begin(), suggested.end(), [&](const std::string& a, const std::string& b) {
        if (usage[a] != usage[b]) return usage[a] > usage[b];
        const auto* ta = schema_.type(a);
        const auto* tb = schema_.type(b);
        if (ta->kind == TypeKind::kInterface && schema_.isSubType(*ta, *tb)) return true;
        if (tb->kind == TypeKind::kInterface && schema_.isSubType(*tb, *ta)) return false;
        return naturalCompare(a, b) < 0;
      });
      hint = didYouMean(suggested, "to use an inline fragment on");
    }
    if (hint.empty() && (parent.kind == TypeKind::kObject || parent.kind == TypeKind::kInterface)) {
      std::vector<std::string> names;
      for (const auto& f : parent.fields) names.push_back(f.name);
      hint = didYouMean(suggestionList(name, names));
    }
    report("Cannot query field \"" + name + "\" on type \"" + parent.name + "\"." + hint, {field.loc});
  }

  void checkArguments(const std::vector<Argument>& arguments, const std::vector<InputValue>* defined,
                      const std::function<std::string(const std::string&)>& unknown_message) {
    std::map<std::string, std::vector<SourceLocation>> names;
    std::vector<std::string> order;
    for (const auto& a : arguments) {
      if (names[a.name.value].empty()) order.push_back(a.name.value);
      names[a.name.value].push_back(a.name.loc);
      const InputValue* def = nullptr;
      if (defined) {
        for (const auto& d : *defined)
          if (d.name == a.name.value) def = &d;
        if (!def) {
          std::vector<std::string> known_names;
          for (const auto& d : *defined) known_names.push_back(d.name);
          report(unknown_message(a.name.value) + didYouMean(suggestionList(a.name.value, known_names)), {a.loc});
        }
      }
      checkValue(a.value, def ? known(def->type) : InputType{}, def && def->default_value.has_value());
    }
    for (const auto& name : order) {
      if (names[name].size() > 1) report("There can be only one argument named \"" + name + "\".", names[name]);
    }
  }

  void checkDirectives(const std::vector<Directive>& directives, const std::string& location) {
    std::map<std::string, SourceLocation> seen;
    for (const auto& d : directives) {
      const auto* def = schema_.directive(d.name.value);
      if (!def) {
        report("Unknown directive \"@" + d.name.value + "\".", {d.loc});
      } else {
        if (std::find(def->locations.begin(), def->locations.end(), location) == def->locations.end()) {
          report("Directive \"@" + d.name.value + "\" may not be used on " + location + ".", {d.loc});
        }
        if (!def->repeatable) {
          auto [it, fresh] = seen.emplace(d.name.value, d.loc);
          if (!fresh) report("The directive \"@" + d.name.value + "\" can only be used once at this location.", {it->second, d.loc});
        }
      }
      checkArguments(d.arguments, def ? &def->arguments : nullptr,
                     [&](const std::string& name) { return "Unknown argument \"" + name + "\" on directive \"@" + d.name.value + "\"."; });
      if (!def) continue;
      for (const auto& a : def->arguments) {
        if (!a.type.isNonNull() || a.default_value) continue;
        bool given = std::any_of(d.arguments.begin(), d.arguments.end(), [&](const Argument& g) { return g.name.value == a.name; });
        if (!given) {
          report("Directive \"@" + d.name.value + "\" argument \"" + a.name + "\" of type \"" + print(a.type) +
                     "\" is required, but it was not provided.",
                 {d.loc});
        }
      }
    }
  }

  // ValuesOfCorrectType and UniqueInputFieldNames over a value at a place of type `expected`;
  // records the variables it meets for the rules over variables.
  void checkValue(const Value& value, const InputType& expected, bool location_has_default = false) {
    switch (value.kind) {
      case Value::Kind::kVariable:
        current_->usages.push_back(VariableUsage{&value, expected, location_has_default});
        return;
      case Value::Kind::kNull:
        if (expected.known && expected.type.isNonNull()) {
          report("Expected value of type \"" + print(expected.type) + "\", found null.", {value.loc});
        }
        return;
      case Value::Kind::kList:
        if (!expected.known) return;
        if (!expected.type.isList()) {
          checkLeaf(value, known(expected.type.nullable()));
          return;
        }
        for (const auto& item : value.list) checkValue(item, known(expected.type.itemType()));
        return;
      case Value::Kind::kObject: {
        std::map<std::string, SourceLocation> seen;
        const NamedType* type = expected.known ? schema_.type(expected.type.name.value) : nullptr;
        bool is_input_object = type && type->kind == TypeKind::kInputObject;
        if (expected.known && !is_input_object) {
          checkLeaf(value, expected);
          return;
        }
        if (is_input_object) {
          for (const auto& f : type->input_fields) {
            if (!f.type.isNonNull() || f.default_value) continue;
            bool given = std::any_of(value.fields.begin(), value.fields.end(), [&](const ObjectField& g) { return g.name.value == f.name; });
            if (!given) {
              report("Field \"" + type->name + "." + f.name + "\" of required type \"" + print(f.type) + "\" was not provided.",
                     {value.loc});
            }
          }
        }
        for (const auto& field : value.fields) {
          auto [it, fresh] = seen.emplace(field.name.value, field.name.loc);
          if (!fresh) report("There can be only one input field named \"" + field.name.value + "\".", {it->second, field.name.loc});
          const InputValue* def = is_input_object ? type->inputField(field.name.value) : nullptr;
          if (is_input_object && !def) {
            std::vector<std::string> names;
            for (const auto& f : type->input_fields) names.push_back(f.name);
            report("Field \"" + field.name.value + "\" is not defined by type \"" + type->name + "\"." +
                       didYouMean(suggestionList(field.name.value, names)),
                   {field.loc});
          }
          checkValue(field.value, def ? known(def->type) : InputType{}, def && def->default_value.has_value());
        }
        return;
      }
      default:
        checkLeaf(value, expected);
        return;
    }
  }

  // graphql-js's isValidValueNode(): a value where a leaf (or mismatched) type is expected.
  void checkLeaf(const Value& value, const InputType& expected) {
    if (!expected.known) return;
    const auto* type = schema_.type(expected.type.name.value);
    if (!type) return;
    std::string printed = print(value);
    if (!type->isLeaf()) {
      report("Expected value of type \"" + print(expected.type) + "\", found " + printed + ".", {value.loc});
      return;
    }
    const auto& name = type->name;
    const auto kind = value.kind;
    std::optional<std::string> problem;
    if (type->kind == TypeKind::kEnum) {
      std::string hint = didYouMean(suggestionList(printed, type->enum_values), "the enum value");
      if (kind != Value::Kind::kEnum) {
        problem = "Enum \"" + name + "\" cannot represent non-enum value: " + printed + "." + hint;
      } else if (!type->hasEnumValue(value.text)) {
        problem = "Value \"" + printed + "\" does not exist in \"" + name + "\" enum." + hint;
      }
    } else if (name == "Int") {
      if (kind != Value::Kind::kInt) {
        problem = "Int cannot represent non-integer value: " + printed;
      } else {
        errno = 0;
        long long n = std::strtoll(value.text.c_str(), nullptr, 10);
        if (errno == ERANGE || n > 2147483647LL || n < -2147483648LL) {
          problem = "Int cannot represent non 32-bit signed integer value: " + value.text;
        }
      }
    } else if (name == "Float") {
      if (kind != Value::Kind::kInt && kind != Value::Kind::kFloat) problem = "Float cannot represent non numeric value: " + printed;
    } else if (name == "String") {
      if (kind != Value::Kind::kString) problem = "String cannot represent a non string value: " + printed;
    } else if (name == "Boolean") {
      if (kind != Value::Kind::kBoolean) problem = "Boolean cannot represent a non boolean value: " + printed;
    } else if (name == "ID") {
      if (kind != Value::Kind::kString && kind != Value::Kind::kInt) {
        problem = "ID cannot represent a non-string and non-integer value: " + printed;
      }
    }
    if (problem) report(*problem, {value.loc});
  }

  // Each operation's usages, through the fragments it reaches (NoUndefinedVariables,
  // NoUnusedVariables, VariablesInAllowedPosition).
  void checkOperationVariables(const OperationDefinition& op) {
    std::vector<const VariableUsage*> usages;
    for (const auto& u : facts_[&op].usages) usages.push_back(&u);
    for (const auto* f : reachableFragments(op.selection_set)) {
      for (const auto& u : facts_[f].usages) usages.push_back(&u);
    }
    std::set<std::string> used;
    for (const auto* u : usages) {
      used.insert(u->node->text);
      const VariableDefinition* def = nullptr;
      for (const auto& v : op.variables)
        if (v.variable.value == u->node->text) def = &v;
      if (!def) {
        report("Variable \"$" + u->node->text + "\" is not defined" + (op.name ? " by operation \"" + op.name->value + "\"" : "") + ".",
               {u->node->loc, op.loc});
        continue;
      }
      if (!u->type.known || !schema_.type(def->type.name.value)) continue;
      if (!allowedUsage(def->type, def->default_value ? &*def->default_value : nullptr, u->type.type, u->location_has_default)) {
        report("Variable \"$" + u->node->text + "\" of type \"" + print(def->type) + "\" used in position expecting type \"" +
                   print(u->type.type) + "\".",
               {def->loc, u->node->loc});
      }
    }
    for (const auto& v : op.variables) {
      if (used.count(v.variable.value)) continue;
      report("Variable \"$" + v.variable.value + "\" is never used" + (op.name ? " in operation \"" + op.name->value + "\"" : "") + ".",
             {v.loc});
    }
  }

  bool allowedUsage(const TypeRef& variable, const Value* variable_default, const TypeRef& location, bool location_has_default) const {
    if (location.isNonNull() && !variable.isNonNull()) {
      bool variable_has_default = variable_default && variable_default->kind != Value::Kind::kNull;
      if (!variable_has_default && !location_has_default) return false;
      return isSubTypeOf(variable, location.nullable());
    }
    return isSubTypeOf(variable, location);
  }

  bool isSubTypeOf(const TypeRef& sub, const TypeRef& super) const {
    if (sub.name.value == super.name.value && sub.wrappers == super.wrappers) return true;
    if (super.isNonNull()) return sub.isNonNull() && isSubTypeOf(sub.nullable(), super.nullable());
    if (sub.isNonNull()) return isSubTypeOf(sub.nullable(), super);
    if (super.isList()) return sub.isList() && isSubTypeOf(sub.itemType(), super.itemType());
    if (sub.isList()) return false;
    const auto* a = schema_.type(super.name.value);
    const auto* b = schema_.type(sub.name.value);
    return a && b && a->isAbstract() && schema_.isSubType(*a, *b);
  }

  // The spreads directly in a selection set (not through other fragments), in graphql-js's
  // order (a stack of sets).
  static std::vector<const Selection*> spreadsIn(const SelectionSet& root) {
    std::vector<const Selection*> spreads;
    std::vector<const SelectionSet*> stack{&root};
    while (!stack.empty()) {
      const auto* set = stack.back();
      stack.pop_back();
      for (const auto& s : set->selections) {
        if (s.kind == Selection::Kind::kFragmentSpread) {
          spreads.push_back(&s);
        } else if (s.selection_set.present) {
          stack.push_back(&s.selection_set);
        }
      }
    }
    return spreads;
  }

  std::vector<const FragmentDefinition*> reachableFragments(const SelectionSet& root) const {
    std::vector<const FragmentDefinition*> out;
    std::set<std::string> seen;
    std::vector<const SelectionSet*> stack{&root};
    while (!stack.empty()) {
      const auto* set = stack.back();
      stack.pop_back();
      for (const auto* spread : spreadsIn(*set)) {
        if (!seen.insert(spread->name.value).second) continue;
        if (const auto* f = fragment(spread->name.value)) {
          out.push_back(f);
          stack.push_back(&f->selection_set);
        }
      }
    }
    return out;
  }

  void noUnusedFragments() {
    std::set<std::string> used;
    for (const auto* op : operations_)
      for (const auto* f : reachableFragments(op->selection_set)) used.insert(f->name.value);
    for (const auto* f : fragments_) {
      if (!used.count(f->name.value)) report("Fragment \"" + f->name.value + "\" is never used.", {f->loc});
    }
  }

  void noFragmentCycles() {
    std::set<std::string> visited;
    std::vector<const Selection*> path;
    std::map<std::string, size_t> index_by_name;
    std::function<void(const FragmentDefinition&)> detect = [&](const FragmentDefinition& f) {
      if (!visited.insert(f.name.value).second) return;
      auto spreads = spreadsIn(f.selection_set);
      if (spreads.empty()) return;
      index_by_name[f.name.value] = path.size();
      for (const auto* spread : spreads) {
        const auto& name = spread->name.value;
        auto cycle = index_by_name.find(name);
        path.push_back(spread);
        if (cycle == index_by_name.end()) {
          if (const auto* next = fragment(name)) detect(*next);
        } else {
          std::vector<SourceLocation> locations;
          std::string via;
          for (size_t i = cycle->second; i < path.size(); ++i) {
            locations.push_back(path[i]->loc);
            if (i + 1 < path.size()) via += (via.empty() ? "\"" : ", \"") + path[i]->name.value + "\"";
          }
          report("Cannot spread fragment \"" + name + "\" within itself" + (via.empty() ? "." : " via " + via + "."), locations);
        }
        path.pop_back();
      }
      index_by_name.erase(f.name.value);
    };
    for (const auto* f : fragments_) detect(*f);
  }

  const Schema& schema_;
  const Document& document_;
  size_t max_errors_;
  std::vector<const OperationDefinition*> operations_;
  std::vector<const FragmentDefinition*> fragments_;
  std::map<const void*, DefinitionFacts> facts_;
  DefinitionFacts* current_ = nullptr;
  DefinitionFacts sdl_facts_;  // type system definitions use no variables; a sink
  std::set<std::string> defined_types_;
  std::set<std::string> defined_directives_;
  std::vector<GraphQLError> errors_;
};

}  // namespace

const FragmentDefinition* findFragment(const Document& document, std::string_view name) {
  for (const auto& d : document.definitions) {
    if (const auto* f = std::get_if<FragmentDefinition>(&d); f && f->name.value == name) return f;
  }
  return nullptr;
}

std::vector<GraphQLError> validate(const Schema& schema, const Document& document, size_t max_errors) {
  return Validator(schema, document, max_errors).run();
}

}  // namespace gust::graphql
