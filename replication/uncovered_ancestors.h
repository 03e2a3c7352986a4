#ifndef REPLFS_REPLICATION_UNCOVERED_ANCESTORS_H_
#define REPLFS_REPLICATION_UNCOVERED_ANCESTORS_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "entry.pb.h"
#include "replication/apply_options.h"
#include "replication/block_fetcher.h"
#include "storage/filesystem_hooks.h"
#include "storage/metadata_store.h"

namespace replfs {

// Whether two reads of one path's entry saw the same commit.
bool SameStoredEntry(const std::optional<Entry>& a, const std::optional<Entry>& b);

// After a tombstone at `path` was applied: each ancestor that existed only
// for its live descendants and has none left is settled by its own entry
// again (the empty directory goes; a live file, symlink or fifo entry is
// rebuilt in its place).
absl::Status SettleUncoveredAncestors(const std::string& path, int root_fd, MetadataStore* store,
                                      FilesystemHooks* hooks, const ApplierOptions& options,
                                      std::atomic<uint64_t>* temp_counter, BlockFetcher* fetcher,
                                      ApplyStats* stats);

}  // namespace replfs

#endif  // REPLFS_REPLICATION_UNCOVERED_ANCESTORS_H_
