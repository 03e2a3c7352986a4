#include "storage/metadata_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "absl/container/btree_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "leveldb/filter_policy.h"
#include "leveldb/write_batch.h"
#include "storage/file_blocks.h"
#include "storage/pread_env.h"
#include "storage/stored_message.h"
#include "storage/version.h"

namespace replfs {
namespace {

constexpr absl::string_view kEntryPrefix = "E/";
constexpr absl::string_view kSeqPrefix = "S/";
constexpr absl::string_view kCheckpointPrefix = "C/";
constexpr absl::string_view kBlockPrefix = "H/";
constexpr absl::string_view kSetAsidePrefix = "R/";
constexpr absl::string_view kFormatKey = "M/format";
constexpr absl::string_view kMaxHlcKey = "M/max_hlc";
// The last seq ever assigned. The S/ keys alone cannot say it once the
// newest ones were purged, and a seq must never be reused: peers'
// checkpoints have passed it.
constexpr absl::string_view kLastSeqKey = "M/last_seq";
// The highest seq of a tombstone ever purged from the log (see
// PurgedThrough).
constexpr absl::string_view kPurgedThroughKey = "M/purged_through";
// Per peer node: how far that peer had purged its log past our checkpoint
// when we found out (see MissedPurges).
constexpr absl::string_view kMissedPurgePrefix = "M/missed_purge/";
// The peer's purge horizon when this replica last reconciled against it
// (see NoteReconciled).
constexpr absl::string_view kReconciledPrefix = "M/reconciled/";
// What the purged tombstones had seen (see PurgedKnowledge).
constexpr absl::string_view kPurgedKnowledgeKey = "M/purged_knowledge";

absl::Status FromLevelDb(const leveldb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat(what, ": ", s.ToString()));
  return absl::InternalError(absl::StrCat(what, ": ", s.ToString()));
}

uint64_t DecodeBigEndian(absl::string_view bytes) {
  uint64_t value = 0;
  for (char c : bytes.substr(0, 8)) value = (value << 8) | static_cast<unsigned char>(c);
  return value;
}

leveldb::Slice AsSlice(absl::string_view s) { return {s.data(), s.size()}; }

// The key of a per-peer record (checkpoint, missed purge, reconciled horizon).
std::string PerNodeKey(absl::string_view prefix, uint64_t node) {
  return absl::StrFormat("%s%016x", prefix, node);
}

}  // namespace

std::string EntryKey(absl::string_view path) { return absl::StrCat(kEntryPrefix, path); }

std::string BlockKey(absl::string_view hash, absl::string_view path) {
  return absl::StrCat(kBlockPrefix, hash, path);
}

std::string SetAsideKey(absl::string_view path) { return absl::StrCat(kSetAsidePrefix, path); }

std::string SeqKey(uint64_t seq) {
  std::string key(kSeqPrefix);
  for (int shift = 56; shift >= 0; shift -= 8) {
    key.push_back(static_cast<char>((seq >> shift) & 0xff));
  }
  return key;
}

MetadataStore::MetadataStore(std::unique_ptr<leveldb::DB> db,
                             std::unique_ptr<SpaceReserve> reserve)
    : db_(std::move(db)), reserve_(std::move(reserve)) {}
MetadataStore::~MetadataStore() = default;

