#ifndef REPLFS_REPLICATION_APPLY_INTENT_H_
#define REPLFS_REPLICATION_APPLY_INTENT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "entry.pb.h"
#include "storage/metadata_store.h"

namespace replfs {

// A/<path> -> ApplyIntent: the remote entry being applied at `path`.
std::string IntentKey(absl::string_view path);

struct IntentRecovery {
  int finished = 0;   // The change had reached the disk: its commit was made now.
  int abandoned = 0;  // It had not: the peer sends the entry again.
};

// Settles the applies a killed process left half done (an A/ record whose
// change may or may not have reached the backing directory). Run at start,
// before the scan: a change that reached the disk is committed as the remote
// entry it was, instead of being seen by the scan as a new local edit.
absl::StatusOr<IntentRecovery> RecoverInterruptedApplies(int root_fd, MetadataStore* store);

}  // namespace replfs

#endif  // REPLFS_REPLICATION_APPLY_INTENT_H_
