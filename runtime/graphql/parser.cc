#include "runtime/graphql/parser.h"

#include <string>
#include <utility>
#include <vector>

#include "runtime/base/text.h"
#include "runtime/graphql/lexer.h"

namespace gust::graphql {
namespace {

bool isDirectiveLocation(std::string_view name) {
  static constexpr std::string_view kLocations[] = {
      "QUERY", "MUTATION", "SUBSCRIPTION", "FIELD", "FRAGMENT_DEFINITION", "FRAGMENT_SPREAD",
      "INLINE_FRAGMENT", "VARIABLE_DEFINITION", "SCHEMA", "SCALAR", "OBJECT", "FIELD_DEFINITION",
      "ARGUMENT_DEFINITION", "INTERFACE", "UNION", "ENUM", "ENUM_VALUE", "INPUT_OBJECT",
      "INPUT_FIELD_DEFINITION"};
  for (auto l : kLocations)
    if (l == name) return true;
  return false;
}

// Recursive descent over the spec's grammar. Errors are sticky rather than thrown (STYLE 9):
// the first one is kept, every later step is a no-op, and the loops end because the lexer
// then answers only <EOF>.
class Parser {
 public:
  Parser(std::string_view source, const ParseLimits& limits)
      : source_(source), map_(source), lexer_(source), limits_(limits) {
    token_ = lexer_.next();
    takeLexerError();
    if (token_.kind != TokenKind::kEof) tokens_ = 1;
  }

  ParseResult run() {
    ParseResult result;
    // many(<SOF>, definition, <EOF>): at least one definition.
    do {
      parseDefinition(result.document);
    } while (ok() && !skip(TokenKind::kEof));
    if (error_) {
      result.document = {};
      result.error = std::move(error_);
    }
    return result;
  }

 private:
  bool ok() const { return !error_; }

  SourceLocation at(size_t offset) const { return map_.locate(offset); }

  void fail(size_t offset, std::string message) {
    if (error_) return;
    error_ = GraphQLError{"Syntax Error: " + std::move(message), {at(offset)}, nullptr};
  }

  void takeLexerError() {
    if (lexer_.error()) fail(lexer_.error()->offset, lexer_.error()->message);
  }

  void advance() {
    if (!ok()) return;
    if (ahead_) {
      token_ = std::move(*ahead_);
      ahead_.reset();
    } else {
      token_ = lexer_.next();
      takeLexerError();
    }
    if (token_.kind != TokenKind::kEof && ++tokens_ > limits_.max_tokens) {
      fail(token_.start, "Document contains more than " + std::to_string(limits_.max_tokens) +
                             " tokens. Parsing aborted.");
    }
  }

  const Token& lookahead() {
    if (!ahead_) {
      ahead_ = lexer_.next();
      takeLexerError();
    }
    return *ahead_;
  }

  bool peek(TokenKind kind) const { return ok() && token_.kind == kind; }
  bool peekKeyword(std::string_view word) const { return peek(TokenKind::kName) && token_.value == word; }

  bool skip(TokenKind kind) {
    if (!peek(kind)) return false;
    advance();
    return true;
  }

  bool skipKeyword(std::string_view word) {
    if (!peekKeyword(word)) return false;
    advance();
    return true;
  }

  Token expect(TokenKind kind) {
    if (peek(kind)) {
      Token t = token_;
      advance();
      return t;
    }
    fail(token_.start, "Expected " + describe(kind) + ", found " + describe(token_) + ".");
    return {};
  }

  void expectKeyword(std::string_view word) {
    if (skipKeyword(word)) return;
    fail(token_.start, "Expected \"" + std::string(word) + "\", found " + describe(token_) + ".");
  }

  void unexpected(const Token& token) { fail(token.start, "Unexpected " + describe(token) + "."); }

