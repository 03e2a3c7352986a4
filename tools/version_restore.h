#ifndef REPLFS_TOOLS_VERSION_RESTORE_H_
#define REPLFS_TOOLS_VERSION_RESTORE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "entry.pb.h"
#include "tools/replica_locator.h"

namespace replfs {

// Putting kept file versions back. Every change goes through the mount, so
// a restore is an ordinary change: it is recorded, replicates to the peers
// as a new version, and keeps what it replaces as a version in turn.

// A path inside a mounted replica.
struct MountedPath {
  ReplicaLocation location;  // The replica mounted there.
  std::string absolute;      // Absolute and lexically normal.
  std::string relative;      // As the replica names it: no leading slash, "" for the mount root.
};

// The replfs mount holding `path` (made absolute and lexically normal, not
// resolved: a deleted file no longer exists), the deepest one when mounts
// nest. A path reached through a symlink outside the mounts is resolved
// from its nearest existing ancestor. NotFound when no replfs mount holds it.
absl::StatusOr<MountedPath> ResolveMountedPath(const std::string& path,
                                               const std::vector<ReplfsMount>& mounts);

// Copies the kept file at `kept_path` over MOUNTPOINT/PATH (PATH is the
// record's), creating missing parent directories (0755): written to a
// temporary name in the same directory with the record's mode and mtime,
// synced, then renamed over the destination, so that readers see the old
// file or the restored one, never a mix. The temporary file is removed on
// any failure. A replaced file's owner is kept.
absl::Status RestoreVersion(const std::string& mountpoint, const VersionRecord& version,
                            const std::string& kept_path);

// Unlinks MOUNTPOINT/PATH (a file created after the time restored to); a
// path already gone is fine.
absl::Status RemoveCreatedSince(const std::string& mountpoint, const std::string& path);

// Removes the directory MOUNTPOINT/PATH if it is empty. Returns whether it
// was removed (false: not empty, or already gone).
absl::StatusOr<bool> RemoveDirectoryIfEmpty(const std::string& mountpoint,
                                            const std::string& path);

}  // namespace replfs

#endif  // REPLFS_TOOLS_VERSION_RESTORE_H_
