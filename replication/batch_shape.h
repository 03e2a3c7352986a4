#ifndef REPLFS_REPLICATION_BATCH_SHAPE_H_
#define REPLFS_REPLICATION_BATCH_SHAPE_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "google/protobuf/io/zero_copy_stream.h"

namespace replfs {

// How much one ChangeBatch may hold. Parsing allocates many times a
// message's size for many small fields (a batch of a million tiny entries,
// 64 MiB on the wire, took 433 MiB parsed; a block hash costs ~88 bytes
// parsed), so what no honest feed sends is refused on the wire bytes,
// before anything is allocated for it. An honest feed cuts batches at 2000
// entries and 4 MiB, keeps one commit (a directory rename) together up to
// max_entries and 16 MiB (at most ~490,000 hashes), and sends no entry
// listing more than EntryLimits::max_file_bytes / kBlockSize hashes. A
// commit kept whole lets a receiver apply a rename of up to 20,000 objects
// as one rename(2) (subtree_move.h); parsed, 40,000 tiny entries take
// ~17 MiB.
struct BatchLimits {
  size_t max_entries = 40000;
  uint64_t max_hashes_per_entry = uint64_t{1} << 17;
  uint64_t max_hashes = uint64_t{1} << 19;
};

// Walks the wire bytes of a serialized ChangeBatch (without parsing it into
// objects) and checks them against `limits`. InvalidArgument when they
// exceed a limit or are not a well-formed ChangeBatch.
absl::Status CheckBatchShape(google::protobuf::io::ZeroCopyInputStream* wire,
                             const BatchLimits& limits);

}  // namespace replfs

#endif  // REPLFS_REPLICATION_BATCH_SHAPE_H_
