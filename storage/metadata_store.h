#ifndef REPLFS_STORAGE_METADATA_STORE_H_
#define REPLFS_STORAGE_METADATA_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "entry.pb.h"
#include "leveldb/db.h"
#include "storage/change_signal.h"
#include "storage/space_reserve.h"

namespace replfs {

// The replica's metadata on LevelDB (layout: docs/store-format.md).
//
//   E/<path>            -> Entry (with the seq it was committed at)
//   S/<seq, 8 bytes BE> -> path; each path appears once, at its last change
//   C/<peer node, hex>  -> the peer's last applied seq (pull checkpoint)
//   R/<path>            -> SetAsideRecord: a remote entry not applied (or
//                          applied in part), kept, retried
//   M/<name>            -> store metadata (format version, clock floor)
//
// The other key spaces have their own accessors in storage/, each the only
// code that spells its keys (see docs/store-format.md):
//   D/ deferred_entries.h, A/ apply_intents.h, X/ conflict_records.h,
//   P/ puller_records.h, V/ and T/ version_records.h.
//
// Thread-safe. Commits are serialized; reads are not blocked by them.
class MetadataStore;
class ApplyIntents;
class ConflictRecords;
class DeferredEntries;
class PullerRecords;
class VersionRecords;

// A read-modify-write of the store, holding its commit lock: what Get
// returns cannot change before Commit. Created only by
// MetadataStore::Transact.
class StoreTransaction {
 public:
  // The entry as this transaction sees it (its own puts included).
  absl::StatusOr<std::optional<Entry>> Get(absl::string_view path);
  // Queues `entry` for commit with a fresh seq (replacing its old S/ key).
  void Put(Entry entry);
  // Queues (or removes) an H/ block location of a file that has no entry:
  // a conflict copy, whose blocks peers may still fetch from this replica.
  void PutBlockLocation(absl::string_view hash, absl::string_view path, uint64_t index);
  void DeleteBlockLocation(absl::string_view hash, absl::string_view path);
  // Sets aside (or updates) the record of `record.entry().path()`.
  void PutSetAside(const SetAsideRecord& record);
  // The same for `record` (without an entry) holding `entry`, which is not
  // copied into it (a legal entry may list 2^18 block hashes).
  void PutSetAside(const SetAsideRecord& record, const Entry& entry);
  void DeleteSetAside(absl::string_view path);
  // Writes the records (everything but entries) queued so far now, ahead
  // of the batch (which still commits the rest at the end): a write-ahead
  // record that must be in the store before the caller touches the backing
  // directory.
  absl::Status PersistQueuedRecords();
  // The seqs the queued entries got, valid after the commit.
  const std::vector<Entry>& committed() const { return puts_; }
  // Runs `then` once the batch has committed, still under the commit lock;
  // never if the body fails or the write is refused. For the in-memory
  // state that must count only what the store holds.
  void OnCommit(std::function<void()> then) { on_commit_.push_back(std::move(then)); }

 private:
  friend class MetadataStore;
  // The key spaces storage/ owns outside this file queue their records
  // through the raw writes; nothing else spells a key.
  friend class ApplyIntents;
  friend class ConflictRecords;
  friend class DeferredEntries;
  friend class PullerRecords;
  friend class VersionRecords;
  // Queues a key write/delete in the same atomic batch as the entries.
  void PutRaw(std::string key, std::string value);
  void DeleteRaw(std::string key);
  explicit StoreTransaction(MetadataStore* store) : store_(store) {}
  // The entry in the store, read once per transaction: no other commit can
  // change it while the transaction holds the commit lock.
  absl::StatusOr<std::optional<Entry>> Stored(absl::string_view path);
  MetadataStore* store_;
  std::vector<Entry> puts_;
  // Where each path's queued entry is in puts_, and what the store held for
  // the paths read: a transaction may touch tens of thousands of paths (a
  // directory rename, on the side that records it and on those that apply
  // it).
  absl::flat_hash_map<std::string, size_t> put_at_;
  absl::flat_hash_map<std::string, std::optional<Entry>> stored_;
  std::vector<std::pair<std::string, std::optional<std::string>>> raw_;
  std::vector<std::function<void()>> on_commit_;
};

class MetadataStore {
 public:
  static constexpr int kFormatVersion = 1;

  struct OpenOptions {
    // Upper bound of the space reserve (see SpaceReserve). Tests that open
    // thousands of short-lived stores on tmpfs lower it: there fallocate
    // zeroes every page it holds.
    uint64_t max_reserve_bytes = SpaceReserve::kDefaultMaxReserve;
  };

