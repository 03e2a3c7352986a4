#include "storage/metadata_store.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "leveldb/db.h"
#include "leveldb/iterator.h"
#include "storage/content_hasher.h"
#include "storage/file_blocks.h"
#include "tests/support/scratch_dir.h"

namespace replfs {
namespace {

Entry FileEntry(const std::string& path, uint64_t hlc, const std::string& data = "x") {
  Entry e;
  e.set_path(path);
  e.mutable_content()->set_kind(KIND_FILE);
  e.mutable_content()->mutable_version()->set_hlc(hlc);
  e.mutable_content()->mutable_version()->set_node(1);
  e.mutable_content()->set_is_inline(true);
  e.mutable_content()->set_inline_data(data);
  e.mutable_content()->set_size(data.size());
  e.mutable_attributes()->mutable_version()->set_hlc(hlc);
  e.mutable_attributes()->mutable_version()->set_node(1);
  e.mutable_attributes()->set_mode(0644);
  return e;
}

class MetadataStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { OpenStore(); }

  void OpenStore() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<MetadataStore>> s = MetadataStore::Open(StoreDir());
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }

  std::string StoreDir() const { return dir_.path() + "/store"; }

  void Commit(std::vector<Entry> entries) {
    const absl::Status s = store_->Commit(&entries);
    ASSERT_TRUE(s.ok()) << s;
  }

