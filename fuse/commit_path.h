#ifndef REPLFS_FUSE_COMMIT_PATH_H_
#define REPLFS_FUSE_COMMIT_PATH_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "fuse/commit_queue.h"
#include "fuse/gate.h"
#include "fuse/inode_table.h"
#include "fuse/unsettled_keep.h"
#include "storage/change_recorder.h"
#include "storage/metadata_store.h"
#include "storage/version_keeper.h"

namespace replfs {

// How a local change made through the mount reaches the store: the FUSE
// operations change the backing directory and queue a record of what they
// did; one worker runs the records in the order they were queued (see
// CommitQueue), observing the objects as they are when it runs.
//
// Lock order, for everything on the local change path (clang's
// thread-safety analysis checks the annotated parts):
//   1. local_change_gate() or writing_mu_ (never both at once: the idle
//      committer holds writing_mu_ over a scan of many files, and
//      replication holds the gate exclusively while it waits for the
//      queue);
//   2. names_gate();
//   3. an inode's InPlaceKeep::mu() (held while a keep copies the file);
//   4. the inode table's lock;
//   5. an inode's FileWriteState::times_mu(), then its FileWriteState
//      lock, or its io_mu (never two inodes' at once);
//   6. the store's commit lock (MetadataStore), taken by the worker only.
// The commit queue's worker takes none of 1-4.
class CommitPath {
 public:
  using Ticket = CommitQueue::Ticket;

  CommitPath(InodeTable* inodes, MetadataStore* store, ChangeRecorder* recorder)
      : inodes_(inodes), store_(store), recorder_(recorder) {}
  CommitPath(const CommitPath&) = delete;
  CommitPath& operator=(const CommitPath&) = delete;

  // Local changes hold it shared from their syscall on the backing
  // directory until their record is queued, and writable opens until the
  // handle counts as a writer. Replication holds it exclusively while it
  // decides and applies a remote entry (BlockLocalChanges).
  Gate* local_change_gate() ABSL_LOCK_RETURNED(local_change_gate_) { return &local_change_gate_; }
  // Unlink, rmdir, rename and link hold it shared from their syscall until
  // their record is queued; a commit holds it exclusively while it takes
  // its object's names and queues its record. So the records follow each
  // other as the operations did: without it a commit that raced one (the
  // commit of a plain close runs at RELEASE, after close() returned)
  // recorded a name the operation had just taken away, and a deleted file
  // came back in the store and on every peer.
  Gate* names_gate() ABSL_LOCK_RETURNED(names_gate_) { return &names_gate_; }
  // Stops local changes and waits until every record queued so far is in
  // the store; they stay stopped while the returned lock lives.
  std::unique_lock<std::shared_mutex> BlockLocalChanges() ABSL_LOCKS_EXCLUDED(local_change_gate_);

  // Whether the backing file system stamps a change made after a stat with
  // a new ctime however soon it comes (multigrain timestamps): then an
  // unchanged (size, mtime, ctime) proves an unchanged file, and a commit
  // can skip rehashing it. Set before the mount serves requests.
  void set_fine_grained_ctime(bool fine) { fine_grained_ctime_ = fine; }

  // Queues the record of `inode`'s state under all the names it has now;
  // the worker observes it when it runs. For files, uses and clears the
  // dirty blocks. Failures are logged and counted; the start-up scan will
  // pick the change up. Returns the job's ticket (0: nothing to record).
  //
  // `decided_at` is the generation the caller saw when it decided to
  // commit (FileWriteState). If the inode changed since, nothing is
  // recorded: an O_TRUNC open that came in between has emptied the file
  // while its writer's new content is still in the kernel's page cache
  // (writeback cache), and a commit now would send peers an empty file.
  // The change that moved the generation marked the inode changed, and its
  // own commit records it.
  Ticket CommitInode(Inode* inode, uint64_t decided_at) ABSL_LOCKS_EXCLUDED(names_gate_);
  // Commits `inode`, unless it is a file open for writing: then marks it
  // changed, and its last writer's close (or the idle committer) commits
  // it, once the writer's data has reached the file.
  Ticket CommitUnlessBeingWritten(Inode* inode) ABSL_LOCKS_EXCLUDED(names_gate_);
  // Keeps the file versions that local changes take out of the tree
  // (-o keep_versions). Set before the mount serves requests; null: none.
  void set_versions(VersionKeeper* versions) { versions_ = versions; }
  VersionKeeper* versions() const { return versions_; }
  // Whether local changes keep the versions they take out of the tree.
  bool keeps_versions() const { return versions_ != nullptr && versions_->enabled(); }

