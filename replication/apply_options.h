#ifndef REPLFS_REPLICATION_APPLY_OPTIONS_H_
#define REPLFS_REPLICATION_APPLY_OPTIONS_H_

#include <cstdint>
#include <string>

#include "replication/entry_validation.h"

namespace replfs {

// What applying entries did, for status and tests.
struct ApplyStats {
  uint64_t received = 0;
  uint64_t applied = 0;         // Won and changed something.
  uint64_t ignored = 0;         // Lost (or equal): nothing changed, nothing logged.
  uint64_t deferred = 0;        // Won, but the file is open for writing here.
  uint64_t conflicts = 0;       // Local concurrent versions kept as conflict copies.
  uint64_t blocks_fetched = 0;
  uint64_t block_bytes_fetched = 0;
  uint64_t blocks_reused = 0;   // Found locally by hash: no transfer.
  uint64_t set_aside = 0;       // Could not be applied here: kept and retried.
  uint64_t partial = 0;         // Applied without something the file system refused.
};

struct ApplierOptions {
  std::string hidden_name;        // State folder's name at the root ("" if outside).
  std::string temp_dir;           // Same filesystem as the backing dir.
  std::string conflicts_dir;
  uint64_t max_clock_ahead_ms = 60000;
  EntryLimits limits;
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_APPLY_OPTIONS_H_
