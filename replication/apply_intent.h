#ifndef REPLFS_REPLICATION_APPLY_INTENT_H_
#define REPLFS_REPLICATION_APPLY_INTENT_H_

#include "absl/status/statusor.h"
#include "storage/metadata_store.h"

namespace replfs {

struct IntentRecovery {
  int finished = 0;   // The change had reached the disk: its commit was made now.
  int abandoned = 0;  // It had not: the peer sends the entry again.
};

// Settles the applies a killed process left half done (an ApplyIntents
// record whose change may or may not have reached the backing directory). Run at start,
// before the scan: a change that reached the disk is committed as the remote
// entry it was, instead of being seen by the scan as a new local edit.
absl::StatusOr<IntentRecovery> RecoverInterruptedApplies(int root_fd, MetadataStore* store);

}  // namespace replfs

#endif  // REPLFS_REPLICATION_APPLY_INTENT_H_
