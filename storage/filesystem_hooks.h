#ifndef REPLFS_STORAGE_FILESYSTEM_HOOKS_H_
#define REPLFS_STORAGE_FILESYSTEM_HOOKS_H_

#include <sys/stat.h>

#include <mutex>
#include <shared_mutex>
#include <string>

namespace replfs {

// The narrow seam between the two writers of one backing directory: the
// mounted filesystem (fuse/) and replication (replication/). Neither may
// include the other, so the seam lives here, below both, and needs nothing
// but the standard library and POSIX; daemon/ connects the two at start-up.
//
// What replication may ask of the filesystem is exactly this interface
// (fuse/'s KernelCache implements it; tests and the simulation use
// NoFilesystemHooks or a fake):
//   - InvalidatePath: forget what the kernel caches for a path it changed;
//   - IsOpenForWriting: whether a local writer holds a file right now;
//   - HasUncommittedChanges: whether a file holds local changes not yet
//     recorded (a writer, or a commit still queued);
//   - PathMoved: learn the new name of objects replication renamed;
//   - FileRemoved: learn that a file replication removed or replaced may
//     still be open, and whether a link of it was kept in versions/;
//   - BlockLocalChanges: hold off local changes while it decides and
//     applies a remote entry (it gets the filesystem's own gate, so the lock
//     order below binds it).
// Nothing else: no inode, handle or FUSE type crosses the seam, and
// replication never calls into libfuse.
//
// What the filesystem may ask of replication is a single notification, not
// an interface: the filesystem calls its `on_write_closed` callback when the
// last writable handle of a path closes, and daemon/ points that callback
// at Replicator::OnWriteClosed (entries that waited for the writer are then
// applied). daemon/ also hands replication read-only figures of the
// filesystem for status (commit failures, pending commits, data path).
class FilesystemHooks {
 public:
  virtual ~FilesystemHooks() = default;
  // The backing object at `path` was replaced, created or removed behind the
  // kernel's back: drop its cached name, attributes and pages.
  virtual void InvalidatePath(const std::string& path) = 0;
  // Whether `path` is open for writing through the mount right now. A
  // remote version never replaces such a file; it waits for the last close.
  virtual bool IsOpenForWriting(const std::string& path) = 0;
  // Whether `path` holds local changes the store has not recorded yet: a
  // writer holds the file, or its content waits in the commit queue under
  // the name it had when its last writer closed. Replication moves no such
  // file by rename(2): the queued commit would record it under its old name.
  virtual bool HasUncommittedChanges(const std::string& path) = 0;
  // Replication renamed `from` to `to` in the backing directory while
  // holding BlockLocalChanges: the objects the kernel holds at and beneath
  // `from` are known by their new names from now on, so a local change
  // made through them is recorded where it happens. Called with the gate
  // held, so it must not wait for the kernel: the caller invalidates both
  // paths (InvalidatePath) once the gate is released.
  virtual void PathMoved(const std::string& from, const std::string& to) = 0;
  // Replication took the regular file `removed` (its stat before) out of
  // the tree at `path`, by removing it or placing another object there,
  // after linking it into versions/ when `kept_aside`. Handles still open
  // on it must see the link count a removal leaves: the link in versions/
  // is not one of the tree's, and the kernel must forget the attributes it
  // holds of it. Invalidates `path` as InvalidatePath does, which the
  // caller therefore does not call for it. Called once the gate is released.
  virtual void FileRemoved(const std::string& path, const struct stat& removed,
                           bool kept_aside) = 0;
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

// For replication without a mount (tests, the simulation, fuzzers): nothing
// is cached, nothing is open, and the gate guards nothing but itself.
class NoFilesystemHooks final : public FilesystemHooks {
 public:
  void InvalidatePath(const std::string&) override {}
  bool IsOpenForWriting(const std::string&) override { return false; }
  bool HasUncommittedChanges(const std::string&) override { return false; }
  void PathMoved(const std::string&, const std::string&) override {}
  void FileRemoved(const std::string&, const struct stat&, bool) override {}
  std::unique_lock<std::shared_mutex> BlockLocalChanges() override {
    return std::unique_lock(gate_);
  }

 private:
  std::shared_mutex gate_;
};

}  // namespace replfs

#endif  // REPLFS_STORAGE_FILESYSTEM_HOOKS_H_
