#pragma once
// Which addresses the host refuses to send a callback to.
//
// A callback URL comes from whoever called the function, and the host POSTs to it from
// inside the operator's network: left open, it reaches the loopback admin API, a cloud
// metadata endpoint (169.254.169.254) or any private service (SSRF). So an address is
// refused when it is loopback, unspecified, private (10/8, 172.16/12, 192.168/16,
// fc00::/7), link-local (169.254/16, fe80::/10), shared CGNAT space (100.64/10),
// multicast, the IPv4 broadcast address or reserved (240/4), unless the operator's
// allowlist (`--callback-allow CIDR,...`) holds it. IPv6 forms that carry an IPv4 address
// (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4
// 2002::/16) are judged by the IPv4 address they carry, since that is where the packets go.
//
// Literals are read with getaddrinfo(AI_NUMERICHOST), as the resolver that connects reads
// them: so the numeric spellings inet_aton accepts (2130706433, 0x7f.1, 017700000001) are
// the addresses they mean, not names.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/result.h"

struct sockaddr;

namespace gust {

struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // an IPv4 address in the first 4

  static IpAddress v4(uint32_t host_order);
  // nullopt unless `sa` is AF_INET or AF_INET6.
  static std::optional<IpAddress> of(const sockaddr* sa);
  std::string text() const;  // 127.0.0.1, ::1
  bool operator==(const IpAddress&) const = default;
};

// An IP literal as the resolver reads it (see above); nullopt for anything else (a name).
std::optional<IpAddress> parseIpLiteral(const std::string& text);

struct IpRange {
  IpAddress base;  // bits past the prefix are zero
  int prefix = 0;
  bool contains(const IpAddress& address) const;
  std::string text() const;  // 127.0.0.0/8
};

// "CIDR[,CIDR...]" (a bare address is a /32 or /128); an error names the bad entry.
Result<std::vector<IpRange>> parseIpRanges(std::string_view text);

// Why the host refuses to call `address` (e.g. "loopback (127.0.0.0/8)"), or nullopt.
// An address in `allowed`, or whose embedded IPv4 address is, is not refused.
std::optional<std::string> refusedCallbackAddress(const IpAddress& address, const std::vector<IpRange>& allowed);

}  // namespace gust
