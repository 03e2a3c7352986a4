#ifndef REPLFS_REPLICATION_BLOCK_FETCHER_H_
#define REPLFS_REPLICATION_BLOCK_FETCHER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace replfs {

// Where the applier gets blocks it does not hold locally: the peer the entry
// came from (over gRPC), or another replica in the simulation. Returned data
// is verified by the caller against the hash.
class BlockFetcher {
 public:
  virtual ~BlockFetcher() = default;
  // Fetches the blocks with these SHA-256 hashes; result i belongs to hash i.
  virtual absl::StatusOr<std::vector<std::string>> Fetch(const std::vector<std::string>& hashes) = 0;
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_BLOCK_FETCHER_H_
