#include "storage/object_observer.h"

#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/unique_fd.h"
#include "storage/content_hasher.h"
#include "storage/proc_path.h"
#include "storage/timestamp.h"

namespace replfs {
namespace {

Kind KindOf(mode_t mode) {
  if (S_ISREG(mode)) return KIND_FILE;
  if (S_ISDIR(mode)) return KIND_DIR;
  if (S_ISLNK(mode)) return KIND_SYMLINK;
  if (S_ISFIFO(mode)) return KIND_FIFO;
  return KIND_UNSPECIFIED;
}

// An object's xattrs, read through a readable fd where there is one, or
// else through the /proc magic link, which works for O_PATH fds too.
class XattrSource {
 public:
  XattrSource(int path_fd, int readable_fd)
      : readable_fd_(readable_fd), path_(readable_fd >= 0 ? "" : ProcPath(path_fd)) {}
  ssize_t List(char* names, size_t size) const {
    return readable_fd_ >= 0 ? ::flistxattr(readable_fd_, names, size)
                             : ::listxattr(path_.c_str(), names, size);
  }
  ssize_t Get(const char* name, void* value, size_t size) const {
    return readable_fd_ >= 0 ? ::fgetxattr(readable_fd_, name, value, size)
                             : ::getxattr(path_.c_str(), name, value, size);
  }

