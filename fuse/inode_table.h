#ifndef REPLFS_FUSE_INODE_TABLE_H_
#define REPLFS_FUSE_INODE_TABLE_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <climits>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "fuse/fd_budget.h"
#include "fuse/path_fd.h"
#include "storage/dirty_blocks.h"
#include "storage/unique_fd.h"

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

  // Guards the write-tracking state below. Lock order: table mutex first,
  // then an inode's mutex; never two inode mutexes at once.
  std::mutex mu;
  DirtyBlocks dirty;            // Blocks written since the last commit.
  bool content_dirty = false;   // Something changed that needs a commit.
  // When content_dirty was last set (see IdleCommitter).
  std::chrono::steady_clock::time_point last_change;
  int open_writers = 0;         // Writable handles open right now.
  // Counts changes: a commit whose observation saw it move read a file
  // that was being changed (see ReplicaFs::CommitInode).
  uint64_t change_generation = 0;
  // Notes a change that needs a commit. REQUIRES: mu held.
  void MarkChanged() {
    content_dirty = true;
    last_change = std::chrono::steady_clock::now();
    ++change_generation;
  }
  // A read-only backing fd for plain read-only opens to dup (a web server
  // opens the same files over and over), opened from `proc_path` at the
  // first such open and kept while `budget` allows. Safe to share: reads
  // carry their own offsets, and a remote version arrives as a new inode by
  // rename. Returns a new fd (the caller owns it), invalid on failure.
  // REQUIRES: mu held.
  UniqueFd DupReadFd(FdBudget& budget, const std::string& proc_path);
  // While a commit reads the backing file to hash it (which moves its
  // atime until the commit puts it back), the atime to report instead.
  bool commit_reading = false;
  struct timespec atime_before_commit {};

  // Serializes commits of this inode with explicit time changes (utimens),
  // so that a commit putting atime back never undoes a user's utimens.
  // Lock order: times_mu before mu.
  std::mutex times_mu;

  // Writable handles open whose writes the daemon does not see (passthrough
  // without FOPEN_DIRECT_IO). While there are any, the idle committer
  // learns of changes by polling the backing file's stat.
  int unseen_writers = 0;
  // The backing stat the idle committer saw last (size, mtime, ctime).
  struct timespec polled_mtime {};
  struct timespec polled_ctime {};
  off_t polled_size = -1;

  // Passthrough (see BackingFiles), guarded by mu: the backing id every
  // passthrough open of this inode shares (the kernel fails an open with
  // another), how many opens use it, and how many opens are on FUSE I/O
  // instead (the kernel also fails a passthrough open while there are any).
  int backing_id = 0;
  int backing_opens = 0;
  int fuse_io_opens = 0;
  // Where backing_id came from, for ~Inode to give it back, and whether it
  // counts against the shared budget of ids kept while nothing is open.
  class BackingFiles* backing_files = nullptr;
  bool backing_id_budgeted = false;

 private:
  friend class InodeTable;
  // Trades fd_ for a file handle when `budget` has no fd left for it.
  // REQUIRES: not a directory; called once, before the inode is shared.
  void KeepFdWithin(FdBudget& budget, int mount_fd);

  UniqueFd read_fd_;                     // Guarded by mu.
  FdBudget* read_fd_budget_ = nullptr;   // Where read_fd_ came from.
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
  Inode* LookedUp(Inode* parent, const std::string& name, UniqueFd fd, const struct stat& st);

  // Like LookedUp, for an object already in the table; returns nullptr
  // (counting nothing) when (st_dev, st_ino) is not there.
  Inode* LookedUpExisting(Inode* parent, const std::string& name, const struct stat& st);

  // Drops `n` kernel lookups; frees the inode when nothing references it.
  void Forget(Inode* inode, uint64_t n);
  // Keeps `inode` alive past the kernel's last FORGET until Unpin: a queued
  // commit holds it so.
  void Pin(Inode* inode);
  void Unpin(Inode* inode);

  // Renames: the object named `name` in `parent` is now `new_name` in
  // `new_parent`. Unknown objects are ignored (the kernel never saw them).
  void MoveLink(dev_t dev, ino_t ino, Inode* parent, const std::string& name,
                Inode* new_parent, const std::string& new_name);
  // Removes the link `parent/name` from the object (dev, ino), if known.
  void RemoveLink(dev_t dev, ino_t ino, Inode* parent, const std::string& name);

  // Every path (relative to the root, "" for the root) the inode is known
  // by. Empty when all its names were removed.
  std::vector<std::string> PathsOf(Inode* inode);
  // One path of a directory inode (or nullopt if it was removed).
  std::optional<std::string> PathOf(Inode* inode);

  // The inode for (dev, ino) if the kernel holds it.
  Inode* Find(dev_t dev, ino_t ino);

  size_t size();

  // Whether the object (dev, ino) has a writable handle open, or a
  // committed-but-not-yet-counted writer (see OpRelease).
  bool HasOpenWriters(dev_t dev, ino_t ino);

  // Inodes whose content changed since their last commit (status only:
  // walks the table).
  uint64_t CountUncommitted();

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
  void DetachLocked(std::unique_ptr<Inode>& entry);
  bool AddLinkLocked(Inode* inode, Inode* parent, const std::string& name);
  void RemoveLinkLocked(Inode* inode, Inode* parent, const std::string& name);
  void MaybeEraseLocked(Inode* inode);
  bool PathOfLocked(Inode* inode, std::string* out, int depth);

  // Declared before the inodes, which give their shares back when freed.
  FdBudget non_directory_fds_;
  UniqueFd handle_mount_fd_;  // The root, opened for open_by_handle_at.
  bool file_handles_work_ = false;
  std::mutex mu_;
  std::unique_ptr<Inode> root_;
  absl::flat_hash_map<Key, std::unique_ptr<Inode>> inodes_;
  absl::flat_hash_map<Inode*, std::unique_ptr<Inode>> detached_;  // See DetachLocked.
};

}  // namespace replfs

#endif  // REPLFS_FUSE_INODE_TABLE_H_
