#include "storage/version_records.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/base/internal/endian.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/stored_message.h"

namespace replfs {
namespace {

constexpr absl::string_view kVersionPrefix = "V/";
constexpr absl::string_view kAgePrefix = "T/";

std::string VersionKey(absl::string_view path, absl::string_view id) {
  // The NUL ends the path: no path holds one, so one path's keys never
  // interleave with a longer path's.
  return absl::StrCat(kVersionPrefix, path, absl::string_view("\0", 1), id);
}

std::string BigEndian(uint64_t value) {
  std::string bytes(8, '\0');
  absl::big_endian::Store64(bytes.data(), value);
  return bytes;
}

std::string AgeKey(int64_t kept_unix_ms, absl::string_view id) {
  return absl::StrCat(kAgePrefix, BigEndian(static_cast<uint64_t>(kept_unix_ms)), id);
}

absl::StatusOr<VersionRecord> ParseVersion(absl::string_view key, absl::string_view value) {
  return ParseStoredMessage<VersionRecord>("version record", key, value);
}

absl::StatusOr<VersionRecords::Aged> ParseAged(absl::string_view key, absl::string_view value) {
  if (key.size() < kAgePrefix.size() + 8 || value.size() < 8) {
    return absl::DataLossError(absl::StrCat("corrupt version age record ", key));
  }
  VersionRecords::Aged aged;
  aged.kept_unix_ms =
      static_cast<int64_t>(absl::big_endian::Load64(key.data() + kAgePrefix.size()));
  aged.id = std::string(key.substr(kAgePrefix.size() + 8));
  aged.size = absl::big_endian::Load64(value.data());
  aged.path = std::string(value.substr(8));
  return aged;
}

}  // namespace

absl::Status VersionRecords::Scan(
    absl::string_view path, bool subtree, absl::string_view after,
    const std::function<bool(const VersionRecord&, absl::string_view position)>& visit) const {
  // A path's own records first (its key sorts before "path/..." since NUL
  // is the smallest byte), then, for a subtree, those beneath it.
  std::vector<std::string> prefixes;
  if (path.empty() && subtree) {
    prefixes.push_back(std::string(kVersionPrefix));
  } else {
    prefixes.push_back(absl::StrCat(kVersionPrefix, path, absl::string_view("\0", 1)));
    if (subtree) prefixes.push_back(absl::StrCat(kVersionPrefix, path, "/"));
  }
  bool stopped = false;
  for (const std::string& prefix : prefixes) {
    // Resume only within the prefix that holds the position.
    std::string start_after;
    if (!after.empty()) {
      if (absl::string_view(after) < absl::string_view(prefix)) {
        start_after.clear();
      } else if (absl::StartsWith(after, prefix)) {
        start_after = std::string(after);
      } else {
        continue;  // The position is past this prefix.
      }
    }
    absl::Status unreadable;
    absl::Status scanned = store_.ScanRaw(
        prefix,
        [&](absl::string_view key, absl::string_view value) {
          absl::StatusOr<VersionRecord> record = ParseVersion(key, value);
          if (!record.ok()) {
            unreadable = record.status();
            return false;
          }
          if (!visit(*record, key)) {
            stopped = true;
            return false;
          }
          return true;
        },
        start_after);
    if (!scanned.ok()) return scanned;
    if (!unreadable.ok()) return unreadable;
    if (stopped) break;
  }
  return absl::OkStatus();
}

absl::Status VersionRecords::ScanOldest(const std::function<bool(const Aged&)>& visit) const {
  return store_.ScanParsed<Aged>(kAgePrefix, ParseAged, visit);
}

absl::StatusOr<bool> VersionRecords::Holds(int64_t kept_unix_ms, absl::string_view id) const {
  absl::StatusOr<std::optional<std::string>> value = store_.GetRaw(AgeKey(kept_unix_ms, id));
  if (!value.ok()) return value.status();
  return value->has_value();
}

void VersionRecords::Put(StoreTransaction& txn, const VersionRecord& record) {
  txn.PutRaw(VersionKey(record.path(), record.id()), record.SerializeAsString());
  txn.PutRaw(AgeKey(record.kept_unix_ms(), record.id()),
             absl::StrCat(BigEndian(record.size()), record.path()));
}

void VersionRecords::Delete(StoreTransaction& txn, const Aged& aged) {
  txn.DeleteRaw(VersionKey(aged.path, aged.id));
  txn.DeleteRaw(AgeKey(aged.kept_unix_ms, aged.id));
}

}  // namespace replfs
