#ifndef REPLFS_TOOLS_CONFLICT_RESTORE_H_
#define REPLFS_TOOLS_CONFLICT_RESTORE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "replfs.pb.h"

namespace replfs {

// Conflict copies live in STATE_DIR/conflicts/ (invisible in the mount).
// Restoring one means copying it over the path through the mount, so the
// restore is an ordinary change that replicates as a new version.

// "PATH@VERSION", which --restore accepts to pick one of several copies.
std::string ConflictName(const ConflictCopy& conflict);
// Absolute path of the kept copy.
std::string ConflictSource(const std::string& state_dir, const ConflictCopy& conflict);
// Where a restore writes: MOUNTPOINT/PATH.
std::string ConflictDestination(const std::string& mountpoint, const ConflictCopy& conflict);
// The shell command that restores it by hand.
std::string RestoreCommand(const std::string& state_dir, const std::string& mountpoint,
                           const ConflictCopy& conflict);

// Finds the copy `spec` names: "PATH" (only if exactly one copy of PATH is
// kept) or "PATH@VERSION".
absl::StatusOr<ConflictCopy> FindConflict(const std::vector<ConflictCopy>& conflicts,
                                          const std::string& spec);

// Copies the kept copy over MOUNTPOINT/PATH (through the mount).
absl::Status RestoreConflict(const std::string& state_dir, const std::string& mountpoint,
                             const ConflictCopy& conflict);

}  // namespace replfs

#endif  // REPLFS_TOOLS_CONFLICT_RESTORE_H_
