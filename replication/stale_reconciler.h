#ifndef REPLFS_REPLICATION_STALE_RECONCILER_H_
#define REPLFS_REPLICATION_STALE_RECONCILER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "entry.pb.h"
#include "replfs.pb.h"
#include "storage/metadata_store.h"

namespace replfs {

// Plans how a stale replica catches up with the deletions it missed: it
// came back below a peer's purge horizon, so deletions made there while it
// was away have no tombstone any more, and no log will bring them.
//
// It compares the peer's tree with its own, in path order, page by page.
// A live entry here that the peer holds no entry for (live or tombstone)
// was deleted there if the peer's knowledge dominates its content vector:
// the peer saw this version and no longer has the path. Anything else
// stays: what this replica changed while away (the peer never saw it) is
// kept and flows as usual.
//
// Each removal is a tombstone standing in for the peer's purged one: by
// the peer's node, one HLC step after the version it deletes, its vector
// that version's advanced for the peer. It dominates the version it
// deletes (no conflict copy, here or at this replica's own pullers, which
// need it as much), and loses to any later or concurrent change of the
// path, as the original deletion would have.
class StaleReconciler {
 public:
  // Reads the page of the peer's tree after `after_path` ("" for the first,
  // which carries the peer's knowledge).
  using PageReader = std::function<absl::StatusOr<TreePage>(const std::string& after_path)>;

  // At most this many pages: a peer that never ends its tree is refused.
  static constexpr uint64_t kMaxPages = uint64_t{1} << 24;

  StaleReconciler(const MetadataStore* store, uint64_t peer_node)
      : store_(store), peer_node_(peer_node) {}

  // The tombstones to apply, deepest paths first (a directory after what
  // is removed beneath it). InvalidArgumentError for a page that is out of
  // order or does not move on (a peer fault); the store's errors as they
  // are.
  absl::StatusOr<std::vector<Entry>> PlanRemovals(const PageReader& read_page) const;

 private:
  // Plans the removal of the local entries after `local_after` up to
  // `upper` (to the end when `last`) whose path is not in the sorted
  // `peer_paths`.
  absl::Status PlanRange(const std::string& local_after, const std::string& upper, bool last,
                         const std::vector<std::string>& peer_paths,
                         const KnowledgeVector& knowledge, std::vector<Entry>* removals) const;

  const MetadataStore* store_;
  uint64_t peer_node_;
};

// Checks one page against the request it answers: paths in strictly
// increasing order after `after_path`, and a next page that starts after
// its last path. InvalidArgumentError saying what is wrong.
absl::Status CheckTreePage(const TreePage& page, const std::string& after_path);

}  // namespace replfs

#endif  // REPLFS_REPLICATION_STALE_RECONCILER_H_