  // The change log as (seq, path) in scan order.
  std::vector<std::pair<uint64_t, std::string>> Log(uint64_t after = 0) {
    std::vector<std::pair<uint64_t, std::string>> out;
    const absl::Status s = store_->ScanChanges(after, [&](const Entry& e) {
      out.emplace_back(e.seq(), e.path());
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  std::vector<std::string> Paths(const std::string& prefix, const std::string& start_after = "") {
    std::vector<std::string> out;
    const absl::Status s = store_->ScanEntries(
        prefix,
        [&](const Entry& e) {
          out.push_back(e.path());
          return true;
        },
        start_after);
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  // Counts S/ keys straight from LevelDB (closes and reopens the store).
  int RawSeqKeyCount() {
    store_.reset();
    int count = 0;
    {
      leveldb::DB* raw = nullptr;
      EXPECT_TRUE(leveldb::DB::Open(leveldb::Options(), StoreDir(), &raw).ok());
      std::unique_ptr<leveldb::DB> db(raw);
      std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
      for (it->Seek("S/"); it->Valid() && it->key().starts_with("S/"); it->Next()) ++count;
    }
    OpenStore();
    return count;
  }

  testing::ScratchDir dir_{"store-test"};
  std::unique_ptr<MetadataStore> store_;
};

TEST_F(MetadataStoreTest, EmptyStore) {
  EXPECT_EQ(store_->LastSeq(), 0u);
  EXPECT_EQ(store_->MaxHlc(), 0u);
  absl::StatusOr<std::optional<Entry>> e = store_->Get("nothing");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->has_value());
  EXPECT_TRUE(Log().empty());
}

TEST_F(MetadataStoreTest, CommitAssignsIncreasingSeqs) {
  std::vector<Entry> batch = {FileEntry("a", 10), FileEntry("b", 11)};
  ASSERT_TRUE(store_->Commit(&batch).ok());
  EXPECT_EQ(batch[0].seq(), 1u);
  EXPECT_EQ(batch[1].seq(), 2u);
  std::vector<Entry> second = {FileEntry("c", 12)};
  ASSERT_TRUE(store_->Commit(&second).ok());
  EXPECT_EQ(second[0].seq(), 3u);
  EXPECT_EQ(store_->LastSeq(), 3u);
  absl::StatusOr<std::optional<Entry>> b = store_->Get("b");
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ((*b)->seq(), 2u);
  EXPECT_EQ(FileBlockHashes((*b)->content()), std::vector<std::string>{Sha256("x")});
}

// Small file data is in the backing file, not a second time in the store:
// an entry that arrives inline is kept as one block, indexed like any.
TEST_F(MetadataStoreTest, InlineContentIsStoredAsOneIndexedBlock) {
  Commit({FileEntry("small", 1, "four")});
  absl::StatusOr<std::optional<Entry>> e = store_->Get("small");
  ASSERT_TRUE(e.ok() && e->has_value());
  const Content& c = (*e)->content();
  EXPECT_FALSE(c.is_inline());
  EXPECT_TRUE(c.inline_data().empty());
  EXPECT_EQ(c.size(), 4u);
  EXPECT_EQ(c.block_size(), kBlockSize);
  ASSERT_EQ(c.block_hashes_size(), 1);
  EXPECT_EQ(c.block_hashes(0), Sha256("four"));
  absl::StatusOr<std::vector<std::pair<std::string, uint64_t>>> places =
      store_->FindBlock(Sha256("four"), 4);
  ASSERT_TRUE(places.ok()) << places.status();
  EXPECT_EQ(*places, (std::vector<std::pair<std::string, uint64_t>>{{"small", 0}}));
  // Replaced by other bytes: the old block's index goes with it.
  Commit({FileEntry("small", 2, "five!")});
  places = store_->FindBlock(Sha256("four"), 4);
  ASSERT_TRUE(places.ok()) << places.status();
  EXPECT_TRUE(places->empty());
}

TEST_F(MetadataStoreTest, EmptyCommitIsNoOp) {
  Commit({});
  EXPECT_EQ(store_->LastSeq(), 0u);
}

TEST_F(MetadataStoreTest, ChangeLogHoldsEachPathOnceAtItsLatestChange) {
  Commit({FileEntry("a", 1)});
  Commit({FileEntry("b", 2)});
  Commit({FileEntry("c", 3)});
  Commit({FileEntry("a", 4, "second")});
  Commit({FileEntry("b", 5, "second")});
  using Log = std::vector<std::pair<uint64_t, std::string>>;
  EXPECT_EQ(this->Log(), (Log{{3, "c"}, {4, "a"}, {5, "b"}}));
  EXPECT_EQ(this->Log(3), (Log{{4, "a"}, {5, "b"}}));
  EXPECT_EQ(this->Log(4), (Log{{5, "b"}}));
  EXPECT_TRUE(this->Log(5).empty());
  EXPECT_EQ(store_->LastSeq(), 5u);
}

TEST_F(MetadataStoreTest, SamePathTwiceInOneBatchStaysOnceInLog) {
  Commit({FileEntry("a", 1), FileEntry("b", 2), FileEntry("a", 3, "later")});
  std::map<std::string, int> count;
  for (const auto& [seq, path] : Log()) ++count[path];
  EXPECT_EQ(count["a"], 1);
  EXPECT_EQ(count["b"], 1);
  absl::StatusOr<std::optional<Entry>> a = store_->Get("a");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ(FileBlockHashes((*a)->content()), std::vector<std::string>{Sha256("later")});
  // On disk too: no orphaned S/ key is left for the first copy of a (the
  // log must stay bounded by the tree's size).
  EXPECT_EQ(RawSeqKeyCount(), 2);
  // Also after a reopen (LastSeq comes from the log's last key).
  const uint64_t last_seq = store_->LastSeq();
  OpenStore();
  EXPECT_EQ(store_->LastSeq(), last_seq);
}

TEST_F(MetadataStoreTest, RawLogHasOneKeyPerPath) {
  for (int round = 0; round < 5; ++round) {
    Commit({FileEntry("a", 1), FileEntry("b", 2)});
    Commit({FileEntry("b", 3), FileEntry("c", 4)});
  }
  EXPECT_EQ(RawSeqKeyCount(), 3);
  EXPECT_EQ(store_->LastSeq(), 20u);
}

TEST_F(MetadataStoreTest, ScanChangesStopsWhenVisitorSaysSo) {
  Commit({FileEntry("a", 1), FileEntry("b", 2), FileEntry("c", 3)});
  int visited = 0;
  ASSERT_TRUE(store_->ScanChanges(0, [&](const Entry&) { return ++visited < 2; }).ok());
  EXPECT_EQ(visited, 2);
}

TEST_F(MetadataStoreTest, ScanChangesOrderIsSeqOrderBeyond255) {
  // Seqs are big-endian so byte order is numeric order past one byte.
  for (int i = 0; i < 300; ++i) Commit({FileEntry("f" + std::to_string(i), 1)});
  const auto log = Log();
  ASSERT_EQ(log.size(), 300u);
  for (size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(log[i].first, i + 1);
    EXPECT_EQ(log[i].second, "f" + std::to_string(i));
  }
}

TEST_F(MetadataStoreTest, ScanEntriesByPrefixAndStartAfter) {
  Commit({FileEntry("d", 1), FileEntry("d/a", 1), FileEntry("d/b", 1), FileEntry("d/c/x", 1),
          FileEntry("dx", 1), FileEntry("e", 1), FileEntry("c", 1)});
  using Paths = std::vector<std::string>;
  EXPECT_EQ(this->Paths(""), (Paths{"c", "d", "d/a", "d/b", "d/c/x", "dx", "e"}));
  EXPECT_EQ(this->Paths("d/"), (Paths{"d/a", "d/b", "d/c/x"}));
  EXPECT_EQ(this->Paths("d/", "d/a"), (Paths{"d/b", "d/c/x"}));
  EXPECT_EQ(this->Paths("d/", "d/b"), (Paths{"d/c/x"}));
  EXPECT_EQ(this->Paths("d/", "d/c/x"), Paths{});
  EXPECT_EQ(this->Paths("", "d/b"), (Paths{"d/c/x", "dx", "e"}));
  // start_after need not be a stored path.
  EXPECT_EQ(this->Paths("d/", "d/aa"), (Paths{"d/b", "d/c/x"}));
  // start_after sorting before the prefix starts at the prefix.
  EXPECT_EQ(this->Paths("d/", "a"), (Paths{"d/a", "d/b", "d/c/x"}));
  EXPECT_EQ(this->Paths("zz"), Paths{});
}

TEST_F(MetadataStoreTest, UpdateLocalStatKeepsSeqAndVersions) {
  Commit({FileEntry("a", 7)});
  LocalStat stat;
  stat.set_ino(99);
  stat.set_size(1);
  stat.set_mtime_ns(123);
  stat.set_ctime_ns(456);
  ASSERT_TRUE(store_->UpdateLocalStat("a", stat).ok());
  EXPECT_EQ(store_->LastSeq(), 1u);
  absl::StatusOr<std::optional<Entry>> a = store_->Get("a");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->seq(), 1u);
  EXPECT_EQ((*a)->local_stat().ino(), 99u);
  EXPECT_EQ((*a)->local_stat().ctime_ns(), 456);
  EXPECT_EQ((*a)->content().version().hlc(), 7u);
  EXPECT_EQ(store_->UpdateLocalStat("missing", stat).code(), absl::StatusCode::kNotFound);
}

TEST_F(MetadataStoreTest, ReopenKeepsLastSeqAndMaxHlc) {
  Entry e = FileEntry("a", 100);
  e.mutable_attributes()->mutable_version()->set_hlc(250);  // Attributes newer.
  Commit({e, FileEntry("b", 90)});
  Commit({FileEntry("a", 200)});
  EXPECT_EQ(store_->LastSeq(), 3u);
  EXPECT_EQ(store_->MaxHlc(), 250u);
  OpenStore();
  EXPECT_EQ(store_->LastSeq(), 3u);
  EXPECT_EQ(store_->MaxHlc(), 250u);
  std::vector<Entry> next = {FileEntry("c", 5)};
  ASSERT_TRUE(store_->Commit(&next).ok());
  EXPECT_EQ(next[0].seq(), 4u);
  EXPECT_EQ(store_->MaxHlc(), 250u);  // A lower hlc does not lower the floor.
}

TEST_F(MetadataStoreTest, PurgeHorizonAndMissedPurgesSurviveReopen) {
  EXPECT_EQ(store_->PurgedThrough(), 0u);
  Entry gone = FileEntry("gone", 10);
  gone.mutable_content()->set_kind(KIND_TOMBSTONE);
  Entry older = FileEntry("older", 11);
  older.mutable_content()->set_kind(KIND_TOMBSTONE);
  Commit({FileEntry("kept", 9), gone});
  Commit({older});
  // Purged out of order: the horizon is the highest seq purged.
  absl::StatusOr<bool> purged = store_->PurgeTombstone("older", 3);
  ASSERT_TRUE(purged.ok() && *purged) << purged.status();
  EXPECT_EQ(store_->PurgedThrough(), 3u);
  purged = store_->PurgeTombstone("gone", 2);
  ASSERT_TRUE(purged.ok() && *purged) << purged.status();
  EXPECT_EQ(store_->PurgedThrough(), 3u);
  // A live entry is never purged and moves nothing.
  purged = store_->PurgeTombstone("kept", 1);
  ASSERT_TRUE(purged.ok());
  EXPECT_FALSE(*purged);

  absl::StatusOr<uint64_t> missed = store_->MissedPurge(0x1234);
  ASSERT_TRUE(missed.ok()) << missed.status();
  EXPECT_EQ(*missed, 0u);
  ASSERT_TRUE(store_->NoteMissedPurge(0x1234, 77).ok());
  OpenStore();
  EXPECT_EQ(store_->PurgedThrough(), 3u);
  missed = store_->MissedPurge(0x1234);
  ASSERT_TRUE(missed.ok()) << missed.status();
  EXPECT_EQ(*missed, 77u);
  missed = store_->MissedPurge(0x5678);
  ASSERT_TRUE(missed.ok()) << missed.status();
  EXPECT_EQ(*missed, 0u);
}

TEST_F(MetadataStoreTest, ReopenFindsLastSeqWhenLatestPathWasRecommitted) {
  Commit({FileEntry("a", 1)});
  Commit({FileEntry("b", 2)});
  Commit({FileEntry("b", 3)});
  Commit({FileEntry("b", 4)});
  OpenStore();
  EXPECT_EQ(store_->LastSeq(), 4u);
}

TEST_F(MetadataStoreTest, RefusesOtherFormatVersion) {
  store_.reset();
  {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), StoreDir(), &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), "M/format", "2").ok());
  }
  absl::StatusOr<std::unique_ptr<MetadataStore>> s = MetadataStore::Open(StoreDir());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("format version 2"), absl::string_view::npos)
      << s.status();
  EXPECT_NE(s.status().message().find("version 1"), absl::string_view::npos) << s.status();
}

