#ifndef REPLFS_STORAGE_VERSION_KEEPER_H_
#define REPLFS_STORAGE_VERSION_KEEPER_H_

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"
#include "entry.pb.h"
#include "storage/metadata_store.h"
#include "storage/version_records.h"

namespace replfs {

// How long and how much of the old file versions to keep
// (-o keep_versions, -o versions_max).
struct VersionPolicy {
  uint32_t keep_days = 7;  // 0: keep nothing.
  uint64_t max_bytes = 0;  // Cap on the kept bytes; 0: no cap but free space.
  // The largest file copied aside before a truncation where the file
  // system cannot clone (ext4): a copy costs its size in writes.
  uint64_t copy_max_bytes = 64ull << 20;
};

// What a capture produced: a file under versions/ named `id`, or, with
// `id` empty, why nothing could be kept.
struct KeptFile {
  std::string id;
  std::string not_kept_reason;
  int64_t kept_unix_ms = 0;
  uint64_t size = 0;
  uint32_t mode = 0;
  int64_t mtime_ns = 0;
  bool symlink = false;  // A symbolic link, kept as one.
  bool kept() const { return !id.empty(); }
};

// Keeps the file versions that changes take out of the tree (deleted,
// renamed over, truncated, replaced by a peer, the loser of a conflict) in
// the state folder's versions/, recorded in the store (VersionRecords), so
// that `replfs-status --restore` can put them back. Keeping costs about
// nothing on the write path: a deleted or replaced inode is moved or linked
// aside, never copied; only a truncation copies (or clones) its file.
//
// A pruner thread drops versions past their age, past the byte cap (oldest
// first), and whenever the file system's free space falls below a
// watermark: kept versions give way to users' writes. A failure to keep a
// version never fails the user's operation; it is recorded as not kept.
//
// Thread-safe.
class VersionKeeper {
 public:
  // Opens (creating) `directory`, which must be on the backing file system
  // for moves and links to work.
  static absl::StatusOr<std::unique_ptr<VersionKeeper>> Open(MetadataStore* store,
                                                             std::string directory,
                                                             VersionPolicy policy);
  ~VersionKeeper();
  VersionKeeper(const VersionKeeper&) = delete;
  VersionKeeper& operator=(const VersionKeeper&) = delete;

  // Read on every unlink and rename: no lock.
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
  VersionPolicy policy() const ABSL_LOCKS_EXCLUDED(mu_);
  // A reload's new retention: applies at the next prune.
  void SetPolicy(const VersionPolicy& policy) ABSL_LOCKS_EXCLUDED(mu_);
  const std::string& directory() const { return directory_; }
  std::string KeptPath(absl::string_view id) const;

  // Captures. Each returns a KeptFile whose `id` is empty when nothing
  // was kept (versions off, neither a regular file nor a symbolic link, or
  // the move failed).
  //
  // `st` is the caller's stat of the name: a move or a link changes
  // none of what a version records of it (size, mode, mtime).
  //
  // Moves the regular file or symbolic link `name` of `parent_fd` aside
  // instead of unlinking it: to the tree the name is gone as after
  // unlink(2).
  KeptFile MoveAside(int parent_fd, const char* name, const struct stat& st);
  // Links the regular file or symbolic link `name` of `parent_fd` aside
  // (the link itself, not its target), before a rename over it or its
  // removal.
  KeptFile LinkAside(int parent_fd, const char* name, const struct stat& st);
  // Clones the content of the regular file open as `fd` aside before a
  // truncation (FICLONE), or copies it where the file system cannot clone
  // and it is at most copy_max_bytes.
  KeptFile CopyAside(int fd);
  // Removes what a capture kept for a change that did not happen.
  void Discard(const KeptFile& kept);

  // Queues the record of `kept`, the content `path` had as `before` (its
  // entry before the change, if any), taken out by `changed_by`'s change.
  // A change whose content was not kept is recorded too, so a restore
  // knows the path existed then.
  void Queue(StoreTransaction& txn, const KeptFile& kept, absl::string_view path,
             const std::optional<Entry>& before, KeptBecause reason, uint64_t changed_by);
  // Queue in a transaction of its own, with `path`'s entry read from the
  // store (the local change path records before it commits the change).
  absl::Status Record(const KeptFile& kept, absl::string_view path, KeptBecause reason,
                      uint64_t changed_by);

