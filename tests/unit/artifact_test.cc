#include "functions/artifact.h"

#include <doctest/doctest.h>
#include <elf.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace gust;

namespace {

std::string fixturePath(const char* env) {
  const char* path = std::getenv(env);
  REQUIRE_MESSAGE(path != nullptr, env, " is not set; run the tests with meson test");
  return path;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// abi_mismatch.so: a small C module exporting gust_abi_version and gust_fn_echo.
std::string echoModule() { return readFile(fixturePath("GUST_FIXTURE_ABI_MISMATCH")); }

template <typename T>
T get(const std::string& bytes, size_t offset) {
  REQUIRE(offset + sizeof(T) <= bytes.size());
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof v);
  return v;
}

template <typename T>
void put(std::string& bytes, size_t offset, const T& v) {
  REQUIRE(offset + sizeof(T) <= bytes.size());
  std::memcpy(bytes.data() + offset, &v, sizeof v);
}

// Where things are in a well-formed module, found the plain way, so a test can break one.
struct Layout {
  Elf64_Ehdr header;
  size_t dynsym_header;  // file offset of the .dynsym section header
  Elf64_Shdr dynsym;
  size_t dynstr_header;
  Elf64_Shdr dynstr;

  size_t symbolOffset(const std::string& bytes, std::string_view name) const {
    for (size_t i = 1; i < dynsym.sh_size / sizeof(Elf64_Sym); ++i) {
      size_t at = dynsym.sh_offset + i * sizeof(Elf64_Sym);
      auto sym = get<Elf64_Sym>(bytes, at);
      if (std::string_view(bytes.data() + dynstr.sh_offset + sym.st_name) == name) return at;
    }
    FAIL("no symbol ", std::string(name));
    return 0;
  }
};

Layout layoutOf(const std::string& bytes) {
  Layout l{};
  l.header = get<Elf64_Ehdr>(bytes, 0);
  for (size_t i = 0; i < l.header.e_shnum; ++i) {
    size_t at = l.header.e_shoff + i * sizeof(Elf64_Shdr);
    auto sh = get<Elf64_Shdr>(bytes, at);
    if (sh.sh_type == SHT_DYNSYM) {
      l.dynsym_header = at;
      l.dynsym = sh;
      l.dynstr_header = l.header.e_shoff + sh.sh_link * sizeof(Elf64_Shdr);
      l.dynstr = get<Elf64_Shdr>(bytes, l.dynstr_header);
    }
  }
  REQUIRE(l.dynsym_header != 0);
  return l;
}

std::string errorOf(const std::string& bytes, std::vector<std::string> functions = {"echo"}, ArtifactLimits limits = {}) {
  auto r = checkArtifactFunctions(bytes, functions, limits, "echo.so");
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::kBadInput);
  return r.error().message;
}

void replaceAll(std::string& bytes, std::string_view from, std::string_view to) {
  REQUIRE(from.size() == to.size());
  size_t found = 0;
  for (size_t at = bytes.find(from); at != std::string::npos; at = bytes.find(from, at + 1), ++found) {
    bytes.replace(at, from.size(), to);
  }
  REQUIRE(found > 0);
}

#define CHECK_HAS(haystack, needle) CHECK_MESSAGE((haystack).find(needle) != std::string::npos, haystack)

}  // namespace

TEST_CASE("real modules built by meson pass and list what they export") {
  auto small = checkArtifactFunctions(echoModule(), {"echo"});
  REQUIRE_MESSAGE(small, small.error().message);
  CHECK(small->exported_functions == std::vector<std::string>{"echo"});
  CHECK(small->size == echoModule().size());

  std::string misbehave = readFile(fixturePath("GUST_FIXTURE_MISBEHAVE"));
  auto big = checkArtifactFunctions(misbehave, {"echo", "segv", "hang", "throws", "printevent"});
  REQUIRE_MESSAGE(big, big.error().message);
  CHECK(big->exported_functions.size() >= 10);
}

