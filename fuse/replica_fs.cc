#include "fuse/replica_fs.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "storage/log.h"
#include "storage/object_observer.h"

namespace replfs {

ReplicaFs* FsOf(fuse_req_t req) { return static_cast<ReplicaFs*>(fuse_req_userdata(req)); }

namespace {

// Observing a file reads it to hash its content (a symlink: its target),
// and on a relatime backing filesystem that read moves the atime (the
// observer opens without O_NOATIME). No user read the object: natively a
// write, chmod or utimens leaves atime alone, and an atime set by utimens
// must stay as set. So put back the atime seen before the observation. The
// restore moves ctime, so the recorded local stat takes the new ctime (the
// start-up scan compares it). While the commit reads, HideCommitRead
// reports the old atime, and utimens waits for the commit
// (Inode::times_mu). A reader racing with the commit may lose its own
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

bool SameTimespec(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

// Whether the object changed between two stats: a write the daemon does
// not see (passthrough) moves size, mtime or ctime.
bool ChangedBetween(const struct stat& before, const struct stat& after) {
  return before.st_size != after.st_size || !SameTimespec(before.st_mtim, after.st_mtim) ||
         !SameTimespec(before.st_ctim, after.st_ctim);
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
  if (S_ISREG(st.st_mode) && ChangedBetween(st, after)) {
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

void ReplicaFs::NoteUnseenWrites(Inode* inode) {
  const PathFd fd = inode->path_fd();
  struct stat st;
  if (!fd.valid() || ::fstatat(fd.get(), "", &st, AT_EMPTY_PATH) != 0) return;
  std::lock_guard lock(inode->mu);
  if (st.st_size == inode->polled_size && SameTimespec(st.st_mtim, inode->polled_mtime) &&
      SameTimespec(st.st_ctim, inode->polled_ctime)) {
    return;
  }
  inode->polled_size = st.st_size;
  inode->polled_mtime = st.st_mtim;
  inode->polled_ctime = st.st_ctim;
  inode->MarkChanged();
  inode->dirty.MarkAll();
}

std::optional<std::string> ReplicaFs::ChildPath(Inode* parent, const char* name) {
  std::optional<std::string> parent_path = inodes.PathOf(parent);
  if (!parent_path) return std::nullopt;
  return parent_path->empty() ? std::string(name) : absl::StrCat(*parent_path, "/", name);
}

void HideCommitRead(Inode* inode, struct stat* st) {
  std::lock_guard lock(inode->mu);
  if (inode->commit_reading) st->st_atim = inode->atime_before_commit;
}

CommitQueue::Ticket ReplicaFs::CommitUnlessBeingWritten(Inode* inode) {
  uint64_t generation;
  {
    std::lock_guard lock(inode->mu);
    if (inode->open_writers > 0 && S_ISREG(inode->type())) {
      inode->MarkChanged();
      return 0;
    }
    generation = inode->change_generation;
  }
  return CommitInode(inode, generation);
}

CommitQueue::Ticket ReplicaFs::CommitInode(Inode* inode, uint64_t decided_at) {
  if (inode == inodes.root()) return 0;  // The root has no entry of its own.
  // Device and socket nodes are local objects: nothing to record.
  if (IsLocalOnly(inode->type())) return 0;
  // The names are taken and the job queued in one step against unlink,
  // rename and link (which queue their own records holding the gate
  // shared): the records then follow each other as the operations did.
  std::unique_lock names(names_gate);
  std::vector<std::string> paths = inodes.PathsOf(inode);
  if (paths.empty()) return 0;  // Every name was removed; nothing to record.
  inodes.Pin(inode);
  return commits->Enqueue([this, inode, paths = std::move(paths), decided_at] {
    RecordInode(inode, paths, decided_at);
    inodes.Unpin(inode);
  });
}

void ReplicaFs::RecordInode(Inode* inode, const std::vector<std::string>& paths,
                            uint64_t decided_at) {
  std::lock_guard times_lock(inode->times_mu);
  DirtyBlocks dirty;
  {
    std::lock_guard lock(inode->mu);
    if (inode->change_generation != decided_at) return;
    dirty = std::move(inode->dirty);
    inode->dirty.Clear();
    inode->content_dirty = false;
  }
  // Gives up (returns true) if the object changed since the commit was
  // decided. What it observed may be torn (the next writer's O_TRUNC open
  // came in while it read), and a peer must never show a half-written
  // file. Such a commit hands its blocks back: the change that moved the
  // generation marked the object dirty, and its own commit (the writer's
  // close, the setattr, the idle committer) records the object once whole.
  auto gave_up_on_change = [&] {
    std::lock_guard lock(inode->mu);
    if (inode->change_generation == decided_at) return false;
    inode->dirty.Merge(dirty);
    inode->content_dirty = true;
    inode->commit_reading = false;
    return true;
  };
  // On failure the object stays dirty, all blocks: its next commit hashes
  // everything rather than trust partial state.
  auto stay_dirty = [&] {
    std::lock_guard lock(inode->mu);
    inode->dirty.MarkAll();
    inode->content_dirty = true;
    inode->commit_reading = false;
  };
  const PathFd fd = inode->path_fd();
  struct stat st;
  if (!fd.valid() || ::fstatat(fd.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    const int error = fd.valid() ? errno : fd.error();
    // Deleted since (the record of its removal follows in the queue).
    if (error == ENOENT || error == ESTALE) return;
    ++commit_failures;
    LogError(absl::StrCat("commit: stat ", paths.front(), ": ", std::strerror(error)));
    stay_dirty();
    return;
  }
  {
    std::lock_guard lock(inode->mu);
    inode->commit_reading = true;
    inode->atime_before_commit = st.st_atim;
  }
  // Recorded under the names the object had when the commit was queued:
  // a rename or unlink since then queued its own record behind this one.
  for (const std::string& path : paths) {
    absl::StatusOr<std::optional<Entry>> previous = store->Get(path);
    const bool have_previous = previous.ok() && previous->has_value();
    if (fine_grained_ctime && have_previous && (*previous)->content().kind() != KIND_TOMBSTONE &&
        SameLocalStat((*previous)->local_stat(), LocalStatOf(st))) {
      // Recorded as it is now: the stat proves nothing changed (a writer
      // that wrote nothing, a name the rename already recorded).
      continue;
    }
    const Content* previous_content = have_previous ? &(*previous)->content() : nullptr;
    absl::StatusOr<ObservedObject> observed =
        ObserveForCommit(fd.get(), st, previous_content, &dirty);
    if (gave_up_on_change()) return;
    // The file changed while it was hashed without the daemon seeing the
    // change (a passthrough writer, or someone writing the backing file
    // directly): observe it again as it is now, all blocks. A writer the
    // daemon cannot see records the file again at its close.
    for (int retry = 0; retry < 3 && absl::IsAborted(observed.status()); ++retry) {
      if (::fstatat(fd.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) break;
      observed = ObserveForCommit(fd.get(), st, nullptr, nullptr);
      if (gave_up_on_change()) return;
    }
    absl::Status status = observed.status();
    if (observed.ok()) status = recorder->RecordObject(path, *observed).status();
    if (!status.ok()) {
      // Still being written: its writer's close or the idle committer
      // records it once it holds still. Anything else failed.
      if (!absl::IsAborted(status) && !absl::IsNotFound(status)) {
        ++commit_failures;
        LogError(absl::StrCat("commit ", path, ": ", status.ToString()));
      }
      stay_dirty();
      return;
    }
  }
  std::lock_guard lock(inode->mu);
  inode->commit_reading = false;
}

CommitQueue::Ticket ReplicaFs::CommitDelete(const std::string& path) {
  return commits->Enqueue([this, path] {
    absl::Status s = recorder->RecordDelete(path);
    if (s.ok()) s = recorder->RecordUncoveredAncestors(inodes.root()->dir_fd(), path);
    if (!s.ok()) {
      ++commit_failures;
      LogError(absl::StrCat("commit delete ", path, ": ", s.ToString()));
    }
  });
}

CommitQueue::Ticket ReplicaFs::CommitRename(const std::string& from, const std::string& to,
                                            bool exchange, const LocalStat& moved_stat,
                                            const LocalStat& exchanged_stat) {
  return commits->Enqueue([this, from, to, exchange, moved_stat, exchanged_stat] {
    absl::Status s =
        recorder->RecordRename(from, to, exchange, moved_stat, exchange ? &exchanged_stat : nullptr);
    if (s.ok() && !exchange) s = recorder->RecordUncoveredAncestors(inodes.root()->dir_fd(), from);
    if (!s.ok()) {
      ++commit_failures;
      LogError(absl::StrCat("commit rename ", from, " -> ", to, ": ", s.ToString()));
    }
  });
}

namespace {

// Says why lookups fail, at most once a minute: every object the kernel
// caches holds an fd here, so a tree larger than the fd limit fails lookups.
void ReportFdExhaustion() {
  static std::atomic<int64_t> last_report_ms{0};
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  int64_t last = last_report_ms.load(std::memory_order_relaxed);
  if (now_ms - last < 60000 ||
      !last_report_ms.compare_exchange_strong(last, now_ms, std::memory_order_relaxed)) {
    return;
  }
  LogError("lookups fail: out of file descriptors (one is held per object the kernel caches); "
           "raise LimitNOFILE / ulimit -n, or fs.nr_open");
}

}  // namespace

int LookupChild(ReplicaFs* fs, Inode* parent, const char* name, fuse_entry_param* e) {
  *e = fuse_entry_param{};
  e->attr_timeout = fs->cache_timeout;
  e->entry_timeout = fs->cache_timeout;
  if (fs->IsHidden(parent, name)) return ENOENT;
  // Objects the table already holds need no new O_PATH fd: one fstatat.
  if (::fstatat(parent->dir_fd(), name, &e->attr, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  Inode* inode = fs->inodes.LookedUpExisting(parent, name, e->attr);
  if (inode == nullptr) {
    UniqueFd fd(::openat(parent->dir_fd(), name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) {
      const int err = errno;
      if (err == EMFILE || err == ENFILE) ReportFdExhaustion();
      return err;
    }
    if (::fstatat(fd.get(), "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return errno;
    inode = fs->inodes.LookedUp(parent, name, std::move(fd), e->attr);
  }
  HideCommitRead(inode, &e->attr);
  e->ino = fs->IdOf(inode);
  return 0;
}

int LookupNewChild(ReplicaFs* fs, Inode* parent, const char* name, fuse_entry_param* e) {
  *e = fuse_entry_param{};
  e->attr_timeout = fs->cache_timeout;
  e->entry_timeout = fs->cache_timeout;
  UniqueFd fd(::openat(parent->dir_fd(), name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    if (err == EMFILE || err == ENFILE) ReportFdExhaustion();
    return err;
  }
  if (::fstatat(fd.get(), "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return errno;
  Inode* inode = fs->inodes.LookedUp(parent, name, std::move(fd), e->attr);
  e->ino = fs->IdOf(inode);
  return 0;
}

}  // namespace replfs
