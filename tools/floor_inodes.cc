#include "tools/floor_inodes.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "storage/log.h"

namespace replfs::floor {

InodeTable::InodeTable(UniqueFd root_fd, const struct stat& root_st)
    : root_(std::move(root_fd), root_st.st_dev, root_st.st_ino) {}

FloorInode* InodeTable::LookedUpExisting(const struct stat& st) {
  if (st.st_dev == root_.dev && st.st_ino == root_.ino) return &root_;
  absl::MutexLock lock(&mu_);
  auto it = by_key_.find(Key{st.st_dev, st.st_ino});
  if (it == by_key_.end()) return nullptr;
  ++it->second.lookups;
  return it->second.inode.get();
}

FloorInode* InodeTable::LookedUp(UniqueFd path_fd, const struct stat& st) {
  // A lookup of the backing root through some other name (a bind mount
  // below it) still has to answer the one root inode.
  if (st.st_dev == root_.dev && st.st_ino == root_.ino) return &root_;
  absl::MutexLock lock(&mu_);
  Entry& entry = by_key_[Key{st.st_dev, st.st_ino}];
  if (entry.inode == nullptr) {
    entry.inode = std::make_unique<FloorInode>(std::move(path_fd), st.st_dev, st.st_ino);
  }
  ++entry.lookups;
  return entry.inode.get();
}

void InodeTable::Forget(FloorInode* inode, uint64_t count) {
  if (inode == &root_) return;
  absl::MutexLock lock(&mu_);
  auto it = by_key_.find(Key{inode->dev, inode->ino});
  if (it == by_key_.end() || it->second.lookups < count) {
    LogError(absl::StrCat("forget of ", count, " lookups the inode does not have"));
    std::abort();
  }
  it->second.lookups -= count;
  if (it->second.lookups == 0) by_key_.erase(it);
}

absl::StatusOr<int> AcquireBacking(KernelChannel* channel, FloorInode* inode) {
  absl::MutexLock lock(&inode->io_mu);
  if (inode->passthrough_opens == 0) {
    // The kernel keeps its own reference to the file; an O_PATH fd will do.
    absl::StatusOr<int> id = channel->OpenBacking(inode->fd.get());
    if (!id.ok()) return id.status();
    inode->backing_id = *id;
  }
  ++inode->passthrough_opens;
  return inode->backing_id;
}

void ReleaseBacking(KernelChannel* channel, FloorInode* inode) {
  absl::MutexLock lock(&inode->io_mu);
  // The kernel drops an open's share of the inode's io mode before it sends
  // the RELEASE, so an open that arrives meanwhile reused this id, and the
  // id is closed only at the last release.
  if (--inode->passthrough_opens == 0) {
    channel->CloseBacking(inode->backing_id);
    inode->backing_id = 0;
  }
}

}  // namespace replfs::floor
