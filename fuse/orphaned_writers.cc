#include "fuse/orphaned_writers.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fuse/mount_table.h"
#include "storage/beneath.h"

namespace replfs {
namespace {

// What /proc/PID/fdinfo/FD says of a descriptor.
struct FdInfo {
  int flags = 0;
  uint64_t mount_id = 0;
  uint64_t ino = 0;
};

std::optional<FdInfo> ReadFdInfo(pid_t pid, int fd) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/fdinfo/", fd));
  if (!in) return std::nullopt;
  FdInfo info;
  bool have_flags = false, have_mount = false, have_ino = false;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key, value;
    fields >> key >> value;
    if (key == "flags:") {
      have_flags = true;
      info.flags = static_cast<int>(std::strtol(value.c_str(), nullptr, 8));
    } else if (key == "mnt_id:") {
      have_mount = absl::SimpleAtoi(value, &info.mount_id);
    } else if (key == "ino:") {
      have_ino = absl::SimpleAtoi(value, &info.ino);
    }
  }
  if (!have_flags || !have_mount || !have_ino) return std::nullopt;
  return info;
}

// The live mount at `mountpoint`: of the mounts there, the last made.
uint64_t LiveMountId(const absl::flat_hash_map<uint64_t, std::string>& mounts,
                     const std::string& mountpoint) {
  uint64_t live = 0;
  for (const auto& [id, point] : mounts) {
    if (point == mountpoint && id > live) live = id;
  }
  return live;
}

std::optional<std::string> FdTarget(pid_t pid, int fd) {
  char target[PATH_MAX];
  const ssize_t n =
      ::readlink(absl::StrCat("/proc/", pid, "/fd/", fd).c_str(), target, sizeof(target));
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(target)) return std::nullopt;
  return std::string(target, static_cast<size_t>(n));
}

// The path relative to the backing root that a descriptor on mount
// `mount_id` names as `target`, if that mount is an earlier one of this
// directory: detached (the kernel then names the file from the mount's
// own root) or stacked at the same mount point.
std::optional<std::string> RelativePath(const absl::flat_hash_map<uint64_t, std::string>& mounts,
                                        uint64_t mount_id, const std::string& mountpoint,
                                        const std::string& target) {
  auto it = mounts.find(mount_id);
  std::string rest;
  if (it == mounts.end()) {
    if (!target.starts_with("/")) return std::nullopt;  // "pipe:[...]" and the like.
    rest = target.substr(1);
  } else if (it->second == mountpoint && target.starts_with(mountpoint + "/")) {
    rest = target.substr(mountpoint.size() + 1);
  } else {
    return std::nullopt;
  }
  if (rest.empty()) return std::nullopt;
  for (absl::string_view part : absl::StrSplit(rest, '/')) {
    if (part.empty() || part == "." || part == "..") return std::nullopt;
  }
  return rest;
}

bool IsRegularFileWithIno(int root_fd, const std::string& path, uint64_t ino) {
  absl::StatusOr<UniqueFd> fd = OpenBeneath(root_fd, path, O_PATH);
  struct stat st;
  return fd.ok() && ::fstatat(fd->get(), "", &st, AT_EMPTY_PATH) == 0 && S_ISREG(st.st_mode) &&
         static_cast<uint64_t>(st.st_ino) == ino;
}

template <typename Visit>
void ForEachNumberIn(const std::string& dir, Visit visit) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (const dirent* e = ::readdir(d)) {
    int number = 0;
    if (absl::SimpleAtoi(e->d_name, &number)) visit(number);
  }
  ::closedir(d);
}

}  // namespace

std::vector<OrphanedWriter> FindOrphanedWriters(const std::string& mountpoint, int root_fd) {
  const absl::flat_hash_map<uint64_t, std::string> mounts = MountPoints();
  const uint64_t live = LiveMountId(mounts, mountpoint);
  const pid_t self = ::getpid();
  std::vector<OrphanedWriter> found;
  ForEachNumberIn("/proc", [&](int pid) {
    if (pid == self) return;
    ForEachNumberIn(absl::StrCat("/proc/", pid, "/fd"), [&](int fd) {
      const std::optional<FdInfo> info = ReadFdInfo(pid, fd);
      if (!info || (info->flags & O_ACCMODE) == O_RDONLY || info->mount_id == live) return;
      const std::optional<std::string> target = FdTarget(pid, fd);
      if (!target) return;
      std::optional<std::string> path = RelativePath(mounts, info->mount_id, mountpoint, *target);
      if (!path || !IsRegularFileWithIno(root_fd, *path, info->ino)) return;
      found.push_back(OrphanedWriter{pid, fd, info->mount_id, info->ino, std::move(*path)});
    });
  });
  return found;
}

bool StillHeld(const OrphanedWriter& writer) {
  const std::optional<FdInfo> info = ReadFdInfo(writer.pid, writer.fd);
  return info.has_value() && info->mount_id == writer.mount_id && info->ino == writer.ino &&
         (info->flags & O_ACCMODE) != O_RDONLY;
}

}  // namespace replfs
