#pragma once
// What the CLI's commands share: exit codes, error output, --help detection, and one
// entry point per command. Each command lives in its own file beside this one.

#include <string>
#include <vector>

namespace gust::cli {

constexpr int kExitUsage = 2;

// Prints `message` as one line on stderr and returns `status`.
int fail(const std::string& message, int status = 1);

// True when --help or -h is among the arguments.
bool wantsHelp(int argc, char** argv);

// For a verb with sub-verbs (`gust queue pek`): "unknown command", the closest of `known`,
// and a pointer to --help; returns kExitUsage.
int unknownSubcommand(const std::string& verb, const std::string& word, const std::vector<std::string>& known);

// Each takes the arguments after its verb; `self` is the path of the gust binary.
int serveCommand(int argc, char** argv, const std::string& self);
int buildCommand(int argc, char** argv, const std::string& self);
int invokeCommand(int argc, char** argv);
int cronCommand(int argc, char** argv);
int psCommand(int argc, char** argv);
int initCommand(int argc, char** argv);
int deployCommand(int argc, char** argv, const std::string& self);
int devCommand(int argc, char** argv, const std::string& self);
int lsCommand(int argc, char** argv);
int describeCommand(int argc, char** argv);
int rollbackCommand(int argc, char** argv);
int rmCommand(int argc, char** argv);
int envCommand(int argc, char** argv);
int keysCommand(int argc, char** argv);
int webhookCommand(int argc, char** argv);
int stateCommand(int argc, char** argv);
int logsCommand(int argc, char** argv);
int queueCommand(int argc, char** argv);
int topicCommand(int argc, char** argv);
int connectionsCommand(int argc, char** argv);
int invocationsCommand(int argc, char** argv);
int completionCommand(int argc, char** argv);
int manCommand(int argc, char** argv);
int consoleCommand(int argc, char** argv);

}  // namespace gust::cli
