#include "triggers/webhooks/webhook_signature.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <optional>

#include "runtime/base/text.h"

namespace gust {

Result<std::string> signWebhook(std::string_view secret, std::string_view id, int64_t timestamp,
                                std::string_view body) {
  constexpr std::string_view kPrefix = "whsec_";
  if (!secret.starts_with(kPrefix)) return makeError(ErrorKind::kBadInput, "a webhook secret starts with whsec_");
  std::optional<std::string> key = base64Decode(secret.substr(kPrefix.size()));
  if (!key || key->empty()) {
    return makeError(ErrorKind::kBadInput, "a webhook secret is whsec_ and base64; this one does not decode");
  }
  std::string message;
  message.reserve(id.size() + body.size() + 24);
  message.append(id).append(".").append(std::to_string(timestamp)).append(".").append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_len) == nullptr) {
    return makeError(ErrorKind::kIo, "OpenSSL's HMAC-SHA256 failed");
  }
  return "v1," + base64Encode(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

}  // namespace gust