  // Counts one level of nesting; false (with an error) past the limit.
  bool enter() {
    if (++depth_ <= limits_.max_depth) return true;
    fail(token_.start, "Document nests deeper than " + std::to_string(limits_.max_depth) +
                           " levels. Parsing aborted.");
    return false;
  }
  void leave() { --depth_; }

  Name parseName() {
    Token t = expect(TokenKind::kName);
    return Name{std::move(t.value), at(t.start)};
  }

  void parseDefinition(Document& document) {
    if (peek(TokenKind::kBraceL)) {
      document.definitions.emplace_back(parseOperationDefinition());
      return;
    }
    bool has_description = peek(TokenKind::kString) || peek(TokenKind::kBlockString);
    Token keyword = has_description ? lookahead() : token_;
    if (!ok()) return;
    if (keyword.kind == TokenKind::kName) {
      const auto& word = keyword.value;
      if (word == "schema") return document.definitions.emplace_back(parseSchemaDefinition()), void();
      if (word == "scalar" || word == "type" || word == "interface" || word == "union" ||
          word == "enum" || word == "input") {
        document.definitions.emplace_back(parseTypeDefinition(false));
        return;
      }
      if (word == "directive") return document.definitions.emplace_back(parseDirectiveDefinition()), void();
      if (has_description) {
        fail(token_.start, "Unexpected description, descriptions are supported only on type definitions.");
        return;
      }
      if (word == "query" || word == "mutation" || word == "subscription") {
        document.definitions.emplace_back(parseOperationDefinition());
        return;
      }
      if (word == "fragment") return document.definitions.emplace_back(parseFragmentDefinition()), void();
      if (word == "extend") return parseExtension(document);
    }
    unexpected(keyword);
  }

  OperationDefinition parseOperationDefinition() {
    OperationDefinition op;
    op.loc = at(token_.start);
    if (peek(TokenKind::kBraceL)) {
      op.selection_set = parseSelectionSet();
      return op;
    }
    op.operation = parseOperationType();
    if (peek(TokenKind::kName)) op.name = parseName();
    if (skip(TokenKind::kParenL)) {
      do {
        op.variables.push_back(parseVariableDefinition());
      } while (ok() && !skip(TokenKind::kParenR));
    }
    op.directives = parseDirectives(false);
    op.selection_set = parseSelectionSet();
    return op;
  }

  OperationType parseOperationType() {
    Token t = expect(TokenKind::kName);
    if (!ok()) return OperationType::kQuery;
    if (t.value == "query") return OperationType::kQuery;
    if (t.value == "mutation") return OperationType::kMutation;
    if (t.value == "subscription") return OperationType::kSubscription;
    unexpected(t);
    return OperationType::kQuery;
  }

  VariableDefinition parseVariableDefinition() {
    VariableDefinition v;
    v.loc = at(token_.start);
    expect(TokenKind::kDollar);
    v.variable = parseName();
    expect(TokenKind::kColon);
    v.type = parseTypeReference();
    if (skip(TokenKind::kEquals)) v.default_value = parseValue(true);
    v.directives = parseDirectives(true);
    return v;
  }

  SelectionSet parseSelectionSet() {
    SelectionSet set;
    set.loc = at(token_.start);
    set.present = true;
    expect(TokenKind::kBraceL);
    if (!ok() || !enter()) return set;
    do {
      set.selections.push_back(parseSelection());
    } while (ok() && !skip(TokenKind::kBraceR));
    leave();
    return set;
  }

  Selection parseSelection() {
    Selection s;
    s.loc = at(token_.start);
    if (skip(TokenKind::kSpread)) {
      bool has_condition = skipKeyword("on");
      if (!has_condition && peek(TokenKind::kName)) {
        s.kind = Selection::Kind::kFragmentSpread;
        s.name = parseFragmentName();
        s.directives = parseDirectives(false);
        return s;
      }
      s.kind = Selection::Kind::kInlineFragment;
      if (has_condition) s.type_condition = parseName();
      s.directives = parseDirectives(false);
      s.selection_set = parseSelectionSet();
      return s;
    }
    s.kind = Selection::Kind::kField;
    Name first = parseName();
    if (skip(TokenKind::kColon)) {
      if (++aliases_ > limits_.max_aliases) {
        fail(token_.start, "Document uses more than " + std::to_string(limits_.max_aliases) +
                               " aliases. Parsing aborted.");
      }
      s.alias = std::move(first);
      s.name = parseName();
    } else {
      s.name = std::move(first);
    }
    s.arguments = parseArguments(false);
    s.directives = parseDirectives(false);
    if (peek(TokenKind::kBraceL)) s.selection_set = parseSelectionSet();
    return s;
  }

