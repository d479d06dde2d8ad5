#include "triggers/http/callback_address.h"

#include <doctest/doctest.h>

namespace gust {
namespace {

// The rule `literal` breaks with no allowlist ("" for none); the literal must parse.
std::string ruleOf(const std::string& literal, const std::vector<IpRange>& allowed = {}) {
  auto address = parseIpLiteral(literal);
  INFO(literal);
  REQUIRE(address.has_value());
  return refusedCallbackAddress(*address, allowed).value_or("");
}

struct RuleCase {
  const char* address;
  const char* rule;  // "" for none
};

void checkRules(std::initializer_list<RuleCase> cases) {
  for (auto c : cases) {
    CAPTURE(c.address);
    CHECK(ruleOf(c.address) == c.rule);
  }
}

TEST_CASE("every refused IPv4 range is named, and public addresses pass") {
  checkRules({
      {"0.0.0.0", "unspecified (0.0.0.0/8)"},
      {"127.0.0.1", "loopback (127.0.0.0/8)"},
      {"127.255.255.254", "loopback (127.0.0.0/8)"},
      {"10.1.2.3", "private (10.0.0.0/8)"},
      {"172.16.0.1", "private (172.16.0.0/12)"},
      {"172.31.255.255", "private (172.16.0.0/12)"},
      {"192.168.1.1", "private (192.168.0.0/16)"},
      {"169.254.169.254", "link-local (169.254.0.0/16)"},
      {"100.64.0.1", "shared CGNAT (100.64.0.0/10)"},
      {"100.127.255.255", "shared CGNAT (100.64.0.0/10)"},
      {"224.0.0.1", "multicast (224.0.0.0/4)"},
      {"239.255.255.250", "multicast (224.0.0.0/4)"},
      {"255.255.255.255", "broadcast (255.255.255.255)"},
      {"240.0.0.1", "reserved (240.0.0.0/4)"},
      {"8.8.8.8", ""},
      {"172.15.255.255", ""},
      {"172.32.0.0", ""},
      {"100.63.255.255", ""},
      {"100.128.0.0", ""},
      {"169.253.0.1", ""},
      {"223.255.255.255", ""},
  });
}

TEST_CASE("numeric spellings of an IPv4 address are the address they mean") {
  // What inet_aton accepts, and so what a resolver connects to.
  for (const char* spelled : {"2130706433", "0x7f000001", "0x7f.1", "127.1", "127.0.1", "017700000001",
                              "0177.0.0.1", "0x7F.0.0.0x1"}) {
    CAPTURE(spelled);
    CHECK(parseIpLiteral(spelled)->text() == "127.0.0.1");
    CHECK(ruleOf(spelled) == "loopback (127.0.0.0/8)");
  }
  CHECK(ruleOf("0xa9fea9fe") == "link-local (169.254.0.0/16)");  // 169.254.169.254
  CHECK(ruleOf("0") == "unspecified (0.0.0.0/8)");
  CHECK_FALSE(parseIpLiteral("localhost").has_value());
  CHECK_FALSE(parseIpLiteral("example.com").has_value());
  CHECK_FALSE(parseIpLiteral("127.0.0.1.example.com").has_value());
}

TEST_CASE("IPv6 ranges are refused, and forms carrying IPv4 are judged by the IPv4 address") {
  checkRules({
      {"::", "unspecified (::/128)"},
      {"::1", "loopback (::1/128)"},
      {"fc00::1", "private (fc00::/7)"},
      {"fd12:3456::1", "private (fc00::/7)"},
      {"fe80::1", "link-local (fe80::/10)"},
      {"febf::1", "link-local (fe80::/10)"},
      {"fec0::1", "private (fec0::/10)"},
      {"ff02::1", "multicast (ff00::/8)"},
      {"64:ff9b:1::a00:1", "private (64:ff9b:1::/48)"},
      {"::ffff:127.0.0.1", "loopback (127.0.0.0/8, carried in an IPv4-mapped IPv6 address)"},
      {"::ffff:7f00:1", "loopback (127.0.0.0/8, carried in an IPv4-mapped IPv6 address)"},
      {"::ffff:169.254.169.254", "link-local (169.254.0.0/16, carried in an IPv4-mapped IPv6 address)"},
      {"::127.0.0.1", "loopback (127.0.0.0/8, carried in an IPv4-compatible IPv6 address)"},
      {"::10.0.0.1", "private (10.0.0.0/8, carried in an IPv4-compatible IPv6 address)"},
      {"64:ff9b::127.0.0.1", "loopback (127.0.0.0/8, carried in a NAT64 (64:ff9b::/96) IPv6 address)"},
      {"64:ff9b::192.168.0.1", "private (192.168.0.0/16, carried in a NAT64 (64:ff9b::/96) IPv6 address)"},
      {"2002:7f00:1::", "loopback (127.0.0.0/8, carried in a 6to4 (2002::/16) IPv6 address)"},
      {"2002:a9fe:a9fe::1", "link-local (169.254.0.0/16, carried in a 6to4 (2002::/16) IPv6 address)"},
      {"2606:4700:4700::1111", ""},
      {"::ffff:8.8.8.8", ""},
      {"64:ff9b::8.8.8.8", ""},
      {"2002:808:808::1", ""},
  });
}

TEST_CASE("the allowlist lets listed addresses through, in every form that carries them") {
  auto allowed = parseIpRanges("127.0.0.0/8, 10.1.2.0/24,fd00::/8");
  REQUIRE(allowed.ok());
  CHECK(ruleOf("127.0.0.1", *allowed).empty());
  CHECK(ruleOf("2130706433", *allowed).empty());
  CHECK(ruleOf("::ffff:127.0.0.1", *allowed).empty());
  CHECK(ruleOf("64:ff9b::127.0.0.1", *allowed).empty());
  CHECK(ruleOf("10.1.2.200", *allowed).empty());
  CHECK(ruleOf("fd00::5", *allowed).empty());
  CHECK(ruleOf("10.1.3.1", *allowed) == "private (10.0.0.0/8)");
  CHECK(ruleOf("::1", *allowed) == "loopback (::1/128)");  // 127.0.0.0/8 is IPv4 only
  CHECK(ruleOf("fc00::1", *allowed) == "private (fc00::/7)");
}

TEST_CASE("CIDR lists parse, clear the bits past the prefix, and name a bad entry") {
  auto ranges = parseIpRanges("10.1.2.3/8,192.168.7.7,::1,fe80::1/10,0.0.0.0/0");
  REQUIRE(ranges.ok());
  REQUIRE(ranges->size() == 5);
  CHECK((*ranges)[0].text() == "10.0.0.0/8");
  CHECK((*ranges)[1].text() == "192.168.7.7/32");
  CHECK((*ranges)[2].text() == "::1/128");
  CHECK((*ranges)[3].text() == "fe80::/10");
  CHECK((*ranges)[4].contains(*parseIpLiteral("203.0.113.9")));
  CHECK(parseIpRanges("")->empty());
  auto bad = [](const char* text, const char* names) {
    CAPTURE(text);
    auto r = parseIpRanges(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::kBadInput);
    CHECK(r.error().message.find(names) != std::string::npos);
    CHECK(r.error().message.find("CIDR") != std::string::npos);
  };
  bad("10.0.0.0/8,nonsense", "'nonsense' is not");
  bad("10.0.0.0/33", "'10.0.0.0/33' has a bad prefix length (want 0 to 32)");
  bad("::/129", "want 0 to 128");
  bad("10.0.0.0/", "'10.0.0.0/' has a bad prefix");
  bad("10.0.0.0/x", "bad prefix");
  bad("2130706433/8", "'2130706433/8' is not");  // the operator writes dotted quads
  bad("localhost", "'localhost' is not");
}

}  // namespace
}  // namespace gust
