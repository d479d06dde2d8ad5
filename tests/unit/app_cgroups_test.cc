#include "runtime/exec/app_cgroups.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/support/temp_dir.h"

using namespace gust;
namespace fs = std::filesystem;
using gust::test::TempDir;

namespace {

// A hybrid host like the CI machine's: v1 controllers, and a v2 mount without them.
constexpr const char* kHybridCgroup =
    "9:name=systemd:/\n"
    "8:pids:/\n"
    "4:memory:/process_api/36d24d\n"
    "1:cpu,cpuacct:/\n"
    "0::/\n";
constexpr const char* kHybridMounts =
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "38 30 0:35 / /sys/fs/cgroup/pids rw,relatime shared:9 - cgroup cgroup rw,pids\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

PoolSettings poolOf(uint32_t memory_mb, uint32_t max_instances, uint32_t max_processes) {
  PoolSettings settings;
  settings.memory_mb = memory_mb;
  settings.max_instances = max_instances;
  settings.max_processes = max_processes;
  return settings;
}

}  // namespace

TEST_CASE("the host's own cgroups are found in each hierarchy of a hybrid layout") {
  OwnCgroups own = findOwnCgroups(kHybridCgroup, kHybridMounts);
  CHECK(own.v2 == "/sys/fs/cgroup/unified");
  CHECK(own.v1_memory == "/sys/fs/cgroup/memory/process_api/36d24d");
  CHECK(own.v1_pids == "/sys/fs/cgroup/pids");
}

TEST_CASE("a pure cgroup v2 host, in a container whose mount shows part of the tree") {
  OwnCgroups own = findOwnCgroups("0::/system.slice/gust.service\n",
                                  "25 1 0:22 /system.slice /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
  CHECK(own.v2 == "/sys/fs/cgroup/gust.service");
  CHECK(own.v1_memory.empty());
  CHECK(own.v1_pids.empty());
  // A path outside what the mount shows has no directory, not a wrong one.
  CHECK(findOwnCgroups("0::/user.slice\n", "25 1 0:22 /system.slice /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n").v2 ==
        "");
  // Mount points with spaces are escaped in mountinfo.
  CHECK(findOwnCgroups("0::/a\n", "25 1 0:22 / /mnt/cg\\040two rw - cgroup2 cgroup2 rw\n").v2 == "/mnt/cg two/a");
}

TEST_CASE("only gust-<pid> directories are taken for a host's base") {
  CHECK(hostPidOfCgroupName("gust-1234") == 1234);
  CHECK(hostPidOfCgroupName("gust-1234-host") == 1234);
  CHECK(hostPidOfCgroupName("gust-") == 0);
  CHECK(hostPidOfCgroupName("gust-12x") == 0);
  CHECK(hostPidOfCgroupName("other-1234") == 0);
}

TEST_CASE("without any cgroup hierarchy the host keeps rlimits and says why") {
  AppCgroups cgroups(OwnCgroups{}, 1234);
  CHECK(cgroups.version() == CgroupVersion::kNone);
  CHECK(cgroups.reason().find("no cgroup v2 hierarchy") != std::string::npos);
  CHECK(cgroups.describe(PoolSettings{}).starts_with("per worker (no cgroup: "));
  CHECK(noCgroupWarning(cgroups).find("Delegate=yes") != std::string::npos);
  auto dirs = cgroups.addWorker("app", PoolSettings{});
  REQUIRE(dirs);
  CHECK(dirs->empty());
}

// The directory layout and limit values, on plain directories standing in for the cgroup
// file systems (the kernel's side is proven by the integration tests, as root).
TEST_CASE("cgroup v1: an app directory with the app's limits, a worker directory below with its own") {
  TempDir root;
  fs::create_directories(root.path() / "memory");
  fs::create_directories(root.path() / "pids");
  fs::create_directories(root.path() / "memory" / "gust-999999999");  // a host that is gone
  OwnCgroups own{(root.path() / "v2-missing").string(), (root.path() / "memory").string(),
                 (root.path() / "pids").string()};
  int pid = 4242;
  AppCgroups cgroups(own, pid);
  REQUIRE(cgroups.version() == CgroupVersion::kV1);
  CHECK_FALSE(fs::exists(root.path() / "memory" / "gust-999999999"));
  PoolSettings settings = poolOf(64, 3, 40);
  auto dirs = cgroups.addWorker("shop", settings);
  REQUIRE(dirs);
  fs::path memory_app = root.path() / "memory" / "gust-4242" / "shop";
  fs::path pids_app = root.path() / "pids" / "gust-4242" / "shop";
  CHECK(slurp(memory_app / "memory.limit_in_bytes") == std::to_string(192u << 20));
  CHECK(slurp(pids_app / "pids.max") == "40");
  REQUIRE(dirs->size() == 2);
  CHECK((*dirs)[0] == (memory_app / "w1").string());
  CHECK((*dirs)[1] == (pids_app / "w1").string());
  CHECK(slurp(memory_app / "w1" / "memory.limit_in_bytes") == std::to_string(64u << 20));
  CHECK(cgroups.describe(settings) == "cgroup v1 (memory 192 MiB, 40 tasks for the app; 64 MiB per worker)");
  // A worker of another version of the app gets a directory of its own.
  auto next = cgroups.addWorker("shop", settings);
  REQUIRE(next);
  CHECK((*next)[0] == (memory_app / "w2").string());
}

TEST_CASE("cgroup v2: the controllers are passed down to the base and the app") {
  TempDir root;
  write(root.path() / "cgroup.controllers", "cpu io memory pids\n");
  write(root.path() / "cgroup.subtree_control", "");
  AppCgroups cgroups(OwnCgroups{root.path().string(), "", ""}, 77);
  REQUIRE(cgroups.version() == CgroupVersion::kV2);
  fs::path base = root.path() / "gust-77";
  CHECK(slurp(root.path() / "cgroup.subtree_control") == "+memory +pids");
  CHECK(slurp(base / "cgroup.subtree_control") == "+memory +pids");
  PoolSettings settings = poolOf(32, 2, 16);
  auto dirs = cgroups.addWorker("a", settings);
  REQUIRE(dirs);
  CHECK(slurp(base / "a" / "memory.max") == std::to_string(64u << 20));
  CHECK(slurp(base / "a" / "pids.max") == "16");
  REQUIRE(dirs->size() == 1);
  CHECK(slurp(base / "a" / "w1" / "memory.max") == std::to_string(32u << 20));
}

TEST_CASE("cgroup v2 without the memory and pids controllers falls back to v1, else to none") {
  TempDir root;
  write(root.path() / "cgroup.controllers", "cpu io\n");
  AppCgroups cgroups(OwnCgroups{root.path().string(), "", ""}, 77);
  CHECK(cgroups.version() == CgroupVersion::kNone);
  CHECK(cgroups.reason().find("does not offer the memory and pids controllers") != std::string::npos);
  CHECK(cgroups.reason().find("no cgroup v1 memory and pids hierarchies") != std::string::npos);
}
