#ifndef REPLFS_REPLICATION_TOMBSTONE_PURGER_H_
#define REPLFS_REPLICATION_TOMBSTONE_PURGER_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/metadata_store.h"

namespace replfs {

// Removes tombstones every known peer has applied (so long-running clusters
// do not grow without bound), after a grace period. A peer that never
// acknowledged (down, never connected, unknown node id) blocks purging: a
// tombstone purged too early lets a returning peer resurrect the file.
class TombstonePurger {
 public:
  TombstonePurger(MetadataStore* store, absl::Duration grace) : store_(store), grace_(grace) {}

  // `acked` holds, per known peer, how far it has applied our log; nullopt
  // for a peer whose acknowledgement is unknown. Purges eligible tombstones,
  // visiting the store in bounded chunks. Returns how many were purged.
  absl::StatusOr<uint64_t> PurgeOnce(const std::vector<std::optional<uint64_t>>& acked,
                                     absl::Time now);

 private:
  MetadataStore* store_;
  absl::Duration grace_;
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_TOMBSTONE_PURGER_H_
