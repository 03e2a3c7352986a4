#ifndef REPLFS_STORAGE_CONFLICT_RECORDS_H_
#define REPLFS_STORAGE_CONFLICT_RECORDS_H_

#include <cstdint>
#include <functional>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "entry.pb.h"
#include "storage/metadata_store.h"

namespace replfs {

// Records of losing concurrent versions kept as files in the state folder's
// conflicts/ (X/<path>\0<loser version> -> ConflictRecord: one per path and
// losing version). The only code that spells X/ keys.
class ConflictRecords {
 public:
  explicit ConflictRecords(const MetadataStore& store) : store_(store) {}

  // The record of `path`'s losing version `loser`, if one is kept.
  // DataLossError if it does not parse.
  absl::StatusOr<std::optional<ConflictRecord>> Get(absl::string_view path,
                                                    const Version& loser) const;
  // Visits every record in path order (a path's records in the order of
  // their versions' text) until `visit` returns false. Stops with
  // DataLossError at one that does not parse.
  absl::Status Scan(const std::function<bool(const ConflictRecord&)>& visit) const;
  // Scan resumed after the record of `path` and `loser` (kept or not), for
  // readers that list the records page by page.
  absl::Status ScanAfter(absl::string_view path, const Version& loser,
                         const std::function<bool(const ConflictRecord&)>& visit) const;
  // How many records are kept (keys counted, values not read).
  absl::StatusOr<uint64_t> Count() const;

  // Queues `record` under its path and loser version in `txn`'s batch.
  static void Put(StoreTransaction& txn, const ConflictRecord& record);
  // Queues the removal of `record` (found by its path and loser version).
  static void Delete(StoreTransaction& txn, const ConflictRecord& record);

 private:
  const MetadataStore& store_;
};

}  // namespace replfs

#endif  // REPLFS_STORAGE_CONFLICT_RECORDS_H_
