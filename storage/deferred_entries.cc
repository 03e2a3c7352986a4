#include "storage/deferred_entries.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "storage/stored_message.h"

namespace replfs {
namespace {

constexpr absl::string_view kDeferredPrefix = "D/";

std::string DeferredKey(absl::string_view path) { return absl::StrCat(kDeferredPrefix, path); }

absl::StatusOr<Entry> ParseDeferred(absl::string_view key, absl::string_view value) {
  return ParseStoredMessage<Entry>("deferred entry", key, value);
}

}  // namespace

absl::StatusOr<std::optional<Entry>> DeferredEntries::Get(absl::string_view path) const {
  const std::string key = DeferredKey(path);
  absl::StatusOr<std::optional<std::string>> value = store_.GetRaw(key);
  if (!value.ok()) return value.status();
  if (!value->has_value()) return std::nullopt;
  absl::StatusOr<Entry> entry = ParseDeferred(key, **value);
  if (!entry.ok()) return entry.status();
  return *std::move(entry);
}

absl::StatusOr<bool> DeferredEntries::Contains(absl::string_view path) const {
  absl::StatusOr<std::optional<std::string>> value = store_.GetRaw(DeferredKey(path));
  if (!value.ok()) return value.status();
  return value->has_value();
}

absl::Status DeferredEntries::Scan(const std::function<bool(const Entry&)>& visit) const {
  return store_.ScanParsed<Entry>(kDeferredPrefix, ParseDeferred, visit);
}

absl::StatusOr<uint64_t> DeferredEntries::Count() const {
  return store_.CountRaw(kDeferredPrefix);
}

void DeferredEntries::Put(StoreTransaction& txn, const Entry& entry) {
  txn.PutRaw(DeferredKey(entry.path()), entry.SerializeAsString());
}

void DeferredEntries::Delete(StoreTransaction& txn, absl::string_view path) {
  txn.DeleteRaw(DeferredKey(path));
}

}  // namespace replfs
