#include "replication/remote_applier.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "replication/apply_failure.h"
#include "replication/remote_applier_plan.h"
#include "storage/deferred_entries.h"
#include "storage/log.h"
#include "storage/version.h"

namespace replfs {
namespace {

bool IsLive(const Entry& e) { return e.content().kind() != KIND_TOMBSTONE; }

// Entries of one batch are decided and built in groups of at most this
// many (or this many bytes), their files made durable together, then placed
// in order: one fsync per file, right after building it, was most of a
// small file's apply time on a journaled file system (each forces a journal
// commit): a burst of 10,000 files of 4 KiB took 10 s to apply instead of
// 5 (tools/bench-replication).
constexpr size_t kGroupEntries = 256;
constexpr uint64_t kGroupBytes = 64 << 20;

}  // namespace

void RemoteApplier::CountOutcome(Outcome outcome, ApplyStats* stats) {
  switch (outcome) {
    case Outcome::kIgnored: ++stats->ignored; break;
    case Outcome::kApplied: ++stats->applied; break;
    case Outcome::kDeferred: ++stats->deferred; break;
    case Outcome::kForged: ++stats->forged; break;
  }
}

namespace {

}  // namespace

RemoteApplier::RemoteApplier(int root_fd, MetadataStore* store, HybridLogicalClock* clock,
                             FilesystemHooks* hooks, ApplierOptions options)
    : root_fd_(root_fd), store_(store), clock_(clock), hooks_(hooks),
      options_(std::move(options)), conflicts_(store, options_.conflicts_dir) {
  conflicts_.set_versions(options_.versions);
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
    for (const Version* v : VersionsIn(*e)) {
      if (absl::Status s = clock_->CheckNotAhead(v->hlc(), options_.max_clock_ahead_ms); !s.ok()) {
        return PeerFault(InEntry(*e, s));
      }
    }
  }
  // A rename's commit is applied as one rename(2) where this replica's
  // subtree allows it, in its place in the log: after the entries before
  // it, before those after it.
  size_t applied_until = 0;
  auto apply_until = [&](size_t end) {
    std::vector<const Entry*> part(entries.begin() + static_cast<std::ptrdiff_t>(applied_until),
                                   entries.begin() + static_cast<std::ptrdiff_t>(end));
    applied_until = end;
    return ApplySorted(std::move(part), source, stats);
  };
  for (const SubtreeMove& move : FindSubtreeMoves(entries)) {
    if (absl::Status s = apply_until(move.begin); !s.ok()) return s;
    absl::StatusOr<bool> moved = ApplyMove(move, source, stats);
    if (!moved.ok()) {
      // The entries one by one decide what the failure means for each.
      LogWarning(absl::StrCat("apply ", move.from, " -> ", move.to,
                              ": not moved by one rename: ", moved.status().ToString()));
    }
    if (moved.ok() && *moved) {
      applied_until = move.end;
    } else if (absl::Status s = apply_until(move.end); !s.ok()) {
      return s;
    }
  }
  return apply_until(entries.size());
}

absl::Status RemoteApplier::ApplySorted(std::vector<const Entry*> order, const BatchSource& source,
                                        ApplyStats* stats) {
  // Live entries parents-first, then tombstones children-first.
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
  constexpr int kRounds = 5;
  for (int round = 0; !group.empty(); ++round) {
    if (round == kRounds) {
      return InEntry(*group.front(), absl::AbortedError("local changes kept racing with the apply"));
    }
    std::vector<std::unique_ptr<Plan>> plans;
    if (absl::Status s = DecideGroup(group, source, retried, stats, &plans); !s.ok()) return s;
    WaitForOtherBuilds(plans, source);
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
    PrefetchedBlocks prefetched(source.fetcher);
    if (absl::Status s = BuildGroup(plans, source, &prefetched, stats); !s.ok()) return s;
    absl::StatusOr<std::vector<const Entry*>> raced = PlaceGroup(plans, source, retried, stats);
    if (!raced.ok()) return raced.status();
    group = *std::move(raced);
  }
  return absl::OkStatus();
}

