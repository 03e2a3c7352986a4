#ifndef REPLFS_TESTS_APACHE_MIRRORED_TREE_H_
#define REPLFS_TESTS_APACHE_MIRRORED_TREE_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace replfs::testing::apache {

// Applies the same file operation under two roots: replica B's mount and a
// native directory. Each returns the first failure.
class MirroredTree {
 public:
  MirroredTree(std::string replica_root, std::string native_root);

  // Creates or truncates and writes the whole file (mode 0644 for a new one).
  absl::Status Write(const std::string& rel, const std::string& content);
  // Overwrites the bytes in place: no truncate, same inode on B.
  absl::Status Overwrite(const std::string& rel, const std::string& content);
  absl::Status Mkdir(const std::string& rel);
  absl::Status Rename(const std::string& from, const std::string& to);
  absl::Status Unlink(const std::string& rel);
  absl::Status Rmdir(const std::string& rel);
  absl::Status Chmod(const std::string& rel, mode_t mode);

  static absl::Status WriteAt(const std::string& path, const std::string& content, int flags);

 private:
  template <typename Op>
  absl::Status ForEach(const std::string& rel, Op op);

  std::vector<std::string> roots_;
};

}  // namespace replfs::testing::apache

#endif  // REPLFS_TESTS_APACHE_MIRRORED_TREE_H_
