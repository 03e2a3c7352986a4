#include "replication/object_attributes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/errno_status.h"
#include "storage/object_observer.h"
#include "storage/proc_path.h"
#include "storage/timestamp.h"

namespace replfs {
absl::Status SetObjectAttributes(int fd, Kind kind, const Attributes& attributes,
                                 int64_t mtime_ns, bool allow_setid, DroppedAttributes* dropped) {
  auto drop = [dropped](const std::string& what, int error_number) {
    dropped->items.push_back(absl::StrCat(what, ": ", std::strerror(error_number)));
    dropped->retryable = true;
  };
  // Owner before mode: chown clears set-id bits.
  if (::fchownat(fd, "", attributes.uid(), attributes.gid(), AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) !=
      0) {
    if (errno != EPERM && errno != EINVAL && errno != EOVERFLOW) return ErrnoStatus(errno, "chown");
    drop(absl::StrCat("owner ", attributes.uid(), ":", attributes.gid()), errno);
  }
  if (kind != KIND_SYMLINK) {
    const std::string proc = ProcPath(fd);
    mode_t mode = attributes.mode();
    if (!allow_setid && kind != KIND_DIR && (mode & (S_ISUID | S_ISGID)) != 0) {
      mode &= ~static_cast<mode_t>(S_ISUID | S_ISGID);
      dropped->setid_stripped = true;
    }
    if (::chmod(proc.c_str(), mode) != 0) return ErrnoStatus(errno, "chmod");
    // Replace the replicated xattrs with exactly the entry's set.
    std::vector<char> names(65536);
    const ssize_t length = ::listxattr(proc.c_str(), names.data(), names.size());
    for (ssize_t at = 0; length > 0 && at < length;) {
      const char* name = names.data() + at;
      at += static_cast<ssize_t>(std::strlen(name)) + 1;
      if (!IsReplicatedXattr(name)) continue;
      const bool keep = std::any_of(attributes.xattrs().begin(), attributes.xattrs().end(),
                                    [&](const Xattr& x) { return x.name() == name; });
      if (!keep) ::removexattr(proc.c_str(), name);
    }
    for (const Xattr& x : attributes.xattrs()) {
      if (!IsReplicatedXattr(x.name().c_str())) {
        // Machine policy (security.*, trusted.*) is never taken from a peer.
        dropped->items.push_back(
            absl::StrCat("xattr ", x.name(), ": replfs does not replicate this namespace"));
        continue;
      }
      if (::setxattr(proc.c_str(), x.name().c_str(), x.value().data(), x.value().size(), 0) != 0) {
        drop(absl::StrCat("xattr ", x.name()), errno);
      }
    }
  }
  if (kind == KIND_FILE || kind == KIND_SYMLINK || kind == KIND_FIFO) {
    const struct timespec mtime = TimespecFromNanoseconds(mtime_ns);
    const struct timespec times[2] = {mtime, mtime};
    if (::utimensat(fd, "", times, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != EINVAL && errno != EOVERFLOW && errno != ERANGE) {
        return ErrnoStatus(errno, "utimens");
      }
      drop(absl::StrCat("mtime ", mtime_ns, " ns"), errno);
    }
  }
  return absl::OkStatus();
}

}  // namespace replfs