 private:
  int readable_fd_;
  std::string path_;
};

// Reads the replicated xattrs. Sorted by name so that equal sets compare
// equal.
absl::Status ReadXattrs(const XattrSource& source, Attributes* attributes) {
  std::vector<char> names(1024);
  ssize_t length;
  for (;;) {
    length = source.List(names.data(), names.size());
    if (length >= 0) break;
    if (errno == ERANGE) {
      const ssize_t need = source.List(nullptr, 0);
      if (need < 0) return absl::ErrnoToStatus(errno, "listxattr");
      names.resize(static_cast<size_t>(need) + 1);
      continue;
    }
    if (errno == ENOTSUP) return absl::OkStatus();
    return absl::ErrnoToStatus(errno, "listxattr");
  }
  std::vector<Xattr> found;
  for (ssize_t at = 0; at < length;) {
    const char* name = names.data() + at;
    at += static_cast<ssize_t>(std::strlen(name)) + 1;
    if (!IsReplicatedXattr(name)) continue;
    std::string value(256, '\0');
    ssize_t n;
    for (;;) {
      n = source.Get(name, value.data(), value.size());
      if (n >= 0 || errno != ERANGE) break;
      const ssize_t need = source.Get(name, nullptr, 0);
      if (need < 0) break;
      value.resize(static_cast<size_t>(need));
    }
    if (n < 0) {
      if (errno == ENODATA) continue;  // Removed between list and get.
      return absl::ErrnoToStatus(errno, "getxattr");
    }
    value.resize(static_cast<size_t>(n));
    Xattr xattr;
    xattr.set_name(name);
    xattr.set_value(std::move(value));
    found.push_back(std::move(xattr));
  }
  std::sort(found.begin(), found.end(),
            [](const Xattr& a, const Xattr& b) { return a.name() < b.name(); });
  for (auto& x : found) *attributes->add_xattrs() = std::move(x);
  return absl::OkStatus();
}

}  // namespace

bool KindMatches(Kind kind, mode_t mode) {
  switch (kind) {
    case KIND_FILE: return S_ISREG(mode);
    case KIND_DIR: return S_ISDIR(mode);
    case KIND_SYMLINK: return S_ISLNK(mode);
    case KIND_FIFO: return S_ISFIFO(mode);
    default: return false;
  }
}

bool IsReplicatedXattr(const char* name) {
  return absl::StartsWith(name, "user.") ||
         absl::StartsWith(name, "system.posix_acl_");
}

LocalStat LocalStatOf(const struct stat& st) {
  LocalStat local;
  local.set_ino(st.st_ino);
  local.set_size(static_cast<uint64_t>(st.st_size));
  local.set_mtime_ns(NanosecondsFromTimespec(st.st_mtim));
  local.set_ctime_ns(NanosecondsFromTimespec(st.st_ctim));
  return local;
}

absl::StatusOr<ObservedObject> ObserveObject(int fd, const struct stat& st,
                                             const Content* previous,
                                             const DirtyBlocks* dirty) {
  ObservedObject observed;
  Content& content = observed.content;
  const Kind kind = KindOf(st.st_mode);
  if (kind == KIND_UNSPECIFIED) {
    return absl::FailedPreconditionError(
        "device and socket nodes are not replicated");
  }
  content.set_kind(kind);
  observed.local_stat = LocalStatOf(st);
  Attributes& attributes = observed.attributes;
  attributes.set_mode(st.st_mode & 07777);
  attributes.set_uid(st.st_uid);
  attributes.set_gid(st.st_gid);

  switch (kind) {
    case KIND_FILE: {
      if (ContentKnownWithoutReading(st, previous, dirty)) {
        content = *previous;
        content.clear_version();
        content.clear_vector();
        break;
      }
      content.set_mtime_ns(NanosecondsFromTimespec(st.st_mtim));
      // O_PATH fds cannot be read; reopen through /proc.
      UniqueFd readable(::open(ProcPath(fd).c_str(), O_RDONLY | O_NOATIME | O_CLOEXEC));
      if (!readable.valid() && errno == EPERM) {
        // O_NOATIME needs ownership or CAP_FOWNER; without them, read anyway.
        readable.Reset(::open(ProcPath(fd).c_str(), O_RDONLY | O_CLOEXEC));
      }
      if (!readable.valid()) return absl::ErrnoToStatus(errno, "reopen for hashing");
      if (absl::Status s = HashFileContent(readable.get(),
                                           static_cast<uint64_t>(st.st_size),
                                           previous, dirty, &content);
          !s.ok()) {
        return s;
      }
      if (absl::Status s = ReadXattrs(XattrSource(fd, readable.get()), &attributes); !s.ok()) {
        return s;
      }
      return observed;
    }
    case KIND_SYMLINK: {
      content.set_mtime_ns(NanosecondsFromTimespec(st.st_mtim));
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      const ssize_t n = ::readlinkat(fd, "", target.data(), target.size());
      if (n < 0) return absl::ErrnoToStatus(errno, "readlink");
      target.resize(static_cast<size_t>(n));
      content.set_size(static_cast<uint64_t>(n));
      content.set_symlink_target(std::move(target));
      return observed;  // Symlinks carry no replicated xattrs or mode.
    }
    case KIND_FIFO:
      content.set_mtime_ns(NanosecondsFromTimespec(st.st_mtim));
      break;
    default:
      break;  // Directories: their mtime follows their children, not us.
  }
  if (absl::Status s = ReadXattrs(XattrSource(fd, -1), &attributes); !s.ok()) return s;
  return observed;
}

bool ContentKnownWithoutReading(const struct stat& st, const Content* previous,
                                const DirtyBlocks* dirty) {
  return S_ISREG(st.st_mode) && previous != nullptr && dirty != nullptr && dirty->Empty() &&
         previous->kind() == KIND_FILE && previous->size() == static_cast<uint64_t>(st.st_size) &&
         previous->mtime_ns() == NanosecondsFromTimespec(st.st_mtim);
}

absl::StatusOr<ObservedObject> ObserveAt(int dirfd, const char* name,
                                         const Content* previous,
                                         const DirtyBlocks* dirty) {
  UniqueFd fd(::openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", name));
  struct stat st;
  if (::fstatat(fd.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    return absl::ErrnoToStatus(errno, "fstat");
  }
  return ObserveObject(fd.get(), st, previous, dirty);
}

}  // namespace replfs
