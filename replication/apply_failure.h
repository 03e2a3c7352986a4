#ifndef REPLFS_REPLICATION_APPLY_FAILURE_H_
#define REPLFS_REPLICATION_APPLY_FAILURE_H_

#include "absl/status/status.h"
#include "entry.pb.h"

namespace replfs {

// Whom an error met while applying one remote entry concerns, which decides
// what the applier does next (issue 10: no entry may stop a peer's stream
// for good).
enum class FailureScope {
  // This entry, on this replica: the file system cannot store it (a name or
  // an mtime it refuses, a file larger than it holds), or the peer no
  // longer serves its blocks. The entry is set aside and the batch goes on.
  kEntry,
  // The peer sent what no honest replica sends (blocks that do not match
  // their hashes, an entry that fails validation): the batch is refused,
  // counted and the stream dropped.
  kPeer,
  // Nothing about this entry: the disk is full, the store failed, the peer
  // went away. The batch stops and is pulled again later.
  kTransient,
};

// Marks `status` as the peer's fault, or as this entry's.
absl::Status PeerFault(absl::Status status);
absl::Status EntryFault(absl::Status status);
bool IsPeerFault(const absl::Status& status);

FailureScope ScopeOf(const absl::Status& status);

// `s`, prefixed with the entry it met applying ("apply <path>: ").
absl::Status InEntry(const Entry& e, const absl::Status& s);

}  // namespace replfs

#endif  // REPLFS_REPLICATION_APPLY_FAILURE_H_
