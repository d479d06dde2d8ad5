// The real-time bench's publisher: POST /publish commits its body as one bench.tick event,
// which the host fans out to every client of the /ticks stream.
#include <gust/gust.hpp>

gust::Response publish(const gust::Request& req, gust::Context& ctx) {
  auto status = ctx.publish("bench.tick", req.body());
  if (!status) return gust::Response::text("publish failed\n", 503);
  return gust::Response::text("", 204);
}
GUST_FUNCTION(publish)
