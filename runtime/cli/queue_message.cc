#include "runtime/cli/queue_message.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "runtime/base/duration.h"

namespace gust::cli {

namespace {

bool isTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool printable(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

Result<std::string> readData(const std::string& data) {
  if (data.empty() || data[0] != '@') return data;
  std::string file = data.substr(1);
  if (file == "-") {
    std::string body;
    char buf[65536];
    while (std::cin.read(buf, sizeof buf) || std::cin.gcount() > 0) {
      body.append(buf, static_cast<size_t>(std::cin.gcount()));
      if (body.size() > kMaxMessageFileBytes) {
        return makeError(ErrorKind::kBadInput, "--data @-: standard input is larger than 256 MiB");
      }
    }
    return body;
  }
  std::error_code ec;
  auto size = std::filesystem::file_size(file, ec);
  if (ec) return makeError(ErrorKind::kNotFound, "--data @" + file + ": cannot read it: " + ec.message());
  if (size > kMaxMessageFileBytes) return makeError(ErrorKind::kBadInput, "--data @" + file + " is larger than 256 MiB");
  std::ifstream in(file, std::ios::binary);
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) return makeError(ErrorKind::kIo, "--data @" + file + ": cannot read it");
  return body;
}

}  // namespace

Result<QueueSendRequest> makeQueueSend(const QueueSendFlags& flags) {
  QueueSendRequest request;
  auto body = readData(flags.data);
  if (!body) return body.error();
  request.body = std::move(*body);
  if (flags.id) {
    if (flags.id->empty() || flags.id->size() > kMaxMessageIdBytes || !printable(*flags.id)) {
      return makeError(ErrorKind::kBadInput, "--id must be 1 to 256 printable characters (it deduplicates: a second "
                                             "message with the same id is not queued again)");
    }
    request.headers.emplace("Gust-Message-Id", *flags.id);
  }
  if (flags.delay) {
    auto delay = parseDuration(*flags.delay);
    if (!delay) return makeError(ErrorKind::kBadInput, "--delay: " + delay.error().message);
    if (*delay > std::chrono::hours(24 * 7)) {
      return makeError(ErrorKind::kBadInput, "--delay: at most 7 days (168h)");
    }
    request.headers.emplace("Gust-Delay", formatDuration(*delay));
  }
  if (flags.headers.size() > kMaxMessageHeaders) {
    return makeError(ErrorKind::kBadInput, "at most 64 --header flags per message");
  }
  for (const auto& h : flags.headers) {
    auto eq = h.find('=');
    std::string name = h.substr(0, eq);
    bool name_ok = eq != std::string::npos && !name.empty() && name.size() <= 128;
    for (char c : name) name_ok = name_ok && isTokenChar(c);
    if (!name_ok) {
      return makeError(ErrorKind::kBadInput, "--header \"" + h.substr(0, 64) +
                                                 "\" must look like NAME=VALUE, with a NAME of letters, digits, '-' "
                                                 "or '_'");
    }
    std::string value = h.substr(eq + 1);
    if (!printable(value)) {
      return makeError(ErrorKind::kBadInput, "--header " + name + ": the value must not hold control characters");
    }
    request.headers.emplace("Gust-Header-" + name, value);
  }
  return request;
}

}  // namespace gust::cli
