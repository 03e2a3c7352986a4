#ifndef REPLFS_TOOLS_FLOOR_INODES_H_
#define REPLFS_TOOLS_FLOOR_INODES_H_

// The inode table of replfs-floor (tools/floor_fs.cc), the cheapest FUSE
// daemon over a backing directory: what tools/bench-local measures FUSE
// itself against. Nothing here is replfs's: no store, no change log.
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/unique_fd.h"
#include "fuse/kernel_channel.h"

namespace replfs::floor {

// One backing object the kernel knows. Its fuse_ino_t is its address (the
// root's is FUSE_ROOT_ID), like libfuse's passthrough_hp: every operation
// on it is relative to its O_PATH fd, so paths are never rebuilt.
struct FloorInode {
  FloorInode(UniqueFd path_fd, dev_t device, ino_t number)
      : fd(std::move(path_fd)), dev(device), ino(number) {}
  FloorInode(const FloorInode&) = delete;
  FloorInode& operator=(const FloorInode&) = delete;

  const UniqueFd fd;  // O_PATH | O_NOFOLLOW.
  const dev_t dev;
  const ino_t ino;

  // The kernel's io-mode rule: every open of an inode at a time is passed
  // through to the same backing file, or the open fails with EIO. So one
  // backing id per inode, registered at its first passthrough open, shared
  // by the opens after it and closed at the last one's release.
  absl::Mutex io_mu;
  int backing_id ABSL_GUARDED_BY(io_mu) = 0;
  int passthrough_opens ABSL_GUARDED_BY(io_mu) = 0;
};

// Backing objects by (st_dev, st_ino), with the kernel's lookup count of
// each: an inode lives from the first lookup that returns it until the
// kernel forgets every one of them. The root is never forgotten. Its O_PATH
// fd keeps each object in the table alive, so no other object can take its
// inode number meanwhile: a key found is the same object.
class InodeTable {
 public:
  // `root_fd`: O_PATH fd of the backing directory, whose stat is `root_st`.
  InodeTable(UniqueFd root_fd, const struct stat& root_st);
  InodeTable(const InodeTable&) = delete;
  InodeTable& operator=(const InodeTable&) = delete;

  FloorInode* root() { return &root_; }
  FloorInode* Get(fuse_ino_t id) {
    if (id == FUSE_ROOT_ID) return &root_;
    return reinterpret_cast<FloorInode*>(id);  // NOLINT(performance-no-int-to-ptr)
  }
  fuse_ino_t IdOf(FloorInode* inode) {
    return inode == &root_ ? FUSE_ROOT_ID : reinterpret_cast<fuse_ino_t>(inode);
  }

  // Counts one lookup of the object whose stat is `st` and returns its
  // inode, or returns null (counting nothing) when the table lacks it.
  FloorInode* LookedUpExisting(const struct stat& st);
  // Counts one lookup of the object `path_fd` (O_PATH) refers to, whose
  // stat is `st`, and returns its inode. `path_fd` becomes the inode's fd
  // when the object is new to the table and is closed otherwise.
  FloorInode* LookedUp(UniqueFd path_fd, const struct stat& st);
  // Drops `count` lookups; the inode is freed at zero. Aborts on underflow:
  // the kernel and the table disagree, and an id may already be dangling.
  void Forget(FloorInode* inode, uint64_t count);

 private:
  using Key = std::pair<dev_t, ino_t>;
  struct Entry {
    std::unique_ptr<FloorInode> inode;
    uint64_t lookups = 0;
  };

  FloorInode root_;
  absl::Mutex mu_;
  absl::flat_hash_map<Key, Entry> by_key_ ABSL_GUARDED_BY(mu_);
};

// Shares one backing id per inode between its passthrough opens.
// REQUIRES of both: `channel` negotiated passthrough.
absl::StatusOr<int> AcquireBacking(KernelChannel* channel, FloorInode* inode);
void ReleaseBacking(KernelChannel* channel, FloorInode* inode);

}  // namespace replfs::floor

#endif  // REPLFS_TOOLS_FLOOR_INODES_H_