TEST_F(MetadataStoreTest, SetAsideRecordsAreKeptPerPathOutsideTheChangeLog) {
  SetAsideRecord record;
  *record.mutable_entry() = FileEntry("d/set-aside", 7);
  record.set_reason("symlink: File name too long");
  record.set_attempts(1);
  SetAsideRecord partial;
  *partial.mutable_entry() = FileEntry("e/partial", 8);
  partial.set_partial(true);
  ASSERT_TRUE(store_->Transact([&](StoreTransaction& txn) {
    txn.PutSetAside(record);
    txn.PutSetAside(partial);
    return absl::OkStatus();
  }).ok());
  absl::StatusOr<std::optional<SetAsideRecord>> got = store_->GetSetAside("d/set-aside");
  ASSERT_TRUE(got.ok() && got->has_value()) << got.status();
  EXPECT_EQ((*got)->reason(), record.reason());
  EXPECT_TRUE(Log().empty()) << "a set-aside entry is not in the change log";
  std::vector<std::string> seen;
  ASSERT_TRUE(store_->ScanSetAside("", [&](const SetAsideRecord& r) {
    seen.push_back(r.entry().path());
    return true;
  }).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"d/set-aside", "e/partial"}));
  // A live entry set aside whole keeps its ancestors, as an applied one
  // would ("Parents"); a partial one is in E/ already, or is not.
  EXPECT_TRUE(*store_->HasLiveDescendant("d"));
  EXPECT_FALSE(*store_->HasLiveDescendant("e"));
  EXPECT_FALSE(*store_->HasLiveDescendant("d/set"));
  ASSERT_TRUE(store_->Transact([&](StoreTransaction& txn) {
    txn.DeleteSetAside("d/set-aside");
    return absl::OkStatus();
  }).ok());
  EXPECT_FALSE(store_->GetSetAside("d/set-aside")->has_value());
  EXPECT_FALSE(*store_->HasLiveDescendant("d"));
}

