#ifndef REPLFS_FUSE_REPLICA_FS_H_
#define REPLFS_FUSE_REPLICA_FS_H_

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <atomic>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "fuse/backing_files.h"
#include "fuse/commit_queue.h"
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
        hidden_name(std::move(hidden)), store(metadata),
        recorder(change_recorder), cache_timeout(timeout_seconds) {}

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
  MetadataStore* store;
  ChangeRecorder* recorder;
  double cache_timeout;  // Seconds the kernel may cache entries and attrs.
  bool writeback_cache = true;  // Asked of the kernel at init (-o writeback=).
  fuse_session* session = nullptr;
  // Why file data goes through the daemon, when it does ("" otherwise);
  // decided at INIT.
  std::string fuse_io_reason;
  // Whether the backing file system stamps a change made after a stat with
  // a new ctime however soon it comes (multigrain timestamps: Linux 6.13+
  // on ext4, xfs, btrfs, tmpfs). Then an unchanged (size, mtime, ctime)
  // proves an unchanged file, and a commit can skip rehashing it.
  bool fine_grained_ctime = false;
  std::atomic<uint64_t> commit_failures{0};
  // Called with each path of a file whose last writable handle closed
  // (replication applies remote versions that waited for it).
  std::function<void(const std::string&)> on_write_closed;
  // Local changes hold it shared from their syscall on the backing
  // directory until their record is queued, writable opens until the
  // handle counts as a writer; replication holds it exclusively, and waits
  // for the queued records to land, while it decides and applies a remote
  // entry (see FilesystemHooks::BlockLocalChanges). Lock order: before the
  // store's commit lock. The commit queue's worker never takes it.
  std::shared_mutex local_change_gate;
  std::shared_lock<std::shared_mutex> HoldLocalChange() {
    return std::shared_lock(local_change_gate);
  }
  // Regular files with writable handles open (open_writers > 0), for the
  // IdleCommitter. An inode here cannot be forgotten: the kernel holds it
  // until its RELEASE is answered, and OpRelease takes it out first.
  // Lock order: writing_mu before the store's commit lock and any inode's
  // times_mu or mu; never taken under local_change_gate.
  std::mutex writing_mu;
  std::unordered_set<Inode*> writing;

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

  // Unlink, rmdir and rename hold it shared from their syscall on the
  // backing directory until their record is queued; a commit holds it
  // exclusively while it takes its object's names and queues its record.
  // So the records follow each other as the operations did: without it a
  // commit that raced one (the commit of a plain close runs at RELEASE,
  // after close() returned) recorded a name the operation had just taken
  // away, and a deleted file came back in the store and on every peer.
  // Lock order: after local_change_gate and writing_mu, before the inode
  // table's lock.
  std::shared_mutex names_gate;
  std::shared_lock<std::shared_mutex> HoldNameChange() { return std::shared_lock(names_gate); }

  // Queues the record of `inode`'s state under all the names it has now
  // (see CommitQueue); the job observes it when it runs. For files, uses
  // and clears the inode's dirty blocks. Failures are logged and counted;
  // the start-up scan will pick the change up. Returns the job's ticket (0:
  // nothing to record).
  //
  // `decided_at` is the inode's change_generation that the caller saw when
  // it decided to commit (under Inode::mu, with the state that made it
  // decide). If the inode changed since, nothing is recorded: an O_TRUNC
  // open that came in between has emptied the file while its writer's new
  // content is still in the kernel's page cache (writeback cache), and a
  // commit now would send peers an empty file. The change that moved the
  // generation marked the inode dirty, and its own commit records it.
  CommitQueue::Ticket CommitInode(Inode* inode, uint64_t decided_at);
  // Commits `inode`, unless it is a file open for writing: then marks
  // it changed, and its last writer's close (or the idle committer)
  // commits it, once the writer's data has reached the file.
  CommitQueue::Ticket CommitUnlessBeingWritten(Inode* inode);
  // Queues the record of `path` deleted, and of a rename.
  CommitQueue::Ticket CommitDelete(const std::string& path);
  CommitQueue::Ticket CommitRename(const std::string& from, const std::string& to, bool exchange,
                                   const LocalStat& moved_stat, const LocalStat& exchanged_stat);
  // Waits until every record queued so far is in the store.
  void WaitForCommits() { commits->Drain(); }
  // For a file with writers whose writes the daemon does not see: marks it
  // changed when its backing stat moved since the last look (the idle
  // committer polls these files instead of counting their writes).
  void NoteUnseenWrites(Inode* inode);

  // Joins a parent's path and a child name ("" parent = root).
  std::optional<std::string> ChildPath(Inode* parent, const char* name);

  // Last: its worker runs queued records against everything above, and
  // finishes them before the rest goes.
  std::unique_ptr<CommitQueue> commits = std::make_unique<CommitQueue>();

 private:
  void RecordInode(Inode* inode, const std::vector<std::string>& paths, uint64_t decided_at);
};

ReplicaFs* FsOf(fuse_req_t req);

// Replaces the atime in `st` (a fresh stat of `inode`) by the one from
// before a commit that is reading the file right now: the daemon's own read
// is not an access (see RestoreAtime in replica_fs.cc).
void HideCommitRead(Inode* inode, struct stat* st);

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
