#ifndef REPLFS_REPLICATION_APPLY_OPTIONS_H_
#define REPLFS_REPLICATION_APPLY_OPTIONS_H_

#include <cstdint>
#include <string>

#include "replication/entry_validation.h"
#include "storage/ignore_set.h"
#include "storage/version_keeper.h"

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
  uint64_t set_aside = 0;       // Could not be applied here: kept and retried.
  uint64_t partial = 0;         // Applied without something the file system refused.
  uint64_t moved = 0;           // Of those applied: by one rename of their subtree.
  // Claimed a version of this replica's own that it never issued: not applied.
  uint64_t forged = 0;
};

struct ApplierOptions {
  std::string hidden_name;        // State folder's name at the root ("" if outside).
  std::string temp_dir;           // Same filesystem as the backing dir.
  std::string conflicts_dir;
  uint64_t max_clock_ahead_ms = 60000;
  EntryLimits limits;
  // This replica's node id (0: unknown). A remote entry claiming a version
  // of this node newer than any it holds for the path is forged: every
  // version a node issues is committed here first.
  uint64_t node_id = 0;
  // Keep setuid/setgid bits on files from peers (-o allow_setuid). Off, a
  // peer cannot plant a set-id file in the backing directory (which, unlike
  // the mount, is not nosuid).
  bool allow_setuid = false;
  // Paths local to this replica (-o ignore=): entries for them are not
  // applied, and removing a directory leaves them (and it) in place.
  // Null: none. Outlives the applier.
  const IgnoreSet* ignore = nullptr;
  // Keeps the local file versions that applied entries replace or delete,
  // and the losers of conflicts (-o keep_versions). Null: none. Outlives
  // the applier.
  VersionKeeper* versions = nullptr;
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_APPLY_OPTIONS_H_
