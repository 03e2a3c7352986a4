#ifndef REPLFS_FUSE_INODE_TABLE_H_
#define REPLFS_FUSE_INODE_TABLE_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <climits>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "base/unique_fd.h"
#include "fuse/fd_budget.h"
#include "fuse/file_write_state.h"
#include "fuse/in_place_keep.h"
#include "fuse/path_fd.h"

namespace replfs {

class Inode;


// One name of an inode: the directory it is in and its name there. An inode
// has one link per hard link the kernel has seen; a directory has one.
struct Link {
  Inode* parent;  // Kept alive by Inode::child_links_ (see InodeTable).
  std::string name;
};

// The daemon's view of one backing object. The kernel addresses it by
// fuse_ino_t, which is this object's address (like passthrough_hp).
//
// Like passthrough_hp, an inode keeps an O_PATH fd of its backing object,
// which costs one fd per object the kernel caches: a docroot of a million
// files served by Apache would need a million fds. So only directories
// always keep theirs (every operation in them is relative to it); files,
// symlinks and the like keep theirs while the table's fd budget lasts, and
// past it keep a file handle (name_to_handle_at) instead and open an O_PATH
// fd from it for each operation (as virtiofsd does with file handles).
class Inode {
 public:
  Inode(UniqueFd fd, dev_t dev, ino_t ino, mode_t type)
      : fd_(std::move(fd)), dev_(dev), ino_(ino), type_(type) {}
  ~Inode();
  Inode(const Inode&) = delete;
  Inode& operator=(const Inode&) = delete;

  // O_PATH fd of a directory's backing object. REQUIRES: is_dir().
  int dir_fd() const { return fd_.get(); }
  // An O_PATH fd of the backing object for one operation (any kind).
  PathFd path_fd() const;
  dev_t dev() const { return dev_; }
  ino_t ino() const { return ino_; }
  mode_t type() const { return type_; }  // S_IFMT bits only.
  bool is_dir() const { return S_ISDIR(type_); }

  // What the commit path knows of the inode's changes (regular files;
  // other kinds use its commit read and times lock only).
  FileWriteState writes;
  // Keeps the file's content aside before a change in place destroys it
  // (-o keep_versions; regular files only).
  InPlaceKeep in_place_keep;

  // Guards the open-file state below: the cached read fd and the
  // passthrough counts. A leaf: nothing else is taken under it.
  absl::Mutex io_mu;
  // A read-only backing fd for plain read-only opens to dup (a web server
  // opens the same files over and over), opened from `proc_path` at the
  // first such open and kept while `budget` allows. Safe to share: reads
  // carry their own offsets, and a remote version arrives as a new inode by
  // rename. Returns a new fd (the caller owns it), invalid on failure.
  UniqueFd DupReadFd(FdBudget& budget, const std::string& proc_path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(io_mu);
  // Passthrough (see BackingFiles): the backing id every
  // passthrough open of this inode shares (the kernel fails an open with
  // another), how many opens use it, and how many opens are on FUSE I/O
  // instead (the kernel also fails a passthrough open while there are any).
  int backing_id ABSL_GUARDED_BY(io_mu) = 0;
  int backing_opens ABSL_GUARDED_BY(io_mu) = 0;
  int fuse_io_opens ABSL_GUARDED_BY(io_mu) = 0;
  // Where backing_id came from, for ~Inode to give it back, and whether it
  // counts against the shared budget of ids kept while nothing is open.
  class BackingFiles* backing_files ABSL_GUARDED_BY(io_mu) = nullptr;
  bool backing_id_budgeted ABSL_GUARDED_BY(io_mu) = false;

  // Links to this file in the versions folder that took the place of names
  // removed through the mount: a deleted file still open reports nlink 0
  // through its fd, as natively.
  std::atomic<uint32_t> links_kept_aside{0};

 private:
  friend class InodeTable;
  // Trades fd_ for a file handle when `budget` has no fd left for it.
  // REQUIRES: not a directory; called once, before the inode is shared.
  void KeepFdWithin(FdBudget& budget, int mount_fd);

  UniqueFd read_fd_ ABSL_GUARDED_BY(io_mu);
  FdBudget* read_fd_budget_ ABSL_GUARDED_BY(io_mu) = nullptr;  // Where read_fd_ came from.
  UniqueFd fd_;                          // Invalid when handle_ stands in.
  FdBudget* fd_budget_ = nullptr;        // Where fd_ came from, if counted.
  std::string handle_;                   // struct file_handle, when no fd_.
  int mount_fd_ = -1;                    // For open_by_handle_at.
  dev_t dev_;
  ino_t ino_;
  mode_t type_;
  uint64_t nlookup_ = 0;        // Kernel references (lookup/forget).
  uint64_t pins_ = 0;           // Queued commits (InodeTable::Pin).
  uint64_t child_links_ = 0;    // Links of other inodes naming this as parent.
  std::vector<Link> links_;
};

// All inodes the kernel holds, keyed by backing (dev, ino), with the names
// they are known by, so that a change can be recorded under its paths.
// Thread-safe: one mutex guards the map, lookup counts and links.
class InodeTable {
 public:
  // Takes the backing root directory (O_PATH fd). At most
  // `non_directory_fds` inodes other than directories keep an fd at once
  // (see Inode); without the capability to open file handles
  // (CAP_DAC_READ_SEARCH) all keep theirs.
  explicit InodeTable(UniqueFd root_fd, int64_t non_directory_fds = INT64_MAX);
  InodeTable(const InodeTable&) = delete;
  InodeTable& operator=(const InodeTable&) = delete;

