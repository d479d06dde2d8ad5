#pragma once
// What `gust queue send` turns its flags into: the body and the Gust-* request headers of
// POST /v1/queues/{name}/messages. Checked here, so a bad flag is refused before any
// request with a message that names the flag.

#include <optional>
#include <string>
#include <vector>

#include "runtime/base/result.h"
#include "runtime/cli/admin_client.h"

namespace gust::cli {

constexpr size_t kMaxMessageIdBytes = 256;
constexpr size_t kMaxMessageHeaders = 64;
constexpr size_t kMaxMessageFileBytes = 256u << 20;

struct QueueSendFlags {
  std::string data;                 // --data: TEXT, @FILE, or @- for stdin
  std::optional<std::string> id;    // --id
  std::optional<std::string> delay; // --delay, such as 30s
  std::vector<std::string> headers; // --header K=V, repeatable
};

struct QueueSendRequest {
  std::string body;
  AdminHeaders headers;  // Gust-Message-Id, Gust-Delay, Gust-Header-<K>
};

Result<QueueSendRequest> makeQueueSend(const QueueSendFlags& flags);

}  // namespace gust::cli
