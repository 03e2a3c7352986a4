#ifndef REPLFS_REPLICATION_SUBTREE_MOVE_H_
#define REPLFS_REPLICATION_SUBTREE_MOVE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "entry.pb.h"

namespace replfs {

// One path of a move: the tombstone of `from/rel` and the live entry that
// takes its place at `to/rel`.
struct MovedEntry {
  const Entry* tombstone = nullptr;
  const Entry* live = nullptr;
};

// A rename as it reaches a receiver (DESIGN.md, "Rename"): one commit, its
// entries sharing one content version, made of the tombstones of `from` and
// everything beneath it and, for each, a live entry at the same place
// beneath `to`, and of nothing else. `from` and `to` name a file or a
// directory; neither lies beneath the other.
struct SubtreeMove {
  std::string from;
  std::string to;
  // The commit's entries: [begin, end) of the batch, in log order.
  size_t begin = 0;
  size_t end = 0;
  std::vector<MovedEntry> entries;  // The root first.
};

// The commits of `batch` (entries in log order, as a feed sends them)
// shaped as a move. A commit is a run of consecutive entries with one
// content version; a rename over an existing object, an exchange, or a
// commit cut across batches is not one.
std::vector<SubtreeMove> FindSubtreeMoves(const std::vector<const Entry*>& batch);

// Whether the store path `path` lies strictly beneath `root` ("a/b" is
// beneath "a", "ab" is not).
bool IsBeneath(absl::string_view path, absl::string_view root);

}  // namespace replfs

#endif  // REPLFS_REPLICATION_SUBTREE_MOVE_H_
