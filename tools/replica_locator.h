#ifndef REPLFS_TOOLS_REPLICA_LOCATOR_H_
#define REPLFS_TOOLS_REPLICA_LOCATOR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace replfs {

// Where one replica's admin endpoint is, and what the user named it by.
struct ReplicaLocation {
  std::string target;      // As given (or the mountpoint found in /proc/mounts).
  std::string mountpoint;  // Empty when not known (a state folder was given).
  std::string state_dir;
  std::string admin_socket() const { return state_dir + "/admin.sock"; }
};

// A line of /proc/mounts whose type is fuse.replfs: replfs mounts with
// fsname=BACKING, so the source column is the backing directory.
struct ReplfsMount {
  std::string backing;
  std::string mountpoint;
};

// Parses /proc/mounts text (octal escapes like \040 decoded).
std::vector<ReplfsMount> ParseReplfsMounts(const std::string& proc_mounts);
// Reads /proc/mounts.
std::vector<ReplfsMount> ListReplfsMounts();

// Resolves what the user typed: a replfs mountpoint (found in /proc/mounts;
// its state folder is BACKING/.replfs), a backing directory (with a .replfs
// folder) or a state folder itself. A replica started with a custom
// -o state_dir= is only found by naming that folder (--state-dir=DIR).
absl::StatusOr<ReplicaLocation> LocateReplica(const std::string& target,
                                              const std::vector<ReplfsMount>& mounts);

// One location per replfs mount in `mounts`.
std::vector<ReplicaLocation> LocateAllMounted(const std::vector<ReplfsMount>& mounts);

}  // namespace replfs

#endif  // REPLFS_TOOLS_REPLICA_LOCATOR_H_
