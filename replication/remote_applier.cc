#include "replication/remote_applier.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <cerrno>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "replication/apply_failure.h"
#include "replication/object_attributes.h"
#include "replication/uncovered_ancestors.h"
#include "storage/apply_intents.h"
#include "storage/beneath.h"
#include "storage/deferred_entries.h"
#include "storage/errno_status.h"
#include "storage/log.h"
#include "storage/object_observer.h"
#include "storage/register_compare.h"
#include "storage/unique_fd.h"
#include "storage/version.h"

namespace replfs {
namespace {

bool IsLive(const Entry& e) { return e.content().kind() != KIND_TOMBSTONE; }

// Removes whatever is at `name` in `parent_fd` (a directory with its
// contents). Absent is fine.
absl::Status RemoveObject(int parent_fd, const std::string& name) {
  struct stat st;
  if (::fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno == ENOENT ? absl::OkStatus() : ErrnoStatus(errno, "stat");
  }
  if (S_ISDIR(st.st_mode)) {
    UniqueFd dir(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (dir.valid()) {
      if (absl::Status s = RemoveContents(dir.get()); !s.ok()) return s;
    }
    if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, absl::StrCat("rmdir ", name));
    }
    return absl::OkStatus();
  }
  if (::unlinkat(parent_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, absl::StrCat("unlink ", name));
  }
  return absl::OkStatus();
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

// Entries of one batch are decided and built in groups of at most this
// many (or this many bytes), their files made durable together, then placed
// in order: one fsync per file, right after building it, was most of a
// small file's apply time on a journaled file system (each forces a journal
// commit): a burst of 10,000 files of 4 KiB took 10 s to apply instead of
// 5 (tools/bench-replication).
constexpr size_t kGroupEntries = 256;
constexpr uint64_t kGroupBytes = 64 << 20;

absl::Status InEntry(const Entry& e, const absl::Status& s) {
  return WithPrefix(absl::StrCat("apply ", e.path(), ": "), s);
}

int64_t NowUnixMs() { return absl::ToUnixMillis(absl::Now()); }

// When a set-aside entry is tried again after `attempts` failures: 1 s,
// 2 s, 4 s... up to 10 minutes, so a file system that is fixed (remounted,
// given space) gets its entries soon, and one that never will costs little.
int64_t NextAttemptUnixMs(int64_t now_unix_ms, uint32_t attempts) {
  constexpr int64_t kFirstMs = 1000;
  constexpr int64_t kMaxMs = int64_t{10} * 60 * 1000;
  const int64_t delay = attempts >= 10 ? kMaxMs : std::min(kMaxMs, kFirstMs << attempts);
  return now_unix_ms + delay;
}

// A partly applied entry's record: what it lacks, retried like a set-aside
// entry when trying again may help.
SetAsideRecord PartialRecord(const Entry& applied, uint64_t peer,
                             const DroppedAttributes& dropped, int64_t now_unix_ms) {
  SetAsideRecord record;
  *record.mutable_entry() = applied;
  record.mutable_entry()->clear_local_stat();
  record.mutable_entry()->clear_seq();
  record.set_peer(peer);
  record.set_partial(true);
  for (const std::string& item : dropped.items) record.add_dropped(item);
  record.set_reason(absl::StrCat("applied without ", absl::StrJoin(dropped.items, "; ")));
  record.set_retryable(dropped.retryable);
  record.set_first_unix_ms(now_unix_ms);
  record.set_next_attempt_unix_ms(dropped.retryable ? NextAttemptUnixMs(now_unix_ms, 0)
                                                    : std::numeric_limits<int64_t>::max());
  return record;
}

bool SameVersions(const Entry& a, const Entry& b) {
  return CompareVersions(a.content().version(), b.content().version()) == 0 &&
         CompareVersions(a.attributes().version(), b.attributes().version()) == 0;
}

}  // namespace

// A remote entry decided against the store, with the object built for it.
struct RemoteApplier::Plan {
  const Entry* remote = nullptr;
  uint64_t peer = 0;                 // Where it came from, for a set-aside record.
  std::optional<Entry> before;       // The local entry it was decided against.
  std::optional<Entry> set_aside;    // The set-aside entry it was decided against.
  bool content_wins = false;         // Else only the attributes win.
  Entry result;                      // What the path holds once placed.
  bool needs_object = false;         // Content to build before placing.
  bool builds_for_all = false;       // Registered in building_ for its path.
  bool decide_again = false;         // Another puller built this version meanwhile.
  PreparedObject prepared;           // Built content, if any.
  absl::Status build_failure;        // Why building it failed.
  std::optional<Outcome> done;       // Decided without placing anything.