  // Opens or creates the store in `dir`. Fails on a store written by an
  // incompatible format version.
  static absl::StatusOr<std::unique_ptr<MetadataStore>> Open(const std::string& dir,
                                                             const OpenOptions& open_options);
  static absl::StatusOr<std::unique_ptr<MetadataStore>> Open(const std::string& dir) {
    return Open(dir, OpenOptions());
  }

  MetadataStore(const MetadataStore&) = delete;
  MetadataStore& operator=(const MetadataStore&) = delete;
  ~MetadataStore();

  absl::StatusOr<std::optional<Entry>> Get(absl::string_view path) const;

  // Commits `entries` as one atomic batch: each gets a fresh seq, its old
  // S/ key is deleted and a new one written, so the change log holds every
  // path once. Wakes change-log waiters. Entries' `seq` fields are set.
  absl::Status Commit(std::vector<Entry>* entries);

  // Runs `body` under the commit lock and commits what it queued as one
  // atomic batch, unless it returns an error (then nothing is written).
  absl::Status Transact(const std::function<absl::Status(StoreTransaction&)>& body);

  // Where a block with this SHA-256 can be read locally: (path, block index)
  // pairs from the H/ index, at most `limit`. The data may have changed
  // since; readers verify the hash.
  absl::StatusOr<std::vector<std::pair<std::string, uint64_t>>> FindBlock(
      absl::string_view hash, size_t limit) const;

  // Entries set aside (R/): the record of one path, or of every path
  // starting with `prefix` (path order) until `visit` returns false.
  absl::StatusOr<std::optional<SetAsideRecord>> GetSetAside(absl::string_view path) const;
  absl::Status ScanSetAside(absl::string_view prefix,
                            const std::function<bool(const SetAsideRecord&)>& visit) const;

  // Rewrites an entry's local stat without changing its seq or versions: the
  // object was touched locally in a way that does not replicate.
  absl::Status UpdateLocalStat(absl::string_view path, const LocalStat& stat);

  // Visits change-log entries with seq > `after` in seq order until `visit`
  // returns false.
  absl::Status ScanChanges(uint64_t after,
                           const std::function<bool(const Entry&)>& visit) const;

  // Visits entries whose path starts with `prefix` (in path order) until
  // `visit` returns false. Prefix "" visits all. A non-empty `start_after`
  // resumes after that path.
  absl::Status ScanEntries(absl::string_view prefix,
                           const std::function<bool(const Entry&)>& visit,
                           absl::string_view start_after = "") const;

  // Whether a live (non-tombstone) entry lies strictly beneath `path`: then
  // `path` exists as a directory whatever its own entry says (DESIGN.md,
  // "Parents"). A live entry set aside whole counts: it is known, only not
  // on disk, and keeps its ancestors as every replica that applied it does.
  absl::StatusOr<bool> HasLiveDescendant(absl::string_view path) const;

  uint64_t LastSeq() const;

  // Whether Open created this store (no state existed before).
  bool created_fresh() const { return created_fresh_; }

  // Removes the tombstone at `path` (entry and change-log key) if it is
  // still the tombstone committed at `seq`. Returns whether it did.
  absl::StatusOr<bool> PurgeTombstone(absl::string_view path, uint64_t seq);

  // Wakes its subscribers after each commit that logs changes.
  ChangeSignal& change_signal() { return change_signal_; }

  // The highest seq of a tombstone purged from this log (0: none yet). A
  // replica whose checkpoint of this log is below it may have missed
  // deletions: their tombstones are gone, and the log no longer says them.
  uint64_t PurgedThrough() const;
  // Records, for good, that `peer_node` had purged its log through
  // `purged_through`, past our checkpoint, when we pulled from it again:
  // deletions made there meanwhile may never have reached this replica.
  absl::Status NoteMissedPurge(uint64_t peer_node, uint64_t purged_through);
  // What NoteMissedPurge recorded for `peer_node` (0: nothing).
  absl::StatusOr<uint64_t> MissedPurge(uint64_t peer_node) const;
  // Records that this replica reconciled against `peer_node` while the
  // peer's purge horizon was `purged_through`: it is stale no more, and a
  // hello with the same horizon does not make it so again.
  absl::Status NoteReconciled(uint64_t peer_node, uint64_t purged_through);
  // What NoteReconciled recorded for `peer_node` (0: nothing).
  absl::StatusOr<uint64_t> ReconciledThrough(uint64_t peer_node) const;
  // The element-wise maximum of the content vectors of every tombstone
  // purged from this store: what it saw, that no entry says any more.
  absl::StatusOr<KnowledgeVector> PurgedKnowledge() const;

