#ifndef REPLFS_DAEMON_REPLICATION_WIRING_H_
#define REPLFS_DAEMON_REPLICATION_WIRING_H_

#include <string>

#include "absl/status/statusor.h"
#include "daemon/options.h"
#include "fuse/replica_fs.h"
#include "replication/replicator.h"
#include "storage/state_dir.h"

namespace replfs {

// Replication's configuration: the command line's replication half, the
// node's identity and folders from the state folder, and the credentials
// made from the TLS files. `hidden` is the state folder's name at the
// backing root ("" if it lives elsewhere). Errors are one sentence.
absl::StatusOr<ReplicatorConfig> MakeReplicatorConfig(const Options& options,
                                                      const StateDir& state,
                                                      const std::string& hidden);

// The back-channels between the mounted filesystem and replication besides
// FilesystemHooks (storage/filesystem_hooks.h): the filesystem tells
// replication when a file's last writer closed, and replication's status
// reads the filesystem's figures. Both must outlive the session.
void ConnectFilesystemAndReplication(ReplicaFs* fs, Replicator* replicator);

}  // namespace replfs

#endif  // REPLFS_DAEMON_REPLICATION_WIRING_H_