absl::StatusOr<std::unique_ptr<MetadataStore>> MetadataStore::Open(
    const std::string& dir, const OpenOptions& open_options) {
  leveldb::Options options;
  options.create_if_missing = true;
  options.max_open_files = 200;  // Leaves the fd budget to the inode table.
  options.env = PreadTableEnv();  // Bounded memory: no mmap'd tables.
  // Most lookups of a new name (a file being created) find nothing: a
  // filter answers those without reading a table block (10 bits a key).
  static const leveldb::FilterPolicy* const kBloomFilter = leveldb::NewBloomFilterPolicy(10);
  options.filter_policy = kBloomFilter;
  // Entries are small and mostly hashes: snappy saves little and costs
  // every lookup that misses the block cache a decompression.
  options.compression = leveldb::kNoCompression;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::ErrnoToStatus(errno, absl::StrCat("create metadata store ", dir));
  }
  auto reserve = std::make_unique<SpaceReserve>(dir, open_options.max_reserve_bytes);
  // A memtable flush must fit in the space the reserve keeps back.
  options.write_buffer_size = static_cast<size_t>(reserve->write_buffer_bytes());
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, dir, &raw);
  if (!s.ok()) return FromLevelDb(s, absl::StrCat("open metadata store ", dir));
  std::unique_ptr<MetadataStore> store(
      new MetadataStore(std::unique_ptr<leveldb::DB>(raw), std::move(reserve)));

  std::string format;
  s = store->db_->Get(leveldb::ReadOptions(), AsSlice(kFormatKey), &format);
  if (s.IsNotFound()) {
    store->created_fresh_ = true;
    leveldb::WriteOptions sync;
    sync.sync = true;
    s = store->db_->Put(sync, AsSlice(kFormatKey), absl::StrCat(kFormatVersion));
    if (!s.ok()) return FromLevelDb(s, "write format version");
  } else if (!s.ok()) {
    return FromLevelDb(s, "read format version");
  } else if (format != absl::StrCat(kFormatVersion)) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "metadata store %s has format version %s; this replfs reads version %d",
        dir, format, kFormatVersion));
  }
  if (absl::Status st = store->LoadCounters(); !st.ok()) return st;
  int64_t live = 0, dead = 0;
  if (absl::Status st = store->ScanEntries("", [&](const Entry& e) {
        ++(e.content().kind() == KIND_TOMBSTONE ? dead : live);
        return true;
      });
      !st.ok()) {
    return st;
  }
  {
    absl::MutexLock lock(&store->seq_mu_);
    store->live_entries_ = live;
    store->tombstones_ = dead;
  }
  return store;
}

