#pragma once
// The signature of a webhook delivery, as the Standard Webhooks spec has it
// (https://www.standardwebhooks.com/): HMAC-SHA256, keyed with the bytes the secret's base64
// holds (after its "whsec_" prefix), over "<webhook-id>.<webhook-timestamp>.<body>", sent as
// "v1,<base64 of the MAC>". Several signatures go space-separated in one header (a rotation).
// The MAC is OpenSSL's. Value functions; any thread.

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/base/result.h"

namespace gust {

// "v1,<base64>" for one secret; kBadInput when `secret` is not "whsec_" and base64.
Result<std::string> signWebhook(std::string_view secret, std::string_view id, int64_t timestamp,
                                std::string_view body);

}  // namespace gust
