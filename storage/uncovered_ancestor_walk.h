#ifndef REPLFS_STORAGE_UNCOVERED_ANCESTOR_WALK_H_
#define REPLFS_STORAGE_UNCOVERED_ANCESTOR_WALK_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/unique_fd.h"
#include "entry.pb.h"
#include "storage/metadata_store.h"

namespace replfs {

// An ancestor that stands on disk as a directory only for descendants it
// no longer has: its own entry is not a live directory (a tombstone, a file
// entry, or none) and nothing live is recorded beneath it.
struct UncoveredAncestor {
  std::string path;
  std::optional<Entry> entry;  // Its own entry, as read.
  UniqueFd parent;             // Its parent directory (beneath the root).
  std::string name;            // Its name in `parent`.
};

// Walks the ancestors of `path`, innermost first, and calls `visit` for each
// uncovered one (see above); an ancestor missing on disk or not a directory
// there is passed over. Stops at the first ancestor that is a live
// directory or still has a live descendant, or when `visit` returns false.
absl::Status ForEachUncoveredAncestor(
    const MetadataStore& store, int root_fd, absl::string_view path,
    const std::function<absl::StatusOr<bool>(UncoveredAncestor&)>& visit);

}  // namespace replfs

#endif  // REPLFS_STORAGE_UNCOVERED_ANCESTOR_WALK_H_
