#ifndef REPLFS_STORAGE_CHANGE_RECORDER_H_
#define REPLFS_STORAGE_CHANGE_RECORDER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "storage/hlc.h"
#include "storage/ignore_set.h"
#include "storage/metadata_store.h"
#include "storage/object_observer.h"

namespace replfs {

// Turns local changes into versioned entries in the store. It owns the rules
// for local versioning: a changed content register gets a fresh HLC version
// and this node's vector counter bumped; a changed attribute register gets
// its own fresh version; an unchanged object only refreshes its local stat.
// Thread-safe (the store serializes commits).
class ChangeRecorder {
 public:
  ChangeRecorder(MetadataStore* store, HybridLogicalClock* clock, uint64_t node_id)
      : store_(store), clock_(clock), node_id_(node_id) {}

  // Records the current state of the object at `path`. Returns whether a new
  // version was committed.
  // `hlc`, when given, is the version's timestamp instead of the clock's
  // now (the start-up scan of a rebuilt store dates objects by mtime).
  absl::StatusOr<bool> RecordObject(absl::string_view path, const ObservedObject& observed,
                                    std::optional<uint64_t> hlc = std::nullopt);

  // Runs in a delete's or a rename's own transaction, given the entry the
  // path taken out of the tree held before: what else the change writes
  // (the record of the version kept aside) commits with it, or not at all.
  using AlsoInTransaction =
      std::function<void(StoreTransaction& txn, const std::optional<Entry>& before)>;

  // Records that `path` (and anything recorded beneath it) no longer exists.
  absl::Status RecordDelete(absl::string_view path, const AlsoInTransaction& also = nullptr);

  // Records `from` moved to `to` as one atomic batch: tombstones for `from`
  // and its subtree, entries at `to` carrying the same content (so receivers
  // move no data), one version for all. With `exchange`, both sides swap.
  // `moved_stat`/`exchanged_stat` are the local stats of the objects now at
  // `to` and `from` (rename changes ctime).
  // `also_at_to` is given what `to` held before.
  absl::Status RecordRename(absl::string_view from, absl::string_view to, bool exchange,
                            const LocalStat& moved_stat, const LocalStat* exchanged_stat,
                            const AlsoInTransaction& also_at_to = nullptr);

  // After `path` stopped existing here (deleted, or renamed away): an
  // ancestor that was kept on disk only because it had live descendants
  // (its own entry says tombstone or file) and now has none left is
  // recorded as the directory it is. Without this the store and the disk
  // disagree until the next start-up scan. `root_fd` is the backing root.
  absl::Status RecordUncoveredAncestors(int root_fd, absl::string_view path);

  uint64_t node_id() const { return node_id_; }

  // Paths local to this replica (-o ignore=): nothing is recorded for them,
  // and what the store holds of them from before stays as it is. A rename
  // into them records a delete. Set before the first record; outlives this.
  void set_ignore_patterns(const IgnoreSet* patterns) { ignore_ = patterns; }
  // Whether `path` (a directory when `is_dir`) is local to this replica.
  bool Ignored(absl::string_view path, bool is_dir) const {
    return ignore_ != nullptr && ignore_->Ignored(path, is_dir);
  }
  bool ignores_anything() const { return ignore_ != nullptr && !ignore_->empty(); }

 private:

  MetadataStore* store_;
  HybridLogicalClock* clock_;
  uint64_t node_id_;
  const IgnoreSet* ignore_ = nullptr;
};

}  // namespace replfs

#endif  // REPLFS_STORAGE_CHANGE_RECORDER_H_