TEST_F(MetadataStoreTest, SecondOpenOfSameStoreFails) {
  absl::StatusOr<std::unique_ptr<MetadataStore>> s = MetadataStore::Open(StoreDir());
  EXPECT_FALSE(s.ok());  // LevelDB's own LOCK file.
}

TEST_F(MetadataStoreTest, Checkpoints) {
  absl::StatusOr<uint64_t> none = store_->GetCheckpoint(0x1234);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0u);
  ASSERT_TRUE(store_->PutCheckpoint(0x1234, 17).ok());
  ASSERT_TRUE(store_->PutCheckpoint(0xffffffffffffffff, 5).ok());
  ASSERT_TRUE(store_->PutCheckpoint(0x1234, 42).ok());
  OpenStore();
  EXPECT_EQ(*store_->GetCheckpoint(0x1234), 42u);
  EXPECT_EQ(*store_->GetCheckpoint(0xffffffffffffffff), 5u);
  EXPECT_EQ(*store_->GetCheckpoint(0x1235), 0u);
  // Checkpoints are not changes and not entries.
  EXPECT_EQ(store_->LastSeq(), 0u);
  EXPECT_TRUE(Log().empty());
  EXPECT_TRUE(Paths("").empty());
}

// The change feeds wait for commits on the signal: a commit that logs
// changes wakes each subscriber with the new head (readable by then), one
// that logs none does not, and a subscription ended is not called again.
TEST_F(MetadataStoreTest, CommitsThatLogChangesWakeSubscribers) {
  std::vector<uint64_t> woken;
  std::vector<uint64_t> readable;
  auto subscription = store_->change_signal().Subscribe([&](uint64_t last_seq) {
    woken.push_back(last_seq);
    readable.push_back(store_->LastSeq());
  });
  Commit({FileEntry("a", 1), FileEntry("b", 2)});
  ASSERT_TRUE(store_->PutCheckpoint(7, 1).ok());
  Commit({FileEntry("c", 3)});
  EXPECT_EQ(woken, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(readable, woken);
  subscription.reset();
  Commit({FileEntry("d", 4)});
  EXPECT_EQ(woken.size(), 2u);
}

// A change feed cuts a batch from ScanChanges and then reports LastSeq()
// as its head: with commits running meanwhile, no scan may yield a seq
// that the LastSeq() read after it does not cover.
TEST_F(MetadataStoreTest, ScanChangesNeverPassesTheLastSeqReadAfterIt) {
  constexpr int kCommits = 3000;
  std::thread committer([&] {
    for (int i = 0; i < kCommits; ++i) {
      std::vector<Entry> e = {FileEntry(absl::StrCat("f", i), static_cast<uint64_t>(i) + 1)};
      ASSERT_TRUE(store_->Commit(&e).ok());
    }
  });
  uint64_t since = 0;
  int scans = 0;
  while (since < kCommits && scans < 10 * kCommits) {
    ++scans;
    uint64_t highest = since;
    ASSERT_TRUE(store_->ScanChanges(since, [&](const Entry& e) {
      highest = e.seq();
      return true;
    }).ok());
    const uint64_t head = store_->LastSeq();
    ASSERT_LE(highest, head) << "after scan " << scans;
    since = highest;
  }
  committer.join();
  EXPECT_EQ(store_->LastSeq(), static_cast<uint64_t>(kCommits));
}

TEST(KeyLayoutTest, SeqKeysAreBigEndian) {
  EXPECT_EQ(SeqKey(1), std::string("S/\0\0\0\0\0\0\0\1", 10));
  EXPECT_LT(SeqKey(255), SeqKey(256));
  EXPECT_EQ(EntryKey("a/b"), "E/a/b");
}

}  // namespace
}  // namespace replfs
