#ifndef REPLFS_STORAGE_CONTENT_HASHER_H_
#define REPLFS_STORAGE_CONTENT_HASHER_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "entry.pb.h"
#include "storage/dirty_blocks.h"

namespace replfs {

inline constexpr uint32_t kBlockSize = 1u << 20;   // 1 MiB per hashed block.
inline constexpr uint64_t kInlineLimit = 4096;     // Smaller files travel inline.
inline constexpr size_t kSha256Size = 32;

// SHA-256 of `data` (libcrypto, CPU-accelerated where available).
std::string Sha256(absl::string_view data);

// Fills the content fields (size, block_size, block_hashes) of `content`
// from the readable regular file `fd` of `size` bytes, in the store's form
// (a small file as one block, see file_blocks.h; an empty one inline).
// When `previous` describes an earlier version of the same file and `dirty`
// names the blocks written since, only those blocks (and a changed tail) are
// read and rehashed; every other hash is taken from `previous`.
absl::Status HashFileContent(int fd, uint64_t size, const Content* previous,
                             const DirtyBlocks* dirty, Content* content);

}  // namespace replfs

#endif  // REPLFS_STORAGE_CONTENT_HASHER_H_
