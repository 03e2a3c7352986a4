// mknod, mkdir, symlink, link, unlink, rmdir, rename: operations that change
// names. Each creates as the daemon, then hands the object to the caller
// (uid, and gid unless a setgid parent decides it), then records the change.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/strings/str_cat.h"
#include "fuse/operations.h"
#include "fuse/replica_fs.h"
#include "storage/proc_path.h"
#include "storage/log.h"
#include "storage/object_observer.h"

namespace replfs {

Caller CallerOf(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  return Caller{ctx->uid, ctx->gid};
}

int GiveToCaller(fuse_req_t req, Inode* parent, const char* name, mode_t mode) {
  const Caller caller = CallerOf(req);
  // Created by a caller with the daemon's own ids (root): the object is
  // the caller's already, with the group a setgid parent gave it.
  static const uid_t daemon_uid = ::geteuid();
  static const gid_t daemon_gid = ::getegid();
  if (caller.uid == daemon_uid && caller.gid == daemon_gid) return 0;
  struct stat parent_st;
  if (::fstatat(parent->dir_fd(), "", &parent_st, AT_EMPTY_PATH) != 0) return errno;
  const gid_t gid = (parent_st.st_mode & S_ISGID) ? static_cast<gid_t>(-1) : caller.gid;
  if (caller.uid == 0 && gid == static_cast<gid_t>(-1)) return 0;
  if (::fchownat(parent->dir_fd(), name, caller.uid, gid, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  // chown(2) drops S_ISUID/S_ISGID of a non-directory, even for root, but
  // natively a creator keeps the set-id bits it asked for (the kernel
  // already removed S_ISGID where the caller may not have it). Put back
  // the requested mode.
  if ((mode & (S_ISUID | S_ISGID)) != 0 && !S_ISDIR(mode) && !S_ISLNK(mode)) {
    if (::fchmodat(parent->dir_fd(), name, mode & 07777, 0) != 0) return errno;
  }
  return 0;
}

namespace {

// Common tail of every create-like op: ownership, lookup, reply, record.
void FinishCreate(fuse_req_t req, ReplicaFs* fs, Inode* parent, const char* name,
                  mode_t mode) {
  if (const int err = GiveToCaller(req, parent, name, mode); err != 0) {
    // Do not leave an object owned by root behind a failed request.
    struct stat st;
    if (::fstatat(parent->dir_fd(), name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      ::unlinkat(parent->dir_fd(), name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0);
    }
    fuse_reply_err(req, err);
    return;
  }
  fuse_entry_param e;
  if (const int err = LookupNewChild(fs, parent, name, &e); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  fs->commit_path.CommitUnlessBeingWritten(fs->InodeOf(e.ino));
  fuse_reply_entry(req, &e);
}

// Whether `name` in `dir_fd` is the object `other` was stat'ed from.
bool IsSameObject(int dir_fd, const char* name, const struct stat& other) {
  struct stat st;
  return ::fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == other.st_dev &&
         st.st_ino == other.st_ino;
}

bool RefuseHidden(fuse_req_t req, ReplicaFs* fs, Inode* parent, const char* name) {
  if (!fs->IsHidden(parent, name)) return false;
  fuse_reply_err(req, EPERM);
  return true;
}

}  // namespace

void OpMknod(fuse_req_t req, fuse_ino_t parent_id, const char* name, mode_t mode, dev_t rdev) {
  ReplicaFs* fs = FsOf(req);
  // Until the change is committed (see CommitPath::local_change_gate).
  SharedGateHold change(fs->commit_path.local_change_gate());
  Inode* parent = fs->InodeOf(parent_id);
  if (RefuseHidden(req, fs, parent, name)) return;
  // Device and socket nodes (bind() of a UNIX socket) are made as natively
  // but stay local objects: a device number or a listening socket means
  // nothing on another machine, so they are never recorded or replicated.
  if (::mknodat(parent->dir_fd(), name, mode, rdev) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  FinishCreate(req, fs, parent, name, mode);
}

void OpMkdir(fuse_req_t req, fuse_ino_t parent_id, const char* name, mode_t mode) {
  ReplicaFs* fs = FsOf(req);
  // Until the change is committed (see CommitPath::local_change_gate).
  SharedGateHold change(fs->commit_path.local_change_gate());
  Inode* parent = fs->InodeOf(parent_id);
  if (RefuseHidden(req, fs, parent, name)) return;
  if (::mkdirat(parent->dir_fd(), name, mode) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  FinishCreate(req, fs, parent, name, S_IFDIR | mode);
}

void OpSymlink(fuse_req_t req, const char* target, fuse_ino_t parent_id, const char* name) {
  ReplicaFs* fs = FsOf(req);
  // Until the change is committed (see CommitPath::local_change_gate).
  SharedGateHold change(fs->commit_path.local_change_gate());
  Inode* parent = fs->InodeOf(parent_id);
  if (RefuseHidden(req, fs, parent, name)) return;
  if (::symlinkat(target, parent->dir_fd(), name) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  FinishCreate(req, fs, parent, name, S_IFLNK);
}

void OpLink(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent_id, const char* name) {
  ReplicaFs* fs = FsOf(req);
  // Until the change is committed (see CommitPath::local_change_gate).
  SharedGateHold change(fs->commit_path.local_change_gate());
  Inode* inode = fs->InodeOf(ino);
  Inode* parent = fs->InodeOf(parent_id);
  if (RefuseHidden(req, fs, parent, name)) return;
  const PathFd fd = inode->path_fd();
  if (!fd.valid()) {
    fuse_reply_err(req, fd.error());
    return;
  }
  const std::string proc = ProcPath(fd.get());
  if (::linkat(AT_FDCWD, proc.c_str(), parent->dir_fd(), name, AT_SYMLINK_FOLLOW) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  fuse_entry_param e;
  if (const int err = LookupChild(fs, parent, name, &e); err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  // Records the new name (and refreshes the others); for a file open for
  // writing, at its last close.
  fs->commit_path.CommitUnlessBeingWritten(inode);
  fuse_reply_entry(req, &e);
}

namespace {

void RemoveName(fuse_req_t req, fuse_ino_t parent_id, const char* name, int flags) {
  ReplicaFs* fs = FsOf(req);
  // Until the change is committed (see CommitPath::local_change_gate).
  SharedGateHold change(fs->commit_path.local_change_gate());
  SharedGateHold names(fs->commit_path.names_gate());
  Inode* parent = fs->InodeOf(parent_id);
  if (fs->IsHidden(parent, name)) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  struct stat st;
  const bool known = ::fstatat(parent->dir_fd(), name, &st, AT_SYMLINK_NOFOLLOW) == 0;
  // A deleted file or symbolic link is kept by moving it aside in place of
  // the unlink: to the tree the two are the same, and the move copies
  // nothing.
  KeptFile kept;
  // A file with other names stays in the tree: nothing to keep, and its
  // other names' link count must drop as natively.
  if (flags == 0 && known && (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) && st.st_nlink == 1 &&
      fs->commit_path.keeps_versions()) {
    kept = fs->commit_path.versions()->MoveAside(parent->dir_fd(), name, st);
  }
  if (!kept.kept() && ::unlinkat(parent->dir_fd(), name, flags) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  std::optional<std::string> path = fs->ChildPath(parent, name);
  if (known) fs->inodes.RemoveLink(st.st_dev, st.st_ino, parent, name, kept.kept());
  if (path) {
    fs->commit_path.CommitDelete(*path, kept);
  } else if (kept.kept()) {
    fs->commit_path.versions()->Discard(kept);
  }
  // Other names of a hard-linked file saw their ctime and link count move;
  // their content is unchanged, so nothing else is recorded.
  fuse_reply_err(req, 0);
}

}  // namespace

void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  RemoveName(req, parent, name, 0);
}

void OpRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  RemoveName(req, parent, name, AT_REMOVEDIR);
}

void OpRename(fuse_req_t req, fuse_ino_t parent_id, const char* name, fuse_ino_t new_parent_id,
              const char* new_name, unsigned int flags) {
  ReplicaFs* fs = FsOf(req);
  // Until the change is committed (see CommitPath::local_change_gate).
  SharedGateHold change(fs->commit_path.local_change_gate());
  SharedGateHold names(fs->commit_path.names_gate());
  Inode* parent = fs->InodeOf(parent_id);
  Inode* new_parent = fs->InodeOf(new_parent_id);
  if (fs->IsHidden(parent, name) || fs->IsHidden(new_parent, new_name)) {
    fuse_reply_err(req, EPERM);
    return;
  }
  if (flags & ~static_cast<unsigned int>(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  // Paths before the move; the table is updated after it succeeds.
  std::optional<std::string> from = fs->ChildPath(parent, name);
  std::optional<std::string> to = fs->ChildPath(new_parent, new_name);
  const bool exchange = (flags & RENAME_EXCHANGE) != 0;
  // What the move will take away is known only before it (an exchange
  // takes nothing away: both objects are still there after it).
  struct stat replaced;
  const bool have_replaced =
      !exchange &&
      ::fstatat(new_parent->dir_fd(), new_name, &replaced, AT_SYMLINK_NOFOLLOW) == 0;
  // A file (or symbolic link) renamed over is kept by a link taken before
  // the move (the move itself is what takes it out of the tree).
  KeptFile replaced_kept;
  if (have_replaced && (S_ISREG(replaced.st_mode) || S_ISLNK(replaced.st_mode)) &&
      replaced.st_nlink == 1 &&
      fs->commit_path.keeps_versions() &&
      !IsSameObject(parent->dir_fd(), name, replaced)) {
    replaced_kept = fs->commit_path.versions()->LinkAside(new_parent->dir_fd(), new_name, replaced);
  }
  if (::renameat2(parent->dir_fd(), name, new_parent->dir_fd(), new_name, flags) != 0) {
    const int error = errno;
    if (replaced_kept.kept()) fs->commit_path.versions()->Discard(replaced_kept);
    fuse_reply_err(req, error);
    return;
  }
  // The moved objects, stat'ed where they are now: the same inodes, with
  // the ctime the move gave them.
  struct stat moved, exchanged;
  const bool have_moved =
      ::fstatat(new_parent->dir_fd(), new_name, &moved, AT_SYMLINK_NOFOLLOW) == 0;
  const bool have_exchanged =
      exchange && ::fstatat(parent->dir_fd(), name, &exchanged, AT_SYMLINK_NOFOLLOW) == 0;
  const bool other_side = have_replaced || have_exchanged;
  const struct stat& other = exchange ? exchanged : replaced;
  if (have_moved && other_side && moved.st_dev == other.st_dev && moved.st_ino == other.st_ino) {
    // Two names of one file: rename(2) leaves both in place.
    if (replaced_kept.kept()) fs->commit_path.versions()->Discard(replaced_kept);
    fuse_reply_err(req, 0);
    return;
  }
  if (have_exchanged) {
    fs->inodes.MoveLink(exchanged.st_dev, exchanged.st_ino, new_parent, new_name, parent, name);
  }
  if (have_replaced) {
    fs->inodes.RemoveLink(replaced.st_dev, replaced.st_ino, new_parent, new_name,
                          replaced_kept.kept());
  }
  if (have_moved) {
    fs->inodes.MoveLink(moved.st_dev, moved.st_ino, parent, name, new_parent, new_name);
  }
  if (from && to && *from != *to) {
    fs->commit_path.CommitRename(*from, *to, exchange,
                                 have_moved ? LocalStatOf(moved) : LocalStat(),
                                 have_exchanged ? LocalStatOf(exchanged) : LocalStat(),
                                 replaced_kept);
  } else if (replaced_kept.kept()) {
    fs->commit_path.versions()->Discard(replaced_kept);
  }
  fuse_reply_err(req, 0);
}

}  // namespace replfs
