#include "runtime/store/stored_strings.h"

#include <cstdint>

namespace gust {
namespace {

void putU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool getU32(std::string_view& in, uint32_t& v) {
  if (in.size() < 4) return false;
  v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(in[static_cast<size_t>(i)])) << (8 * i);
  in.remove_prefix(4);
  return true;
}

// Reads `count` strings; false when the blob is shorter than it claims.
bool getStrings(std::string_view& in, uint32_t count, std::vector<std::string>& out) {
  // Each string takes at least its 4-byte size: a count beyond that is damage, and
  // checking it first keeps a bad count from reserving gigabytes.
  if (count > in.size() / 4) return false;
  out.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t size = 0;
    if (!getU32(in, size) || size > in.size()) return false;
    out.emplace_back(in.substr(0, size));
    in.remove_prefix(size);
  }
  return true;
}

Error damaged() { return makeError(ErrorKind::kIo, "stored string list is damaged (truncated or bad counts)"); }

}  // namespace

std::string encodeStoredPairs(const Pairs& pairs) {
  std::string out;
  putU32(out, static_cast<uint32_t>(pairs.size() * 2));
  for (const auto& [name, value] : pairs) {
    putU32(out, static_cast<uint32_t>(name.size()));
    out += name;
    putU32(out, static_cast<uint32_t>(value.size()));
    out += value;
  }
  return out;
}

Result<Pairs> decodeStoredPairs(std::string_view blob) {
  if (blob.empty()) return Pairs{};
  uint32_t count = 0;
  std::vector<std::string> strings;
  if (!getU32(blob, count) || count % 2 != 0 || !getStrings(blob, count, strings) || !blob.empty()) return damaged();
  Pairs pairs;
  pairs.reserve(count / 2);
  for (size_t i = 0; i < strings.size(); i += 2) pairs.emplace_back(std::move(strings[i]), std::move(strings[i + 1]));
  return pairs;
}

std::string encodeStoredStrings(const std::vector<std::string>& strings) {
  std::string out;
  putU32(out, static_cast<uint32_t>(strings.size()));
  for (const auto& s : strings) {
    putU32(out, static_cast<uint32_t>(s.size()));
    out += s;
  }
  return out;
}

Result<std::vector<std::string>> decodeStoredStrings(std::string_view blob) {
  if (blob.empty()) return std::vector<std::string>{};
  uint32_t count = 0;
  std::vector<std::string> strings;
  if (!getU32(blob, count) || !getStrings(blob, count, strings) || !blob.empty()) return damaged();
  return strings;
}

}  // namespace gust
