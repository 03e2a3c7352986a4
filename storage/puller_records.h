#ifndef REPLFS_STORAGE_PULLER_RECORDS_H_
#define REPLFS_STORAGE_PULLER_RECORDS_H_

#include <cstdint>
#include <functional>
#include <optional>

#include "absl/status/statusor.h"
#include "storage/metadata_store.h"

namespace replfs {

// How far each node that pulls from this replica has applied its log
// (P/<node id, 16 hex digits> -> seq in decimal): what holds tombstones
// back from purging. The only code that spells P/ keys.
class PullerRecords {
 public:
  explicit PullerRecords(const MetadataStore& store) : store_(store) {}

  // The seq `node` has acknowledged, if it has a record. DataLossError if
  // the record does not parse.
  absl::StatusOr<std::optional<uint64_t>> Get(uint64_t node) const;
  // Whether `node` has a record, without reading it: one that does not
  // parse can still be found, and removed.
  absl::StatusOr<bool> Contains(uint64_t node) const;
  // Visits every record in node id order until `visit` returns false.
  // Stops with DataLossError at one whose key or value does not parse.
  absl::Status Scan(const std::function<bool(uint64_t node, uint64_t applied_seq)>& visit) const;

  // Queues `node`'s record as `applied_seq` in `txn`'s batch.
  static void Put(StoreTransaction& txn, uint64_t node, uint64_t applied_seq);
  // Queues the removal of `node`'s record (if any).
  static void Delete(StoreTransaction& txn, uint64_t node);

 private:
  const MetadataStore& store_;
};

}  // namespace replfs

#endif  // REPLFS_STORAGE_PULLER_RECORDS_H_
