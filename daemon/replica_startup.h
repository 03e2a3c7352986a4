#ifndef REPLFS_DAEMON_REPLICA_STARTUP_H_
#define REPLFS_DAEMON_REPLICA_STARTUP_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"
#include "daemon/options.h"
#include "storage/change_recorder.h"
#include "storage/hlc.h"
#include "storage/ignore_set.h"
#include "storage/metadata_store.h"
#include "storage/state_dir.h"
#include "storage/version_keeper.h"

namespace replfs {

// A replica's persistent half, opened and brought up to date with the
// backing directory before anything is mounted or served. Not movable: the
// recorder points at the clock.
struct OpenedReplica {
  std::unique_ptr<StateDir> state;
  std::unique_ptr<MetadataStore> store;
  HybridLogicalClock clock;
  std::unique_ptr<ChangeRecorder> recorder;
  UniqueFd root_fd;     // O_PATH of the backing directory; the filesystem takes it.
  std::string hidden;   // The state folder's name at the backing root, or "".
  IgnoreSet ignore;  // -o ignore=: the recorder and the applier consult it.
  // Keeps the file versions changes take out of the tree (-o keep_versions).
  std::unique_ptr<VersionKeeper> versions;
};

// The retention -o keep_versions and -o versions_max ask for, a cap given
// as a share resolved against the size of the file system at `backing`.
VersionPolicy VersionPolicyOf(const ReplicationOptions& replication, const std::string& backing);

// Opens the state folder and store, finishes applies the last process was
// killed in the middle of, and scans the backing directory for changes made
// while nothing was mounted (ignored paths left alone). Errors are one
// sentence for the operator.
absl::StatusOr<std::unique_ptr<OpenedReplica>> OpenReplica(const Options& options);

}  // namespace replfs

#endif  // REPLFS_DAEMON_REPLICA_STARTUP_H_
