// gust completion bash|zsh: prints a shell completion script made from the command table.
#include <cstdio>
#include <string>

#include "runtime/cli/args.h"
#include "runtime/cli/command_table.h"
#include "runtime/cli/commands.h"
#include "runtime/cli/completion.h"

namespace gust::cli {

namespace {

constexpr const char* kCompletionUsage = R"(usage: gust completion bash|zsh

Prints a script that completes gust's commands, sub-commands and options in the shell.

  bash: source <(gust completion bash)     (or save it in ~/.local/share/bash-completion/completions/gust)
  zsh:  source <(gust completion zsh)      (or save it as _gust in a folder of $fpath)

options:
  -h, --help        show this help
)";

}  // namespace

int completionCommand(int argc, char** argv) {
  if (wantsHelp(argc, argv)) return std::printf("%s", kCompletionUsage), 0;
  auto args = Args::parse("completion", {}, argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  if (args->positional().size() != 1) return fail("gust completion: name the shell, bash or zsh", kExitUsage);
  const std::string& shell = args->positional()[0];
  if (shell == "bash") return std::printf("%s", bashCompletion().c_str()), 0;
  if (shell == "zsh") return std::printf("%s", zshCompletion().c_str()), 0;
  return unknownSubcommand("completion", shell, subcommandsOf("completion"));
}

}  // namespace gust::cli
