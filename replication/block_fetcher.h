#ifndef REPLFS_REPLICATION_BLOCK_FETCHER_H_
#define REPLFS_REPLICATION_BLOCK_FETCHER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace replfs {

// Where the applier gets blocks it does not hold locally: the peer the entry
// came from (over gRPC), or another replica in the simulation. Returned data
// is verified by the caller against the hash. Thread-safe: the applier has
// several requests for one file in flight.
class BlockFetcher {
 public:
  virtual ~BlockFetcher() = default;
  // Fetches the blocks with these SHA-256 hashes; result i belongs to hash i.
  virtual absl::StatusOr<std::vector<std::string>> Fetch(const std::vector<std::string>& hashes) = 0;
  // Bytes received so far, block by block (0 if not counted): whether a
  // fetch in flight is making progress. Thread-safe.
  virtual uint64_t bytes_received() const { return 0; }
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_BLOCK_FETCHER_H_
