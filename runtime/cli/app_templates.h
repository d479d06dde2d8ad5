#pragma once
// `gust init`'s project templates: what a new function project holds (gust.json, a C++
// source written against the SDK, .gitignore, README), rendered for an app name, and the
// safe way to write them to disk.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/result.h"

namespace gust::cli {

struct ProjectFile {
  std::string path;  // relative to the project dir
  std::string text;
};

// "http", "timer", "queue".
const std::vector<std::string>& templateNames();

// The files of template `kind` for app `name`. Refuses a bad app name (the manifest's rule)
// and an unknown template (with the closest known one).
Result<std::vector<ProjectFile>> renderTemplate(std::string_view kind, std::string_view name);

// Writes `files` under `dir`, creating it. Refuses a `dir` that exists and is not an empty
// directory, so init never overwrites anyone's work.
Result<void> writeProject(const std::filesystem::path& dir, const std::vector<ProjectFile>& files);

}  // namespace gust::cli
