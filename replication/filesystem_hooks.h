#ifndef REPLFS_REPLICATION_FILESYSTEM_HOOKS_H_
#define REPLFS_REPLICATION_FILESYSTEM_HOOKS_H_

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
};

class NoFilesystemHooks final : public FilesystemHooks {
 public:
  void InvalidatePath(const std::string&) override {}
  bool IsOpenForWriting(const std::string&) override { return false; }
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_FILESYSTEM_HOOKS_H_