  Name parseFragmentName() {
    if (peekKeyword("on")) {
      unexpected(token_);
      return {};
    }
    return parseName();
  }

  FragmentDefinition parseFragmentDefinition() {
    FragmentDefinition f;
    f.loc = at(token_.start);
    expectKeyword("fragment");
    f.name = parseFragmentName();
    expectKeyword("on");
    f.type_condition = parseName();
    f.directives = parseDirectives(false);
    f.selection_set = parseSelectionSet();
    return f;
  }

  std::vector<Argument> parseArguments(bool is_const) {
    std::vector<Argument> arguments;
    if (!skip(TokenKind::kParenL)) return arguments;
    do {
      Argument a;
      a.loc = at(token_.start);
      a.name = parseName();
      expect(TokenKind::kColon);
      a.value = parseValue(is_const);
      arguments.push_back(std::move(a));
    } while (ok() && !skip(TokenKind::kParenR));
    return arguments;
  }

  std::vector<Directive> parseDirectives(bool is_const) {
    std::vector<Directive> directives;
    while (peek(TokenKind::kAt)) {
      Directive d;
      d.loc = at(token_.start);
      advance();
      d.name = parseName();
      d.arguments = parseArguments(is_const);
      directives.push_back(std::move(d));
    }
    return directives;
  }

  Value parseValue(bool is_const) {
    Value v;
    v.loc = at(token_.start);
    if (!ok()) return v;
    switch (token_.kind) {
      case TokenKind::kBracketL:
        v.kind = Value::Kind::kList;
        advance();
        if (!enter()) return v;
        while (ok() && !skip(TokenKind::kBracketR)) v.list.push_back(parseValue(is_const));
        leave();
        return v;
      case TokenKind::kBraceL:
        v.kind = Value::Kind::kObject;
        advance();
        if (!enter()) return v;
        while (ok() && !skip(TokenKind::kBraceR)) {
          ObjectField f;
          f.loc = at(token_.start);
          f.name = parseName();
          expect(TokenKind::kColon);
          f.value = parseValue(is_const);
          v.fields.push_back(std::move(f));
        }
        leave();
        return v;
      case TokenKind::kInt:
      case TokenKind::kFloat:
        v.kind = token_.kind == TokenKind::kInt ? Value::Kind::kInt : Value::Kind::kFloat;
        v.text = token_.value;
        advance();
        return v;
      case TokenKind::kString:
      case TokenKind::kBlockString:
        v.kind = Value::Kind::kString;
        v.block = token_.kind == TokenKind::kBlockString;
        v.text = token_.value;
        advance();
        return v;
      case TokenKind::kName:
        if (token_.value == "true" || token_.value == "false") {
          v.kind = Value::Kind::kBoolean;
          v.boolean = token_.value == "true";
        } else if (token_.value == "null") {
          v.kind = Value::Kind::kNull;
        } else {
          v.kind = Value::Kind::kEnum;
          v.text = token_.value;
        }
        advance();
        return v;
      case TokenKind::kDollar:
        if (is_const) {
          Token dollar = token_;
          advance();
          if (peek(TokenKind::kName)) {
            fail(dollar.start, "Unexpected variable \"$" + token_.value + "\" in constant value.");
          } else {
            unexpected(dollar);
          }
          return v;
        }
        v.kind = Value::Kind::kVariable;
        advance();
        v.name_loc = at(token_.start);
        v.text = parseName().value;
        return v;
      default:
        unexpected(token_);
        return v;
    }
  }

