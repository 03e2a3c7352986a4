// StoreTransaction: what one transaction reads and queues (see
// metadata_store.h); MetadataStore::CommitLocked writes it.
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "storage/metadata_store.h"

namespace replfs {

absl::StatusOr<std::optional<Entry>> StoreTransaction::Get(absl::string_view path) {
  if (auto it = put_at_.find(path); it != put_at_.end()) return puts_[it->second];
  return Stored(path);
}

absl::StatusOr<std::optional<Entry>> StoreTransaction::Stored(absl::string_view path) {
  if (auto it = stored_.find(path); it != stored_.end()) return it->second;
  absl::StatusOr<std::optional<Entry>> entry = store_->Get(path);
  if (entry.ok()) stored_.emplace(std::string(path), *entry);
  return entry;
}

void StoreTransaction::Put(Entry entry) {
  // A path written twice in one transaction keeps its last value only, so
  // the change log still holds it once.
  auto [it, added] = put_at_.try_emplace(entry.path(), puts_.size());
  if (!added) {
    puts_[it->second] = std::move(entry);
    return;
  }
  puts_.push_back(std::move(entry));
}

void StoreTransaction::PutRaw(std::string key, std::string value) {
  raw_.emplace_back(std::move(key), std::move(value));
}

void StoreTransaction::DeleteRaw(std::string key) { raw_.emplace_back(std::move(key), std::nullopt); }

void StoreTransaction::PutBlockLocation(absl::string_view hash, absl::string_view path,
                                        uint64_t index) {
  raw_.emplace_back(BlockKey(hash, path), absl::StrCat(index));
}

void StoreTransaction::DeleteBlockLocation(absl::string_view hash, absl::string_view path) {
  raw_.emplace_back(BlockKey(hash, path), std::nullopt);
}

void StoreTransaction::PutSetAside(const SetAsideRecord& record) {
  raw_.emplace_back(SetAsideKey(record.entry().path()), record.SerializeAsString());
}

void StoreTransaction::PutSetAside(const SetAsideRecord& record, const Entry& entry) {
  // Fields may come in any order on the wire: the record's own, then its
  // entry (field 1, length-delimited), as if it had been set in it.
  std::string bytes = record.SerializeAsString();
  const std::string entry_bytes = entry.SerializeAsString();
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.WriteTag(SetAsideRecord::kEntryFieldNumber << 3 |
                 google::protobuf::internal::WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
    out.WriteVarint32(static_cast<uint32_t>(entry_bytes.size()));
    out.WriteString(entry_bytes);
  }
  raw_.emplace_back(SetAsideKey(entry.path()), std::move(bytes));
}

void StoreTransaction::DeleteSetAside(absl::string_view path) {
  raw_.emplace_back(SetAsideKey(path), std::nullopt);
}

}  // namespace replfs
