#ifndef REPLFS_TESTS_SIMULATION_SIM_TREE_H_
#define REPLFS_TESTS_SIMULATION_SIM_TREE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "entry.pb.h"

namespace replfs::sim {

// What one object of a tree looks like, in the terms replicas must agree
// on: kind, permission bits, content (size and SHA-256 per 1 MiB block),
// symlink target, mtime of files and symlinks (the applier sets it from the
// entry; the simulation stamps local writes with the replica's clock).
// Owners are not compared: everything runs as one user.
struct TreeNode {
  Kind kind = KIND_UNSPECIFIED;
  std::optional<uint32_t> mode;  // nullopt: not decided by any register.
  uint64_t size = 0;
  std::vector<std::string> block_hashes;
  std::string symlink_target;
  int64_t mtime_ns = 0;
};

using Tree = std::map<std::string, TreeNode>;

// The mode of a directory that exists only because something beneath it is
// live (its own content register is not a live directory).
inline constexpr uint32_t kImplicitDirectoryMode = 0755;

std::string Describe(const TreeNode& node);

// Walks a backing directory (skipping the state folder `hidden` at its root)
// without following symlinks.
absl::StatusOr<Tree> WalkBacking(int root_fd, const std::string& hidden);

// The per-block hashes a file's content register describes.
std::vector<std::string> BlockHashesOf(const Content& content);

// The per-block hashes of a file on disk (`path` absolute).
absl::StatusOr<std::vector<std::string>> BlockHashesOfFile(const std::string& path);

// The first difference between two trees ("" when equal). Modes are compared
// only where both sides know them.
std::string FirstDifference(const Tree& a, absl::string_view a_name, const Tree& b,
                            absl::string_view b_name);

// Every version ever committed on any replica, and what the convergence
// contract (DESIGN.md) says the tree must be given exactly that set.
class VersionHistory {
 public:
  void Add(const Entry& entry);

  // Per path, the entry with the highest content version.
  const Entry* Winner(const std::string& path) const;
  std::vector<std::string> Paths() const;

  // The tree LWW decides: a path exists iff its content winner is live or
  // it has a live descendant (then it is a directory, whatever its own
  // registers say: "Parents" rule). Files and symlinks carry the winner's
  // content; a directory that exists only for its descendants has
  // kImplicitDirectoryMode.
  //
  // Modes: the path's attribute register of the winning kind, that is the
  // highest attribute version among all entries of that kind (one LWW
  // register per kind, independent of deletes and of the other kinds: a
  // chmod concurrent with a delete, a change of kind, a re-create or a
  // write is kept).
  Tree Expected() const;

 private:
  struct PathHistory {
    Entry winner;
    // Per live kind, (attribute version, mode) of every entry.
    std::map<int, std::vector<std::pair<Version, uint32_t>>> attributes_by_kind;
  };
  std::map<std::string, PathHistory> paths_;
};

}  // namespace replfs::sim

#endif  // REPLFS_TESTS_SIMULATION_SIM_TREE_H_
