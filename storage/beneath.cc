#include "storage/beneath.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/errno_status.h"

namespace replfs {
namespace {

int OpenAt2(int dir_fd, const char* path, int flags, mode_t mode) {
  open_how how{};
  how.flags = static_cast<__u64>(static_cast<unsigned int>(flags | O_CLOEXEC));
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? static_cast<__u64>(mode) : 0u;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, dir_fd, path, &how, sizeof(how)));
}

}  // namespace

absl::StatusOr<UniqueFd> OpenBeneath(int root_fd, absl::string_view relative, int flags,
                                     mode_t mode) {
  const std::string path = relative.empty() ? "." : std::string(relative);
  UniqueFd fd(OpenAt2(root_fd, path.c_str(), flags, mode));
  if (!fd.valid()) return ErrnoStatus(errno, absl::StrCat("open ", path));
  return fd;
}

absl::StatusOr<UniqueFd> OpenParentBeneath(int root_fd, absl::string_view relative, bool create,
                                           std::string* name, std::string* blocking_ancestor) {
  std::vector<std::string> parts = absl::StrSplit(relative, '/');
  if (parts.empty() || parts.back().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("bad path '", relative, "'"));
  }
  *name = parts.back();
  parts.pop_back();
  UniqueFd dir(::dup(root_fd));
  if (!dir.valid()) return ErrnoStatus(errno, "dup");
  std::string walked;
  for (const std::string& part : parts) {
    walked = walked.empty() ? part : absl::StrCat(walked, "/", part);
    UniqueFd next(OpenAt2(dir.get(), part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW, 0));
    if (!next.valid() && errno == ENOENT && create) {
      if (::mkdirat(dir.get(), part.c_str(), 0755) != 0 && errno != EEXIST) {
        return ErrnoStatus(errno, absl::StrCat("mkdir ", walked));
      }
      next.Reset(OpenAt2(dir.get(), part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW, 0));
    }
    if (!next.valid()) {
      if (errno == ENOTDIR || errno == ELOOP || errno == EXDEV) {
        if (blocking_ancestor != nullptr) *blocking_ancestor = walked;
        return absl::FailedPreconditionError(absl::StrCat(walked, " is not a directory"));
      }
      return ErrnoStatus(errno, absl::StrCat("open ", walked));
    }
    dir = std::move(next);
  }
  return dir;
}

absl::StatusOr<bool> RemoveContents(int dir_fd, const KeepObject& keep,
                                    const std::string& dir_path) {
  UniqueFd listing(::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!listing.valid()) return ErrnoStatus(errno, "open directory");
  DIR* dir = ::fdopendir(listing.get());
  if (dir == nullptr) return ErrnoStatus(errno, "fdopendir");
  const int fd = listing.Release();
  absl::Status status;
  bool kept = false;
  std::vector<std::string> names;
  while (dirent* d = ::readdir(dir)) {
    const std::string n = d->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  for (const std::string& n : names) {
    struct stat st;
    if (::fstatat(fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    const std::string path = dir_path.empty() ? n : absl::StrCat(dir_path, "/", n);
    if (keep && keep(path, S_ISDIR(st.st_mode))) {
      kept = true;
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      bool kept_inside = false;
      UniqueFd child(::openat(fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (child.valid()) {
        absl::StatusOr<bool> removed = RemoveContents(child.get(), keep, path);
        if (!removed.ok() && status.ok()) status = removed.status();
        kept_inside = removed.ok() && *removed;
      }
      if (kept_inside) {
        kept = true;
      } else if (::unlinkat(fd, n.c_str(), AT_REMOVEDIR) != 0 && status.ok()) {
        status = ErrnoStatus(errno, absl::StrCat("rmdir ", n));
      }
    } else if (::unlinkat(fd, n.c_str(), 0) != 0 && errno != ENOENT && status.ok()) {
      status = ErrnoStatus(errno, absl::StrCat("unlink ", n));
    }
  }
  ::closedir(dir);
  if (!status.ok()) return status;
  return kept;
}

}  // namespace replfs
