#include "functions/artifact.h"

#include <elf.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <unordered_set>

#include "gust/abi.h"

namespace gust {
namespace {

// The machine and byte order come from the compiler that built this host, so a host
// cross-compiled for arm64 accepts arm64 modules without a setting.
constexpr uint16_t kHostMachine =
#if defined(__x86_64__)
    EM_X86_64;
#elif defined(__aarch64__)
    EM_AARCH64;
#elif defined(__riscv) && __riscv_xlen == 64
    EM_RISCV;
#elif defined(__powerpc64__)
    EM_PPC64;
#elif defined(__s390x__)
    EM_S390;
#else
#error "functions/artifact.cc: add this machine's EM_ constant"
#endif
constexpr unsigned char kHostByteOrder = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;

// A module exports few functions; the list returned is bounded all the same.
constexpr size_t kMaxListedExports = 4096;
constexpr std::string_view kFunctionPrefix = GUST_FUNCTION_SYMBOL_PREFIX;
constexpr std::string_view kEntrySymbol = GUST_ENTRY_SYMBOL;

std::string machineName(uint16_t machine) {
  switch (machine) {
    case EM_X86_64: return "x86-64";
    case EM_386: return "32-bit x86";
    case EM_AARCH64: return "arm64";
    case EM_ARM: return "32-bit arm";
    case EM_RISCV: return "risc-v";
    case EM_PPC64: return "ppc64";
    case EM_S390: return "s390x";
    default: return "an unknown machine";
  }
}

std::string byteOrderName(unsigned char data) { return data == ELFDATA2LSB ? "little-endian" : "big-endian"; }

// True when [offset, offset + length) lies inside a file of `size` bytes, without overflow.
bool inFile(uint64_t offset, uint64_t length, uint64_t size) { return offset <= size && length <= size - offset; }

// Reads a T at an offset the caller has checked; memcpy because the bytes need not be aligned.
template <typename T>
T readAt(std::string_view bytes, uint64_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

class ElfReader {
 public:
  ElfReader(std::string_view bytes, std::string_view source) : bytes_(bytes), source_(source) {}

  Error fail(const std::string& problem) const {
    return makeError(ErrorKind::kBadInput, std::string(source_) + ": " + problem);
  }

  Error truncated(const std::string& what, uint64_t offset, uint64_t length) const {
    return fail(what + " (" + std::to_string(length) + " bytes at offset " + std::to_string(offset) +
                ") runs past the end of the file (" + std::to_string(bytes_.size()) +
                " bytes): the file is truncated or corrupt; upload the module again");
  }

  Result<void> checkHeader() {
    const uint64_t size = bytes_.size();
    if (size < SELFMAG) {
      return fail("is " + std::to_string(size) + " bytes, too short to be an ELF shared object; upload the .so that "
                                                  "`gust build` writes");
    }
    if (std::memcmp(bytes_.data(), ELFMAG, SELFMAG) != 0) {
      std::string start;
      for (size_t i = 0; i < SELFMAG; ++i) {
        start += (i ? " " : "") + hex(static_cast<unsigned char>(bytes_[i]));
      }
      return fail("is not an ELF file (it starts with " + start +
                  ", not 0x7f 'E' 'L' 'F'); upload the .so that `gust build` writes");
    }
    if (size < EI_NIDENT) return truncated("the ELF identification", 0, EI_NIDENT);
    auto elf_class = static_cast<unsigned char>(bytes_[EI_CLASS]);
    if (elf_class == ELFCLASS32) {
      return fail("is a 32-bit ELF file; the host runs 64-bit modules only (build without -m32)");
    }
    if (elf_class != ELFCLASS64) return fail("has an unknown ELF class " + std::to_string(elf_class) + " (corrupt?)");
    auto data = static_cast<unsigned char>(bytes_[EI_DATA]);
    if (data != ELFDATA2LSB && data != ELFDATA2MSB) {
      return fail("has an unknown ELF byte order " + std::to_string(data) + " (corrupt?)");
    }
    if (data != kHostByteOrder) {
      return fail("is " + byteOrderName(data) + ", but this host is " + byteOrderName(kHostByteOrder) +
                  "; build the module for this host's machine");
    }
    if (static_cast<unsigned char>(bytes_[EI_VERSION]) != EV_CURRENT) {
      return fail("has ELF version " + std::to_string(static_cast<unsigned char>(bytes_[EI_VERSION])) +
                  ", not 1 (corrupt?)");
    }
    if (size < sizeof(Elf64_Ehdr)) return truncated("the ELF header", 0, sizeof(Elf64_Ehdr));
    header_ = readAt<Elf64_Ehdr>(bytes_, 0);
    if (header_.e_machine != kHostMachine) {
      return fail("is built for " + machineName(header_.e_machine) + " (ELF machine " +
                  std::to_string(header_.e_machine) + "), but this host runs " + machineName(kHostMachine) +
                  " modules; build it on, or cross-compile it for, " + machineName(kHostMachine));
    }
    switch (header_.e_type) {
      case ET_DYN: break;
      case ET_EXEC: return fail("is an executable, not a shared object; link it with -shared (`gust build` does)");
      case ET_REL: return fail("is an object file (.o), not a shared object; link it with -shared (`gust build` does)");
      case ET_CORE: return fail("is a core dump, not a shared object");
      default: return fail("has ELF type " + std::to_string(header_.e_type) + ", not a shared object (ET_DYN)");
    }
    if (header_.e_ehsize < sizeof(Elf64_Ehdr)) {
      return fail("says its ELF header is " + std::to_string(header_.e_ehsize) + " bytes, less than " +
                  std::to_string(sizeof(Elf64_Ehdr)) + " (corrupt?)");
    }
    return {};
  }

  Result<void> checkProgramHeaders() {
    if (header_.e_phnum == 0) return fail("has no program headers, so it cannot be loaded");
    if (header_.e_phentsize != sizeof(Elf64_Phdr)) {
      return fail("has program header entries of " + std::to_string(header_.e_phentsize) + " bytes, not " +
                  std::to_string(sizeof(Elf64_Phdr)) + " (corrupt?)");
    }
    uint64_t table = 0;
    if (__builtin_mul_overflow(uint64_t{header_.e_phnum}, uint64_t{sizeof(Elf64_Phdr)}, &table) ||
        !inFile(header_.e_phoff, table, bytes_.size())) {
      return truncated("the program header table", header_.e_phoff, table);
    }
    return {};
  }

  Result<void> readSectionHeaders() {
    if (header_.e_shoff == 0) {
      return fail("has no section headers (stripped with sstrip?); the host needs them to find the dynamic symbol "
                  "table, so keep them (plain `strip` does)");
    }
    if (header_.e_shentsize != sizeof(Elf64_Shdr)) {
      return fail("has section header entries of " + std::to_string(header_.e_shentsize) + " bytes, not " +
                  std::to_string(sizeof(Elf64_Shdr)) + " (corrupt?)");
    }
    uint64_t count = header_.e_shnum;
    if (count == 0) {
      // Extended numbering: with 0xff00 sections or more, the count is in section 0.
      if (!inFile(header_.e_shoff, sizeof(Elf64_Shdr), bytes_.size())) {
        return truncated("the first section header", header_.e_shoff, sizeof(Elf64_Shdr));
      }
      count = readAt<Elf64_Shdr>(bytes_, header_.e_shoff).sh_size;
      if (count == 0) return fail("has a section header table with no sections (corrupt?)");
    }
    uint64_t table = 0;
    if (__builtin_mul_overflow(count, uint64_t{sizeof(Elf64_Shdr)}, &table) ||
        !inFile(header_.e_shoff, table, bytes_.size())) {
      return fail("says it has " + std::to_string(count) + " section headers at offset " +
                  std::to_string(header_.e_shoff) + ", which run past the end of the file (" +
                  std::to_string(bytes_.size()) + " bytes): the file is truncated or corrupt; upload the module again");
    }
    section_count_ = count;
    return {};
  }

  Elf64_Shdr section(uint64_t index) const {
    return readAt<Elf64_Shdr>(bytes_, header_.e_shoff + index * sizeof(Elf64_Shdr));
  }

  // Index of the only section of `type`; 0 when there is none.
  Result<uint64_t> findSection(uint32_t type, const char* what) const {
    uint64_t found = 0;
    for (uint64_t i = 1; i < section_count_; ++i) {
      if (section(i).sh_type != type) continue;
      if (found != 0) return fail("has more than one " + std::string(what) + " (corrupt?)");
      found = i;
    }
    return found;
  }

  struct Symbol {
    std::string_view name;
    bool exported;         // defined, global or weak, visible outside the module
    const char* why_not;   // when not exported: the reason, for the error message
  };

  // Calls `visit(Symbol)` for each named symbol of the symbol table in section `index`.
  template <typename Visit>
  Result<void> forEachSymbol(uint64_t index, const char* what, Visit visit) const {
    Elf64_Shdr symtab = section(index);
    if (symtab.sh_entsize != sizeof(Elf64_Sym)) {
      return fail("has a " + std::string(what) + " with entries of " + std::to_string(symtab.sh_entsize) +
                  " bytes, not " + std::to_string(sizeof(Elf64_Sym)) + " (corrupt?)");
    }
    if (!inFile(symtab.sh_offset, symtab.sh_size, bytes_.size())) {
      return truncated("the " + std::string(what), symtab.sh_offset, symtab.sh_size);
    }
    if (symtab.sh_link == 0 || symtab.sh_link >= section_count_) {
      return fail("has a " + std::string(what) + " linked to section " + std::to_string(symtab.sh_link) +
                  ", which does not exist (corrupt?)");
    }
    Elf64_Shdr strtab = section(symtab.sh_link);
    if (strtab.sh_type != SHT_STRTAB) {
      return fail("has a " + std::string(what) + " whose names are not in a string table (corrupt?)");
    }
    if (!inFile(strtab.sh_offset, strtab.sh_size, bytes_.size())) {
      return truncated("the string table of the " + std::string(what), strtab.sh_offset, strtab.sh_size);
    }
    std::string_view names = bytes_.substr(strtab.sh_offset, strtab.sh_size);
    uint64_t count = symtab.sh_size / sizeof(Elf64_Sym);
    for (uint64_t i = 1; i < count; ++i) {  // entry 0 is the reserved null symbol
      auto sym = readAt<Elf64_Sym>(bytes_, symtab.sh_offset + i * sizeof(Elf64_Sym));
      if (sym.st_name == 0) continue;
      if (sym.st_name >= names.size()) {
        return fail("symbol " + std::to_string(i) + " of the " + what + " has its name at offset " +
                    std::to_string(sym.st_name) + ", outside its string table (" + std::to_string(names.size()) +
                    " bytes) (corrupt?)");
      }
      size_t end = names.find('\0', sym.st_name);
      if (end == std::string_view::npos) {
        return fail("symbol " + std::to_string(i) + " of the " + what +
                    " has a name that runs past the end of its string table (corrupt?)");
      }
      Symbol s{names.substr(sym.st_name, end - sym.st_name), false, nullptr};
      unsigned bind = ELF64_ST_BIND(sym.st_info);
      unsigned type = ELF64_ST_TYPE(sym.st_info);
      unsigned visibility = ELF64_ST_VISIBILITY(sym.st_other);
      if (sym.st_shndx == SHN_UNDEF) s.why_not = "is only referenced, not defined";
      else if (bind != STB_GLOBAL && bind != STB_WEAK) s.why_not = "is local to the module";
      else if (visibility != STV_DEFAULT && visibility != STV_PROTECTED) s.why_not = "has hidden visibility";
      else if (type != STT_FUNC && type != STT_GNU_IFUNC) s.why_not = "is not a function";
      else s.exported = true;
      visit(s);
    }
    return {};
  }

  uint64_t sectionCount() const { return section_count_; }

 private:
  std::string_view bytes_;
  std::string_view source_;
  Elf64_Ehdr header_{};
  uint64_t section_count_ = 0;
};

}  // namespace

uint16_t hostElfMachine() { return kHostMachine; }

Result<ArtifactInfo> checkArtifactFunctions(std::string_view bytes, const std::vector<std::string>& function_names,
                                            const ArtifactLimits& limits, std::string_view source) {
  if (bytes.size() > limits.max_bytes) {
    return makeError(ErrorKind::kBadInput, std::string(source) + ": is " + std::to_string(bytes.size()) +
                                               " bytes, more than the limit of " + std::to_string(limits.max_bytes) +
                                               " bytes; make the module smaller (strip its debug info with `strip`)");
  }
  ElfReader elf(bytes, source);
  if (auto r = elf.checkHeader(); !r) return r.error();
  if (auto r = elf.checkProgramHeaders(); !r) return r.error();
  if (auto r = elf.readSectionHeaders(); !r) return r.error();
  auto dynsym = elf.findSection(SHT_DYNSYM, "dynamic symbol table");
  if (!dynsym) return dynsym.error();
  if (*dynsym == 0) {
    return elf.fail("has no dynamic symbol table (.dynsym), so it exports nothing; build it as a shared object "
                    "with `gust build`");
  }

  // What each wanted symbol turned out to be: absent from the map means not found at all.
  std::unordered_set<std::string_view> wanted;
  wanted.insert(kEntrySymbol);
  std::vector<std::string> function_symbols;
  function_symbols.reserve(function_names.size());
  for (const auto& name : function_names) function_symbols.push_back(std::string(kFunctionPrefix) + name);
  for (const auto& s : function_symbols) wanted.insert(s);
  std::map<std::string, const char*, std::less<>> seen;  // symbol -> nullptr if exported, else why not

  ArtifactInfo info;
  info.size = bytes.size();
  auto scanned = elf.forEachSymbol(*dynsym, "dynamic symbol table", [&](const ElfReader::Symbol& s) {
    if (s.exported && s.name.substr(0, kFunctionPrefix.size()) == kFunctionPrefix &&
        s.name.size() > kFunctionPrefix.size() && info.exported_functions.size() < kMaxListedExports) {
      info.exported_functions.emplace_back(s.name.substr(kFunctionPrefix.size()));
    }
    if (!wanted.count(s.name)) return;
    auto [it, inserted] = seen.emplace(std::string(s.name), s.why_not);
    if (!inserted && s.exported) it->second = nullptr;  // an exported definition wins over a reference
  });
  if (!scanned) return scanned.error();

  // A symbol missing from .dynsym may still be in the full symbol table of an unstripped
  // module: then it exists but is hidden, which is the usual mistake, and worth saying.
  auto symtab = elf.findSection(SHT_SYMTAB, "symbol table");
  if (symtab && *symtab != 0) {
    std::map<std::string, const char*, std::less<>> hidden;
    auto ignored = elf.forEachSymbol(*symtab, "symbol table", [&](const ElfReader::Symbol& s) {
      if (wanted.count(s.name) && !seen.count(s.name) && s.why_not) hidden.emplace(std::string(s.name), s.why_not);
    });
    if (ignored) seen.merge(hidden);
  }

  auto problem = [&](std::string_view symbol) -> std::string {
    auto it = seen.find(symbol);
    if (it == seen.end()) return "";
    return it->second ? std::string(it->second) : std::string();
  };
  auto exported = [&](std::string_view symbol) {
    auto it = seen.find(symbol);
    return it != seen.end() && it->second == nullptr;
  };

  if (!exported(kEntrySymbol)) {
    std::string why = problem(kEntrySymbol);
    return elf.fail("does not export " + std::string(kEntrySymbol) + (why.empty() ? "" : " (it " + why + ")") +
                    ", so it was not built against the Gust SDK; include <gust/gust.hpp>, define each function with "
                    "GUST_FUNCTION(name), and rebuild");
  }
  std::string missing;
  size_t missing_count = 0;
  for (const auto& symbol : function_symbols) {
    if (exported(symbol)) continue;
    if (++missing_count > 10) continue;
    std::string why = problem(symbol);
    missing += (missing.empty() ? "" : ", ") + symbol + (why.empty() ? "" : " (it " + why + ")");
  }
  if (missing_count > 0) {
    if (missing_count > 10) missing += " and " + std::to_string(missing_count - 10) + " more";
    return elf.fail("does not export " + missing +
                    " for the functions its manifest names; define each with GUST_FUNCTION(name) and rebuild");
  }
  return info;
}

Result<ArtifactInfo> checkArtifact(std::string_view bytes, const Manifest& manifest, const ArtifactLimits& limits,
                                   std::string_view source) {
  std::vector<std::string> names;
  names.reserve(manifest.functions.size());
  for (const auto& f : manifest.functions) names.push_back(f.name);
  return checkArtifactFunctions(bytes, names, limits, source);
}

Result<ArtifactInfo> checkArtifactFile(const std::filesystem::path& file, const Manifest& manifest,
                                       const ArtifactLimits& limits) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return makeError(ErrorKind::kNotFound, file.string() + ": cannot read the module");
  struct stat st{};
  if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return makeError(ErrorKind::kBadInput, file.string() + ": is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > limits.max_bytes) {
    return makeError(ErrorKind::kBadInput, file.string() + ": is " + std::to_string(st.st_size) +
                                               " bytes, more than the limit of " + std::to_string(limits.max_bytes) +
                                               " bytes; make the module smaller (strip its debug info with `strip`)");
  }
  std::string bytes;
  // Read one byte more than the stat said, so a file that grew since is still caught by the
  // size check in checkArtifact.
  bytes.resize(static_cast<size_t>(st.st_size) + 1);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<size_t>(in.gcount()));
  return checkArtifact(bytes, manifest, limits, file.string());
}

}  // namespace gust
