#ifndef REPLFS_FUSE_KERNEL_CACHE_H_
#define REPLFS_FUSE_KERNEL_CACHE_H_

#include <string>

#include "fuse/replica_fs.h"
#include "storage/filesystem_hooks.h"

namespace replfs {

// Keeps the kernel's caches honest when replication changes the backing
// directory behind its back: names (dentries, also negative ones), attributes,
// directory listings and page cache are invalidated with libfuse's notify
// calls. Only objects the kernel holds (present in the inode table) can be
// cached, so paths are resolved through the table, never by a new lookup.
class KernelCache final : public FilesystemHooks {
 public:
  explicit KernelCache(ReplicaFs* fs) : fs_(fs) {}
  void InvalidatePath(const std::string& path) override;
  bool IsOpenForWriting(const std::string& path) override;
  bool HasUncommittedChanges(const std::string& path) override;
  void PathMoved(const std::string& from, const std::string& to) override;
  void FileRemoved(const std::string& path, const struct stat& removed, bool kept_aside) override;
  std::unique_lock<std::shared_mutex> BlockLocalChanges() override {
    return fs_->commit_path.BlockLocalChanges();
  }

 private:
  // InvalidatePath's work once ResolveParent has resolved `path`.
  void InvalidateResolved(const std::string& path, fuse_ino_t parent_id, const std::string& name,
                          bool resolved);

  ReplicaFs* fs_;
};

}  // namespace replfs

#endif  // REPLFS_FUSE_KERNEL_CACHE_H_
