// The hello app: a path parameter, a query parameter, and a JSON body echoed back.
//
//   curl localhost:8080/hello/world?greeting=hi
//   curl -X POST localhost:8080/echo -d '{"order": 42}'
#include <gust/json.hpp>

gust::Response hello(const gust::Request& req, gust::Context&) {
  std::string greeting = req.query("greeting", "hello");
  return gust::Response::text(greeting + ", " + std::string(req.param("name")) + "\n");
}
GUST_FUNCTION(hello)

gust::Response echo(const gust::Request& req, gust::Context& ctx) {
  nlohmann::json body = req.json();
  if (body.is_discarded()) {
    return gust::Response::json({{"error", "the body is not valid JSON"}}, 400);
  }
  ctx.log("echoing a JSON body of " + std::to_string(req.body().size()) + " bytes");
  return gust::Response::json({{"echo", body}, {"invocation", ctx.invocationId()}});
}
GUST_FUNCTION(echo)
