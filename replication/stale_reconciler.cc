#include "replication/stale_reconciler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/tombstone.h"
#include "storage/version.h"

namespace replfs {

absl::Status CheckTreePage(const TreePage& page, const std::string& after_path) {
  const std::string* previous = &after_path;
  for (const std::string& path : page.paths()) {
    if (path.empty() || (!previous->empty() && path <= *previous)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tree page out of order after path of ", previous->size(), " bytes"));
    }
    previous = &path;
  }
  if (!page.next_after_path().empty() &&
      (page.paths().empty() || page.next_after_path() != page.paths(page.paths_size() - 1))) {
    return absl::InvalidArgumentError("tree page does not end where the next one starts");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Entry>> StaleReconciler::PlanRemovals(
    const PageReader& read_page) const {
  std::vector<Entry> removals;
  KnowledgeVector knowledge;
  std::string after;
  for (uint64_t pages = 0;; ++pages) {
    if (pages == kMaxPages) {
      return absl::InvalidArgumentError(absl::StrCat("peer's tree goes on past ", kMaxPages,
                                                     " pages"));
    }
    absl::StatusOr<TreePage> page = read_page(after);
    if (!page.ok()) return page.status();
    if (absl::Status s = CheckTreePage(*page, after); !s.ok()) return s;
    if (pages == 0) *knowledge.mutable_vector() = page->knowledge();
    const std::vector<std::string> peer_paths(page->paths().begin(), page->paths().end());
    const bool last = page->next_after_path().empty();
    const std::string upper = last ? std::string() : page->next_after_path();
    if (absl::Status s = PlanRange(after, upper, last, peer_paths, knowledge, &removals); !s.ok()) {
      return s;
    }
    if (last) break;
    after = upper;
  }
  // Deepest first: every path beneath a directory sorts after it.
  std::reverse(removals.begin(), removals.end());
  return removals;
}

absl::Status StaleReconciler::PlanRange(const std::string& local_after, const std::string& upper,
                                        bool last, const std::vector<std::string>& peer_paths,
                                        const KnowledgeVector& knowledge,
                                        std::vector<Entry>* removals) const {
  return store_->ScanEntries(
      "",
      [&](const Entry& entry) {
        if (!last && entry.path() > upper) return false;
        const Content& content = entry.content();
        // An entry with no vector has no history to compare: kept.
        if (content.kind() == KIND_TOMBSTONE || content.vector().empty()) return true;
        if (std::binary_search(peer_paths.begin(), peer_paths.end(), entry.path())) return true;
        if (!VectorDominates(knowledge.vector(), content.vector())) return true;
        removals->push_back(TombstoneOf(
            entry, MakeVersion(content.version().hlc() + 1, peer_node_)));
        return true;
      },
      local_after);
}

}  // namespace replfs