  // Queues the record of `path` deleted, and of a rename. `kept` is what
  // the operation kept of the file it took away (the deleted file, or the
  // one renamed over): recorded in the change's own transaction, with the
  // entry it had.
  Ticket CommitDelete(const std::string& path, const KeptFile& kept = KeptFile());
  Ticket CommitRename(const std::string& from, const std::string& to, bool exchange,
                      const LocalStat& moved_stat, const LocalStat& exchanged_stat,
                      const KeptFile& replaced_kept = KeptFile());
  // Copies (or clones) the content of the regular file open as `fd`, the
  // object at `path`, aside before the caller truncates it, and queues the
  // record. Nothing when versions are off or the file is empty.
  void KeepBeforeTruncate(int fd, const std::string& path);
  // The same for `inode`, under its first name; nothing either when the
  // file has no name or its content is the one kept last.
  void KeepInodeBeforeTruncate(Inode* inode);
  // At a writable open of `inode` whose writes in place the daemon will
  // not see (passthrough): keeps its content now, and records it once the
  // last writer's close shows that the file changed (UnsettledKeep).
  void KeepInodeForUnseenWrites(Inode* inode);
  // At a writable open of `inode` whose writes the daemon sees: its first
  // write keeps the content before it goes in (KeepBeforeWrite).
  void KeepInodeAtFirstWrite(Inode* inode) ABSL_LOCKS_EXCLUDED(inode->in_place_keep.mu()) {
    absl::MutexLock lock(inode->in_place_keep.mu());
    inode->in_place_keep.ArmForFirstWrite();
  }
  // At an appending open of `inode`: an append leaves the old bytes in
  // place, so a keep still waiting for a change is dropped (or recorded,
  // if an unseen writer has changed the file since).
  void SettleKeepBeforeAppend(Inode* inode);
  // Before a write of `inode` reaches the file: keeps its content first
  // when a writer's open armed it (InPlaceKeep).
  void KeepBeforeWrite(Inode* inode) {
    if (inode->in_place_keep.armed()) KeepArmedBeforeWrite(inode);
  }
  // Waits until the record of `ticket` (and all before it) is in the store.
  void WaitFor(Ticket ticket) { queue_.WaitFor(ticket); }
  // Waits until every record queued so far is in the store.
  void WaitForAll() { queue_.Drain(); }
  size_t Pending() const { return queue_.Pending(); }
  // Times each record from queued to in the store (-o metrics).
  void set_latency(LatencyHistograms* latency) { queue_.set_latency(latency); }
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }

  // Puts a regular file with a new writable handle in the idle committer's
  // set. Not under the local change gate (see the lock order).
  void TrackWriter(Inode* inode) ABSL_LOCKS_EXCLUDED(writing_mu_, local_change_gate_);
  // A writable handle of `inode` closes: commits what it wrote when it is
  // the last writer (`commit`: false when the kernel never saw the
  // handle), and stops counting it. Returns whether it was the last one.
  bool CloseWriter(Inode* inode, bool writes_unseen, bool commit)
      ABSL_LOCKS_EXCLUDED(writing_mu_, local_change_gate_, names_gate_);
  // Commits the files with writers open whose last change is at least
  // `quiet` old (a log appended to for days still reaches the peers), and
  // notices the changes of writers the daemon does not see.
  void CommitQuietFiles(std::chrono::steady_clock::duration quiet)
      ABSL_LOCKS_EXCLUDED(writing_mu_, names_gate_);

 private:
  void RecordInode(Inode* inode, const std::vector<std::string>& paths, uint64_t decided_at);
  void KeepArmedBeforeWrite(Inode* inode);
  // When the record of a keep is made.
  enum class Settle {
    kNow,          // The change it keeps the content for is under way.
    kAtLastClose,  // An open whose writes the daemon will not see.
  };
  void KeepInodeLocked(Inode* inode, KeptBecause reason, Settle settle)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(inode->in_place_keep.mu());
  // Copies `fd`'s content aside and queues its record under `path`.
  void KeepCopy(int fd, const std::string& path, KeptBecause reason);
  // Queues the record of `keep` (nothing when null): the file changed.
  void RecordUnsettled(std::shared_ptr<UnsettledKeep> keep, KeptBecause reason);
  // Whether `inode`'s file is still as `keep` found it (which only
  // fine-grained timestamps prove).
  bool StillAsKept(Inode* inode, const UnsettledKeep& keep) const;
  // The last writer of `inode` closed: records its waiting keep if the
  // file changed since.
  void SettleKeep(Inode* inode) ABSL_LOCKS_EXCLUDED(inode->in_place_keep.mu());
  // Records `path`, one name of the object `fd` (stat'ed as `st`), hashing
  // what `dirty` marks. Returns false when the commit must stop: the inode
  // changed (its blocks handed back) or the record failed (the inode stays
  // changed).
  bool RecordPath(Inode* inode, const std::string& path, int fd, struct stat& st,
                  const DirtyBlocks& dirty, uint64_t decided_at);
  // Records the object at `path` and its subtree where the store lacks them
  // or holds them differently (a rename took them out of the ignored set).
  absl::Status RecordSubtreeAsFound(const std::string& path);
  // Marks the inode changed when a writer the daemon does not see moved
  // its backing stat.
  static void NoteUnseenWrites(Inode* inode);
  void CountFailure() { failures_.fetch_add(1, std::memory_order_relaxed); }

  // Records what a local change kept: in its own transaction (a
  // truncation), or in the change's (KeepingIn).
  void RecordKept(const KeptFile& kept, const std::string& path, KeptBecause reason);
  ChangeRecorder::AlsoInTransaction KeepingIn(const KeptFile& kept, const std::string& path,
                                              KeptBecause reason);
  // Logs a capture that could not keep the content it took away.
  static void NoteNotKept(const KeptFile& kept, const std::string& path);

  InodeTable* inodes_;
  MetadataStore* store_;
  ChangeRecorder* recorder_;
  VersionKeeper* versions_ = nullptr;
  bool fine_grained_ctime_ = false;
  std::atomic<uint64_t> failures_{0};

  Gate local_change_gate_ ABSL_ACQUIRED_BEFORE(names_gate_);
  absl::Mutex writing_mu_ ABSL_ACQUIRED_BEFORE(names_gate_);
  // Regular files with writable handles open, for the idle committer. An
  // inode here cannot be forgotten: the kernel holds it until its RELEASE
  // is answered, and CloseWriter takes it out first.
  absl::flat_hash_set<Inode*> writing_ ABSL_GUARDED_BY(writing_mu_);
  Gate names_gate_;
  // Last: its worker runs queued records against everything above, and
  // finishes them before the rest goes.
  CommitQueue queue_;
};

}  // namespace replfs

#endif  // REPLFS_FUSE_COMMIT_PATH_H_
