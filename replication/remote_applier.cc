#include "replication/remote_applier.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <shared_mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "replication/apply_intent.h"
#include "replication/local_blocks.h"
#include "replication/object_attributes.h"
#include "storage/beneath.h"
#include "storage/change_recorder.h"
#include "storage/content_hasher.h"
#include "storage/log.h"
#include "storage/object_observer.h"
#include "storage/proc_path.h"
#include "storage/unique_fd.h"
#include "storage/version.h"

namespace replfs {
namespace {

bool IsLive(const Entry& e) { return e.content().kind() != KIND_TOMBSTONE; }

absl::Status WriteAll(int fd, const std::string& data, uint64_t offset) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done,
                               static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, "write");
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Whether the store holds a live entry strictly beneath `path`.
absl::StatusOr<bool> HasLiveDescendant(const MetadataStore& store, const std::string& path) {
  bool found = false;
  absl::Status s = store.ScanEntries(absl::StrCat(path, "/"), [&](const Entry& e) {
    found = IsLive(e);
    return !found;
  });
  if (!s.ok()) return s;
  return found;
}

// Removes whatever is at `name` in `parent_fd` (a directory with its
// contents). Absent is fine.
absl::Status RemoveObject(int parent_fd, const std::string& name) {
  struct stat st;
  if (::fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno == ENOENT ? absl::OkStatus() : absl::ErrnoToStatus(errno, "stat");
  }
  if (S_ISDIR(st.st_mode)) {
    UniqueFd dir(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (dir.valid()) {
      if (absl::Status s = RemoveContents(dir.get()); !s.ok()) return s;
    }
    if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      return absl::ErrnoToStatus(errno, absl::StrCat("rmdir ", name));
    }
    return absl::OkStatus();
  }
  if (::unlinkat(parent_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("unlink ", name));
  }
  return absl::OkStatus();
}

// A new object built in the temp folder, waiting to be renamed into place.
// It owns the temp folder's fd, which its destructor needs to unlink an
// object that was not renamed into place (convergence simulation, seed 168:
// with the fd owned elsewhere and closed first, such objects leaked and a
// restarted counter later hit them: "File exists").
struct PreparedObject {
  UniqueFd temp_dir;
  std::string temp_name;  // Empty: nothing to rename (dirs, tombstones).
  uint64_t placed_ino = 0;  // The built object's inode (kept by the rename).
  int temp_dir_fd() const { return temp_dir.get(); }
  ~PreparedObject() {
    if (!temp_name.empty()) ::unlinkat(temp_dir.get(), temp_name.c_str(), 0);
  }
};

// The attributes of a directory kept or created only for its descendants:
// the mode OpenParentBeneath creates ancestors with, the owner it has.
Attributes ImplicitDirectoryAttributes(const struct stat& st) {
  Attributes attributes;
  attributes.set_mode(0755);
  attributes.set_uid(st.st_uid);
  attributes.set_gid(st.st_gid);
  return attributes;
}

bool SameOptional(const std::optional<Entry>& a, const std::optional<Entry>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a.has_value() || a->seq() == b->seq();
}

// Reads block `index` of the file at `path` (absolute) if it has `hash`.
std::optional<std::string> ReadBlockOf(const std::string& path, uint64_t index,
                                       const std::string& hash) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  return ReadVerifiedBlock(fd.get(), index, hash);
}

