#ifndef REPLFS_REPLICATION_CONFLICT_KEEPER_H_
#define REPLFS_REPLICATION_CONFLICT_KEEPER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "entry.pb.h"
#include "storage/metadata_store.h"
#include "storage/version_keeper.h"

namespace replfs {

// Keeps losing concurrent versions of files in the state folder's
// conflicts/ directory (never visible in the mount), recorded in the store
// (ConflictRecords), capped in number (oldest dropped first).
class ConflictKeeper {
 public:
  ConflictKeeper(MetadataStore* store, std::string conflicts_dir, size_t max_copies = 1000)
      : store_(store), conflicts_dir_(std::move(conflicts_dir)), max_copies_(max_copies) {}

  // Saves the content of the local file `name` in `parent_fd`, whose entry is
  // `loser`, as beaten by `winner`. Hard-links when it can (the loser is about
  // to be replaced by rename, not rewritten), copies otherwise. Queues the
  // record in `txn`.
  absl::Status Keep(int parent_fd, const std::string& name, const Entry& loser,
                    const Version& winner, StoreTransaction& txn);

  // Every record kept. DataLossError when one does not parse.
  absl::StatusOr<std::vector<ConflictRecord>> List() const;

  // Copies a conflict copy back into the tree at `destination` (an absolute
  // path, normally inside the mount so that the restore replicates).
  absl::Status Restore(const ConflictRecord& record, const std::string& destination) const;

  const std::string& directory() const { return conflicts_dir_; }

  // Also keeps each loser as a file version (-o keep_versions): a link to
  // the same copy, listed and restored like any other version. Null: no.
  void set_versions(VersionKeeper* versions) { versions_ = versions; }

  // Where the conflicts folder is relative to the backing root (e.g.
  // ".replfs/conflicts"), when it is beneath it. Copies are then listed in
  // the store's block index, so the replica can still serve (and reuse) the
  // blocks of a version it holds only as a copy.
  void set_root_relative_dir(std::string dir) { root_relative_dir_ = std::move(dir); }

 private:
  absl::Status Prune(StoreTransaction& txn);
  // Adds or removes the block index keys of a copy (non-inline files only).
  void IndexCopy(const ConflictRecord& record, bool add, StoreTransaction& txn);
  MetadataStore* store_;
  std::string conflicts_dir_;
  size_t max_copies_;
  std::string root_relative_dir_;
  VersionKeeper* versions_ = nullptr;
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_CONFLICT_KEEPER_H_
