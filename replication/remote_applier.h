#ifndef REPLFS_REPLICATION_REMOTE_APPLIER_H_
#define REPLFS_REPLICATION_REMOTE_APPLIER_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "entry.pb.h"
#include "replication/block_fetcher.h"
#include "replication/conflict_keeper.h"
#include "replication/entry_validation.h"
#include "replication/filesystem_hooks.h"
#include "storage/hlc.h"
#include "storage/metadata_store.h"

namespace replfs {

// What applying entries did, for status and tests.
struct ApplyStats {
  uint64_t received = 0;
  uint64_t applied = 0;         // Won and changed something.
  uint64_t ignored = 0;         // Lost (or equal): nothing changed, nothing logged.
  uint64_t deferred = 0;        // Won, but the file is open for writing here.
  uint64_t conflicts = 0;       // Local concurrent versions kept as conflict copies.
  uint64_t blocks_fetched = 0;
  uint64_t block_bytes_fetched = 0;
  uint64_t blocks_reused = 0;   // Found locally by hash: no transfer.
};

struct ApplierOptions {
  std::string hidden_name;        // State folder's name at the root ("" if outside).
  std::string temp_dir;           // Same filesystem as the backing dir.
  std::string conflicts_dir;
  uint64_t max_clock_ahead_ms = 60000;
  EntryLimits limits;
};

// Applies entries received from peers to the backing directory and the
// store, by the convergence contract (DESIGN.md): per register, the higher
// version wins; a losing or equal entry changes nothing and logs nothing.
// Winning content is built in a temporary file (blocks found locally by
// hash, the rest fetched and verified), given its attributes, renamed into
// place, committed, and the kernel cache invalidated. Thread-safe: applies
// are serialized.
class RemoteApplier {
 public:
  RemoteApplier(int root_fd, MetadataStore* store, HybridLogicalClock* clock,
                FilesystemHooks* hooks, ApplierOptions options);

  // Validates every entry first (one bad entry rejects the whole batch, and
  // nothing of it is applied), then applies live entries parents-first and
  // tombstones children-first, so a rename's new names are built from the
  // old ones before those are removed.
  absl::Status ApplyBatch(const std::vector<Entry>& entries, BlockFetcher* fetcher,
                          ApplyStats* stats);

  // Applies entries that waited for `path` to be closed (all when empty).
  absl::Status RetryDeferred(const std::string& path, BlockFetcher* fetcher, ApplyStats* stats);

  ConflictKeeper& conflicts() { return conflicts_; }

 private:
  enum class Outcome { kIgnored, kApplied, kDeferred };
  absl::StatusOr<Outcome> ApplyOne(const Entry& remote, BlockFetcher* fetcher, ApplyStats* stats)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  int root_fd_;
  MetadataStore* store_;
  HybridLogicalClock* clock_;
  FilesystemHooks* hooks_;
  ApplierOptions options_;
  ConflictKeeper conflicts_;
  absl::Mutex mu_;
  uint64_t temp_counter_ ABSL_GUARDED_BY(mu_) = 0;
};

// The attribute register a replica ends up with: the higher version, when
// both describe a live object of the same kind; otherwise the one that came
// with the winning content.
const Attributes& MergedAttributes(const Entry& winner, const Entry* other);

// Deferred entries: D/<path> -> Entry.
std::string DeferredKey(absl::string_view path);

}  // namespace replfs

#endif  // REPLFS_REPLICATION_REMOTE_APPLIER_H_
