// lookup, forget, getattr, setattr, readlink, statfs.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/strings/str_cat.h"
#include "fuse/operations.h"
#include "fuse/replica_fs.h"
#include "storage/proc_path.h"
#include "storage/content_hasher.h"

namespace replfs {

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  ReplicaFs* fs = FsOf(req);
  fuse_entry_param e;
  const int err = LookupChild(fs, fs->InodeOf(parent), name, &e);
  if (err == ENOENT) {
    // A negative entry the kernel may cache; remote creates invalidate it.
    e.ino = 0;
    fuse_reply_entry(req, &e);
  } else if (err != 0) {
    fuse_reply_err(req, err);
  } else {
    fuse_reply_entry(req, &e);
  }
}

void OpForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  ReplicaFs* fs = FsOf(req);
  fs->inodes.Forget(fs->InodeOf(ino), nlookup);
  fuse_reply_none(req);
}

void OpForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  ReplicaFs* fs = FsOf(req);
  for (size_t i = 0; i < count; ++i) {
    fs->inodes.Forget(fs->InodeOf(forgets[i].ino), forgets[i].nlookup);
  }
  fuse_reply_none(req);
}

void OpGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  ReplicaFs* fs = FsOf(req);
  Inode* inode = fs->InodeOf(ino);
  const PathFd fd = inode->path_fd();
  struct stat st;
  if (!fd.valid() || ::fstatat(fd.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    fuse_reply_err(req, fd.valid() ? errno : fd.error());
    return;
  }
  HideCommitRead(inode, &st);
  HideKeptLinks(inode, &st);
  fuse_reply_attr(req, &st, fs->cache_timeout);
}

int KillSetidBits(int fd) {
  struct stat st;
  if (::fstatat(fd, "", &st, AT_EMPTY_PATH) != 0) return errno;
  mode_t mode = st.st_mode & 07777 & ~static_cast<mode_t>(S_ISUID);
  if ((mode & S_IXGRP) != 0) mode &= ~static_cast<mode_t>(S_ISGID);
  if (mode == (st.st_mode & 07777)) return 0;
  return ::fchmodat(AT_FDCWD, ProcPath(fd).c_str(), mode, 0) == 0 ? 0 : errno;
}