  TypeRef parseTypeReference() {
    TypeRef type;
    type.loc = at(token_.start);
    if (skip(TokenKind::kBracketL)) {
      if (!enter()) return type;
      TypeRef inner = parseTypeReference();
      leave();
      expect(TokenKind::kBracketR);
      type.name = std::move(inner.name);
      type.wrappers = "L" + inner.wrappers;
    } else {
      type.name = parseName();
    }
    if (skip(TokenKind::kBang)) type.wrappers = "!" + type.wrappers;
    return type;
  }

  std::optional<std::string> parseDescription() {
    if (!peek(TokenKind::kString) && !peek(TokenKind::kBlockString)) return std::nullopt;
    std::string text = token_.value;
    advance();
    return text;
  }

  SchemaDefinition parseSchemaDefinition() {
    SchemaDefinition s;
    s.loc = at(token_.start);
    s.description = parseDescription();
    expectKeyword("schema");
    s.directives = parseDirectives(true);
    expect(TokenKind::kBraceL);
    do {
      s.roots.push_back(parseRootOperation());
    } while (ok() && !skip(TokenKind::kBraceR));
    return s;
  }

  RootOperation parseRootOperation() {
    RootOperation r;
    r.operation = parseOperationType();
    expect(TokenKind::kColon);
    r.type = parseName();
    return r;
  }

  std::vector<Name> parseImplements() {
    std::vector<Name> names;
    if (!skipKeyword("implements")) return names;
    skip(TokenKind::kAmp);
    do {
      names.push_back(parseName());
    } while (skip(TokenKind::kAmp));
    return names;
  }

  InputValueDefinition parseInputValue() {
    InputValueDefinition v;
    v.loc = at(token_.start);
    v.description = parseDescription();
    v.name = parseName();
    expect(TokenKind::kColon);
    v.type = parseTypeReference();
    if (skip(TokenKind::kEquals)) v.default_value = parseValue(true);
    v.directives = parseDirectives(true);
    return v;
  }

  std::vector<InputValueDefinition> parseArgumentDefinitions() {
    std::vector<InputValueDefinition> args;
    if (!skip(TokenKind::kParenL)) return args;
    do {
      args.push_back(parseInputValue());
    } while (ok() && !skip(TokenKind::kParenR));
    return args;
  }

  FieldDefinition parseFieldDefinition() {
    FieldDefinition f;
    f.loc = at(token_.start);
    f.description = parseDescription();
    f.name = parseName();
    f.arguments = parseArgumentDefinitions();
    expect(TokenKind::kColon);
    f.type = parseTypeReference();
    f.directives = parseDirectives(true);
    return f;
  }

  EnumValueDefinition parseEnumValue() {
    EnumValueDefinition e;
    e.loc = at(token_.start);
    e.description = parseDescription();
    if (peekKeyword("true") || peekKeyword("false") || peekKeyword("null")) {
      fail(token_.start, describe(token_) + " is reserved and cannot be used for an enum value.");
      return e;
    }
    e.name = parseName();
    e.directives = parseDirectives(true);
    return e;
  }

