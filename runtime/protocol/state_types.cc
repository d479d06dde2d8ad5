#include "runtime/protocol/state_types.h"

#include "runtime/base/text.h"

namespace gust {

std::string stateKeyProblem(std::string_view key) {
  if (key.empty())
    return "a state key may not be empty";
  if (key.size() > kMaxStateKeyBytes) {
    return "a state key of " + std::to_string(key.size()) +
           " bytes is longer than the limit of " +
           std::to_string(kMaxStateKeyBytes);
  }
  if (!isValidUtf8(key))
    return "the state key " + quote(key) + " is not UTF-8";
  for (char c : key) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f)
      return "the state key " + quote(key) + " holds a control character";
  }
  return {};
}

} // namespace gust
