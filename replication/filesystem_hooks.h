#ifndef REPLFS_REPLICATION_FILESYSTEM_HOOKS_H_
#define REPLFS_REPLICATION_FILESYSTEM_HOOKS_H_

#include <mutex>
#include <shared_mutex>
#include <string>

namespace replfs {

// The narrow window replication has into the mounted filesystem (fuse/
// implements it; tests and the simulation use a no-op or fake).
class FilesystemHooks {
 public:
  virtual ~FilesystemHooks() = default;
  // The backing object at `path` was replaced, created or removed behind the
  // kernel's back: drop its cached name, attributes and pages.
  virtual void InvalidatePath(const std::string& path) = 0;
  // Whether `path` is open for writing through the mount right now. A
  // remote version never replaces such a file; it waits for the last close.
  virtual bool IsOpenForWriting(const std::string& path) = 0;
  // Holds off local changes through the mount (each holds the gate shared
  // from its syscall on the backing directory until its commit) and
  // writable opens (until the handle counts as a writer), while the caller
  // decides from the store and changes the backing directory. Without it a
  // local change made on disk but not yet committed was invisible to that
  // decision: a remote version replaced a file just renamed into place, or
  // a local delete then recorded a tombstone over the remote version it had
  // never seen; and a writer that opened between the open-writer check and
  // the rename wrote into the replaced, unlinked file. Take it before the
  // store's commit lock.
  virtual std::unique_lock<std::shared_mutex> BlockLocalChanges() = 0;
};

class NoFilesystemHooks final : public FilesystemHooks {
 public:
  void InvalidatePath(const std::string&) override {}
  bool IsOpenForWriting(const std::string&) override { return false; }
  std::unique_lock<std::shared_mutex> BlockLocalChanges() override {
    return std::unique_lock(gate_);
  }

 private:
  std::shared_mutex gate_;
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_FILESYSTEM_HOOKS_H_
