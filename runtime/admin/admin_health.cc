#include "runtime/admin/admin_health.h"

#include <utility>

namespace gust {

Readiness::Readiness(const Clock& clock, StoreProbe probe) : clock_(clock), probe_(std::move(probe)) {}

void Readiness::storeAnswered(bool writable) {
  writable_ = writable;
  answered_at_ = clock_.now();
}

bool Readiness::storeWritable() const {
  if (probe_started_ && clock_.now() - *probe_started_ >= kProbeDeadline) return false;
  return writable_;
}

ReadinessReport Readiness::check() {
  ReadinessReport report;
  if (draining_) {
    report.draining = true;
    return report;
  }
  if (!apps_loaded_) report.waiting_for.push_back("apps");
  if (!probe_started_ && (!answered_at_ || clock_.now() - *answered_at_ >= kProbeInterval)) {
    probe_started_ = clock_.now();
    // Readiness outlives the writer that answers (see the header).
    probe_([this](bool writable) {
      probe_started_.reset();
      storeAnswered(writable);
    });
  }
  if (!storeWritable()) report.waiting_for.push_back("store");
  return report;
}

HttpResponse readinessResponse(const ReadinessReport& report) {
  if (report.ready()) return jsonResponse({{"status", "ready"}});
  if (report.draining) return jsonResponse({{"status", "draining"}}, 503);
  return jsonResponse({{"status", "not ready"}, {"waiting_for", report.waiting_for}}, 503);
}

void addHealthRoutes(AdminApi& api, Readiness& readiness) {
  api.route({"GET"}, "/healthz", [](AdminCall&& call) { call.responder.send(jsonResponse({{"status", "ok"}})); });
  api.route({"GET"}, "/readyz",
            [&readiness](AdminCall&& call) { call.responder.send(readinessResponse(readiness.check())); });
}

}  // namespace gust
