#ifndef REPLFS_REPLICATION_LOCAL_BLOCKS_H_
#define REPLFS_REPLICATION_LOCAL_BLOCKS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "storage/metadata_store.h"

namespace replfs {

// Block `index` of the open file `fd` of `file_size` bytes (its fstat, which
// sizes the read: a small file's block is a few KiB, not kBlockSize), if its
// SHA-256 is `hash`.
std::optional<std::string> ReadVerifiedBlock(int fd, uint64_t file_size, uint64_t index,
                                             const std::string& hash);

// Reads a block by its SHA-256 from whichever local file the store's block
// index says holds it, verifying the hash (the file may have changed since
// it was committed). nullopt when no local copy matches.
absl::StatusOr<std::optional<std::string>> ReadLocalBlock(const MetadataStore& store, int root_fd,
                                                          const std::string& hash);

}  // namespace replfs

#endif  // REPLFS_REPLICATION_LOCAL_BLOCKS_H_
