// CleanUpBeds: what a bed left behind when its process died before its
// destructor ran (SIGKILL, a CTest timeout, a crash).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tests/wan_bed.h"

namespace replfs::testing {
namespace {
namespace fs = std::filesystem;

// "rwb123n0-d1s0" -> "rwb123n0"; a temp dir "rwb123n0-AbC123" likewise.
std::string BedOf(const std::string& name) { return name.substr(0, name.find('-')); }

// The pid in "rwb<pid>n<count>", or 0.
pid_t OwnerOf(const std::string& bed) {
  const std::string root = WanBed::kPrefixRoot;
  if (!bed.starts_with(root)) return 0;
  const std::string rest = bed.substr(root.size());
  int pid = 0;
  if (!absl::SimpleAtoi(rest.substr(0, rest.find('n')), &pid)) return 0;
  return pid;
}

bool Alive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

std::vector<std::string> MountsBelow(const std::string& dir) {
  std::vector<std::string> mounts;
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mountinfo, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields.size() > 4 && fields[4].starts_with(dir + "/")) mounts.push_back(fields[4]);
  }
  return mounts;
}

}  // namespace

std::string CleanUpBeds(const std::string& prefix, bool even_live) {
  std::map<std::string, std::vector<std::string>> namespaces;  // bed -> its namespaces.
  for (const std::string& name : NamespacesWithPrefix(prefix)) namespaces[BedOf(name)].push_back(name);
  std::map<std::string, std::vector<std::string>> dirs;  // bed -> its temp dirs.
  std::error_code ignored;
  const fs::path temp = fs::temp_directory_path();
  for (const auto& entry : fs::directory_iterator(temp, ignored)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(prefix) && entry.is_directory(ignored)) dirs[BedOf(name)].push_back(entry.path());
  }
  std::set<std::string> beds;
  for (const auto& [bed, unused] : namespaces) beds.insert(bed);
  for (const auto& [bed, unused] : dirs) beds.insert(bed);
  std::string report;
  for (const std::string& bed : beds) {
    const pid_t owner = OwnerOf(bed);
    if (owner == ::getpid()) continue;
    if (Alive(owner)) {
      if (!even_live) {
        absl::StrAppend(&report, bed, ": skipped, its process ", owner, " is alive (down --all stops it)\n");
        continue;
      }
      // Its own teardown is the cleanest: ask, wait (bounded), then sweep.
      ::kill(owner, SIGTERM);
      for (int i = 0; i < 300 && Alive(owner); ++i) absl::SleepFor(absl::Milliseconds(100));
    }
    // Replica namespaces first (killing the replicas in them), the core last.
    std::vector<std::string>& names = namespaces[bed];
    std::stable_partition(names.begin(), names.end(),
                          [](const std::string& n) { return !n.ends_with("-core"); });
    for (const std::string& name : names) DeleteNamespace(name);
    for (const std::string& dir : dirs[bed]) {
      std::vector<std::string> mounts = MountsBelow(dir);
      for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) Unmount(*it);
      fs::remove_all(dir, ignored);
    }
    absl::StrAppend(&report, bed, ": removed ", names.size(), " namespaces, ", dirs[bed].size(),
                    " temp dirs\n");
  }
  return report;
}

}  // namespace replfs::testing
