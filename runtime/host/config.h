#pragma once
// The host's settings, from four places in this order of precedence:
//
//   flags  >  GUST_* environment variables  >  a JSON config file  >  defaults
//
// The config file is --config FILE or $GUST_CONFIG; without either, DATA_DIR/config.json
// is read when it exists. It is one JSON object whose keys are the setting names below
// (e.g. {"port": 9000, "default_timeout": "5s"}); data_dir and config cannot be set in it,
// since the file is found through them. Values may be JSON strings, numbers or booleans.
//
// Every setting is one row of one table (hostSettings()), from which come the flags that
// `gust serve` accepts, its --help text and the README's settings table, so the three
// cannot drift. A bad value is refused with its source (flag, variable or file:key), the
// problem, and what is allowed; an unknown key in the file gets "did you mean".
// Pure functions; any thread.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/host/host.h"
#include "runtime/base/result.h"

namespace gust {

// One setting as documented. `flag` is empty for settings read only from the environment
// (documented here because the host reads them elsewhere); `value_name` is empty for a
// switch (a flag without a value).
struct SettingDoc {
  std::string key;  // name in the config file: "max_body"
  std::string flag;  // "--max-body"
  std::string short_flag;  // "-p" or ""
  std::string env;  // "GUST_MAX_BODY"
  std::string value_name;  // "N"
  std::string default_text;  // as shown in help and README
  std::string help;
};

const std::vector<SettingDoc>& hostSettings();

// The inputs, passed in so tests do not touch the process's environment.
struct ConfigSources {
  std::map<std::string, std::string> flags;  // "--port" -> "9000"; a switch -> "true"
  std::map<std::string, std::string> env;    // "GUST_PORT" -> "9000"
};

// Every GUST_* variable of this process's environment.
std::map<std::string, std::string> gustEnvironment();

// Resolves every setting. Positional arguments (app dirs) and the executable are left to
// the caller.
Result<HostOptions> resolveHostOptions(const ConfigSources& sources);

// For a setting that no longer exists, named by key, flag or variable (e.g. "--admin-port"),
// what to use instead; nullopt for any other name.
std::optional<std::string> removedSettingAdvice(std::string_view name);

// The options section of `gust serve --help`, one setting per entry.
std::string settingsHelp();

// The README's settings table (Markdown), header included.
std::string settingsMarkdownTable();

}  // namespace gust
