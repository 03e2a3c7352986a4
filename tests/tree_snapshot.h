#ifndef REPLFS_TESTS_TREE_SNAPSHOT_H_
#define REPLFS_TESTS_TREE_SNAPSHOT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace replfs::testing {

// A canonical, comparable description of the tree under `root`: one line
// per object, sorted by path ("." is the root), never following symlinks:
//   path type mode uid gid [nlink size content-hash | target] [xattrs]
// Files carry their link count, size and a content hash that does not
// depend on how the file is laid out on disk (holes and written zeros hash
// alike, so a sparse 5 GiB file costs only its data); symlinks their target;
// everything its sorted user.* extended attributes with their values.
// Inode numbers, devices and timestamps are left out: they legitimately
// differ between two trees built by the same operations.
//
// An entry named `hidden_root_entry` directly under `root` (the replica's
// state folder in a backing directory) is skipped.
absl::StatusOr<std::vector<std::string>> SnapshotTree(const std::string& root,
                                                      const std::string& hidden_root_entry = ".replfs");

}  // namespace replfs::testing

#endif  // REPLFS_TESTS_TREE_SNAPSHOT_H_