TEST_CASE("the manifest's functions are the ones required, and the file form reads the same") {
  auto manifest = parseManifest(R"({"name": "e", "functions": {"echo": {"routes": ["/e"]}}})");
  REQUIRE(manifest);
  CHECK(checkArtifact(echoModule(), *manifest));
  CHECK(checkArtifactFile(fixturePath("GUST_FIXTURE_ABI_MISMATCH"), *manifest));

  auto missing = checkArtifactFile("/nonexistent/echo.so", *manifest);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().kind == ErrorKind::kNotFound);

  ArtifactLimits tiny;
  tiny.max_bytes = 1000;
  auto too_big = checkArtifactFile(fixturePath("GUST_FIXTURE_ABI_MISMATCH"), *manifest, tiny);
  REQUIRE_FALSE(too_big);
  CHECK(too_big.error().kind == ErrorKind::kTooLarge);
  CHECK_HAS(too_big.error().message, "more than the limit of 1000 bytes");
}

TEST_CASE("every function the manifest names but the module lacks is named in the error") {
  CHECK(errorOf(echoModule(), {"echo", "resize", "thumbnail"}) ==
        "echo.so: does not export gust_fn_resize, gust_fn_thumbnail for the functions its manifest names; define "
        "each with GUST_FUNCTION(name) and rebuild");
  std::vector<std::string> many;
  for (int i = 0; i < 25; ++i) many.push_back("f" + std::to_string(i));
  CHECK_HAS(errorOf(echoModule(), many), "gust_fn_f9 and 15 more for the functions");
}

TEST_CASE("a symbol renamed in the string table is missing, by its wanted name") {
  std::string bytes = echoModule();
  replaceAll(bytes, "gust_fn_echo", "gust_fn_ech0");
  CHECK_HAS(errorOf(bytes), "does not export gust_fn_echo for the functions its manifest names");

  bytes = echoModule();
  replaceAll(bytes, "gust_abi_version", "gust_abi_versioN");
  CHECK(errorOf(bytes) ==
        "echo.so: does not export gust_abi_version, so it was not built against the Gust SDK; include "
        "<gust/gust.hpp>, define each function with GUST_FUNCTION(name), and rebuild");
}

TEST_CASE("a symbol that is present but not exported says why") {
  const std::string good = echoModule();
  Layout l = layoutOf(good);
  size_t at = l.symbolOffset(good, "gust_fn_echo");

  std::string bytes = good;
  auto sym = get<Elf64_Sym>(bytes, at);
  sym.st_other = STV_HIDDEN;
  put(bytes, at, sym);
  CHECK_HAS(errorOf(bytes), "does not export gust_fn_echo (it has hidden visibility)");

  bytes = good;
  sym = get<Elf64_Sym>(good, at);
  sym.st_info = ELF64_ST_INFO(STB_LOCAL, STT_FUNC);
  put(bytes, at, sym);
  CHECK_HAS(errorOf(bytes), "gust_fn_echo (it is local to the module)");

  bytes = good;
  sym = get<Elf64_Sym>(good, at);
  sym.st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT);
  put(bytes, at, sym);
  CHECK_HAS(errorOf(bytes), "gust_fn_echo (it is not a function)");

  bytes = good;
  sym = get<Elf64_Sym>(good, at);
  sym.st_shndx = SHN_UNDEF;
  put(bytes, at, sym);
  CHECK_HAS(errorOf(bytes), "gust_fn_echo (it is only referenced, not defined)");
}