  // What Resolve decides this plan from, but for the path's writers and
  // the disk.
  ResolveInputs Inputs(uint64_t own_node) const {
    ResolveInputs in;
    in.local = before.has_value() ? &*before : nullptr;
    in.remote = remote;
    in.set_aside = set_aside.has_value() ? &*set_aside : nullptr;
    in.own_node = own_node;
    return in;
  }
};

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

absl::Status RemoteApplier::ApplyBatch(const google::protobuf::RepeatedPtrField<Entry>& entries,
                                       const BatchSource& source, ApplyStats* stats) {
  std::vector<const Entry*> pointers;
  pointers.reserve(static_cast<size_t>(entries.size()));
  for (const Entry& e : entries) pointers.push_back(&e);
  return ApplyEntries(pointers, source, stats);
}

absl::Status RemoteApplier::ApplyBatch(const std::vector<Entry>& entries, BlockFetcher* fetcher,
                                       ApplyStats* stats) {
  std::vector<const Entry*> pointers;
  pointers.reserve(entries.size());
  for (const Entry& e : entries) pointers.push_back(&e);
  return ApplyEntries(pointers, BatchSource{fetcher, 0}, stats);
}

absl::Status RemoteApplier::ApplyEntries(const std::vector<const Entry*>& entries,
                                         const BatchSource& source, ApplyStats* stats) {
  for (const Entry* e : entries) {
    if (absl::Status s = ValidateRemoteEntry(*e, options_.hidden_name, options_.limits); !s.ok()) {
      return PeerFault(s);
    }
    // A far-future version rejects the batch before anything of it applies.
    for (const Version* v : {&e->content().version(), &e->attributes().version()}) {
      if (absl::Status s = clock_->CheckNotAhead(v->hlc(), options_.max_clock_ahead_ms); !s.ok()) {
        return PeerFault(InEntry(*e, s));
      }
    }
  }
  // Live entries parents-first, then tombstones children-first.
  std::vector<const Entry*> order = entries;
  std::stable_sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    const bool a_live = IsLive(*a), b_live = IsLive(*b);
    if (a_live != b_live) return a_live;
    return a_live ? a->path() < b->path() : a->path() > b->path();
  });
  for (size_t at = 0; at < order.size();) {
    std::vector<const Entry*> group;
    uint64_t group_bytes = 0;
    for (; at < order.size() && group.size() < kGroupEntries && group_bytes < kGroupBytes; ++at) {
      group_bytes += order[at]->content().size();
      group.push_back(order[at]);
    }
    stats->received += group.size();
    if (absl::Status s = ApplyGroup(std::move(group), source, nullptr, stats); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status RemoteApplier::ApplyGroup(std::vector<const Entry*> group, const BatchSource& source,
                                       const SetAsideRecord* retried, ApplyStats* stats) {
  auto count = [stats](Outcome outcome) {
    switch (outcome) {
      case Outcome::kIgnored: ++stats->ignored; break;
      case Outcome::kApplied: ++stats->applied; break;
      case Outcome::kDeferred: ++stats->deferred; break;
      case Outcome::kForged: ++stats->forged; break;
    }
  };
  constexpr int kRounds = 5;
  for (int round = 0; !group.empty(); ++round) {
    if (round == kRounds) {
      return InEntry(*group.front(), absl::AbortedError("local changes kept racing with the apply"));
    }
    std::vector<std::unique_ptr<Plan>> plans;
    {
      absl::MutexLock lock(&mu_);
      for (const Entry* remote : group) {
        absl::StatusOr<std::unique_ptr<Plan>> plan = Decide(*remote, source, retried != nullptr);
        if (!plan.ok()) {
          if (absl::Status s = SetAsideOrFail(*remote, source.peer, plan.status(), stats, retried);
              !s.ok()) {
            return s;
          }
          continue;
        }
        if ((*plan)->done.has_value()) {
          count(*(*plan)->done);
          continue;
        }
        plans.push_back(*std::move(plan));
      }
    }
    // One build per path and version at a time: a version another puller
    // is building is waited for while that build makes progress, then
    // decided again. Once the builds waited for stall for a second (a peer
    // hangs, or they are slow), this group waits no more and builds what
    // is left itself: it delays no other peer's entries longer than that.
    {
      absl::MutexLock lock(&mu_);
      uint64_t progress = 0;
      absl::Time progressed = absl::Now();
      bool stalled = false;
      for (const std::unique_ptr<Plan>& plan : plans) {
        if (!plan->needs_object) continue;
        const std::string& path = plan->remote->path();
        const Version& version = plan->result.content().version();
        auto building_it = building_.find(path);
        if (building_it == building_.end()) {
          building_.emplace(path, Build{version, source.fetcher});
          plan->builds_for_all = true;
          continue;
        }
        if (stalled || CompareVersions(building_it->second.version, version) < 0) continue;
        auto other_done = [this, &path, &version]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          auto it = building_.find(path);
          return it == building_.end() || CompareVersions(it->second.version, version) < 0;
        };
        while (!(plan->decide_again = mu_.AwaitWithTimeout(absl::Condition(&other_done),
                                                           absl::Milliseconds(100)))) {
          const BlockFetcher* other = building_.find(path)->second.fetcher;
          const uint64_t now = other == nullptr ? 0 : other->bytes_received();
          if (now != progress) {
            progress = now;
            progressed = absl::Now();
          } else if (absl::Now() - progressed >= absl::Seconds(1)) {
            stalled = true;
            break;
          }
        }
      }
    }
    // Whatever happens below, this group's builds are not in flight any more.
    auto release_builds = [this, &plans]() {
      absl::MutexLock lock(&mu_);
      for (const std::unique_ptr<Plan>& plan : plans) {
        if (!plan->builds_for_all) continue;
        auto it = building_.find(plan->remote->path());
        if (it != building_.end() &&
            CompareVersions(it->second.version, plan->result.content().version()) == 0) {
          building_.erase(it);
        }
        plan->builds_for_all = false;
      }
    };
    struct ReleaseOnExit {
      std::function<void()> release;
      ~ReleaseOnExit() { release(); }
    } release_on_exit{release_builds};
    // Built outside the order: here blocks are fetched. A peer's failure
    // (gone, bad blocks) stops the batch; one of the entry's is decided on
    // in order, below.
    std::vector<PreparedObject*> built;
    PrefetchedBlocks prefetched(source.fetcher);
    BlockFetcher* fetcher = source.fetcher == nullptr ? nullptr : &prefetched;
    size_t prefetched_until = 0;
    for (size_t i = 0; i < plans.size(); ++i) {
      const std::unique_ptr<Plan>& plan = plans[i];
      if (!plan->needs_object || plan->decide_again) continue;
      if (fetcher != nullptr && i >= prefetched_until) {
        prefetched_until = PrefetchSmallFiles(plans, i, &prefetched);
      }
      plan->build_failure =
          PrepareObject(plan->result, plan->result.attributes(), root_fd_, *store_, options_,
                        &temp_counter_, fetcher, stats, /*durable=*/false, &plan->prepared);
      if (plan->build_failure.ok()) {
        built.push_back(&plan->prepared);
      } else if (ScopeOf(plan->build_failure) != FailureScope::kEntry) {
        return InEntry(*plan->remote, plan->build_failure);
      }
    }
    if (absl::Status s = MakeDurable(built); !s.ok()) return s;
    std::vector<const Entry*> raced;
    absl::MutexLock lock(&mu_);
    for (const std::unique_ptr<Plan>& plan : plans) {
      if (plan->decide_again) {
        raced.push_back(plan->remote);
        continue;
      }
      absl::StatusOr<std::optional<Outcome>> placed =
          plan->build_failure.ok() ? Place(*plan, source.fetcher, stats)
                                   : absl::StatusOr<std::optional<Outcome>>(plan->build_failure);
      if (!placed.ok()) {
        if (absl::Status s =
                SetAsideOrFail(*plan->remote, source.peer, placed.status(), stats, retried);
            !s.ok()) {
          return s;
        }
        continue;
      }
      if (!placed->has_value()) {
        // A local change got in since it was decided: decide again.
        raced.push_back(plan->remote);
        continue;
      }
      count(**placed);
      // Placed: whoever waits for this build decides again now.
      if (plan->builds_for_all) {
        building_.erase(plan->remote->path());
        plan->builds_for_all = false;
      }
    }
    group = std::move(raced);
  }
  return absl::OkStatus();
}

size_t RemoteApplier::PrefetchSmallFiles(const std::vector<std::unique_ptr<Plan>>& plans,
                                         size_t from, PrefetchedBlocks* prefetched) const {
  // Held at once per puller: about what one large file's fetch holds.
  constexpr uint64_t kPrefetchBytes = 16 << 20;
  prefetched->Clear();
  std::vector<PrefetchedBlocks::Wanted> wanted;
  uint64_t bytes = 0;
  size_t i = from;
  for (; i < plans.size() && bytes < kPrefetchBytes; ++i) {
    const Plan& plan = *plans[i];
    const Content& content = plan.result.content();
    if (!plan.needs_object || plan.decide_again || content.kind() != KIND_FILE ||
        content.is_inline() || content.block_hashes_size() != 1) {
      continue;
    }
    // Held locally (a renamed or copied file): the build reads it here.
    absl::StatusOr<std::vector<std::pair<std::string, uint64_t>>> places =
        store_->FindBlock(content.block_hashes(0), 1);
    if (!places.ok() || !places->empty()) continue;
    wanted.push_back({content.block_hashes(0), content.size()});
    bytes += content.size();
  }
  // One file alone gains nothing: its build fetches it as before.
  if (wanted.size() > 1) prefetched->Prefetch(wanted);
  return i;
}

absl::Status RemoteApplier::SetAsideOrFail(const Entry& remote, uint64_t peer,
                                           const absl::Status& failure, ApplyStats* stats,
                                           const SetAsideRecord* retried) {
  absl::Status in_entry = InEntry(remote, failure);
  if (ScopeOf(failure) != FailureScope::kEntry) return in_entry;
  const int64_t now = NowUnixMs();
  // The record's history is kept when the same entry fails again.
  auto keep_history = [&](const SetAsideRecord& earlier) {
    SetAsideRecord record;  // Without its entry: `remote` goes in as it is.
    record.set_peer(peer != 0 ? peer : earlier.peer());
    record.set_first_unix_ms(earlier.first_unix_ms());
    record.set_attempts(earlier.attempts());
    return record;
  };
  SetAsideRecord record;
  if (retried != nullptr) {
    record = keep_history(*retried);
  } else {
    absl::StatusOr<std::optional<SetAsideRecord>> earlier = store_->GetSetAside(remote.path());
    if (!earlier.ok()) return earlier.status();
    if (earlier->has_value() && !(*earlier)->partial() &&
        SameVersions((*earlier)->entry(), remote)) {
      record = keep_history(**earlier);
    } else {
      record.set_peer(peer);
      record.set_first_unix_ms(now);
    }
  }
  record.set_partial(false);
  record.clear_dropped();
  record.set_retryable(true);
  record.set_reason(std::string(failure.message()));
  record.set_next_attempt_unix_ms(NextAttemptUnixMs(now, record.attempts()));
  record.set_attempts(record.attempts() + 1);
  if (absl::Status s = store_->Transact([&](StoreTransaction& txn) {
        txn.PutSetAside(record, remote);
        return absl::OkStatus();
      });
      !s.ok()) {
    return s;
  }
  ++stats->set_aside;
  LogWarning(absl::StrFormat("%s: set aside (attempt %d, next in %d s): later entries go on",
                             in_entry.message(), record.attempts(),
                             (record.next_attempt_unix_ms() - now) / 1000));
  return absl::OkStatus();
}

absl::Status RemoteApplier::RetryDeferred(const std::string& path, BlockFetcher* fetcher,
                                          ApplyStats* stats) {
  const DeferredEntries deferred(*store_);
  std::vector<Entry> waiting;
  absl::Status s;
  if (path.empty()) {
    s = deferred.Scan([&](const Entry& e) {
      waiting.push_back(e);
      return true;
    });
  } else {
    absl::StatusOr<std::optional<Entry>> one = deferred.Get(path);
    s = one.status();
    if (one.ok() && one->has_value()) waiting.push_back(**std::move(one));
  }
  if (!s.ok()) return s;
  if (waiting.empty()) return absl::OkStatus();
  if (s = ApplyBatch(waiting, fetcher, stats); !s.ok()) return s;
  // A waiting entry that lost meanwhile (the writer's own commit came after
  // it, so it is newer) was ignored and is still waiting: drop it, or it
  // would be retried at every close and counted as deferred forever.
  return store_->Transact([&](StoreTransaction& txn) -> absl::Status {
    for (const Entry& e : waiting) {
      absl::StatusOr<std::optional<Entry>> still = deferred.Get(e.path());
      if (!still.ok()) return still.status();
      // Another entry deferred for the path since is still to apply.
      if (!still->has_value() || (*still)->SerializeAsString() != e.SerializeAsString()) continue;
      absl::StatusOr<std::optional<Entry>> local = txn.Get(e.path());
      if (!local.ok()) return local.status();
      if (local->has_value() &&
          CompareVersions(e.content().version(), (*local)->content().version()) <= 0 &&
          CompareVersions(e.attributes().version(), (*local)->attributes().version()) <= 0) {
        DeferredEntries::Delete(txn, e.path());
      }
    }
    return absl::OkStatus();
  });
}

absl::Status RemoteApplier::RetrySetAside(BlockFetcher* fetcher, int64_t now_unix_ms, bool all,
                                          size_t limit, ApplyStats* stats) {
  // Which are due, by path and attempt only: a record may hold an entry
  // listing 2^18 hashes, and they are read again one at a time.
  struct Due {
    std::string path;
    uint32_t attempts;
  };
  std::vector<Due> due;
  absl::Status scanned = store_->ScanSetAside("", [&](const SetAsideRecord& record) {
    if (all || (record.retryable() && record.next_attempt_unix_ms() <= now_unix_ms)) {
      due.push_back({record.entry().path(), record.attempts()});
    }
    return due.size() < limit;
  });
  if (!scanned.ok()) return scanned;
  for (const Due& item : due) {
    // Applied, superseded or tried again since it was read: not due now.
    absl::StatusOr<std::optional<SetAsideRecord>> current = store_->GetSetAside(item.path);
    if (!current.ok()) return current.status();
    if (!current->has_value() || (*current)->attempts() != item.attempts) continue;
    const SetAsideRecord& record = **current;
    const Entry& entry = record.entry();
    if (record.partial()) {
      absl::MutexLock lock(&mu_);
      if (absl::Status s = RetryDroppedAttributes(record, now_unix_ms); !s.ok()) return s;
      continue;
    }
    {
      absl::MutexLock lock(&mu_);
      absl::StatusOr<std::optional<Entry>> local = store_->Get(entry.path());
      if (!local.ok()) return local.status();
      if (local->has_value() &&
          CompareVersions((*local)->content().version(), entry.content().version()) >= 0) {
        // A newer version was made or applied here since: it decides now.
        LogInfo(absl::StrCat("set-aside entry ", entry.path(), " ",
                             VersionToString(entry.content().version()), " superseded by ",
                             VersionToString((*local)->content().version())));
        if (absl::Status s = store_->Transact([&](StoreTransaction& txn) {
              txn.DeleteSetAside(entry.path());
              return absl::OkStatus();
            });
            !s.ok()) {
          return s;
        }
        continue;
      }
    }
    const uint64_t applied_before = stats->applied;
    const absl::Status outcome =
        ApplyGroup({&entry}, BatchSource{fetcher, record.peer()}, &record, stats);
    if (outcome.ok()) {
      if (stats->applied > applied_before) {
        LogInfo(absl::StrCat("set-aside entry ", entry.path(), " ",
                             VersionToString(entry.content().version()), " applied at attempt ",
                             record.attempts() + 1));
      }
      continue;
    }
    // Not the entry's own failure (the disk is full, no peer serves its
    // blocks right now): it stays set aside, tried again later.
    SetAsideRecord later;  // Its entry stays as it is.
    later.set_peer(record.peer());
    later.set_retryable(true);
    later.set_first_unix_ms(record.first_unix_ms());
    later.set_reason(std::string(outcome.message()));
    later.set_next_attempt_unix_ms(NextAttemptUnixMs(now_unix_ms, record.attempts()));
    later.set_attempts(record.attempts() + 1);
    if (absl::Status s = store_->Transact([&](StoreTransaction& txn) {
          txn.PutSetAside(later, entry);
          return absl::OkStatus();
        });
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status RemoteApplier::RetryDroppedAttributes(const SetAsideRecord& record,
                                                   int64_t now_unix_ms) {
  const std::string& path = record.entry().path();
  absl::StatusOr<std::optional<Entry>> local = store_->Get(path);
  if (!local.ok()) return local.status();
  const bool superseded = !local->has_value() || !SameVersions(**local, record.entry());
  std::unique_lock<std::shared_mutex> gate = hooks_->BlockLocalChanges();
  return store_->Transact([&](StoreTransaction& txn) -> absl::Status {
    // A newer version replaced the one that lacked something: what it
    // lacks itself, if anything, has its own record.
    if (superseded) {
      txn.DeleteSetAside(path);
      return absl::OkStatus();
    }
    absl::StatusOr<std::optional<Entry>> now = txn.Get(path);
    if (!now.ok()) return now.status();
    if (!SameStoredEntry(*now, *local)) return absl::OkStatus();  // Raced: next time.
    const Entry& applied = **local;
    DroppedAttributes dropped;
    std::string name;
    absl::StatusOr<UniqueFd> parent = OpenParentBeneath(root_fd_, path, false, &name);
    struct stat st;
    if (parent.ok() && ::fstatat(parent->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        KindMatches(applied.content().kind(), st.st_mode)) {
      UniqueFd object(::openat(parent->get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!object.valid()) return ErrnoStatus(errno, "open for attributes");
      if (absl::Status s = SetObjectAttributes(object.get(), applied.content().kind(),
                                               applied.attributes(),
                                               applied.content().mtime_ns(),
                                               options_.allow_setuid, &dropped);
          !s.ok()) {
        dropped.items.push_back(std::string(s.message()));
        dropped.retryable = true;
      }
    }
    // (An object that is not there as that kind any more, a directory
    // standing in for a hidden file: nothing of it to complete.)
    if (dropped.empty()) {
      LogInfo(absl::StrCat("apply ", path, ": the attributes it lacked are stored now"));
      txn.DeleteSetAside(path);
      return absl::OkStatus();
    }
    SetAsideRecord later = PartialRecord(applied, record.peer(), dropped, now_unix_ms);
    later.set_first_unix_ms(record.first_unix_ms());
    later.set_attempts(record.attempts() + 1);
    if (later.retryable()) {
      later.set_next_attempt_unix_ms(NextAttemptUnixMs(now_unix_ms, later.attempts()));
    }
    txn.PutSetAside(later);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::unique_ptr<RemoteApplier::Plan>> RemoteApplier::Decide(
    const Entry& remote, const BatchSource& source, bool retrying) {
  // The clock first: whatever is changed here after seeing this entry must
  // beat it, even with skewed wall clocks. A far-future version is refused.
  for (const Version* v : {&remote.content().version(), &remote.attributes().version()}) {
    if (absl::Status s = clock_->Observe(v->hlc(), options_.max_clock_ahead_ms); !s.ok()) return s;
  }
  auto plan = std::make_unique<Plan>();
  plan->remote = &remote;
  plan->peer = source.peer;
  const std::string& path = remote.path();
  absl::StatusOr<std::optional<Entry>> before = store_->Get(path);
  if (!before.ok()) return before.status();
  plan->before = *std::move(before);
  // An entry of this path set aside whole is decided against (Resolve).
  std::optional<SetAsideRecord> aside;
  if (!retrying) {
    absl::StatusOr<std::optional<SetAsideRecord>> record = store_->GetSetAside(path);
    if (!record.ok()) return record.status();
    if (record->has_value() && !(*record)->partial()) {
      aside = **std::move(record);
      plan->set_aside = aside->entry();
    }
  }
  ResolveInputs inputs = plan->Inputs(options_.node_id);
  inputs.open_for_writing = hooks_->IsOpenForWriting(path);
  const Resolution resolution = Resolve(inputs);
  switch (resolution.verdict) {
    case Verdict::kFoldIntoSetAside: {
      SetAsideRecord updated = *std::move(aside);
      *updated.mutable_entry()->mutable_attributes() = resolution.attributes;
      if (absl::Status s = store_->Transact([&](StoreTransaction& txn) {
            txn.PutSetAside(updated);
            return absl::OkStatus();
          });
          !s.ok()) {
        return s;
      }
      plan->done = Outcome::kIgnored;
      return plan;
    }
    case Verdict::kRefuseForged:
      LogWarning(absl::StrCat("apply ", path, " ", VersionToString(remote.content().version()),
                              ": refused: claims a version of this replica it never issued"));
      plan->done = Outcome::kForged;
      return plan;
    case Verdict::kIgnore:
      if (LogEnabled(LogLevel::kDebug) && !resolution.decided_by_set_aside) {
        const Entry* local = plan->before.has_value() ? &*plan->before : nullptr;
        LogDebug(absl::StrCat("apply ", path, " ", VersionToString(remote.content().version()),
                              ": ignored, local ",
                              local == nullptr ? "none" : VersionToString(local->content().version())));
      }
      plan->done = Outcome::kIgnored;
      return plan;
    case Verdict::kDefer: {
      absl::Status s = store_->Transact([&](StoreTransaction& txn) {
        DeferredEntries::Put(txn, remote);
        return absl::OkStatus();
      });
      if (!s.ok()) return s;
      LogInfo(absl::StrCat("apply ", path, " ", VersionToString(remote.content().version()),
                           ": deferred, open for writing here"));
      plan->done = Outcome::kDeferred;
      return plan;
    }
    default:
      break;
  }
  plan->content_wins = resolution.content_wins;
  plan->result = ResultingEntry(resolution);
  const Kind kind = plan->result.content().kind();
  // New file content, symlinks and fifos are built in the temp folder first
  // (by ApplyGroup, outside the order): nothing visible changes until Place
  // renames it into place.
  plan->needs_object = plan->content_wins &&
                       (kind == KIND_FILE || kind == KIND_SYMLINK || kind == KIND_FIFO);
  return plan;
}

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
    case Verdict::kReplace:
      placed = ReplaceObject(plan, target);
      break;
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

absl::Status RemoteApplier::ReplaceObject(Plan& plan, const Target& target) {
  const Kind kind = plan.result.content().kind();
  if (kind == KIND_DIR) return PlaceDirectory(plan, target);
  const int parent_fd = target.parent.get();
  PreparedObject& prepared = plan.prepared;
  if (kind == KIND_TOMBSTONE || target.disk.object == ObjectAtPath::kDirectory) {
    // Removing (or replacing) a directory or whatever is there.
    if (target.disk.object != ObjectAtPath::kNone) {
      if (absl::Status s = RemoveObject(parent_fd, target.name); !s.ok()) return s;
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
      if (absl::Status s = RemoveObject(parent_fd, name); !s.ok()) return s;
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
  absl::Status status = store_->Transact([&](StoreTransaction& txn) -> absl::Status {
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
  hooks_->InvalidatePath(path);
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
