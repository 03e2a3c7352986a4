#ifndef REPLFS_FUSE_REPLICA_FS_H_
#define REPLFS_FUSE_REPLICA_FS_H_

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fuse/backing_files.h"
#include "fuse/commit_path.h"
#include "fuse/inode_table.h"
#include "fuse/kernel_channel.h"
#include "storage/change_recorder.h"
#include "storage/metadata_store.h"

namespace replfs {

// Everything the FUSE operations share. One per mount; passed to libfuse as
// userdata. Operations never rebuild and re-resolve paths for I/O: every
// syscall is relative to an inode's O_PATH fd. Paths are computed only to
// name the entries the change recorder commits.
struct ReplicaFs {
  // `fd_limit`: the file descriptors this process may open. `inode_fds`
  // of them (-1: half) may be kept by inodes other than directories, an
  // eighth by cached read fds (see Inode); the rest serve directories, open
  // handles and the store.
  ReplicaFs(UniqueFd root_fd, std::string hidden, MetadataStore* metadata,
            ChangeRecorder* change_recorder, double timeout_seconds, int64_t fd_limit,
            int64_t inode_fds = -1)
      : read_fd_budget(fd_limit / 8),
        inodes(std::move(root_fd), inode_fds >= 0 ? inode_fds : fd_limit / 2),
        hidden_name(std::move(hidden)), cache_timeout(timeout_seconds),
        commit_path(&inodes, metadata, change_recorder) {}

  // Declared before `inodes`, whose inodes give their cached read fds back
  // to it when they are destroyed.
  FdBudget read_fd_budget;
  // The channel under libfuse (null with -o passthrough=off or where the
  // kernel cannot pass file I/O through) and the passthrough state of open
  // files (before `inodes` too: inodes give their backing ids back to it).
  // Set before the session loop starts.
  KernelChannel* channel = nullptr;
  std::unique_ptr<BackingFiles> backing_files = std::make_unique<BackingFiles>(nullptr, 0);
  InodeTable inodes;
  // Name of the state folder at the root, hidden from the mount ("" if the
  // state folder lives outside the backing directory).
  std::string hidden_name;
  double cache_timeout;  // Seconds the kernel may cache entries and attrs.
  bool writeback_cache = true;  // Asked of the kernel at init (-o writeback=).
  fuse_session* session = nullptr;
  // Why file data goes through the daemon, when it does ("" otherwise);
  // decided at INIT.
  std::string fuse_io_reason;
  // Set at the end of the init callback: from then on `channel`,
  // `backing_files` and `fuse_io_reason` are settled and may be read from
  // other threads (the mount is made, and the replica serves its status,
  // before the kernel's INIT).
  std::atomic<bool> init_done{false};
  // Times FUSE requests when set (-o metrics); set before the session
  // loop starts, outlives it.
  const RequestLatency* request_latency = nullptr;
  // Called with each path of a file whose last writable handle closed
  // (replication applies remote versions that waited for it).
  std::function<void(const std::string&)> on_write_closed;

  // Whether the data path is settled: the init callback has run and, where
  // the kernel offers passthrough, INIT's reply (which negotiates it) has
  // gone out.
  bool DataPathSettled() const {
    if (!init_done.load(std::memory_order_acquire)) return false;
    return channel == nullptr || !channel->KernelOffersPassthrough() || channel->initialized();
  }

  Inode* InodeOf(fuse_ino_t ino) {
    // Inode numbers given to the kernel are our Inode pointers.
    return ino == FUSE_ROOT_ID ? inodes.root()
                               : reinterpret_cast<Inode*>(ino);  // NOLINT(performance-no-int-to-ptr)
  }
  static fuse_ino_t IdOf(Inode* inode, Inode* root) {
    return inode == root ? FUSE_ROOT_ID : reinterpret_cast<fuse_ino_t>(inode);
  }
  fuse_ino_t IdOf(Inode* inode) { return IdOf(inode, inodes.root()); }

  // True when `name` in `parent` is the hidden state folder.
  bool IsHidden(Inode* parent, const char* name) const {
    return !hidden_name.empty() && parent == const_cast<InodeTable&>(inodes).root() &&
           hidden_name == name;
  }

  // Joins a parent's path and a child name ("" parent = root).
  std::optional<std::string> ChildPath(Inode* parent, const char* name);

  // Last: its worker runs queued records against everything above, and
  // finishes them before the rest goes.
  CommitPath commit_path;
};

ReplicaFs* FsOf(fuse_req_t req);

// Replaces the atime in `st` (a fresh stat of `inode`) by the one from
// before a commit that is reading the file right now: the daemon's own read
// is not an access (see RestoreAtime in commit_path.cc).
void HideCommitRead(Inode* inode, struct stat* st);
// Takes the links the versions folder holds in place of removed names out
// of `st`'s link count (a fresh stat of `inode`).
void HideKeptLinks(Inode* inode, struct stat* st);

// Fills `e` for the object `name` in `parent` and counts a lookup.
// Returns 0 or an errno.
int LookupChild(ReplicaFs* fs, Inode* parent, const char* name, fuse_entry_param* e);
// The same for an object the caller just created: opens it straight away
// (no inode can hold it yet, unless its number was reused: LookedUp sees to
// that).
int LookupNewChild(ReplicaFs* fs, Inode* parent, const char* name, fuse_entry_param* e);

// The table of operations handed to fuse_session_new.
fuse_lowlevel_ops MakeOperations();

}  // namespace replfs

#endif  // REPLFS_FUSE_REPLICA_FS_H_
