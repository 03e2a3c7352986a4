// RemoteApplier's executor: places a decided plan on disk, one step per
// verdict (apply_verdict.h), inside the store's transaction.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/unique_fd.h"
#include "replication/apply_verdict.h"
#include "replication/object_attributes.h"
#include "replication/remote_applier.h"
#include "replication/remote_applier_plan.h"
#include "replication/set_aside_schedule.h"
#include "replication/uncovered_ancestors.h"
#include "storage/apply_intents.h"
#include "storage/beneath.h"
#include "storage/deferred_entries.h"
#include "storage/errno_status.h"
#include "storage/log.h"
#include "storage/object_observer.h"
#include "storage/version.h"

namespace replfs {
namespace {

bool IsLive(const Entry& e) { return e.content().kind() != KIND_TOMBSTONE; }

// Removes whatever is at `name` in `parent_fd` (a directory with its
// contents; `path` is the object's path from the backing root). Absent is
// fine. What `keep` names inside a directory stays, and so does the
// directory then: returns whether the object is gone.
absl::StatusOr<bool> RemoveObject(int parent_fd, const std::string& name,
                                  const std::string& path, const KeepObject& keep) {
  struct stat st;
  if (::fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return true;
    return ErrnoStatus(errno, "stat");
  }
  if (S_ISDIR(st.st_mode)) {
    UniqueFd dir(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (dir.valid()) {
      absl::StatusOr<bool> kept = RemoveContents(dir.get(), keep, path);
      if (!kept.ok()) return kept.status();
      if (*kept) return false;
    }
    if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, absl::StrCat("rmdir ", name));
    }
    return true;
  }
  if (::unlinkat(parent_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, absl::StrCat("unlink ", name));
  }
  return true;
}

// Why an object cannot be replaced: it is a directory holding ignored paths.
absl::Status HoldsIgnoredPaths(const std::string& path) {
  return absl::FailedPreconditionError(
      absl::StrCat(path, " is a directory holding paths this replica ignores (-o ignore)"));
}

// The attributes of a directory kept or created only for its descendants:
// the mode OpenParentBeneath creates ancestors with, the owner it has.
Attributes ImplicitDirectoryAttributes(const struct stat& st) {
  Attributes attributes;
  attributes.set_mode(0755);
  attributes.set_uid(st.st_uid);
  attributes.set_gid(st.st_gid);
  return attributes;
}

}  // namespace

// Where the entry goes on disk, as found inside the transaction.
struct RemoteApplier::Target {
  UniqueFd parent;   // Invalid when disk.parent_missing.
  std::string name;  // The last component of the path.
  struct stat existing = {};
  DiskState disk;
};

