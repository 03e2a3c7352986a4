#ifndef REPLFS_REPLICATION_REMOTE_APPLIER_H_
#define REPLFS_REPLICATION_REMOTE_APPLIER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "entry.pb.h"
#include "replication/apply_options.h"
#include "replication/apply_verdict.h"
#include "replication/block_fetcher.h"
#include "replication/block_prefetch.h"
#include "replication/object_builder.h"
#include "replication/conflict_keeper.h"
#include "replication/entry_validation.h"
#include "replication/subtree_move.h"
#include "storage/beneath.h"
#include "storage/filesystem_hooks.h"
#include "storage/hlc.h"
#include "storage/metadata_store.h"

namespace replfs {

// Where a batch comes from: the peer whose log it is (node id; 0 when
// unknown) and where blocks its entries lack can be fetched.
struct BatchSource {
  BlockFetcher* fetcher = nullptr;
  uint64_t peer = 0;
};

// Applies entries received from peers to the backing directory and the
// store, by the convergence contract (DESIGN.md): per register, the higher
// version wins; a losing or equal entry changes nothing and logs nothing.
// Winning content is built in a temporary file (blocks found locally by
// hash, the rest fetched and verified), given its attributes, renamed into
// place, committed, and the kernel cache invalidated. Thread-safe: applies
// are serialized.
//
// No entry stops the ones behind it (issue 10). One the file system cannot
// store as sent is applied without what it refuses (an xattr, the owner,
// the mtime) and that is recorded; one it cannot store at all (a name too
// long for it, a file it cannot hold, blocks no peer serves any more) is
// set aside: kept in the store (R/<path>) with its reason, decided against
// by later entries of its path as if it had been applied, reported, and
// retried with backoff until it applies or a newer version supersedes it.
class RemoteApplier {
 public:
  RemoteApplier(int root_fd, MetadataStore* store, HybridLogicalClock* clock,
                FilesystemHooks* hooks, ApplierOptions options);

  // Validates every entry first (one bad entry refuses the whole batch, and
  // nothing of it is applied), then applies live entries parents-first and
  // tombstones children-first, so a rename's new names are built from the
  // old ones before those are removed. Returns OK when every entry was
  // applied, ignored, deferred or set aside; an error marked IsPeerFault
  // when the peer sent what no honest replica sends; any other error when
  // this replica cannot apply now (disk full, peer gone): the caller pulls
  // the batch again later.
  absl::Status ApplyBatch(const google::protobuf::RepeatedPtrField<Entry>& entries,
                          const BatchSource& source, ApplyStats* stats);
  absl::Status ApplyBatch(const std::vector<Entry>& entries, BlockFetcher* fetcher,
                          ApplyStats* stats);

  // Applies entries that waited for `path` to be closed (all when empty).
  absl::Status RetryDeferred(const std::string& path, BlockFetcher* fetcher, ApplyStats* stats);

  // Tries set-aside entries again whose next attempt is due at `now_unix_ms`
  // (every one with `all`), at most `limit` of them: each applies, stays
  // set aside with a later next attempt, or is dropped when a newer version
  // of its path superseded it.
  absl::Status RetrySetAside(BlockFetcher* fetcher, int64_t now_unix_ms, bool all, size_t limit,
                             ApplyStats* stats);

  ConflictKeeper& conflicts() { return conflicts_; }

