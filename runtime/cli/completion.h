#pragma once
// What is generated from the command table (runtime/cli/command_table.h): the bash and zsh
// completion scripts (`gust completion bash|zsh`) and the manual page gust(1) (`gust man`,
// which the build runs to make the installed gust.1).

#include <string>

namespace gust::cli {

// Completes commands, sub-commands and options; anything else completes as file names.
std::string bashCompletion();
std::string zshCompletion();

// roff for man(7); `version` goes in its header.
std::string manPage(const std::string& version);

}  // namespace gust::cli