TEST_CASE("files that are not ELF, or not for this host, are refused by what they are") {
  CHECK(errorOf("") == "echo.so: is 0 bytes, too short to be an ELF shared object; upload the .so that `gust build` writes");
  CHECK(errorOf("hello world") ==
        "echo.so: is not an ELF file (it starts with 0x68 0x65 0x6c 0x6c, not 0x7f 'E' 'L' 'F'); upload the .so "
        "that `gust build` writes");
  CHECK_HAS(errorOf("#!/bin/sh\necho hi\n"), "is not an ELF file (it starts with 0x23 0x21");

  const std::string good = echoModule();
  std::string bytes = good;
  bytes[EI_CLASS] = ELFCLASS32;
  CHECK(errorOf(bytes) == "echo.so: is a 32-bit ELF file; the host runs 64-bit modules only (build without -m32)");
  bytes[EI_CLASS] = 7;
  CHECK_HAS(errorOf(bytes), "has an unknown ELF class 7");

  bytes = good;
  bytes[EI_DATA] = ELFDATA2MSB;
  CHECK(errorOf(bytes) == "echo.so: is big-endian, but this host is little-endian; build the module for this host's machine");

  bytes = good;
  uint16_t foreign = hostElfMachine() == EM_AARCH64 ? EM_X86_64 : EM_AARCH64;
  put(bytes, offsetof(Elf64_Ehdr, e_machine), foreign);
  if (hostElfMachine() == EM_X86_64) {
    CHECK(errorOf(bytes) == "echo.so: is built for arm64 (ELF machine 183), but this host runs x86-64 modules; build "
                            "it on, or cross-compile it for, x86-64");
  } else {
    CHECK_HAS(errorOf(bytes), "is built for x86-64 (ELF machine 62)");
  }

  bytes = good;
  put(bytes, offsetof(Elf64_Ehdr, e_type), uint16_t{ET_EXEC});
  CHECK_HAS(errorOf(bytes), "is an executable, not a shared object; link it with -shared");
  put(bytes, offsetof(Elf64_Ehdr, e_type), uint16_t{ET_REL});
  CHECK_HAS(errorOf(bytes), "is an object file (.o), not a shared object");
  put(bytes, offsetof(Elf64_Ehdr, e_type), uint16_t{ET_CORE});
  CHECK_HAS(errorOf(bytes), "is a core dump");
}

TEST_CASE("a module over the size cap is refused before it is parsed") {
  std::string bytes = echoModule();
  ArtifactLimits limits;
  limits.max_bytes = bytes.size() - 1;
  auto refused = checkArtifactFunctions(bytes, {"echo"}, limits, "echo.so");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == ErrorKind::kTooLarge);  // the admin API answers 413
  CHECK(refused.error().message == "echo.so: is " + std::to_string(bytes.size()) +
                                       " bytes, more than the limit of " + std::to_string(bytes.size() - 1) +
                                       " bytes; make the module smaller (strip its debug info with `strip`)");
  limits.max_bytes = bytes.size();
  CHECK(checkArtifactFunctions(bytes, {"echo"}, limits));
  CHECK(ArtifactLimits{}.max_bytes == 64ull << 20);
}

TEST_CASE("every truncation of a real module is an error, never a crash") {
  const std::string good = echoModule();
  CHECK_HAS(errorOf(good.substr(0, 10)), "the ELF identification (16 bytes at offset 0) runs past the end of the file (10 bytes)");
  CHECK_HAS(errorOf(good.substr(0, 40)), "the ELF header (64 bytes at offset 0) runs past the end of the file (40 bytes)");
  // Section headers sit at the end of a linked module, so losing the last byte loses them.
  CHECK_HAS(errorOf(good.substr(0, good.size() - 1)), "section headers at offset");
  CHECK_HAS(errorOf(good.substr(0, good.size() - 1)), "which run past the end of the file");
  for (size_t size = 0; size < good.size(); size += (size < 256 ? 1 : 61)) {
    auto r = checkArtifactFunctions(std::string_view(good).substr(0, size), {"echo"});
    CHECK_FALSE(r);
  }
}

