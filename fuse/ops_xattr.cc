// setxattr, getxattr, listxattr, removexattr, through the /proc magic link
// of the inode's O_PATH fd (xattr calls do not take O_PATH fds).
#include <sys/xattr.h>

#include <cerrno>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fuse/operations.h"
#include "fuse/replica_fs.h"
#include "storage/proc_path.h"

namespace replfs {
namespace {

// Symlinks cannot carry user xattrs and their magic link would follow the
// target; answer as Linux does for user.* on a symlink.
bool IsSymlink(Inode* inode) { return S_ISLNK(inode->type()); }

}  // namespace

void OpSetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                int flags) {
  ReplicaFs* fs = FsOf(req);
  // Until the change is committed (see CommitPath::local_change_gate).
  SharedGateHold change(fs->commit_path.local_change_gate());
  Inode* inode = fs->InodeOf(ino);
  if (IsSymlink(inode)) {
    fuse_reply_err(req, EPERM);
    return;
  }
  const PathFd fd = inode->path_fd();
  if (!fd.valid()) {
    fuse_reply_err(req, fd.error());
    return;
  }
  inode->writes.MarkMetadataChanging();
  const int error =
      ::setxattr(ProcPath(fd.get()).c_str(), name, value, size, flags) == 0 ? 0 : errno;
  // Even when it failed: a commit queued before it gives up, and this one
  // takes its place.
  fs->commit_path.CommitUnlessBeingWritten(inode);
  fuse_reply_err(req, error);
}

void OpGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  ReplicaFs* fs = FsOf(req);
  Inode* inode = fs->InodeOf(ino);
  if (IsSymlink(inode)) {
    fuse_reply_err(req, ENODATA);
    return;
  }
  const PathFd fd = inode->path_fd();
  if (!fd.valid()) {
    fuse_reply_err(req, fd.error());
    return;
  }
  if (size == 0) {
    const ssize_t n = ::getxattr(ProcPath(fd.get()).c_str(), name, nullptr, 0);
    if (n < 0) {
      fuse_reply_err(req, errno);
    } else {
      fuse_reply_xattr(req, static_cast<size_t>(n));
    }
    return;
  }
  std::vector<char> value(size);
  const ssize_t n = ::getxattr(ProcPath(fd.get()).c_str(), name, value.data(), size);
  if (n < 0) {
    fuse_reply_err(req, errno);
  } else {
    fuse_reply_buf(req, value.data(), static_cast<size_t>(n));
  }
}

void OpListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  ReplicaFs* fs = FsOf(req);
  Inode* inode = fs->InodeOf(ino);
  if (IsSymlink(inode)) {
    if (size == 0) {
      fuse_reply_xattr(req, 0);
    } else {
      fuse_reply_buf(req, nullptr, 0);
    }
    return;
  }
  const PathFd fd = inode->path_fd();
  if (!fd.valid()) {
    fuse_reply_err(req, fd.error());
    return;
  }
  if (size == 0) {
    const ssize_t n = ::listxattr(ProcPath(fd.get()).c_str(), nullptr, 0);
    if (n < 0) {
      fuse_reply_err(req, errno);
    } else {
      fuse_reply_xattr(req, static_cast<size_t>(n));
    }
    return;
  }
  std::vector<char> names(size);
  const ssize_t n = ::listxattr(ProcPath(fd.get()).c_str(), names.data(), size);
  if (n < 0) {
    fuse_reply_err(req, errno);
  } else {
    fuse_reply_buf(req, names.data(), static_cast<size_t>(n));
  }
}

void OpRemovexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  ReplicaFs* fs = FsOf(req);
  // Until the change is committed (see CommitPath::local_change_gate).
  SharedGateHold change(fs->commit_path.local_change_gate());
  Inode* inode = fs->InodeOf(ino);
  if (IsSymlink(inode)) {
    fuse_reply_err(req, ENODATA);
    return;
  }
  const PathFd fd = inode->path_fd();
  if (!fd.valid()) {
    fuse_reply_err(req, fd.error());
    return;
  }
  inode->writes.MarkMetadataChanging();
  const int error = ::removexattr(ProcPath(fd.get()).c_str(), name) == 0 ? 0 : errno;
  // Even when it failed: a commit queued before it gives up, and this one
  // takes its place.
  fs->commit_path.CommitUnlessBeingWritten(inode);
  fuse_reply_err(req, error);
}

}  // namespace replfs