  struct Totals {
    uint64_t kept = 0;      // Records with a kept file.
    uint64_t bytes = 0;     // Their sizes.
    uint64_t not_kept = 0;  // Records of changes whose content was not kept.
  };
  Totals totals() const ABSL_LOCKS_EXCLUDED(mu_);

  // Drops versions past their age and, oldest first, past the cap and
  // while free space is below the watermark. Returns how many it dropped.
  absl::StatusOr<uint64_t> Prune(int64_t now_unix_ms) ABSL_LOCKS_EXCLUDED(prune_mu_);
  // Drops the oldest versions until `bytes_needed` more than the
  // watermark is free (a write failed with ENOSPC). Returns whether
  // `bytes_needed` are free now (a write worth trying again).
  bool MakeRoom(uint64_t bytes_needed) ABSL_LOCKS_EXCLUDED(prune_mu_);
  // Removes files in versions/ that no record names (a crash between a
  // capture and its record, or between a prune's commit and its unlink).
  absl::StatusOr<uint64_t> SweepUnrecorded() ABSL_LOCKS_EXCLUDED(prune_mu_);

  // Runs SweepUnrecorded once, then Prune every `period`, on a thread of
  // its own until destruction.
  void StartPruner(absl::Duration period = absl::Seconds(1));

 private:
  VersionKeeper(MetadataStore* store, std::string directory, UniqueFd dir_fd,
                VersionPolicy policy);
  std::string NewId(int64_t now_unix_ms);
  // Puts the regular file `st` aside under a fresh id by `place` (0 or -1
  // with errno, as the syscall), trying another id when one is taken;
  // `what` names the step in a not-kept reason.
  KeptFile PlaceAside(const struct stat& st, absl::string_view what,
                      const std::function<int(const char* id)>& place);
  // How many bytes free space on the versions' file system lacks to reach
  // the watermark under which kept versions give way to users' writes.
  uint64_t SpaceShortfall(uint64_t bytes_needed = 0) const;
  // What a drop test sees of the oldest record not yet dropped.
  struct DropState {
    int64_t kept_unix_ms = 0;
    uint64_t bytes_left = 0;  // Kept bytes if this batch's victims go.
    uint64_t freed = 0;       // Bytes of this batch's victims so far.
    uint64_t shortfall = 0;   // SpaceShortfall(bytes_needed) when the batch began.
  };
  using DropTest = std::function<bool(const DropState&)>;
  // How a drop orders its two steps.
  enum class DropOrder {
    kRecordsFirst,  // A crash leaves files no record names: swept at start.
    // For a write that the full disk cut short: the store may have no
    // room for the records' deletion until the files are gone. A crash
    // leaves records whose files are gone: dropped at start (LoadTotals).
    kFilesFirst,
  };
  // Drops the oldest records while `more` says so; returns how many.
  absl::StatusOr<uint64_t> DropWhile(const DropTest& more, uint64_t bytes_needed = 0,
                                     DropOrder order = DropOrder::kRecordsFirst)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(prune_mu_);
  // Removes the kept files of `victims` and takes them out of the totals.
  void RemoveKeptFiles(const std::vector<VersionRecords::Aged>& victims)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Counts the records into the totals. A record naming a kept file that
  // is gone (a crash inside a kFilesFirst drop) is not counted but deleted,
  // now or, when the store refuses, by the pruner.
  absl::Status LoadTotals() ABSL_LOCKS_EXCLUDED(prune_mu_, mu_);
  // Whether the record `aged` indexes names a kept file (rather than
  // recording a change whose content was not kept).
  absl::StatusOr<bool> NamesAKeptFile(const VersionRecords::Aged& aged) const;
  void PrunerLoop(absl::Duration period);

  MetadataStore* store_;
  const std::string directory_;
  const UniqueFd dir_fd_;
  std::atomic<uint64_t> next_serial_;

  mutable absl::Mutex mu_;
  VersionPolicy policy_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> enabled_;  // policy_.keep_days > 0
  Totals totals_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  absl::Mutex prune_mu_ ABSL_ACQUIRED_BEFORE(mu_);  // One prune at a time.
  // Records whose files are gone but whose deletion the full store refused
  // (in a kFilesFirst drop, or at start): deleted by the next drop that
  // commits.
  std::vector<VersionRecords::Aged> files_gone_ ABSL_GUARDED_BY(prune_mu_);
  std::thread pruner_;
};

}  // namespace replfs

#endif  // REPLFS_STORAGE_VERSION_KEEPER_H_
