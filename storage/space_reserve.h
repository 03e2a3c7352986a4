#ifndef REPLFS_STORAGE_SPACE_RESERVE_H_
#define REPLFS_STORAGE_SPACE_RESERVE_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "base/unique_fd.h"

namespace replfs {

// Keeps the metadata store writable when user data fills the disk.
//
// LevelDB does not survive a failed log append: later writes report success
// and are lost on reopen, and a failed memtable flush makes the database
// read-only. So the store never writes into a full disk: a reserve file
// (about 1/16 of the filesystem, 256 KiB to 64 MiB) holds space that is
// handed to the store in small steps, only as much as a commit lacks, when
// free space runs low; a commit is refused with ResourceExhausted (before
// LevelDB sees it) when even that is gone.
// The reserve is rebuilt once space is free again. Thread-safe.
class SpaceReserve {
 public:
  static constexpr uint64_t kDefaultMaxReserve = 64 << 20;

  // `dir`: a directory on the store's filesystem (the reserve lives there).
  // The reserve is 1/16 of that filesystem, from 256 KiB (or `max_reserve`
  // if smaller) to `max_reserve`.
  explicit SpaceReserve(const std::string& dir, uint64_t max_reserve = kDefaultMaxReserve);

  // Call before every store write of about `bytes`.
  absl::Status BeforeWrite(uint64_t bytes);

  // LevelDB's write buffer size (1/16 of the reserve, at most 4 MiB): a
  // memtable flush must fit in the reserve. (With the reserve capped at
  // 16 MiB the buffer was 1 MiB, and a burst of 10,000 small files spent
  // more time in LevelDB flushes and compactions than in applying them.)
  uint64_t write_buffer_bytes() const { return write_buffer_bytes_; }

  // The reserve's full size (1/16 of the file system, 256 KiB to the max).
  uint64_t reserve_bytes() const { return reserve_bytes_; }

 private:
  uint64_t AvailableBytes() const;
  void Regrow() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::string path_;
  // The store's directory, for fstatvfs before every write (no path walk).
  UniqueFd dir_fd_;
  uint64_t reserve_bytes_ = 0;
  uint64_t write_buffer_bytes_ = 0;
  absl::Mutex mu_;
  uint64_t held_ ABSL_GUARDED_BY(mu_) = 0;  // Bytes the reserve file holds now.
  // The last free-space reading and when it was taken.
  uint64_t last_available_ ABSL_GUARDED_BY(mu_) = 0;
  std::chrono::steady_clock::time_point last_checked_ ABSL_GUARDED_BY(mu_);
};

}  // namespace replfs

#endif  // REPLFS_STORAGE_SPACE_RESERVE_H_