  // Highest HLC ever committed, to restore the clock floor after restart.
  uint64_t MaxHlc() const;

  // How many entries are live and how many are tombstones (kept exact by
  // every commit; counted once at open).
  uint64_t LiveEntries() const;
  uint64_t Tombstones() const;

  // Space the store keeps for itself on its file system (its reserve): a
  // file applied from a peer must leave at least this much free.
  uint64_t ReservedSpaceBytes() const { return reserve_->reserve_bytes(); }

  absl::StatusOr<uint64_t> GetCheckpoint(uint64_t peer_node) const;
  absl::Status PutCheckpoint(uint64_t peer_node, uint64_t seq);

 private:
  // A number kept per peer node under `prefix` (0 when none is kept).
  absl::StatusOr<uint64_t> GetPerNode(absl::string_view prefix, uint64_t node,
                                      absl::string_view what) const;
  absl::Status PutPerNode(absl::string_view prefix, uint64_t node, uint64_t number,
                          absl::string_view what);

  friend class StoreTransaction;
  // The key spaces with their own accessors (see the top of this file).
  friend class ApplyIntents;
  friend class ConflictRecords;
  friend class DeferredEntries;
  friend class PullerRecords;
  friend class VersionRecords;
  // Reads of any key, for the accessors above and the R/ records.
  absl::StatusOr<std::optional<std::string>> GetRaw(absl::string_view key) const;
  // Visits the keys starting with `prefix` in key order until `visit`
  // returns false; a non-empty `start_after` (a whole key) resumes after it.
  absl::Status ScanRaw(absl::string_view prefix,
                       const std::function<bool(absl::string_view key, absl::string_view value)>&
                           visit,
                       absl::string_view start_after = "") const;
  // ScanRaw with each record parsed first: one that does not parse ends the
  // scan with its error (a DataLossError), never skipped.
  template <typename Record>
  absl::Status ScanParsed(
      absl::string_view prefix,
      const std::function<absl::StatusOr<Record>(absl::string_view key, absl::string_view value)>&
          parse,
      const std::function<bool(const Record&)>& visit, absl::string_view start_after = "") const {
    absl::Status unreadable;
    absl::Status scanned = ScanRaw(
        prefix,
        [&](absl::string_view key, absl::string_view value) {
          absl::StatusOr<Record> record = parse(key, value);
          if (!record.ok()) {
            unreadable = record.status();
            return false;
          }
          return visit(*record);
        },
        start_after);
    return scanned.ok() ? unreadable : scanned;
  }
  // How many keys start with `prefix`.
  absl::StatusOr<uint64_t> CountRaw(absl::string_view prefix) const;
  MetadataStore(std::unique_ptr<leveldb::DB> db, std::unique_ptr<SpaceReserve> reserve);
  absl::Status LoadCounters();
  // Writes a transaction's queued changes. REQUIRES: commit_mu_ held.
  absl::Status CommitLocked(StoreTransaction* txn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_);

  std::unique_ptr<leveldb::DB> db_;
  std::unique_ptr<SpaceReserve> reserve_;
  bool created_fresh_ = false;
  absl::Mutex commit_mu_;  // Serializes Commit/Transact/UpdateLocalStat.
  mutable absl::Mutex seq_mu_;
  uint64_t last_seq_ ABSL_GUARDED_BY(seq_mu_) = 0;
  int64_t live_entries_ ABSL_GUARDED_BY(seq_mu_) = 0;
  int64_t tombstones_ ABSL_GUARDED_BY(seq_mu_) = 0;
  uint64_t max_hlc_ ABSL_GUARDED_BY(seq_mu_) = 0;
  uint64_t purged_through_ ABSL_GUARDED_BY(seq_mu_) = 0;
  ChangeSignal change_signal_;
};

// Key helpers, exposed for tests and the inspection tool.
std::string EntryKey(absl::string_view path);
std::string SeqKey(uint64_t seq);
// H/<32-byte hash><path> -> block index: where a block can be found locally.
std::string BlockKey(absl::string_view hash, absl::string_view path);
std::string SetAsideKey(absl::string_view path);

}  // namespace replfs

#endif  // REPLFS_STORAGE_METADATA_STORE_H_
