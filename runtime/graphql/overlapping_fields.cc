#include "runtime/graphql/overlapping_fields.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "runtime/graphql/printer.h"
#include "runtime/graphql/suggestions.h"
#include "runtime/graphql/validation.h"

namespace gust::graphql {
namespace {

struct FieldEntry {
  const NamedType* parent = nullptr;
  const Selection* node = nullptr;
  const FieldDef* def = nullptr;
};

// Fields by response name, in the order first seen, and the fragments spread directly.
struct FieldsAndFragments {
  std::vector<std::pair<std::string, std::vector<FieldEntry>>> fields;
  std::vector<std::string> fragments;

  const std::vector<FieldEntry>* find(const std::string& name) const {
    for (const auto& [n, entries] : fields)
      if (n == name) return &entries;
    return nullptr;
  }
};

// Why two fields conflict: a sentence, or the conflicts of their subfields.
struct Reason {
  std::string message;
  std::vector<std::string> subfield_names;  // beside subfields, one each (a vector of pairs
  std::vector<Reason> subfields;            // would hold Reason while it is incomplete)
};

struct Conflict {
  std::string response_name;
  Reason reason;
  std::vector<const Selection*> fields1, fields2;
};

std::string reasonMessage(const Reason& reason) {
  if (reason.subfields.empty()) return reason.message;
  std::string out;
  for (size_t i = 0; i < reason.subfields.size(); ++i) {
    if (!out.empty()) out += " and ";
    out += "subfields \"" + reason.subfield_names[i] + "\" conflict because " + reasonMessage(reason.subfields[i]);
  }
  return out;
}

// A value printed with its object fields in name order, so that argument values compare
// without regard to how the fields were ordered.
Value sorted(const Value& value) {
  Value out = value;
  for (auto& item : out.list) item = sorted(item);
  for (auto& field : out.fields) field.value = sorted(field.value);
  std::stable_sort(out.fields.begin(), out.fields.end(),
                   [](const ObjectField& a, const ObjectField& b) { return naturalCompare(a.name.value, b.name.value) < 0; });
  return out;
}

bool sameArguments(const Selection& a, const Selection& b) {
  if (a.arguments.size() != b.arguments.size()) return false;
  for (const auto& arg : a.arguments) {
    auto it = std::find_if(b.arguments.begin(), b.arguments.end(), [&](const Argument& o) { return o.name.value == arg.name.value; });
    if (it == b.arguments.end() || print(sorted(arg.value)) != print(sorted(it->value))) return false;
  }
  return true;
}

class MergeChecker {
 public:
  MergeChecker(const Schema& schema, const Document& document) : schema_(schema), document_(document) {}

  void run(std::vector<GraphQLError>& errors) {
    for (const auto& definition : document_.definitions) {
      if (const auto* op = std::get_if<OperationDefinition>(&definition)) {
        visit(op->selection_set, schema_.root(op->operation));
      } else if (const auto* f = std::get_if<FragmentDefinition>(&definition)) {
        visit(f->selection_set, composite(f->type_condition.value));
      }
    }
    for (const auto& c : conflicts_) {
      GraphQLError e{"Fields \"" + c.response_name + "\" conflict because " + reasonMessage(c.reason) +
                         ". Use different aliases on the fields to fetch both if this was intentional.",
                     {}, nullptr};
      for (const auto* n : c.fields1) e.locations.push_back(n->loc);
      for (const auto* n : c.fields2) e.locations.push_back(n->loc);
      errors.push_back(std::move(e));
    }
  }

 private:
  const NamedType* composite(const std::string& name) const {
    const auto* t = schema_.type(name);
    return t && t->isComposite() ? t : nullptr;
  }

  // Every selection set of the document, in graphql-js's visiting order, with its parent type.
  void visit(const SelectionSet& set, const NamedType* parent) {
    auto found = withinSelectionSet(parent, set);
    conflicts_.insert(conflicts_.end(), found.begin(), found.end());
    for (const auto& s : set.selections) {
      if (s.kind == Selection::Kind::kField && s.selection_set.present) {
        const NamedType* type = nullptr;
        if (parent && s.name.value != "__typename") {
          if (const auto* def = parent->field(s.name.value)) type = composite(def->type.name.value);
        }
        visit(s.selection_set, type);
      } else if (s.kind == Selection::Kind::kInlineFragment) {
        visit(s.selection_set, s.type_condition ? composite(s.type_condition->value) : parent);
      }
    }
  }

  const FieldsAndFragments& fieldsOf(const NamedType* parent, const SelectionSet& set) {
    auto it = cache_.find(&set);
    if (it != cache_.end()) return it->second;
    FieldsAndFragments out;
    collect(parent, set, out);
    return cache_.emplace(&set, std::move(out)).first->second;
  }

