#include "tools/version_restore.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/unique_fd.h"

namespace replfs {
namespace {
namespace fs = std::filesystem;

// Unlinks a temporary file on every way out but success.
class TemporaryName {
 public:
  TemporaryName(int dir_fd, std::string name) : dir_fd_(dir_fd), name_(std::move(name)) {}
  ~TemporaryName() {
    if (!kept_) ::unlinkat(dir_fd_, name_.c_str(), 0);
  }
  TemporaryName(const TemporaryName&) = delete;
  TemporaryName& operator=(const TemporaryName&) = delete;

  const std::string& name() const { return name_; }
  void Keep() { kept_ = true; }

 private:
  int dir_fd_;
  std::string name_;
  bool kept_ = false;
};

std::string Join(const std::string& mountpoint, const std::string& relative) {
  if (relative.empty()) return mountpoint;
  return absl::StrCat(mountpoint == "/" ? "" : mountpoint, "/", relative);
}

// Whether `path` is `mountpoint` or beneath it, component-wise.
bool IsWithin(const std::string& path, const std::string& mountpoint) {
  if (mountpoint == "/") return true;
  return path == mountpoint || absl::StartsWith(path, mountpoint + "/");
}

// The deepest mount holding `path`; the newest of equal ones (the visible
// one: /proc/mounts lists mounts in the order they were made).
const ReplfsMount* DeepestMount(const std::string& path, const std::vector<ReplfsMount>& mounts) {
  const ReplfsMount* best = nullptr;
  for (const ReplfsMount& mount : mounts) {
    if (!IsWithin(path, mount.mountpoint)) continue;
    if (best == nullptr || mount.mountpoint.size() >= best->mountpoint.size()) best = &mount;
  }
  return best;
}

std::string Normal(const fs::path& path) {
  std::string text = path.lexically_normal().string();
  while (text.size() > 1 && text.back() == '/') text.pop_back();
  return text;
}

// `path` with its nearest existing ancestor resolved (symlinks, as in
// /var/www -> /srv/www), the part that does not exist kept as written.
std::string ResolvedFromExistingAncestor(const std::string& path) {
  fs::path existing(path);
  fs::path missing;
  while (true) {
    char resolved[PATH_MAX];
    if (::realpath(existing.c_str(), resolved) != nullptr) {
      return Normal(fs::path(resolved) / missing);
    }
    if (!existing.has_parent_path() || existing.parent_path() == existing) return path;
    missing = missing.empty() ? existing.filename() : existing.filename() / missing;
    existing = existing.parent_path();
  }
}

// The components of a path the replica names; a record or entry path with
// "." or ".." (which no replica writes) is refused rather than followed.
absl::StatusOr<std::vector<std::string>> Components(const std::string& relative) {
  std::vector<std::string> parts = absl::StrSplit(relative, '/', absl::SkipEmpty());
  if (parts.empty()) return absl::InvalidArgumentError("the mount root is not a file");
  for (const std::string& part : parts) {
    if (part == "." || part == "..") {
      return absl::InvalidArgumentError(absl::StrCat("refusing the path '", relative, "'"));
    }
  }
  return parts;
}

// The parent directory of MOUNTPOINT/RELATIVE, opened component by
// component without following symlinks (a restore runs as root and must
// not write outside the mount); missing ones are made with `create`.
absl::StatusOr<UniqueFd> OpenParent(const std::string& mountpoint,
                                   const std::vector<std::string>& parts, bool create) {
  UniqueFd dir(::open(mountpoint.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", mountpoint));
  std::string reached = mountpoint;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    reached = Join(reached, parts[i]);
    bool made = false;
    if (create) {
      if (::mkdirat(dir.get(), parts[i].c_str(), 0755) == 0) {
        made = true;
      } else if (errno != EEXIST) {
        return absl::ErrnoToStatus(errno, absl::StrCat("create directory ", reached));
      }
    }
    UniqueFd next(
        ::openat(dir.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", reached));
    // 0755 whatever the umask: the tree is usually served to other users.
    if (made && ::fchmod(next.get(), 0755) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("chmod ", reached));
    }
    dir = std::move(next);
  }
  return dir;
}

// ".replfs-restore-PID-NAME", NAME shortened to fit a file name.
std::string TemporaryNameFor(const std::string& name) {
  std::string temporary = absl::StrCat(".replfs-restore-", ::getpid(), "-");
  constexpr size_t kNameMax = 255;
  temporary += name.substr(0, kNameMax > temporary.size() ? kNameMax - temporary.size() : 0);
  return temporary;
}

// Copies everything from `from`'s offset to its end into `to`. The kernel
// copies without a trip through user space where it can; a FUSE mount is
// another file system than the state folder's, so it often cannot (EXDEV,
// EOPNOTSUPP), and plain reads and writes do.
absl::Status CopyBytes(int from, int to, uint64_t size, uint64_t* copied) {
  bool kernel_copy = true;
  while (kernel_copy && *copied < size) {
    const ssize_t n = ::copy_file_range(from, nullptr, to, nullptr, size - *copied, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EXDEV && errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL) {
      return absl::ErrnoToStatus(errno, "copy");
    }
    if (n <= 0) {
      kernel_copy = false;  // Unsupported, or stopped short: read the rest.
    } else {
      *copied += static_cast<uint64_t>(n);
    }
  }
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(from, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "read");
    if (n == 0) return absl::OkStatus();
    for (ssize_t written = 0; written < n;) {
      const ssize_t w = ::write(to, buffer + written, static_cast<size_t>(n - written));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return absl::ErrnoToStatus(errno, "write");
      written += w;
    }
    *copied += static_cast<uint64_t>(n);
  }
}

absl::Status WithPath(const absl::Status& status, const std::string& path) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(path, ": ", status.message()));
}

// Renames the restored object, made under `temporary` in `dir_fd`, over
// `name`, the version's path (`destination`).
absl::Status RenameIntoPlace(int dir_fd, TemporaryName& temporary, const std::string& name,
                             const std::string& destination) {
  if (::renameat(dir_fd, temporary.name().c_str(), dir_fd, name.c_str()) != 0) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("rename ", temporary.name(), " over ", destination));
  }
  temporary.Keep();
  return absl::OkStatus();
}

