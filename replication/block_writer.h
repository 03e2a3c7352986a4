#ifndef REPLFS_REPLICATION_BLOCK_WRITER_H_
#define REPLFS_REPLICATION_BLOCK_WRITER_H_

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace replfs {

// Writes the blocks of a file the applier builds. With `direct`, whole
// blocks go to the disk with O_DIRECT (through an aligned buffer), not
// through the page cache: a received large file is written once and made
// durable before it is placed, so its pages would only be copied into the
// cache to be flushed out again, and copying into fresh page-cache pages
// costs a receiver more than hashing the data. Anything else (a short
// tail, a file system that refuses O_DIRECT) is written the usual way.
class BlockWriter {
 public:
  BlockWriter(int fd, bool direct);

  // Writes all of `data` at `offset`.
  absl::Status Write(const std::string& data, uint64_t offset);

 private:
  struct FreeBuffer {
    void operator()(char* p) const { std::free(p); }
  };

  // Whether `data` at `offset` could be written directly; false when the
  // file system refused O_DIRECT (then nothing was written).
  bool TryDirect(const std::string& data, uint64_t offset, absl::Status* status);

  int fd_;
  bool direct_;
  std::unique_ptr<char, FreeBuffer> aligned_;
};

// Writes all of `data` into `fd` at `offset` through the page cache.
absl::Status WriteAllAt(int fd, const std::string& data, uint64_t offset);

}  // namespace replfs

#endif  // REPLFS_REPLICATION_BLOCK_WRITER_H_
