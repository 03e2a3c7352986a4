#include "tools/replica_locator.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace replfs {
namespace {
namespace fs = std::filesystem;

// /proc/mounts writes space, tab, newline and backslash as \ooo.
std::string DecodeMountField(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string digits = field.substr(i + 1, 3);
      if (digits.size() == 3 && digits.find_first_not_of("01234567") == std::string::npos) {
        out.push_back(static_cast<char>(std::stoi(digits, nullptr, 8)));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// `path` made absolute without touching it: a mountpoint whose replica is
// hung would block stat() (and realpath()) forever, one whose replica died
// fails with ENOTCONN. Only the parent folder is resolved.
std::string AbsoluteWithoutTouching(const std::string& path) {
  fs::path p = fs::absolute(fs::path(path)).lexically_normal();
  if (!p.has_filename() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
  const std::string name = p.filename().string();
  std::string parent = p.parent_path().string();
  char resolved[PATH_MAX];
  if (!name.empty() && ::realpath(parent.c_str(), resolved) != nullptr) parent = resolved;
  if (name.empty()) return p.string();
  return parent == "/" ? "/" + name : parent + "/" + name;
}

std::string Resolved(const std::string& path) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) != nullptr) return resolved;
  return path;
}

// Whether `dir` looks like a replfs state folder (node id or admin socket).
bool IsStateDir(const std::string& dir) {
  return Exists(dir + "/node_id") || Exists(dir + "/admin.sock");
}

}  // namespace

std::vector<ReplfsMount> ParseReplfsMounts(const std::string& proc_mounts) {
  std::vector<ReplfsMount> mounts;
  std::istringstream in(proc_mounts);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() < 3 || fields[2] != "fuse.replfs") continue;
    mounts.push_back({DecodeMountField(fields[0]), DecodeMountField(fields[1])});
  }
  return mounts;
}

std::vector<ReplfsMount> ListReplfsMounts() {
  std::ifstream in("/proc/mounts");
  std::stringstream text;
  text << in.rdbuf();
  return ParseReplfsMounts(text.str());
}

absl::StatusOr<ReplicaLocation> LocateReplica(const std::string& target,
                                              const std::vector<ReplfsMount>& mounts) {
  // Mountpoints first, and by name only (see AbsoluteWithoutTouching).
  // Newest mount last in /proc/mounts: the one that is visible wins.
  const std::string named = AbsoluteWithoutTouching(target);
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
    if (it->mountpoint == named) {
      return ReplicaLocation{target, it->mountpoint, it->backing + "/.replfs"};
    }
  }
  const std::string absolute = Resolved(named);
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
    if (it->mountpoint == absolute) {
      return ReplicaLocation{target, it->mountpoint, it->backing + "/.replfs"};
    }
  }
  if (IsDirectory(absolute) && IsStateDir(absolute)) {
    return ReplicaLocation{target, "", absolute};
  }
  if (IsDirectory(absolute + "/.replfs")) {
    // A backing directory: name the mountpoint too if it is mounted.
    std::string mountpoint;
    for (const ReplfsMount& mount : mounts) {
      if (mount.backing == absolute) mountpoint = mount.mountpoint;
    }
    return ReplicaLocation{target, mountpoint, absolute + "/.replfs"};
  }
  return absl::NotFoundError(
      absl::StrCat(target,
                   " is not a replfs mountpoint (per /proc/mounts), backing directory or state "
                   "folder; a replica with a custom state_dir needs --state-dir=DIR"));
}

std::vector<ReplicaLocation> LocateAllMounted(const std::vector<ReplfsMount>& mounts) {
  std::vector<ReplicaLocation> locations;
  locations.reserve(mounts.size());
  for (const ReplfsMount& mount : mounts) {
    locations.push_back({mount.mountpoint, mount.mountpoint, mount.backing + "/.replfs"});
  }
  return locations;
}

}  // namespace replfs
