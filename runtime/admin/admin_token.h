#pragma once
// The admin API's bearer token: from $GUST_ADMIN_TOKEN, or DATA_DIR/admin.token, created
// on first start with 32 random bytes and mode 0600.

#include <filesystem>
#include <string>
#include <string_view>

#include "runtime/base/result.h"

namespace gust {

// For the host: reads the token, creating it when absent.
Result<std::string> loadOrCreateAdminToken(const std::filesystem::path& data_dir);

// For the CLI: $GUST_ADMIN_TOKEN, else DATA_DIR/admin.token; an error says how to get one.
Result<std::string> readAdminToken(const std::filesystem::path& data_dir);

}  // namespace gust
