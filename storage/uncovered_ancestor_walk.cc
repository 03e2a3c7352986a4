#include "storage/uncovered_ancestor_walk.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "storage/beneath.h"

namespace replfs {

absl::Status ForEachUncoveredAncestor(
    const MetadataStore& store, int root_fd, absl::string_view path,
    const std::function<absl::StatusOr<bool>(UncoveredAncestor&)>& visit) {
  std::string ancestor(path);
  for (size_t slash = ancestor.rfind('/'); slash != std::string::npos;
       slash = ancestor.rfind('/')) {
    ancestor.resize(slash);
    absl::StatusOr<std::optional<Entry>> entry = store.Get(ancestor);
    if (!entry.ok()) return entry.status();
    if (entry->has_value() && (*entry)->content().kind() == KIND_DIR) return absl::OkStatus();
    absl::StatusOr<bool> covered = store.HasLiveDescendant(ancestor);
    if (!covered.ok()) return covered.status();
    if (*covered) return absl::OkStatus();
    UncoveredAncestor found{ancestor, *std::move(entry), UniqueFd(), ""};
    absl::StatusOr<UniqueFd> parent = OpenParentBeneath(root_fd, ancestor, false, &found.name);
    if (!parent.ok()) continue;
    found.parent = *std::move(parent);
    struct stat st;
    if (::fstatat(found.parent.get(), found.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(st.st_mode)) {
      continue;
    }
    absl::StatusOr<bool> go_on = visit(found);
    if (!go_on.ok()) return go_on.status();
    if (!*go_on) return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace replfs