absl::Status RemoteApplier::Observe(const Plan& plan, bool may_be_blocked, Target* target,
                                    std::string* blocking) {
  const std::string& path = plan.remote->path();
  const Kind kind = plan.result.content().kind();
  const bool live = kind != KIND_TOMBSTONE;
  *target = Target();
  absl::StatusOr<UniqueFd> parent =
      OpenParentBeneath(root_fd_, path, /*create=*/live, &target->name, blocking);
  if (!parent.ok()) {
    // A live entry beneath a missing directory it could not create fails;
    // one beneath a non-directory may revive it.
    if (live && (!may_be_blocked || blocking->empty())) return parent.status();
    target->disk.parent_missing = true;
    return absl::OkStatus();
  }
  target->parent = *std::move(parent);
  struct stat& st = target->existing;
  if (::fstatat(target->parent.get(), target->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    target->disk.object = ObjectAtPath::kNone;
  } else if (S_ISDIR(st.st_mode)) {
    target->disk.object = ObjectAtPath::kDirectory;
  } else {
    target->disk.object = S_ISREG(st.st_mode) ? ObjectAtPath::kRegularFile : ObjectAtPath::kOther;
  }
  // Removing (or replacing) a directory: whether a live descendant keeps it.
  if (target->disk.object == ObjectAtPath::kDirectory && plan.content_wins && kind != KIND_DIR) {
    absl::StatusOr<bool> live_below = store_->HasLiveDescendant(path);
    if (!live_below.ok()) return live_below.status();
    target->disk.live_descendant = *live_below;
  }
  return absl::OkStatus();
}

absl::Status RemoteApplier::PlaceDecided(Plan& plan, ResolveInputs inputs, StoreTransaction& txn,
                                         ApplyStats* stats,
                                         std::vector<std::string>* invalidate_after) {
  Target target;
  std::string blocking;
  if (absl::Status s = Observe(plan, /*may_be_blocked=*/true, &target, &blocking); !s.ok()) {
    return s;
  }
  inputs.disk = target.disk;
  Resolution resolution = Resolve(inputs);
  if (resolution.verdict == Verdict::kReviveAncestor) {
    if (absl::Status s = ReviveAncestor(blocking, plan.result.content().version(), txn, stats);
        !s.ok()) {
      return s;
    }
    invalidate_after->push_back(blocking);
    if (absl::Status s = Observe(plan, /*may_be_blocked=*/false, &target, &blocking); !s.ok()) {
      return s;
    }
    inputs.disk = target.disk;
    resolution = Resolve(inputs);
  }
  absl::Status placed;
  switch (resolution.verdict) {
    case Verdict::kRecordOnly:
      break;
    case Verdict::kAttributesOnly:
      placed = SetAttributesThere(plan, target);
      break;
    case Verdict::kReplaceKeepingLoser:
      placed = KeepLoser(plan, target, txn, stats);
      if (placed.ok()) placed = ReplaceObject(plan, target);
      break;
    case Verdict::kReplace: {
      const KeptFile kept = KeepReplacedVersion(plan, target, txn);
      placed = ReplaceObject(plan, target);
      if (!placed.ok() && options_.versions != nullptr) options_.versions->Discard(kept);
      if (placed.ok() && target.disk.object == ObjectAtPath::kRegularFile) {
        plan.removed_file = Plan::RemovedFile{target.existing, kept.kept()};
      }
      break;
    }
    case Verdict::kKeepForDescendants:
      placed = KeepForDescendants(plan, target, txn);
      break;
    default:
      // The registers were decided the same way before (Decide, and the
      // race check above); only the disk refines the verdict.
      return absl::InternalError(
          absl::StrCat("unexpected verdict inside the transaction: ", VerdictName(resolution.verdict)));
  }
  if (!placed.ok()) return placed;
  Commit(plan, target, txn);
  return absl::OkStatus();
}

absl::Status RemoteApplier::ReviveAncestor(const std::string& ancestor_path, const Version& winner,
                                           StoreTransaction& txn, ApplyStats* stats) {
  // A live descendant beats a non-directory at an ancestor path: the
  // ancestor becomes a directory again (its content, if a file, is kept as
  // a conflict copy).
  std::string ancestor_name;
  absl::StatusOr<UniqueFd> ancestor_parent =
      OpenParentBeneath(root_fd_, ancestor_path, false, &ancestor_name);
  if (!ancestor_parent.ok()) return ancestor_parent.status();
  absl::StatusOr<std::optional<Entry>> ancestor = txn.Get(ancestor_path);
  if (ancestor.ok() && ancestor->has_value() && (*ancestor)->content().kind() == KIND_FILE) {
    if (absl::Status s =
            conflicts_.Keep(ancestor_parent->get(), ancestor_name, **ancestor, winner, txn);
        !s.ok()) {
      return s;
    }
    ++stats->conflicts;
    if (absl::Status s = txn.PersistQueuedRecords(); !s.ok()) return s;
  }
  if (::unlinkat(ancestor_parent->get(), ancestor_name.c_str(), 0) != 0) {
    return ErrnoStatus(errno, absl::StrCat("replace ", ancestor_path));
  }
  return absl::OkStatus();
}

absl::Status RemoteApplier::SetAttributesThere(Plan& plan, const Target& target) {
  const Entry& result = plan.result;
  UniqueFd object(
      ::openat(target.parent.get(), target.name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!object.valid()) return ErrnoStatus(errno, "open for attributes");
  return SetObjectAttributes(object.get(), result.content().kind(), result.attributes(),
                             result.content().mtime_ns(), options_.allow_setuid,
                             &plan.prepared.dropped);
}

absl::Status RemoteApplier::KeepLoser(const Plan& plan, const Target& target,
                                      StoreTransaction& txn, ApplyStats* stats) {
  const Entry& local = *plan.before;
  const Version& winner = plan.result.content().version();
  if (absl::Status s = conflicts_.Keep(target.parent.get(), target.name, local, winner, txn);
      !s.ok()) {
    return s;
  }
  ++stats->conflicts;
  LogInfo(absl::StrCat("apply ", plan.remote->path(), " ", VersionToString(winner),
                       ": kept the concurrent local version ",
                       VersionToString(local.content().version()), " as a conflict copy"));
  return txn.PersistQueuedRecords();
}

KeptFile RemoteApplier::KeepReplacedVersion(const Plan& plan, const Target& target,
                                            StoreTransaction& txn) {
  VersionKeeper* versions = options_.versions;
  const bool file = target.disk.object == ObjectAtPath::kRegularFile &&
                    plan.before.has_value() && plan.before->content().kind() == KIND_FILE;
  const bool symlink = S_ISLNK(target.existing.st_mode) && plan.before.has_value() &&
                       plan.before->content().kind() == KIND_SYMLINK;
  if (versions == nullptr || !versions->enabled() || !(file || symlink) ||
      target.existing.st_nlink != 1) {
    return KeptFile();
  }
  // A link: the replacement (a rename over the name, or its removal) is
  // what takes the file out of the tree; the kept inode is not copied.
  KeptFile kept = versions->LinkAside(target.parent.get(), target.name.c_str(), target.existing);
  const Content& change = plan.result.content();
  versions->Queue(txn, kept, plan.remote->path(), plan.before,
                  change.kind() == KIND_TOMBSTONE ? KEPT_DELETED_BY_PEER : KEPT_REPLACED_BY_PEER,
                  change.version().node());
  return kept;
}

absl::Status RemoteApplier::ReplaceObject(Plan& plan, const Target& target) {
  const Kind kind = plan.result.content().kind();
  if (kind == KIND_DIR) return PlaceDirectory(plan, target);
  const int parent_fd = target.parent.get();
  PreparedObject& prepared = plan.prepared;
  if (kind == KIND_TOMBSTONE || target.disk.object == ObjectAtPath::kDirectory) {
    // Removing (or replacing) a directory or whatever is there.
    if (target.disk.object != ObjectAtPath::kNone) {
      absl::StatusOr<bool> gone =
          RemoveObject(parent_fd, target.name, plan.remote->path(), KeepIgnored());
      if (!gone.ok()) return gone.status();
      // A deleted directory stays for the ignored paths inside it; nothing
      // can take its place while they are there.
      if (!*gone && !prepared.temp_name.empty()) return HoldsIgnoredPaths(plan.remote->path());
      if (!*gone) {
        LogInfo(absl::StrCat("apply ", plan.remote->path(),
                             ": deleted, but the directory stays for the ignored paths inside"));
      }
    }
    if (prepared.temp_name.empty()) return absl::OkStatus();
  }
  // Atomic replacement: readers see the old or the new object, never a
  // mix, and an old open or mmapped copy stays intact.
  if (::renameat(prepared.temp_dir_fd(), prepared.temp_name.c_str(), parent_fd,
                 target.name.c_str()) != 0) {
    return ErrnoStatus(errno, "rename into place");
  }
  prepared.temp_name.clear();
  return absl::OkStatus();
}

absl::Status RemoteApplier::PlaceDirectory(Plan& plan, const Target& target) {
  const int parent_fd = target.parent.get();
  const std::string& name = target.name;
  if (target.disk.object != ObjectAtPath::kDirectory) {
    if (target.disk.object != ObjectAtPath::kNone) {
      absl::StatusOr<bool> gone = RemoveObject(parent_fd, name, plan.remote->path(), nullptr);
      if (!gone.ok()) return gone.status();
    }
    if (::mkdirat(parent_fd, name.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, absl::StrCat("mkdir ", plan.remote->path()));
    }
  }
  UniqueFd dir(::openat(parent_fd, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) return ErrnoStatus(errno, "open directory");
  return SetObjectAttributes(dir.get(), KIND_DIR, plan.result.attributes(), 0,
                             options_.allow_setuid, &plan.prepared.dropped);
}

absl::Status RemoteApplier::KeepForDescendants(Plan& plan, const Target& target,
                                               StoreTransaction& txn) {
  const Entry& result = plan.result;
  if (result.content().kind() == KIND_FILE && !plan.prepared.temp_name.empty()) {
    // The winning file is hidden by live descendants ("Parents" rule). Keep
    // its content as a conflict copy, as a shown file displaced by a
    // descendant is: peers may fetch its blocks from this replica (it is in
    // our change log), and it comes back when the descendants go (found by
    // the convergence simulation, seed 448: a replica that never built it
    // could not serve it).
    if (absl::Status s = conflicts_.Keep(plan.prepared.temp_dir_fd(), plan.prepared.temp_name,
                                         result, result.content().version(), txn);
        !s.ok()) {
      return s;
    }
  }
  // Found by the convergence simulation (seed 9): the directory now exists
  // only for its descendants ("Parents" rule), so no register decides its
  // attributes. Left as they were, replicas disagreed (the one that had it
  // kept its old mode, the others created it 0755). Every replica gives it
  // the defaults an ancestor created for a descendant gets: mode 0755, no
  // replicated xattrs.
  UniqueFd dir(::openat(target.parent.get(), target.name.c_str(),
                        O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) return ErrnoStatus(errno, "open kept directory");
  DroppedAttributes implicit_dropped;  // Not this entry's attributes.
  return SetObjectAttributes(dir.get(), KIND_DIR, ImplicitDirectoryAttributes(target.existing), 0,
                             options_.allow_setuid, &implicit_dropped);
}

void RemoteApplier::Commit(Plan& plan, const Target& target, StoreTransaction& txn) {
  Entry& result = plan.result;
  const std::string& path = result.path();
  struct stat placed;
  if (IsLive(result) && !target.disk.parent_missing &&
      ::fstatat(target.parent.get(), target.name.c_str(), &placed, AT_SYMLINK_NOFOLLOW) == 0) {
    *result.mutable_local_stat() = LocalStatOf(placed);
  }
  txn.Put(result);
  DeferredEntries::Delete(txn, path);
  ApplyIntents::Delete(txn, path);
  // Whatever was set aside for this path is superseded by what is placed
  // now; what the file system refused of it is recorded instead.
  txn.DeleteSetAside(path);
  const DroppedAttributes& dropped = plan.prepared.dropped;
  if (!dropped.empty()) txn.PutSetAside(PartialRecord(result, plan.peer, dropped, NowUnixMs()));
}

absl::StatusOr<std::optional<RemoteApplier::Outcome>> RemoteApplier::Place(Plan& plan,
                                                                          BlockFetcher* fetcher,
                                                                          ApplyStats* stats) {
  const std::string& path = plan.remote->path();
  // Place it and commit, holding the store's commit lock so no local
  // change interleaves; if a local change got in since we decided, the
  // caller decides again.
  bool raced = false;
  bool deferred_late = false;
  // Invalidated once the gate is released: the kernel's invalidation waits
  // for the directory's lock, which a local operation in that directory
  // holds while it waits for the gate.
  std::vector<std::string> invalidate_after;
  // No local change is between its syscall and its commit while we decide
  // and change the disk (see FilesystemHooks::BlockLocalChanges).
  std::unique_lock<std::shared_mutex> gate = hooks_->BlockLocalChanges();
  // Runs here, inside Place: the caller's hold of mu_ covers it.
  absl::Status status = store_->Transact([&](StoreTransaction& txn)
                                             ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    absl::StatusOr<std::optional<Entry>> now = txn.Get(path);
    if (!now.ok()) return now.status();
    if (!SameStoredEntry(*now, plan.before)) {
      raced = true;
      return absl::OkStatus();
    }
    // A local writer may have opened the file since it was decided: it
    // must not see its file replaced. (The commit lock held here keeps
    // the writer's own commit out until this decision is made, and the
    // gate keeps new writers out until the object is replaced.)
    ResolveInputs inputs = plan.Inputs(options_.node_id);
    inputs.open_for_writing = hooks_->IsOpenForWriting(path);
    if (Resolve(inputs).verdict == Verdict::kDefer) {
      DeferredEntries::Put(txn, *plan.remote);
      deferred_late = true;
      return absl::OkStatus();
    }
    // Write-ahead: a crash from here until the commit leaves the intent
    // for the start-up recovery (see ApplyIntent).
    ApplyIntent intent;
    *intent.mutable_result() = plan.result;
    intent.set_placed_ino(plan.prepared.placed_ino);
    intent.set_attributes_only(!plan.content_wins);
    ApplyIntents::Put(txn, intent);
    if (absl::Status s = txn.PersistQueuedRecords(); !s.ok()) return s;
    return PlaceDecided(plan, inputs, txn, stats, &invalidate_after);
  });
  gate.unlock();
  if (plan.removed_file.has_value()) {
    hooks_->FileRemoved(path, plan.removed_file->before, plan.removed_file->kept_aside);
  }
  for (const std::string& other : invalidate_after) hooks_->InvalidatePath(other);
  if (!status.ok()) return status;
  if (raced) return std::optional<Outcome>();
  if (deferred_late) {
    LogInfo(absl::StrCat("apply ", path, " ", VersionToString(plan.result.content().version()),
                         ": deferred, opened for writing here meanwhile"));
    return std::optional<Outcome>(Outcome::kDeferred);
  }
  return Placed(plan, fetcher, stats);
}

absl::StatusOr<std::optional<RemoteApplier::Outcome>> RemoteApplier::Placed(
    const Plan& plan, BlockFetcher* fetcher, ApplyStats* stats) {
  const std::string& path = plan.remote->path();
  const Entry& result = plan.result;
  const DroppedAttributes& dropped = plan.prepared.dropped;
  if (dropped.setid_stripped) {
    LogWarning(absl::StrFormat(
        "apply %s: setuid/setgid bits left off (mode %04o from the peer; -o allow_setuid keeps "
        "them)",
        path, result.attributes().mode()));
  }
  if (!dropped.empty()) {
    ++stats->partial;
    LogWarning(absl::StrCat("apply ", path, " ", VersionToString(result.content().version()),
                            ": applied without ", absl::StrJoin(dropped.items, "; ")));
  }
  if (LogEnabled(LogLevel::kDebug)) {
    LogDebug(absl::StrCat("apply ", path, " ", VersionToString(result.content().version()),
                          plan.content_wins ? ": applied over " : ": attributes applied over ",
                          !plan.before.has_value() ? "none"
                                                   : VersionToString(plan.before->content().version())));
  }
  if (!plan.removed_file.has_value()) hooks_->InvalidatePath(path);  // Else FileRemoved did.
  if (plan.content_wins && !IsLive(result)) {
    if (absl::Status s = SettleUncoveredAncestors(path, root_fd_, store_, hooks_, options_,
                                                  &temp_counter_, fetcher, stats);
        !s.ok()) {
      return s;
    }
  }
  return std::optional<Outcome>(Outcome::kApplied);
}

}  // namespace replfs