  // The body shared by a type definition and its extension, after the keyword and name.
  TypeDefinition parseTypeDefinition(bool extension) {
    TypeDefinition t;
    t.loc = at(token_.start);
    t.extension = extension;
    if (extension) {
      expectKeyword("extend");
    } else {
      t.description = parseDescription();
    }
    Token keyword = token_;
    advance();
    const auto& word = keyword.value;
    t.name = parseName();
    if (word == "scalar") {
      t.kind = TypeKind::kScalar;
      t.directives = parseDirectives(true);
    } else if (word == "type" || word == "interface") {
      t.kind = word == "type" ? TypeKind::kObject : TypeKind::kInterface;
      t.interfaces = parseImplements();
      t.directives = parseDirectives(true);
      if (skip(TokenKind::kBraceL)) {
        do {
          t.fields.push_back(parseFieldDefinition());
        } while (ok() && !skip(TokenKind::kBraceR));
      }
    } else if (word == "union") {
      t.kind = TypeKind::kUnion;
      t.directives = parseDirectives(true);
      if (skip(TokenKind::kEquals)) {
        skip(TokenKind::kPipe);
        do {
          t.members.push_back(parseName());
        } while (skip(TokenKind::kPipe));
      }
    } else if (word == "enum") {
      t.kind = TypeKind::kEnum;
      t.directives = parseDirectives(true);
      if (skip(TokenKind::kBraceL)) {
        do {
          t.values.push_back(parseEnumValue());
        } while (ok() && !skip(TokenKind::kBraceR));
      }
    } else {
      t.kind = TypeKind::kInputObject;
      t.directives = parseDirectives(true);
      if (skip(TokenKind::kBraceL)) {
        do {
          t.input_fields.push_back(parseInputValue());
        } while (ok() && !skip(TokenKind::kBraceR));
      }
    }
    if (extension && t.interfaces.empty() && t.directives.empty() && t.fields.empty() &&
        t.members.empty() && t.values.empty() && t.input_fields.empty()) {
      unexpected(token_);
    }
    return t;
  }

  void parseExtension(Document& document) {
    const Token& keyword = lookahead();
    if (!ok()) return;
    if (keyword.kind == TokenKind::kName) {
      const auto& word = keyword.value;
      if (word == "schema") {
        SchemaDefinition s;
        s.loc = at(token_.start);
        s.extension = true;
        expectKeyword("extend");
        expectKeyword("schema");
        s.directives = parseDirectives(true);
        if (skip(TokenKind::kBraceL)) {
          do {
            s.roots.push_back(parseRootOperation());
          } while (ok() && !skip(TokenKind::kBraceR));
        }
        if (s.directives.empty() && s.roots.empty()) unexpected(token_);
        document.definitions.emplace_back(std::move(s));
        return;
      }
      if (word == "scalar" || word == "type" || word == "interface" || word == "union" ||
          word == "enum" || word == "input") {
        document.definitions.emplace_back(parseTypeDefinition(true));
        return;
      }
    }
    unexpected(keyword);
  }

  DirectiveDefinition parseDirectiveDefinition() {
    DirectiveDefinition d;
    d.loc = at(token_.start);
    d.description = parseDescription();
    expectKeyword("directive");
    expect(TokenKind::kAt);
    d.name = parseName();
    d.arguments = parseArgumentDefinitions();
    d.repeatable = skipKeyword("repeatable");
    expectKeyword("on");
    skip(TokenKind::kPipe);
    do {
      Token start = token_;
      Name location = parseName();
      if (ok() && !isDirectiveLocation(location.value)) unexpected(start);
      d.locations.push_back(std::move(location));
    } while (skip(TokenKind::kPipe));
    return d;
  }

  std::string_view source_;
  SourceMap map_;
  Lexer lexer_;
  const ParseLimits& limits_;
  Token token_;
  std::optional<Token> ahead_;
  std::optional<GraphQLError> error_;
  size_t tokens_ = 0;
  size_t depth_ = 0;
  size_t aliases_ = 0;
};

}  // namespace

ParseResult parse(std::string_view source, const ParseLimits& limits) {
  ParseResult result;
  if (source.size() > limits.max_bytes) {
    result.error = GraphQLError{"Document is " + std::to_string(source.size()) + " bytes, over the limit of " +
                                    std::to_string(limits.max_bytes) + "; send a smaller document.",
                                {}, nullptr};
    return result;
  }
  if (!isValidUtf8(source)) {
    result.error = GraphQLError{"Syntax Error: The document is not valid UTF-8.", {}, nullptr};
    return result;
  }
  return Parser(source, limits).run();
}

}  // namespace gust::graphql
