#pragma once
// The browser console's files (runtime/admin/console/), built into the binary: the host
// serves them with no file of its own to find, and no network (docs/console.md). The table
// is generated at build time by runtime/admin/console/embed.py.

#include <span>
#include <string_view>

namespace gust {

struct ConsoleAsset {
  std::string_view name;          // the file's name: "app.js"
  std::string_view content_type;  // from its extension
  std::string_view body;
};

// Every file of runtime/admin/console/ the build embedded, by name.
std::span<const ConsoleAsset> consoleAssets();

}  // namespace gust
