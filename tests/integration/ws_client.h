#pragma once
// One WebSocket client for the integration tests: npm's `ws` (tests/js/ws_client.mjs), a
// client nobody here wrote. Commands go to a file it follows, and what it sees comes back as
// JSON lines.
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace gust::test {

class WsClient {
 public:
  WsClient(const fs::path& work, const std::string& url, std::vector<std::string> extra = {})
      : commands_(work / ("ws" + std::to_string(++count_) + ".cmds")),
        process_(argv(url, commands_, extra), work / ("ws" + std::to_string(count_) + ".stderr")) {}

  // The next line it prints about `event`.
  nlohmann::json next(const std::string& event) {
    return nlohmann::json::parse(process_.waitForLine("\"event\":\"" + event + "\""));
  }
  void command(const nlohmann::json& c) {
    std::ofstream out(commands_, std::ios::app);
    out << c.dump() << "\n";
  }
  void send(const std::string& text) { command({{"send", text}}); }
  std::string reply(const std::string& text) {
    send(text);
    return next("message")["data"];
  }

 private:
  static std::vector<std::string> argv(const std::string& url, const fs::path& commands,
                                       const std::vector<std::string>& extra) {
    std::vector<std::string> a = {"/usr/bin/env", "node", env("GUST_SOURCE_ROOT") + "/tests/js/ws_client.mjs", url,
                                  commands.string()};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  static inline int count_ = 0;
  fs::path commands_;
  Process process_;
};

}  // namespace gust::test
