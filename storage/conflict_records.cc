#include "storage/conflict_records.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "storage/stored_message.h"
#include "storage/version.h"

namespace replfs {
namespace {

constexpr absl::string_view kConflictPrefix = "X/";

std::string ConflictKey(absl::string_view path, const Version& loser) {
  // The NUL ends the path: no path holds one, so one path's keys never
  // interleave with a longer path's.
  return absl::StrCat(kConflictPrefix, path, absl::string_view("\0", 1), VersionToString(loser));
}

absl::StatusOr<ConflictRecord> ParseConflict(absl::string_view key, absl::string_view value) {
  return ParseStoredMessage<ConflictRecord>("conflict record", key, value);
}

}  // namespace

absl::StatusOr<std::optional<ConflictRecord>> ConflictRecords::Get(absl::string_view path,
                                                                   const Version& loser) const {
  const std::string key = ConflictKey(path, loser);
  absl::StatusOr<std::optional<std::string>> value = store_.GetRaw(key);
  if (!value.ok()) return value.status();
  if (!value->has_value()) return std::nullopt;
  absl::StatusOr<ConflictRecord> record = ParseConflict(key, **value);
  if (!record.ok()) return record.status();
  return *std::move(record);
}

absl::Status ConflictRecords::Scan(
    const std::function<bool(const ConflictRecord&)>& visit) const {
  return store_.ScanParsed<ConflictRecord>(kConflictPrefix, ParseConflict, visit);
}

absl::Status ConflictRecords::ScanAfter(
    absl::string_view path, const Version& loser,
    const std::function<bool(const ConflictRecord&)>& visit) const {
  return store_.ScanParsed<ConflictRecord>(kConflictPrefix, ParseConflict, visit,
                                           ConflictKey(path, loser));
}

absl::StatusOr<uint64_t> ConflictRecords::Count() const {
  return store_.CountRaw(kConflictPrefix);
}

void ConflictRecords::Put(StoreTransaction& txn, const ConflictRecord& record) {
  txn.PutRaw(ConflictKey(record.path(), record.loser().version()), record.SerializeAsString());
}

void ConflictRecords::Delete(StoreTransaction& txn, const ConflictRecord& record) {
  txn.DeleteRaw(ConflictKey(record.path(), record.loser().version()));
}

}  // namespace replfs