// Builds the live non-directory `entry` in the temp folder as `temp_name`:
// file blocks from local files, from this replica's conflict copy of that
// very version (a file displaced by a descendant was kept there), or from
// the peer.
absl::Status BuildObject(const Entry& entry, int root_fd, const MetadataStore& store,
                         const ApplierOptions& options, int temp_dir_fd,
                         const std::string& temp_name, BlockFetcher* fetcher, ApplyStats* stats) {
  const Content& c = entry.content();
  if (c.kind() == KIND_SYMLINK) {
    if (::symlinkat(c.symlink_target().c_str(), temp_dir_fd, temp_name.c_str()) != 0) {
      return absl::ErrnoToStatus(errno, "create temp symlink");
    }
    return absl::OkStatus();
  }
  if (c.kind() == KIND_FIFO) {
    if (::mkfifoat(temp_dir_fd, temp_name.c_str(), 0600) != 0) {
      return absl::ErrnoToStatus(errno, "create temp fifo");
    }
    return absl::OkStatus();
  }
  UniqueFd out(::openat(temp_dir_fd, temp_name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out.valid()) return absl::ErrnoToStatus(errno, "create temp file");
  if (c.is_inline()) {
    if (absl::Status s = WriteAll(out.get(), c.inline_data(), 0); !s.ok()) return s;
    if (::fsync(out.get()) != 0) return absl::ErrnoToStatus(errno, "fsync temp file");
    return absl::OkStatus();
  }
  if (::ftruncate(out.get(), static_cast<off_t>(c.size())) != 0) {
    return absl::ErrnoToStatus(errno, "size temp file");
  }
  std::string conflict_copy;
  absl::StatusOr<std::optional<std::string>> record_bytes =
      store.GetRaw(ConflictKey(entry.path(), c.version()));
  ConflictRecord record;
  if (record_bytes.ok() && record_bytes->has_value() && record.ParseFromString(**record_bytes)) {
    conflict_copy = absl::StrCat(options.conflicts_dir, "/../", record.copy_path());
  }
  // Blocks held locally (the old version, a renamed or copied file, a
  // conflict copy) cost nothing; the rest come from the peer in small groups.
  std::vector<std::pair<uint64_t, std::string>> missing;
  for (int i = 0; i < c.block_hashes_size(); ++i) {
    const std::string& hash = c.block_hashes(i);
    const uint64_t index = static_cast<uint64_t>(i);
    absl::StatusOr<std::optional<std::string>> data = ReadLocalBlock(store, root_fd, hash);
    if (!data.ok()) return data.status();
    if (!data->has_value() && !conflict_copy.empty()) *data = ReadBlockOf(conflict_copy, index, hash);
    if (!data->has_value()) {
      missing.emplace_back(index, hash);
      continue;
    }
    ++stats->blocks_reused;
    if (absl::Status s = WriteAll(out.get(), **data, index * kBlockSize); !s.ok()) return s;
  }
  constexpr size_t kGroup = 8;
  for (size_t at = 0; at < missing.size(); at += kGroup) {
    std::vector<std::string> hashes;
    for (size_t j = at; j < std::min(missing.size(), at + kGroup); ++j) {
      hashes.push_back(missing[j].second);
    }
    if (fetcher == nullptr) return absl::UnavailableError("no peer to fetch blocks from");
    absl::StatusOr<std::vector<std::string>> blocks = fetcher->Fetch(hashes);
    if (!blocks.ok()) return blocks.status();
    if (blocks->size() != hashes.size()) {
      return absl::DataLossError("peer returned the wrong number of blocks");
    }
    for (size_t j = 0; j < hashes.size(); ++j) {
      const uint64_t index = missing[at + j].first;
      const uint64_t expected = std::min<uint64_t>(kBlockSize, c.size() - index * kBlockSize);
      const std::string& data = (*blocks)[j];
      if (data.size() != expected || Sha256(data) != hashes[j]) {
        return absl::DataLossError("block content does not match its hash");
      }
      ++stats->blocks_fetched;
      stats->block_bytes_fetched += data.size();
      if (absl::Status s = WriteAll(out.get(), data, index * kBlockSize); !s.ok()) return s;
    }
  }
  if (::fsync(out.get()) != 0) return absl::ErrnoToStatus(errno, "fsync temp file");
  return absl::OkStatus();
}

// Builds the live non-directory `entry` with `attributes` in the temp
// folder, ready to be renamed into place; nothing visible changes yet.
absl::Status PrepareObject(const Entry& entry, const Attributes& attributes, int root_fd,
                           const MetadataStore& store, const ApplierOptions& options,
                           uint64_t* temp_counter, BlockFetcher* fetcher, ApplyStats* stats,
                           PreparedObject* prepared) {
  prepared->temp_dir.Reset(::open(options.temp_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!prepared->temp_dir.valid()) return absl::ErrnoToStatus(errno, "open temp folder");
  prepared->temp_name = absl::StrFormat("apply-%d-%d", ::getpid(), ++*temp_counter);
  // A leftover of a crashed apply by an earlier process with the same pid
  // would make the exclusive create fail forever: the temp folder is ours
  // alone (the state folder is locked), so clear it.
  ::unlinkat(prepared->temp_dir_fd(), prepared->temp_name.c_str(), 0);
  if (absl::Status s = BuildObject(entry, root_fd, store, options, prepared->temp_dir_fd(),
                                   prepared->temp_name, fetcher, stats);
      !s.ok()) {
    return s;
  }
  UniqueFd object(::openat(prepared->temp_dir_fd(), prepared->temp_name.c_str(),
                           O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!object.valid()) return absl::ErrnoToStatus(errno, "open temp object");
  struct stat st;
  if (::fstat(object.get(), &st) != 0) return absl::ErrnoToStatus(errno, "stat temp object");
  prepared->placed_ino = st.st_ino;
  return SetObjectAttributes(object.get(), entry.content().kind(), attributes,
                             entry.content().mtime_ns());
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
                                      uint64_t* temp_counter, BlockFetcher* fetcher,
                                      ApplyStats* stats) {
  std::string ancestor = path;
  for (size_t slash = ancestor.rfind('/'); slash != std::string::npos;
       slash = ancestor.rfind('/')) {
    ancestor.resize(slash);
    absl::StatusOr<std::optional<Entry>> entry = store->Get(ancestor);
    if (!entry.ok()) return entry.status();
    if (entry->has_value() && (*entry)->content().kind() == KIND_DIR) return absl::OkStatus();
    absl::StatusOr<bool> covered = HasLiveDescendant(*store, ancestor);
    if (!covered.ok()) return covered.status();
    if (*covered) return absl::OkStatus();
    std::string name;
    absl::StatusOr<UniqueFd> parent = OpenParentBeneath(root_fd, ancestor, false, &name);
    if (!parent.ok()) continue;
    struct stat st;
    if (::fstatat(parent->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(st.st_mode)) {
      continue;
    }
    const bool rebuild = entry->has_value() && IsLive(**entry);
    PreparedObject prepared;
    if (rebuild) {
      if (absl::Status s = PrepareObject(**entry, (*entry)->attributes(), root_fd, *store, options,
                                         temp_counter, fetcher, stats, &prepared);
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
      absl::StatusOr<bool> still_covered = HasLiveDescendant(*store, ancestor);
      if (!still_covered.ok()) return still_covered.status();
      if (!SameOptional(*now, *entry) || *still_covered) {
        stop = true;
        return absl::OkStatus();
      }
      if (::unlinkat(parent->get(), name.c_str(), AT_REMOVEDIR) != 0) {
        stop = true;  // Not empty: something untracked lives there; keep it.
        return absl::OkStatus();
      }
      if (rebuild) {
        if (::renameat(prepared.temp_dir_fd(), prepared.temp_name.c_str(), parent->get(),
                       name.c_str()) != 0) {
          return absl::ErrnoToStatus(errno, "rename into place");
        }
        prepared.temp_name.clear();
        struct stat placed;
        if (::fstatat(parent->get(), name.c_str(), &placed, AT_SYMLINK_NOFOLLOW) == 0) {
          placed_stat = LocalStatOf(placed);
        }
      }
      return absl::OkStatus();
    });
    gate.unlock();
    if (!status.ok()) return status;
    if (stop) return absl::OkStatus();
    if (placed_stat) {
      if (absl::Status s = store->UpdateLocalStat(ancestor, *placed_stat); !s.ok()) return s;
    }
    hooks->InvalidatePath(ancestor);
  }
  return absl::OkStatus();
}

}  // namespace

std::string DeferredKey(absl::string_view path) { return absl::StrCat("D/", path); }

const Attributes& MergedAttributes(const Entry& winner, const Entry* other) {
  if (other != nullptr && IsLive(*other) && IsLive(winner) &&
      other->content().kind() == winner.content().kind() &&
      CompareVersions(other->attributes().version(), winner.attributes().version()) > 0) {
    return other->attributes();
  }
  return winner.attributes();
}

RemoteApplier::RemoteApplier(int root_fd, MetadataStore* store, HybridLogicalClock* clock,
                             FilesystemHooks* hooks, ApplierOptions options)
    : root_fd_(root_fd), store_(store), clock_(clock), hooks_(hooks),
      options_(std::move(options)), conflicts_(store, options_.conflicts_dir) {
  if (!options_.hidden_name.empty()) {
    // The state folder sits at the root: copies are reachable beneath it.
    const size_t slash = options_.conflicts_dir.rfind('/');
    conflicts_.set_root_relative_dir(
        absl::StrCat(options_.hidden_name, "/", options_.conflicts_dir.substr(slash + 1)));
  }
}

absl::Status RemoteApplier::ApplyBatch(const std::vector<Entry>& entries, BlockFetcher* fetcher,
                                       ApplyStats* stats) {
  for (const Entry& e : entries) {
    if (absl::Status s = ValidateRemoteEntry(e, options_.hidden_name, options_.limits); !s.ok()) {
      return s;
    }
    // A far-future version rejects the batch before anything of it applies.
    for (const Version* v : {&e.content().version(), &e.attributes().version()}) {
      if (absl::Status s = clock_->CheckNotAhead(v->hlc(), options_.max_clock_ahead_ms); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat("apply ", e.path(), ": ", s.message()));
      }
    }
  }
  // Live entries parents-first, then tombstones children-first.
  std::vector<const Entry*> order;
  order.reserve(entries.size());
  for (const Entry& e : entries) order.push_back(&e);
  std::stable_sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    const bool a_live = IsLive(*a), b_live = IsLive(*b);
    if (a_live != b_live) return a_live;
    return a_live ? a->path() < b->path() : a->path() > b->path();
  });
  absl::MutexLock lock(&mu_);
  for (const Entry* e : order) {
    ++stats->received;
    absl::StatusOr<Outcome> outcome = ApplyOne(*e, fetcher, stats);
    if (!outcome.ok()) {
      return absl::Status(outcome.status().code(),
                          absl::StrCat("apply ", e->path(), ": ", outcome.status().message()));
    }
    switch (*outcome) {
      case Outcome::kIgnored: ++stats->ignored; break;
      case Outcome::kApplied: ++stats->applied; break;
      case Outcome::kDeferred: ++stats->deferred; break;
    }
  }
  return absl::OkStatus();
}

