#ifndef REPLFS_STORAGE_APPLY_INTENTS_H_
#define REPLFS_STORAGE_APPLY_INTENTS_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "entry.pb.h"
#include "storage/metadata_store.h"

namespace replfs {

// Write-ahead records of remote entries being applied (A/<path> ->
// ApplyIntent, keyed by the path of the intent's result): written before an
// apply touches the backing directory, removed by its commit, settled at
// start-up when a killed process left one. The only code that spells A/
// keys.
class ApplyIntents {
 public:
  explicit ApplyIntents(const MetadataStore& store) : store_(store) {}

  // Visits every intent in path order until `visit` returns false. Stops
  // with DataLossError at one that does not parse.
  absl::Status Scan(const std::function<bool(const ApplyIntent&)>& visit) const;

  // Queues `intent` under `intent.result().path()` in `txn`'s batch (made
  // durable ahead of the batch by StoreTransaction::PersistQueuedRecords).
  static void Put(StoreTransaction& txn, const ApplyIntent& intent);
  // Queues the removal of the intent for `path` (if any).
  static void Delete(StoreTransaction& txn, absl::string_view path);

 private:
  const MetadataStore& store_;
};

}  // namespace replfs

#endif  // REPLFS_STORAGE_APPLY_INTENTS_H_