// Puts a kept symbolic link back: a new link to the same target, made
// under a temporary name and renamed over the path. Its owner is that of
// the object it replaces (Apache's SymLinksIfOwnerMatch compares it).
absl::Status RestoreSymlink(const std::string& mountpoint, const VersionRecord& version,
                            const std::string& kept_path, const std::vector<std::string>& parts) {
  std::string target(PATH_MAX, '\0');
  const ssize_t length = ::readlink(kept_path.c_str(), target.data(), target.size());
  if (length < 0) return absl::ErrnoToStatus(errno, absl::StrCat("read the link ", kept_path));
  target.resize(static_cast<size_t>(length));
  if (target.size() != version.size()) {
    return absl::DataLossError(absl::StrCat(kept_path, " links to ", target.size(),
                                            " bytes where its record says ", version.size()));
  }
  absl::StatusOr<UniqueFd> dir = OpenParent(mountpoint, parts, /*create=*/true);
  if (!dir.ok()) return dir.status();
  const std::string& name = parts.back();
  TemporaryName temporary(dir->get(), TemporaryNameFor(name));
  int made = ::symlinkat(target.c_str(), dir->get(), temporary.name().c_str());
  if (made != 0 && errno == EEXIST) {
    // Left by a restore that died with this process id: ours to replace.
    ::unlinkat(dir->get(), temporary.name().c_str(), 0);
    made = ::symlinkat(target.c_str(), dir->get(), temporary.name().c_str());
  }
  if (made != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("create the link ", temporary.name()));
  }
  struct stat replaced;
  if (::fstatat(dir->get(), name.c_str(), &replaced, AT_SYMLINK_NOFOLLOW) == 0 &&
      ::fchownat(dir->get(), temporary.name().c_str(), replaced.st_uid, replaced.st_gid,
                 AT_SYMLINK_NOFOLLOW) != 0 &&
      errno != EPERM) {
    return absl::ErrnoToStatus(errno, absl::StrCat("chown ", temporary.name()));
  }
  return RenameIntoPlace(dir->get(), temporary, name, Join(mountpoint, version.path()));
}

}  // namespace

absl::StatusOr<MountedPath> ResolveMountedPath(const std::string& path,
                                               const std::vector<ReplfsMount>& mounts) {
  std::error_code error;
  const fs::path absolute = fs::absolute(fs::path(path), error);
  if (error) {
    return absl::InvalidArgumentError(absl::StrCat("cannot make ", path, " absolute: ",
                                                   error.message()));
  }
  std::string normal = Normal(absolute);
  const ReplfsMount* mount = DeepestMount(normal, mounts);
  if (mount == nullptr) {
    normal = ResolvedFromExistingAncestor(normal);
    mount = DeepestMount(normal, mounts);
  }
  if (mount == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        path, " is not inside a replfs mount (per /proc/mounts); name the file or directory "
              "through the mounted replica, as in MOUNTPOINT/PATH"));
  }
  absl::StatusOr<ReplicaLocation> location = LocateReplica(mount->mountpoint, mounts);
  if (!location.ok()) return location.status();
  MountedPath mounted;
  mounted.location = *std::move(location);
  mounted.absolute = normal;
  const size_t skipped = mount->mountpoint == "/" ? 1 : mount->mountpoint.size() + 1;
  mounted.relative = normal.size() > skipped ? normal.substr(skipped) : "";
  return mounted;
}