absl::Status RemoteApplier::RetryDeferred(const std::string& path, BlockFetcher* fetcher,
                                          ApplyStats* stats) {
  std::vector<Entry> waiting;
  absl::Status s = store_->ScanRaw(DeferredKey(path), [&](absl::string_view key,
                                                          absl::string_view value) {
    if (!path.empty() && key != DeferredKey(path)) return true;
    Entry e;
    if (e.ParseFromArray(value.data(), static_cast<int>(value.size()))) waiting.push_back(e);
    return true;
  });
  if (!s.ok()) return s;
  if (waiting.empty()) return absl::OkStatus();
  if (s = ApplyBatch(waiting, fetcher, stats); !s.ok()) return s;
  // A waiting entry that lost meanwhile (the writer's own commit came after
  // it, so it is newer) was ignored and is still waiting: drop it, or it
  // would be retried at every close and counted as deferred forever.
  return store_->Transact([&](StoreTransaction& txn) -> absl::Status {
    for (const Entry& e : waiting) {
      absl::StatusOr<std::optional<std::string>> still = store_->GetRaw(DeferredKey(e.path()));
      if (!still.ok()) return still.status();
      if (!still->has_value() || **still != e.SerializeAsString()) continue;
      absl::StatusOr<std::optional<Entry>> local = txn.Get(e.path());
      if (!local.ok()) return local.status();
      if (local->has_value() &&
          CompareVersions(e.content().version(), (*local)->content().version()) <= 0 &&
          CompareVersions(e.attributes().version(), (*local)->attributes().version()) <= 0) {
        txn.DeleteRaw(DeferredKey(e.path()));
      }
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<RemoteApplier::Outcome> RemoteApplier::ApplyOne(const Entry& remote,
                                                               BlockFetcher* fetcher,
                                                               ApplyStats* stats) {
  // The clock first: whatever is changed here after seeing this entry must
  // beat it, even with skewed wall clocks. A far-future version is refused.
  for (const Version* v : {&remote.content().version(), &remote.attributes().version()}) {
    if (absl::Status s = clock_->Observe(v->hlc(), options_.max_clock_ahead_ms); !s.ok()) return s;
  }
  const std::string& path = remote.path();
  for (int attempt = 0; attempt < 5; ++attempt) {
    absl::StatusOr<std::optional<Entry>> before = store_->Get(path);
    if (!before.ok()) return before.status();
    const Entry* local = before->has_value() ? &**before : nullptr;
    const bool content_wins =
        local == nullptr || CompareVersions(remote.content().version(), local->content().version()) > 0;
    const bool attributes_win =
        !content_wins && IsLive(*local) && IsLive(remote) &&
        local->content().kind() == remote.content().kind() &&
        CompareVersions(remote.attributes().version(), local->attributes().version()) > 0;
    if (!content_wins && !attributes_win) {
      if (LogEnabled(LogLevel::kDebug)) {
        LogDebug(absl::StrCat("apply ", path, " ", VersionToString(remote.content().version()),
                              ": ignored, local ",
                              local == nullptr ? "none" : VersionToString(local->content().version())));
      }
      return Outcome::kIgnored;
    }

    // Never replace a file under a local writer, also one it created and has
    // not committed yet: wait for its last close.
    if (content_wins && hooks_->IsOpenForWriting(path)) {
      absl::Status s = store_->Transact([&](StoreTransaction& txn) {
        txn.PutRaw(DeferredKey(path), remote.SerializeAsString());
        return absl::OkStatus();
      });
      if (!s.ok()) return s;
      LogInfo(absl::StrCat("apply ", path, " ", VersionToString(remote.content().version()),
                           ": deferred, open for writing here"));
      return Outcome::kDeferred;
    }

    Entry result = content_wins ? remote : *local;
    result.clear_local_stat();
    result.clear_seq();
    *result.mutable_attributes() =
        content_wins ? MergedAttributes(remote, local) : remote.attributes();
    const Kind kind = result.content().kind();

    // Build new file content, symlinks and fifos in the temp folder first:
    // nothing visible changes until the rename below.
    PreparedObject prepared;
    if (content_wins && (kind == KIND_FILE || kind == KIND_SYMLINK || kind == KIND_FIFO)) {
      if (absl::Status s = PrepareObject(result, result.attributes(), root_fd_, *store_, options_,
                                         &temp_counter_, fetcher, stats, &prepared);
          !s.ok()) {
        return s;
      }
    }

    // Place it and commit, holding the store's commit lock so no local
    // change interleaves; if a local change got in since we decided, decide
    // again.
    bool raced = false;
    bool deferred_late = false;
    // No local change is between its syscall and its commit while we decide
    // and change the disk (see FilesystemHooks::BlockLocalChanges).
    std::unique_lock<std::shared_mutex> gate = hooks_->BlockLocalChanges();
    absl::Status status = store_->Transact([&](StoreTransaction& txn) -> absl::Status {
      absl::StatusOr<std::optional<Entry>> now = txn.Get(path);
      if (!now.ok()) return now.status();
      if (!SameOptional(*now, *before)) {
        raced = true;
        return absl::OkStatus();
      }
      // A local writer may have opened the file since the check above: it
      // must not see its file replaced. (The commit lock held here keeps
      // the writer's own commit out until this decision is made, and the
      // gate keeps new writers out until the object is replaced.)
      if (content_wins && hooks_->IsOpenForWriting(path)) {
        txn.PutRaw(DeferredKey(path), remote.SerializeAsString());
        deferred_late = true;
        return absl::OkStatus();
      }
      // Write-ahead: a crash from here until the commit leaves the intent
      // for the start-up recovery (see ApplyIntent).
      ApplyIntent intent;
      *intent.mutable_result() = result;
      intent.set_placed_ino(prepared.placed_ino);
      intent.set_attributes_only(!content_wins);
      txn.PutRaw(IntentKey(path), intent.SerializeAsString());
      if (absl::Status s = txn.PersistQueuedRaw(); !s.ok()) return s;
      std::string name, blocking;
      absl::StatusOr<UniqueFd> parent =
          OpenParentBeneath(root_fd_, path, /*create=*/IsLive(result), &name, &blocking);
      if (!parent.ok() && !blocking.empty() && IsLive(result)) {
        // A live descendant beats a non-directory at an ancestor path: the
        // ancestor becomes a directory again (its content, if a file, is
        // kept as a conflict copy).
        std::string ancestor_name;
        absl::StatusOr<UniqueFd> ancestor_parent =
            OpenParentBeneath(root_fd_, blocking, false, &ancestor_name);
        if (!ancestor_parent.ok()) return ancestor_parent.status();
        absl::StatusOr<std::optional<Entry>> ancestor = txn.Get(blocking);
        if (ancestor.ok() && ancestor->has_value() && (*ancestor)->content().kind() == KIND_FILE) {
          if (absl::Status s = conflicts_.Keep(ancestor_parent->get(), ancestor_name, **ancestor,
                                               result.content().version(), txn);
              !s.ok()) {
            return s;
          }
          ++stats->conflicts;
          if (absl::Status s = txn.PersistQueuedRaw(); !s.ok()) return s;
        }
        if (::unlinkat(ancestor_parent->get(), ancestor_name.c_str(), 0) != 0) {
          return absl::ErrnoToStatus(errno, absl::StrCat("replace ", blocking));
        }
        hooks_->InvalidatePath(blocking);
        parent = OpenParentBeneath(root_fd_, path, true, &name);
      }
      if (!parent.ok()) {
        if (IsLive(result)) return parent.status();
        // A tombstone under a missing or non-directory ancestor: nothing on
        // disk to remove; the entry is still recorded.
        txn.Put(result);
        txn.DeleteRaw(DeferredKey(path));
        txn.DeleteRaw(IntentKey(path));
        return absl::OkStatus();
      }
      const int parent_fd = parent->get();
      if (content_wins && local != nullptr && local->content().kind() == KIND_FILE &&
          !SameContent(local->content(), result.content()) &&
          !VectorDominates(result.content().vector(), local->content().vector())) {
        // A concurrent local version loses: keep it.
        struct stat st;
        if (::fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
          if (absl::Status s = conflicts_.Keep(parent_fd, name, *local, result.content().version(), txn);
              !s.ok()) {
            return s;
          }
          ++stats->conflicts;
          LogInfo(absl::StrCat("apply ", path, " ", VersionToString(result.content().version()),
                               ": kept the concurrent local version ",
                               VersionToString(local->content().version()), " as a conflict copy"));
          if (absl::Status s = txn.PersistQueuedRaw(); !s.ok()) return s;
        }
      }
      struct stat existing;
      const bool exists = ::fstatat(parent_fd, name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0;
      if (!content_wins) {
        // Attributes only. Not on a directory standing in for a file that
        // its live descendants hide: that directory has the implicit
        // attributes (found by the convergence simulation, seed 785: a chmod
        // of the hidden file made the directory 0600 on one replica only).
        const bool stands_in =
            exists && S_ISDIR(existing.st_mode) && result.content().kind() != KIND_DIR;
        if (exists && !stands_in) {
          UniqueFd object(::openat(parent_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
          if (!object.valid()) return absl::ErrnoToStatus(errno, "open for attributes");
          if (absl::Status s = SetObjectAttributes(object.get(), kind, result.attributes(),
                                             result.content().mtime_ns());
              !s.ok()) {
            return s;
          }
        }
      } else if (kind == KIND_TOMBSTONE || (exists && S_ISDIR(existing.st_mode) && kind != KIND_DIR)) {
        // Removing (or replacing) a directory: a live descendant keeps it.
        bool keep = false;
        if (exists && S_ISDIR(existing.st_mode)) {
          absl::StatusOr<bool> live_below = HasLiveDescendant(*store_, path);
          if (!live_below.ok()) return live_below.status();
          keep = *live_below;
        }
        if (keep && kind == KIND_FILE && !prepared.temp_name.empty()) {
          // The winning file is hidden by live descendants ("Parents"
          // rule). Keep its content as a conflict copy, as a shown file
          // displaced by a descendant is: peers may fetch its blocks from
          // this replica (it is in our change log), and it comes back when
          // the descendants go (found by the convergence simulation, seed
          // 448: a replica that never built it could not serve it).
          if (absl::Status s = conflicts_.Keep(prepared.temp_dir_fd(), prepared.temp_name, result,
                                               result.content().version(), txn);
              !s.ok()) {
            return s;
          }
        }
        if (keep) {
          // Found by the convergence simulation (seed 9): the directory now
          // exists only for its descendants ("Parents" rule), so no register
          // decides its attributes. Left as they were, replicas disagreed
          // (the one that had it kept its old mode, the others created it
          // 0755). Every replica gives it the defaults an ancestor created
          // for a descendant gets: mode 0755, no replicated xattrs.
          UniqueFd dir(::openat(parent_fd, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
          if (!dir.valid()) return absl::ErrnoToStatus(errno, "open kept directory");
          if (absl::Status s = SetObjectAttributes(dir.get(), KIND_DIR,
                                             ImplicitDirectoryAttributes(existing), 0);
              !s.ok()) {
            return s;
          }
        }
        if (!keep && exists) {
          if (absl::Status s = RemoveObject(parent_fd, name); !s.ok()) return s;
        }
        if (!keep && !prepared.temp_name.empty()) {
          if (::renameat(prepared.temp_dir_fd(), prepared.temp_name.c_str(), parent_fd, name.c_str()) != 0) {
            return absl::ErrnoToStatus(errno, "rename into place");
          }
          prepared.temp_name.clear();
        }
      } else if (kind == KIND_DIR) {
        if (exists && !S_ISDIR(existing.st_mode)) {
          if (absl::Status s = RemoveObject(parent_fd, name); !s.ok()) return s;
        }
        if (!exists || !S_ISDIR(existing.st_mode)) {
          if (::mkdirat(parent_fd, name.c_str(), 0700) != 0 && errno != EEXIST) {
            return absl::ErrnoToStatus(errno, absl::StrCat("mkdir ", path));
          }
        }
        UniqueFd dir(::openat(parent_fd, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!dir.valid()) return absl::ErrnoToStatus(errno, "open directory");
        if (absl::Status s = SetObjectAttributes(dir.get(), kind, result.attributes(), 0); !s.ok()) return s;
      } else {
        // Atomic replacement: readers see the old or the new object, never a
        // mix, and an old open or mmapped copy stays intact.
        if (::renameat(prepared.temp_dir_fd(), prepared.temp_name.c_str(), parent_fd, name.c_str()) != 0) {
          return absl::ErrnoToStatus(errno, "rename into place");
        }
        prepared.temp_name.clear();
      }
      struct stat placed;
      if (IsLive(result) && ::fstatat(parent_fd, name.c_str(), &placed, AT_SYMLINK_NOFOLLOW) == 0) {
        *result.mutable_local_stat() = LocalStatOf(placed);
      }
      txn.Put(result);
      txn.DeleteRaw(DeferredKey(path));
      txn.DeleteRaw(IntentKey(path));
      return absl::OkStatus();
    });
    gate.unlock();
    if (!status.ok()) return status;
    if (raced) continue;
    if (deferred_late) {
      LogInfo(absl::StrCat("apply ", path, " ", VersionToString(remote.content().version()),
                           ": deferred, opened for writing here meanwhile"));
      return Outcome::kDeferred;
    }
    if (LogEnabled(LogLevel::kDebug)) {
      LogDebug(absl::StrCat("apply ", path, " ", VersionToString(remote.content().version()),
                            content_wins ? ": applied over " : ": attributes applied over ",
                            local == nullptr ? "none" : VersionToString(local->content().version())));
    }
    hooks_->InvalidatePath(path);
    if (content_wins && !IsLive(result)) {
      if (absl::Status s = SettleUncoveredAncestors(path, root_fd_, store_, hooks_, options_,
                                                    &temp_counter_, fetcher, stats);
          !s.ok()) {
        return s;
      }
    }
    return Outcome::kApplied;
  }
  return absl::AbortedError("local changes kept racing with the apply");
}

}  // namespace replfs