absl::Status MetadataStore::LoadCounters() {
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
  // The last S/ key is the highest seq: seek past the prefix and step back.
  it->Seek(AsSlice(SeqKey(~uint64_t{0})));
  if (it->Valid()) {
    it->Prev();
  } else {
    it->SeekToLast();
  }
  for (; it->Valid(); it->Prev()) {
    const absl::string_view key(it->key().data(), it->key().size());
    if (absl::StartsWith(key, kSeqPrefix)) {
      absl::MutexLock lock(&seq_mu_);
      last_seq_ = DecodeBigEndian(key.substr(kSeqPrefix.size()));
      break;
    }
    if (key < kSeqPrefix) break;
  }
  if (!it->status().ok()) return FromLevelDb(it->status(), "scan change log");
  std::string last_seq;
  leveldb::Status last_seq_status =
      db_->Get(leveldb::ReadOptions(), AsSlice(kLastSeqKey), &last_seq);
  if (last_seq_status.ok()) {
    uint64_t persisted = 0;
    if (!absl::SimpleAtoi(last_seq, &persisted)) return absl::DataLossError("bad M/last_seq");
    absl::MutexLock lock(&seq_mu_);
    last_seq_ = std::max(last_seq_, persisted);
  } else if (!last_seq_status.IsNotFound()) {
    return FromLevelDb(last_seq_status, "read last seq");
  }
  std::string purged_through;
  leveldb::Status purged_status =
      db_->Get(leveldb::ReadOptions(), AsSlice(kPurgedThroughKey), &purged_through);
  if (purged_status.ok()) {
    absl::MutexLock lock(&seq_mu_);
    if (!absl::SimpleAtoi(purged_through, &purged_through_)) {
      return absl::DataLossError("bad M/purged_through");
    }
  } else if (!purged_status.IsNotFound()) {
    return FromLevelDb(purged_status, "read purge horizon");
  }
  std::string hlc;
  leveldb::Status s = db_->Get(leveldb::ReadOptions(), AsSlice(kMaxHlcKey), &hlc);
  if (s.ok()) {
    absl::MutexLock lock(&seq_mu_);
    if (!absl::SimpleAtoi(hlc, &max_hlc_)) return absl::DataLossError("bad M/max_hlc");
  } else if (!s.IsNotFound()) {
    return FromLevelDb(s, "read clock floor");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Entry>> MetadataStore::Get(absl::string_view path) const {
  std::string value;
  leveldb::Status s = db_->Get(leveldb::ReadOptions(), EntryKey(path), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return FromLevelDb(s, "get entry");
  Entry entry;
  if (!entry.ParseFromString(value)) {
    return absl::DataLossError(absl::StrCat("corrupt entry for ", path));
  }
  return entry;
}

absl::Status MetadataStore::Commit(std::vector<Entry>* entries) {
  if (entries->empty()) return absl::OkStatus();
  absl::MutexLock commit_lock(&commit_mu_);
  StoreTransaction txn(this);
  for (Entry& entry : *entries) txn.Put(std::move(entry));
  absl::Status s = CommitLocked(&txn);
  *entries = std::move(txn.puts_);
  return s;
}

absl::Status MetadataStore::Transact(
    const std::function<absl::Status(StoreTransaction&)>& body) {
  absl::MutexLock commit_lock(&commit_mu_);
  StoreTransaction txn(this);
  if (absl::Status s = body(txn); !s.ok()) return s;
  if (absl::Status s = CommitLocked(&txn); !s.ok()) return s;
  for (const std::function<void()>& then : txn.on_commit_) then();
  return absl::OkStatus();
}

absl::Status StoreTransaction::PersistQueuedRecords() {
  if (raw_.empty()) return absl::OkStatus();
  leveldb::WriteBatch batch;
  for (const auto& [key, value] : raw_) {
    if (value) {
      batch.Put(key, *value);
    } else {
      batch.Delete(key);
    }
  }
  // Runs inside Transact's body: the commit lock is held.
  if (absl::Status room = store_->reserve_->BeforeWrite(batch.ApproximateSize()); !room.ok()) {
    return room;
  }
  leveldb::Status s = store_->db_->Write(leveldb::WriteOptions(), &batch);
  if (!s.ok()) return FromLevelDb(s, "write-ahead record");
  raw_.clear();
  return absl::OkStatus();
}

namespace {

// Adds or removes the H/ keys of a file entry's blocks.
void IndexBlocks(const Entry& entry, bool add, leveldb::WriteBatch* batch) {
  if (entry.content().kind() != KIND_FILE || entry.content().is_inline()) return;
  for (int i = 0; i < entry.content().block_hashes_size(); ++i) {
    const std::string key = BlockKey(entry.content().block_hashes(i), entry.path());
    if (add) {
      batch->Put(key, absl::StrCat(i));
    } else {
      batch->Delete(key);
    }
  }
}

}  // namespace

absl::Status MetadataStore::CommitLocked(StoreTransaction* txn) {
  if (txn->puts_.empty() && txn->raw_.empty()) return absl::OkStatus();
  uint64_t seq;
  uint64_t max_hlc;
  {
    absl::MutexLock lock(&seq_mu_);
    seq = last_seq_;
    max_hlc = max_hlc_;
  }
  leveldb::WriteBatch batch;
  int64_t live_delta = 0, dead_delta = 0;
  for (Entry& entry : txn->puts_) {
    absl::StatusOr<std::optional<Entry>> old = txn->Stored(entry.path());
    if (!old.ok()) return old.status();
    if (old->has_value()) {
      if ((*old)->seq() != 0) batch.Delete(SeqKey((*old)->seq()));
      --((*old)->content().kind() == KIND_TOMBSTONE ? dead_delta : live_delta);
      IndexBlocks(**old, /*add=*/false, &batch);
    }
    ++(entry.content().kind() == KIND_TOMBSTONE ? dead_delta : live_delta);
    StoreInlineAsBlock(entry.mutable_content());
    entry.set_seq(++seq);
    max_hlc = std::max({max_hlc, entry.content().version().hlc(),
                        entry.attributes().version().hlc()});
    for (const Attributes& kept : entry.other_kinds()) {
      max_hlc = std::max(max_hlc, kept.version().hlc());
    }
    IndexBlocks(entry, /*add=*/true, &batch);
    batch.Put(EntryKey(entry.path()), entry.SerializeAsString());
    batch.Put(SeqKey(entry.seq()), entry.path());
  }
  for (const auto& [key, value] : txn->raw_) {
    if (value) {
      batch.Put(key, *value);
    } else {
      batch.Delete(key);
    }
  }
  batch.Put(AsSlice(kMaxHlcKey), absl::StrCat(max_hlc));
  batch.Put(AsSlice(kLastSeqKey), absl::StrCat(seq));
  if (absl::Status room = reserve_->BeforeWrite(batch.ApproximateSize()); !room.ok()) return room;
  leveldb::Status s = db_->Write(leveldb::WriteOptions(), &batch);
  if (!s.ok()) return FromLevelDb(s, "commit");
  {
    absl::MutexLock lock(&seq_mu_);
    last_seq_ = seq;
    max_hlc_ = max_hlc;
    live_entries_ += live_delta;
    tombstones_ += dead_delta;
  }
  if (!txn->puts_.empty()) change_signal_.Notify(seq);
  return absl::OkStatus();
}

uint64_t MetadataStore::LiveEntries() const {
  absl::MutexLock lock(&seq_mu_);
  return static_cast<uint64_t>(std::max<int64_t>(0, live_entries_));
}

uint64_t MetadataStore::Tombstones() const {
  absl::MutexLock lock(&seq_mu_);
  return static_cast<uint64_t>(std::max<int64_t>(0, tombstones_));
}

absl::Status MetadataStore::UpdateLocalStat(absl::string_view path, const LocalStat& stat) {
  absl::MutexLock commit_lock(&commit_mu_);
  absl::StatusOr<std::optional<Entry>> old = Get(path);
  if (!old.ok()) return old.status();
  if (!old->has_value()) return absl::NotFoundError(absl::StrCat("no entry for ", path));
  Entry entry = std::move(**old);
  *entry.mutable_local_stat() = stat;
  if (absl::Status room = reserve_->BeforeWrite(entry.ByteSizeLong()); !room.ok()) return room;
  return FromLevelDb(db_->Put(leveldb::WriteOptions(), EntryKey(path), entry.SerializeAsString()),
                     "update local stat");
}

absl::Status MetadataStore::ScanChanges(uint64_t after,
                                        const std::function<bool(const Entry&)>& visit) const {
  // A commit's keys are readable a moment before LastSeq() counts them; a
  // scan stops at what LastSeq() said when it began, so no caller ever
  // holds an entry past the head it reports (a feed whose batch covered
  // more than its own head would be refused by its receiver).
  const uint64_t through = LastSeq();
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(AsSlice(SeqKey(after + 1))); it->Valid(); it->Next()) {
    const absl::string_view key(it->key().data(), it->key().size());
    if (!absl::StartsWith(key, kSeqPrefix)) break;
    if (DecodeBigEndian(key.substr(kSeqPrefix.size())) > through) break;
    const absl::string_view path(it->value().data(), it->value().size());
    absl::StatusOr<std::optional<Entry>> entry = Get(path);
    if (!entry.ok()) return entry.status();
    // A path committed again after this iterator was created shows up later
    // in the log; its stale S/ key is skipped here.
    if (!entry->has_value() || (*entry)->seq() != DecodeBigEndian(key.substr(kSeqPrefix.size()))) {
      continue;
    }
    if (!visit(**entry)) break;
  }
  return FromLevelDb(it->status(), "scan change log");
}

absl::Status MetadataStore::ScanEntries(absl::string_view prefix,
                                        const std::function<bool(const Entry&)>& visit,
                                        absl::string_view start_after) const {
  const std::string start = EntryKey(prefix);
  const std::string resume = EntryKey(start_after);
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
  // A `start_after` that sorts before the prefix must not skip the prefix
  // (seeking there would stop at the first key outside it).
  const bool resume_inside = !start_after.empty() && resume > start;
  for (it->Seek(resume_inside ? resume : start); it->Valid(); it->Next()) {
    const absl::string_view key(it->key().data(), it->key().size());
    if (!start_after.empty() && key == resume) continue;
    if (!absl::StartsWith(key, start)) break;
    Entry entry;
    if (!entry.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError(absl::StrCat("corrupt entry ", key));
    }
    if (!visit(entry)) break;
  }
  return FromLevelDb(it->status(), "scan entries");
}

absl::StatusOr<bool> MetadataStore::HasLiveDescendant(absl::string_view path) const {
  bool found = false;
  const std::string below = absl::StrCat(path, "/");
  absl::Status s = ScanEntries(below, [&](const Entry& e) {
    found = e.content().kind() != KIND_TOMBSTONE;
    return !found;
  });
  if (!s.ok()) return s;
  if (found) return true;
  s = ScanSetAside(below, [&](const SetAsideRecord& record) {
    found = !record.partial() && record.entry().content().kind() != KIND_TOMBSTONE;
    return !found;
  });
  if (!s.ok()) return s;
  return found;
}

absl::StatusOr<std::optional<SetAsideRecord>> MetadataStore::GetSetAside(
    absl::string_view path) const {
  absl::StatusOr<std::optional<std::string>> value = GetRaw(SetAsideKey(path));
  if (!value.ok()) return value.status();
  if (!value->has_value()) return std::nullopt;
  SetAsideRecord record;
  if (!record.ParseFromString(**value)) {
    return absl::DataLossError(absl::StrCat("corrupt set-aside record for ", path));
  }
  return record;
}

absl::Status MetadataStore::ScanSetAside(
    absl::string_view prefix, const std::function<bool(const SetAsideRecord&)>& visit) const {
  auto parse = [](absl::string_view key, absl::string_view value) {
    return ParseStoredMessage<SetAsideRecord>("set-aside record", key, value);
  };
  return ScanParsed<SetAsideRecord>(SetAsideKey(prefix), parse, visit);
}

uint64_t MetadataStore::LastSeq() const {
  absl::MutexLock lock(&seq_mu_);
  return last_seq_;
}

uint64_t MetadataStore::PurgedThrough() const {
  absl::MutexLock lock(&seq_mu_);
  return purged_through_;
}

absl::Status MetadataStore::NoteMissedPurge(uint64_t peer_node, uint64_t purged_through) {
  return PutPerNode(kMissedPurgePrefix, peer_node, purged_through, "missed purge");
}

absl::StatusOr<uint64_t> MetadataStore::MissedPurge(uint64_t peer_node) const {
  return GetPerNode(kMissedPurgePrefix, peer_node, "missed purge");
}

absl::Status MetadataStore::NoteReconciled(uint64_t peer_node, uint64_t purged_through) {
  leveldb::WriteBatch batch;
  batch.Delete(PerNodeKey(kMissedPurgePrefix, peer_node));
  batch.Put(PerNodeKey(kReconciledPrefix, peer_node), absl::StrCat(purged_through));
  return FromLevelDb(db_->Write(leveldb::WriteOptions(), &batch), "note reconciled");
}

absl::StatusOr<uint64_t> MetadataStore::ReconciledThrough(uint64_t peer_node) const {
  return GetPerNode(kReconciledPrefix, peer_node, "reconciled horizon");
}

absl::StatusOr<KnowledgeVector> MetadataStore::PurgedKnowledge() const {
  absl::StatusOr<std::optional<std::string>> value = GetRaw(kPurgedKnowledgeKey);
  if (!value.ok()) return value.status();
  KnowledgeVector knowledge;
  if (value->has_value() && !knowledge.ParseFromString(**value)) {
    return absl::DataLossError("corrupt M/purged_knowledge");
  }
  return knowledge;
}

uint64_t MetadataStore::MaxHlc() const {
  absl::MutexLock lock(&seq_mu_);
  return max_hlc_;
}

absl::StatusOr<uint64_t> MetadataStore::GetCheckpoint(uint64_t peer_node) const {
  return GetPerNode(kCheckpointPrefix, peer_node, "checkpoint");
}

absl::Status MetadataStore::PutCheckpoint(uint64_t peer_node, uint64_t seq) {
  return PutPerNode(kCheckpointPrefix, peer_node, seq, "checkpoint");
}

absl::StatusOr<uint64_t> MetadataStore::GetPerNode(absl::string_view prefix, uint64_t node,
                                                   absl::string_view what) const {
  std::string value;
  leveldb::Status s = db_->Get(leveldb::ReadOptions(), PerNodeKey(prefix, node), &value);
  if (s.IsNotFound()) return 0;
  if (!s.ok()) return FromLevelDb(s, absl::StrCat("get ", what));
  uint64_t number = 0;
  if (!absl::SimpleAtoi(value, &number)) return absl::DataLossError(absl::StrCat("corrupt ", what));
  return number;
}

absl::Status MetadataStore::PutPerNode(absl::string_view prefix, uint64_t node, uint64_t number,
                                       absl::string_view what) {
  return FromLevelDb(
      db_->Put(leveldb::WriteOptions(), PerNodeKey(prefix, node), absl::StrCat(number)),
      absl::StrCat("put ", what));
}

absl::StatusOr<std::vector<std::pair<std::string, uint64_t>>> MetadataStore::FindBlock(
    absl::string_view hash, size_t limit) const {
  std::vector<std::pair<std::string, uint64_t>> found;
  const std::string prefix = absl::StrCat(kBlockPrefix, hash);
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && found.size() < limit; it->Next()) {
    const absl::string_view key(it->key().data(), it->key().size());
    if (!absl::StartsWith(key, prefix)) break;
    uint64_t index = 0;
    if (!absl::SimpleAtoi(absl::string_view(it->value().data(), it->value().size()), &index)) {
      continue;
    }
    found.emplace_back(std::string(key.substr(prefix.size())), index);
  }
  if (!it->status().ok()) return FromLevelDb(it->status(), "find block");
  return found;
}

absl::StatusOr<std::optional<std::string>> MetadataStore::GetRaw(absl::string_view key) const {
  std::string value;
  leveldb::Status s = db_->Get(leveldb::ReadOptions(), AsSlice(key), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return FromLevelDb(s, "get");
  return value;
}

absl::Status MetadataStore::ScanRaw(
    absl::string_view prefix,
    const std::function<bool(absl::string_view key, absl::string_view value)>& visit,
    absl::string_view start_after) const {
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
  // A `start_after` before the prefix must not skip it (see ScanEntries).
  const bool resume_inside = !start_after.empty() && start_after > prefix;
  for (it->Seek(AsSlice(resume_inside ? start_after : prefix)); it->Valid(); it->Next()) {
    const absl::string_view key(it->key().data(), it->key().size());
    if (resume_inside && key == start_after) continue;
    if (!absl::StartsWith(key, prefix)) break;
    if (!visit(key, absl::string_view(it->value().data(), it->value().size()))) break;
  }
  return FromLevelDb(it->status(), "scan");
}

absl::StatusOr<bool> MetadataStore::PurgeTombstone(absl::string_view path, uint64_t seq) {
  absl::MutexLock commit_lock(&commit_mu_);
  absl::StatusOr<std::optional<Entry>> current = Get(path);
  if (!current.ok()) return current.status();
  if (!current->has_value() || (*current)->seq() != seq ||
      (*current)->content().kind() != KIND_TOMBSTONE) {
    return false;
  }
  const uint64_t purged_through = std::max(PurgedThrough(), seq);
  absl::StatusOr<KnowledgeVector> knowledge = PurgedKnowledge();
  if (!knowledge.ok()) return knowledge.status();
  MergeVectors(knowledge->mutable_vector(), (*current)->content().vector());
  leveldb::WriteBatch batch;
  batch.Delete(EntryKey(path));
  batch.Delete(SeqKey(seq));
  batch.Put(AsSlice(kPurgedThroughKey), absl::StrCat(purged_through));
  batch.Put(AsSlice(kPurgedKnowledgeKey), knowledge->SerializeAsString());
  leveldb::Status s = db_->Write(leveldb::WriteOptions(), &batch);
  if (!s.ok()) return FromLevelDb(s, "purge tombstone");
  absl::MutexLock lock(&seq_mu_);
  --tombstones_;
  purged_through_ = purged_through;
  return true;
}

absl::StatusOr<uint64_t> MetadataStore::CountRaw(absl::string_view prefix) const {
  uint64_t count = 0;
  absl::Status scanned = ScanRaw(prefix, [&](absl::string_view, absl::string_view) {
    ++count;
    return true;
  });
  if (!scanned.ok()) return scanned;
  return count;
}

}  // namespace replfs
