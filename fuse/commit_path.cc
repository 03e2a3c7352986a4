#include "fuse/commit_path.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fuse/change_stamp.h"
#include "storage/log.h"
#include "storage/object_observer.h"
#include "storage/proc_path.h"
#include "storage/startup_scan.h"

namespace replfs {

namespace {

// Observing a file reads it to hash its content (a symlink: its target),
// and on a relatime backing filesystem that read moves the atime (the
// observer opens without O_NOATIME). No user read the object: natively a
// write, chmod or utimens leaves atime alone, and an atime set by utimens
// must stay as set. So put back the atime seen before the observation. The
// restore moves ctime, so the recorded local stat takes the new ctime (the
// start-up scan compares it). While the commit reads, HideCommitRead
// reports the old atime, and utimens waits for the commit
// (FileWriteState::times_mu). A reader racing with the commit may lose its own
// atime update.
void RestoreAtime(int fd, const struct stat& before, const struct stat& after,
                  ObservedObject* observed) {
  if (!S_ISREG(before.st_mode) && !S_ISLNK(before.st_mode)) return;
  if (after.st_atim.tv_sec == before.st_atim.tv_sec &&
      after.st_atim.tv_nsec == before.st_atim.tv_nsec) {
    return;
  }
  const struct timespec times[2] = {before.st_atim, {0, UTIME_OMIT}};
  // On the O_PATH fd itself: never follows a symlink.
  if (::utimensat(fd, "", times, AT_EMPTY_PATH) != 0) return;
  struct stat restored;
  if (::fstatat(fd, "", &restored, AT_EMPTY_PATH) != 0) return;
  observed->local_stat.set_ctime_ns(LocalStatOf(restored).ctime_ns());
}

// Observes the object `fd` refers to, stat'ed as `st`, for a commit: hashes
// what `dirty` marks against `previous`, and gives the observation back
// only if the object did not change while it was read (Aborted otherwise).
absl::StatusOr<ObservedObject> ObserveForCommit(int fd, const struct stat& st,
                                               const Content* previous,
                                               const DirtyBlocks* dirty) {
  absl::StatusOr<ObservedObject> observed = ObserveObject(fd, st, previous, dirty);
  // Only reading a file's content or a symlink's target can tear or move
  // its atime.
  if (!observed.ok() || (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) ||
      ContentKnownWithoutReading(st, previous, dirty)) {
    return observed;
  }
  struct stat after;
  if (::fstatat(fd, "", &after, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    return absl::ErrnoToStatus(errno, "stat after hashing");
  }
  if (S_ISREG(st.st_mode) && ChangeStamp::Of(st) != ChangeStamp::Of(after)) {
    return absl::AbortedError("changed while it was hashed");
  }
  RestoreAtime(fd, st, after, &*observed);
  return observed;
}

bool SameLocalStat(const LocalStat& a, const LocalStat& b) {
  return a.ino() == b.ino() && a.size() == b.size() && a.mtime_ns() == b.mtime_ns() &&
         a.ctime_ns() == b.ctime_ns();
}

}  // namespace

std::unique_lock<std::shared_mutex> CommitPath::BlockLocalChanges() {
  std::unique_lock gate = local_change_gate_.Block();
  // Every local change made so far has queued its record: let them land.
  queue_.Drain();
  return gate;
}

CommitPath::Ticket CommitPath::CommitUnlessBeingWritten(Inode* inode) {
  const std::optional<uint64_t> generation =
      inode->writes.GenerationUnlessBeingWritten(S_ISREG(inode->type()));
  if (!generation) return 0;
  return CommitInode(inode, *generation);
}

CommitPath::Ticket CommitPath::CommitInode(Inode* inode, uint64_t decided_at) {
  if (inode == inodes_->root()) return 0;  // The root has no entry of its own.
  // Device and socket nodes are local objects: nothing to record.
  if (IsLocalOnly(inode->type())) return 0;
  // The names are taken and the job queued in one step against unlink,
  // rename and link (which queue their own records holding the gate
  // shared): the records then follow each other as the operations did.
  ExclusiveGateHold names(&names_gate_);
  std::vector<std::string> paths = inodes_->PathsOf(inode);
  if (paths.empty()) return 0;  // Every name was removed; nothing to record.
  inodes_->Pin(inode);
  return queue_.Enqueue([this, inode, paths = std::move(paths), decided_at] {
    RecordInode(inode, paths, decided_at);
    inodes_->Unpin(inode);
  });
}

void CommitPath::RecordInode(Inode* inode, const std::vector<std::string>& paths,
                             uint64_t decided_at) {
  absl::MutexLock times_lock(inode->writes.times_mu());
  std::optional<DirtyBlocks> dirty = inode->writes.TakeForCommit(decided_at);
  if (!dirty) return;
  const PathFd fd = inode->path_fd();
  struct stat st;
  if (!fd.valid() || ::fstatat(fd.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    const int error = fd.valid() ? errno : fd.error();
    // Deleted since (the record of its removal follows in the queue).
    if (error == ENOENT || error == ESTALE) return;
    CountFailure();
    LogError(absl::StrCat("commit: stat ", paths.front(), ": ", std::strerror(error)));
    inode->writes.KeepChangedAfterFailure();
    return;
  }
  inode->writes.BeginCommitRead(st.st_atim);
  // Recorded under the names the object had when the commit was queued:
  // a rename or unlink since then queued its own record behind this one.
  for (const std::string& path : paths) {
    if (!RecordPath(inode, path, fd.get(), st, *dirty, decided_at)) return;
  }
  inode->writes.EndCommitRead();
}

bool CommitPath::RecordPath(Inode* inode, const std::string& path, int fd, struct stat& st,
                            const DirtyBlocks& dirty, uint64_t decided_at) {
  // Local to this replica: not hashed, not recorded.
  if (recorder_->Ignored(path, S_ISDIR(st.st_mode))) return true;
  absl::StatusOr<std::optional<Entry>> previous = store_->Get(path);
  const bool have_previous = previous.ok() && previous->has_value();
  if (fine_grained_ctime_ && have_previous &&
      (*previous)->content().kind() != KIND_TOMBSTONE &&
      SameLocalStat((*previous)->local_stat(), LocalStatOf(st))) {
    // Recorded as it is now: the stat proves nothing changed (a writer
    // that wrote nothing, a name the rename already recorded).
    return true;
  }
  // Gives up if the object changed since the commit was decided. What it
  // observed may be torn (the next writer's O_TRUNC open came in while it
  // read), and a peer must never show a half-written file. Such a commit
  // hands its blocks back: the change that moved the generation marked the
  // object changed, and its own commit (the writer's close, the setattr,
  // the idle committer) records the object once whole.
  const Content* previous_content = have_previous ? &(*previous)->content() : nullptr;
  absl::StatusOr<ObservedObject> observed = ObserveForCommit(fd, st, previous_content, &dirty);
  if (inode->writes.GiveBackIfChangedSince(decided_at, dirty)) return false;
  // The file changed while it was hashed without the daemon seeing the
  // change (a passthrough writer, or someone writing the backing file
  // directly): observe it again as it is now, all blocks. A writer the
  // daemon cannot see records the file again at its close.
  for (int retry = 0; retry < 3 && absl::IsAborted(observed.status()); ++retry) {
    if (::fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) break;
    observed = ObserveForCommit(fd, st, nullptr, nullptr);
    if (inode->writes.GiveBackIfChangedSince(decided_at, dirty)) return false;
  }
  absl::Status status = observed.status();
  if (observed.ok()) status = recorder_->RecordObject(path, *observed).status();
  if (status.ok()) return true;
  // Still being written: its writer's close or the idle committer records
  // it once it holds still. Anything else failed.
  if (!absl::IsAborted(status) && !absl::IsNotFound(status)) {
    CountFailure();
    LogError(absl::StrCat("commit ", path, ": ", status.ToString()));
  }
  inode->writes.KeepChangedAfterFailure();
  return false;
}

void CommitPath::NoteNotKept(const KeptFile& kept, const std::string& path) {
  if (kept.kept_unix_ms != 0 && !kept.kept()) {
    LogInfo(absl::StrCat("versions: the old content of ", path,
                         " was not kept: ", kept.not_kept_reason));
  }
}

void CommitPath::RecordKept(const KeptFile& kept, const std::string& path, KeptBecause reason) {
  if (versions_ == nullptr || kept.kept_unix_ms == 0) return;
  NoteNotKept(kept, path);
  // A failure to keep a version never fails the change itself.
  if (absl::Status s = versions_->Record(kept, path, reason, recorder_->node_id()); !s.ok()) {
    LogError(absl::StrCat("versions: recording ", path, ": ", s.ToString()));
  }
}

ChangeRecorder::AlsoInTransaction CommitPath::KeepingIn(const KeptFile& kept,
                                                        const std::string& path,
                                                        KeptBecause reason) {
  if (versions_ == nullptr || kept.kept_unix_ms == 0) return nullptr;
  NoteNotKept(kept, path);
  return [this, &kept, &path, reason](StoreTransaction& txn, const std::optional<Entry>& before) {
    versions_->Queue(txn, kept, path, before, reason, recorder_->node_id());
  };
}

void CommitPath::KeepBeforeTruncate(int fd, const std::string& path) {
  if (!keeps_versions()) return;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) return;
  KeepCopy(fd, path, KEPT_TRUNCATED);
}

void CommitPath::KeepCopy(int fd, const std::string& path, KeptBecause reason) {
  KeptFile kept = versions_->CopyAside(fd);
  queue_.Enqueue([this, kept, path, reason] { RecordKept(kept, path, reason); });
}

void CommitPath::KeepInodeBeforeTruncate(Inode* inode) {
  if (!keeps_versions()) return;
  absl::MutexLock lock(inode->in_place_keep.mu());
  KeepInodeLocked(inode, KEPT_TRUNCATED, Settle::kNow);
  // The content from before the writers' first change is kept.
  inode->in_place_keep.Disarm();
}

void CommitPath::KeepInodeForUnseenWrites(Inode* inode) {
  if (!keeps_versions()) return;
  absl::MutexLock lock(inode->in_place_keep.mu());
  KeepInodeLocked(inode, KEPT_REWRITTEN, Settle::kAtLastClose);
}

void CommitPath::KeepArmedBeforeWrite(Inode* inode) {
  absl::MutexLock lock(inode->in_place_keep.mu());
  // Another write kept the content while this one waited for the lock.
  if (!inode->in_place_keep.armed()) return;
  if (keeps_versions()) KeepInodeLocked(inode, KEPT_REWRITTEN, Settle::kNow);
  inode->in_place_keep.Disarm();
}

void CommitPath::KeepInodeLocked(Inode* inode, KeptBecause reason, Settle settle) {
  const PathFd path_fd = inode->path_fd();
  if (!path_fd.valid()) return;
  UniqueFd fd(::open(ProcPath(path_fd.get()).c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  struct stat st;
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
    return;
  }
  const ChangeStamp stamp = ChangeStamp::Of(st);
  if (fine_grained_ctime_ && inode->in_place_keep.IsKept(stamp)) {
    // Kept already, by an open that did not know whether it would change
    // the file: this change does.
    if (settle == Settle::kNow) RecordUnsettled(inode->in_place_keep.TakeUnsettled(), reason);
    return;
  }
  const std::vector<std::string> paths = inodes_->PathsOf(inode);
  if (paths.empty()) return;  // Unlinked: no longer a version of anything in the tree.
  // A waiting keep of content that an unseen writer has changed since.
  RecordUnsettled(inode->in_place_keep.TakeUnsettled(), KEPT_REWRITTEN);
  inode->in_place_keep.NoteKept(stamp);
  if (settle == Settle::kNow) {
    KeepCopy(fd.get(), paths.front(), reason);
    return;
  }
  auto unsettled = std::make_shared<UnsettledKeep>(versions_, versions_->CopyAside(fd.get()),
                                                   paths.front(), stamp);
  queue_.Enqueue([this, unsettled] {
    absl::StatusOr<std::optional<Entry>> before = store_->Get(unsettled->path);
    if (before.ok()) unsettled->before = *std::move(before);
  });
  inode->in_place_keep.SetUnsettled(std::move(unsettled));
}

void CommitPath::RecordUnsettled(std::shared_ptr<UnsettledKeep> keep, KeptBecause reason) {
  if (keep == nullptr) return;
  queue_.Enqueue([this, keep = std::move(keep), reason] {
    // Taken out of the tree now, not when it was copied: a restore as of a
    // time in between must find the content the file still had.
    if (keep->kept.kept_unix_ms != 0) keep->kept.kept_unix_ms = absl::ToUnixMillis(absl::Now());
    NoteNotKept(keep->kept, keep->path);
    absl::Status s = store_->Transact([&](StoreTransaction& txn) {
      versions_->Queue(txn, keep->kept, keep->path, keep->before, reason, recorder_->node_id());
      return absl::OkStatus();
    });
    if (!s.ok()) {
      LogError(absl::StrCat("versions: recording ", keep->path, ": ", s.ToString()));
      return;
    }
    keep->recorded = true;
  });
}

bool CommitPath::StillAsKept(Inode* inode, const UnsettledKeep& keep) const {
  const PathFd fd = inode->path_fd();
  struct stat st;
  return fine_grained_ctime_ && fd.valid() && ::fstatat(fd.get(), "", &st, AT_EMPTY_PATH) == 0 &&
         ChangeStamp::Of(st).SameContentAs(keep.stamp);
}

void CommitPath::SettleKeep(Inode* inode) {
  absl::MutexLock lock(inode->in_place_keep.mu());
  // A writer that opened since the last one closed has armed or kept anew.
  if (inode->writes.HasOpenWriters()) return;
  // What no write kept is the content the file still holds.
  inode->in_place_keep.Disarm();
  std::shared_ptr<UnsettledKeep> keep = inode->in_place_keep.TakeUnsettled();
  if (keep == nullptr) return;
  if (StillAsKept(inode, *keep)) {
    // Nothing written: the keep still holds what the file holds.
    inode->in_place_keep.SetUnsettled(std::move(keep));
    return;
  }
  RecordUnsettled(std::move(keep), KEPT_REWRITTEN);
}

void CommitPath::SettleKeepBeforeAppend(Inode* inode) {
  absl::MutexLock lock(inode->in_place_keep.mu());
  std::shared_ptr<UnsettledKeep> keep = inode->in_place_keep.TakeUnsettled();
  if (keep == nullptr) return;
  if (StillAsKept(inode, *keep)) {
    // Dropped (discarded with the last reference): the file's content
    // stays, and the next keep copies it again.
    inode->in_place_keep.ForgetKept();
    return;
  }
  RecordUnsettled(std::move(keep), KEPT_REWRITTEN);
}

CommitPath::Ticket CommitPath::CommitDelete(const std::string& path, const KeptFile& kept) {
  return queue_.Enqueue([this, path, kept] {
    absl::Status s = recorder_->RecordDelete(path, KeepingIn(kept, path, KEPT_DELETED));
    if (!s.ok() && versions_ != nullptr) versions_->Discard(kept);
    if (s.ok()) s = recorder_->RecordUncoveredAncestors(inodes_->root()->dir_fd(), path);
    if (!s.ok()) {
      CountFailure();
      LogError(absl::StrCat("commit delete ", path, ": ", s.ToString()));
    }
  });
}

CommitPath::Ticket CommitPath::CommitRename(const std::string& from, const std::string& to,
                                            bool exchange, const LocalStat& moved_stat,
                                            const LocalStat& exchanged_stat,
                                            const KeptFile& replaced_kept) {
  return queue_.Enqueue([this, from, to, exchange, moved_stat, exchanged_stat, replaced_kept] {
    absl::Status s =
        recorder_->RecordRename(from, to, exchange, moved_stat,
                                exchange ? &exchanged_stat : nullptr,
                                KeepingIn(replaced_kept, to, KEPT_REPLACED));
    if (!s.ok() && versions_ != nullptr) versions_->Discard(replaced_kept);
    if (s.ok() && !exchange) {
      s = recorder_->RecordUncoveredAncestors(inodes_->root()->dir_fd(), from);
    }
    // What came out of the ignored set (the moved object, or something
    // beneath it) has no entry to move: it is recorded as found.
    if (s.ok() && recorder_->ignores_anything()) s = RecordSubtreeAsFound(to);
    if (s.ok() && exchange && recorder_->ignores_anything()) s = RecordSubtreeAsFound(from);
    if (!s.ok()) {
      CountFailure();
      LogError(absl::StrCat("commit rename ", from, " -> ", to, ": ", s.ToString()));
    }
  });
}

absl::Status CommitPath::RecordSubtreeAsFound(const std::string& path) {
  return ScanSubtree(inodes_->root()->dir_fd(), path, store_, recorder_).status();
}

void CommitPath::TrackWriter(Inode* inode) {
  if (!S_ISREG(inode->type())) return;
  absl::MutexLock lock(&writing_mu_);
  writing_.insert(inode);
}

bool CommitPath::CloseWriter(Inode* inode, bool writes_unseen, bool commit) {
  FileWriteState::ClosedWriter closed;
  {
    // The writer stops counting and its record is queued in one step
    // against replication (BlockLocalChanges, which waits for queued
    // records). Between the two, a remote entry found no writer and no
    // record of the write: it replaced or deleted the file, and the record
    // then brought the old inode's content back over it under a newer
    // version, on a path this replica no longer had. The writer stops
    // counting first: a setattr that comes meanwhile commits on its own
    // rather than leave its commit to a close that has already decided.
    SharedGateHold gate(&local_change_gate_);
    closed = inode->writes.CloseWriter(writes_unseen);
    if (closed.commit_at && commit) CommitInode(inode, *closed.commit_at);
  }
  if (closed.last_writer) {
    SettleKeep(inode);
    // Out of the idle committer's set before the kernel may forget the
    // inode (it holds it until this RELEASE is answered). A writer that
    // opened meanwhile keeps it in.
    absl::MutexLock writing_lock(&writing_mu_);
    if (!inode->writes.HasOpenWriters()) writing_.erase(inode);
  }
  return closed.last_writer;
}

void CommitPath::NoteUnseenWrites(Inode* inode) {
  const PathFd fd = inode->path_fd();
  struct stat st;
  if (!fd.valid() || ::fstatat(fd.get(), "", &st, AT_EMPTY_PATH) != 0) return;
  inode->writes.NoteStat(st);
}

void CommitPath::CommitQuietFiles(std::chrono::steady_clock::duration quiet) {
  // Held throughout: an inode in the set cannot be forgotten (see
  // writing_), and a commit here is rare (quiet files only).
  absl::MutexLock writing_lock(&writing_mu_);
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::pair<Inode*, uint64_t>> due;  // With the generation seen quiet.
  for (Inode* inode : writing_) {
    if (inode->writes.HasUnseenWriters()) NoteUnseenWrites(inode);
    if (std::optional<uint64_t> generation = inode->writes.GenerationIfQuiet(now, quiet)) {
      due.emplace_back(inode, *generation);
    }
  }
  for (const auto& [inode, generation] : due) CommitInode(inode, generation);
}

}  // namespace replfs
