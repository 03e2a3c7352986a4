#include "replication/apply_intent.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/unique_fd.h"
#include "replication/object_attributes.h"
#include "storage/apply_intents.h"
#include "storage/beneath.h"
#include "storage/deferred_entries.h"
#include "storage/log.h"
#include "storage/object_observer.h"

namespace replfs {
namespace {

// Whether the apply recorded by `intent` reached the disk; if so, readies
// its entry for commit (local stat, attributes set again: they may have been
// half set).
absl::StatusOr<bool> ReachedDisk(int root_fd, const ApplyIntent& intent, Entry* result) {
  const std::string& path = result->path();
  const bool tombstone = result->content().kind() == KIND_TOMBSTONE;
  std::string name;
  absl::StatusOr<UniqueFd> parent = OpenParentBeneath(root_fd, path, /*create=*/false, &name);
  if (!parent.ok()) return tombstone;  // Nothing there: a removal is done.
  struct stat st;
  if (::fstatat(parent->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) return absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
    return tombstone;
  }
  if (tombstone) {
    // The object a move (placed_ino) takes away is still there: the move
    // did not happen.
    if (intent.placed_ino() != 0 && st.st_ino == intent.placed_ino()) return false;
    // A directory left standing under a tombstone holds live descendants.
    return S_ISDIR(st.st_mode);
  }
  if (!KindMatches(result->content().kind(), st.st_mode)) return false;
  if (intent.placed_ino() != 0 && st.st_ino != intent.placed_ino()) return false;
  if (intent.placed_ino() == 0) {
    // A directory or an attribute change: the object is there; its
    // attributes may be half set, so set them again.
    UniqueFd object(::openat(parent->get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!object.valid()) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
    // What the file system refuses stays out, as the apply left it.
    DroppedAttributes dropped;
    // Set-id bits stay off: the apply left them off unless allowed.
    if (absl::Status s = SetObjectAttributes(object.get(), result->content().kind(),
                                             result->attributes(), result->content().mtime_ns(),
                                             /*allow_setid=*/false, &dropped);
        !s.ok()) {
      return s;
    }
    if (::fstat(object.get(), &st) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
  }
  *result->mutable_local_stat() = LocalStatOf(st);
  return true;
}

}  // namespace

absl::StatusOr<IntentRecovery> RecoverInterruptedApplies(int root_fd, MetadataStore* store) {
  // One per apply in flight when the process died, or two per object of a
  // move (one rename of a subtree): bounded by what one batch holds.
  std::vector<ApplyIntent> intents;
  absl::Status s = ApplyIntents(*store).Scan([&](const ApplyIntent& intent) {
    intents.push_back(intent);
    return true;
  });
  if (!s.ok()) return s;
  IntentRecovery recovery;
  for (const ApplyIntent& intent : intents) {
    Entry result = intent.result();
    absl::StatusOr<bool> reached = ReachedDisk(root_fd, intent, &result);
    if (!reached.ok()) return reached.status();
    s = store->Transact([&](StoreTransaction& txn) {
      if (*reached) {
        txn.Put(result);
        DeferredEntries::Delete(txn, result.path());
      }
      ApplyIntents::Delete(txn, result.path());
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    ++(*reached ? recovery.finished : recovery.abandoned);
    LogInfo(absl::StrCat("interrupted apply of ", result.path(),
                         *reached ? ": it reached the disk; committed" : ": abandoned"));
  }
  return recovery;
}

}  // namespace replfs
