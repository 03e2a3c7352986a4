#include "replication/uncovered_ancestors.h"

#include <sys/stat.h>

#include <mutex>
#include <optional>
#include <shared_mutex>

#include "absl/strings/str_cat.h"
#include "replication/object_builder.h"
#include "storage/beneath.h"
#include "storage/errno_status.h"
#include "storage/object_observer.h"
#include "storage/uncovered_ancestor_walk.h"

namespace replfs {

bool SameStoredEntry(const std::optional<Entry>& a, const std::optional<Entry>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a.has_value() || a->seq() == b->seq();
}

// Found by the convergence simulation (seeds 196, 301): a directory that
// existed only because something beneath it was live stayed behind, empty,
// when a tombstone removed its last live descendant; the replicas that never
// saw the descendant did not have it, and a file whose place it had taken
// never came back. By the "Parents" rule the path exists only while it has
// a live descendant, so once it has none its own entry decides again: the
// empty directory goes, and a live file, symlink or fifo entry is rebuilt
// in its place. A directory holding something the store does not know is
// left alone.
absl::Status SettleUncoveredAncestors(const std::string& path, int root_fd, MetadataStore* store,
                                      FilesystemHooks* hooks, const ApplierOptions& options,
                                      std::atomic<uint64_t>* temp_counter, BlockFetcher* fetcher,
                                      ApplyStats* stats) {
  auto settle = [&](UncoveredAncestor& found) -> absl::StatusOr<bool> {
    const std::string& ancestor = found.path;
    const std::optional<Entry>& entry = found.entry;
    const UniqueFd& parent = found.parent;
    const std::string& name = found.name;
    const bool rebuild = entry.has_value() && entry->content().kind() != KIND_TOMBSTONE;
    PreparedObject prepared;
    if (rebuild) {
      if (absl::Status s = PrepareObject(*entry, entry->attributes(), root_fd, *store, options,
                                         temp_counter, fetcher, stats, /*durable=*/true,
                                         &prepared);
          !s.ok()) {
        return s;
      }
    }
    std::optional<LocalStat> placed_stat;
    bool stop = false;
    std::unique_lock<std::shared_mutex> gate = hooks->BlockLocalChanges();
    absl::Status status = store->Transact([&](StoreTransaction& txn) -> absl::Status {
      // Under the commit lock: no local change slipped in since we looked.
      absl::StatusOr<std::optional<Entry>> now = txn.Get(ancestor);
      if (!now.ok()) return now.status();
      absl::StatusOr<bool> still_covered = store->HasLiveDescendant(ancestor);
      if (!still_covered.ok()) return still_covered.status();
      if (!SameStoredEntry(*now, entry) || *still_covered) {
        stop = true;
        return absl::OkStatus();
      }
      if (::unlinkat(parent.get(), name.c_str(), AT_REMOVEDIR) != 0) {
        stop = true;  // Not empty: something untracked lives there; keep it.
        return absl::OkStatus();
      }
      if (rebuild) {
        if (::renameat(prepared.temp_dir_fd(), prepared.temp_name.c_str(), parent.get(),
                       name.c_str()) != 0) {
          return ErrnoStatus(errno, "rename into place");
        }
        prepared.temp_name.clear();
        struct stat placed;
        if (::fstatat(parent.get(), name.c_str(), &placed, AT_SYMLINK_NOFOLLOW) == 0) {
          placed_stat = LocalStatOf(placed);
        }
      }
      return absl::OkStatus();
    });
    gate.unlock();
    if (!status.ok()) return status;
    if (stop) return false;
    if (placed_stat) {
      if (absl::Status s = store->UpdateLocalStat(ancestor, *placed_stat); !s.ok()) return s;
    }
    hooks->InvalidatePath(ancestor);
    return true;
  };
  return ForEachUncoveredAncestor(*store, root_fd, path, settle);
}

}  // namespace replfs