absl::Status RestoreVersion(const std::string& mountpoint, const VersionRecord& version,
                            const std::string& kept_path) {
  const std::string destination = Join(mountpoint, version.path());
  if (version.kept_name().empty() || kept_path.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(destination, ": that version's content was not kept"));
  }
  absl::StatusOr<std::vector<std::string>> parts = Components(version.path());
  if (!parts.ok()) return parts.status();
  if (version.symlink()) return RestoreSymlink(mountpoint, version, kept_path, *parts);
  UniqueFd from(::open(kept_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!from.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", kept_path));
  struct stat kept_stat;
  if (::fstat(from.get(), &kept_stat) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("stat ", kept_path));
  }
  if (!S_ISREG(kept_stat.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(kept_path, " is not a regular file"));
  }
  const auto kept_size = static_cast<uint64_t>(kept_stat.st_size);
  if (kept_size != version.size()) {
    return absl::DataLossError(absl::StrCat(kept_path, " has ", kept_size,
                                            " bytes where its record says ", version.size()));
  }

  absl::StatusOr<UniqueFd> dir = OpenParent(mountpoint, *parts, /*create=*/true);
  if (!dir.ok()) return dir.status();
  const std::string& name = parts->back();
  TemporaryName temporary(dir->get(), TemporaryNameFor(name));
  std::vector<std::string> temporary_parts(parts->begin(), parts->end() - 1);
  temporary_parts.push_back(temporary.name());
  const std::string temporary_path = Join(mountpoint, absl::StrJoin(temporary_parts, "/"));
  const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  UniqueFd to(::openat(dir->get(), temporary.name().c_str(), flags, 0600));
  if (!to.valid() && errno == EEXIST) {
    // Left by a restore that died with this process id: ours to replace.
    ::unlinkat(dir->get(), temporary.name().c_str(), 0);
    to = UniqueFd(::openat(dir->get(), temporary.name().c_str(), flags, 0600));
  }
  if (!to.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("create ", temporary_path));

  uint64_t copied = 0;
  if (absl::Status s = CopyBytes(from.get(), to.get(), kept_size, &copied); !s.ok()) {
    return WithPath(s, absl::StrCat(kept_path, " -> ", temporary_path));
  }
  if (copied != kept_size) {
    return absl::DataLossError(absl::StrCat(kept_path, " changed while it was copied (", copied,
                                            " bytes where ", kept_size, " were expected)"));
  }
  // The owner of the file being replaced, so that whoever wrote it still
  // can (chown first: it clears setuid bits the mode below sets again).
  struct stat replaced;
  if (::fstatat(dir->get(), name.c_str(), &replaced, AT_SYMLINK_NOFOLLOW) == 0 &&
      ::fchown(to.get(), replaced.st_uid, replaced.st_gid) != 0 && errno != EPERM) {
    return absl::ErrnoToStatus(errno, absl::StrCat("chown ", temporary_path));
  }
  const mode_t mode = version.mode() == 0 ? 0644 : static_cast<mode_t>(version.mode() & 07777);
  if (::fchmod(to.get(), mode) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("chmod ", temporary_path));
  }
  // Data first, then the mtime: a write flushed after futimens would set
  // the mtime to now again.
  if (::fsync(to.get()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("fsync ", temporary_path));
  }
  if (version.mtime_ns() != 0) {
    const struct timespec times[2] = {
        {0, UTIME_OMIT},
        {static_cast<time_t>(version.mtime_ns() / 1'000'000'000),
         static_cast<long>(version.mtime_ns() % 1'000'000'000)},
    };
    if (::futimens(to.get(), times) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("set the mtime of ", temporary_path));
    }
    if (::fsync(to.get()) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("fsync ", temporary_path));
    }
  }
  // The replica commits the file when it is closed: a failure shows here.
  if (to.Close() != 0) return absl::ErrnoToStatus(errno, absl::StrCat("close ", temporary_path));
  return RenameIntoPlace(dir->get(), temporary, name, destination);
}

absl::Status RemoveCreatedSince(const std::string& mountpoint, const std::string& path) {
  absl::StatusOr<std::vector<std::string>> parts = Components(path);
  if (!parts.ok()) return parts.status();
  absl::StatusOr<UniqueFd> dir = OpenParent(mountpoint, *parts, /*create=*/false);
  if (!dir.ok()) return absl::IsNotFound(dir.status()) ? absl::OkStatus() : dir.status();
  if (::unlinkat(dir->get(), parts->back().c_str(), 0) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("remove ", Join(mountpoint, path)));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> RemoveDirectoryIfEmpty(const std::string& mountpoint,
                                            const std::string& path) {
  absl::StatusOr<std::vector<std::string>> parts = Components(path);
  if (!parts.ok()) return parts.status();
  absl::StatusOr<UniqueFd> dir = OpenParent(mountpoint, *parts, /*create=*/false);
  if (!dir.ok()) {
    if (absl::IsNotFound(dir.status())) return false;
    return dir.status();
  }
  if (::unlinkat(dir->get(), parts->back().c_str(), AT_REMOVEDIR) == 0) return true;
  if (errno == ENOTEMPTY || errno == EEXIST || errno == ENOENT) return false;
  return absl::ErrnoToStatus(errno, absl::StrCat("remove directory ", Join(mountpoint, path)));
}

}  // namespace replfs
