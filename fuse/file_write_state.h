#ifndef REPLFS_FUSE_FILE_WRITE_STATE_H_
#define REPLFS_FUSE_FILE_WRITE_STATE_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "fuse/change_stamp.h"
#include "storage/dirty_blocks.h"

namespace replfs {

// What the commit path knows of one inode's changes since its last commit:
// the blocks written, whether anything needs a commit, the writable handles
// open, and a generation that every change moves. A commit decides at a
// generation and records only if the generation still holds when it has
// read the object (see CommitPath::CommitInode): a change racing the
// commit's read makes it give up, and the change's own commit records the
// object once whole.
//
// Thread-safe. Lock order: times_mu() before the state's own mutex; the
// state's mutex is a leaf (nothing else is taken under it).
class FileWriteState {
 public:
  using Clock = std::chrono::steady_clock;

  FileWriteState() = default;
  FileWriteState(const FileWriteState&) = delete;
  FileWriteState& operator=(const FileWriteState&) = delete;

  // Serializes a commit of the inode with explicit time changes (utimens),
  // so that a commit putting atime back never undoes a user's utimens.
  absl::Mutex* times_mu() ABSL_LOCK_RETURNED(times_mu_) { return &times_mu_; }

  // ---- Writers (open and release) ----

  // Counts a writable handle. One that empties the file (`truncating`) or
  // whose writes the daemon will not see (`writes_unseen`, stat'ed as
  // `st` when opened) marks the whole file changed.
  void CountWriter(bool truncating, bool writes_unseen, const struct stat& st)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Undoes CountWriter for an open that failed.
  void UncountWriter(bool writes_unseen) ABSL_LOCKS_EXCLUDED(mu_);
  struct ClosedWriter {
    bool last_writer = false;
    // The generation to commit at, when the close must record the file: it
    // changed, and no other writer has it open (the next writer's O_TRUNC
    // open may already have emptied it; that writer's close records it).
    std::optional<uint64_t> commit_at;
  };
  // Stops counting a writable handle that closes. A writer whose writes
  // went past the daemon marks the whole file changed first.
  ClosedWriter CloseWriter(bool writes_unseen) ABSL_LOCKS_EXCLUDED(mu_);
  bool HasOpenWriters() const ABSL_LOCKS_EXCLUDED(mu_);
  bool HasUnseenWriters() const ABSL_LOCKS_EXCLUDED(mu_);

  // ---- Changes ----

  // Marks `length` bytes at `offset` about to be written. Before the
  // write, not after: a commit that read the file while the write was
  // under way must see the change when it checks, or it would record the
  // file half written. A short or failed write leaves extra blocks marked:
  // they are only hashed again.
  void MarkWritten(uint64_t offset, uint64_t length) ABSL_LOCKS_EXCLUDED(mu_);
  // Marks a size change from `old_size` to `new_size`, before it is made.
  void MarkResized(uint64_t old_size, uint64_t new_size) ABSL_LOCKS_EXCLUDED(mu_);
  // Marks a change of mode, owner, times or xattrs, before it is made (as
  // MarkWritten). A commit decided earlier then gives up, and the commit
  // this change queues records the object: a record never shows a change
  // ahead of the operations that came before it, so the change log keeps
  // the order of the operations across paths.
  void MarkMetadataChanging() ABSL_LOCKS_EXCLUDED(mu_);
  // Compares the backing file's stat with the one seen last (for writers
  // whose writes the daemon does not see) and marks the whole file changed
  // when it moved. Does nothing once no such writer is open.
  void NoteStat(const struct stat& st) ABSL_LOCKS_EXCLUDED(mu_);

  // ---- Commit decisions ----

  // The generation to commit at now, or nullopt when `regular_file` has a
  // writer open: then the change is noted, and the last writer's close (or
  // the idle committer) commits it once the writer's data is in the file.
  std::optional<uint64_t> GenerationUnlessBeingWritten(bool regular_file)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The generation to commit at when something changed since the last
  // commit (fsync).
  std::optional<uint64_t> GenerationIfChanged() const ABSL_LOCKS_EXCLUDED(mu_);
  // The same, once the last change is at least `quiet` old at `now` (the
  // idle committer).
  std::optional<uint64_t> GenerationIfQuiet(Clock::time_point now, Clock::duration quiet) const
      ABSL_LOCKS_EXCLUDED(mu_);
  bool Changed() const ABSL_LOCKS_EXCLUDED(mu_);

  // ---- A commit at work ----

  // Takes the blocks to hash for a commit decided at `decided_at`, and
  // clears the change; nullopt if the inode changed since the decision.
  std::optional<DirtyBlocks> TakeForCommit(uint64_t decided_at) ABSL_LOCKS_EXCLUDED(mu_);
  // Hands `dirty` back and returns true when the inode changed since
  // `decided_at`: what the commit read may be torn.
  bool GiveBackIfChangedSince(uint64_t decided_at, const DirtyBlocks& dirty)
      ABSL_LOCKS_EXCLUDED(mu_);
  // A commit failed: the next one hashes everything rather than trust
  // partial state.
  void KeepChangedAfterFailure() ABSL_LOCKS_EXCLUDED(mu_);
  // While a commit reads the file (which moves its atime until the commit
  // puts it back), stats report `atime` instead (HideCommitRead).
  void BeginCommitRead(const struct timespec& atime) ABSL_LOCKS_EXCLUDED(mu_);
  void EndCommitRead() ABSL_LOCKS_EXCLUDED(mu_);
  // Replaces the atime of a fresh stat of the inode by the one from before
  // a commit that is reading the file right now.
  void HideCommitRead(struct stat* st) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void MarkChangedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkAllChangedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex times_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  DirtyBlocks dirty_ ABSL_GUARDED_BY(mu_);     // Blocks written since the last commit.
  bool changed_ ABSL_GUARDED_BY(mu_) = false;  // Something needs a commit.
  Clock::time_point last_change_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  int open_writers_ ABSL_GUARDED_BY(mu_) = 0;
  // Writers whose writes the daemon does not see (passthrough without
  // FOPEN_DIRECT_IO), and the backing stat seen last while there are any.
  int unseen_writers_ ABSL_GUARDED_BY(mu_) = 0;
  ChangeStamp polled_ ABSL_GUARDED_BY(mu_);
  bool commit_reading_ ABSL_GUARDED_BY(mu_) = false;
  struct timespec atime_before_commit_ ABSL_GUARDED_BY(mu_) {};
};

}  // namespace replfs

#endif  // REPLFS_FUSE_FILE_WRITE_STATE_H_
