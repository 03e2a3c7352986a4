#ifndef REPLFS_STORAGE_VERSION_RECORDS_H_
#define REPLFS_STORAGE_VERSION_RECORDS_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "entry.pb.h"
#include "storage/metadata_store.h"

namespace replfs {

// Records of file versions kept aside in the state folder's versions/
// (docs/store-format.md):
//   V/<path>\0<id>                   -> VersionRecord
//   T/<kept ms, 8 bytes BE><id>      -> <size, 8 bytes BE><path>: the age
//                                       index, oldest first, for pruning
// The only code that spells V/ and T/ keys.
class VersionRecords {
 public:
  explicit VersionRecords(const MetadataStore& store) : store_(store) {}

  // One record in the age index.
  struct Aged {
    int64_t kept_unix_ms = 0;
    std::string id;
    uint64_t size = 0;
    std::string path;
  };

  // Visits the records of `path` (with `subtree`: also of every path
  // beneath it; "" with subtree: all) in path order, a path's oldest
  // first, until `visit` returns false. A non-empty `after` (a position
  // from a visit) resumes after that record. DataLossError at a record
  // that does not parse.
  absl::Status Scan(absl::string_view path, bool subtree, absl::string_view after,
                    const std::function<bool(const VersionRecord&, absl::string_view position)>&
                        visit) const;
  // Visits the age index oldest first until `visit` returns false.
  absl::Status ScanOldest(const std::function<bool(const Aged&)>& visit) const;
  // Whether the age index holds `id` kept at `kept_unix_ms`.
  absl::StatusOr<bool> Holds(int64_t kept_unix_ms, absl::string_view id) const;

  // Queues `record` (both keys) in `txn`'s batch.
  static void Put(StoreTransaction& txn, const VersionRecord& record);
  // Queues the removal of the record an age index entry names.
  static void Delete(StoreTransaction& txn, const Aged& aged);

 private:
  const MetadataStore& store_;
};

}  // namespace replfs

#endif  // REPLFS_STORAGE_VERSION_RECORDS_H_