 private:
  enum class Outcome { kIgnored, kApplied, kDeferred, kForged };
  struct Plan;
  // Decides `remote` against the store as it is now: a plan that ignores or
  // defers the entry is done already; one whose content wins says whether
  // an object must be built for it (outside mu_) before Place.
  // `retrying`: `remote` is the set-aside entry of its path, tried again.
  absl::StatusOr<std::unique_ptr<Plan>> Decide(const Entry& remote, const BatchSource& source,
                                               bool retrying) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Places a decided plan on disk and commits it; nullopt when a local
  // change got in since it was decided (decide again).
  absl::StatusOr<std::optional<Outcome>> Place(Plan& plan, BlockFetcher* fetcher,
                                               ApplyStats* stats) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a plan was placed and committed: reports what the file system
  // refused, invalidates the kernel's cache, settles the ancestors a
  // tombstone uncovered.
  absl::StatusOr<std::optional<Outcome>> Placed(const Plan& plan, BlockFetcher* fetcher,
                                                ApplyStats* stats) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The executor: inside Place's transaction, with the write-ahead intent
  // stored, gathers the disk's state, resolves the plan on it and runs
  // the verdict's step, then commits the result.
  struct Target;
  absl::Status PlaceDecided(Plan& plan, ResolveInputs inputs, StoreTransaction& txn,
                            ApplyStats* stats, std::vector<std::string>* invalidate_after)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Opens the path's parent (creating ancestors for a live result) and
  // looks at what is there. `may_be_blocked`: a non-directory ancestor is
  // reported (named in `blocking`) rather than failed on.
  absl::Status Observe(const Plan& plan, bool may_be_blocked, Target* target,
                       std::string* blocking);
  // One step per verdict.
  absl::Status ReviveAncestor(const std::string& ancestor_path, const Version& winner,
                              StoreTransaction& txn, ApplyStats* stats);
  absl::Status SetAttributesThere(Plan& plan, const Target& target);
  absl::Status KeepLoser(const Plan& plan, const Target& target, StoreTransaction& txn,
                         ApplyStats* stats);
  // Whether `remote` names a path this replica ignores. A tombstone's
  // path counts as a directory when a directory is there now.
  bool IgnoredHere(const Entry& remote) const;
  // What removing a directory leaves in place: the ignored paths.
  KeepObject KeepIgnored() const;
  absl::Status ReplaceObject(Plan& plan, const Target& target);
  // Keeps the local file (or symbolic link) that the plan replaces or
  // deletes aside (queued in `txn`); nothing when versions are off or
  // neither is there.
  KeptFile KeepReplacedVersion(const Plan& plan, const Target& target, StoreTransaction& txn);
  absl::Status PlaceDirectory(Plan& plan, const Target& target);
  absl::Status KeepForDescendants(Plan& plan, const Target& target, StoreTransaction& txn);
  void Commit(Plan& plan, const Target& target, StoreTransaction& txn);

