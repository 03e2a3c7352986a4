#include "replication/batch_compression.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "replication/gzip_codec.h"

namespace replfs {

absl::string_view CompressionName(Compression compression) {
  return compression == COMPRESSION_GZIP ? "gzip" : "none";
}

void GzipEntries(ChangeBatch* batch) {
  if (batch->entries_size() == 0) return;
  // A ChangeBatch holding only the entries: the receiver parses it as one.
  ChangeBatch entries_only;
  entries_only.mutable_entries()->Swap(batch->mutable_entries());
  const std::string plain = entries_only.SerializeAsString();
  std::optional<std::string> gzipped = GzipIfSmaller(plain);
  if (!gzipped.has_value()) {
    batch->mutable_entries()->Swap(entries_only.mutable_entries());
    return;
  }
  batch->set_gzipped_entries(*std::move(gzipped));
}

absl::Status GunzipEntries(ChangeBatch* batch, const BatchLimits& limits,
                           size_t max_inflated_bytes) {
  if (batch->gzipped_entries().empty()) return absl::OkStatus();
  if (batch->entries_size() > 0) {
    return absl::InvalidArgumentError("peer sent a batch with entries both plain and gzipped");
  }
  absl::StatusOr<std::string> plain = Gunzip(batch->gzipped_entries(), max_inflated_bytes);
  if (!plain.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("peer sent gzipped entries that do not inflate: ", plain.status().message()));
  }
  batch->clear_gzipped_entries();
  {
    google::protobuf::io::ArrayInputStream wire(plain->data(), static_cast<int>(plain->size()));
    if (absl::Status refused = CheckBatchShape(&wire, limits); !refused.ok()) return refused;
  }
  ChangeBatch entries_only;
  if (!entries_only.ParseFromString(*plain)) {
    return absl::InvalidArgumentError("peer sent gzipped entries that do not parse");
  }
  batch->mutable_entries()->Swap(entries_only.mutable_entries());
  return absl::OkStatus();
}

}  // namespace replfs