  void collect(const NamedType* parent, const SelectionSet& set, FieldsAndFragments& out) {
    for (const auto& s : set.selections) {
      switch (s.kind) {
        case Selection::Kind::kField: {
          const FieldDef* def = nullptr;
          if (parent && (parent->kind == TypeKind::kObject || parent->kind == TypeKind::kInterface)) def = parent->field(s.name.value);
          const auto& key = s.responseName();
          auto it = std::find_if(out.fields.begin(), out.fields.end(), [&](const auto& p) { return p.first == key; });
          if (it == out.fields.end()) {
            out.fields.emplace_back(key, std::vector<FieldEntry>{});
            it = out.fields.end() - 1;
          }
          it->second.push_back(FieldEntry{parent, &s, def});
          break;
        }
        case Selection::Kind::kFragmentSpread:
          if (std::find(out.fragments.begin(), out.fragments.end(), s.name.value) == out.fragments.end()) {
            out.fragments.push_back(s.name.value);
          }
          break;
        case Selection::Kind::kInlineFragment:
          collect(s.type_condition ? schema_.type(s.type_condition->value) : parent, s.selection_set, out);
          break;
      }
    }
  }

  const FieldsAndFragments* fragmentFields(const std::string& name, const SelectionSet** set) {
    const auto* fragment = findFragment(document_, name);
    if (!fragment) return nullptr;
    *set = &fragment->selection_set;
    return &fieldsOf(schema_.type(fragment->type_condition.value), fragment->selection_set);
  }

  // Memoised pairs of fragments; "not exclusive" is the stronger comparison, so a pair
  // compared that way needs no comparison as exclusive.
  bool compared(const std::string& a, const std::string& b, bool exclusive) const {
    auto key = a < b ? std::make_pair(a, b) : std::make_pair(b, a);
    auto it = pairs_.find(key);
    if (it == pairs_.end()) return false;
    return exclusive ? true : it->second == exclusive;
  }
  void markCompared(const std::string& a, const std::string& b, bool exclusive) {
    pairs_[a < b ? std::make_pair(a, b) : std::make_pair(b, a)] = exclusive;
  }

  std::vector<Conflict> withinSelectionSet(const NamedType* parent, const SelectionSet& set) {
    std::vector<Conflict> out;
    const auto& fields = fieldsOf(parent, set);
    for (const auto& [name, entries] : fields.fields) {
      for (size_t i = 0; i < entries.size(); ++i)
        for (size_t j = i + 1; j < entries.size(); ++j)
          if (auto c = findConflict(false, name, entries[i], entries[j])) out.push_back(std::move(*c));
    }
    const auto fragments = fields.fragments;
    for (size_t i = 0; i < fragments.size(); ++i) {
      betweenFieldsAndFragment(out, false, fields, &set, fragments[i]);
      for (size_t j = i + 1; j < fragments.size(); ++j) betweenFragments(out, false, fragments[i], fragments[j]);
    }
    return out;
  }

  void between(std::vector<Conflict>& out, bool exclusive, const FieldsAndFragments& a, const FieldsAndFragments& b) {
    for (const auto& [name, entries1] : a.fields) {
      const auto* entries2 = b.find(name);
      if (!entries2) continue;
      for (const auto& f1 : entries1)
        for (const auto& f2 : *entries2)
          if (auto c = findConflict(exclusive, name, f1, f2)) out.push_back(std::move(*c));
    }
  }

  void betweenFieldsAndFragment(std::vector<Conflict>& out, bool exclusive, const FieldsAndFragments& fields,
                                const SelectionSet* fields_set, const std::string& fragment) {
    // Memoised by the fields' selection set and the fragment, so that fragments spread in a
    // cycle end.
    auto key = std::make_pair(fields_set, fragment);
    auto seen = fields_and_fragments_.find(key);
    if (seen != fields_and_fragments_.end() && (exclusive || seen->second == exclusive)) return;
    fields_and_fragments_[key] = exclusive;
    const SelectionSet* set = nullptr;
    const auto* fragment_fields = fragmentFields(fragment, &set);
    if (!fragment_fields || set == fields_set) return;  // a fragment's fields are not compared with themselves
    between(out, exclusive, fields, *fragment_fields);
    const auto referenced = fragment_fields->fragments;
    for (const auto& name : referenced) betweenFieldsAndFragment(out, exclusive, fields, fields_set, name);
  }

