// RemoteApplier's fast path for a rename (DESIGN.md, "Rename"): when this
// replica's subtree is exactly what the sender moved, the move is applied
// as one rename(2) of it. Readers see the old tree or the new one, never
// both names at once, and nothing is built or copied.
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/unique_fd.h"
#include "replication/apply_verdict.h"
#include "replication/object_attributes.h"
#include "replication/remote_applier.h"
#include "replication/remote_applier_plan.h"
#include "replication/set_aside_schedule.h"
#include "replication/subtree_move.h"
#include "replication/uncovered_ancestors.h"
#include "storage/apply_intents.h"
#include "storage/beneath.h"
#include "storage/deferred_entries.h"
#include "storage/errno_status.h"
#include "storage/log.h"
#include "storage/object_observer.h"
#include "storage/register_compare.h"
#include "storage/version.h"

namespace replfs {

// One path of a move, decided against the store.
struct RemoteApplier::DecidedMove {
  Entry local;          // What the old name holds here (live).
  Entry tombstone;      // What the old name holds once moved.
  Entry live;           // What the new name holds once moved.
  bool set_attributes;  // The moved object's attribute register changes.
  struct stat disk = {};  // The object, as found beneath the old name.
};

namespace {

ObjectAtPath ObjectOfKind(Kind kind) {
  switch (kind) {
    case KIND_DIR: return ObjectAtPath::kDirectory;
    case KIND_FILE: return ObjectAtPath::kRegularFile;
    default: return ObjectAtPath::kOther;
  }
}

// Whether a set-aside record lies at or beneath `root`.
absl::StatusOr<bool> AnySetAside(const MetadataStore& store, const std::string& root) {
  bool any = false;
  absl::Status s = store.ScanSetAside(root, [&](const SetAsideRecord& record) {
    const std::string& path = record.entry().path();
    any = path == root || IsBeneath(path, root);
    return !any;
  });
  if (!s.ok()) return s;
  return any;
}

// An object a move takes along, as the store recorded it; `disk` receives
// what is found.
struct ExpectedObject {
  uint64_t ino;
  Kind kind;
  struct stat* disk;
};

// Lists everything beneath the directory `dir_fd` by path relative to it,
// stopping (false) at the first object `expected` does not name as it is.
absl::StatusOr<bool> ListBeneath(int dir_fd,
                                 const absl::flat_hash_map<std::string, ExpectedObject>& expected,
                                 size_t* found, std::string* why_not) {
  std::vector<std::pair<UniqueFd, std::string>> pending;
  UniqueFd top(::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!top.valid()) return ErrnoStatus(errno, "open moved directory");
  pending.emplace_back(std::move(top), "");
  while (!pending.empty()) {
    auto [fd, prefix] = std::move(pending.back());
    pending.pop_back();
    DIR* listing = ::fdopendir(fd.get());
    if (listing == nullptr) return ErrnoStatus(errno, "list moved directory");
    const int listed_fd = fd.Release();  // closedir closes it.
    struct DirCloser {
      DIR* dir;
      ~DirCloser() { ::closedir(dir); }
    } closer{listing};
    while (const struct dirent* item = ::readdir(listing)) {
      const absl::string_view name = item->d_name;
      if (name == "." || name == "..") continue;
      const std::string rel = prefix.empty() ? std::string(name) : absl::StrCat(prefix, "/", name);
      auto it = expected.find(rel);
      if (it == expected.end()) {
        *why_not = absl::StrCat(rel, " is there and not in the store");
        return false;
      }
      struct stat& st = *it->second.disk;
      if (::fstatat(listed_fd, item->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return ErrnoStatus(errno, absl::StrCat("stat ", rel));
      }
      if (st.st_ino != it->second.ino || !KindMatches(it->second.kind, st.st_mode)) {
        *why_not = absl::StrCat(rel, " is not the object the store recorded");
        return false;
      }
      ++*found;
      if (S_ISDIR(st.st_mode)) {
        UniqueFd child(::openat(listed_fd, item->d_name,
                                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!child.valid()) return ErrnoStatus(errno, absl::StrCat("open ", rel));
        pending.emplace_back(std::move(child), rel);
      }
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<bool> RemoteApplier::ApplyMove(const SubtreeMove& move, const BatchSource& source,
                                              ApplyStats* stats) {
  const absl::Time started = absl::Now();
  absl::MutexLock lock(&mu_);
  // As Decide does: what is changed here after seeing the move beats it.
  for (const MovedEntry& m : move.entries) {
    for (const Entry* e : {m.tombstone, m.live}) {
      for (const Version* v : VersionsIn(*e)) {
        if (absl::Status s = clock_->Observe(v->hlc(), options_.max_clock_ahead_ms); !s.ok()) {
          return s;
        }
      }
    }
  }
  std::vector<DecidedMove> decided;
  DroppedAttributes dropped;
  std::string why_not;
  bool moved = false;
  {
    // As Place: no local change is between its syscall and its commit.
    std::unique_lock<std::shared_mutex> gate = hooks_->BlockLocalChanges();
    absl::Status s = store_->Transact([&](StoreTransaction& txn)
                                          ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
      absl::StatusOr<bool> fits = DecideMove(move, txn, &decided, &why_not);
      if (fits.ok() && *fits) fits = DiskMatches(move, decided, &why_not);
      if (!fits.ok() || !*fits) return fits.status();
      absl::StatusOr<bool> done = MoveOnDisk(move, decided, txn, source.peer, &dropped, &why_not);
      if (!done.ok()) return done.status();
      moved = *done;
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    if (moved) hooks_->PathMoved(move.from, move.to);
  }
  if (!moved) {
    LogInfo(absl::StrCat("apply ", move.from, " -> ", move.to, ": applied entry by entry: ",
                         why_not));
    return false;
  }
  hooks_->InvalidatePath(move.from);
  hooks_->InvalidatePath(move.to);
  const uint64_t entries = 2 * move.entries.size();
  stats->received += entries;
  stats->applied += entries;
  stats->moved += entries;
  if (!dropped.empty()) {
    ++stats->partial;
    LogWarning(absl::StrCat("apply ", move.to, ": moved without ", absl::StrJoin(dropped.items, "; ")));
  }
  LogInfo(absl::StrCat("apply ", move.from, " -> ", move.to, " ",
                       VersionToString(move.entries.front().live->content().version()),
                       ": moved by one rename (", move.entries.size(), " objects, ",
                       absl::FormatDuration(absl::Trunc(absl::Now() - started,
                                                        absl::Milliseconds(1))),
                       ")"));
  if (absl::Status s = SettleUncoveredAncestors(move.from, root_fd_, store_, hooks_, options_,
                                                &temp_counter_, source.fetcher, stats);
      !s.ok()) {
    return s;
  }
  return true;
}

absl::StatusOr<bool> RemoteApplier::DecideMove(const SubtreeMove& move, StoreTransaction& txn,
                                               std::vector<DecidedMove>* decided,
                                               std::string* why_not) {
  auto refuse = [why_not](std::string reason) {
    *why_not = std::move(reason);
    return false;
  };
  for (const MovedEntry& m : move.entries) {
    if (IgnoredHere(*m.tombstone) || IgnoredHere(*m.live)) {
      return refuse(absl::StrCat(m.live->path(), " or its old name is ignored here"));
    }
  }
  for (const std::string* root : {&move.from, &move.to}) {
    absl::StatusOr<bool> aside = AnySetAside(*store_, *root);
    if (!aside.ok()) return aside;
    if (*aside) return refuse(absl::StrCat("an entry is set aside at or beneath ", *root));
  }
  absl::StatusOr<bool> occupied = store_->HasLiveDescendant(move.to);
  if (!occupied.ok()) return occupied;
  if (*occupied) return refuse("the new name holds live entries");
  decided->clear();
  decided->reserve(move.entries.size());
  for (const MovedEntry& m : move.entries) {
    absl::StatusOr<std::optional<Entry>> here = txn.Get(m.tombstone->path());
    if (!here.ok()) return here.status();
    // The old name holds the very content the new one takes.
    if (!here->has_value() || (*here)->content().kind() == KIND_TOMBSTONE ||
        (*here)->content().kind() != m.live->content().kind() ||
        !SameContent((*here)->content(), m.live->content())) {
      return refuse(absl::StrCat(m.tombstone->path(), " does not hold the content that moves"));
    }
    const Entry& local = **here;
    if (local.content().kind() == KIND_FILE && hooks_->HasUncommittedChanges(local.path())) {
      return refuse(absl::StrCat(local.path(), " has local changes not committed yet"));
    }
    ResolveInputs leaving;
    leaving.local = &local;
    leaving.remote = m.tombstone;
    leaving.own_node = options_.node_id;
    leaving.disk = DiskState{.object = ObjectOfKind(local.content().kind())};
    const Resolution left = Resolve(leaving);
    absl::StatusOr<std::optional<Entry>> there = txn.Get(m.live->path());
    if (!there.ok()) return there.status();
    if (there->has_value() && (*there)->content().kind() != KIND_TOMBSTONE) {
      return refuse(absl::StrCat(m.live->path(), " is live here"));
    }
    ResolveInputs arriving;
    arriving.local = there->has_value() ? &**there : nullptr;
    arriving.remote = m.live;
    arriving.own_node = options_.node_id;
    arriving.disk = DiskState{};
    const Resolution arrived = Resolve(arriving);
    // Anything but a plain replacement on either side (a concurrent
    // version to keep, a forged one, ...) is the per-entry path's to decide.
    if (left.verdict != Verdict::kReplace || arrived.verdict != Verdict::kReplace) {
      return refuse(absl::StrCat(m.tombstone->path(), ": ", VerdictName(left.verdict), ", ",
                                 m.live->path(), ": ", VerdictName(arrived.verdict)));
    }
    DecidedMove one{local, ResultingEntry(left), ResultingEntry(arrived), false};
    // Same content means the same mtime: only the register can differ.
    one.set_attributes = !SameAttributes(local.attributes(), one.live.attributes());
    decided->push_back(std::move(one));
  }
  // Nothing else lives beneath the old name: it all moves.
  size_t live_beneath = 0;
  const size_t moving_beneath = move.entries.size() - 1;
  absl::Status s = store_->ScanEntries(absl::StrCat(move.from, "/"), [&](const Entry& e) {
    if (e.content().kind() != KIND_TOMBSTONE) ++live_beneath;
    return live_beneath <= moving_beneath;
  });
  if (!s.ok()) return s;
  if (live_beneath != moving_beneath) return refuse("more lives beneath the old name than moves");
  return true;
}

absl::StatusOr<bool> RemoteApplier::DiskMatches(const SubtreeMove& move,
                                                std::vector<DecidedMove>& decided,
                                                std::string* why_not) {
  *why_not = absl::StrCat(move.from, " on disk is not what the store recorded");
  std::string name;
  absl::StatusOr<UniqueFd> parent = OpenParentBeneath(root_fd_, move.from, false, &name);
  if (!parent.ok()) return false;
  DecidedMove& root = decided.front();
  if (::fstatat(parent->get(), name.c_str(), &root.disk, AT_SYMLINK_NOFOLLOW) != 0 ||
      root.disk.st_ino != root.local.local_stat().ino() ||
      !KindMatches(root.local.content().kind(), root.disk.st_mode)) {
    return false;
  }
  if (!S_ISDIR(root.disk.st_mode)) return decided.size() == 1;
  // Exactly the objects the store lists, each the very inode it recorded:
  // nothing local-only (a device, a socket) and nothing changed behind
  // the store's back goes along.
  absl::flat_hash_map<std::string, ExpectedObject> beneath;
  for (size_t i = 1; i < decided.size(); ++i) {
    const Entry& local = decided[i].local;
    beneath.emplace(local.path().substr(move.from.size() + 1),
                    ExpectedObject{local.local_stat().ino(), local.content().kind(), &decided[i].disk});
  }
  UniqueFd dir(::openat(parent->get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) return false;
  size_t found = 0;
  absl::StatusOr<bool> listed = ListBeneath(dir.get(), beneath, &found, why_not);
  if (!listed.ok() || !*listed) return listed;
  if (found != beneath.size()) {
    *why_not = absl::StrCat("objects the store lists beneath ", move.from, " are missing");
    return false;
  }
  return true;
}

absl::StatusOr<bool> RemoteApplier::MoveOnDisk(const SubtreeMove& move,
                                               std::vector<DecidedMove>& decided,
                                               StoreTransaction& txn, uint64_t peer,
                                               DroppedAttributes* dropped, std::string* why_not) {
  *why_not = absl::StrCat("no directory holds ", move.to);
  std::string from_name, to_name;
  absl::StatusOr<UniqueFd> from_parent = OpenParentBeneath(root_fd_, move.from, false, &from_name);
  if (!from_parent.ok()) return false;
  absl::StatusOr<UniqueFd> to_parent = OpenParentBeneath(root_fd_, move.to, true, &to_name);
  if (!to_parent.ok()) return false;
  // Write-ahead (see ApplyIntent): the recovery tells a done move (the new
  // names there) from one that did not happen (the old inodes still there).
  for (const DecidedMove& one : decided) {
    ApplyIntent leaving;
    *leaving.mutable_result() = one.tombstone;
    leaving.set_placed_ino(one.local.local_stat().ino());
    ApplyIntents::Put(txn, leaving);
    ApplyIntent arriving;
    *arriving.mutable_result() = one.live;
    ApplyIntents::Put(txn, arriving);
  }
  if (absl::Status s = txn.PersistQueuedRecords(); !s.ok()) return s;
  if (::renameat2(from_parent->get(), from_name.c_str(), to_parent->get(), to_name.c_str(),
                  RENAME_NOREPLACE) != 0) {
    *why_not = absl::StrCat("rename: ", std::strerror(errno));
    // Something is at the new name (not in the store): decided one by one.
    for (const DecidedMove& one : decided) {
      ApplyIntents::Delete(txn, one.tombstone.path());
      ApplyIntents::Delete(txn, one.live.path());
    }
    return false;
  }
  // Renaming a directory changes its ctime, never what lies beneath it.
  if (::fstatat(to_parent->get(), to_name.c_str(), &decided.front().disk, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus(errno, absl::StrCat("stat ", move.to));
  }
  for (DecidedMove& one : decided) {
    if (one.set_attributes) {
      absl::StatusOr<UniqueFd> object =
          OpenBeneath(root_fd_, one.live.path(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (!object.ok()) return object.status();
      DroppedAttributes refused;
      if (absl::Status s = SetObjectAttributes(object->get(), one.live.content().kind(),
                                               one.live.attributes(), one.live.content().mtime_ns(),
                                               options_.allow_setuid, &refused);
          !s.ok()) {
        return s;
      }
      if (::fstat(object->get(), &one.disk) != 0) return ErrnoStatus(errno, "stat moved object");
      if (!refused.empty()) {
        txn.PutSetAside(PartialRecord(one.live, peer, refused, NowUnixMs()));
        dropped->items.insert(dropped->items.end(), refused.items.begin(), refused.items.end());
      }
    }
    *one.live.mutable_local_stat() = LocalStatOf(one.disk);
    for (const Entry* committed : {&one.tombstone, &one.live}) {
      DeferredEntries::Delete(txn, committed->path());
      ApplyIntents::Delete(txn, committed->path());
    }
    txn.Put(std::move(one.tombstone));
    txn.Put(std::move(one.live));
  }
  return true;
}

}  // namespace replfs