  // The fast path of a rename (move_placement.cc). ApplyMove: true when
  // `move` was applied as one rename(2) of this replica's subtree; false
  // when that subtree is not exactly what the sender moved (something
  // local-only or uncommitted beneath it, a concurrent version, ...): the
  // caller then applies its entries one by one.
  struct DecidedMove;
  absl::StatusOr<bool> ApplyMove(const SubtreeMove& move, const BatchSource& source,
                                 ApplyStats* stats) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether the store allows the move: every entry a plain replacement,
  // the old name's content the new one's, nothing else beneath the old name.
  // Each says why not in `why_not` when it returns false.
  absl::StatusOr<bool> DecideMove(const SubtreeMove& move, StoreTransaction& txn,
                                  std::vector<DecidedMove>* decided, std::string* why_not)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the disk beneath the old name is exactly what the store lists.
  absl::StatusOr<bool> DiskMatches(const SubtreeMove& move, std::vector<DecidedMove>& decided,
                                   std::string* why_not);
  // Renames, sets what attributes changed, and commits every entry.
  absl::StatusOr<bool> MoveOnDisk(const SubtreeMove& move, std::vector<DecidedMove>& decided,
                                  StoreTransaction& txn, uint64_t peer, DroppedAttributes* dropped,
                                  std::string* why_not);
  absl::Status ApplyEntries(const std::vector<const Entry*>& entries, const BatchSource& source,
                            ApplyStats* stats);
  // Applies `order`'s entries live ones parents-first, then tombstones
  // children-first (a rename's new names are built before its old ones go),
  // in groups (ApplyGroup).
  absl::Status ApplySorted(std::vector<const Entry*> order, const BatchSource& source,
                           ApplyStats* stats);
  // Decides, builds and places `group`, in order. Decisions and placements
  // take their turn in the applier's order (mu_); objects are built (their
  // blocks fetched, with deadlines) outside it, so a peer slow or hung on
  // FetchBlocks holds up its own entries only. Entries a local change
  // raced with are decided again, a few rounds at most. `retried`: the
  // group is that set-aside record's entry, tried again.
  absl::Status ApplyGroup(std::vector<const Entry*> group, const BatchSource& source,
                          const SetAsideRecord* retried, ApplyStats* stats)
      ABSL_LOCKS_EXCLUDED(mu_);
  // ApplyGroup's steps: decide the group's entries (plans for those to
  // place; the rest counted or set aside), wait for builds of the same
  // versions by other pullers, build what is left, place in order
  // (returns the entries a local change raced with).
  absl::Status DecideGroup(const std::vector<const Entry*>& group, const BatchSource& source,
                           const SetAsideRecord* retried, ApplyStats* stats,
                           std::vector<std::unique_ptr<Plan>>* plans) ABSL_LOCKS_EXCLUDED(mu_);
  void WaitForOtherBuilds(const std::vector<std::unique_ptr<Plan>>& plans,
                          const BatchSource& source) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status BuildGroup(const std::vector<std::unique_ptr<Plan>>& plans,
                          const BatchSource& source, PrefetchedBlocks* prefetched,
                          ApplyStats* stats) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<const Entry*>> PlaceGroup(
      const std::vector<std::unique_ptr<Plan>>& plans, const BatchSource& source,
      const SetAsideRecord* retried, ApplyStats* stats) ABSL_LOCKS_EXCLUDED(mu_);
  static void CountOutcome(Outcome outcome, ApplyStats* stats);
  // Prefetches the blocks of the small files (one block, not held locally)
  // to be built from plans[from] on, up to kPrefetchBytes; returns the
  // index of the first plan past what it covered.
  size_t PrefetchSmallFiles(const std::vector<std::unique_ptr<Plan>>& plans, size_t from,
                            PrefetchedBlocks* prefetched) const;
  // After `failure` applying `remote`: sets the entry aside when the failure
  // is the entry's own (FailureScope::kEntry) and returns OK; else returns
  // the failure, for the caller to stop on. `retried`: the record `remote`
  // was tried again from (its history is kept); else the store is asked.
  absl::Status SetAsideOrFail(const Entry& remote, uint64_t peer, const absl::Status& failure,
                              ApplyStats* stats, const SetAsideRecord* retried = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores the attributes a partly applied entry lacks again.
  absl::Status RetryDroppedAttributes(const SetAsideRecord& record, int64_t now_unix_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  int root_fd_;
  MetadataStore* store_;
  HybridLogicalClock* clock_;
  FilesystemHooks* hooks_;
  ApplierOptions options_;
  ConflictKeeper conflicts_;
  // Orders decisions and placements (not builds) across pullers.
  absl::Mutex mu_;
  // Content versions being built right now, by path, with the fetcher that
  // builds each: a second puller deciding the same version waits for that
  // build while it makes progress, instead of fetching the same blocks
  // from its own peer (in a full mesh every new file arrives from every
  // peer at once); one that stalls a second is not waited for.
  struct Build {
    Version version;
    const BlockFetcher* fetcher;  // Alive while the build is registered.
  };
  absl::flat_hash_map<std::string, Build> building_ ABSL_GUARDED_BY(mu_);
  // Names of objects built in the temp folder; builds run concurrently.
  std::atomic<uint64_t> temp_counter_{0};
};

}  // namespace replfs

#endif  // REPLFS_REPLICATION_REMOTE_APPLIER_H_
