#ifndef REPLFS_REPLICATION_BATCH_COMPRESSION_H_
#define REPLFS_REPLICATION_BATCH_COMPRESSION_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "replfs.pb.h"
#include "replication/batch_shape.h"

namespace replfs {

// "gzip" or "none", as -o compression and replfs-status name them.
absl::string_view CompressionName(Compression compression);

// Moves `batch`'s entries into gzipped_entries when gzip makes them
// smaller (COMPRESSION_GZIP); leaves the batch as it was otherwise.
void GzipEntries(ChangeBatch* batch);

// Puts back the entries of a batch that came gzipped (a no-op for one that
// did not). What no honest feed sends is InvalidArgument: entries both
// plain and gzipped, gzip that is not whole or inflates past
// `max_inflated_bytes`, or inflated bytes past `limits` (checked before
// they are parsed, as for a plain batch).
absl::Status GunzipEntries(ChangeBatch* batch, const BatchLimits& limits,
                           size_t max_inflated_bytes);

}  // namespace replfs

#endif  // REPLFS_REPLICATION_BATCH_COMPRESSION_H_
