#include "fuse/replica_fs.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "storage/log.h"

namespace replfs {

ReplicaFs* FsOf(fuse_req_t req) { return static_cast<ReplicaFs*>(fuse_req_userdata(req)); }


std::optional<std::string> ReplicaFs::ChildPath(Inode* parent, const char* name) {
  std::optional<std::string> parent_path = inodes.PathOf(parent);
  if (!parent_path) return std::nullopt;
  return parent_path->empty() ? std::string(name) : absl::StrCat(*parent_path, "/", name);
}

void HideCommitRead(Inode* inode, struct stat* st) { inode->writes.HideCommitRead(st); }

void HideKeptLinks(Inode* inode, struct stat* st) {
  const nlink_t kept = inode->links_kept_aside.load(std::memory_order_relaxed);
  if (kept != 0 && S_ISREG(st->st_mode)) st->st_nlink -= std::min(st->st_nlink, kept);
}

namespace {

// Says why lookups fail, at most once a minute: every object the kernel
// caches holds an fd here, so a tree larger than the fd limit fails lookups.
void ReportFdExhaustion() {
  static std::atomic<int64_t> last_report_ms{0};
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  int64_t last = last_report_ms.load(std::memory_order_relaxed);
  if (now_ms - last < 60000 ||
      !last_report_ms.compare_exchange_strong(last, now_ms, std::memory_order_relaxed)) {
    return;
  }
  LogError("lookups fail: out of file descriptors (one is held per object the kernel caches); "
           "raise LimitNOFILE / ulimit -n, or fs.nr_open");
}

}  // namespace

int LookupChild(ReplicaFs* fs, Inode* parent, const char* name, fuse_entry_param* e) {
  *e = fuse_entry_param{};
  e->attr_timeout = fs->cache_timeout;
  e->entry_timeout = fs->cache_timeout;
  if (fs->IsHidden(parent, name)) return ENOENT;
  // Objects the table already holds need no new O_PATH fd: one fstatat.
  if (::fstatat(parent->dir_fd(), name, &e->attr, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  Inode* inode = fs->inodes.LookedUpExisting(parent, name, e->attr);
  if (inode == nullptr) {
    UniqueFd fd(::openat(parent->dir_fd(), name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) {
      const int err = errno;
      if (err == EMFILE || err == ENFILE) ReportFdExhaustion();
      return err;
    }
    if (::fstatat(fd.get(), "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return errno;
    inode = fs->inodes.LookedUp(parent, name, std::move(fd), e->attr);
  }
  HideCommitRead(inode, &e->attr);
  HideKeptLinks(inode, &e->attr);
  e->ino = fs->IdOf(inode);
  return 0;
}

int LookupNewChild(ReplicaFs* fs, Inode* parent, const char* name, fuse_entry_param* e) {
  *e = fuse_entry_param{};
  e->attr_timeout = fs->cache_timeout;
  e->entry_timeout = fs->cache_timeout;
  UniqueFd fd(::openat(parent->dir_fd(), name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    if (err == EMFILE || err == ENFILE) ReportFdExhaustion();
    return err;
  }
  if (::fstatat(fd.get(), "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return errno;
  Inode* inode = fs->inodes.LookedUp(parent, name, std::move(fd), e->attr);
  e->ino = fs->IdOf(inode);
  return 0;
}

}  // namespace replfs
