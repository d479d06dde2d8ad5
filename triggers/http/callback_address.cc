#include "triggers/http/callback_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cstring>

namespace gust {
namespace {

struct Rule {
  const char* name;
  const char* range;
};

IpAddress v4Of(const uint8_t* four) {
  IpAddress a;
  std::memcpy(a.bytes.data(), four, 4);
  return a;
}

std::optional<IpAddress> parseStrict(const std::string& text) {
  IpAddress a;
  if (inet_pton(AF_INET, text.c_str(), a.bytes.data()) == 1) return a;
  a.v6 = true;
  if (inet_pton(AF_INET6, text.c_str(), a.bytes.data()) == 1) return a;
  return std::nullopt;
}

// The rule an IPv4 address breaks, if any.
std::optional<Rule> v4Rule(const IpAddress& a) {
  const uint8_t* b = a.bytes.data();
  if (b[0] == 0) return Rule{"unspecified", "0.0.0.0/8"};
  if (b[0] == 127) return Rule{"loopback", "127.0.0.0/8"};
  if (b[0] == 10) return Rule{"private", "10.0.0.0/8"};
  if (b[0] == 172 && (b[1] & 0xf0) == 16) return Rule{"private", "172.16.0.0/12"};
  if (b[0] == 192 && b[1] == 168) return Rule{"private", "192.168.0.0/16"};
  if (b[0] == 169 && b[1] == 254) return Rule{"link-local", "169.254.0.0/16"};
  if (b[0] == 100 && (b[1] & 0xc0) == 64) return Rule{"shared CGNAT", "100.64.0.0/10"};
  if ((b[0] & 0xf0) == 224) return Rule{"multicast", "224.0.0.0/4"};
  if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255) return Rule{"broadcast", "255.255.255.255"};
  if ((b[0] & 0xf0) == 240) return Rule{"reserved", "240.0.0.0/4"};
  return std::nullopt;
}

bool zeros(const uint8_t* from, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (from[i] != 0) return false;
  }
  return true;
}

// The IPv4 address an IPv6 address carries (and the form's name), if it is one of the
// forms that do.
std::optional<std::pair<IpAddress, const char*>> embeddedV4(const IpAddress& a) {
  const uint8_t* b = a.bytes.data();
  if (zeros(b, 10) && b[10] == 0xff && b[11] == 0xff) return std::pair{v4Of(b + 12), "an IPv4-mapped"};
  // ::a.b.c.d, but not :: and ::1, which are IPv6's own unspecified and loopback addresses.
  if (zeros(b, 12) && !(zeros(b + 12, 3) && b[15] <= 1)) return std::pair{v4Of(b + 12), "an IPv4-compatible"};
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zeros(b + 4, 8)) {
    return std::pair{v4Of(b + 12), "a NAT64 (64:ff9b::/96)"};
  }
  if (b[0] == 0x20 && b[1] == 0x02) return std::pair{v4Of(b + 2), "a 6to4 (2002::/16)"};
  return std::nullopt;
}

std::optional<Rule> v6Rule(const IpAddress& a) {
  const uint8_t* b = a.bytes.data();
  if (zeros(b, 16)) return Rule{"unspecified", "::/128"};
  if (zeros(b, 15) && b[15] == 1) return Rule{"loopback", "::1/128"};
  if ((b[0] & 0xfe) == 0xfc) return Rule{"private", "fc00::/7"};
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return Rule{"link-local", "fe80::/10"};
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return Rule{"private", "fec0::/10"};  // site-local, deprecated
  if (b[0] == 0xff) return Rule{"multicast", "ff00::/8"};
  // Local-use NAT64 (RFC 8215) reaches IPv4 addresses of the operator's own choosing.
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0 && b[5] == 1) {
    return Rule{"private", "64:ff9b:1::/48"};
  }
  return std::nullopt;
}

bool anyContains(const std::vector<IpRange>& ranges, const IpAddress& a) {
  for (const auto& r : ranges) {
    if (r.contains(a)) return true;
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

IpAddress IpAddress::v4(uint32_t host_order) {
  uint32_t net = htonl(host_order);
  return v4Of(reinterpret_cast<const uint8_t*>(&net));
}

std::optional<IpAddress> IpAddress::of(const sockaddr* sa) {
  IpAddress a;
  if (sa->sa_family == AF_INET) {
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
    return a;
  }
  if (sa->sa_family == AF_INET6) {
    a.v6 = true;
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
    return a;
  }
  return std::nullopt;
}

std::string IpAddress::text() const {
  char out[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), out, sizeof out);
  return out;
}

std::optional<IpAddress> parseIpLiteral(const std::string& text) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(text.c_str(), nullptr, &hints, &found) != 0) return std::nullopt;
  std::optional<IpAddress> a = found ? IpAddress::of(found->ai_addr) : std::nullopt;
  freeaddrinfo(found);
  return a;
}

bool IpRange::contains(const IpAddress& address) const {
  if (address.v6 != base.v6) return false;
  int full = prefix / 8;
  if (std::memcmp(address.bytes.data(), base.bytes.data(), static_cast<size_t>(full)) != 0) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (address.bytes[static_cast<size_t>(full)] & mask) == base.bytes[static_cast<size_t>(full)];
}

std::string IpRange::text() const { return base.text() + "/" + std::to_string(prefix); }

Result<std::vector<IpRange>> parseIpRanges(std::string_view text) {
  std::vector<IpRange> ranges;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view entry = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    auto wrong = [&](const std::string& why) {
      return makeError(ErrorKind::kBadInput, "'" + std::string(entry) + "' " + why +
                                                 "; write an address range as CIDR, e.g. 10.1.2.0/24 or fd00::/8");
    };
    if (entry.empty()) continue;
    size_t slash = entry.find('/');
    auto base = parseStrict(std::string(entry.substr(0, slash)));
    if (!base) return wrong("is not an IPv4 or IPv6 address range");
    const int bits = base->v6 ? 128 : 32;
    int prefix = bits;
    if (slash != std::string_view::npos) {
      std::string_view digits = entry.substr(slash + 1);
      prefix = 0;
      bool ok = !digits.empty() && digits.size() <= 3;
      for (char c : digits) {
        if (c < '0' || c > '9') ok = false;
        else prefix = prefix * 10 + (c - '0');
      }
      if (!ok || prefix > bits) return wrong("has a bad prefix length (want 0 to " + std::to_string(bits) + ")");
    }
    // Bits past the prefix are cleared: 10.1.2.3/8 means 10.0.0.0/8.
    for (int i = prefix; i < 128; ++i) {
      base->bytes[static_cast<size_t>(i / 8)] &= static_cast<uint8_t>(~(0x80 >> (i % 8)));
    }
    ranges.push_back(IpRange{*base, prefix});
  }
  return ranges;
}

std::optional<std::string> refusedCallbackAddress(const IpAddress& address, const std::vector<IpRange>& allowed) {
  if (anyContains(allowed, address)) return std::nullopt;
  if (!address.v6) {
    auto rule = v4Rule(address);
    if (!rule) return std::nullopt;
    return std::string(rule->name) + " (" + rule->range + ")";
  }
  if (auto carried = embeddedV4(address)) {
    if (anyContains(allowed, carried->first)) return std::nullopt;
    auto rule = v4Rule(carried->first);
    if (!rule) return std::nullopt;
    return std::string(rule->name) + " (" + rule->range + ", carried in " + carried->second + " IPv6 address)";
  }
  auto rule = v6Rule(address);
  if (!rule) return std::nullopt;
  return std::string(rule->name) + " (" + rule->range + ")";
}

}  // namespace gust
