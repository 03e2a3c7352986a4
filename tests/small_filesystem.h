#ifndef REPLFS_TESTS_SMALL_FILESYSTEM_H_
#define REPLFS_TESTS_SMALL_FILESYSTEM_H_

// File systems made for a test at a directory of its choice, with the
// limits a test needs a receiver to meet: a tmpfs with few inodes (whose
// xattr space is bounded by them) or a loop-mounted ext4 image with small
// blocks (short symlink targets, small xattrs). Unmounted (lazily if still
// busy), loop device released and image removed by the destructor, also
// when the test failed.

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace replfs::testing {

class SmallFilesystem {
 public:
  // A tmpfs mounted at `dir` with `options` (mount(8) -o syntax).
  static absl::StatusOr<std::unique_ptr<SmallFilesystem>> Tmpfs(const std::string& dir,
                                                                const std::string& options);
  // An ext4 file system of `bytes` with `block_size`-byte blocks, in an
  // image file at `image`, mounted at `dir` through a loop device.
  static absl::StatusOr<std::unique_ptr<SmallFilesystem>> Ext4Image(const std::string& image,
                                                                    const std::string& dir,
                                                                    uint64_t bytes,
                                                                    int block_size);
  ~SmallFilesystem();
  SmallFilesystem(const SmallFilesystem&) = delete;
  SmallFilesystem& operator=(const SmallFilesystem&) = delete;

  // Remounts with other `options` (tmpfs: size=, nr_inodes=).
  absl::Status Remount(const std::string& options);
  const std::string& dir() const { return dir_; }

 private:
  SmallFilesystem(std::string dir, std::string image) : dir_(std::move(dir)), image_(std::move(image)) {}
  std::string dir_;
  std::string image_;  // Empty for tmpfs.
};

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_SMALL_FILESYSTEM_H_
