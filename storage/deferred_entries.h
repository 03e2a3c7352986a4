#ifndef REPLFS_STORAGE_DEFERRED_ENTRIES_H_
#define REPLFS_STORAGE_DEFERRED_ENTRIES_H_

#include <cstdint>
#include <functional>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "entry.pb.h"
#include "storage/metadata_store.h"

namespace replfs {

// Remote entries that won but wait because their file is open for writing
// here (D/<path> -> Entry, one per path); applied at the last close or at
// start-up. The only code that spells D/ keys.
class DeferredEntries {
 public:
  explicit DeferredEntries(const MetadataStore& store) : store_(store) {}

  // The entry waiting for `path`, if any. DataLossError if it does not parse.
  absl::StatusOr<std::optional<Entry>> Get(absl::string_view path) const;
  // Whether an entry waits for `path`, without reading it (asked at every
  // close of a written file).
  absl::StatusOr<bool> Contains(absl::string_view path) const;
  // Visits every waiting entry in path order until `visit` returns false.
  // Stops with DataLossError at one that does not parse.
  absl::Status Scan(const std::function<bool(const Entry&)>& visit) const;
  // How many entries wait (keys counted, values not read).
  absl::StatusOr<uint64_t> Count() const;

  // Queues `entry` as the one waiting for its path (replacing any) in
  // `txn`'s atomic batch.
  static void Put(StoreTransaction& txn, const Entry& entry);
  // Queues the removal of what waits for `path` (if anything).
  static void Delete(StoreTransaction& txn, absl::string_view path);

 private:
  const MetadataStore& store_;
};

}  // namespace replfs

#endif  // REPLFS_STORAGE_DEFERRED_ENTRIES_H_
