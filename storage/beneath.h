#ifndef REPLFS_STORAGE_BENEATH_H_
#define REPLFS_STORAGE_BENEATH_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/unique_fd.h"

namespace replfs {

// Opens `relative` beneath `root_fd` with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS): no component may be a
// symlink, so nothing a peer sent can make the open land outside the root.
absl::StatusOr<UniqueFd> OpenBeneath(int root_fd, absl::string_view relative, int flags,
                                     mode_t mode = 0);

// Opens the directory that holds `relative` (its parent), creating missing
// ancestors as directories (mode 0755) when `create` is set. Returns the
// parent fd; `name` receives the last component. An ancestor that exists
// but is not a directory fails with FailedPrecondition, naming it in
// `blocking_ancestor` (so the caller can decide what wins).
absl::StatusOr<UniqueFd> OpenParentBeneath(int root_fd, absl::string_view relative, bool create,
                                           std::string* name,
                                           std::string* blocking_ancestor = nullptr);

// Names objects that removing a tree leaves in place: `path` ('/'-separated,
// from the backing root), `is_dir` whether it is a directory.
using KeepObject = std::function<bool(absl::string_view path, bool is_dir)>;

// Removes everything inside the directory `dir_fd` (not the directory
// itself), without following symlinks. Bounded by tree depth in memory.
// What `keep` names stays, with the directories holding it; `dir_path` is
// the directory's own path for `keep`. Returns whether anything stayed.
absl::StatusOr<bool> RemoveContents(int dir_fd, const KeepObject& keep = nullptr,
                                    const std::string& dir_path = "");

}  // namespace replfs

#endif  // REPLFS_STORAGE_BENEATH_H_
