#include "fuse/mount_options.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "fuse/mount_table.h"

namespace replfs {
namespace {

absl::StatusOr<std::string> Canonical(const std::string& path, const char* what) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
  }
  struct stat st;
  if (::stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", path, " is not a directory"));
  }
  return std::string(resolved);
}

// fstab-only words that mean nothing to the kernel or libfuse.
bool IsFstabOnly(const std::string& option) {
  const std::string key = option.substr(0, option.find('='));
  return key == "_netdev" || key == "nofail" || key == "auto" || key == "noauto" ||
         key == "user" || key == "users" || key == "nouser" || key == "owner" ||
         key == "defaults" || key == "comment" || key.starts_with("x-") ||
         key == "max_threads" || key == "max_idle_threads" || key == "clone_fd";
}

}  // namespace

bool IsMountpoint(const std::string& path) {
  for (const auto& [id, point] : MountPoints()) {
    if (point == path) return true;
  }
  return false;
}

bool IsPassthroughMountOption(const std::string& option) {
  static const char* const kAccepted[] = {
      "allow_other", "allow_root", "default_permissions", "ro", "rw", "nosuid", "suid",
      "nodev", "dev", "noexec", "exec", "noatime", "atime", "relatime", "norelatime",
      "strictatime", "nostrictatime", "lazytime", "nolazytime", "sync", "async",
      "dirsync", "auto_unmount", "nofail", "_netdev", "auto", "noauto", "user", "users",
      "nouser", "owner", "defaults", "x-systemd.automount"};
  const std::string key = option.substr(0, option.find('='));
  for (const char* accepted : kAccepted) {
    if (key == accepted) return true;
  }
  return key.starts_with("x-") || key == "max_read" || key == "blksize" ||
         key == "comment" || key == "fsname" || key == "subtype" || key == "max_threads" ||
         key == "max_idle_threads" || key == "clone_fd";
}

bool IsInsideDirectory(const std::string& inner, const std::string& outer) {
  return inner == outer || inner.starts_with(outer == "/" ? outer : outer + "/");
}

absl::Status ValidateMountOptions(MountOptions* options) {
  absl::StatusOr<std::string> backing = Canonical(options->backing, "backing directory");
  if (!backing.ok()) return backing.status();
  absl::StatusOr<std::string> mountpoint = Canonical(options->mountpoint, "mountpoint");
  if (!mountpoint.ok()) return mountpoint.status();
  options->backing = *backing;
  options->mountpoint = *mountpoint;
  if (::access(options->backing.c_str(), R_OK | W_OK | X_OK) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "backing directory ", options->backing, " is not writable: ", std::strerror(errno)));
  }
  if (IsInsideDirectory(options->mountpoint, options->backing)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mountpoint ", options->mountpoint, " is inside the backing directory ",
        options->backing, "; that would make the mount contain itself"));
  }
  if (IsMountpoint(options->mountpoint)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "mountpoint ", options->mountpoint, " is busy: something is already mounted there"));
  }
  return absl::OkStatus();
}

std::string LibfuseMountOptions(const MountOptions& options) {
  std::vector<std::string> out = {"default_permissions",
                                  absl::StrCat("fsname=", options.backing), "subtype=replfs"};
  bool allow_other = options.allow_other;
  const std::vector<std::string> given =
      absl::StrSplit(options.fuse_mount_options, ',', absl::SkipEmpty());
  for (const std::string& option : given) {
    if (IsFstabOnly(option) || option.starts_with("fsname=") ||
        option.starts_with("subtype=") || option == "default_permissions" ||
        option == "allow_other") {
      continue;
    }
    out.push_back(option);
  }
  // Other users (Apache's www-data) must reach the files; modes still apply.
  if (::geteuid() == 0) allow_other = true;
  if (allow_other) out.push_back("allow_other");
  return absl::StrJoin(out, ",");
}

}  // namespace replfs