  void betweenFragments(std::vector<Conflict>& out, bool exclusive, const std::string& a, const std::string& b) {
    if (a == b || compared(a, b, exclusive)) return;
    markCompared(a, b, exclusive);
    const SelectionSet* set1 = nullptr;
    const SelectionSet* set2 = nullptr;
    const auto* fields1 = fragmentFields(a, &set1);
    const auto* fields2 = fragmentFields(b, &set2);
    if (!fields1 || !fields2) return;
    between(out, exclusive, *fields1, *fields2);
    const auto referenced2 = fields2->fragments;
    const auto referenced1 = fields1->fragments;
    for (const auto& r : referenced2) betweenFragments(out, exclusive, a, r);
    for (const auto& r : referenced1) betweenFragments(out, exclusive, r, b);
  }

  std::vector<Conflict> betweenSubSelections(bool exclusive, const NamedType* parent1, const SelectionSet& set1,
                                             const NamedType* parent2, const SelectionSet& set2) {
    std::vector<Conflict> out;
    const auto& fields1 = fieldsOf(parent1, set1);
    const auto& fields2 = fieldsOf(parent2, set2);
    between(out, exclusive, fields1, fields2);
    const auto fragments1 = fields1.fragments;
    const auto fragments2 = fields2.fragments;
    for (const auto& f : fragments2) betweenFieldsAndFragment(out, exclusive, fields1, &set1, f);
    for (const auto& f : fragments1) betweenFieldsAndFragment(out, exclusive, fields2, &set2, f);
    for (const auto& f1 : fragments1)
      for (const auto& f2 : fragments2) betweenFragments(out, exclusive, f1, f2);
    return out;
  }

  bool typesConflict(const TypeRef& a, const TypeRef& b) const {
    if (a.isNonNull() || b.isNonNull()) return a.isNonNull() && b.isNonNull() ? typesConflict(a.ofType(), b.ofType()) : true;
    if (!a.wrappers.empty() || !b.wrappers.empty()) {
      return !a.wrappers.empty() && !b.wrappers.empty() ? typesConflict(a.ofType(), b.ofType()) : true;
    }
    const auto* ta = schema_.type(a.name.value);
    const auto* tb = schema_.type(b.name.value);
    if ((ta && ta->isLeaf()) || (tb && tb->isLeaf())) return a.name.value != b.name.value;
    return false;
  }

  std::optional<Conflict> findConflict(bool parents_exclusive, const std::string& name, const FieldEntry& f1, const FieldEntry& f2) {
    bool exclusive = parents_exclusive || (f1.parent != f2.parent && f1.parent && f2.parent &&
                                           f1.parent->kind == TypeKind::kObject && f2.parent->kind == TypeKind::kObject);
    auto conflict = [&](std::string message) {
      return Conflict{name, Reason{std::move(message), {}, {}}, {f1.node}, {f2.node}};
    };
    if (!exclusive) {
      const auto& n1 = f1.node->name.value;
      const auto& n2 = f2.node->name.value;
      if (n1 != n2) return conflict("\"" + n1 + "\" and \"" + n2 + "\" are different fields");
      if (!sameArguments(*f1.node, *f2.node)) return conflict("they have differing arguments");
    }
    if (f1.def && f2.def && typesConflict(f1.def->type, f2.def->type)) {
      return conflict("they return conflicting types \"" + print(f1.def->type) + "\" and \"" + print(f2.def->type) + "\"");
    }
    if (f1.node->selection_set.present && f2.node->selection_set.present) {
      const NamedType* t1 = f1.def ? schema_.type(f1.def->type.name.value) : nullptr;
      const NamedType* t2 = f2.def ? schema_.type(f2.def->type.name.value) : nullptr;
      auto subs = betweenSubSelections(exclusive, t1, f1.node->selection_set, t2, f2.node->selection_set);
      if (subs.empty()) return std::nullopt;
      Conflict c{name, {}, {f1.node}, {f2.node}};
      for (auto& s : subs) {
        c.reason.subfield_names.push_back(s.response_name);
        c.reason.subfields.push_back(std::move(s.reason));
        c.fields1.insert(c.fields1.end(), s.fields1.begin(), s.fields1.end());
        c.fields2.insert(c.fields2.end(), s.fields2.begin(), s.fields2.end());
      }
      return c;
    }
    return std::nullopt;
  }

  const Schema& schema_;
  const Document& document_;
  std::map<const SelectionSet*, FieldsAndFragments> cache_;
  std::map<std::pair<std::string, std::string>, bool> pairs_;
  std::map<std::pair<const SelectionSet*, std::string>, bool> fields_and_fragments_;
  std::vector<Conflict> conflicts_;
};

}  // namespace

void findFieldMergeConflicts(const Schema& schema, const Document& document, std::vector<GraphQLError>& errors) {
  MergeChecker(schema, document).run(errors);
}

}  // namespace gust::graphql
