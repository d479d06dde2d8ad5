#pragma once
// The CLI's commands in one table: their names, arguments, one-line summaries, sub-commands
// and options. `gust --help` prints its overview from it, the commands parse their options
// with it, and the shell completions and the man page are generated from it
// (runtime/cli/completion.h), so none of them can name a command or option the others lack.

#include <string>
#include <string_view>
#include <vector>

#include "runtime/cli/args.h"

namespace gust::cli {

struct CommandLine {
  std::string name;        // "queue"
  std::string arguments;   // "<command>", shown after the name
  std::string summary;     // one line
};

struct CommandSpec {
  std::string name;
  // The overview's lines for it: usually one; `invoke` has two (a URL, or --timer).
  std::vector<CommandLine> lines;
  std::vector<std::string> subcommands;  // `gust queue send`: "send"; empty for most
  bool talks_to_host = false;            // takes --admin and --data-dir
};

// Every command a user runs, in the order `gust --help` lists them (not the internal
// `worker` and `fork-server` modes).
const std::vector<CommandSpec>& commandTable();

// The names of commandTable(), in order.
std::vector<std::string> commandNames();

// The sub-commands of `verb` ("queue": send, ls, ...); empty for a verb without.
std::vector<std::string> subcommandsOf(std::string_view verb);

// The options of `command` ("ls", or "queue send" for a sub-command), with --admin and
// --data-dir for the commands that talk to a host. A command with sub-commands has no
// options of its own: each sub-command has its own.
std::vector<OptionSpec> commandOptions(std::string_view command);

// The options `gust` takes before the command.
const std::vector<OptionSpec>& globalOptions();

// `gust --help`.
std::string overviewUsage();

}  // namespace gust::cli