  Inode* root() { return root_.get(); }
  // Whether inodes past the fd budget can trade their fd for a file handle
  // (probed once, on the root).
  bool file_handles_work() const { return file_handles_work_; }

  // Finds or creates the inode for the object `name` in `parent` (stat'ed as
  // `st`, opened as `fd`, which is adopted only when the inode is new),
  // records the link, and counts one kernel lookup.
  Inode* LookedUp(Inode* parent, const std::string& name, UniqueFd fd, const struct stat& st)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Like LookedUp, for an object already in the table; returns nullptr
  // (counting nothing) when (st_dev, st_ino) is not there.
  Inode* LookedUpExisting(Inode* parent, const std::string& name, const struct stat& st)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Drops `n` kernel lookups; frees the inode when nothing references it.
  void Forget(Inode* inode, uint64_t n) ABSL_LOCKS_EXCLUDED(mu_);
  // Keeps `inode` alive past the kernel's last FORGET until Unpin: a queued
  // commit holds it so.
  void Pin(Inode* inode) ABSL_LOCKS_EXCLUDED(mu_);
  void Unpin(Inode* inode) ABSL_LOCKS_EXCLUDED(mu_);

  // Renames: the object named `name` in `parent` is now `new_name` in
  // `new_parent`. Unknown objects are ignored (the kernel never saw them).
  void MoveLink(dev_t dev, ino_t ino, Inode* parent, const std::string& name,
                Inode* new_parent, const std::string& new_name) ABSL_LOCKS_EXCLUDED(mu_);
  // Removes the link `parent/name` from the object (dev, ino), if known.
  // `kept_aside`: the name went, but a link in the versions folder took its
  // place (-o keep_versions), which the inode's link count must not show.
  void RemoveLink(dev_t dev, ino_t ino, Inode* parent, const std::string& name,
                  bool kept_aside = false) ABSL_LOCKS_EXCLUDED(mu_);

  // Every path (relative to the root, "" for the root) the inode is known
  // by. Empty when all its names were removed.
  std::vector<std::string> PathsOf(Inode* inode) ABSL_LOCKS_EXCLUDED(mu_);
  // One path of a directory inode (or nullopt if it was removed).
  std::optional<std::string> PathOf(Inode* inode) ABSL_LOCKS_EXCLUDED(mu_);

  // The inode for (dev, ino) if the kernel holds it.
  Inode* Find(dev_t dev, ino_t ino) ABSL_LOCKS_EXCLUDED(mu_);

  size_t size() ABSL_LOCKS_EXCLUDED(mu_);

  // Whether the object (dev, ino) has a writable handle open, or a
  // committed-but-not-yet-counted writer (see OpRelease).
  bool HasOpenWriters(dev_t dev, ino_t ino) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether the object (dev, ino) has open writers, a commit queued (Pin)
  // or a change not committed yet.
  bool HasUncommittedChanges(dev_t dev, ino_t ino) ABSL_LOCKS_EXCLUDED(mu_);

  // Inodes whose content changed since their last commit (status only:
  // walks the table).
  uint64_t CountUncommitted() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Key {
    dev_t dev;
    ino_t ino;
    bool operator==(const Key&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.dev, k.ino);
    }
  };
  // Moves the map entry's inode aside (still alive for the kernel's
  // references, found by no key): an inode without a kept fd does not pin
  // its inode number, so once its object is deleted the file system may
  // give the number to a new object while the kernel still holds the old
  // inode (its FORGET not yet sent). Lookups compare file handles and
  // detach the old inode instead of serving the new object through it
  // (found by the POSIX suite on an inode_fds=0 mount under load: a new
  // symlink reached through a deleted file's inode answered ESTALE).
  void DetachLocked(std::unique_ptr<Inode>& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool AddLinkLocked(Inode* inode, Inode* parent, const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveLinkLocked(Inode* inode, Inode* parent, const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeEraseLocked(Inode* inode) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool PathOfLocked(Inode* inode, std::string* out, int depth) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Declared before the inodes, which give their shares back when freed.
  FdBudget non_directory_fds_;
  UniqueFd handle_mount_fd_;  // The root, opened for open_by_handle_at.
  bool file_handles_work_ = false;
  // Guards the map and every inode's links and reference counts. Lock
  // order: before any inode's io_mu or write state.
  absl::Mutex mu_;
  std::unique_ptr<Inode> root_;
  absl::flat_hash_map<Key, std::unique_ptr<Inode>> inodes_ ABSL_GUARDED_BY(mu_);
  // See DetachLocked.
  absl::flat_hash_map<Inode*, std::unique_ptr<Inode>> detached_ ABSL_GUARDED_BY(mu_);
};

}  // namespace replfs

#endif  // REPLFS_FUSE_INODE_TABLE_H_
