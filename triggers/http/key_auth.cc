#include "triggers/http/key_auth.h"

#include "triggers/http/http_text.h"

namespace gust {
namespace {

constexpr std::string_view kKeyField = "x-gust-key";

}  // namespace

std::string_view presentedKey(const HttpRequest& request) {
  if (std::string_view key = request.header(kKeyField); !key.empty()) return key;
  return http::bearerToken(request.header("authorization"));
}

void removeKeyFields(std::vector<std::pair<std::string, std::string>>& headers) {
  std::erase_if(headers, [](const std::pair<std::string, std::string>& field) {
    // Names are lower case already (see HttpRequest::headers).
    if (field.first == kKeyField) return true;
    return field.first == "authorization" && http::bearerToken(field.second).starts_with(KeyStore::kKeyPrefix);
  });
}

std::string callerOf(const FunctionKey& key) { return "key:" + key.name; }

HttpResponse keyRequired(bool key_given) {
  HttpResponse r = problemResponse(
      401, "Unauthorized",
      key_given ? "the function key sent is not valid for this function (unknown, revoked, or scoped to another "
                  "function); ask the app's operator for one (`gust keys create`)"
                : "this function needs a function key: send it as 'Authorization: Bearer KEY' or 'x-gust-key: KEY' "
                  "(the app's operator makes one with `gust keys create`)");
  r.headers.emplace_back("WWW-Authenticate",
                         key_given ? R"(Bearer realm="gust", error="invalid_token")" : R"(Bearer realm="gust")");
  return r;
}

}  // namespace gust
