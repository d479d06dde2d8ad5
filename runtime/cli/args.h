#pragma once
// A small argument parser for the CLI's verbs: named options (with or without a value,
// some repeatable) and positional arguments. Errors are one line that says what to do.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/result.h"
#include "runtime/base/suggest.h"

namespace gust {

struct OptionSpec {
  std::string name;         // "--port"
  std::string short_name;   // "-p" or ""
  bool takes_value = false;
  bool repeatable = false;
};

class Args {
 public:
  // Parses argv after the verb. "--name=value" and "--name value" both work; "--" ends options.
  static Result<Args> parse(std::string_view verb, const std::vector<OptionSpec>& specs, int argc, char** argv);

  bool has(std::string_view name) const { return values_.count(std::string(name)) > 0; }
  std::optional<std::string> get(std::string_view name) const;
  std::vector<std::string> all(std::string_view name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

// Parses a TCP port ("0" to "65535").
Result<int> parsePort(std::string_view text);

}  // namespace gust