namespace {

// Applies the requested attribute changes; returns 0 or an errno. Uses the
// open handle's fd where the kernel gave one (ftruncate, futimens).
int ApplySetattr(ReplicaFs* fs, Inode* inode, const struct stat& attr, int valid,
                 fuse_file_info* fi) {
  const int handle_fd = fi != nullptr ? FileHandleFd(fi) : -1;
  const PathFd fd = inode->path_fd();
  if (!fd.valid()) return fd.error();
  const std::string proc = ProcPath(fd.get());
  if (valid & FUSE_SET_ATTR_MODE) {
    const int r = handle_fd >= 0 ? ::fchmod(handle_fd, attr.st_mode)
                                 : ::fchmodat(AT_FDCWD, proc.c_str(), attr.st_mode, 0);
    if (r != 0) return errno;
  }
  // chown(path, -1, -1) arrives with no change at all (a ctime change only
  // where the kernel keeps a writeback cache): natively it still stamps
  // ctime, and so does the same call on the backing object.
  constexpr int kChanges = FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID |
                           FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME;
  const bool ctime_only = (valid & kChanges) == 0;
  if ((valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) != 0 || ctime_only) {
    const uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr.st_uid : static_cast<uid_t>(-1);
    const gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr.st_gid : static_cast<gid_t>(-1);
    if (::fchownat(fd.get(), "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
      return errno;
    }
  }
  if (valid & FUSE_SET_ATTR_SIZE) {
    struct stat before;
    if (::fstatat(fd.get(), "", &before, AT_EMPTY_PATH) != 0) return errno;
    // Before the truncate: a commit reading the file meanwhile must see
    // the change (see FileWriteState::MarkWritten).
    if (attr.st_size < before.st_size) fs->commit_path.KeepInodeBeforeTruncate(inode);
    inode->writes.MarkResized(static_cast<uint64_t>(before.st_size),
                              static_cast<uint64_t>(attr.st_size));
    const int r = handle_fd >= 0 ? ::ftruncate(handle_fd, attr.st_size)
                                 : ::truncate(proc.c_str(), attr.st_size);
    if (r != 0) return errno;
  }
  // Under FUSE_HANDLE_KILLPRIV_V2 a truncate or chown by a caller without
  // CAP_FSETID asks the daemon to kill the set-id bits (FATTR_KILL_SUIDGID,
  // which libfuse passes as FUSE_SET_ATTR_KILL_SUID); the daemon itself
  // has CAP_FSETID, so its own truncate kept them.
  if ((valid & FUSE_SET_ATTR_KILL_SUID) != 0 && S_ISREG(inode->type())) {
    if (const int err = KillSetidBits(fd.get()); err != 0) return err;
  }
  if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
    // A commit in progress would put its old atime back over ours.
    absl::MutexLock times_lock(inode->writes.times_mu());
    struct timespec times[2];
    times[0].tv_nsec = UTIME_OMIT;
    times[1].tv_nsec = UTIME_OMIT;
    if (valid & FUSE_SET_ATTR_ATIME_NOW) {
      times[0].tv_nsec = UTIME_NOW;
    } else if (valid & FUSE_SET_ATTR_ATIME) {
      times[0] = attr.st_atim;
    }
    if (valid & FUSE_SET_ATTR_MTIME_NOW) {
      times[1].tv_nsec = UTIME_NOW;
    } else if (valid & FUSE_SET_ATTR_MTIME) {
      times[1] = attr.st_mtim;
    }
    int r;
    if (handle_fd >= 0) {
      r = ::futimens(handle_fd, times);
    } else if (S_ISLNK(inode->type())) {
      r = ::utimensat(fd.get(), "", times, AT_EMPTY_PATH);
    } else {
      r = ::utimensat(AT_FDCWD, proc.c_str(), times, 0);
    }
    if (r != 0) return errno;
  }
  return 0;
}

}  // namespace

void OpSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int valid, fuse_file_info* fi) {
  ReplicaFs* fs = FsOf(req);
  // Until the change is committed (see CommitPath::local_change_gate).
  SharedGateHold change(fs->commit_path.local_change_gate());
  Inode* inode = fs->InodeOf(ino);
  inode->writes.MarkMetadataChanging();
  int err = ApplySetattr(fs, inode, *attr, valid, fi);
  // The attributes after the change, for the reply.
  struct stat st;
  if (err == 0) {
    const PathFd fd = inode->path_fd();
    if (!fd.valid()) {
      err = fd.error();
    } else if (::fstatat(fd.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
      err = errno;
    }
  }
  // Even after a failure: part of the change may be made, and a commit
  // queued before it gives up. A file open for writing commits at its last
  // close; everything else now.
  fs->commit_path.CommitUnlessBeingWritten(inode);
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  HideCommitRead(inode, &st);
  HideKeptLinks(inode, &st);
  fuse_reply_attr(req, &st, fs->cache_timeout);
}

void OpReadlink(fuse_req_t req, fuse_ino_t ino) {
  ReplicaFs* fs = FsOf(req);
  char target[PATH_MAX + 1];
  const PathFd fd = fs->InodeOf(ino)->path_fd();
  const ssize_t n = fd.valid() ? ::readlinkat(fd.get(), "", target, sizeof(target) - 1) : -1;
  if (n < 0) {
    fuse_reply_err(req, fd.valid() ? errno : fd.error());
    return;
  }
  target[n] = '\0';
  fuse_reply_readlink(req, target);
}

void OpStatfs(fuse_req_t req, fuse_ino_t ino) {
  ReplicaFs* fs = FsOf(req);
  struct statvfs st;
  const PathFd fd = fs->InodeOf(ino)->path_fd();
  if (!fd.valid() || ::fstatvfs(fd.get(), &st) != 0) {
    fuse_reply_err(req, fd.valid() ? errno : fd.error());
    return;
  }
  fuse_reply_statfs(req, &st);
}

}  // namespace replfs
