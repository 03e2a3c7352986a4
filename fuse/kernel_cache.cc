#include "fuse/kernel_cache.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <vector>

#include "absl/strings/str_split.h"

namespace replfs {
namespace {

// Walks `path` through the directories the kernel knows (present in the
// inode table). Returns true with the parent's fuse id and the last
// component when every ancestor is known. Otherwise returns false with the
// deepest known directory in `parent_id` and, in `name`, the first ancestor
// component the kernel does not hold: nothing below it can be cached, but
// the kernel may still hold a negative dentry for that very name (it looked
// the name up while it did not exist), which must be dropped too, or a
// directory the applier just created with its parents (a file arriving in a
// tree this replica had removed) stays invisible for the whole entry timeout.
bool ResolveParent(ReplicaFs* fs, const std::string& path, fuse_ino_t* parent_id,
                   std::string* name) {
  std::vector<std::string> parts = absl::StrSplit(path, '/');
  *name = parts.back();
  parts.pop_back();
  fuse_ino_t id = FUSE_ROOT_ID;
  int dir_fd = fs->inodes.root()->dir_fd();
  UniqueFd held;
  for (const std::string& part : parts) {
    *parent_id = id;
    UniqueFd next(::openat(dir_fd, part.c_str(), O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC));
    struct stat st;
    Inode* inode = nullptr;
    if (next.valid() && ::fstatat(next.get(), "", &st, AT_EMPTY_PATH) == 0) {
      inode = fs->inodes.Find(st.st_dev, st.st_ino);
    }
    if (inode == nullptr) {
      *name = part;
      return false;
    }
    id = fs->IdOf(inode);
    held = std::move(next);
    dir_fd = held.get();
  }
  *parent_id = id;
  return true;
}

// The inode of the directory holding `path`, if the kernel holds it and
// every directory above it.
Inode* KnownParent(ReplicaFs* fs, const std::string& path) {
  fuse_ino_t parent_id = FUSE_ROOT_ID;
  std::string name;
  if (!ResolveParent(fs, path, &parent_id, &name)) return nullptr;
  return fs->InodeOf(parent_id);
}

std::string LastComponent(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

void KernelCache::InvalidatePath(const std::string& path) {
  if (fs_->session == nullptr || path.empty()) return;
  fuse_ino_t parent_id = FUSE_ROOT_ID;
  std::string name;
  const bool resolved = ResolveParent(fs_, path, &parent_id, &name);
  InvalidateResolved(path, parent_id, name, resolved);
}

void KernelCache::InvalidateResolved(const std::string& path, fuse_ino_t parent_id,
                                     const std::string& name, bool resolved) {
  if (fs_->session == nullptr) return;
  // The name (positive or negative dentry) and the parent's listing and
  // attributes. An old inode that still has the name keeps serving open
  // handles; new opens look the name up again and find the new object.
  // When an ancestor is unknown to the kernel, that ancestor's name is the
  // one to drop (see ResolveParent).
  fuse_lowlevel_notify_inval_entry(fs_->session, parent_id, name.c_str(), name.size());
  fuse_lowlevel_notify_inval_inode(fs_->session, parent_id, 0, 0);
  if (!resolved) return;
  // Attribute-only changes keep the inode: drop its attributes and pages.
  struct stat st;
  if (::fstatat(fs_->inodes.root()->dir_fd(), path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (Inode* inode = fs_->inodes.Find(st.st_dev, st.st_ino); inode != nullptr) {
      fuse_lowlevel_notify_inval_inode(fs_->session, fs_->IdOf(inode), 0, 0);
    }
  }
}

bool KernelCache::IsOpenForWriting(const std::string& path) {
  struct stat st;
  if (::fstatat(fs_->inodes.root()->dir_fd(), path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
  return fs_->inodes.HasOpenWriters(st.st_dev, st.st_ino);
}

bool KernelCache::HasUncommittedChanges(const std::string& path) {
  struct stat st;
  if (::fstatat(fs_->inodes.root()->dir_fd(), path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
  return fs_->inodes.HasUncommittedChanges(st.st_dev, st.st_ino);
}

void KernelCache::FileRemoved(const std::string& path, const struct stat& removed,
                              bool kept_aside) {
  fuse_ino_t parent_id = FUSE_ROOT_ID;
  std::string name;
  const bool resolved = ResolveParent(fs_, path, &parent_id, &name);
  // Only a file the kernel holds can be open through the mount.
  if (Inode* inode = fs_->inodes.Find(removed.st_dev, removed.st_ino); inode != nullptr) {
    if (Inode* parent = resolved ? fs_->InodeOf(parent_id) : nullptr; parent != nullptr) {
      fs_->inodes.RemoveLink(removed.st_dev, removed.st_ino, parent, name, kept_aside);
    }
    // Its cached link count is the one it had with the name.
    if (fs_->session != nullptr) {
      fuse_lowlevel_notify_inval_inode(fs_->session, fs_->IdOf(inode), 0, 0);
    }
  }
  InvalidateResolved(path, parent_id, name, resolved);
}

void KernelCache::PathMoved(const std::string& from, const std::string& to) {
  // The moved object kept its inode, and so did everything beneath it:
  // their inodes name it as their parent, so relinking it alone renames
  // them all.
  const int root_fd = fs_->inodes.root()->dir_fd();
  struct stat moved;
  if (::fstatat(root_fd, to.c_str(), &moved, AT_SYMLINK_NOFOLLOW) != 0) return;
  Inode* old_parent = KnownParent(fs_, from);
  if (old_parent == nullptr) return;  // The kernel never held it by that name.
  const std::string old_name = LastComponent(from);
  if (Inode* new_parent = KnownParent(fs_, to); new_parent != nullptr) {
    fs_->inodes.MoveLink(moved.st_dev, moved.st_ino, old_parent, old_name, new_parent,
                         LastComponent(to));
  } else {
    // A name the kernel has not looked up: it learns the object there by
    // its next lookup, and holds it by no name until then.
    fs_->inodes.RemoveLink(moved.st_dev, moved.st_ino, old_parent, old_name);
  }
}

}  // namespace replfs
