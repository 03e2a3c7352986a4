// libFuzzer target: the walk over a ChangeBatch's wire bytes that refuses
// what no honest feed sends before it is parsed (replication/batch_shape.h).
// Whatever the bytes, it never crashes; and on every input protobuf parses,
// it agrees with the counts taken from the parsed message: it refuses
// exactly the batches above its limits (an honest batch is never refused,
// an oversized one never let through).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "replfs.pb.h"
#include "replication/batch_shape.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Small limits, so that inputs of a few hundred bytes reach them.
  replfs::BatchLimits limits;
  limits.max_entries = 4;
  limits.max_hashes_per_entry = 3;
  limits.max_hashes = 5;
  google::protobuf::io::ArrayInputStream wire(data, static_cast<int>(size));
  const bool accepted = replfs::CheckBatchShape(&wire, limits).ok();

  replfs::ChangeBatch batch;
  if (!batch.ParseFromArray(data, static_cast<int>(size))) return 0;
  bool within = static_cast<size_t>(batch.entries_size()) <= limits.max_entries;
  uint64_t hashes = 0;
  for (const replfs::Entry& e : batch.entries()) {
    const uint64_t entry_hashes = static_cast<uint64_t>(e.content().block_hashes_size());
    within = within && entry_hashes <= limits.max_hashes_per_entry;
    hashes += entry_hashes;
  }
  within = within && hashes <= limits.max_hashes;
  if (accepted != within) {
    std::fprintf(stderr, "shape check %s a batch of %d entries and %lu hashes\n",
                 accepted ? "let through" : "refused", batch.entries_size(),
                 static_cast<unsigned long>(hashes));
    std::abort();
  }
  return 0;
}
