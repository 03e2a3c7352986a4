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
  // Holds off writable opens through the mount while the caller checks
  // IsOpenForWriting and then replaces or removes the object. A writer
  // either registered before the check (so the caller defers), or opens
  // after the replacement and is sent to the new object; without the gate
  // a writer that opened between the check and the rename wrote into the
  // replaced, unlinked file and its close "succeeded" into nothing.
  virtual std::unique_lock<std::shared_mutex> BlockWriterOpens() = 0;
};

class NoFilesystemHooks final : public FilesystemHooks {
 public:
  void InvalidatePath(const std::string&) override {}
  bool IsOpenForWriting(const std::string&) override { return false; }
  std::unique_lock<std::shared_mutex> BlockWriterOpens() override {
    return std::unique_lock(gate_);
  }

 private:
  std::shared_mutex gate_;
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_FILESYSTEM_HOOKS_H_