TEST_CASE("huge or out-of-range counts and offsets are caught without overflow") {
  const std::string good = echoModule();
  const Layout l = layoutOf(good);
  std::string bytes;

  bytes = good;
  put(bytes, offsetof(Elf64_Ehdr, e_shnum), uint16_t{0xffff});
  CHECK_HAS(errorOf(bytes), "says it has 65535 section headers at offset");

  bytes = good;
  put(bytes, offsetof(Elf64_Ehdr, e_shoff), UINT64_MAX - 8);
  CHECK_HAS(errorOf(bytes), "which run past the end of the file");

  bytes = good;
  put(bytes, offsetof(Elf64_Ehdr, e_shoff), uint64_t{0});
  CHECK_HAS(errorOf(bytes), "has no section headers (stripped with sstrip?)");

  bytes = good;
  put(bytes, offsetof(Elf64_Ehdr, e_shentsize), uint16_t{32});
  CHECK_HAS(errorOf(bytes), "has section header entries of 32 bytes, not 64");

  bytes = good;
  put(bytes, offsetof(Elf64_Ehdr, e_phoff), UINT64_MAX);
  CHECK_HAS(errorOf(bytes), "the program header table");

  bytes = good;
  put(bytes, offsetof(Elf64_Ehdr, e_phnum), uint16_t{0});
  CHECK_HAS(errorOf(bytes), "has no program headers");

  // Extended section numbering (e_shnum 0) reads the count from section 0, which says 0 here.
  bytes = good;
  put(bytes, offsetof(Elf64_Ehdr, e_shnum), uint16_t{0});
  CHECK_HAS(errorOf(bytes), "has a section header table with no sections");
  // ... and a huge one there is bounded like any other.
  put(bytes, l.header.e_shoff + offsetof(Elf64_Shdr, sh_size), uint64_t{1} << 60);
  CHECK_HAS(errorOf(bytes), "says it has 1152921504606846976 section headers");

  bytes = good;
  put(bytes, l.dynsym_header + offsetof(Elf64_Shdr, sh_size), UINT64_MAX);
  CHECK_HAS(errorOf(bytes), "the dynamic symbol table (18446744073709551615 bytes at offset");

  bytes = good;
  put(bytes, l.dynsym_header + offsetof(Elf64_Shdr, sh_offset), UINT64_MAX - 4);
  CHECK_HAS(errorOf(bytes), "the dynamic symbol table");
  CHECK_HAS(errorOf(bytes), "runs past the end of the file");

  bytes = good;
  put(bytes, l.dynsym_header + offsetof(Elf64_Shdr, sh_entsize), uint64_t{12});
  CHECK_HAS(errorOf(bytes), "dynamic symbol table with entries of 12 bytes, not 24");

  bytes = good;
  put(bytes, l.dynsym_header + offsetof(Elf64_Shdr, sh_link), uint32_t{9999});
  CHECK_HAS(errorOf(bytes), "linked to section 9999, which does not exist");

  bytes = good;
  put(bytes, l.dynsym_header + offsetof(Elf64_Shdr, sh_type), uint32_t{SHT_PROGBITS});
  CHECK_HAS(errorOf(bytes), "has no dynamic symbol table (.dynsym), so it exports nothing");

  bytes = good;
  put(bytes, l.dynstr_header + offsetof(Elf64_Shdr, sh_type), uint32_t{SHT_PROGBITS});
  CHECK_HAS(errorOf(bytes), "whose names are not in a string table");

  bytes = good;
  put(bytes, l.dynstr_header + offsetof(Elf64_Shdr, sh_size), UINT64_MAX);
  CHECK_HAS(errorOf(bytes), "the string table of the dynamic symbol table");

  bytes = good;
  size_t at = l.symbolOffset(good, "gust_fn_echo");
  put(bytes, at + offsetof(Elf64_Sym, st_name), uint32_t{0xfffffff0});
  CHECK_HAS(errorOf(bytes), "has its name at offset 4294967280, outside its string table");

  // A name that starts inside the string table but has no NUL before its end.
  bytes = good;
  auto sym = get<Elf64_Sym>(good, at);
  put(bytes, l.dynstr_header + offsetof(Elf64_Shdr, sh_size), uint64_t{sym.st_name} + 3);
  std::string message = errorOf(bytes);
  CHECK((message.find("runs past the end of its string table") != std::string::npos ||
         message.find("outside its string table") != std::string::npos));
}
