#pragma once
// Routes that require a webhook signature (`"verify"` in gust.json, docs/security.md
// "Webhook signatures"). When a version is bound, each such function's secret is read from
// the app's variables into a WebhookVerifier (runtime/base/webhook_signature.h); a request
// to it is then checked before it becomes an invocation, sync or async, and a refused one
// is answered 401 with a problem body that says the kind of refusal only: never the
// secret, never the signature expected.

#include <map>
#include <string>

#include "runtime/base/result.h"
#include "runtime/base/webhook_signature.h"
#include "runtime/exec/dispatcher.h"
#include "triggers/http/http_server.h"

namespace gust {

// Function name -> the verifier of its signatures, for one app version.
using AppVerifiers = std::map<std::string, WebhookVerifier, std::less<>>;

// The verifiers of `app`'s functions that set "verify". Fails (kBadInput) naming the
// function and the variable when its secret is not set, or is not of its scheme's form.
Result<AppVerifiers> verifiersOf(const AppInfo& app);

// The 401 for a request whose signature was refused: the kind (webhookProblemText), and
// with `expose_errors` (--expose-errors, on in `gust dev`) what exactly was wrong.
HttpResponse signatureRefused(const WebhookRefusal& refusal, bool expose_errors);

}  // namespace gust
