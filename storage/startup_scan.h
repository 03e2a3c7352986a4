#ifndef REPLFS_STORAGE_STARTUP_SCAN_H_
#define REPLFS_STORAGE_STARTUP_SCAN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "storage/change_recorder.h"
#include "storage/metadata_store.h"

namespace replfs {

struct ScanReport {
  uint64_t objects_seen = 0;
  uint64_t rehashed = 0;        // Local stat differed: content re-read.
  uint64_t committed = 0;       // New versions written.
  uint64_t deleted = 0;         // Entries whose object is gone: tombstoned.
  uint64_t skipped = 0;         // Objects that cannot replicate (devices, sockets).
  uint64_t ignored = 0;         // Objects local to this replica (-o ignore=), not looked into.
  // Directories deleted (tombstoned) that stay only for the ignored
  // objects inside them: not recorded again.
  uint64_t kept_for_ignored = 0;
};

// Brings the store in line with the backing directory after a crash or an
// edit made behind replfs's back. Walks the tree depth-first (memory bounded
// by depth, not size), compares each object's local stat with its entry and
// re-observes only those that differ; then walks the store and tombstones
// entries whose object is gone. Paths the recorder ignores are neither
// looked into nor tombstoned: their entries keep their last replicated
// state. `hidden_name` is the state folder's name at the root when it
// lives inside the backing directory ("" if not).
//
// With `rebuilding` (the store is new but the backing directory is not:
// first start over an existing tree, or a lost state folder), objects are
// versioned by their mtime rather than now, so that any newer change a
// peer holds wins over this replica's possibly stale copy instead of being
// overwritten by it.
absl::StatusOr<ScanReport> ScanBackingDirectory(int root_fd, const std::string& hidden_name,
                                                MetadataStore* store, ChangeRecorder* recorder,
                                                bool rebuilding = false);

// Records the object at `path` and what is beneath it as the start-up scan
// would, without looking for vanished entries: for an object that left the
// ignored set by a rename, so that it replicates from then on. Objects the
// store already holds with the same local stat cost a stat each.
absl::StatusOr<ScanReport> ScanSubtree(int root_fd, const std::string& path,
                                       MetadataStore* store, ChangeRecorder* recorder);

}  // namespace replfs

#endif  // REPLFS_STORAGE_STARTUP_SCAN_H_
