#include "triggers/http/webhook_verify.h"

namespace gust {

Result<AppVerifiers> verifiersOf(const AppInfo& app) {
  AppVerifiers verifiers;
  for (const auto& f : app.manifest.functions) {
    if (!f.verify) continue;
    const std::string& name = f.verify->secret_env;
    auto secret = app.env.find(name);
    if (secret == app.env.end()) {
      return makeError(ErrorKind::kBadInput, "function " + f.name + " verifies signatures with the secret in " + name +
                                                 ", which app " + app.manifest.name + " does not set; set it with " +
                                                 "`gust env set " + app.manifest.name + " " + name + "=...`");
    }
    auto verifier = WebhookVerifier::create(f.verify->scheme, secret->second, f.verify->tolerance);
    if (!verifier) {
      return makeError(ErrorKind::kBadInput, "function " + f.name + ": the secret in " + name + ": " +
                                                 verifier.error().message);
    }
    verifiers.emplace(f.name, std::move(*verifier));
  }
  return verifiers;
}

HttpResponse signatureRefused(const WebhookRefusal& refusal, bool expose_errors) {
  std::string detail(webhookProblemText(refusal.problem));
  if (expose_errors) detail += ": " + refusal.message;
  return problemResponse(401, "Unauthorized", detail);
}

}  // namespace gust