absl::Status RemoteApplier::DecideGroup(const std::vector<const Entry*>& group,
                                        const BatchSource& source, const SetAsideRecord* retried,
                                        ApplyStats* stats,
                                        std::vector<std::unique_ptr<Plan>>* plans) {
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
      CountOutcome(*(*plan)->done, stats);
      continue;
    }
    plans->push_back(*std::move(plan));
  }
  return absl::OkStatus();
}

void RemoteApplier::WaitForOtherBuilds(const std::vector<std::unique_ptr<Plan>>& plans,
                                       const BatchSource& source) {
  // One build per path and version at a time: a version another puller
  // is building is waited for while that build makes progress, then
  // decided again. Once the builds waited for stall for a second (a peer
  // hangs, or they are slow), this group waits no more and builds what
  // is left itself: it delays no other peer's entries longer than that.
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

absl::Status RemoteApplier::BuildGroup(const std::vector<std::unique_ptr<Plan>>& plans,
                                       const BatchSource& source, PrefetchedBlocks* prefetched,
                                       ApplyStats* stats) {
  // Built outside the order: here blocks are fetched. A peer's failure
  // (gone, bad blocks) stops the batch; one of the entry's is decided on
  // in order, by PlaceGroup.
  std::vector<PreparedObject*> built;
  BlockFetcher* fetcher = source.fetcher == nullptr ? nullptr : prefetched;
  size_t prefetched_until = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    const std::unique_ptr<Plan>& plan = plans[i];
    if (!plan->needs_object || plan->decide_again) continue;
    if (fetcher != nullptr && i >= prefetched_until) {
      prefetched_until = PrefetchSmallFiles(plans, i, prefetched);
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
  return MakeDurable(built);
}

absl::StatusOr<std::vector<const Entry*>> RemoteApplier::PlaceGroup(
    const std::vector<std::unique_ptr<Plan>>& plans, const BatchSource& source,
    const SetAsideRecord* retried, ApplyStats* stats) {
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
    CountOutcome(**placed, stats);
    // Placed: whoever waits for this build decides again now.
    if (plan->builds_for_all) {
      building_.erase(plan->remote->path());
      plan->builds_for_all = false;
    }
  }
  return raced;
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

absl::StatusOr<std::unique_ptr<RemoteApplier::Plan>> RemoteApplier::Decide(
    const Entry& remote, const BatchSource& source, bool retrying) {
  // The clock first: whatever is changed here after seeing this entry must
  // beat it, even with skewed wall clocks. A far-future version is refused.
  for (const Version* v : VersionsIn(remote)) {
    if (absl::Status s = clock_->Observe(v->hlc(), options_.max_clock_ahead_ms); !s.ok()) return s;
  }
  auto plan = std::make_unique<Plan>();
  plan->remote = &remote;
  plan->peer = source.peer;
  if (IgnoredHere(remote)) {
    plan->done = Outcome::kIgnored;
    return plan;
  }
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
      resolution.registers.StoreIn(updated.mutable_entry());
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

bool RemoteApplier::IgnoredHere(const Entry& remote) const {
  const IgnoreSet* ignore = options_.ignore;
  if (ignore == nullptr || ignore->empty()) return false;
  const std::string& path = remote.path();
  const Kind kind = remote.content().kind();
  if (kind != KIND_TOMBSTONE) return ignore->Ignored(path, kind == KIND_DIR);
  if (ignore->Ignored(path, /*is_dir=*/false)) return true;
  if (!ignore->Ignored(path, /*is_dir=*/true)) return false;
  absl::StatusOr<UniqueFd> object = OpenBeneath(root_fd_, path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  return object.ok() && ::fstat(object->get(), &st) == 0 && S_ISDIR(st.st_mode);
}

KeepObject RemoteApplier::KeepIgnored() const {
  const IgnoreSet* ignore = options_.ignore;
  if (ignore == nullptr || ignore->empty()) return nullptr;
  return [ignore](absl::string_view path, bool is_dir) { return ignore->Ignored(path, is_dir); };
}

}  // namespace replfs
