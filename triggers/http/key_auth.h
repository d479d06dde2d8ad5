#pragma once
// How a caller of the public listener shows a function key (docs/security.md, "Function
// keys"): `Authorization: Bearer KEY` (RFC 6750) or `x-gust-key: KEY`. And how a request
// without a valid one is refused: 401 with `WWW-Authenticate: Bearer realm="gust"` and an
// RFC 9457 problem body, which says only what to send, never which keys exist.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/store/key_store.h"
#include "triggers/http/http_server.h"

namespace gust {

// The key the request presents: x-gust-key if sent, else the token of a Bearer
// Authorization (scheme in any case). Empty when it presents none.
std::string_view presentedKey(const HttpRequest& request);

// Removes the fields that carry a function key (x-gust-key, and an Authorization whose
// Bearer token has the key form), so that a key reaches neither the function nor the
// stored copy of an async request.
void removeKeyFields(std::vector<std::pair<std::string, std::string>>& headers);

// The caller an invocation made with `key` is recorded under: "key:NAME".
std::string callerOf(const FunctionKey& key);

// The 401 for a request to a function that needs a key; `key_given` adds
// error="invalid_token" (RFC 6750 section 3.1).
HttpResponse keyRequired(bool key_given);

}  // namespace gust
