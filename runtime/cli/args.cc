#include "runtime/cli/args.h"

#include <algorithm>

namespace gust {

Result<int> parsePort(std::string_view text) {
  int port = 0;
  if (text.empty() || text.size() > 5) port = -1;
  for (char c : text) {
    if (c < '0' || c > '9') port = -1;
    if (port >= 0) port = port * 10 + (c - '0');
  }
  if (port < 0 || port > 65535) {
    return makeError(ErrorKind::kBadInput,
                     "invalid port \"" + std::string(text.substr(0, 16)) + "\": use a number from 0 to 65535 (0 picks a free port)");
  }
  return port;
}

Result<Args> Args::parse(std::string_view verb, const std::vector<OptionSpec>& specs, int argc, char** argv) {
  Args args;
  bool options_done = false;
  auto bad = [&](const std::string& why) { return makeError(ErrorKind::kBadInput, "gust " + std::string(verb) + ": " + why); };
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (options_done || arg.size() < 2 || arg[0] != '-') {
      args.positional_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    std::string name = arg;
    std::optional<std::string> inline_value;
    if (auto eq = arg.find('='); eq != std::string::npos && arg.rfind("--", 0) == 0) {
      name = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
    }
    auto spec = std::find_if(specs.begin(), specs.end(),
                             [&](const OptionSpec& s) { return s.name == name || (!s.short_name.empty() && s.short_name == name); });
    if (spec == specs.end()) {
      std::vector<std::string> names;
      for (const auto& s : specs) names.push_back(s.name);
      std::string message = "unknown option " + name;
      if (auto close = closestMatch(name, names)) message += " (did you mean " + *close + "?)";
      message += "; see `gust " + std::string(verb) + " --help`";
      return bad(message);
    }
    std::string value;
    if (spec->takes_value) {
      if (inline_value) {
        value = *inline_value;
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return bad("option " + spec->name + " needs a value; see `gust " + std::string(verb) + " --help`");
      }
    } else if (inline_value) {
      return bad("option " + spec->name + " takes no value");
    }
    auto& slot = args.values_[spec->name];
    if (!slot.empty() && !spec->repeatable) return bad("option " + spec->name + " is given twice");
    slot.push_back(value);
  }
  return args;
}

std::optional<std::string> Args::get(std::string_view name) const {
  auto it = values_.find(std::string(name));
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::all(std::string_view name) const {
  auto it = values_.find(std::string(name));
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

}  // namespace gust
